"""Keep-live checks: halfway and at the end of the keep-live period, reached through the deadline sweeper; a
removed post is flagged to the brand and admins and recorded, a post still live completes the deal."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import sqlalchemy as sa

from marketplace.collaborations.models import CollaborationEvent
from marketplace.collaborations.states import CollabState
from marketplace.deadlines.sweeper import sweep_deadlines
from marketplace.notifications.models import Notification
from marketplace.verification.models import CheckPurpose, PostCheck
from reputation.models import ReputationEvent
from tests.conftest import START
from tests.support.deadlines import load, make_deal

CAPTION = "Morning routine with my new serum @acmegoods #ad #glow"
D = timedelta(days=1)


async def released(runtime: Any, people: Any, oembed: Any) -> Any:
    deal = await make_deal(runtime, people, until=CollabState.RELEASED, start=START)
    oembed.add_post("tiktok", deal.post_url, author=deal.handle, caption=CAPTION)
    return deal


async def sweep_and_run(runtime: Any, queue: Any) -> list[str]:
    """One sweep at the runtime's clock, then the jobs it handed out (as the worker would run them)."""
    queue.jobs.clear()
    await sweep_deadlines(runtime.session_maker, runtime.clock.now())
    names = [job.name for job in queue.jobs]
    await queue.run_all(runtime.job_context())
    return names


async def events(db: Any, deal: Any) -> list[CollaborationEvent]:
    return list(
        (
            await db.scalars(
                sa.select(CollaborationEvent)
                .where(CollaborationEvent.collaboration_id == deal.collaboration_id)
                .order_by(CollaborationEvent.seq)
            )
        ).all()
    )


async def test_a_post_still_live_is_checked_halfway_and_completes_the_deal_at_the_end(
    runtime: Any, people: Any, oembed: Any, queue: Any, db: Any, limiter_clock: Any
) -> None:
    deal = await released(runtime, people, oembed)
    collab = await load(runtime, deal.collaboration_id)
    end = collab.due("keep_live")
    assert collab.posted_at is not None and end is not None
    midpoint = collab.posted_at + (end - collab.posted_at) / 2

    runtime.clock.set(midpoint - timedelta(hours=1))
    assert "verification.check_keep_live" not in await sweep_and_run(runtime, queue)
    runtime.clock.set(midpoint + timedelta(minutes=5))
    assert "verification.check_keep_live" in await sweep_and_run(runtime, queue)
    assert (await load(runtime, deal.collaboration_id)).status == CollabState.RELEASED
    runtime.clock.set(midpoint + D)
    assert "verification.check_keep_live" not in await sweep_and_run(runtime, queue)

    runtime.clock.set(end + timedelta(minutes=5))
    assert "verification.check_keep_live" in await sweep_and_run(runtime, queue)
    collab = await load(runtime, deal.collaboration_id)
    assert collab.status == CollabState.COMPLETED and collab.post_removed_at is None
    purposes = (
        await db.scalars(sa.select(PostCheck.purpose).where(PostCheck.collaboration_id == deal.collaboration_id))
    ).all()
    assert sorted(purposes) == sorted([CheckPurpose.KEEP_LIVE_MIDPOINT.value, CheckPurpose.KEEP_LIVE_FINAL.value])
    complete = [e for e in await events(db, deal) if e.action == "complete"]
    assert len(complete) == 1 and complete[0].payload["keep_live"] == "live"
    assert oembed.request_count(deal.post_url) == 2
    assert await sweep_and_run(runtime, queue) == []


async def test_a_removed_post_is_flagged_to_brand_and_admins_and_recorded(
    runtime: Any, people: Any, oembed: Any, queue: Any, db: Any, limiter_clock: Any
) -> None:
    admin = await people.admin()
    deal = await released(runtime, people, oembed)
    collab = await load(runtime, deal.collaboration_id)
    end = collab.due("keep_live")
    assert end is not None
    oembed.delete(deal.post_url)

    runtime.clock.set(end - 6 * D)  # past the midpoint
    await sweep_and_run(runtime, queue)
    collab = await load(runtime, deal.collaboration_id)
    assert collab.post_removed_at == runtime.clock.now()
    assert collab.status == CollabState.RELEASED
    removed = [e for e in await events(db, deal) if e.action == "mark_post_removed"]
    assert len(removed) == 1
    kinds = (await db.scalars(sa.select(ReputationEvent.kind)
                              .where(ReputationEvent.collaboration_id == deal.collaboration_id))).all()
    assert [k.value for k in kinds] == ["creator.post_removed"]
    for user_id in (deal.brand.user_id, admin.user_id, deal.creator.user_id):
        kinds = (await db.scalars(sa.select(Notification.kind).where(Notification.user_id == user_id))).all()
        assert "verification.post_removed" in kinds

    runtime.clock.set(end + timedelta(hours=1))
    await sweep_and_run(runtime, queue)
    collab = await load(runtime, deal.collaboration_id)
    assert collab.status == CollabState.COMPLETED
    assert len([e for e in await events(db, deal) if e.action == "mark_post_removed"]) == 1
    complete = [e for e in await events(db, deal) if e.action == "complete"]
    assert complete[0].payload["keep_live"] == "removed"


async def test_a_post_found_removed_only_by_the_last_check_is_scored_once_as_removed(
    runtime: Any, people: Any, oembed: Any, queue: Any, db: Any, limiter_clock: Any
) -> None:
    """The redesign's first bug: the last keep-live check recorded both creator.post_removed and creator.on_time."""
    deal = await released(runtime, people, oembed)
    collab = await load(runtime, deal.collaboration_id)
    end = collab.due("keep_live")
    assert end is not None
    runtime.clock.set(end - 6 * D)  # the halfway check finds the post live
    await sweep_and_run(runtime, queue)
    assert (await load(runtime, deal.collaboration_id)).post_removed_at is None
    oembed.delete(deal.post_url)  # taken down before the period ended; only the last check sees it

    runtime.clock.set(end + timedelta(minutes=5))
    await sweep_and_run(runtime, queue)
    collab = await load(runtime, deal.collaboration_id)
    assert collab.status == CollabState.COMPLETED and collab.post_removed_at is not None
    creator_outcomes = (await db.scalars(
        sa.select(ReputationEvent.kind).where(ReputationEvent.collaboration_id == deal.collaboration_id,
                                              ReputationEvent.subject_id == deal.creator.creator_id))).all()
    assert [k.value for k in creator_outcomes] == ["creator.post_removed"]
