"""Steps every browser test takes: signing in and out through the real pages, and waiting for the live server's
background jobs."""

from __future__ import annotations

import asyncio
import re
import threading
from collections.abc import Callable
from typing import Any

import pytest
from playwright.async_api import Page, expect

from marketplace.jobs import InProcessQueue, JobContext, PendingJob
from tests.conftest import postgres_server_url


def live_backends() -> list[Any]:
    """Databases a browser test can run its live server on, for
    ``@pytest.mark.parametrize("live_server", live_backends(), indirect=True)``: SQLite always, PostgreSQL when
    DATABASE_URL/TEST_POSTGRES_URL points at it (always in CI, where tests/conftest.py requires it)."""
    params: list[Any] = [pytest.param("sqlite", id="sqlite")]
    if postgres_server_url():
        params.append(pytest.param("postgres", id="postgres", marks=pytest.mark.postgres))
    return params


async def sign_in(page: Page, person: Any) -> None:
    await page.goto("/signin")
    await page.get_by_label("Email").fill(person.email)
    await page.get_by_label("Password").fill(person.password)
    await page.get_by_role("button", name="Sign in").click()
    await expect(page).not_to_have_url(re.compile(r"/signin"))


async def sign_out(page: Page) -> None:
    await page.get_by_role("button", name="Sign out").click()
    await expect(page).to_have_url(re.compile(r"/signin$"))


# --- the live server's background jobs ------------------------------------------------------------------------------


class TrackedQueue(InProcessQueue):
    """The live server's in-process job queue, counting jobs in flight so a test can wait until every job a click
    started (and every job those started) has finished, instead of sleeping. Thread-safe: the server runs jobs on
    its own event loop in its own thread; the test waits from another."""

    def __init__(self, context_factory: Callable[[], JobContext]) -> None:
        super().__init__(context_factory)
        self._idle = threading.Condition()
        self._in_flight = 0
        self._failures_seen = 0

    def dispatch(self, jobs: list[PendingJob]) -> None:
        with self._idle:
            self._in_flight += len(jobs)
        super().dispatch(jobs)

    async def _run(self, pending: PendingJob) -> None:
        try:
            await super()._run(pending)
        finally:
            with self._idle:
                self._in_flight -= 1
                self._idle.notify_all()

    def wait_idle(self, timeout: float) -> bool:
        with self._idle:
            return self._idle.wait_for(lambda: self._in_flight == 0, timeout)

    def new_failures(self) -> list[tuple[str, BaseException]]:
        with self._idle:
            fresh = self.failures[self._failures_seen:]
            self._failures_seen = len(self.failures)
        return fresh


#: How long a test waits for the live server's background jobs (a few provider calls, a post check, emails).
JOBS_WAIT_SECONDS = 20.0


async def server_jobs_done(server: Any) -> None:
    """Wait until the live server has run every background job queued so far; fail on any job that failed."""
    queue = server.runtime.queue
    assert isinstance(queue, TrackedQueue), "the live server was not built with a TrackedQueue"
    idle = await asyncio.to_thread(queue.wait_idle, JOBS_WAIT_SECONDS)
    assert idle, f"the live server's background jobs were still running after {JOBS_WAIT_SECONDS:.0f} s"
    failures = queue.new_failures()
    assert not failures, f"background jobs failed on the live server: {failures}"
