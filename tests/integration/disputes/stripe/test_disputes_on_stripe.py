"""Disputes and chargebacks against the Stripe test servers (localstripe + PostPact's Connect stand-in): each admin
decision moves the money at Stripe, and a chargeback after release opens an admin case, freezes, reverses the
transfer and books what can't be recovered — once, however often the webhook arrives."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from escrow import ledger
from escrow.models import Chargeback, PayoutAccount
from escrow.records import WebhookEvent
from escrow.states import EscrowState
from marketplace.collaborations.models import Collaboration
from marketplace.collaborations.states import CollabState
from marketplace.disputes.models import Dispute, DisputeKind, DisputeStatus
from tests.support.disputes import audit_entries, decide, open_dispute
from tests.support.escrow import assert_ledger_invariants, balance, hold_of
from tests.support.stripe import approve_post, creator_balance, run_jobs_allowing_retries, verified_deal_on_stripe

FEE = 15_000
GROSS = 16_200


async def payout_account(db, deal) -> str:
    ref = await db.scalar(sa.select(PayoutAccount.account_ref)
                          .where(PayoutAccount.creator_id == deal.creator.creator_id))
    assert ref
    return str(ref)


@pytest.mark.parametrize("outcome,creator_part", [("release", FEE), ("refund", 0), ("split", 9_000)])
async def test_each_decision_moves_the_money_at_stripe(on_stripe, stack, forwarder, db, people, outcome,
                                                       creator_part) -> None:
    deal = await verified_deal_on_stripe(on_stripe, stack, forwarder, fee_amount=FEE)
    dispute_id = await open_dispute(on_stripe, deal, by="brand")
    assert (await hold_of(db, deal.id)).state is EscrowState.FROZEN
    admin = await people.admin()

    await decide(on_stripe, admin, dispute_id, outcome, creator_amount=creator_part if outcome == "split" else None)
    assert await run_jobs_allowing_retries(on_stripe) == []

    hold = await hold_of(db, deal.id)
    assert hold.state is {"release": EscrowState.RELEASED, "refund": EscrowState.REFUNDED,
                          "split": EscrowState.SETTLED}[outcome]
    assert creator_balance(stack, await payout_account(db, deal)) == creator_part
    refunded = sum(r.amount for r in stack.client().v1.refunds.list(params={"payment_intent": hold.funding_ref}).data)
    assert refunded == hold.refunded_amount
    assert hold.released_creator_amount + hold.released_fee_amount + hold.refunded_amount == GROSS
    await assert_ledger_invariants(db)


async def test_a_chargeback_after_release_opens_a_case_reverses_and_books_the_rest(
        on_stripe, stack, forwarder, db, people, make_web) -> None:
    deal = await verified_deal_on_stripe(on_stripe, stack, forwarder, fee_amount=FEE)
    await approve_post(on_stripe, deal)
    assert await run_jobs_allowing_retries(on_stripe) == []
    hold = await hold_of(db, deal.id)
    assert hold.state is EscrowState.RELEASED
    admin = await people.admin()
    account = await payout_account(db, deal)
    assert creator_balance(stack, account) == FEE
    charge = stack.client().v1.payment_intents.retrieve(hold.funding_ref).latest_charge

    dispute = stack.open_dispute(charge, reason="fraudulent")
    response = await forwarder.deliver("charge.dispute.created", dispute["id"])
    assert response.status_code == 200
    await run_jobs_allowing_retries(on_stripe)
    assert await run_jobs_allowing_retries(on_stripe) == []

    hold = await hold_of(db, deal.id)
    assert hold.state is EscrowState.FROZEN
    case = await db.scalar(sa.select(Chargeback).where(Chargeback.provider_dispute_id == dispute["id"]))
    assert (case.amount, case.from_escrow_amount, case.reversed_amount) == (GROSS, 0, FEE)
    assert creator_balance(stack, account) == 0  # the transfer was reversed at Stripe
    assert await balance(db, ledger.dispute_loss()) == GROSS - FEE  # PostPact's fee share is the loss
    collab = await db.get(Collaboration, deal.id)
    assert collab.status is CollabState.DISPUTED and collab.needs_admin_review
    [admin_case] = list(await db.scalars(sa.select(Dispute)))
    assert (admin_case.kind, admin_case.status, admin_case.chargeback_id) == (
        DisputeKind.CHARGEBACK, DisputeStatus.OPEN, case.id)
    assert [e.action for e in await audit_entries(db)] == ["chargeback.open_case"]
    snapshot = await assert_ledger_invariants(db)

    # Stripe sends the event again, and an update: nothing is booked or opened twice, and nothing fails.
    stack.resend_event(stack.events("charge.dispute.created")[0]["id"], "forwarder")
    again = await forwarder.deliver("charge.dispute.created", dispute["id"])
    assert again.status_code == 200
    assert await run_jobs_allowing_retries(on_stripe) == []
    assert await db.scalar(sa.select(sa.func.count()).select_from(Chargeback)) == 1
    assert await db.scalar(sa.select(sa.func.count()).select_from(Dispute)) == 1
    assert await balance(db, ledger.dispute_loss()) == GROSS - FEE
    await assert_ledger_invariants(db, snapshot)
    assert all(e.last_error is None for e in await db.scalars(sa.select(WebhookEvent)))

    web = await make_web()
    await web.sign_in(admin.email, admin.password)
    page = await web.get(f"/admin/disputes/{admin_case.id}")
    assert page.status_code == 200 and dispute["id"] in page.text
    assert 'data-testid="chargeback-loss">$12.00' in page.text


async def test_a_chargeback_the_creator_cannot_cover_is_owed_back(on_stripe, stack, forwarder, db) -> None:
    deal = await verified_deal_on_stripe(on_stripe, stack, forwarder, fee_amount=FEE)
    await approve_post(on_stripe, deal)
    assert await run_jobs_allowing_retries(on_stripe) == []
    hold = await hold_of(db, deal.id)
    account = await payout_account(db, deal)
    stack.drain_balance(account)  # the creator already paid it out to their bank
    charge = stack.client().v1.payment_intents.retrieve(hold.funding_ref).latest_charge

    dispute = stack.open_dispute(charge)
    await forwarder.deliver("charge.dispute.created", dispute["id"])
    await run_jobs_allowing_retries(on_stripe)
    await run_jobs_allowing_retries(on_stripe)

    case = await db.scalar(sa.select(Chargeback))
    assert case.reversed_amount == 0 and case.recoverable_amount == FEE
    assert await balance(db, ledger.creator_recoverable(deal.creator.creator_id)) == FEE
    assert (await db.scalar(sa.select(Dispute))).chargeback_id == case.id
    await assert_ledger_invariants(db)
