"""Deals driven through real transitions record the right reputation outcomes, once, for the right side."""

from __future__ import annotations

from datetime import timedelta

import pytest
import sqlalchemy as sa

from marketplace.collaborations.models import Collaboration
from marketplace.collaborations.states import Action, Party
from marketplace.db import session_scope
from marketplace.reputation.outcomes import record_collaboration_outcome, record_transition_outcomes
from reputation.events import EventKind
from reputation.models import ReliabilityScore, ReputationEvent, SubjectKind
from reputation.scoring import value_weight
from tests.support.reputation import (
    deliver,
    fund_and_receive,
    ghost,
    make_collaboration,
    post,
    step,
)


async def _events(db, deal) -> list[tuple[str, str, float]]:
    rows = await db.execute(
        sa.select(ReputationEvent.subject_kind, ReputationEvent.kind, ReputationEvent.weight)
        .where(ReputationEvent.collaboration_id == deal.id)
        .order_by(ReputationEvent.id)
    )
    return [(kind.value, event.value, weight) for kind, event, weight in rows]


async def _score(db, kind: SubjectKind, subject_id) -> ReliabilityScore | None:
    return await db.scalar(
        sa.select(ReliabilityScore).where(
            ReliabilityScore.subject_kind == kind, ReliabilityScore.subject_id == subject_id
        )
    )


# Fee $150 + product $45 = $195: the weight is 1 + log2(1 + 1.95).
DEAL_WEIGHT = value_weight(19_500, 2)


async def test_on_time_delivery_scores_both_sides_with_the_deal_value_weight(runtime, clock, db) -> None:
    deal = await make_collaboration(runtime)
    await deliver(runtime, clock, deal)
    assert await _events(db, deal) == [
        ("brand", "brand.released_on_time", pytest.approx(DEAL_WEIGHT)),
        ("creator", "creator.on_time", pytest.approx(DEAL_WEIGHT)),
    ]
    creator = await _score(db, SubjectKind.CREATOR, deal.creator.creator_id)
    assert creator is not None
    assert (creator.r, creator.s) == (pytest.approx(DEAL_WEIGHT), 0.0)
    assert (creator.on_time_count, creator.completed_deals, creator.distinct_counterparties) == (1, 1, 1)
    assert creator.ranking_score > 0 and creator.expected > 0.5
    brand = await _score(db, SubjectKind.BRAND, deal.brand.brand_id)
    assert brand is not None and (brand.on_time_count, brand.distinct_counterparties) == (1, 1)


async def test_late_post_and_automatic_approval_score_half_and_half(runtime, clock, db) -> None:
    deal = await make_collaboration(runtime)
    await deliver(runtime, clock, deal, late_days=2, approve_by=Party.SYSTEM)
    kinds = [kind for _, kind, _ in await _events(db, deal)]
    assert kinds == ["brand.late_release", "creator.late"]
    creator = await _score(db, SubjectKind.CREATOR, deal.creator.creator_id)
    assert creator is not None and creator.r == pytest.approx(creator.s) == pytest.approx(DEAL_WEIGHT / 2)


async def test_ghosting_weighs_three_times_and_nothing_is_recorded_twice(runtime, clock, db) -> None:
    deal = await make_collaboration(runtime)
    recorded = await ghost(runtime, clock, deal)
    assert [e.kind for e in recorded] == [EventKind.CREATOR_GHOSTED]
    # The worker retries, a webhook repeats: the outcome stays recorded once.
    async with session_scope(runtime.session_maker) as session:
        collab = await session.get(Collaboration, deal.id)
        assert await record_collaboration_outcome(session, collab, EventKind.CREATOR_GHOSTED, clock.now()) is None
    assert await _events(db, deal) == [("creator", "creator.ghosted", pytest.approx(3 * DEAL_WEIGHT))]
    creator = await _score(db, SubjectKind.CREATOR, deal.creator.creator_id)
    assert creator is not None and creator.ghosted_count == 1 and creator.events_count == 1
    assert creator.tier == "NEW" and len(creator.ghosted_at) == 1


async def test_a_brand_that_never_ships_is_scored_and_the_creator_is_not(runtime, clock, db) -> None:
    deal = await make_collaboration(runtime)
    await step(runtime, deal, Action.SIGN, Party.CREATOR)
    await step(runtime, deal, Action.MARK_FUNDED, Party.SYSTEM)
    clock.set((await _due(runtime, deal, "ship")) + timedelta(hours=1))
    await step(runtime, deal, Action.CANCEL_NO_SHOW, Party.CREATOR)
    assert await _events(db, deal) == [("brand", "brand.did_not_ship", pytest.approx(DEAL_WEIGHT))]
    creator = await _score(db, SubjectKind.CREATOR, deal.creator.creator_id)
    assert creator is not None and creator.events_count == 0 and (creator.r, creator.s) == (0.0, 0.0)


