"""Browser tests: Playwright driving Debian's Chromium against a live server with its own database.

The live server runs on SQLite by default. A test that should also run on PostgreSQL parametrises the
``live_server`` fixture over ``live_backends()`` (indirectly); PostgreSQL is used when DATABASE_URL (or
TEST_POSTGRES_URL) points at it and is required when CI=true, as for the other tests (tests/conftest.py). Each
backend gets one live server per test process, started the first time a test asks for it, over its own database
(a copy of the migrated SQLite template, or a PostgreSQL database named after the xdist worker and the process id).
"""

from __future__ import annotations

import os
import re
import shutil
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from marketplace.clock import FrozenClock, SystemClock
from marketplace.jobs import RecordingQueue
from marketplace.runtime import Runtime, build_runtime
from marketplace.security import Passwords
from marketplace.settings import Settings
from tests.conftest import FAST_HASHER, IN_CI, TEST_SECRET, postgres_server_url, worker_id
from tests.fakes.oembed_server import OEmbedServer
from tests.support import db as dbsupport
from tests.support.browser import TrackedQueue
from tests.support.live import LiveServer, start_live_server

CHROMIUM = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")
# Flags this machine needs: no sandbox as root, and no background calls to Google (the network is closed).
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
]
PEOPLE_PASSWORD = "correct-horse-battery"

pytestmark = pytest.mark.browser


# tryfirst: xdist's --dist loadgroup reads these markers in its own pytest_collection_modifyitems, which otherwise
# runs first whenever this conftest is loaded at start-up (``pytest tests/e2e``), leaving the tests ungrouped.
@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if "tests/e2e/" in str(item.fspath):
            item.add_marker(pytest.mark.browser)
            # A live server per backend per xdist worker is plenty: keep each backend's tests together (on one
            # worker, which starts that server once); the PostgreSQL ones may then run beside the SQLite ones.
            callspec = getattr(item, "callspec", None)
            backend = callspec.params.get("live_server", "sqlite") if callspec else "sqlite"
            item.add_marker(pytest.mark.xdist_group("browser" if backend == "sqlite" else f"browser-{backend}"))


@pytest.fixture(scope="session")
def chromium_path() -> str:
    path = CHROMIUM if os.path.exists(CHROMIUM) else shutil.which("chromium")
    if not path:
        if IN_CI:
            pytest.fail("Chromium is required in CI: apt-get install -y chromium (.ci/run does this)")
        pytest.skip("Debian's chromium is not installed (apt-get install -y chromium); browser tests need it")
    return path


@pytest.fixture(scope="session")
def live_oembed() -> Iterator[OEmbedServer]:
    """TikTok's, YouTube's and Instagram's oEmbed, played locally: the live servers verify posts against it, so a
    test publishes a post here (``add_post``) before the creator submits its link."""
    with OEmbedServer() as server:
        yield server


@dataclass
class LiveStack:
    backend: str
    server: LiveServer
    #: A runtime of the test's own over the server's database (engines don't cross event loops).
    runtime: Runtime
    people: dbsupport.PeopleFactory


