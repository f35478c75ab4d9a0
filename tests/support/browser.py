"""Steps every browser test takes: signing in and out through the real pages, and waiting for the live server's
background jobs."""

from __future__ import annotations

import asyncio
import re
import threading
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

import pytest
from playwright.async_api import Page, expect

from marketplace.jobs import InProcessQueue, JobContext, PendingJob
from tests.conftest import postgres_server_url
from tests.fakes.shopify_server import http_post


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


# --- stores (the Shopify and WooCommerce stand-ins in tests/fakes) --------------------------------------------------


async def connect_shopify(page: Page, live_server: Any, shop: Any, name: str) -> None:
    """The signed-in brand connects the Shopify stand-in on /brand/stores (admin API token and app client secret)
    and the background jobs it starts (catalog sync, webhook subscriptions) finish."""
    await _connect_store(page, live_server, "shopify", name, shop.url, shop.access_token, shop.client_secret)


async def connect_woocommerce(page: Page, live_server: Any, site: Any, name: str) -> None:
    """The same with the WooCommerce stand-in: consumer key, webhook secret and consumer secret."""
    await _connect_store(page, live_server, "woocommerce", name, site.url, site.consumer_key, site.webhook_secret,
                         consumer_secret=site.consumer_secret)


async def _connect_store(page: Page, live_server: Any, platform: str, name: str, url: str, key: str, secret: str,
                         *, consumer_secret: str | None = None) -> None:
    await page.goto("/brand/stores")
    await page.get_by_label("Platform").select_option(platform)
    await page.get_by_label("Name (for you)").fill(name)
    await page.get_by_label("Shop address").fill(url)
    await page.get_by_label("Admin API access token (Shopify) or consumer key (WooCommerce)").fill(key)
    await page.get_by_label("App client secret (Shopify) or webhook secret (WooCommerce)").fill(secret)
    if consumer_secret is not None:
        await page.get_by_label("Consumer secret").fill(consumer_secret)
    await page.get_by_role("button", name="Connect").click()
    await expect(page.get_by_text(f"{name} connected.")).to_be_visible()
    await server_jobs_done(live_server)


async def deliver_webhooks(store: Any, live_server: Any) -> None:
    """The stand-in sends its queued webhooks, signed with the store's secret, to the live server, which accepts
    every one; then the jobs they started finish."""
    statuses = store.flush(lambda url, headers, body: http_post(live_server.url + urlsplit(url).path, headers, body))
    assert statuses and set(statuses) == {200}, statuses
    await server_jobs_done(live_server)
