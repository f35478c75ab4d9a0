"""Double-blind ratings: who may rate, hidden until both rated or 14 days passed, then scored once."""

from __future__ import annotations

from datetime import timedelta

import pytest
import sqlalchemy as sa

from marketplace.brands.models import BrandRole
from marketplace.db import session_scope
from marketplace.errors import Conflict, Forbidden, InvalidInput, NotFound
from marketplace.notifications.models import Notification
from marketplace.reputation.jobs import reveal_ratings
from marketplace.reputation.ratings import rate_collaboration, rating_panel
from reputation.models import Rating, ReliabilityScore, ReputationEvent, SubjectKind
from reputation.scoring import rater_weight_from_counts
from tests.support.db import PeopleFactory
from tests.support.reputation import PASSWORD, deliver, fund_and_receive, make_collaboration
from tests.support.reputation import signed_in_admin as admin_actor
from tests.support.reputation import signed_in_brand as brand_actor
from tests.support.reputation import signed_in_creator as creator_actor


async def _rate(runtime, actor, deal, stars, comment=""):
    async with session_scope(runtime.session_maker) as session:
        return await rate_collaboration(session, actor, deal.id, stars=stars, comment=comment, now=runtime.clock.now())


async def _panel(runtime, actor, deal):
    async with session_scope(runtime.session_maker) as session:
        return await rating_panel(session, actor, deal.id, runtime.clock.now())


async def _rating_events(db, deal) -> list[tuple[SubjectKind, float, float]]:
    rows = await db.execute(
        sa.select(ReputationEvent.subject_kind, ReputationEvent.value, ReputationEvent.weight).where(
            ReputationEvent.collaboration_id == deal.id, ReputationEvent.kind == "rating"
        )
    )
    return sorted((k, v, w) for k, v, w in rows)


async def test_ratings_stay_hidden_until_both_sides_rate(runtime, clock, db) -> None:
    deal = await make_collaboration(runtime)
    await deliver(runtime, clock, deal)
    creator, brand = creator_actor(deal.creator), brand_actor(deal.brand)

    await _rate(runtime, brand, deal, 4, "Lovely video, a day early.")
    creator_view = await _panel(runtime, creator, deal)
    assert creator_view.theirs is None and creator_view.theirs_given and creator_view.can_rate
    assert (await _panel(runtime, brand, deal)).mine.stars == 4
    assert await _rating_events(db, deal) == []  # not scored while hidden
    notes = (await db.scalars(sa.select(Notification).where(Notification.user_id == deal.creator.user_id))).all()
    assert [n.kind for n in notes if not n.kind.startswith("deal.")] == ["review.received"]

    clock.advance(hours=3)
    await _rate(runtime, creator, deal, 2, "Paid late.")
    creator_view = await _panel(runtime, creator, deal)
    brand_view = await _panel(runtime, brand, deal)
    assert creator_view.theirs.stars == 4 and creator_view.theirs.comment == "Lovely video, a day early."
    assert brand_view.theirs.stars == 2
    assert not creator_view.can_rate and not brand_view.can_rate
    # Each side's first rating: one of one extreme? 4 and 2 are not extreme, so full weight 0.5.
    assert await _rating_events(db, deal) == [
        (SubjectKind.BRAND, -0.5, pytest.approx(0.5)),
        (SubjectKind.CREATOR, 0.5, pytest.approx(0.5)),
    ]
    creator_row = await db.get(ReliabilityScore, (SubjectKind.CREATOR, deal.creator.creator_id))
    assert creator_row.ratings_received == 1 and creator_row.ratings_given == 1