@dataclass
class LiveStacks:
    """One live server per backend for this test process, started on first use."""

    request: pytest.FixtureRequest
    tmp_path_factory: pytest.TempPathFactory
    sqlite_template: Path
    oembed: OEmbedServer
    stacks: dict[str, LiveStack] = field(default_factory=dict)
    cleanups: list[Callable[[], None]] = field(default_factory=list)

    def get(self, backend: str) -> LiveStack:
        if backend not in self.stacks:
            self.stacks[backend] = self._start(backend)
        return self.stacks[backend]

    def of(self, server: LiveServer) -> LiveStack:
        return next(stack for stack in self.stacks.values() if stack.server is server)

    def _database_url(self, backend: str, var_dir: Path) -> str:
        if backend == "sqlite":
            db_path = var_dir / "live.db"
            shutil.copyfile(self.sqlite_template, db_path)
            return f"sqlite+aiosqlite:///{db_path}"
        if backend != "postgres":  # pragma: no cover - a typo in a parametrisation
            raise ValueError(f"unknown live server backend {backend!r}")
        server_url = postgres_server_url()
        if server_url is None:  # pragma: no cover - live_backends() only offers postgres when configured
            pytest.fail("the PostgreSQL live server needs DATABASE_URL=postgresql://...")
        # Its own database, apart from the one the other tests in this process truncate between tests.
        name = f"postpact_live_{re.sub(r'[^a-z0-9]', '', worker_id(self.request).lower())}_{os.getpid()}"
        url = dbsupport.recreate_postgres_database(server_url, name)
        self.cleanups.append(lambda: dbsupport.drop_postgres_database(server_url, name))
        dbsupport.migrate(url)
        return url

    def _start(self, backend: str) -> LiveStack:
        var_dir = self.tmp_path_factory.mktemp(f"live-{backend}")
        settings = Settings.from_env(
            {
                "POSTPACT_ENV": "test",
                "SECRET_KEY": TEST_SECRET,
                "DATABASE_URL": self._database_url(backend, var_dir),
                "POSTPACT_VAR_DIR": str(var_dir),
                # Store stand-ins (tests/fakes) listen on plain http://127.0.0.1.
                "STORES_ALLOW_HTTP": "1",
                "STORES_ALLOW_PRIVATE_HOSTS": "1",
                **{f"{platform.upper()}_OEMBED_URL": url for platform, url in self.oembed.endpoints.items()},
            }
        )
        holder: dict[str, Runtime] = {}
        queue = TrackedQueue(lambda: holder["runtime"].job_context())
        runtime = build_runtime(settings, clock=SystemClock(), queue=queue, passwords=Passwords(FAST_HASHER))
        holder["runtime"] = runtime
        server = start_live_server(runtime)
        self.cleanups.insert(0, server.stop)
        own = build_runtime(settings, clock=SystemClock(), passwords=Passwords(FAST_HASHER))
        return LiveStack(backend, server, own, dbsupport.PeopleFactory(own, PEOPLE_PASSWORD))

    async def close(self) -> None:
        try:
            for stack in self.stacks.values():
                await stack.runtime.alchemy.get_engine().dispose()
        finally:
            for cleanup in self.cleanups:  # servers first, then their PostgreSQL databases
                cleanup()


@pytest.fixture(scope="session")
async def live_stacks(
    request: pytest.FixtureRequest,
    tmp_path_factory: pytest.TempPathFactory,
    sqlite_template: Path,
    live_oembed: OEmbedServer,
) -> AsyncIterator[LiveStacks]:
    stacks = LiveStacks(request, tmp_path_factory, sqlite_template, live_oembed)
    yield stacks
    await stacks.close()


@pytest.fixture
def live_server(request: pytest.FixtureRequest, live_stacks: LiveStacks) -> LiveServer:
    """The live server for this test: SQLite unless the test parametrises it (``live_backends()``)."""
    server = live_stacks.get(getattr(request, "param", "sqlite")).server
    assert isinstance(server.runtime.queue, TrackedQueue)
    server.runtime.queue.new_failures()  # ``server_jobs_done`` reports only the failures of this test's jobs
    return server


@pytest.fixture
def live_people(live_stacks: LiveStacks, live_server: LiveServer) -> dbsupport.PeopleFactory:
    """Make people in the live server's database (``live_people.runtime`` reaches that database too)."""
    return live_stacks.of(live_server).people


@pytest.fixture
async def live_runtime_at(live_server: LiveServer) -> AsyncIterator[Callable[[datetime], Runtime]]:
    """``live_runtime_at(when)``: a runtime over the live server's database whose clock is frozen at ``when`` and
    whose jobs wait in a RecordingQueue for ``run_jobs`` — to run time-driven jobs (the deadline sweep) later than
    now, the way the integration tests travel in time."""
    made: list[Runtime] = []

    def at(when: datetime) -> Runtime:
        rt = build_runtime(live_server.runtime.settings, clock=FrozenClock(when), queue=RecordingQueue(),
                           passwords=Passwords(FAST_HASHER))
        made.append(rt)
        return rt

    yield at
    for rt in made:
        await rt.alchemy.get_engine().dispose()


@pytest.fixture(scope="session")
async def browser(chromium_path: str) -> AsyncIterator[Any]:
    from playwright.async_api import async_playwright

    async with async_playwright() as p:
        instance = await p.chromium.launch(executable_path=chromium_path, headless=True, args=CHROMIUM_ARGS)
        yield instance
        await instance.close()


@pytest.fixture
async def page(browser: Any, live_server: LiveServer) -> AsyncIterator[Any]:
    context = await browser.new_context(base_url=live_server.url)
    context.set_default_timeout(10_000)
    pg = await context.new_page()
    yield pg
    await context.close()
