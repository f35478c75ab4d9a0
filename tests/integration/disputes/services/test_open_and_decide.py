"""Disputes through the real services on both databases: opening freezes, deciding moves the money once."""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from escrow import ledger
from escrow.models import CallStatus, LedgerTransaction
from escrow.states import EscrowState
from marketplace.brands.models import BrandRole
from marketplace.collaborations.models import Collaboration
from marketplace.collaborations.states import CollabState, IllegalTransition
from marketplace.db import session_scope
from marketplace.disputes import services
from marketplace.disputes.attachments import IncomingFile
from marketplace.disputes.models import Dispute, DisputeAttachment, DisputeDecision, DisputeStatement, DisputeStatus
from marketplace.errors import Conflict, InvalidInput, NotFound
from marketplace.notifications.models import Notification, OutboxEmail
from reputation.models import ReputationEvent
from tests.support.deals import make_deal
from tests.support.disputes import PDF_BYTES, audit_entries, decide, disputed_deal, funded, open_dispute
from tests.support.escrow import (
    actor_of,
    assert_ledger_invariants,
    calls_of,
    collab_state,
    hold_of,
    run_jobs,
)

FEE = 15_000
GROSS = 16_200


async def test_opening_freezes_the_money_pauses_deadlines_and_tells_the_other_side(runtime, db: AsyncSession) -> None:
    deal = await funded(runtime, CollabState.VERIFIED, onboarded=True)

    dispute_id = await open_dispute(runtime, deal, by="brand",
                                    files=[IncomingFile("receipt.pdf", PDF_BYTES)])

    collab = await db.get(Collaboration, deal.id)
    assert collab.status is CollabState.DISPUTED
    assert collab.deadlines_paused_at is not None and collab.next_due_at is None
    hold = await hold_of(db, deal.id)
    assert hold.state is EscrowState.FROZEN and hold.held_amount == GROSS
    dispute = await db.get(Dispute, dispute_id)
    assert dispute.status is DisputeStatus.OPEN and dispute.respondent_party == "creator"
    assert dispute.response_due_at is not None
    [attachment] = list(await db.scalars(sa.select(DisputeAttachment)))
    assert attachment.content_type == "application/pdf" and attachment.filename == "receipt.pdf"
    path = runtime.settings.storage.upload_dir / attachment.path
    assert path.read_bytes() == PDF_BYTES
    emails = list(await db.scalars(sa.select(OutboxEmail).where(OutboxEmail.to_address == deal.creator.email)))
    assert any("opened a dispute" in e.subject for e in emails)
    assert not any("opened a dispute" in e.subject
                   for e in await db.scalars(sa.select(OutboxEmail).where(OutboxEmail.to_address == deal.brand.email)))


@pytest.mark.parametrize("reason,statement,field", [
    ("", "The product never arrived at my address.", "reason"),
    ("chargeback", "The product never arrived at my address.", "reason"),
    ("product_not_received", "short", "statement"),
    ("product_not_received", "x" * 5001, "statement"),
])
async def test_bad_input_is_a_field_error_and_nothing_changes(runtime, db, reason, statement, field) -> None:
    deal = await funded(runtime, CollabState.SHIPPED)
    with pytest.raises(InvalidInput) as exc:
        await open_dispute(runtime, deal, by="creator", reason=reason, statement=statement)
    assert field in exc.value.errors
    assert await collab_state(db, deal.id) is CollabState.SHIPPED
    assert (await hold_of(db, deal.id)).state is EscrowState.FUNDED
    assert await db.scalar(sa.select(sa.func.count()).select_from(Dispute)) == 0


async def test_attachments_are_checked_by_content(runtime, db) -> None:
    deal = await funded(runtime, CollabState.SHIPPED)
    with pytest.raises(InvalidInput) as exc:
        await open_dispute(runtime, deal, by="creator", reason="product_not_received",
                           statement="The parcel never came, tracking shows returned.",
                           files=[IncomingFile("proof.pdf", b"<html><script>alert(1)</script></html>")])
    assert "attachments" in exc.value.errors
    assert await collab_state(db, deal.id) is CollabState.SHIPPED


async def test_who_may_open(runtime, db, people) -> None:
    deal = await funded(runtime, CollabState.FUNDED)
    outsider = await people.brand()
    with pytest.raises(NotFound):
        async with session_scope(runtime.session_maker) as session:
            await services.open_dispute(session, await actor_of(runtime, outsider), deal.id, reason="other",
                                        statement="I want to see this deal.", now=runtime.clock.now(),
                                        settings=runtime.settings)
    unfunded = await make_deal(runtime, CollabState.SIGNED)
    with pytest.raises(IllegalTransition):
        await open_dispute(runtime, unfunded, by="brand")
    await open_dispute(runtime, deal, by="creator", reason="payment_withheld")
    with pytest.raises(IllegalTransition):
        await open_dispute(runtime, deal, by="brand")  # already disputed
    assert await db.scalar(sa.select(sa.func.count()).select_from(Dispute)) == 1


