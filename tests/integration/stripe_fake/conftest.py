"""Fixtures for the Stripe stand-in tests: one stack per session, reset before each test; a webhook receiver."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
import stripe

from tests.fakes.stripe_stack import StripeStack, WebhookReceiver

WEBHOOK_SECRET = "whsec_postpact_stand_in_tests"


@pytest.fixture(scope="session")
def stripe_stack() -> Iterator[StripeStack]:
    with StripeStack() as stack:
        yield stack


@pytest.fixture
def stack(stripe_stack: StripeStack) -> StripeStack:
    stripe_stack.reset()
    return stripe_stack


@pytest.fixture
def client(stack: StripeStack) -> stripe.StripeClient:
    return stack.client()


@pytest.fixture
def webhooks(stack: StripeStack) -> Iterator[WebhookReceiver]:
    receiver = WebhookReceiver(WEBHOOK_SECRET).start()
    stack.register_webhook(receiver.url, receiver.secret, endpoint_id="receiver")
    yield receiver
    stack.unregister_webhook("receiver")
    receiver.stop()


PaymentMaker = Callable[..., stripe.PaymentIntent]
CreatorMaker = Callable[..., stripe.Account]


@pytest.fixture
def make_payment(client: stripe.StripeClient) -> PaymentMaker:
    """A brand's funding: a confirmed card PaymentIntent on the platform, tagged with the collaboration."""

    def make(amount: int = 10_000, currency: str = "eur", transfer_group: str = "collab_1",
             **extra: Any) -> stripe.PaymentIntent:
        params: dict[str, Any] = {"amount": amount, "currency": currency, "payment_method": "pm_card_visa",
                                  "payment_method_types": ["card"], "confirm": True,
                                  "transfer_group": transfer_group, "metadata": {"collaboration_id": transfer_group},
                                  **extra}
        return client.v1.payment_intents.create(params=params)

    return make


@pytest.fixture
def make_creator(client: stripe.StripeClient, stack: StripeStack) -> CreatorMaker:
    """A creator's Express account, onboarded through an account link unless `onboarded=False`."""

    def make(onboarded: bool = True, country: str = "FR") -> stripe.Account:
        account = client.v1.accounts.create(params={
            "type": "express", "country": country, "email": "creator@example.com",
            "capabilities": {"transfers": {"requested": True}}, "metadata": {"creator_id": "creator_1"}})
        if onboarded:
            stack.complete_onboarding(account.id)
        return client.v1.accounts.retrieve(account.id)

    return make


def available(client: stripe.StripeClient, account_id: str, currency: str = "eur") -> int:
    balance = client.v1.balance.retrieve(options={"stripe_account": account_id})
    return sum(entry.amount for entry in balance.available if entry.currency == currency)


@pytest.fixture
def balance_of(client: stripe.StripeClient) -> Callable[..., int]:
    """A connected account's available balance, read through `GET /v1/balance` with `Stripe-Account`."""
    return lambda account_id, currency="eur": available(client, account_id, currency)
