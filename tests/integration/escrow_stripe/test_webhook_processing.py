"""Stripe's events, as the stand-in signs and sends them, applied through the escrow core: once, in any order."""

from __future__ import annotations

import asyncio
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from escrow import ledger
from escrow.models import Chargeback, EscrowHold, LedgerTransaction, PayoutAccount
from escrow.records import WebhookEvent
from escrow.states import EscrowState
from marketplace.collaborations.models import Collaboration
from marketplace.collaborations.states import CollabState
from marketplace.jobs import REGISTRY, RecordingQueue
from marketplace.runtime import Runtime
from tests.fakes.stripe_stack import StripeStack
from tests.support.deals import make_deal
from tests.support.escrow import assert_ledger_invariants, collab_state, hold_of, start_funding
from tests.support.stripe import (
    Forwarder,
    approve_post,
    creator_balance,
    fund_on_stripe,
    funding_ref_of,
    onboard_on_stripe,
    pay,
    run_jobs_allowing_retries,
    verified_deal_on_stripe,
)

FEE = 15_000
GROSS = 16_200  # the creator's fee plus PostPact's 8%


async def events(db: AsyncSession) -> list[WebhookEvent]:
    return list(await db.scalars(sa.select(WebhookEvent).order_by(WebhookEvent.received_at, WebhookEvent.id)))


async def postings(db: AsyncSession, escrow_id: Any) -> list[tuple[str, str]]:
    rows = await db.execute(sa.select(LedgerTransaction.kind, LedgerTransaction.idempotency_key)
                            .where(LedgerTransaction.escrow_id == escrow_id).order_by(LedgerTransaction.created_at,
                                                                                      LedgerTransaction.id))
    return [(kind, key) for kind, key in rows]


async def test_payment_succeeded_funds_the_deal(on_stripe: Runtime, stack: StripeStack, forwarder: Forwarder,
                                                db: AsyncSession) -> None:
    deal = await make_deal(on_stripe, CollabState.SIGNED, fee_amount=FEE)

    ref = await fund_on_stripe(on_stripe, stack, forwarder, deal)

    hold = await hold_of(db, deal.id)
    assert hold.state is EscrowState.FUNDED
    assert (hold.funded_amount, hold.funding_ref, hold.provider) == (GROSS, ref, "stripe")
    assert hold.charge_ref == stack.client().v1.payment_intents.retrieve(ref).latest_charge
    assert await collab_state(db, deal.id) is CollabState.FUNDED
    assert ("fund", f"funding:{ref}") in await postings(db, hold.id)
    [event] = [e for e in await events(db) if e.type == "payment_intent.succeeded"]
    assert event.processed_at is not None and event.attempts == 1
    assert event.outcome == "funding succeeded; escrow funded"
    await assert_ledger_invariants(db)


async def test_declined_card_leaves_the_deal_unfunded_with_the_banks_words(
        on_stripe: Runtime, stack: StripeStack, forwarder: Forwarder, db: AsyncSession) -> None:
    deal = await make_deal(on_stripe, CollabState.SIGNED, fee_amount=FEE)

    await fund_on_stripe(on_stripe, stack, forwarder, deal, payment_method="pm_card_chargeCustomerFail")

    hold = await hold_of(db, deal.id)
    assert hold.state is EscrowState.FUNDING_FAILED
    assert hold.last_message == "Your card was declined."
    assert hold.funded_amount == 0
    assert await collab_state(db, deal.id) is CollabState.SIGNED
    assert await postings(db, hold.id) == []


