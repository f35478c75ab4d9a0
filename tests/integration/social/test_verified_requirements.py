"""Verified numbers where decisions are made: a gig can require a verified audience (form, API, eligibility with the
reason in words), and the stored ranking the directory sorts by gives a verified newcomer the simulation's prior."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import sqlalchemy as sa

from marketplace.creators.models import Creator
from marketplace.gigs.models import Gig
from reputation.models import ReliabilityScore, SubjectKind
from reputation.scoring import Evidence
from reputation.services import rank_order
from reputation.tiers import ranking_evidence
from tests.conftest import START
from tests.integration.social.conftest import connect
from tests.support.deals import bearer
from tests.support.marketplace import GIG_FORM, add_social_account, make_gig


async def test_a_gig_requiring_a_verified_audience_through_the_form_and_api(
    runtime: Any, people: Any, make_web: Any, db: Any, client: Any
) -> None:
    brand = await people.brand()
    web = await make_web()
    await web.sign_in(brand.email, brand.password)
    form = await web.get("/brand/gigs/new")
    assert 'name="verified_audience_required"' in form.text
    response = await web.post("/brand/gigs", {**GIG_FORM, "verified_audience_required": "on"})
    assert response.status_code == 303, response.text[:500]
    gig = await db.scalar(sa.select(Gig).where(Gig.brand_id == brand.brand_id))
    assert gig.verified_audience_required is True
    edit = await web.get(f"/brand/gigs/{gig.id}")
    assert edit.status_code == 200 and 'name="verified_audience_required" checked' in edit.text

    headers = await bearer(runtime, brand)
    shown = (await client.get(f"/api/v1/gigs/{gig.id}", headers=headers)).json()
    assert shown["verified_audience_required"] is True
    patched = await client.patch(f"/api/v1/gigs/{gig.id}", json={"verified_audience_required": False},
                                 headers=headers)
    assert patched.status_code == 200, patched.text
    assert patched.json()["verified_audience_required"] is False
    bad = await client.patch(f"/api/v1/gigs/{gig.id}", json={"verified_audience_required": "maybe"}, headers=headers)
    assert bad.status_code in (400, 422)
    await db.refresh(gig)
    assert gig.verified_audience_required is False


async def test_typed_numbers_do_not_meet_a_verified_bar_connected_ones_do(
    runtime: Any, people: Any, make_web: Any, social: Any, limiter: Any
) -> None:
    brand = await people.brand()
    gig = await make_gig(runtime, brand, min_followers=10_000, verified_audience_required=True)
    creator = await people.creator(name="Typed then connected")
    await add_social_account(runtime, creator, platform="tiktok", handle="mia", followers=50_000)
    web = await make_web()
    await web.sign_in(creator.email, creator.password)

    page = await web.get(f"/gigs/{gig.id}")
    assert page.status_code == 200
    assert "this gig needs a verified audience: connect your tiktok account" in page.text.lower()

    social.add_account("tiktok", "mia", followers=8_000)
    assert (await connect(web, social, "tiktok", "mia")).status_code == 303
    page = await web.get(f"/gigs/{gig.id}")
    assert "This gig needs at least 10,000 verified followers; your largest matching connected account has 8,000." \
        in page.text

    social.accounts[("tiktok", "mia")].followers = 12_000
    from marketplace.social.jobs import refresh_audiences

    runtime.clock.advance(timedelta(minutes=5))
    assert await refresh_audiences(runtime.job_context()) == 1
    page = await web.get(f"/gigs/{gig.id}")
    assert "verified followers" not in page.text and "needs a verified audience" not in page.text
    listing = await web.get("/gigs")
    assert listing.status_code == 200


async def _score(db: Any, creator_id: Any) -> ReliabilityScore:
    db.expire_all()
    return await db.scalar(sa.select(ReliabilityScore).where(
        ReliabilityScore.subject_kind == SubjectKind.CREATOR, ReliabilityScore.subject_id == creator_id))


async def test_a_verified_newcomer_ranks_as_the_simulation_says(
    runtime: Any, people: Any, make_web: Any, social: Any, limiter: Any, db: Any
) -> None:
    blank = await people.creator(name="Blank Bea")
    await add_social_account(runtime, blank, platform="tiktok", handle="bea", followers=90_000)
    verified = await people.creator(name="Verified Vic")
    # Real history: posts older than the PostPact account.
    social.add_account("instagram", "vic", followers=3_000)
    social.add_media("instagram", "vic", "CoLdPoSt001", caption="old post", published_at=START - timedelta(days=400),
                     likes=90)
    web = await make_web()
    await web.sign_in(verified.email, verified.password)
    assert (await connect(web, social, "instagram", "vic")).status_code == 303

    row = await _score(db, verified.creator_id)
    prior = ranking_evidence(Evidence(), verified_audience=True)
    assert row.verified_audience is True
    # The order the simulation ranks by (scoring.ranking_key of the prior), while the proven score stays 0.
    from reputation.scoring import ranking_key

    assert row.rank_order == rank_order(*ranking_key(prior, runtime.clock.now()))
    assert row.ranking_score == 0.0 and row.tier == "NEW"
    assert row.rank_order > (await _score(db, blank.creator_id)).rank_order

    brand = await people.brand()
    brand_web = await make_web()
    await brand_web.sign_in(brand.email, brand.password)
    page = (await brand_web.get("/brand/creators/?sort=reliability")).text
    assert page.index("Verified Vic") < page.index("Blank Bea")
    # The prior is a ranking tie-break, not proof: a minimum proven reliability still leaves both out.
    assert "Verified Vic" not in (await brand_web.get("/brand/creators/?reliability_min=10")).text

    # The daily re-ranking keeps it; disconnecting takes it away.
    from reputation.recompute import recompute_all, refresh_rankings

    await refresh_rankings(runtime.session_maker, runtime.clock.now())
    assert (await _score(db, verified.creator_id)).rank_order == row.rank_order
    report = await recompute_all(runtime.session_maker, now=runtime.clock.now())
    assert (await _score(db, verified.creator_id)).rank_order == row.rank_order and report.subjects >= 2
    assert (await web.post("/creator/social/instagram/disconnect")).status_code == 303
    after = await _score(db, verified.creator_id)
    assert after.verified_audience is False and after.rank_order == (await _score(db, blank.creator_id)).rank_order


async def test_no_prior_without_history_or_for_a_handle_another_account_holds(
    runtime: Any, people: Any, make_web: Any, social: Any, limiter: Any, db: Any
) -> None:
    fresh = await people.creator(name="Fresh Fay")
    joined = await db.scalar(sa.select(Creator.created_at).where(Creator.id == fresh.creator_id))
    social.add_account("tiktok", "fay", followers=5_000)  # its only post is newer than the PostPact account
    social.add_media("tiktok", "fay", "7559684939684400414", caption="new", published_at=joined + timedelta(hours=1))
    web = await make_web()
    await web.sign_in(fresh.email, fresh.password)
    assert (await connect(web, social, "tiktok", "fay")).status_code == 303
    assert (await _score(db, fresh.creator_id)).verified_audience is False

    # A ghoster's old account keeps its handle; connecting the same audience to a new account earns nothing.
    old = await people.creator(name="Old Ollie")
    await add_social_account(runtime, old, platform="instagram", handle="ollie", followers=20_000)
    new = await people.creator(name="New Ollie")
    social.add_account("instagram", "ollie", followers=20_000)
    social.add_media("instagram", "ollie", "CoLdPoSt002", caption="old", published_at=START - timedelta(days=300))
    new_web = await make_web()
    await new_web.sign_in(new.email, new.password)
    assert (await connect(new_web, social, "instagram", "ollie")).status_code == 303
    assert (await _score(db, new.creator_id)).verified_audience is False


GHOSTERS_DOOR = {"recipient_name": "Sam Vale", "line1": "12 Baker Street", "line2": "Apt. 4", "city": "London",
                 "region": "", "postal_code": "NW1 6XE", "address_country": "GB", "phone": ""}
NEXT_DOOR = {**GHOSTERS_DOOR, "recipient_name": "Kit Lane", "line1": "14 Baker Street", "line2": ""}


async def test_no_prior_for_an_account_at_a_ghosters_delivery_address(
    runtime: Any, people: Any, make_web: Any, social: Any, limiter: Any, db: Any, clock: Any
) -> None:
    from tests.support.reputation import creator_at, ghost, make_collaboration

    ghoster, _ = await creator_at(make_web, people, GHOSTERS_DOOR)
    await ghost(runtime, clock, await make_collaboration(runtime, creator=ghoster))
    for handle in ("samv2", "kitlane"):
        social.add_account("instagram", handle, followers=4_000)
        social.add_media("instagram", handle, f"CoLd{handle}", caption="old", published_at=START - timedelta(days=500))
    fresh, fresh_web = await creator_at(make_web, people, GHOSTERS_DOOR)
    neighbour, neighbour_web = await creator_at(make_web, people, NEXT_DOOR)
    assert (await connect(fresh_web, social, "instagram", "samv2")).status_code == 303
    assert (await connect(neighbour_web, social, "instagram", "kitlane")).status_code == 303
    assert (await _score(db, fresh.creator_id)).verified_audience is False
    assert (await _score(db, neighbour.creator_id)).verified_audience is True
