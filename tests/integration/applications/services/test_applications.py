"""Applying, withdrawing, accepting within the slots (all or none, never overfilled) and declining."""

from __future__ import annotations

import asyncio

import pytest
import sqlalchemy as sa

from marketplace.applications.models import Application, ApplicationStatus
from marketplace.applications.services import ApplicationFilters, ApplicationService
from marketplace.collaborations.models import Collaboration
from marketplace.db import session_scope
from marketplace.errors import Conflict, InvalidInput, NotFound
from marketplace.gigs.models import Gig
from marketplace.gigs.services import GigService
from marketplace.notifications.models import Notification
from tests.support.marketplace import (
    accept_application,
    actor_for,
    add_social_account,
    apply_to_gig,
    make_creator_with_account,
    make_gig,
)


async def service_call(runtime, person, method: str, *args, **kwargs):
    actor = await actor_for(runtime, person)
    async with session_scope(runtime.session_maker) as session:
        return await getattr(ApplicationService(session, runtime), method)(actor, *args, **kwargs)


async def count(db, model=Application, *where) -> int:
    return await db.scalar(sa.select(sa.func.count(model.id)).where(*where))


async def test_apply_checks_the_gig_the_account_and_eligibility(runtime, people, db, clock) -> None:
    brand = await people.brand()
    gig = await make_gig(runtime, brand, eligible_countries=["US"])
    creator = await make_creator_with_account(runtime, people, country="US")
    other = await make_creator_with_account(runtime, people, country="US")
    youtube = await add_social_account(runtime, creator.person, platform="youtube")
    base = {"pitch": "I'd love to.", "social_account_id": creator.account.id}
    with pytest.raises(InvalidInput) as caught:
        await service_call(runtime, creator.person, "apply", gig.id, {**base, "social_account_id": other.account.id})
    assert "own social accounts" in caught.value.errors["social_account_id"]
    with pytest.raises(InvalidInput) as caught:
        await service_call(runtime, creator.person, "apply", gig.id, {**base, "social_account_id": youtube.id})
    assert "This gig is for TikTok" in caught.value.errors["social_account_id"]
    with pytest.raises(InvalidInput) as caught:
        await service_call(runtime, creator.person, "apply", gig.id,
                           {**base, "pitch": "", "counter_offer_amount": -5})
    assert set(caught.value.errors) == {"pitch", "counter_offer.amount"}
    abroad = await make_creator_with_account(runtime, people, country="FR")
    with pytest.raises(InvalidInput) as caught:
        await service_call(runtime, abroad.person, "apply", gig.id,
                           {**base, "social_account_id": abroad.account.id})
    assert caught.value.errors["eligibility"] == "This gig is open to creators in US."
    assert await count(db) == 0
    application = await service_call(runtime, creator.person, "apply", gig.id, {**base, "counter_offer_amount": 9000})
    assert application.counter_offer_amount == 9000 and application.brand_id == brand.brand_id
    with pytest.raises(Conflict):
        await service_call(runtime, creator.person, "apply", gig.id, base)
    assert await count(db) == 1
    told = await db.scalar(sa.select(Notification).where(Notification.user_id == brand.user_id))
    assert told.kind == "application.received"
    clock.advance(days=30)  # past apply-by
    with pytest.raises(Conflict) as closed:
        await service_call(runtime, other.person, "apply", gig.id, {**base, "social_account_id": other.account.id})
    assert "closed on" in closed.value.message


async def test_drafts_cannot_be_applied_to_and_withdrawn_applications_reopen(runtime, people, db) -> None:
    brand = await people.brand()
    draft = await make_gig(runtime, brand, publish=False)
    creator = await make_creator_with_account(runtime, people)
    with pytest.raises(NotFound):
        await apply_to_gig(runtime, creator.person, draft.id, creator.account.id)
    gig = await make_gig(runtime, brand)
    first = await apply_to_gig(runtime, creator.person, gig.id, creator.account.id, pitch="First try")
    withdrawn = await service_call(runtime, creator.person, "withdraw", first.id)
    assert withdrawn.status is ApplicationStatus.WITHDRAWN
    again = await apply_to_gig(runtime, creator.person, gig.id, creator.account.id, pitch="Second try")
    assert again.id == first.id and again.status is ApplicationStatus.PENDING and again.pitch == "Second try"
    other = await make_creator_with_account(runtime, people)
    with pytest.raises(NotFound):  # another creator's application doesn't exist for them
        await service_call(runtime, other.person, "withdraw", first.id)
    await accept_application(runtime, brand, gig.id, first.id)
    with pytest.raises(Conflict):
        await service_call(runtime, creator.person, "withdraw", first.id)


