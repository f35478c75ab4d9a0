"""Chargeback cases on the simulated provider: the case joins an open dispute instead of opening a second one, and a
chargeback on a deal that already ended gets its own case, decided without moving the deal."""

from __future__ import annotations

import sqlalchemy as sa

from escrow.providers.base import Reversal
from escrow.states import EscrowState
from marketplace.collaborations.models import Collaboration
from marketplace.collaborations.states import CollabState
from marketplace.db import session_scope
from marketplace.disputes.models import Dispute, DisputeKind, DisputeStatement, DisputeStatus
from marketplace.payments import hooks
from marketplace.payments.gateway import escrow_service
from reputation.models import ReputationEvent
from tests.support.disputes import audit_entries, decide, disputed_deal, funded
from tests.support.escrow import assert_ledger_invariants, calls_of, collab_state, hold_of, run_jobs


async def chargeback(runtime, deal, dispute_ref: str, amount: int) -> None:
    async with session_scope(runtime.session_maker) as session:
        hold = await hold_of(session, deal.id)
        service = escrow_service(session, runtime.clock.now(), settings=runtime.settings, actor="test:webhook")
        case = await service.record_chargeback(dispute_id=dispute_ref, amount=amount, currency="USD",
                                               status="needs_response", funding_ref=hold.funding_ref)
        assert case is not None


async def test_a_chargeback_joins_the_open_dispute(runtime, db) -> None:
    deal, dispute_id = await disputed_deal(runtime, CollabState.VERIFIED)
    await chargeback(runtime, deal, "dp_joins", 16_200)
    await chargeback(runtime, deal, "dp_joins", 16_200)  # the webhook again

    [case] = list(await db.scalars(sa.select(Dispute)))
    assert case.id == dispute_id and case.kind is DisputeKind.DISPUTE and case.chargeback_id is not None
    notes = list(await db.scalars(sa.select(DisputeStatement.body).where(DisputeStatement.kind == "system")))
    assert len(notes) == 1 and "dp_joins" in notes[0]
    assert (await hold_of(db, deal.id)).state is EscrowState.FROZEN
    await assert_ledger_invariants(db)


async def test_a_chargeback_after_a_settled_deal_gets_its_own_case(runtime, db, people) -> None:
    deal, dispute_id = await disputed_deal(runtime, CollabState.VERIFIED)
    admin = await people.admin()
    await decide(runtime, admin, dispute_id, "split", creator_amount=7_500)
    await run_jobs(runtime)
    assert (await hold_of(db, deal.id)).state is EscrowState.SETTLED

    await chargeback(runtime, deal, "dp_after", 16_200)
    await run_jobs(runtime)

    cases = list(await db.scalars(sa.select(Dispute).order_by(Dispute.opened_at, Dispute.id)))
    assert [c.kind for c in cases] == [DisputeKind.DISPUTE, DisputeKind.CHARGEBACK]
    chargeback_case = cases[1]
    assert chargeback_case.status is DisputeStatus.OPEN and chargeback_case.opened_by_party == "system"
    assert (await hold_of(db, deal.id)).state is EscrowState.FROZEN
    assert await collab_state(db, deal.id) is CollabState.SETTLED  # an ended deal stays ended

    decision = await decide(runtime, admin, chargeback_case.id, "refund", at_fault="creator")
    assert (decision.creator_amount, decision.brand_amount) == (0, 0)  # the bank already took it all back
    assert await collab_state(db, deal.id) is CollabState.SETTLED
    kinds = {str(getattr(k, "value", k)) for k in await db.scalars(
        sa.select(ReputationEvent.kind).where(ReputationEvent.collaboration_id == deal.id))}
    assert "creator.dispute_lost" in kinds
    assert [e.action for e in await audit_entries(db)] == ["dispute.decide", "chargeback.open_case",
                                                          "dispute.decide"]
    await assert_ledger_invariants(db)


async def test_a_chargeback_on_a_funded_deal_freezes_it_into_a_case(runtime, db) -> None:
    deal = await funded(runtime, CollabState.SHIPPED)
    await chargeback(runtime, deal, "dp_funded", 16_200)
    [case] = list(await db.scalars(sa.select(Dispute)))
    assert case.kind is DisputeKind.CHARGEBACK and case.respondent_party is None
    assert await collab_state(db, deal.id) is CollabState.DISPUTED
    hold = await hold_of(db, deal.id)
    assert hold.state is EscrowState.FROZEN and hold.held_amount == 0


async def test_money_moved_outside_postpact_opens_a_review_case(runtime, db, people) -> None:
    """A transfer reversed in the provider's dashboard: escrow holds the money again, frozen; an admin case waits."""
    deal = await funded(runtime, CollabState.VERIFIED)
    async with session_scope(runtime.session_maker) as session:
        await hooks.release_to_creator(session, await session.get(Collaboration, deal.id), now=runtime.clock.now(),
                                       reason="post_approved", settings=runtime.settings)
    await run_jobs(runtime)
    hold = await hold_of(db, deal.id)
    [transfer] = await calls_of(db, hold.id, "transfer")
    async with session_scope(runtime.session_maker) as session:
        service = escrow_service(session, runtime.clock.now(), settings=runtime.settings, actor="test:webhook")
        await service.apply_reversal(Reversal("trr_dashboard", transfer.result_ref, 15_000, "USD"))

    [case] = list(await db.scalars(sa.select(Dispute)))
    assert case.kind is DisputeKind.REVIEW and case.reason.value == "money_moved_outside"
    assert (await hold_of(db, deal.id)).state is EscrowState.FROZEN
    admin = await people.admin()
    decision = await decide(runtime, admin, case.id, "release", at_fault="none")
    await run_jobs(runtime)
    assert decision.creator_amount == 15_000
    assert (await hold_of(db, deal.id)).state is EscrowState.RELEASED
    await assert_ledger_invariants(db)
