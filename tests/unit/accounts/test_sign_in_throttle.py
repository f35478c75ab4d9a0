"""SignInThrottle on both rate-limit stores: in this process (the embedded default) and in Redis (REDIS_URL)."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from typing import Any

import pytest

from marketplace.accounts.throttle import Place, SignInThrottle
from marketplace.errors import TooManyRequests
from marketplace.ratelimit import MemoryRateLimiter, RedisRateLimiter
from marketplace.security import Signer
from tests.conftest import redis_url

SIGNER = Signer("unit-test-secret-key-that-is-long-enough")


@pytest.fixture(params=["memory", "redis"])
async def limiter(request: pytest.FixtureRequest) -> AsyncIterator[Any]:
    if request.param == "memory":
        yield MemoryRateLimiter()
        return
    url = redis_url()
    if url is None:
        pytest.skip("Redis not configured: set REDIS_URL or TEST_REDIS_URL to run the Redis variant")
    redis = RedisRateLimiter(url, prefix=f"postpact:test:{uuid.uuid4().hex}:")
    yield redis
    await redis.close()


async def test_failures_throttle_the_place_not_the_account(limiter: Any) -> None:
    throttle = SignInThrottle(limiter, SIGNER)
    stranger, owner = Place("198.51.100.7"), Place("203.0.113.20")
    for _ in range(5):
        await throttle.check(stranger, "ava@example.test")
        await throttle.failed(stranger, "ava@example.test")
    with pytest.raises(TooManyRequests) as raised:
        await throttle.check(stranger, "ava@example.test")
    assert 0 < raised.value.retry_after <= 300
    await throttle.check(owner, "ava@example.test")
    await throttle.check(Place(stranger.ip, device="known-browser"), "ava@example.test")
    await throttle.check(stranger, "ben@example.test")  # another account from there: only the address counts


async def test_a_success_forgives_the_owners_own_mistakes_only(limiter: Any) -> None:
    throttle = SignInThrottle(limiter, SIGNER)
    office = Place("192.0.2.50")
    for _ in range(4):
        await throttle.failed(office, "ava@example.test")
    await throttle.succeeded(office, "ava@example.test")
    for _ in range(4):
        await throttle.failed(office, "ava@example.test")
    await throttle.check(office, "ava@example.test")


def test_the_device_cookie_names_the_accounts_that_signed_in_from_it() -> None:
    throttle = SignInThrottle(MemoryRateLimiter(), SIGNER)
    ava, ben = uuid.uuid4(), uuid.uuid4()
    cookie = throttle.remember(None, ava)
    known = throttle.place("198.51.100.7", cookie, ava)
    assert known.device is not None
    assert throttle.place("198.51.100.7", cookie, ben).device is None
    both = throttle.remember(cookie, ben)
    assert throttle.place("1.2.3.4", both, ben).device == known.device
    assert throttle.place("1.2.3.4", both + "x", ava).device is None
    assert throttle.place("1.2.3.4", Signer("another-secret-entirely-0123456789").dumps("known-device", {
        "d": "x", "u": [str(ava)]}), ava).device is None
