"""Verification services against the local oEmbed server: settings point at it, adapters use a fake sleep."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field, replace
from typing import Any

import httpx
import pytest

from marketplace.settings import Settings
from marketplace.verification.adapters import PostAdapter, build_adapters
from marketplace.verification.posts import Platform
from marketplace.verification.ratelimit import RateLimit
from tests.fakes.oembed_server import OEmbedServer

#: Short, so the slow-response test stays fast; real deployments use 10 s.
TIMEOUT_SECONDS = 0.5


@pytest.fixture
def oembed() -> Iterator[OEmbedServer]:
    with OEmbedServer() as server:
        yield server


@pytest.fixture
def settings(test_env: dict[str, str], oembed: OEmbedServer) -> Settings:
    test_env.update(
        {
            "TIKTOK_OEMBED_URL": oembed.endpoint("tiktok"),
            "YOUTUBE_OEMBED_URL": oembed.endpoint("youtube"),
            "INSTAGRAM_OEMBED_URL": oembed.endpoint("instagram"),
        }
    )
    base = Settings.from_env(test_env)
    return replace(base, verification=replace(base.verification, timeout_seconds=TIMEOUT_SECONDS))


@dataclass
class LimiterClock:
    """The adapters' rate limiter waits on this instead of sleeping; every wait is recorded."""

    t: float = 1000.0
    sleeps: list[float] = field(default_factory=list)

    def monotonic(self) -> float:
        return self.t

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.t += seconds


@pytest.fixture
async def limiter_clock(runtime: Any) -> AsyncIterator[LimiterClock]:
    """Installs the adapters the jobs will use (same resource key), with a fake limiter clock."""
    clock = LimiterClock()
    client = httpx.AsyncClient(trust_env=False)
    adapters: dict[Platform, PostAdapter] = build_adapters(
        client,
        runtime.settings.verification,
        rate_limits=dict.fromkeys(Platform, RateLimit(per_second=1, burst=5)),
        now=runtime.clock.now,
        monotonic=clock.monotonic,
        sleep=clock.sleep,
    )
    runtime.resources[f"verification.adapters:{id(asyncio.get_running_loop())}"] = adapters
    yield clock
    await client.aclose()
