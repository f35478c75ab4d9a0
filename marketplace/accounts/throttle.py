"""Throttling password guesses without handing strangers a way to lock the owner out.

Failures are counted per (address, account) and per address, in growing tiers (marketplace/ratelimit.py); never per
account alone, so guessing from one network doesn't stop the owner elsewhere. A browser that signed in to the
account before carries a signed "known device" cookie: it skips the per-address counts (an attacker may share the
owner's network) and has a small allowance of its own, so a stolen cookie buys no extra guesses. Successes never
count. The counts live in the rate-limit store: Redis when REDIS_URL is set, this process otherwise.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import timedelta
from uuid import UUID

from marketplace.errors import TooManyRequests
from marketplace.ratelimit import (
    SIGN_IN_FAILURES_PER_IP,
    SIGN_IN_FAILURES_PER_IP_ACCOUNT,
    SIGN_IN_FAILURES_PER_KNOWN_DEVICE,
    Limit,
    RateLimiter,
)
from marketplace.security import Signer

DEVICE_COOKIE = "postpact_device"
DEVICE_PURPOSE = "known-device"
DEVICE_LIFETIME = timedelta(days=180)
#: Accounts remembered per browser (a shared family laptop); the oldest is forgotten first.
MAX_ACCOUNTS_PER_DEVICE = 5

THROTTLED_HERE = ("Too many failed sign-ins for this account from your network. Wait {wait}, sign in from a device "
                  "you used before, or reset your password.")
THROTTLED_NETWORK = "Too many failed sign-ins from your network. Wait {wait} and try again."
THROTTLED_DEVICE = "Too many failed sign-ins from this browser. Wait {wait} or reset your password."


def _wait(seconds: int) -> str:
    if seconds < 90:
        return f"{seconds} seconds"
    if seconds < 90 * 60:
        return f"{round(seconds / 60)} minutes"
    return f"{round(seconds / 3600)} hours"


@dataclass(frozen=True)
class Place:
    """Where a sign-in comes from: the address, and the known-device id when the browser's cookie names the account."""

    ip: str
    device: str | None = None


class SignInThrottle:
    def __init__(self, limiter: RateLimiter, signer: Signer) -> None:
        self.limiter = limiter
        self.signer = signer

    # -- known devices -------------------------------------------------------------------------------------------

    def _device(self, cookie: str | None) -> dict[str, object] | None:
        if not cookie:
            return None
        payload = self.signer.loads(DEVICE_PURPOSE, cookie, int(DEVICE_LIFETIME.total_seconds()))
        if payload is None or not isinstance(payload.get("d"), str) or not isinstance(payload.get("u"), list):
            return None
        return payload

    def place(self, ip: str, cookie: str | None, user_id: UUID | None) -> Place:
        payload = self._device(cookie)
        if payload is None or user_id is None or str(user_id) not in payload["u"]:  # type: ignore[operator]
            return Place(ip)
        return Place(ip, str(payload["d"]))

    def remember(self, cookie: str | None, user_id: UUID) -> str:
        """The cookie value after ``user_id`` signed in from this browser (re-signed, so its lifetime restarts)."""
        payload = self._device(cookie) or {"d": secrets.token_urlsafe(16), "u": []}
        users = [u for u in payload["u"] if u != str(user_id)][-(MAX_ACCOUNTS_PER_DEVICE - 1):]  # type: ignore[attr-defined]
        return self.signer.dumps(DEVICE_PURPOSE, {"d": payload["d"], "u": [*users, str(user_id)]})

    # -- counting ------------------------------------------------------------------------------------------------

    def _counters(self, place: Place, email: str) -> list[tuple[str, tuple[Limit, ...], str]]:
        if place.device is not None:
            return [(f"signin-fail-device:{place.device}:{email}", SIGN_IN_FAILURES_PER_KNOWN_DEVICE, THROTTLED_DEVICE)]
        return [
            (f"signin-fail-ip-account:{place.ip}:{email}", SIGN_IN_FAILURES_PER_IP_ACCOUNT, THROTTLED_HERE),
            (f"signin-fail-ip:{place.ip}", SIGN_IN_FAILURES_PER_IP, THROTTLED_NETWORK),
        ]

    async def check(self, place: Place, email: str) -> None:
        """Raise TooManyRequests (with the longest wait of the tiers that are full) before the password is checked."""
        for key, tiers, message in self._counters(place, email):
            waits = []
            for limit in tiers:
                decision = await self.limiter.peek(f"{key}:{limit.window_seconds}", limit)
                if not decision.allowed:
                    waits.append(decision.retry_after)
            if waits:
                raise TooManyRequests(message.format(wait=_wait(max(waits))), retry_after=max(waits))

    async def failed(self, place: Place, email: str) -> None:
        for key, tiers, _ in self._counters(place, email):
            for limit in tiers:
                await self.limiter.hit(f"{key}:{limit.window_seconds}", limit)

    async def succeeded(self, place: Place, email: str) -> None:
        """The owner's own mistakes from here are forgiven; the address's count (other people's failures) is not."""
        key, tiers, _ = self._counters(place, email)[0]
        for limit in tiers:
            await self.limiter.reset(f"{key}:{limit.window_seconds}")