async def test_refund_seen_before_the_payment_success_is_applied_once(
        on_stripe: Runtime, stack: StripeStack, forwarder: Forwarder, db: AsyncSession) -> None:
    """Out of order: the brand's payment is refunded in Stripe's dashboard, and charge.refunded (sent at once)
    reaches PostPact before payment_intent.succeeded (localstripe sends it a second later)."""
    deal = await make_deal(on_stripe, CollabState.SIGNED, fee_amount=FEE)
    await start_funding(on_stripe, deal)
    await run_jobs_allowing_retries(on_stripe)
    ref = await funding_ref_of(on_stripe, deal.id)
    intent = pay(stack, ref)
    stack.client().v1.refunds.create(params={"payment_intent": ref})

    await forwarder.deliver("charge.refunded", intent.latest_charge)
    await run_jobs_allowing_retries(on_stripe)
    hold = await hold_of(db, deal.id)
    assert hold.state is EscrowState.REFUNDED
    assert (hold.funded_amount, hold.refunded_amount) == (GROSS, GROSS)
    snapshot = await assert_ledger_invariants(db)

    # The late success, and duplicates of both, change nothing.
    await forwarder.deliver("payment_intent.succeeded", ref)
    for record in stack.event_records("charge.refunded") + stack.event_records("payment_intent.succeeded"):
        stack.resend_event(record["event"]["id"], "forwarder")
    await asyncio.sleep(0.3)
    for delivery in list(forwarder.receiver.deliveries):
        assert (await forwarder.forward(delivery)).status_code == 200
    await run_jobs_allowing_retries(on_stripe)

    await assert_ledger_invariants(db, snapshot)
    kinds = [kind for kind, _ in await postings(db, hold.id)]
    assert kinds.count("fund") == 1 and kinds.count("refund_paid") == 1
    assert (await hold_of(db, deal.id)).refunded_amount == GROSS
    assert {e.type for e in await events(db)} >= {"charge.refunded", "payment_intent.succeeded"}
    assert all(e.processed_at is not None for e in await events(db) if e.type in ("charge.refunded",
                                                                                   "payment_intent.succeeded"))
    assert len({e.event_id for e in await events(db)}) == len(await events(db))


async def test_processing_the_same_event_concurrently_applies_it_once(
        on_stripe: Runtime, stack: StripeStack, forwarder: Forwarder, db: AsyncSession,
        queue: RecordingQueue) -> None:
    deal = await make_deal(on_stripe, CollabState.SIGNED, fee_amount=FEE)
    await start_funding(on_stripe, deal)
    await run_jobs_allowing_retries(on_stripe)
    ref = await funding_ref_of(on_stripe, deal.id)
    pay(stack, ref)
    delivery = await forwarder.delivery("payment_intent.succeeded", ref)
    first = await forwarder.forward(delivery)
    again = await forwarder.forward(delivery)
    assert (first.json()["duplicate"], again.json()["duplicate"]) == (False, True)
    jobs = list(queue.jobs)
    queue.jobs.clear()
    assert [j.name for j in jobs] == ["escrow.process_webhook_event"] * 2

    await asyncio.gather(*(REGISTRY[j.name].function(on_stripe.job_context(), *j.args) for j in jobs))

    hold = await hold_of(db, deal.id)
    assert hold.funded_amount == GROSS
    assert [k for k, _ in await postings(db, hold.id)].count("fund") == 1
    [event] = await events(db)
    assert event.processed_at is not None
    await assert_ledger_invariants(db)


async def test_chargeback_freezes_the_deal_and_opens_an_admin_case(
        on_stripe: Runtime, stack: StripeStack, forwarder: Forwarder, db: AsyncSession) -> None:
    deal = await make_deal(on_stripe, CollabState.SIGNED, fee_amount=FEE)
    ref = await fund_on_stripe(on_stripe, stack, forwarder, deal, via_webhook=False)
    charge = stack.client().v1.payment_intents.retrieve(ref).latest_charge

    dispute = stack.open_dispute(charge, reason="product_not_received")
    await forwarder.deliver("charge.dispute.created", dispute["id"])
    await run_jobs_allowing_retries(on_stripe)

    hold = await hold_of(db, deal.id)
    assert hold.state is EscrowState.FROZEN
    case = await db.scalar(sa.select(Chargeback).where(Chargeback.provider_dispute_id == dispute["id"]))
    assert case is not None
    assert (case.amount, case.status, case.from_escrow_amount, case.closed_at) == (GROSS, "needs_response", GROSS,
                                                                                  None)
    collab = await db.get(Collaboration, deal.id)
    assert collab is not None and collab.status is CollabState.DISPUTED and collab.needs_admin_review

    stack.close_dispute(dispute["id"], "won")
    await forwarder.deliver("charge.dispute.closed", dispute["id"])
    await run_jobs_allowing_retries(on_stripe)

    await db.refresh(case)
    assert case.status == "won" and case.closed_at is not None
    hold = await hold_of(db, deal.id)
    assert hold.state is EscrowState.FROZEN  # an admin decides what happens to the money now held again
    assert hold.held_amount == GROSS
    await assert_ledger_invariants(db)