async def test_a_finance_member_may_open(runtime, db, people) -> None:
    deal = await funded(runtime, CollabState.FUNDED)
    finance = await people.brand(brand_id=deal.brand.brand_id, role=BrandRole.FINANCE)
    async with session_scope(runtime.session_maker) as session:
        await services.open_dispute(session, await actor_of(runtime, finance), deal.id, reason="other",
                                    statement="We were charged twice for this deal.", now=runtime.clock.now(),
                                    settings=runtime.settings)
    assert await collab_state(db, deal.id) is CollabState.DISPUTED


async def test_release_decision_pays_the_creator_once_and_records_the_brand_lost(runtime, db, people) -> None:
    deal, dispute_id = await disputed_deal(runtime, CollabState.VERIFIED)
    admin = await people.admin()
    before = await assert_ledger_invariants(db)

    decision = await decide(runtime, admin, dispute_id, "release")
    await run_jobs(runtime)

    assert (decision.creator_amount, decision.brand_amount, decision.at_fault) == (FEE, 0, "brand")
    hold = await hold_of(db, deal.id)
    assert hold.state is EscrowState.RELEASED
    assert (hold.released_creator_amount, hold.released_fee_amount) == (FEE, GROSS - FEE)
    [transfer] = await calls_of(db, hold.id, "transfer")
    assert transfer.status is CallStatus.SUCCEEDED and transfer.amount == FEE
    assert await collab_state(db, deal.id) is CollabState.RELEASED
    dispute = await db.get(Dispute, dispute_id)
    assert dispute.status is DisputeStatus.DECIDED
    kinds = set(await db.scalars(sa.select(ReputationEvent.kind).where(ReputationEvent.collaboration_id == deal.id)))
    assert "brand.dispute_lost" in {str(getattr(k, "value", k)) for k in kinds}
    assert "creator.dispute_lost" not in {str(getattr(k, "value", k)) for k in kinds}
    [entry] = await audit_entries(db, "dispute.decide")
    assert entry.admin_id == admin.user_id and entry.target_id == str(dispute_id)
    assert entry.before["escrow"] == "frozen" and entry.after["outcome"] == "release"
    for person in (deal.brand, deal.creator):
        subjects = list(await db.scalars(sa.select(OutboxEmail.subject).where(OutboxEmail.to_address == person.email)))
        assert any("the dispute was decided" in s for s in subjects), subjects
    await assert_ledger_invariants(db, before)


async def test_refund_decision_returns_everything_held_to_the_brand(runtime, db, people) -> None:
    deal, dispute_id = await disputed_deal(runtime, CollabState.POSTED, by="creator")
    admin = await people.admin()

    decision = await decide(runtime, admin, dispute_id, "refund")
    await run_jobs(runtime)

    assert (decision.creator_amount, decision.brand_amount, decision.at_fault) == (0, GROSS, "creator")
    hold = await hold_of(db, deal.id)
    assert hold.state is EscrowState.REFUNDED and hold.refunded_amount == GROSS
    assert await collab_state(db, deal.id) is CollabState.REFUNDED
    postings = set(await db.scalars(sa.select(LedgerTransaction.kind).where(LedgerTransaction.escrow_id == hold.id)))
    assert {"refund", "refund_paid"} <= postings
    kinds = {str(getattr(k, "value", k)) for k in await db.scalars(
        sa.select(ReputationEvent.kind).where(ReputationEvent.collaboration_id == deal.id))}
    assert "creator.dispute_lost" in kinds
    await assert_ledger_invariants(db)


async def test_split_decision_divides_the_money_in_the_ledger(runtime, db, people) -> None:
    deal, dispute_id = await disputed_deal(runtime, CollabState.VERIFIED)
    admin = await people.admin()

    decision = await decide(runtime, admin, dispute_id, "split", creator_amount=5_000)
    await run_jobs(runtime)

    fee_share = ledger.fee_share(GROSS - FEE, FEE, 0, 0, 5_000)
    assert (decision.creator_amount, decision.brand_amount) == (5_000, GROSS - 5_000 - fee_share)
    hold = await hold_of(db, deal.id)
    assert hold.state is EscrowState.SETTLED
    assert hold.released_creator_amount == 5_000 and hold.refunded_amount == GROSS - 5_000 - fee_share
    assert await collab_state(db, deal.id) is CollabState.SETTLED
    kinds = {str(getattr(k, "value", k)) for k in await db.scalars(
        sa.select(ReputationEvent.kind).where(ReputationEvent.collaboration_id == deal.id))}
    assert not {"creator.dispute_lost", "brand.dispute_lost"} & kinds
    await assert_ledger_invariants(db)


