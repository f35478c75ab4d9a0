"""/webhooks/stripe: signed bodies that are JSON but not an object, and signatures dated in the future, are 400s."""

from __future__ import annotations

import time
from typing import Any

import pytest
import sqlalchemy as sa

from escrow.providers.base import InvalidWebhook
from escrow.records import WebhookEvent
from escrow.webhooks import refuse_future_signature
from tests.support.stripe import WEBHOOK_SECRET, signed

EVENT = {"id": "evt_1hardening", "object": "event", "type": "payment_intent.succeeded", "created": 1_795_000_000,
         "data": {"object": {"id": "pi_1hardening", "object": "payment_intent", "status": "succeeded"}}}


@pytest.fixture
def test_env(test_env: dict[str, str]) -> dict[str, str]:
    # Stripe configured, but nothing here reaches it: the route verifies and stores without calling Stripe.
    return {**test_env, "STRIPE_SECRET_KEY": "sk_test_hardening", "STRIPE_WEBHOOK_SECRET": WEBHOOK_SECRET,
            "STRIPE_API_BASE": "http://127.0.0.1:9"}


def assert_invalid(response: Any) -> None:
    assert response.status_code == 400, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    # Deep JSON under a JSON content type is refused earlier, for every route (marketplace/input_guard.py).
    assert response.json()["type"] in ("/problems/invalid-webhook", "/problems/http-400")


@pytest.mark.parametrize("payload", [b"[1, 2, 3]", b"null", b"123", b'"evt"', b"true", b"[" * 5000 + b"]" * 5000])
async def test_a_signed_body_that_is_not_a_json_object_is_a_400(client, db, payload: bytes) -> None:
    body, headers = signed(payload)
    for content_type in ("application/json", "text/plain"):
        assert_invalid(await client.post("/webhooks/stripe", content=body,
                                         headers={**headers, "Content-Type": content_type}))
    assert await db.scalar(sa.select(sa.func.count()).select_from(WebhookEvent)) == 0


async def test_a_signature_dated_in_the_future_is_refused_like_a_stale_one(client, db) -> None:
    now = int(time.time())
    for timestamp in (now + 301, now + 86_400, now - 301):
        body, headers = signed(EVENT, timestamp=timestamp)
        assert_invalid(await client.post("/webhooks/stripe", content=body, headers=headers))
    assert await db.scalar(sa.select(sa.func.count()).select_from(WebhookEvent)) == 0
    body, headers = signed(EVENT, timestamp=now + 60)  # within the tolerance: clocks differ a little
    assert (await client.post("/webhooks/stripe", content=body, headers=headers)).status_code == 200


def test_the_future_check_reads_the_signature_timestamp() -> None:
    refuse_future_signature("t=1300,v1=abc", 1000.0)
    refuse_future_signature(None, 1000.0)  # a missing header is the provider's "missing signature" to report
    for header in ("t=1301,v1=abc", "v1=abc, t=99999999999", "t=soon,v1=abc"):
        with pytest.raises(InvalidWebhook):
            refuse_future_signature(header, 1000.0)
