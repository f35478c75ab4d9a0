"""Shared fixtures: a migrated database per test (SQLite always, PostgreSQL when configured), the app, clients.

Database-backed tests take the ``database_url`` fixture (directly or through ``runtime``/``client``); it is
parametrised over the available backends, so the same test runs on SQLite and on PostgreSQL.
PostgreSQL is used when DATABASE_URL (or TEST_POSTGRES_URL) points at it, and is required when CI=true.
"""

from __future__ import annotations

import warnings

# advanced-alchemy still decorates its mixins with a marker SQLAlchemy 2.1 deprecated; nothing for us to act on.
warnings.filterwarnings("ignore", message="The declarative_mixin decorator", category=DeprecationWarning)

import os
import re
import shutil
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import pytest
from argon2 import PasswordHasher, Type
from litestar import Litestar
from litestar.testing import AsyncTestClient
from sqlalchemy.ext.asyncio import AsyncSession

from marketplace.clock import FrozenClock
from marketplace.jobs import RecordingQueue
from marketplace.runtime import Runtime, build_runtime
from marketplace.security import Passwords
from marketplace.settings import Settings, normalise_database_url
from tests.support import db as dbsupport

IN_CI = os.environ.get("CI", "").lower() in {"1", "true", "yes"}
TEST_SECRET = "test-secret-key-that-is-long-enough-0123456789"
START = datetime(2026, 11, 21, 12, 0, tzinfo=UTC)

#: A cheap argon2id so the suite stays fast; production parameters are tested separately.
FAST_HASHER = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1, type=Type.ID)


def postgres_server_url() -> str | None:
    url = os.environ.get("TEST_POSTGRES_URL") or os.environ.get("DATABASE_URL") or ""
    if url.startswith(("postgres://", "postgresql")):
        return normalise_database_url(url)
    if IN_CI:
        return "postgresql+asyncpg://postgres@127.0.0.1:5432/test"
    return None


def redis_url() -> str | None:
    url = os.environ.get("TEST_REDIS_URL") or os.environ.get("REDIS_URL")
    if url:
        return url
    return "redis://127.0.0.1:6379/15" if IN_CI else None


def pytest_configure(config: pytest.Config) -> None:
    if IN_CI:
        problems = dbsupport.check_services(postgres_server_url(), redis_url())
        if problems:
            raise pytest.UsageError("CI=true needs PostgreSQL and Redis running:\n  " + "\n  ".join(problems))


def _backends() -> list[Any]:
    params: list[Any] = [pytest.param("sqlite", id="sqlite")]
    if postgres_server_url():
        params.append(pytest.param("postgres", id="postgres", marks=pytest.mark.postgres))
    return params


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """``@pytest.mark.postgres_only("why")``: a test of PostgreSQL behaviour (row locks across connections, TRUNCATE)
    runs on the PostgreSQL backend only; its SQLite variant is deselected rather than generated to skip."""
    kept, dropped = [], []
    for item in items:
        marker = item.get_closest_marker("postgres_only")
        if marker is None:
            kept.append(item)
            continue
        callspec = getattr(item, "callspec", None)
        if not marker.args or callspec is None or "database_url" not in callspec.params:
            raise pytest.UsageError(f"{item.nodeid}: postgres_only needs a reason and a test on the database backends")
        (dropped if callspec.params["database_url"] == "sqlite" else kept).append(item)
    if dropped:
        config.hook.pytest_deselected(items=dropped)
        items[:] = kept


def worker_id(request: pytest.FixtureRequest) -> str:
    return getattr(request.config, "workerinput", {}).get("workerid", "main")


# --- databases ----------------------------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Migrated once per session; each test gets a copy of the file (much faster than migrating again)."""
    path = tmp_path_factory.mktemp("sqlite-template") / "template.db"
    dbsupport.migrate(f"sqlite+aiosqlite:///{path}")
    return path


