"""One app, several runtimes in turn (what the tests do with ``tests.support.apps``): an app bound to another runtime
serves from that runtime's database, clock and session store, keeps nothing of the one before, and refuses a
runtime whose settings would have built another app."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from litestar.testing import AsyncTestClient

from marketplace.app import AppShape, bind_runtime, create_app
from marketplace.runtime import build_runtime
from marketplace.sessions import SESSION_STORE
from marketplace.settings import Settings
from tests.conftest import DEFAULT_PASSWORD, Web


async def test_a_rebound_app_serves_from_the_new_runtime_only(
    runtime, people, test_env, clock, queue, sqlite_template: Path, tmp_path: Path
) -> None:
    app = create_app(runtime=runtime, run_scheduler=False)
    brand = await people.brand()
    async with AsyncTestClient(app=app, base_url="http://testserver.local") as first:
        web = Web(first, runtime)
        await web.sign_in(brand.email, DEFAULT_PASSWORD)
        assert (await web.get("/brand")).status_code == 200
        session_cookie = first.cookies["postpact_session"]
        assert await app.stores.get(SESSION_STORE).exists(session_cookie)
    # The database plugin's engine and session maker leave app.state with the lifespan that put them there.
    assert set(app.state.dict()) == {"shape", "dependency_keys", "runtime"}

    other_db = tmp_path / "other.db"
    shutil.copyfile(sqlite_template, other_db)
    other = build_runtime(
        Settings.from_env({**test_env, "DATABASE_URL": f"sqlite+aiosqlite:///{other_db}"}),
        clock=clock,
        queue=queue,
        passwords=runtime.passwords,
    )
    try:
        assert bind_runtime(app, other) is app
        assert not await app.stores.get(SESSION_STORE).exists(session_cookie)
        async with AsyncTestClient(app=app, base_url="http://testserver.local") as second:
            web = Web(second, other)
            # The first runtime's session is not in the new store: the brand's cookie signs nobody in.
            second.cookies.set("postpact_session", session_cookie)
            assert (await web.get("/brand")).status_code == 303
            refused = await web.post("/signin", {"email": brand.email, "password": DEFAULT_PASSWORD})
            assert refused.status_code not in (302, 303), "signed in against the other database"
            assert (await web.get("/readyz")).json()["database"] == "ok"
        assert app.state.runtime is other
    finally:
        await other.alchemy.get_engine().dispose()


@pytest.mark.parametrize(
    "env",
    [{"PUBLIC_URL": "https://postpact.example"}, {"TRUSTED_PROXIES": "10.0.0.0/8"}, {"DEBUG": "1"}],
    ids=["https", "proxies", "debug"],
)
async def test_a_runtime_of_another_shape_is_refused(app, runtime, test_env, clock, queue, env) -> None:
    settings = Settings.from_env({**test_env, **env})
    assert AppShape.of(settings, False) != AppShape.of(runtime.settings, False)
    other = build_runtime(settings, clock=clock, queue=queue, passwords=runtime.passwords)
    try:
        with pytest.raises(ValueError, match="another shape"):
            bind_runtime(app, other)
        assert app.state.runtime is runtime
    finally:
        await other.alchemy.get_engine().dispose()
