"""Helpers for tests that run escrow on Stripe: a provider on the local stand-in, a browser's payment, raw webhooks."""

from __future__ import annotations

import asyncio
import contextlib
import json
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import sqlalchemy as sa
import stripe

from escrow.models import EscrowHold, PayoutAccount
from escrow.providers.stripe import StripeProvider
from marketplace.collaborations.states import Action, CollabState
from marketplace.collaborations.transition import transition
from marketplace.db import session_scope
from marketplace.jobs import REGISTRY, RetryLater
from marketplace.payments import gateway
from marketplace.payments import services as payments
from marketplace.payments.gateway import PROVIDER_RESOURCE
from tests.fakes.stripe_server import sign_payload
from tests.fakes.stripe_stack import StripeStack
from tests.support.deals import Deal, advance_deal, brand_actor, make_deal
from tests.support.escrow import actor_of, start_funding

WEBHOOK_SECRET = "whsec_postpact_escrow_tests"


def stripe_env(stack: StripeStack, secret: str = WEBHOOK_SECRET) -> dict[str, str]:
    """The environment that makes the app use Stripe on the stand-in."""
    return {"STRIPE_SECRET_KEY": stack.api_key, "STRIPE_WEBHOOK_SECRET": secret, "STRIPE_API_BASE": stack.api_base}


def make_provider(stack: StripeStack, *, retries: int = 0, timeout: float = 10.0,
                  secret: str = WEBHOOK_SECRET) -> StripeProvider:
    return StripeProvider(stack.api_key, webhook_secret=secret, api_base=stack.api_base,
                          max_network_retries=retries, timeout_seconds=timeout)


def pay(stack: StripeStack, funding_ref: str, payment_method: str = "pm_card_visa") -> stripe.PaymentIntent:
    """What Stripe.js does in the brand's browser: confirm the PaymentIntent with a card (declines are swallowed:
    the PaymentIntent then reads back with a ``last_payment_error``)."""
    client = stack.client()
    with contextlib.suppress(stripe.CardError):
        client.v1.payment_intents.confirm(funding_ref, params={"payment_method": payment_method})
    return client.v1.payment_intents.retrieve(funding_ref)


def signed(payload: bytes | dict[str, Any], secret: str = WEBHOOK_SECRET, *,
           timestamp: int | None = None) -> tuple[bytes, dict[str, str]]:
    """A body and the headers Stripe would send it with."""
    body = payload if isinstance(payload, bytes) else json.dumps(payload, indent=2).encode()
    header = sign_payload(body, secret, int(time.time()) if timestamp is None else timestamp)
    return body, {"Stripe-Signature": header, "Content-Type": "application/json; charset=utf-8"}


def event_payload(stack: StripeStack, event_type: str, object_id: str | None = None,
                  timeout: float = 10.0) -> bytes:
    """The exact body the stand-in sent (or would send) for an event, waiting until it exists."""
    event = stack.wait_for_event(event_type, None if object_id is None else
                                 (lambda e: e["data"]["object"].get("id") == object_id), timeout=timeout)
    return json.dumps(event, indent=2).encode()


@dataclass
class RawDelivery:
    body: bytes
    signature: str | None


@dataclass
class RawWebhookReceiver:
    """Keeps the raw body and signature of each delivery, as the app's endpoint receives them."""

    deliveries: list[RawDelivery] = field(default_factory=list)

    def __post_init__(self) -> None:
        receiver = self
        self._changed = threading.Condition()

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                with receiver._changed:
                    receiver.deliveries.append(RawDelivery(body, self.headers.get("Stripe-Signature")))
                    receiver._changed.notify_all()
                self.send_response(200)
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:
                return None

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.02},
                                        daemon=True)
        self._thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}/webhooks/stripe"

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def wait_for(self, event_type: str, object_id: str | None = None, timeout: float = 10.0, *,
                 skip: set[int] | None = None) -> RawDelivery:
        """The first delivery of that event type (about that object) whose position is not in ``skip``; the
        position is recorded in ``skip``, so repeated calls walk through later deliveries."""
        deadline = time.monotonic() + timeout
        with self._changed:
            while True:
                for index, delivery in enumerate(self.deliveries):
                    if skip is not None and index in skip:
                        continue
                    event = json.loads(delivery.body)
                    if event["type"] == event_type and (object_id is None
                                                        or event["data"]["object"].get("id") == object_id):
                        if skip is not None:
                            skip.add(index)
                        return delivery
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise AssertionError(f"no {event_type} delivery within {timeout}s")
                self._changed.wait(remaining)


@contextlib.contextmanager
def raw_webhooks(stack: StripeStack, secret: str = WEBHOOK_SECRET) -> Iterator[RawWebhookReceiver]:
    receiver = RawWebhookReceiver()
    stack.register_webhook(receiver.url, secret, endpoint_id="raw")
    try:
        yield receiver
    finally:
        stack.unregister_webhook("raw")
        receiver.stop()


# -- escrow on the stand-in: the app's jobs and webhook route, with a provider that doesn't retry by itself ------------


def use_provider(runtime: Any, provider: StripeProvider) -> None:
    """Make every part of the app (jobs, webhook route, executor) use this provider instance."""
    runtime.resources[PROVIDER_RESOURCE] = provider