async def test_split_amount_out_of_range_is_a_field_error(runtime, db, people) -> None:
    deal, dispute_id = await disputed_deal(runtime, CollabState.VERIFIED)
    admin = await people.admin()
    with pytest.raises(InvalidInput) as exc:
        await decide(runtime, admin, dispute_id, "split", creator_amount=FEE + 1)
    assert "creator_amount" in exc.value.errors
    with pytest.raises(InvalidInput) as exc:
        await decide(runtime, admin, dispute_id, "release", rationale="")
    assert "rationale" in exc.value.errors
    assert (await db.get(Dispute, dispute_id)).status is DisputeStatus.OPEN
    assert (await hold_of(db, deal.id)).state is EscrowState.FROZEN
    assert await audit_entries(db) == []


async def test_a_second_decision_is_told_it_was_already_decided(runtime, db, people) -> None:
    deal, dispute_id = await disputed_deal(runtime, CollabState.VERIFIED)
    first, second = await people.admin(), await people.admin()
    await decide(runtime, first, dispute_id, "refund")

    with pytest.raises(services.AlreadyDecided) as exc:
        await decide(runtime, second, dispute_id, "release")

    assert first.email in exc.value.message
    assert await db.scalar(sa.select(sa.func.count()).select_from(DisputeDecision)) == 1
    assert len(await audit_entries(db, "dispute.decide")) == 1
    assert await collab_state(db, deal.id) is CollabState.REFUNDED


async def test_response_and_missed_window(runtime, db, people, clock) -> None:
    deal, dispute_id = await disputed_deal(runtime, CollabState.VERIFIED)
    other, other_id = await disputed_deal(runtime, CollabState.VERIFIED, by="creator")
    await people.admin()
    async with session_scope(runtime.session_maker) as session:
        await services.add_statement(session, await actor_of(runtime, deal.creator), deal.id,
                                     body="The brief never asked for a disclosure in the first second.",
                                     now=runtime.clock.now(), settings=runtime.settings)
    clock.advance(hours=24 * 5 + 1)
    async with session_scope(runtime.session_maker) as session:
        assert await services.note_missed_responses(session, clock.now()) == 1
    async with session_scope(runtime.session_maker) as session:
        assert await services.note_missed_responses(session, clock.now()) == 0

    answered = await db.get(Dispute, dispute_id)
    assert answered.responded_at is not None and answered.response_missed_at is None
    missed = await db.get(Dispute, other_id)
    assert missed.response_missed_at is not None
    notes = list(await db.scalars(sa.select(Notification.title).where(Notification.kind == "dispute.response_missed")))
    assert len(notes) == 1 and "brand" in notes[0]
    kinds = list(await db.scalars(sa.select(DisputeStatement.kind).where(DisputeStatement.dispute_id == dispute_id)
                                  .order_by(DisputeStatement.created_at)))
    assert kinds == ["opening", "response"]
    assert other.id != deal.id


async def test_parties_never_see_admin_notes(runtime, db, people) -> None:
    deal, dispute_id = await disputed_deal(runtime, CollabState.VERIFIED)
    admin = await people.admin()
    async with session_scope(runtime.session_maker) as session:
        await services.add_admin_note(session, await actor_of(runtime, admin), dispute_id,
                                      body="Brand has two other open disputes.", now=runtime.clock.now())
    async with runtime.session_maker() as session:
        _, cases = await services.party_cases(session, await actor_of(runtime, deal.creator), deal.id)
        assert [s.statement.kind for s in cases[0].statements] == ["opening"]
        case = await services.admin_case(session, dispute_id)
        assert [s.statement.kind for s in case.statements] == ["opening", "admin_note"]
    [entry] = await audit_entries(db, "dispute.note")
    assert entry.admin_id == admin.user_id


async def test_nothing_held_means_nothing_to_dispute(runtime, db) -> None:
    """A funded deal whose money already went back (an admin cancellation refunded it) can't be disputed."""
    from marketplace.payments import hooks

    deal = await funded(runtime, CollabState.FUNDED)
    async with session_scope(runtime.session_maker) as session:
        collab = await session.get(Collaboration, deal.id)
        await hooks.refund_to_brand(session, collab, now=runtime.clock.now(), reason="test", settings=runtime.settings)
    await run_jobs(runtime)
    assert (await hold_of(db, deal.id)).state is EscrowState.REFUNDED

    with pytest.raises(Conflict):
        await open_dispute(runtime, deal, by="creator")
    assert await collab_state(db, deal.id) is CollabState.FUNDED
    assert await db.scalar(sa.select(sa.func.count()).select_from(Dispute)) == 0


async def test_the_missed_window_job_is_registered_and_periodic(runtime, db, clock) -> None:
    from marketplace.jobs import load_jobs

    spec = load_jobs()["disputes.note_missed_responses"]
    assert spec.every == 900.0
    _, dispute_id = await disputed_deal(runtime, CollabState.VERIFIED)
    clock.advance(days=6)
    assert await spec.function(runtime.job_context()) == 1
    assert await spec.function(runtime.job_context()) == 0
    assert (await db.get(Dispute, dispute_id)).response_missed_at is not None
