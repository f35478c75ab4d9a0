"""With Redis sessions the actor generations come back with the session read, in the same Lua script, and a bump from
any process is seen by the next read (what keeps a cached actor honest across web processes)."""

from __future__ import annotations

import uuid

import msgspec
import pytest

from marketplace import sessions
from tests.conftest import redis_url

pytestmark = pytest.mark.skipif(not redis_url(), reason="needs Redis (TEST_REDIS_URL)")


async def test_the_session_read_brings_the_generations_and_bumps_change_them() -> None:
    store = sessions.SessionRedisStore.with_client(
        url=redis_url() or "", namespace=f"postpact-test-{uuid.uuid4().hex}:sessions"
    )
    user = str(uuid.uuid4())
    assert sessions.bump_actor_generations([user]) is None  # not serving yet: no Redis store to bump
    async with store:
        assert store in sessions._redis_stores
        assert await sessions.read_session(store, "missing", 60) == (None, None)
        await store.set("anonymous", msgspec.json.encode({"_csrf": "t"}), expires_in=30)
        assert await sessions.read_session(store, "anonymous", 60) == (b'{"_csrf":"t"}', None)
        await store.set("signed-in", msgspec.json.encode({"uid": user}), expires_in=30)
        raw, generation = await sessions.read_session(store, "signed-in", 60)
        assert msgspec.json.decode(raw) == {"uid": user} and generation == "0:0"
        assert await store.expires_in("signed-in") > 30  # renewed, as Litestar's own read does

        remote = sessions.bump_actor_generations([user])
        assert remote is not None
        await remote
        assert (await sessions.read_session(store, "signed-in", 60))[1] == "1:0"
        await sessions.bump_actor_generations([], everyone=True)  # type: ignore[misc]
        assert (await sessions.read_session(store, "signed-in", 60))[1] == "1:1"
        await store.delete_all()
    assert store not in sessions._redis_stores


def test_a_worker_process_bumps_the_generations_web_processes_read(tmp_path) -> None:
    """A suspension or role change committed by a worker (Celery) process reaches every web process's actor cache
    at once: the worker's runtime serves the Redis session store to the bumps while it lives."""
    from marketplace.settings import Settings
    from worker.runtime import WorkerRuntime

    url = redis_url() or ""
    settings = Settings.from_env({"POSTPACT_ENV": "test", "SECRET_KEY": "s" * 40, "REDIS_URL": url,
                                  "DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'worker.db'}"})
    worker = WorkerRuntime(settings)
    user = str(uuid.uuid4())
    try:
        assert worker.session_store in sessions._redis_stores
        bump = sessions.bump_actor_generations([user])
        assert bump is not None
        worker.run(bump)

        async def read_from_a_web_process() -> str | None:
            web = sessions.SessionRedisStore.with_client(url=url, namespace="postpact:sessions")
            await web.set(f"s-{user}", msgspec.json.encode({"uid": user}), expires_in=30)
            try:
                return (await sessions.read_session(web, f"s-{user}", 60))[1]
            finally:
                await web.delete(f"s-{user}")
                await web._redis.delete(sessions._generation_key(web, user))
                await web._redis.aclose()

        generation = worker.run(read_from_a_web_process())
        assert generation is not None and generation.startswith("1:")
    finally:
        worker.close()
    assert worker.session_store not in sessions._redis_stores
