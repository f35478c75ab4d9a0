"""Gig eligibility from stored reputation: minimums, ghosting sanctions, tier caps, and the admin's clearance."""

from __future__ import annotations

import sqlalchemy as sa

from marketplace.db import session_scope
from marketplace.gigs.models import Gig
from marketplace.reputation.deal_values import to_usd_minor
from marketplace.reputation.services import creator_eligibility, eligibility_for_gigs, open_unposted_deals
from reputation.models import ReliabilityScore, SubjectKind
from reputation.services import Subject, clear_suspension, score_for
from tests.support.db import PeopleFactory
from tests.support.reputation import PASSWORD, deliver, ghost, make_collaboration, make_gig, step


async def _eligibility(runtime, creator, gig_id):
    async with session_scope(runtime.session_maker) as session:
        gig = await session.get(Gig, gig_id)
        return await creator_eligibility(session, creator.creator_id, gig, runtime.clock.now())


async def _proven_creator(runtime, clock, deals: int = 2):
    """A creator with `deals` on-time deliveries, each for a different brand."""
    people = PeopleFactory(runtime, PASSWORD)
    creator = await people.creator()
    for _ in range(deals):
        await deliver(runtime, clock, await make_collaboration(runtime, creator=creator))
    return creator


async def test_a_creator_who_ghosts_is_refused_a_gig_whose_minimum_they_no_longer_meet(runtime, clock) -> None:
    creator = await _proven_creator(runtime, clock)
    brand = await PeopleFactory(runtime, PASSWORD).brand(brand_name="Strict Co")
    strict_gig = await make_gig(runtime, brand, min_reliability=0.5)
    before = await _eligibility(runtime, creator, strict_gig)
    assert before.allowed, before.reasons

    await ghost(runtime, clock, await make_collaboration(runtime, creator=creator))

    after = await _eligibility(runtime, creator, strict_gig)
    assert not after.allowed
    async with session_scope(runtime.session_maker) as session:
        view = await score_for(session, Subject.creator(creator.creator_id), clock.now())
    assert view.ranking_score < 0.5
    assert f"This gig needs a proven reliability of 50%; yours is {view.ranking_score:.0%}." in after.reasons


async def test_a_recent_ghosting_caps_the_tier_and_says_until_when(runtime, clock) -> None:
    creator = await _proven_creator(runtime, clock)
    brand = await PeopleFactory(runtime, PASSWORD).brand()
    bronze_gig = await make_gig(runtime, brand, min_tier="BRONZE")
    assert (await _eligibility(runtime, creator, bronze_gig)).allowed
    await ghost(runtime, clock, await make_collaboration(runtime, creator=creator))
    refused = await _eligibility(runtime, creator, bronze_gig)
    assert any(
        "open to Bronze creators and above; you are New / probation" in r and "probation until" in r
        for r in refused.reasons
    ), refused.reasons


async def test_two_ghostings_within_a_year_suspend_until_an_admin_clears_them(runtime, clock, db) -> None:
    people = PeopleFactory(runtime, PASSWORD)
    creator = await people.creator()
    admin = await people.admin()
    await ghost(runtime, clock, await make_collaboration(runtime, creator=creator))
    row = await db.get(ReliabilityScore, (SubjectKind.CREATOR, creator.creator_id))
    assert row is not None and row.suspended_at is None
    clock.advance(days=100)  # past the probation: only the suspension can refuse now
    await ghost(runtime, clock, await make_collaboration(runtime, creator=creator))
    row = await db.get(ReliabilityScore, (SubjectKind.CREATOR, creator.creator_id))
    assert row is not None and row.suspended_at is not None
    gig = await make_gig(runtime, await people.brand(), fee_amount=5_000, product_value=0, product_included=False)
    clock.advance(days=91)
    refused = await _eligibility(runtime, creator, gig)
    assert refused.reasons == (
        "Applications are paused until an admin reviews the account (two ghostings within 12 months).",
    )

    async with session_scope(runtime.session_maker) as session:
        assert await clear_suspension(session, creator.creator_id, admin.user_id, clock.now()) is True
    async with session_scope(runtime.session_maker) as session:
        assert await clear_suspension(session, creator.creator_id, admin.user_id, clock.now()) is False
    row = await db.get(ReliabilityScore, (SubjectKind.CREATOR, creator.creator_id))
    assert row is not None and row.suspended_at is None and row.review_cleared_by_id == admin.user_id
    assert (await _eligibility(runtime, creator, gig)).allowed


async def test_newcomer_caps_on_deal_value_in_any_currency(runtime, clock) -> None:
    people = PeopleFactory(runtime, PASSWORD)
    creator, brand = await people.creator(), await people.brand()
    # $250 fee + $50 product: above the New tier's $250.
    dear = await make_gig(runtime, brand, fee_amount=25_000, product_value=5_000)
    refused = await _eligibility(runtime, creator, dear)
    assert refused.reasons == ("New / probation creators can take deals worth up to $250; this one is worth $300.",)
    # ¥30,000 is roughly $200: allowed, though 30,000 "units" would be far over the cap.
    yen = await make_gig(runtime, brand, fee_amount=30_000, product_value=0, product_included=False, currency="JPY")
    assert (await _eligibility(runtime, creator, yen)).allowed
    assert to_usd_minor(30_000, "JPY") == 20_100


async def test_newcomer_holds_one_unposted_deal_at_a_time(runtime, clock) -> None:
    people = PeopleFactory(runtime, PASSWORD)
    creator = await people.creator()
    deal = await make_collaboration(runtime, creator=creator)
    from marketplace.collaborations.states import Action, Party

    await step(runtime, deal, Action.SIGN, Party.CREATOR)
    async with session_scope(runtime.session_maker) as session:
        assert await open_unposted_deals(session, [creator.creator_id]) == {creator.creator_id: 1}
    other = await make_gig(runtime, await people.brand(), fee_amount=5_000)
    refused = await _eligibility(runtime, creator, other)
    assert refused.reasons == (
        "You have 1 deal not yet posted; New / probation creators can hold 1 at a time. Post before taking another.",
    )


async def test_a_page_of_gigs_is_judged_in_one_go_and_agrees_with_one_at_a_time(runtime, clock) -> None:
    people = PeopleFactory(runtime, PASSWORD)
    creator, brand = await people.creator(), await people.brand()
    gig_ids = [
        await make_gig(runtime, brand),
        await make_gig(runtime, brand, min_reliability=0.3),
        await make_gig(runtime, brand, min_tier="GOLD"),
        await make_gig(runtime, brand, fee_amount=90_000),
    ]
    async with session_scope(runtime.session_maker) as session:
        gigs = list(await session.scalars(sa.select(Gig).where(Gig.id.in_(gig_ids))))
        batch = await eligibility_for_gigs(session, creator.creator_id, gigs, clock.now())
    singles = {gig_id: await _eligibility(runtime, creator, gig_id) for gig_id in gig_ids}
    assert batch == singles
    assert [batch[g].allowed for g in gig_ids] == [True, False, False, False]