@pytest.fixture(scope="session")
def postgres_database(request: pytest.FixtureRequest) -> Iterator[str]:
    server = postgres_server_url()
    if server is None:
        pytest.skip("PostgreSQL not configured: set DATABASE_URL=postgresql://... to run these tests there too")
    # One database per test process, so parallel runs (xdist workers, several developers) never share one.
    name = f"postpact_test_{re.sub(r'[^a-z0-9]', '', worker_id(request).lower())}_{os.getpid()}"
    url = dbsupport.recreate_postgres_database(server, name)
    dbsupport.migrate(url)
    yield url
    dbsupport.drop_postgres_database(server, name)


@pytest.fixture(params=_backends())
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        template: Path = request.getfixturevalue("sqlite_template")
        target = tmp_path / "postpact.db"
        shutil.copyfile(template, target)
        return f"sqlite+aiosqlite:///{target}"
    url: str = request.getfixturevalue("postgres_database")
    dbsupport.truncate_all(url)
    return url


@pytest.fixture
def is_postgres(database_url: str) -> bool:
    return database_url.startswith("postgresql")


# --- settings, runtime, app ---------------------------------------------------------------------------------------


@pytest.fixture
def clock() -> FrozenClock:
    return FrozenClock(START)


@pytest.fixture
def test_env(database_url: str, tmp_path: Path) -> dict[str, str]:
    """The environment a test's settings come from; tests add keys (e.g. SMTP_URL) before ``settings`` is built."""
    var_dir = tmp_path / "var"
    var_dir.mkdir(exist_ok=True)
    return {
        "POSTPACT_ENV": "test",
        "SECRET_KEY": TEST_SECRET,
        "DATABASE_URL": database_url,
        "PUBLIC_URL": "http://testserver.local",
        "POSTPACT_VAR_DIR": str(var_dir),
        # The test client runs the app on its own event loop; unpooled connections never cross loops.
        "DATABASE_POOL_SIZE": "0",
    }


@pytest.fixture
def settings(test_env: dict[str, str]) -> Settings:
    return Settings.from_env(test_env)


@pytest.fixture
def queue() -> RecordingQueue:
    return RecordingQueue()


@pytest.fixture
async def runtime(settings: Settings, clock: FrozenClock, queue: RecordingQueue) -> AsyncIterator[Runtime]:
    rt = build_runtime(settings, clock=clock, queue=queue, passwords=Passwords(FAST_HASHER))
    yield rt
    await rt.alchemy.get_engine().dispose()


class FreshSession(AsyncSession):
    """Reads always overwrite cached objects, so a test sees what the app committed since it last looked."""

    async def execute(self, statement: Any, params: Any = None, *, execution_options: Any = None, **kw: Any) -> Any:
        options = {"populate_existing": True, **(execution_options or {})}
        return await super().execute(statement, params, execution_options=options, **kw)

    async def scalar(self, statement: Any, params: Any = None, *, execution_options: Any = None, **kw: Any) -> Any:
        options = {"populate_existing": True, **(execution_options or {})}
        return await super().scalar(statement, params, execution_options=options, **kw)

    async def scalars(self, statement: Any, params: Any = None, *, execution_options: Any = None, **kw: Any) -> Any:
        options = {"populate_existing": True, **(execution_options or {})}
        return await super().scalars(statement, params, execution_options=options, **kw)

    async def get(self, entity: Any, ident: Any, **kw: Any) -> Any:
        kw.setdefault("populate_existing", True)
        return await super().get(entity, ident, **kw)


@pytest.fixture
async def db(database_url: str) -> AsyncIterator[AsyncSession]:
    """A session for arranging and asserting, in autocommit mode: every statement sees what the app committed,
    holds no lock the app would wait for, and refreshes objects it already loaded. For testing services in real
    transactions use ``runtime.session_maker`` (or ``session_scope``) instead."""
    from sqlalchemy.ext.asyncio import async_sessionmaker, create_async_engine

    engine = create_async_engine(database_url, isolation_level="AUTOCOMMIT")
    async with async_sessionmaker(engine, class_=FreshSession, expire_on_commit=False)() as session:
        yield session
    await engine.dispose()


@pytest.fixture
def app(runtime: Runtime) -> Litestar:
    """The app for this test's runtime: one kept per worker and shape of settings (``tests.support.apps``)."""
    from tests.support.apps import app_for

    return app_for(runtime)