async def test_a_lone_rating_is_revealed_and_scored_when_the_window_closes(runtime, clock, db, queue) -> None:
    deal = await make_collaboration(runtime)
    await deliver(runtime, clock, deal)
    await _rate(runtime, brand_actor(deal.brand), deal, 5)
    clock.advance(days=13)
    assert await reveal_ratings(runtime.job_context()) == 0
    assert (await _panel(runtime, creator_actor(deal.creator), deal)).theirs is None
    clock.advance(days=2)
    # Visible once the window closed, even before the job has run...
    assert (await _panel(runtime, creator_actor(deal.creator), deal)).theirs.stars == 5
    assert await _rating_events(db, deal) == []
    # ...and scored by the job as of the window's end; running it again changes nothing.
    assert await reveal_ratings(runtime.job_context()) == 1
    assert await reveal_ratings(runtime.job_context()) == 0
    rating = await db.scalar(sa.select(Rating).where(Rating.collaboration_id == deal.id))
    assert rating.revealed_at == rating.window_closes_at
    extreme_first = rater_weight_from_counts(1, 1)
    assert await _rating_events(db, deal) == [(SubjectKind.CREATOR, 1.0, pytest.approx(0.5 * extreme_first))]
    # The window is closed: the creator can no longer rate back.
    with pytest.raises(Conflict, match="window has closed"):
        await _rate(runtime, creator_actor(deal.creator), deal, 1)


async def test_a_rater_who_only_gives_extremes_counts_less(runtime, clock, db) -> None:
    brand = await PeopleFactory(runtime, PASSWORD).brand()
    weights = []
    for _ in range(3):
        deal = await make_collaboration(runtime, brand=brand)
        await deliver(runtime, clock, deal)
        rating = await _rate(runtime, brand_actor(brand), deal, 5)
        weights.append(rating.rater_weight)
    assert weights == [pytest.approx(rater_weight_from_counts(n, n)) for n in (1, 2, 3)]
    assert weights[0] > weights[1] > weights[2] > 0.25


async def test_only_parties_of_a_completed_funded_deal_rate_once(runtime, clock, db) -> None:
    people = PeopleFactory(runtime, PASSWORD)
    deal = await make_collaboration(runtime)
    await fund_and_receive(runtime, clock, deal)
    with pytest.raises(Conflict, match="once the deal is completed"):
        await _rate(runtime, creator_actor(deal.creator), deal, 5)

    other = await make_collaboration(runtime)
    await deliver(runtime, clock, other)
    outsider_brand = await people.brand(brand_name="Nosy Co")
    outsider_creator = await people.creator()
    with pytest.raises(NotFound):
        await _rate(runtime, brand_actor(outsider_brand), other, 1)
    with pytest.raises(NotFound):
        await _rate(runtime, creator_actor(outsider_creator), other, 1)
    finance = await people.brand(role=BrandRole.FINANCE, brand_id=other.brand.brand_id)
    with pytest.raises(Forbidden, match="owner or managers"):
        await _rate(runtime, brand_actor(finance, BrandRole.FINANCE), other, 3)
    admin = await people.admin()
    with pytest.raises(Forbidden):
        await _rate(runtime, admin_actor(admin), other, 3)
    with pytest.raises(InvalidInput) as bad:
        await _rate(runtime, creator_actor(other.creator), other, 6, "x" * 2_001)
    assert set(bad.value.errors) == {"stars", "comment"}
    assert await db.scalar(sa.select(sa.func.count()).select_from(Rating)) == 0

    await _rate(runtime, creator_actor(other.creator), other, 5)
    with pytest.raises(Conflict, match="already rated"):
        await _rate(runtime, creator_actor(other.creator), other, 1)
    assert await db.scalar(sa.select(sa.func.count()).select_from(Rating)) == 1


async def test_admins_see_both_ratings_hidden_or_not(runtime, clock) -> None:
    deal = await make_collaboration(runtime)
    await deliver(runtime, clock, deal)
    await _rate(runtime, creator_actor(deal.creator), deal, 3)
    admin = await PeopleFactory(runtime, PASSWORD).admin()
    panel = await _panel(runtime, admin_actor(admin), deal)
    assert panel.viewer is None and [r.stars for r in panel.both] == [3] and not panel.can_rate
    clock.advance(days=15)
    assert (await _panel(runtime, creator_actor(deal.creator), deal)).window_closes_at == (
        panel.completed_at + timedelta(days=14)
    )