class Forwarder:
    """Receives the stand-in's signed deliveries and hands them, byte for byte, to the app's webhook route."""

    def __init__(self, stack: StripeStack, client: Any, secret: str = WEBHOOK_SECRET) -> None:
        self.stack = stack
        self.client = client
        self.receiver = RawWebhookReceiver()
        self.forwarded: set[int] = set()
        stack.register_webhook(self.receiver.url, secret, endpoint_id="forwarder")

    def close(self) -> None:
        self.stack.unregister_webhook("forwarder")
        self.receiver.stop()

    async def delivery(self, event_type: str, object_id: str | None = None, wait_seconds: float = 10.0
                       ) -> RawDelivery:
        """The next delivery of this event not yet handed out."""
        return await asyncio.to_thread(lambda: self.receiver.wait_for(event_type, object_id, wait_seconds,
                                                                      skip=self.forwarded))

    async def forward(self, delivery: RawDelivery) -> Any:
        headers = {"Content-Type": "application/json; charset=utf-8"}
        if delivery.signature is not None:
            headers["Stripe-Signature"] = delivery.signature
        return await self.client.post("/webhooks/stripe", content=delivery.body, headers=headers)

    async def deliver(self, event_type: str, object_id: str | None = None) -> Any:
        """Wait for the stand-in to send this event, post it to the app; returns the app's response."""
        response = await self.forward(await self.delivery(event_type, object_id))
        assert response.status_code == 200, response.text
        return response


async def run_jobs_allowing_retries(runtime: Any) -> list[str]:
    """Run queued jobs like the worker; a job that asks to be retried later is dropped here (the recovery and
    redelivery jobs are what pick it up again). Returns the names of the escrow jobs that asked for a retry (other
    areas' jobs, e.g. post verification reaching out to TikTok, are not these tests' business)."""
    retried: list[str] = []
    queue = runtime.queue
    while queue.jobs:
        pending = queue.jobs.pop(0)
        try:
            await REGISTRY[pending.name].function(runtime.job_context(), *pending.args)
        except RetryLater:
            if pending.name.startswith("escrow."):
                retried.append(pending.name)
    return retried


async def funding_ref_of(runtime: Any, collaboration_id: Any) -> str:
    async with runtime.session_maker() as session:
        ref = await session.scalar(sa.select(EscrowHold.funding_ref).where(
            EscrowHold.collaboration_id == collaboration_id))
    assert ref, "the funding call has not run"
    return str(ref)


async def fund_on_stripe(runtime: Any, stack: StripeStack, forwarder: Forwarder, deal: Any,
                         payment_method: str = "pm_card_visa", *, via_webhook: bool = True) -> str:
    """The brand funds the deal: PostPact creates the PaymentIntent, the brand's browser confirms it with a card,
    Stripe's event reaches the webhook route and is processed. Returns the PaymentIntent id.

    ``via_webhook=False`` applies the PaymentIntent as the webhook job would, without waiting the second localstripe
    takes to send its event (for tests about what happens after funding)."""
    await start_funding(runtime, deal)
    assert await run_jobs_allowing_retries(runtime) == []
    ref = await funding_ref_of(runtime, deal.id)
    pay(stack, ref, payment_method)
    if via_webhook:
        event = "payment_intent.succeeded" if payment_method == "pm_card_visa" else "payment_intent.payment_failed"
        await forwarder.deliver(event, ref)
    else:
        funding = await runtime.resources[PROVIDER_RESOURCE].retrieve_funding(ref)
        async with session_scope(runtime.session_maker) as session:
            await gateway.escrow_service(session, runtime.clock.now(), settings=runtime.settings).apply_funding(
                funding)
    assert await run_jobs_allowing_retries(runtime) == []
    return ref


async def onboard_on_stripe(runtime: Any, stack: StripeStack, forwarder: Forwarder, creator: Any) -> str:
    """The creator sets up payouts: PostPact creates the Express account, the creator completes Stripe's hosted
    onboarding through an account link, and account.updated reaches PostPact. Returns the account id."""
    actor = await actor_of(runtime, creator)
    async with session_scope(runtime.session_maker) as session:
        await payments.start_payout_onboarding(session, actor, now=runtime.clock.now(), settings=runtime.settings)
    assert await run_jobs_allowing_retries(runtime) == []
    async with runtime.session_maker() as session:
        account_ref = await session.scalar(sa.select(PayoutAccount.account_ref).where(
            PayoutAccount.creator_id == creator.creator_id))
    assert account_ref, "the payout account call has not run"
    provider = runtime.resources[PROVIDER_RESOURCE]
    link = await provider.onboarding_link(account_ref=account_ref, refresh_url="http://testserver.local/refresh",
                                          return_url="http://testserver.local/done")
    stack.visit_link(link)
    await forwarder.deliver("account.updated", account_ref)
    assert await run_jobs_allowing_retries(runtime) == []
    return str(account_ref)


async def verified_deal_on_stripe(runtime: Any, stack: StripeStack, forwarder: Forwarder, **deal_kwargs: Any
                                  ) -> Deal:
    """Funded on Stripe, the creator onboarded, the post verified: what remains is the brand's approval."""
    deal = await make_deal(runtime, CollabState.SIGNED, **deal_kwargs)
    await fund_on_stripe(runtime, stack, forwarder, deal, via_webhook=False)
    await onboard_on_stripe(runtime, stack, forwarder, deal.creator)
    await advance_deal(runtime, deal, CollabState.VERIFIED)
    return deal


async def approve_post(runtime: Any, deal: Deal) -> None:
    """The brand approves the verified post: the deal flow asks escrow to release (the transfer is queued)."""
    async with session_scope(runtime.session_maker) as session:
        now = runtime.clock.now()
        # The release follows the approval (marketplace.payments.listener).
        await transition(session, deal.id, Action.APPROVE_POST, brand_actor(deal.brand), now=now)


def creator_balance(stack: StripeStack, account: str, currency: str = "usd") -> int:
    balance = stack.client().v1.balance.retrieve(options={"stripe_account": account})
    return sum(entry.amount for entry in balance.available if entry.currency == currency)