@dataclass
class Web:
    """A browser-like client: keeps cookies, sends the CSRF token with forms, speaks htmx when asked."""

    client: AsyncTestClient[Litestar]
    runtime: Runtime
    extra_headers: dict[str, str] = field(default_factory=dict)

    async def csrf_token(self) -> str:
        token = self.client.cookies.get("postpact_csrf")
        if not token:
            await self.client.get("/signin")
            token = self.client.cookies.get("postpact_csrf")
        assert token, "the CSRF cookie was not set"
        return token

    async def get(self, path: str, *, htmx: bool = False, **kwargs: Any) -> Any:
        headers = {**self.extra_headers, **({"HX-Request": "true"} if htmx else {}), **kwargs.pop("headers", {})}
        kwargs.setdefault("follow_redirects", False)
        return await self.client.get(path, headers=headers, **kwargs)

    async def post(
        self,
        path: str,
        data: dict[str, Any] | list[tuple[str, str]] | None = None,
        *,
        htmx: bool = False,
        csrf: bool = True,
        files: Any = None,
        **kwargs: Any,
    ) -> Any:
        headers = {**self.extra_headers, **({"HX-Request": "true"} if htmx else {}), **kwargs.pop("headers", {})}
        kwargs.setdefault("follow_redirects", False)
        items: list[tuple[str, Any]] = list(data.items()) if isinstance(data, dict) else list(data or [])
        if csrf:
            items.append(("_csrf_token", await self.csrf_token()))
        if files is not None:
            return await self.client.post(path, data=dict(items), files=files, headers=headers, **kwargs)
        headers.setdefault("Content-Type", "application/x-www-form-urlencoded")
        return await self.client.post(path, content=urlencode(items), headers=headers, **kwargs)

    async def sign_in(self, email: str, password: str) -> Any:
        response = await self.post("/signin", {"email": email, "password": password})
        assert response.status_code in (302, 303), f"sign-in failed: {response.status_code} {response.text[:300]}"
        return response

    async def sign_out(self) -> None:
        await self.post("/signout")


@pytest.fixture
async def client(app: Litestar) -> AsyncIterator[AsyncTestClient[Litestar]]:
    async with AsyncTestClient(app=app, base_url="http://testserver.local") as c:
        yield c


@pytest.fixture
def web(client: AsyncTestClient[Litestar], runtime: Runtime) -> Web:
    return Web(client, runtime)


@pytest.fixture
async def make_web(client: AsyncTestClient[Litestar], app: Litestar, runtime: Runtime) -> AsyncIterator[Any]:
    """For tests that need several people signed in at once (a brand and a creator, two brands...).

    Extra clients share the app whose lifespan the ``client`` fixture already started; each has its own cookies.
    """
    extra: list[AsyncTestClient[Litestar]] = []

    async def factory() -> Web:
        c = AsyncTestClient(app=app, base_url="http://testserver.local")
        extra.append(c)
        return Web(c, runtime)

    yield factory
    for c in extra:
        c.cookies.clear()


# --- people -------------------------------------------------------------------------------------------------------

DEFAULT_PASSWORD = "correct-horse-battery"


@dataclass
class Person:
    email: str
    password: str
    user_id: uuid.UUID
    brand_id: uuid.UUID | None = None
    creator_id: uuid.UUID | None = None


@pytest.fixture
def people(runtime: Runtime) -> Any:
    """``await people.brand()`` / ``await people.creator()`` / ``await people.admin()`` → a committed Person."""
    return dbsupport.PeopleFactory(runtime, DEFAULT_PASSWORD)


@pytest.fixture
def smtp_server() -> Iterator[Any]:
    """A real SMTP server; add ``test_env["SMTP_URL"] = smtp_server.url`` before ``settings`` is built, or
    request the ``smtp_env`` fixture which does it."""
    from tests.support.smtp import SmtpServer

    server = SmtpServer().start()
    yield server
    server.stop()


@pytest.fixture
def smtp_env(test_env: dict[str, str], smtp_server: Any) -> Any:
    test_env["SMTP_URL"] = smtp_server.url
    return smtp_server
