"""End to end on Stripe: the app runs with STRIPE_SECRET_KEY, STRIPE_WEBHOOK_SECRET and STRIPE_API_BASE pointing at
the stand-in, people use its pages, and the stand-in delivers its signed webhooks to a live server of the app."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from escrow import ledger
from escrow.models import EscrowHold, PayoutAccount
from escrow.reconcile import reconcile
from escrow.records import WebhookEvent
from escrow.states import EscrowState
from marketplace.collaborations.states import CollabState
from marketplace.db import session_scope
from marketplace.deadlines.enforcement import auto_approve_post, ghost_collaboration
from marketplace.runtime import Runtime
from tests.fakes.stripe_stack import StripeStack
from tests.support.deals import PASSWORD, advance_deal, make_deal
from tests.support.escrow import assert_ledger_invariants, collab_state, hold_of
from tests.support.live import LiveServer, start_live_server
from tests.support.stripe import (
    WEBHOOK_SECRET,
    creator_balance,
    funding_ref_of,
    pay,
    run_jobs_allowing_retries,
)

FEE = 15_000
GROSS = 16_200


@pytest.fixture
def live_app(on_stripe: Runtime, stack: StripeStack) -> Iterator[LiveServer]:
    """The app over real HTTP; the stand-in sends every event to its /webhooks/stripe, signed with its secret."""
    server = start_live_server(on_stripe)
    stack.register_webhook(f"{server.url}/webhooks/stripe", WEBHOOK_SECRET, endpoint_id="app")
    yield server
    stack.unregister_webhook("app")
    server.stop()


async def stored_and_processed(runtime: Runtime, db: AsyncSession, event_type: str, object_id: str,
                               wait_seconds: float = 10.0) -> WebhookEvent:
    """Wait until the live app has stored the stand-in's delivery and queued its processing (the job is dispatched
    just after the commit), running queued jobs like the worker until the event is processed."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + wait_seconds
    while True:
        assert await run_jobs_allowing_retries(runtime) == []
        row = await db.scalar(sa.select(WebhookEvent).where(WebhookEvent.type == event_type,
                                                            WebhookEvent.object_id == object_id))
        if row is not None and row.processed_at is not None:
            return row
        if loop.time() > deadline:
            raise AssertionError(f"{event_type} for {object_id} was not processed: "
                                 f"{'never arrived' if row is None else row.last_error or 'never queued'}")
        await asyncio.sleep(0.05)


async def fund_through_the_pages(runtime: Runtime, make_web: Any, db: AsyncSession, stack: StripeStack,
                                 deal: Any) -> str:
    brand = await make_web()
    await brand.sign_in(deal.brand.email, PASSWORD)
    response = await brand.post("/brand/payments/fund", {"collaboration_id": str(deal.id)})
    assert response.status_code == 303, response.text
    assert response.headers["location"].startswith("/brand/payments/checkout")
    assert await run_jobs_allowing_retries(runtime) == []  # PostPact creates the PaymentIntent
    ref = await funding_ref_of(runtime, deal.id)
    intent = stack.client().v1.payment_intents.retrieve(ref)
    assert (intent.amount, intent.currency, intent.transfer_group) == (GROSS, "usd", f"collab:{deal.id}")
    assert intent.status == "requires_payment_method"
    checkout = await brand.get(response.headers["location"])
    assert checkout.status_code == 200
    pay(stack, ref)  # Stripe.js in the brand's browser
    await stored_and_processed(runtime, db, "payment_intent.succeeded", ref)
    return ref


async def onboard_through_the_pages(runtime: Runtime, make_web: Any, db: AsyncSession, stack: StripeStack,
                                    deal: Any) -> str:
    creator = await make_web()
    await creator.sign_in(deal.creator.email, PASSWORD)
    started = await creator.post("/creator/payments/onboarding", {})
    assert started.status_code == 303
    assert await run_jobs_allowing_retries(runtime) == []  # PostPact creates the Express account
    to_stripe = await creator.get("/creator/payments/onboarding")
    assert to_stripe.status_code in (302, 303), to_stripe.text
    back = stack.visit_link(to_stripe.headers["location"])
    assert back == "http://testserver.local/creator/payments?onboarded=1"
    account = await db.scalar(sa.select(PayoutAccount).where(PayoutAccount.creator_id == deal.creator.creator_id))
    assert account is not None and account.account_ref
    await stored_and_processed(runtime, db, "account.updated", account.account_ref)
    await db.refresh(account)
    assert account.transfers_active
    return account.account_ref


