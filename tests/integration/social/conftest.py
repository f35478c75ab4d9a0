"""Fixtures for connected-account tests: the social platforms' stand-in, settings pointing at it, a signed-in
creator, and a helper that walks the OAuth dance through the pages (start, the platform's consent, callback)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest

from marketplace.social.clients import RATE_LIMITS
from marketplace.social.connections import PlatformKit
from marketplace.verification.ratelimit import TokenBucket
from tests.fakes.social_server import SocialServer


@pytest.fixture
def social() -> Iterator[SocialServer]:
    with SocialServer() as server:
        yield server


@pytest.fixture
def test_env(test_env: dict[str, str], social: SocialServer) -> dict[str, str]:
    test_env.update(social.env())
    return test_env


@dataclass
class LimiterClock:
    """The platforms' token buckets wait on this instead of sleeping; every wait is recorded."""

    t: float = 1000.0
    sleeps: list[float] = field(default_factory=list)

    def monotonic(self) -> float:
        return self.t

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.t += seconds


@pytest.fixture
async def limiter(runtime: Any) -> AsyncIterator[LimiterClock]:
    """Installs the kit pages and jobs use (same resource key) with buckets on a fake clock."""
    clock = LimiterClock()
    http = httpx.AsyncClient(trust_env=False, timeout=5)
    runtime.resources[f"social.kit:{id(asyncio.get_running_loop())}"] = PlatformKit(http, {
        p: TokenBucket(limit, monotonic=clock.monotonic, sleep=clock.sleep) for p, limit in RATE_LIMITS.items()})
    yield clock
    await http.aclose()


async def consent(authorize_url: str) -> str:
    """What the creator's browser does at the platform: the stand-in consents at once and redirects back."""
    async with httpx.AsyncClient(trust_env=False) as browser:
        answer = await browser.get(authorize_url)
    assert answer.status_code == 302, answer.text
    return answer.headers["location"].split("testserver.local", 1)[1]


async def start(web: Any, platform: str) -> str:
    response = await web.post(f"/creator/social/{platform}/connect")
    assert response.status_code == 303, response.text[:500]
    return str(response.headers["location"])


async def connect(web: Any, social: SocialServer, platform: str, handle: str) -> Any:
    social.login_as(platform, handle)
    callback = await consent(await start(web, platform))
    return await web.get(callback)


@pytest.fixture
async def creator_web(web: Any, people: Any) -> Any:
    person = await people.creator()
    await web.sign_in(person.email, person.password)
    web.person = person
    return web
