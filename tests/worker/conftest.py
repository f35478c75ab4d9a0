"""Real Celery workers for tests: a `celery -A worker.celery_app worker` subprocess against the real Redis (a
dedicated DB number, flushed at start) and the test's own database file (SQLite) or PostgreSQL database.

Redis not reachable: the tests are skipped with the reason, except with CI=true where that is a failure.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from celery import Celery

from marketplace.settings import PROJECT_ROOT
from tests.conftest import IN_CI, TEST_SECRET, worker_id
from tests.fakes.oembed_server import OEmbedServer

#: Seconds before Redis gives a dead worker's unacknowledged task to the next worker (an hour in production). Kombu
#: restores such tasks when a worker starts polling (and every 100 s after), so tests restart after this long.
VISIBILITY_TIMEOUT = 2

#: Redis DB numbers nothing else uses (the other tests use 15): the worker tests flush theirs. Each test process
#: (pytest-xdist worker) gets its own, so two processes never consume or flush each other's tasks.
WORKER_REDIS_BASE = os.environ.get("TEST_WORKER_REDIS_URL", "redis://127.0.0.1:6379/14")


def worker_redis_url_for(worker: str) -> str:
    """gw0 (or no xdist) → DB 14, gw1 → 13, …; TEST_WORKER_REDIS_URL moves the base."""
    base, _, number = WORKER_REDIS_BASE.rpartition("/")
    index = int(worker[2:]) if worker.startswith("gw") and worker[2:].isdigit() else 0
    return f"{base}/{int(number or 14) - index}"


def _redis_problem(url: str) -> str | None:
    import redis

    try:
        redis.Redis.from_url(url, socket_connect_timeout=2).ping()
    except Exception as exc:
        return f"{type(exc).__name__}: {exc}"
    return None


@pytest.fixture(scope="session")
def worker_redis_url(request: pytest.FixtureRequest) -> str:
    url = worker_redis_url_for(worker_id(request))
    problem = _redis_problem(url)
    if problem:
        message = f"Redis is not reachable at {url} ({problem}); worker tests need a real Redis"
        if IN_CI:
            pytest.fail(message)
        pytest.skip(message)
    return url


@pytest.fixture
def clean_redis(worker_redis_url: str) -> str:
    import redis

    redis.Redis.from_url(worker_redis_url).flushdb()
    return worker_redis_url


@pytest.fixture
def oembed() -> Iterator[OEmbedServer]:
    with OEmbedServer() as server:
        yield server


@dataclass
class WorkerProcess:
    """One `celery worker` subprocess in its own process group, logging to a file."""

    env: dict[str, str]
    log_path: Path
    args: list[str]
    process: subprocess.Popen[bytes] | None = None
    _log: Any = field(default=None, repr=False)

    def start(self, timeout: float = 60.0) -> WorkerProcess:
        offset = self.log_path.stat().st_size if self.log_path.exists() else 0
        self._log = self.log_path.open("ab")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "celery", "-A", "worker.celery_app", "worker", *self.args],
            cwd=PROJECT_ROOT,
            env=self.env,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"celery worker exited with {self.process.returncode}:\n{self.log()[-4000:]}")
            if b" ready." in self.log_path.read_bytes()[offset:]:
                return self
            time.sleep(0.1)
        self.kill()
        raise RuntimeError(f"celery worker did not become ready:\n{self.log()[-4000:]}")

    def kill(self) -> None:
        """SIGKILL the whole worker (main process and pool children): nothing gets to acknowledge or clean up."""
        if self.process is not None and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=10)
        if self._log is not None:
            self._log.close()
            self._log = None

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(timeout=10)
        if self._log is not None:
            self._log.close()
            self._log = None

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""


@pytest.fixture
def worker_env(clean_redis: str, database_url: str, tmp_path: Path, oembed: OEmbedServer) -> dict[str, str]:
    var_dir = tmp_path / "worker-var"
    var_dir.mkdir(exist_ok=True)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTEST_", "COV_"))}
    env.update(
        {
            "POSTPACT_ENV": "test",
            "SECRET_KEY": TEST_SECRET,
            "DATABASE_URL": database_url,
            "REDIS_URL": clean_redis,
            "PUBLIC_URL": "http://testserver.local",
            "POSTPACT_VAR_DIR": str(var_dir),
            "TIKTOK_OEMBED_URL": oembed.endpoint("tiktok"),
            "YOUTUBE_OEMBED_URL": oembed.endpoint("youtube"),
            "INSTAGRAM_OEMBED_URL": oembed.endpoint("instagram"),
            # A killed worker's unacknowledged task comes back after this many seconds (an hour in production).
            "CELERY_VISIBILITY_TIMEOUT": str(VISIBILITY_TIMEOUT),
            "PYTHONUNBUFFERED": "1",
        }
    )
    env.pop("SMTP_URL", None)
    return env


@pytest.fixture
def start_worker(worker_env: dict[str, str], tmp_path: Path) -> Iterator[Callable[..., WorkerProcess]]:
    started: list[WorkerProcess] = []

    def start(*extra: str) -> WorkerProcess:
        args = ["-Q", "default,verification", "--concurrency=1", "--loglevel=INFO", "--without-gossip",
                "--without-mingle", "--without-heartbeat", *extra]
        worker = WorkerProcess(worker_env, tmp_path / "worker.log", args).start()
        started.append(worker)
        return worker

    yield start
    for worker in started:
        worker.stop()


@pytest.fixture
def celery_client(clean_redis: str) -> Iterator[Celery]:
    """Sends tasks by name, as the web process does."""
    client = Celery("postpact-test-client", broker=clean_redis, backend=clean_redis, set_as_current=False)
    client.conf.task_serializer = "json"
    client.conf.accept_content = ["json"]
    yield client
    client.close()


async def wait_for(
    predicate: Callable[[], Awaitable[Any]], *, within: float = 45.0, interval: float = 0.1, what: str = ""
) -> Any:
    """Poll until ``await predicate()`` is truthy: the worker is another process, so there is no clock to move."""
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        value = await predicate()
        if value:
            return value
        await asyncio.sleep(interval)
    raise AssertionError(f"timed out after {within}s waiting for {what or predicate}")
