"""The stack itself: quick to start, isolated per instance, and leaves no process behind."""

from __future__ import annotations

import os

import httpx
import stripe

from tests.fakes.stripe_stack import StripeStack


def test_a_second_stack_starts_quickly_apart_and_stops_cleanly(stripe_stack: StripeStack) -> None:
    with StripeStack(api_key="sk_test_second_stack") as second:
        process = second._process
        assert process is not None
        assert second.startup_seconds < 10
        assert second.api_base != stripe_stack.api_base
        assert second.localstripe_url.startswith("http://127.0.0.1:")
        account = second.client().v1.accounts.create(params={
            "type": "express", "capabilities": {"transfers": {"requested": True}}})
        # Separate state: the session's stack has never heard of it.
        assert account.id not in {a.id for a in stripe_stack.client().v1.accounts.list(params={"limit": 100}).data}

    assert process.poll() is not None
    try:
        os.killpg(process.pid, 0)
    except ProcessLookupError:
        pass
    else:
        raise AssertionError(f"localstripe's process group {process.pid} survived stop()")


def test_unknown_payment_method_reports_what_localstripe_knows(client: stripe.StripeClient) -> None:
    try:
        client.v1.payment_intents.create(params={"amount": 1_000, "currency": "eur",
                                                 "payment_method": "pm_card_mastercard", "confirm": True})
    except stripe.InvalidRequestError as missing:
        assert missing.code == "resource_missing"
        assert "pm_card_visa" in str(missing.user_message)
    else:
        raise AssertionError("localstripe accepted an unknown test payment method")


def test_health_and_clock_control(stack: StripeStack) -> None:
    assert httpx.get(f"{stack.api_base}/_fake/health").json()["ok"] is True
    before = stack.http.get("/_fake/clock").json()["now"]
    assert stack.advance_clock(3_600) >= before + 3_600
    stack.reset()
    assert stack.http.get("/_fake/clock").json()["offset"] == 0