async def test_fund_then_release(on_stripe: Runtime, live_app: LiveServer, stack: StripeStack, make_web: Any,
                                 db: AsyncSession) -> None:
    deal = await make_deal(on_stripe, CollabState.SIGNED, fee_amount=FEE, product_included=False)

    ref = await fund_through_the_pages(on_stripe, make_web, db, stack, deal)
    assert await collab_state(db, deal.id) is CollabState.FUNDED
    account = await onboard_through_the_pages(on_stripe, make_web, db, stack, deal)
    await advance_deal(on_stripe, deal, CollabState.VERIFIED)

    # The brand lets the review window pass: PostPact approves and pays the creator.
    on_stripe.clock.advance(days=4)
    async with session_scope(on_stripe.session_maker) as session:
        assert await auto_approve_post(session, deal.id, on_stripe.clock.now(),
                                       public_url=on_stripe.settings.app.public_url) != "not due"
    assert await run_jobs_allowing_retries(on_stripe) == []

    [transfer] = stack.client().v1.transfers.list().data
    charge = stack.client().v1.payment_intents.retrieve(ref).latest_charge
    assert (transfer.amount, transfer.destination, transfer.source_transaction) == (FEE, account, charge)
    assert creator_balance(stack, account) == FEE
    await stored_and_processed(on_stripe, db, "transfer.created", transfer.id)  # a late echo: no second effect
    hold = await hold_of(db, deal.id)
    assert hold.state is EscrowState.RELEASED
    assert (hold.released_creator_amount, hold.released_fee_amount) == (FEE, GROSS - FEE)
    assert await collab_state(db, deal.id) is CollabState.RELEASED
    assert await ledger.balance_of(db, ledger.platform_fee_revenue(), "USD") == GROSS - FEE
    await assert_ledger_invariants(db)

    result = await reconcile(on_stripe.session_maker, on_stripe.resources["escrow.stripe_provider"],
                             now=on_stripe.clock.now, triggered_by="test")
    assert (result.checked, result.mismatches) == (1, [])


async def test_fund_then_ghost_refund(on_stripe: Runtime, live_app: LiveServer, stack: StripeStack, make_web: Any,
                                      db: AsyncSession) -> None:
    deal = await make_deal(on_stripe, CollabState.SIGNED, fee_amount=FEE, product_included=False)
    ref = await fund_through_the_pages(on_stripe, make_web, db, stack, deal)

    # The creator never posts: past the post deadline and the grace period the deal ends and the brand is refunded.
    on_stripe.clock.advance(days=30)
    async with session_scope(on_stripe.session_maker) as session:
        assert await ghost_collaboration(session, deal.id, on_stripe.clock.now(),
                                         public_url=on_stripe.settings.app.public_url) == "ghosted"
    assert await run_jobs_allowing_retries(on_stripe) == []

    [refund] = stack.client().v1.refunds.list(params={"payment_intent": ref}).data
    assert (refund.amount, refund.status) == (GROSS, "succeeded")
    charge = stack.client().v1.charges.retrieve(refund.charge)
    assert charge.refunded is True
    await stored_and_processed(on_stripe, db, "charge.refunded", charge.id)
    hold = await hold_of(db, deal.id)
    assert hold.state is EscrowState.REFUNDED
    assert (hold.refunded_amount, hold.released_creator_amount) == (GROSS, 0)
    assert await collab_state(db, deal.id) is CollabState.GHOSTED
    assert stack.client().v1.transfers.list().data == []
    await assert_ledger_invariants(db)
    assert await db.scalar(sa.select(sa.func.count()).select_from(EscrowHold)) == 1

    result = await reconcile(on_stripe.session_maker, on_stripe.resources["escrow.stripe_provider"],
                             now=on_stripe.clock.now, triggered_by="test")
    assert result.mismatches == []
