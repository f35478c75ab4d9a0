"""Requests that only read the session must not write it back: a page's notification badge poll that loaded the
session before a form post stored a flash message would otherwise overwrite it with its stale copy."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta
from typing import Any

import httpx
from litestar.stores.base import Store

from marketplace.sessions import SESSION_STORE
from tests.conftest import Web


class HeldReads(Store):
    """The app's real session store, except that one chosen read is held after it has read the data."""

    def __init__(self, inner: Store) -> None:
        self.inner = inner
        self.hold_next_read = False
        self.read_done = asyncio.Event()
        self.release = asyncio.Event()
        self.writes = 0

    async def get(self, key: str, renew_for: int | timedelta | None = None) -> bytes | None:
        value = await self.inner.get(key, renew_for=renew_for)
        if self.hold_next_read:
            self.hold_next_read = False
            self.read_done.set()
            await self.release.wait()
        return value

    async def set(self, key: str, value: str | bytes, expires_in: int | timedelta | None = None) -> None:
        self.writes += 1
        await self.inner.set(key, value, expires_in=expires_in)

    async def delete(self, key: str) -> None:
        await self.inner.delete(key)

    async def delete_all(self) -> None:
        await self.inner.delete_all()

    async def exists(self, key: str) -> bool:
        return await self.inner.exists(key)

    async def expires_in(self, key: str) -> int | None:
        return await self.inner.expires_in(key)


def _hold_session_reads(app: Any) -> HeldReads:
    held = HeldReads(app.stores.get(SESSION_STORE))
    app.stores.register(SESSION_STORE, held, allow_override=True)
    return held


@asynccontextmanager
async def concurrent_web(app: Any, runtime: Any) -> AsyncIterator[Web]:
    """A browser-like client that can have several requests in flight: the app runs in this test's event loop
    (Litestar's test client runs it in a portal thread and waits for each request in turn)."""
    async with app.lifespan():
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver.local") as client:
            yield Web(client, runtime)  # type: ignore[arg-type]


async def test_a_badge_poll_racing_a_form_post_keeps_the_flash_message(app, runtime, people) -> None:
    person = await people.creator()
    async with concurrent_web(app, runtime) as web:
        await web.sign_in(person.email, person.password)
        await web.get("/creator")
        held = _hold_session_reads(app)

        held.hold_next_read = True
        poll = asyncio.create_task(web.get("/notifications/badge", htmx=True))
        try:
            await asyncio.wait_for(held.read_done.wait(), timeout=10)  # the poll has its (soon stale) copy
            saved = await web.post("/notifications/settings", [("email", "deals")])
            assert saved.status_code == 303
        finally:
            held.release.set()
            badge = await poll
        assert badge.status_code == 200

        page = await web.get(saved.headers["location"])
        assert "Email settings saved." in page.text


async def test_reading_pages_does_not_rewrite_the_session(app, web, people) -> None:
    person = await people.creator()
    await web.sign_in(person.email, person.password)
    await web.get("/creator")
    held = _hold_session_reads(app)
    for path in ("/creator", "/notifications", "/creator/collaborations"):
        response = await web.get(path)
        assert response.status_code == 200
        assert "postpact_session=" in response.headers.get("set-cookie", ""), "the cookie is still renewed"
    assert held.writes == 0
    await web.post("/notifications/settings", [("email", "deals")])
    assert held.writes == 1, "a change (the flash message) is written"
    assert "Email settings saved." in (await web.get("/notifications/settings")).text
    assert held.writes == 2, "taking the flash message is a change too"