async def test_accepting_is_all_or_none_within_the_slots(runtime, people, db) -> None:
    brand = await people.brand()
    gig = await make_gig(runtime, brand, slots=2)
    applications = []
    for _ in range(3):
        made = await make_creator_with_account(runtime, people)
        applications.append(await apply_to_gig(runtime, made.person, gig.id, made.account.id))
    ids = [a.id for a in applications]
    with pytest.raises(Conflict) as caught:
        await service_call(runtime, brand, "accept", gig.id, ids)
    assert "2 slot(s) and 0 are taken" in caught.value.message
    assert await count(db, Application, Application.status == ApplicationStatus.ACCEPTED) == 0
    assert await count(db, Collaboration) == 0
    decision = await service_call(runtime, brand, "accept", gig.id, ids[:2])
    assert len(decision.decided) == 2 and len(decision.collaborations) == 2
    retry = await service_call(runtime, brand, "accept", gig.id, ids[:2])  # a retried request changes nothing
    assert retry.decided == [] and len(retry.unchanged) == 2
    with pytest.raises(Conflict):
        await service_call(runtime, brand, "accept", gig.id, ids[2:])
    declined = await service_call(runtime, brand, "decline", gig.id, ids[2:], "We went with others")
    assert declined.decided[0].decline_reason == "We went with others"
    with pytest.raises(Conflict):
        await service_call(runtime, brand, "accept", gig.id, ids[2:])
    assert await count(db, Collaboration) == 2
    with pytest.raises(InvalidInput):  # ids of another gig are refused as a whole
        await service_call(runtime, brand, "accept", (await make_gig(runtime, brand)).id, ids[:1])


async def test_other_brands_cannot_decide(runtime, people, db) -> None:
    brand = await people.brand()
    gig = await make_gig(runtime, brand)
    made = await make_creator_with_account(runtime, people)
    application = await apply_to_gig(runtime, made.person, gig.id, made.account.id)
    rival = await people.brand(brand_name="Rival")
    for method in ("accept", "decline"):
        with pytest.raises(NotFound):
            await service_call(runtime, rival, method, gig.id, [application.id])
    with pytest.raises(NotFound):
        await service_call(runtime, rival, "applicants", gig.id, ApplicationFilters())
    assert (await db.get(Application, application.id)).status is ApplicationStatus.PENDING


async def test_editing_the_gig_after_acceptance_keeps_the_signed_terms(runtime, people, db) -> None:
    brand = await people.brand()
    gig = await make_gig(runtime, brand, slots=2)
    made = await make_creator_with_account(runtime, people)
    application = await apply_to_gig(runtime, made.person, gig.id, made.account.id)
    collab = await accept_application(runtime, brand, gig.id, application.id)
    actor = await actor_for(runtime, brand)
    async with session_scope(runtime.session_maker) as session:
        await GigService(session, runtime).update_gig(actor, gig.id, {
            "base_fee_amount": 99_000, "brief": "A whole new brief",
            "deliverables": [{"platform": "tiktok", "kind": "video", "count": 5}],
        })
    with pytest.raises(InvalidInput) as caught:  # slots can't drop below what is already accepted
        async with session_scope(runtime.session_maker) as session:
            await GigService(session, runtime).update_gig(actor, gig.id, {"slots": 0})
    assert "slots" in caught.value.errors
    stored = await db.get(Collaboration, collab.id)
    assert stored.fee_amount == 15_000 and stored.terms["brief"] != "A whole new brief"
    assert stored.terms["deliverables"][0]["count"] == 1 and stored.terms_hash == collab.terms_hash
    assert (await db.get(Gig, gig.id)).base_fee_amount == 99_000


async def test_brand_list_shows_reach_and_track_record_and_sorts(runtime, people) -> None:
    brand = await people.brand()
    gig = await make_gig(runtime, brand, slots=5)
    small = await make_creator_with_account(runtime, people, followers=2_000)
    big = await make_creator_with_account(runtime, people, followers=90_000)
    await apply_to_gig(runtime, small.person, gig.id, small.account.id)
    await apply_to_gig(runtime, big.person, gig.id, big.account.id)
    page = await service_call(runtime, brand, "applicants", gig.id, ApplicationFilters(sort="followers", limit=1))
    assert [row.account.followers for row in page.items] == [90_000] and page.next_cursor
    rest = await service_call(runtime, brand, "applicants", gig.id,
                              ApplicationFilters(sort="followers", limit=1, cursor=page.next_cursor))
    assert [row.account.followers for row in rest.items] == [2_000] and rest.next_cursor is None
    filtered = await service_call(runtime, brand, "applicants", gig.id, ApplicationFilters(followers_min=10_000))
    assert [row.creator.id for row in filtered.items] == [big.creator_id]
    assert filtered.slots == 5 and filtered.slots_taken == 0


@pytest.mark.postgres_only("row locks are PostgreSQL's; SQLite serialises writers with BEGIN IMMEDIATE anyway")
async def test_concurrent_accepts_never_overfill_a_gig(runtime, people, db) -> None:
    """Two brand sessions accept different applications for the last slot at the same moment (PostgreSQL)."""
    brand = await people.brand()
    gig = await make_gig(runtime, brand, slots=1)
    applications = []
    for _ in range(2):
        made = await make_creator_with_account(runtime, people)
        applications.append(await apply_to_gig(runtime, made.person, gig.id, made.account.id))
    actor = await actor_for(runtime, brand)
    gate = asyncio.Event()

    async def accept(application_id):
        async with session_scope(runtime.session_maker) as session:
            await session.execute(sa.text("SELECT 1"))  # both transactions are open before either locks the gig
            await gate.wait()
            return await ApplicationService(session, runtime).accept(actor, gig.id, [application_id])

    tasks = [asyncio.create_task(accept(a.id)) for a in applications]
    await asyncio.sleep(0.2)
    gate.set()
    results = await asyncio.gather(*tasks, return_exceptions=True)
    assert sorted(type(r).__name__ for r in results) == ["Conflict", "Decision"], results
    assert await count(db, Application, Application.status == ApplicationStatus.ACCEPTED) == 1
    assert await count(db, Collaboration) == 1