async def test_account_updated_makes_the_creator_payable(on_stripe: Runtime, stack: StripeStack,
                                                         forwarder: Forwarder, db: AsyncSession) -> None:
    deal = await make_deal(on_stripe, CollabState.SIGNED, fee_amount=FEE)

    account_ref = await onboard_on_stripe(on_stripe, stack, forwarder, deal.creator)

    account = await db.scalar(sa.select(PayoutAccount).where(PayoutAccount.creator_id == deal.creator.creator_id))
    assert account is not None
    assert (account.account_ref, account.transfers_active, account.payouts_enabled) == (account_ref, True, True)
    assert account.requirements_due == []

    stack.restrict_account(account_ref)
    await forwarder.deliver("account.updated", account_ref)
    await run_jobs_allowing_retries(on_stripe)
    await db.refresh(account)
    assert account.transfers_active is False
    assert account.requirements_due == ["individual.verification.document"]


async def test_a_transfer_reversed_outside_postpact_is_held_again_and_frozen(
        on_stripe: Runtime, stack: StripeStack, forwarder: Forwarder, db: AsyncSession) -> None:
    deal = await verified_deal_on_stripe(on_stripe, stack, forwarder, fee_amount=FEE)
    await approve_post(on_stripe, deal)
    assert await run_jobs_allowing_retries(on_stripe) == []
    hold = await hold_of(db, deal.id)
    assert hold.state is EscrowState.RELEASED
    [transfer] = stack.client().v1.transfers.list().data
    assert creator_balance(stack, transfer.destination) == FEE

    stack.client().v1.transfers.reversals.create(transfer.id, params={"amount": 5_000})
    await forwarder.deliver("transfer.reversed", transfer.id)
    await run_jobs_allowing_retries(on_stripe)

    hold = await hold_of(db, deal.id)
    assert hold.state is EscrowState.FROZEN
    assert hold.released_creator_amount == FEE - 5_000
    assert [k for k, _ in await postings(db, hold.id)].count("reversal") == 1
    [event] = [e for e in await events(db) if e.type == "transfer.reversed"]
    assert event.outcome == f"transfer {transfer.id} paid, 5000 reversed"
    await assert_ledger_invariants(db)


async def test_stripe_unavailable_while_processing_is_retried_later(
        on_stripe: Runtime, stack: StripeStack, forwarder: Forwarder, db: AsyncSession) -> None:
    deal = await make_deal(on_stripe, CollabState.SIGNED, fee_amount=FEE)
    await start_funding(on_stripe, deal)
    await run_jobs_allowing_retries(on_stripe)
    ref = await funding_ref_of(on_stripe, deal.id)
    pay(stack, ref)
    stack.inject_fault(rf"^/v1/payment_intents/{ref}$", method="GET", status=503)

    await forwarder.deliver("payment_intent.succeeded", ref)
    assert await run_jobs_allowing_retries(on_stripe) == ["escrow.process_webhook_event"]

    [event] = await events(db)
    assert event.processed_at is None and event.attempts == 1
    assert event.last_error and "503" in event.last_error
    assert (await hold_of(db, deal.id)).funded_amount == 0

    # The sweep queues it again once it has waited a while; then it goes through.
    on_stripe.clock.advance(minutes=3)
    await REGISTRY["escrow.redeliver_stuck_webhooks"].function(on_stripe.job_context())
    assert await run_jobs_allowing_retries(on_stripe) == []
    [event] = await events(db)
    assert event.processed_at is not None and event.attempts == 2 and event.last_error is None
    assert (await hold_of(db, deal.id)).state is EscrowState.FUNDED


async def test_an_event_about_someone_elses_payment_is_acknowledged_and_ignored(
        on_stripe: Runtime, stack: StripeStack, forwarder: Forwarder, db: AsyncSession) -> None:
    intent = stack.client().v1.payment_intents.create(params={
        "amount": 2_000, "currency": "usd", "payment_method": "pm_card_visa", "confirm": True})

    await forwarder.deliver("payment_intent.succeeded", intent.id)
    await run_jobs_allowing_retries(on_stripe)

    [event] = await events(db)
    assert event.processed_at is not None
    assert event.outcome == f"ignored: funding {intent.id} is not a PostPact escrow"
    assert await db.scalar(sa.select(sa.func.count()).select_from(EscrowHold)) == 0
    assert await ledger.unbalanced_transactions(db) == []
