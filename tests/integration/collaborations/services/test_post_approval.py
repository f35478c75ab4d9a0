"""The brand's last steps: accepting a post by hand when verification can't decide, and approving the verified post,
which releases the creator's fee from escrow; and the tier caps that bind when a creator signs."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from escrow.states import EscrowState
from marketplace.collaborations.models import Collaboration, CollaborationEvent, PostSubmission
from marketplace.collaborations.services import DealService
from marketplace.collaborations.states import CollabState, IllegalTransition, RoleNotAllowed
from marketplace.db import session_scope
from marketplace.errors import Conflict
from tests.support.deals import brand_actor, creator_actor, make_deal
from tests.support.escrow import funded_deal, hold_of, run_jobs


async def _events(db, deal_id, action: str) -> int:
    return await db.scalar(sa.select(sa.func.count(CollaborationEvent.id)).where(
        CollaborationEvent.collaboration_id == deal_id, CollaborationEvent.action == action))


async def test_approving_the_verified_post_pays_the_creator_once(runtime, db) -> None:
    deal = await funded_deal(runtime, CollabState.VERIFIED, onboarded=True)
    async with session_scope(runtime.session_maker) as session:
        await DealService.of(session, runtime).approve_post(deal.id, brand_actor(deal.brand), comment="Great post")
    await run_jobs(runtime)
    collab = await db.get(Collaboration, deal.id)
    assert collab.status is CollabState.RELEASED
    assert (await hold_of(db, deal.id)).state is EscrowState.RELEASED
    # Approving twice is refused and books nothing more.
    with pytest.raises(IllegalTransition):
        async with session_scope(runtime.session_maker) as session:
            await DealService.of(session, runtime).approve_post(deal.id, brand_actor(deal.brand))
    assert await _events(db, deal.id, "approve_post") == 1


async def test_the_creator_cannot_approve_their_own_post(runtime, db) -> None:
    deal = await funded_deal(runtime, CollabState.VERIFIED, onboarded=True)
    with pytest.raises(RoleNotAllowed):
        async with session_scope(runtime.session_maker) as session:
            await DealService.of(session, runtime).approve_post(deal.id, creator_actor(deal.creator))
    assert (await db.get(Collaboration, deal.id)).status is CollabState.VERIFIED
    assert (await hold_of(db, deal.id)).state is EscrowState.FUNDED


async def test_accepting_by_hand_only_when_verification_needs_review(runtime, db) -> None:
    deal = await make_deal(runtime, CollabState.POSTED)
    with pytest.raises(Conflict, match="still checking"):
        async with session_scope(runtime.session_maker) as session:
            await DealService.of(session, runtime).accept_post_by_hand(deal.id, brand_actor(deal.brand))
    await db.execute(sa.update(PostSubmission).where(PostSubmission.collaboration_id == deal.id)
                     .values(verification_status="needs_review"))
    async with session_scope(runtime.session_maker) as session:
        await DealService.of(session, runtime).accept_post_by_hand(deal.id, brand_actor(deal.brand),
                                                                   note="Checked the video myself")
    collab = await db.get(Collaboration, deal.id)
    assert collab.status is CollabState.VERIFIED
    event = await db.scalar(sa.select(CollaborationEvent).where(CollaborationEvent.collaboration_id == deal.id,
                                                                CollaborationEvent.action == "mark_verified"))
    assert event.actor_party == "brand" and event.payload["by_hand"] is True
    assert event.payload["verification_status"] == "needs_review"


async def test_approve_post_through_the_page_and_api(runtime, web, client, db) -> None:
    from tests.support.deals import bearer

    deal = await funded_deal(runtime, CollabState.VERIFIED, onboarded=True)
    await web.sign_in(deal.brand.email, deal.brand.password)
    page = await web.get(deal.url)
    assert f'action="/collaborations/{deal.id}/approve-post"' in page.text
    response = await web.post(f"/collaborations/{deal.id}/approve-post", {"comment": ""})
    assert response.status_code == 303
    await run_jobs(runtime)
    assert (await db.get(Collaboration, deal.id)).status is CollabState.RELEASED

    other = await funded_deal(runtime, CollabState.VERIFIED, onboarded=True)
    api = await client.post(f"/api/v1/collaborations/{other.id}/approve-post", json={"comment": "ok"},
                            headers=await bearer(runtime, other.brand))
    assert api.status_code == 200, api.text
    denied = await client.post(f"/api/v1/collaborations/{other.id}/approve-post", json={},
                               headers=await bearer(runtime, deal.brand))
    assert denied.status_code == 404


async def test_a_newcomer_cannot_sign_more_deals_than_their_tier_allows(runtime, people, db) -> None:
    creator = await people.creator()
    first = await make_deal(runtime, CollabState.SIGNED, creator=creator)
    second = await make_deal(runtime, CollabState.OFFERED, creator=creator)
    assert first.creator.creator_id == second.creator.creator_id
    collab = await db.get(Collaboration, second.id)
    with pytest.raises(Conflict, match="not yet posted"):
        async with session_scope(runtime.session_maker) as session:
            await DealService.of(session, runtime).sign(second.id, creator_actor(creator), terms_hash=collab.terms_hash)
    assert (await db.get(Collaboration, second.id)).status is CollabState.OFFERED


async def test_deal_page_shows_the_escrow_and_the_way_to_dispute(runtime, make_web, people) -> None:
    deal = await funded_deal(runtime, CollabState.RECEIVED)
    brand = await make_web()
    await brand.sign_in(deal.brand.email, deal.brand.password)
    page = await brand.get(deal.url)
    assert page.status_code == 200
    assert "Held now" in page.text and "$162.00" in page.text  # $150 fee + 8% PostPact fee held in escrow
    assert f'href="/collaborations/{deal.id}/dispute"' in page.text
    admin = await people.admin()
    as_admin = await make_web()
    await as_admin.sign_in(admin.email, admin.password)
    admin_page = await as_admin.get(deal.url)
    assert admin_page.status_code == 200 and "Held now" in admin_page.text
    assert f'href="/collaborations/{deal.id}/dispute"' not in admin_page.text
