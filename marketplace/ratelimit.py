"""Fixed-window rate limits for sign-in, sign-up and password reset, in Redis or in this process."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True)
class Limit:
    attempts: int
    window_seconds: int


@dataclass(frozen=True)
class Decision:
    allowed: bool
    retry_after: int


class RateLimiter(Protocol):
    async def hit(self, key: str, limit: Limit) -> Decision: ...

    async def peek(self, key: str, limit: Limit) -> Decision: ...

    async def reset(self, key: str) -> None: ...


class MemoryRateLimiter:
    """Good for one process (the embedded default, tests); web processes behind a balancer need Redis."""

    def __init__(self, monotonic: Callable[[], float] = time.monotonic) -> None:
        self._now = monotonic
        self._windows: dict[str, tuple[float, int]] = {}

    def _window(self, key: str, limit: Limit) -> tuple[float, int]:
        now = self._now()
        start, count = self._windows.get(key, (now, 0))
        if now - start >= limit.window_seconds:
            start, count = now, 0
        return start, count

    async def hit(self, key: str, limit: Limit) -> Decision:
        start, count = self._window(key, limit)
        count += 1
        self._windows[key] = (start, count)
        return self._decision(start, count, limit)

    async def peek(self, key: str, limit: Limit) -> Decision:
        start, count = self._window(key, limit)
        return self._decision(start, count + 1, limit)

    def _decision(self, start: float, count: int, limit: Limit) -> Decision:
        retry = max(1, int(limit.window_seconds - (self._now() - start)))
        return Decision(allowed=count <= limit.attempts, retry_after=retry)

    async def reset(self, key: str) -> None:
        self._windows.pop(key, None)


class RedisRateLimiter:
    """INCR + EXPIRE in one round trip; shared by every web process."""

    def __init__(self, redis_url: str, prefix: str = "postpact:rl:") -> None:
        from redis.asyncio import Redis

        self._redis = Redis.from_url(redis_url)
        self._prefix = prefix

    async def hit(self, key: str, limit: Limit) -> Decision:
        name = self._prefix + key
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.incr(name)
            pipe.expire(name, limit.window_seconds, nx=True)
            pipe.ttl(name)
            count, _, ttl = await pipe.execute()
        return Decision(allowed=int(count) <= limit.attempts, retry_after=max(1, int(ttl)))

    async def peek(self, key: str, limit: Limit) -> Decision:
        name = self._prefix + key
        async with self._redis.pipeline(transaction=False) as pipe:
            pipe.get(name)
            pipe.ttl(name)
            count, ttl = await pipe.execute()
        return Decision(allowed=int(count or 0) + 1 <= limit.attempts, retry_after=max(1, int(ttl or 1)))

    async def reset(self, key: str) -> None:
        await self._redis.delete(self._prefix + key)

    async def close(self) -> None:
        await self._redis.aclose()


#: Failed sign-ins only (a success never counts, so an office of 30 behind one address signs in freely), per address
#: and account and per address. Each tier is a longer window after more failures, so the wait grows while guessing
#: goes on: five wrong passwords cost a few minutes, twenty a day. Nothing is counted per account alone, so a
#: stranger can't lock the owner out from elsewhere.
SIGN_IN_FAILURES_PER_IP_ACCOUNT = (Limit(5, 300), Limit(10, 3600), Limit(20, 86400))
SIGN_IN_FAILURES_PER_IP = (Limit(30, 300), Limit(100, 3600), Limit(300, 86400))
#: A browser the owner signed in from before (a signed cookie) skips the per-address limits above, which may be
#: full of a stranger's failures from the same network; it has its own.
SIGN_IN_FAILURES_PER_KNOWN_DEVICE = (Limit(5, 300), Limit(10, 3600))
SIGN_UP_PER_IP = Limit(attempts=10, window_seconds=3600)
PASSWORD_RESET_PER_IP = Limit(attempts=5, window_seconds=900)
PASSWORD_RESET_PER_ACCOUNT = Limit(attempts=3, window_seconds=3600)
