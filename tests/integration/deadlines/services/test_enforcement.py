"""Consequences of passed deadlines through their jobs: the brand no-show notice, ghosting and the review-window
release, each acting once on the locked row and writing nothing when escrow refuses."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
import sqlalchemy as sa

from marketplace.collaborations.models import CollaborationEvent
from marketplace.collaborations.states import CollabState
from marketplace.deadlines import jobs as deadline_jobs
from marketplace.deadlines.models import DeadlineNotice
from marketplace.jobs import RetryLater
from marketplace.notifications.models import Notification
from marketplace.payments import hooks
from reputation.models import ReputationEvent
from tests.conftest import START
from tests.support.deadlines import load, make_deal
from tests.support.escrow import assert_ledger_invariants, funded_deal, hold_of, run_jobs

D = timedelta(days=1)


async def events(db: Any, collaboration_id: Any) -> list[CollaborationEvent]:
    return list(
        (
            await db.scalars(
                sa.select(CollaborationEvent)
                .where(CollaborationEvent.collaboration_id == collaboration_id)
                .order_by(CollaborationEvent.seq)
            )
        ).all()
    )


async def test_brand_no_show_tells_the_creator_once_and_records_the_outcome(
    runtime: Any, people: Any, clock: Any, queue: Any, db: Any
) -> None:
    deal = await make_deal(runtime, people, until=CollabState.FUNDED, start=START)
    ship_due = (await load(runtime, deal.collaboration_id)).due("ship")
    assert ship_due is not None
    ctx = runtime.job_context()

    clock.set(ship_due - timedelta(minutes=1))
    assert await deadline_jobs.announce_brand_no_show(ctx, str(deal.collaboration_id)) == "not due"
    clock.set(ship_due + timedelta(hours=2))
    assert await deadline_jobs.announce_brand_no_show(ctx, str(deal.collaboration_id)) == "announced"
    assert await deadline_jobs.announce_brand_no_show(ctx, str(deal.collaboration_id)) == "already announced"

    creator_notes = (
        await db.scalars(
            sa.select(Notification).where(
                Notification.user_id == deal.creator.user_id, Notification.kind == "deadline.brand_no_show"
            )
        )
    ).all()
    assert len(creator_notes) == 1
    assert "cancel without penalty" in creator_notes[0].title
    notices = (await db.scalars(sa.select(DeadlineNotice))).all()
    assert [(n.kind, n.due_at) for n in notices] == [("brand_no_show", ship_due)]
    note = [e for e in await events(db, deal.collaboration_id) if e.action == "note_brand_no_show"]
    assert len(note) == 1 and note[0].payload == {"ship_due_at": ship_due.isoformat()}
    outcomes = (await db.execute(sa.select(ReputationEvent.kind, ReputationEvent.subject_id)
                                 .where(ReputationEvent.collaboration_id == deal.collaboration_id))).all()
    assert [(k.value, s) for k, s in outcomes] == [("brand.did_not_ship", deal.brand.brand_id)]
    assert (await load(runtime, deal.collaboration_id)).status == CollabState.FUNDED


async def test_brand_no_show_second_delivery_changes_nothing(runtime: Any, people: Any, clock: Any, db: Any) -> None:
    deal = await make_deal(runtime, people, until=CollabState.FUNDED, start=START)
    clock.set(START + 30 * D)
    ctx = runtime.job_context()
    assert await deadline_jobs.announce_brand_no_show(ctx, str(deal.collaboration_id)) == "announced"
    before = len(await events(db, deal.collaboration_id))
    assert await deadline_jobs.announce_brand_no_show(ctx, str(deal.collaboration_id)) == "already announced"
    assert len(await events(db, deal.collaboration_id)) == before


async def test_ghosting_writes_nothing_when_escrow_refuses(
    runtime: Any, people: Any, clock: Any, db: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def refuse(*_: Any, **__: Any) -> None:
        raise hooks.EscrowUnavailable("the payment provider is down")

    monkeypatch.setattr(hooks, "refund_to_brand", refuse)
    deal = await make_deal(runtime, people, until=CollabState.RECEIVED, start=START)
    before = len(await events(db, deal.collaboration_id))
    clock.set(START + 40 * D)
    with pytest.raises(RetryLater):
        await deadline_jobs.ghost_collaboration(runtime.job_context(), str(deal.collaboration_id))
    collab = await load(runtime, deal.collaboration_id)
    assert collab.status == CollabState.RECEIVED
    assert len(await events(db, deal.collaboration_id)) == before
    assert (
        await db.scalar(
            sa.select(sa.func.count()).select_from(Notification).where(Notification.kind == "deadline.ghosted")
        )
    ) == 0


async def test_ghosting_is_not_due_inside_the_grace_period_or_after_an_agreed_extension(
    runtime: Any, people: Any, clock: Any
) -> None:
    deal = await make_deal(runtime, people, until=CollabState.RECEIVED, start=START)
    collab = await load(runtime, deal.collaboration_id)
    post_due = collab.due("post")
    assert post_due is not None
    clock.set(post_due + timedelta(hours=71))
    assert await deadline_jobs.ghost_collaboration(runtime.job_context(), str(deal.collaboration_id)) == "not due"


async def test_ghosting_refunds_through_escrow_and_tells_both_sides(
    runtime: Any, clock: Any, queue: Any, db: Any
) -> None:
    deal = await funded_deal(runtime, CollabState.RECEIVED)
    before_ledger = await assert_ledger_invariants(db)
    post_due = (await load(runtime, deal.id)).due("post")
    assert post_due is not None
    clock.set(post_due + timedelta(hours=72))
    queue.jobs.clear()

    assert await deadline_jobs.ghost_collaboration(runtime.job_context(), str(deal.id)) == "ghosted"
    await run_jobs(runtime)  # the refund's provider call, then the emails

    collab = await load(runtime, deal.id)
    assert collab.status == CollabState.GHOSTED and collab.ended_at == clock.now()
    ghost = [e for e in await events(db, deal.id) if e.action == "ghost"]
    assert len(ghost) == 1 and ghost[0].actor_party == "system"
    kinds = (await db.scalars(sa.select(ReputationEvent.kind).where(ReputationEvent.collaboration_id == deal.id))).all()
    assert [k.value for k in kinds] == ["creator.ghosted"]
    assert ghost[0].payload["post_due_at"] == post_due.isoformat()
    hold = await hold_of(db, deal.id)
    assert hold.refunded_amount == hold.funded_amount > 0
    assert hold.held_amount == 0
    async with runtime.session_maker() as session:
        assert not await hooks.is_funded(session, collab)
    await assert_ledger_invariants(db, before_ledger)
    reputation = (
        await db.execute(
            sa.select(ReputationEvent.subject_id, ReputationEvent.kind).where(
                ReputationEvent.collaboration_id == deal.id
            )
        )
    ).all()
    assert [(sid, str(kind)) for sid, kind in reputation] == [(deal.creator.creator_id, "creator.ghosted")]
    for user_id in (deal.creator.user_id, deal.brand.user_id):
        kinds = (await db.scalars(sa.select(Notification.kind).where(Notification.user_id == user_id))).all()
        assert "deadline.ghosted" in kinds

    # A second delivery of the same job, and a later sweep, refund nothing more.
    assert await deadline_jobs.ghost_collaboration(runtime.job_context(), str(deal.id)) == "not due"
    await run_jobs(runtime)
    assert (await hold_of(db, deal.id)).refunded_amount == hold.funded_amount
    assert len([e for e in await events(db, deal.id) if e.action == "ghost"]) == 1
    count = sa.select(sa.func.count()).select_from(ReputationEvent).where(ReputationEvent.collaboration_id == deal.id)
    assert await db.scalar(count) == 1


async def test_review_window_release_waits_for_the_window_and_writes_nothing_when_escrow_refuses(
    runtime: Any, people: Any, clock: Any, db: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def refuse(*_: Any, **__: Any) -> None:
        raise hooks.EscrowUnavailable("the payment provider is down")

    monkeypatch.setattr(hooks, "release_to_creator", refuse)
    deal = await make_deal(runtime, people, until=CollabState.VERIFIED, start=START)
    window_end = (await load(runtime, deal.collaboration_id)).due("approve")
    assert window_end is not None
    ctx = runtime.job_context()
    clock.set(window_end - timedelta(seconds=1))
    assert await deadline_jobs.auto_approve_post(ctx, str(deal.collaboration_id)) == "not due"
    clock.set(window_end)
    before = len(await events(db, deal.collaboration_id))
    with pytest.raises(RetryLater):
        await deadline_jobs.auto_approve_post(ctx, str(deal.collaboration_id))
    collab = await load(runtime, deal.collaboration_id)
    assert collab.approved_at is None and collab.status == CollabState.VERIFIED
    assert len(await events(db, deal.collaboration_id)) == before


async def test_review_window_release_approves_as_system_and_pays(runtime: Any, clock: Any, queue: Any, db: Any) -> None:
    deal = await funded_deal(runtime, CollabState.VERIFIED, onboarded=True)
    window_end = (await load(runtime, deal.id)).due("approve")
    assert window_end is not None
    clock.set(window_end + timedelta(hours=1))
    assert await deadline_jobs.auto_approve_post(runtime.job_context(), str(deal.id)) == "approved"
    await run_jobs(runtime)  # the transfer to the creator; escrow then records MARK_RELEASED

    approve = [e for e in await events(db, deal.id) if e.action == "approve_post"]
    assert len(approve) == 1 and approve[0].actor_party == "system" and approve[0].payload["automatic"] is True
    collab = await load(runtime, deal.id)
    assert collab.approved_at == clock.now()
    assert collab.status == CollabState.RELEASED
    hold = await hold_of(db, deal.id)
    assert hold.released_creator_amount == collab.fee_amount
    await assert_ledger_invariants(db)
    assert await deadline_jobs.auto_approve_post(runtime.job_context(), str(deal.id)) == "not due"
    await run_jobs(runtime)
    assert (await hold_of(db, deal.id)).released_creator_amount == collab.fee_amount


async def test_when_escrow_refuses_the_deal_is_held_for_an_admin_and_not_retried(
    runtime: Any, people: Any, clock: Any, queue: Any, db: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from marketplace.deadlines.sweeper import sweep_deadlines

    async def refuse(*_: Any, **__: Any) -> None:
        raise hooks.EscrowRefused("A refund is already in progress.")

    monkeypatch.setattr(hooks, "refund_to_brand", refuse)
    admin = await people.admin()
    deal = await make_deal(runtime, people, until=CollabState.RECEIVED, start=START)
    clock.set(START + 40 * D)
    decision = await deadline_jobs.ghost_collaboration(runtime.job_context(), str(deal.collaboration_id))
    assert decision == "escrow refused; held for admin review"
    collab = await load(runtime, deal.collaboration_id)
    assert collab.status == CollabState.RECEIVED and collab.needs_admin_review
    assert [e.action for e in await events(db, deal.collaboration_id)].count("ghost") == 0
    notes = (await db.scalars(sa.select(Notification).where(Notification.user_id == admin.user_id))).all()
    assert [n.kind for n in notes] == ["deadline.needs_admin"] and "already in progress" in notes[0].body
    queue.jobs.clear()
    await sweep_deadlines(runtime.session_maker, clock.now() + timedelta(hours=1))
    assert "deadlines.ghost_collaboration" not in [j.name for j in queue.jobs]
    assert (
        await deadline_jobs.ghost_collaboration(runtime.job_context(), str(deal.collaboration_id))
        == "held for admin review"
    )
