"""Per-platform request rate limits: an async token bucket that also honours a platform's Retry-After."""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass

from marketplace.verification.posts import Platform


@dataclass(frozen=True)
class RateLimit:
    per_second: float
    burst: int = 1

    def __post_init__(self) -> None:
        if self.per_second <= 0 or self.burst < 1:
            raise ValueError("a rate limit needs a positive rate and a burst of at least 1")


# Platforms publish no oEmbed limits except Meta; these stay well under what a browser user would cause.
DEFAULT_RATE_LIMITS: Mapping[Platform, RateLimit] = {
    Platform.TIKTOK: RateLimit(per_second=1.0, burst=3),
    Platform.YOUTUBE: RateLimit(per_second=1.0, burst=3),
    # Tokenless Meta oEmbed allows 1,000 requests an hour per endpoint.
    Platform.INSTAGRAM: RateLimit(per_second=1000 / 3600, burst=3),
}
#: With an app token Meta allows 5 million a day (~58/s); we stay far below.
INSTAGRAM_WITH_TOKEN_RATE_LIMIT = RateLimit(per_second=5.0, burst=5)


class TokenBucket:
    """An async token bucket per platform; waiting callers are served in turn."""

    def __init__(
        self,
        limit: RateLimit,
        *,
        monotonic: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[object]] = asyncio.sleep,
    ) -> None:
        self.limit = limit
        self._monotonic = monotonic
        self._sleep = sleep
        self._tokens = float(limit.burst)
        self._updated = monotonic()
        self._paused_until = -math.inf
        self._lock = asyncio.Lock()

    def _refill(self, now: float) -> None:
        elapsed = max(0.0, now - self._updated)
        self._tokens = min(float(self.limit.burst), self._tokens + elapsed * self.limit.per_second)
        self._updated = now

    async def acquire(self) -> float:
        """Take one token, sleeping as long as needed; returns the seconds waited."""
        async with self._lock:
            waited = 0.0
            while True:
                now = self._monotonic()
                self._refill(now)
                wait = self._paused_until - now
                if wait <= 0:
                    # A hair under one token after float refills counts as one: waiting 1e-14 s would never move
                    # a coarse (or simulated) clock, and the caller would spin.
                    if self._tokens >= 1 - 1e-9:
                        self._tokens = max(0.0, self._tokens - 1)
                        return waited
                    wait = (1 - self._tokens) / self.limit.per_second
                await self._sleep(wait)
                waited += wait

    def pause(self, seconds: float) -> None:
        """Hold every caller back, e.g. for the Retry-After of a 429, so one refusal doesn't become many."""
        self._paused_until = max(self._paused_until, self._monotonic() + max(0.0, seconds))