async def test_a_ghost_transition_while_the_product_never_shipped_blames_the_brand(runtime, clock, db) -> None:
    deal = await make_collaboration(runtime)
    await step(runtime, deal, Action.SIGN, Party.CREATOR)
    await step(runtime, deal, Action.MARK_FUNDED, Party.SYSTEM)
    clock.set((await _due(runtime, deal, "ship")) + timedelta(days=1))
    await step(runtime, deal, Action.GHOST, Party.SYSTEM)
    assert [kind for _, kind, _ in await _events(db, deal)] == ["brand.did_not_ship"]


async def test_creator_cancelling_after_signing_counts_half(runtime, clock, db) -> None:
    deal = await make_collaboration(runtime)
    await step(runtime, deal, Action.SIGN, Party.CREATOR)
    await step(runtime, deal, Action.CANCEL, Party.CREATOR)
    assert await _events(db, deal) == [("creator", "creator.cancelled_after_signing", pytest.approx(DEAL_WEIGHT / 2))]


async def test_brand_cancelling_before_shipping_is_due_scores_nothing(runtime, clock, db) -> None:
    deal = await make_collaboration(runtime)
    await step(runtime, deal, Action.SIGN, Party.CREATOR)
    await step(runtime, deal, Action.CANCEL, Party.BRAND)
    assert await _events(db, deal) == []


async def test_declining_an_offer_scores_nothing(runtime, clock, db) -> None:
    deal = await make_collaboration(runtime)
    assert await step(runtime, deal, Action.DECLINE_OFFER, Party.CREATOR) == []
    assert await _events(db, deal) == []


async def test_post_removed_during_keep_live(runtime, clock, db) -> None:
    deal = await make_collaboration(runtime)
    await deliver(runtime, clock, deal, complete=False)
    clock.advance(days=3)
    await step(runtime, deal, Action.MARK_POST_REMOVED, Party.SYSTEM)
    # Completing afterwards does not turn the removal into an on-time delivery.
    clock.set((await _due(runtime, deal, "keep_live")) + timedelta(hours=1))
    await step(runtime, deal, Action.COMPLETE, Party.SYSTEM)
    kinds = [kind for _, kind, _ in await _events(db, deal)]
    assert kinds == ["brand.released_on_time", "creator.post_removed"]
    creator = await _score(db, SubjectKind.CREATOR, deal.creator.creator_id)
    assert creator is not None and creator.removed_count == 1 and creator.completed_deals == 0


async def test_post_removed_after_keep_live_is_not_held_against_the_creator(runtime, clock, db) -> None:
    deal = await make_collaboration(runtime)
    await deliver(runtime, clock, deal)
    clock.advance(days=30)
    assert await step(runtime, deal, Action.MARK_POST_REMOVED, Party.SYSTEM) == []


@pytest.mark.parametrize(
    ("resolution", "payload", "expected"),
    [
        (Action.RESOLVE_REFUND, None, [("creator", "creator.dispute_lost")]),
        (Action.RESOLVE_RELEASE, None, [("brand", "brand.dispute_lost")]),
        (Action.RESOLVE_SPLIT, None, []),
        (Action.RESOLVE_REFUND, {"at_fault": "brand"}, [("brand", "brand.dispute_lost")]),
        (
            Action.RESOLVE_SPLIT,
            {"at_fault": "both"},
            [("brand", "brand.dispute_lost"), ("creator", "creator.dispute_lost")],
        ),
    ],
)
async def test_dispute_resolutions(runtime, clock, db, resolution, payload, expected) -> None:
    deal = await make_collaboration(runtime)
    await fund_and_receive(runtime, clock, deal)
    await step(runtime, deal, Action.OPEN_DISPUTE, Party.BRAND)
    clock.advance(days=2)
    await step(runtime, deal, resolution, Party.ADMIN, payload=payload)
    assert [(side, kind) for side, kind, _ in await _events(db, deal)] == expected


async def test_recording_twice_for_one_transition_is_harmless(runtime, clock, db) -> None:
    deal = await make_collaboration(runtime)
    await fund_and_receive(runtime, clock, deal)
    await post(runtime, clock, deal)
    clock.set((await _due(runtime, deal, "post")) + timedelta(days=10))
    async with session_scope(runtime.session_maker) as session:
        from marketplace.collaborations.states import SYSTEM
        from marketplace.collaborations.transition import transition

        result = await transition(session, deal.id, Action.MARK_VERIFIED, SYSTEM, now=clock.now())
        assert await record_transition_outcomes(session, result) == []
    assert await _events(db, deal) == []


async def _due(runtime, deal, stage):
    from tests.support.reputation import due

    return await due(runtime, deal, stage)
