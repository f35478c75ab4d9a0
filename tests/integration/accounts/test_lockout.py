"""Guessing is throttled per address and account and per address, with growing waits, while the owner still signs in
from elsewhere or from a browser they used before, and an office of people behind one address is never throttled."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient

from marketplace.clock import FrozenClock
from marketplace.ratelimit import MemoryRateLimiter
from marketplace.runtime import Runtime, build_runtime
from marketplace.security import Passwords
from tests.conftest import FAST_HASHER, Web

ATTACKER_IP, OWNER_IP, OFFICE_IP = "198.51.100.7", "203.0.113.20", "192.0.2.50"
WRONG = "not-the-password-1"


@pytest.fixture
async def runtime(settings: Any, clock: FrozenClock, queue: Any) -> AsyncIterator[Runtime]:
    """Rate-limit windows on the test clock, so waits pass by moving time."""
    limiter = MemoryRateLimiter(lambda: clock.now().timestamp())
    rt = build_runtime(settings, clock=clock, queue=queue, passwords=Passwords(FAST_HASHER), rate_limiter=limiter)
    yield rt
    await rt.alchemy.get_engine().dispose()


@pytest.fixture
async def from_ip(app: Litestar, client: Any, runtime: Runtime) -> AsyncIterator[Callable[[str], Awaitable[Web]]]:
    """``await from_ip("198.51.100.7")``: a browser whose requests reach the app from that address."""
    opened: list[AsyncTestClient[Any]] = []

    async def factory(ip: str) -> Web:
        async def at_address(scope: Any, receive: Any, send: Any) -> None:
            if scope["type"] == "http":
                scope["client"] = (ip, 50000)
            await app(scope, receive, send)

        c = AsyncTestClient(app=at_address, base_url="http://testserver.local")  # type: ignore[arg-type]
        opened.append(c)
        return Web(c, runtime)

    yield factory
    for c in opened:
        c.cookies.clear()


async def token(web: Web, email: str, password: str) -> Any:
    return await web.client.post("/api/v1/auth/token", json={"email": email, "password": password})


async def test_a_stranger_guessing_is_throttled_but_the_owner_still_signs_in(from_ip, people) -> None:
    owner = await people.creator()
    # The owner signed in once from the café network the attacker now uses: that browser is a known device.
    owners_laptop = await from_ip(ATTACKER_IP)
    await owners_laptop.sign_in(owner.email, owner.password)
    await owners_laptop.sign_out()

    attacker = await from_ip(ATTACKER_IP)
    statuses = [(await attacker.post("/signin", {"email": owner.email, "password": WRONG})).status_code
                for _ in range(50)]
    assert statuses == [422] * 5 + [429] * 45
    blocked = await attacker.post("/signin", {"email": owner.email, "password": owner.password})
    assert blocked.status_code == 429 and int(blocked.headers["retry-after"]) > 0
    assert "Too many failed sign-ins for this account from your network" in blocked.text
    api = await token(attacker, owner.email, WRONG)
    assert api.status_code == 429 and api.headers["content-type"].startswith("application/problem+json")
    assert int(api.headers["retry-after"]) > 0

    # Elsewhere, the owner signs in as usual, on the pages and through the API.
    at_home = await from_ip(OWNER_IP)
    assert (await at_home.post("/signin", {"email": owner.email, "password": owner.password})).status_code == 303
    assert (await token(at_home, owner.email, owner.password)).status_code == 201
    # On the attacker's network, the owner's known browser still gets in.
    assert (await owners_laptop.post("/signin", {"email": owner.email, "password": owner.password})
            ).status_code == 303


async def test_the_wait_grows_while_guessing_goes_on(from_ip, people, clock) -> None:
    owner = await people.creator()
    attacker = await from_ip(ATTACKER_IP)

    async def guess() -> Any:
        return await attacker.post("/signin", {"email": owner.email, "password": WRONG})

    assert [(await guess()).status_code for _ in range(6)] == [422] * 5 + [429]
    first_wait = int((await guess()).headers["retry-after"])
    assert first_wait <= 300
    clock.advance(seconds=301)
    assert [(await guess()).status_code for _ in range(6)] == [422] * 5 + [429]
    second_wait = int((await guess()).headers["retry-after"])
    assert second_wait > 3000  # ten failures: the hour tier
    clock.advance(hours=1, seconds=1)
    for _ in range(2):
        clock.advance(seconds=301)
        assert [(await guess()).status_code for _ in range(5)] == [422] * 5
        clock.advance(hours=1, seconds=1)
    assert int((await guess()).headers["retry-after"]) > 3600 * 20  # twenty in a day: the day tier


async def test_many_accounts_guessed_from_one_address_throttle_that_address(from_ip, people) -> None:
    attacker = await from_ip(ATTACKER_IP)
    statuses = [(await attacker.post("/signin", {"email": f"victim{i}@example.test", "password": WRONG})
                 ).status_code for i in range(31)]
    assert statuses == [422] * 30 + [429]
    assert "from your network" in (await attacker.post("/signin", {"email": "x@example.test", "password": WRONG})).text


async def test_an_office_of_thirty_behind_one_address_is_not_throttled(from_ip, people) -> None:
    staff = [await people.creator() for _ in range(30)]
    office = await from_ip(OFFICE_IP)
    for person in staff:
        assert (await office.post("/signin", {"email": person.email, "password": person.password})).status_code == 303
        await office.sign_out()
        assert (await token(office, person.email, person.password)).status_code == 201
    # A typo after all that is just a typo.
    assert (await office.post("/signin", {"email": staff[0].email, "password": WRONG})).status_code == 422


async def test_a_forged_or_foreign_device_cookie_does_not_skip_the_throttle(from_ip, people) -> None:
    owner, other = await people.creator(), await people.creator()
    attacker = await from_ip(ATTACKER_IP)
    await attacker.sign_in(other.email, other.password)  # a real device cookie, but for the attacker's own account
    await attacker.sign_out()
    statuses = [(await attacker.post("/signin", {"email": owner.email, "password": WRONG})).status_code
                for _ in range(6)]
    assert statuses == [422] * 5 + [429]
    attacker.client.cookies.set("postpact_device", "forged.value", domain="testserver.local")
    assert (await attacker.post("/signin", {"email": owner.email, "password": WRONG})).status_code == 429
