"""StripeProvider.parse_webhook: Stripe's signature scheme checked on the raw body, with one secret per endpoint."""

from __future__ import annotations

import json
import time
from collections.abc import Callable

import pytest

from escrow.providers.base import InvalidWebhook
from escrow.providers.stripe import StripeProvider
from tests.support.stripe import signed

PLATFORM = "whsec_platform_endpoint"
CONNECT = "whsec_connect_endpoint"
EVENT = {"id": "evt_1sig", "object": "event", "type": "account.updated", "created": 1_795_000_000,
         "account": "acct_1creator", "data": {"object": {"id": "acct_1creator", "object": "account"}}}


def provider(secret: str | None = f"{PLATFORM}, {CONNECT}") -> StripeProvider:
    return StripeProvider("sk_test_signatures", webhook_secret=secret, api_base="http://127.0.0.1:9")


@pytest.mark.parametrize("secret", [PLATFORM, CONNECT])
def test_events_signed_by_either_endpoint_are_accepted(secret: str) -> None:
    body, headers = signed(EVENT, secret)

    event = provider().parse_webhook(body, headers["Stripe-Signature"])

    assert (event.id, event.type, event.object_id, event.account, event.created) == (
        "evt_1sig", "account.updated", "acct_1creator", "acct_1creator", 1_795_000_000)
    assert event.object == {"id": "acct_1creator", "object": "account"}


def tampered() -> tuple[bytes, dict[str, str]]:
    body, headers = signed(EVENT, PLATFORM)
    return body.replace(b"acct_1creator", b"acct_1intruder"), headers


def unsigned() -> tuple[bytes, dict[str, str]]:
    return signed(EVENT, PLATFORM)[0], {}


# Each case signs when the test runs (a signature made at collection time could be stale by then).
CASES: dict[str, tuple[Callable[[], tuple[bytes, dict[str, str]]], str]] = {
    "wrong secret": (lambda: signed(EVENT, "whsec_someone_else"), "bad signature"),
    "stale timestamp": (lambda: signed(EVENT, PLATFORM, timestamp=int(time.time()) - 301), "bad signature"),
    "tampered body": (tampered, "bad signature"),
    "no signature": (unsigned, "missing Stripe-Signature"),
    "not json": (lambda: signed(b"[1, 2", PLATFORM), "unparseable"),
    "no object": (lambda: signed(json.dumps({"id": "evt_1", "type": "x", "data": {}}).encode(), PLATFORM),
                  "unparseable"),
}


@pytest.mark.parametrize("case", list(CASES))
def test_anything_else_is_refused(case: str) -> None:
    make, message = CASES[case]
    body, headers = make()
    with pytest.raises(InvalidWebhook) as refused:
        provider().parse_webhook(body, headers.get("Stripe-Signature"))
    assert message in str(refused.value)


def test_without_a_secret_nothing_is_accepted() -> None:
    body, headers = signed(EVENT, PLATFORM)
    with pytest.raises(InvalidWebhook, match="not configured"):
        provider(None).parse_webhook(body, headers["Stripe-Signature"])
