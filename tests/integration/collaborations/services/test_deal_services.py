"""Deal services in real transactions: money-safe cancelling, rules the table can't express, rows they write."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest
import sqlalchemy as sa

from marketplace.brands.models import BrandRole
from marketplace.collaborations.models import Collaboration, CollaborationEvent, ContentDraft, PostSubmission
from marketplace.collaborations.services import DealService
from marketplace.collaborations.states import CollabState, IllegalTransition, RoleNotAllowed
from marketplace.creators.models import ShippingAddress
from marketplace.db import session_scope
from marketplace.errors import Conflict, InvalidInput, NotFound, PaymentsUnavailable
from marketplace.payments import hooks
from marketplace.verification import listener as verification_listener
from tests.support.deals import brand_actor, creator_actor, make_deal


async def event_count(db, collab_id) -> int:
    return await db.scalar(
        sa.select(sa.func.count(CollaborationEvent.id)).where(CollaborationEvent.collaboration_id == collab_id)
    )


async def run(runtime, step):
    """One transaction, like one request: committed if ``step`` returns, rolled back if it raises."""
    async with session_scope(runtime.session_maker) as session:
        return await step(DealService.of(session, runtime))


# --- cancelling and money -------------------------------------------------------------------------------------------


async def test_cancelling_a_funded_deal_refunds_the_brand_through_escrow(runtime, db, monkeypatch) -> None:
    refunds = []

    async def fake_refund(session, collab, *, now, reason, **_):
        refunds.append((collab.id, collab.status, reason))

    monkeypatch.setattr(hooks, "refund_to_brand", fake_refund)
    deal = await make_deal(runtime, CollabState.FUNDED)
    await run(runtime, lambda d: d.cancel(deal.id, brand_actor(deal.brand), reason="Product recalled"))
    collab = await db.get(Collaboration, deal.id)
    assert collab.status is CollabState.CANCELLED and collab.ended_at is not None
    # The hook ran in the same transaction, after the transition was recorded.
    assert refunds == [(deal.id, CollabState.CANCELLED, "cancel")]
    last = await db.scalar(sa.select(CollaborationEvent).where(CollaborationEvent.collaboration_id == deal.id)
                           .order_by(CollaborationEvent.seq.desc()).limit(1))
    assert last.action == "cancel" and last.payload == {"reason": "Product recalled"}


async def escrow_down(*_args, **_kwargs):
    raise hooks.EscrowUnavailable("escrow is not running")


async def test_without_escrow_a_funded_deal_cannot_be_cancelled_and_nothing_changes(runtime, db, monkeypatch) -> None:
    monkeypatch.setattr(hooks, "refund_to_brand", escrow_down)
    deal = await make_deal(runtime, CollabState.FUNDED)
    before = await event_count(db, deal.id)
    with pytest.raises(PaymentsUnavailable) as caught:
        await run(runtime, lambda d: d.cancel(deal.id, creator_actor(deal.creator)))
    assert caught.value.status_code == 503 and "Payments are not available" in caught.value.message
    assert (await db.get(Collaboration, deal.id)).status is CollabState.FUNDED
    assert await event_count(db, deal.id) == before


async def test_escrow_refusing_a_refund_refuses_the_cancellation(runtime, db, monkeypatch) -> None:
    async def refuse(*_args, **_kwargs):
        raise Conflict("A refund is already in progress.")

    monkeypatch.setattr(hooks, "refund_to_brand", refuse)
    deal = await make_deal(runtime, CollabState.FUNDED)
    with pytest.raises(Conflict, match="already in progress"):
        await run(runtime, lambda d: d.cancel(deal.id, brand_actor(deal.brand)))
    assert (await db.get(Collaboration, deal.id)).status is CollabState.FUNDED


async def test_offers_end_without_escrow_and_signed_deals_close_it(runtime, db, monkeypatch) -> None:
    calls = []

    async def fake_refund(session, collab, *, now, reason, **_):
        calls.append((collab.id, reason))

    monkeypatch.setattr(hooks, "refund_to_brand", fake_refund)
    declined = await make_deal(runtime)
    await run(runtime, lambda d: d.decline_offer(declined.id, creator_actor(declined.creator), reason="Busy"))
    withdrawn = await make_deal(runtime)
    await run(runtime, lambda d: d.end_deal(withdrawn.id, brand_actor(withdrawn.brand)))
    assert calls == []  # an offer never had a payment
    signed = await make_deal(runtime, CollabState.SIGNED)
    await run(runtime, lambda d: d.cancel(signed.id, creator_actor(signed.creator)))
    # The brand may have been paying at that moment: escrow is asked to close the hold.
    assert calls == [(signed.id, "cancel")]
    for deal, action in ((signed, "cancel"), (declined, "decline_offer"), (withdrawn, "withdraw_offer")):
        assert (await db.get(Collaboration, deal.id)).status is CollabState.CANCELLED
        assert await db.scalar(sa.select(CollaborationEvent.action).where(
            CollaborationEvent.collaboration_id == deal.id).order_by(CollaborationEvent.seq.desc()).limit(1)) == action


async def test_a_signed_deal_cancels_even_when_escrow_is_not_running(runtime, db, monkeypatch) -> None:
    monkeypatch.setattr(hooks, "refund_to_brand", escrow_down)
    deal = await make_deal(runtime, CollabState.SIGNED)
    await run(runtime, lambda d: d.cancel(deal.id, brand_actor(deal.brand)))
    assert (await db.get(Collaboration, deal.id)).status is CollabState.CANCELLED


async def test_creator_may_cancel_only_once_the_ship_by_date_passed(runtime, db, clock, monkeypatch) -> None:
    refunds = []

    async def fake_refund(session, collab, *, now, reason, **_):
        refunds.append(reason)

    monkeypatch.setattr(hooks, "refund_to_brand", fake_refund)
    deal = await make_deal(runtime, CollabState.FUNDED)
    with pytest.raises(IllegalTransition, match="still has time to ship"):
        await run(runtime, lambda d: d.cancel(deal.id, creator_actor(deal.creator), no_show=True))
    clock.advance(days=7, minutes=1)
    await run(runtime, lambda d: d.cancel(deal.id, creator_actor(deal.creator), no_show=True))
    assert (await db.get(Collaboration, deal.id)).status is CollabState.CANCELLED
    assert refunds == ["cancel_no_show"]


# --- signing --------------------------------------------------------------------------------------------------------


async def test_signing_quotes_the_terms_hash_and_needs_an_address_for_products(runtime, db) -> None:
    deal = await make_deal(runtime, with_address=False)
    creator = creator_actor(deal.creator)
    collab = await db.get(Collaboration, deal.id)
    with pytest.raises(InvalidInput) as caught:
        await run(runtime, lambda d: d.sign(deal.id, creator, terms_hash="0" * 64))
    assert "terms_hash" in caught.value.errors
    with pytest.raises(Conflict, match="shipping address"):
        await run(runtime, lambda d: d.sign(deal.id, creator, terms_hash=collab.terms_hash))
    assert (await db.get(Collaboration, deal.id)).status is CollabState.OFFERED
    assert await event_count(db, deal.id) == 1

    productless = await make_deal(runtime, product_included=False, with_address=False, creator=deal.creator)
    terms_hash = (await db.get(Collaboration, productless.id)).terms_hash
    await run(runtime, lambda d: d.sign(productless.id, creator, terms_hash=terms_hash.upper()))
    assert (await db.get(Collaboration, productless.id)).status is CollabState.SIGNED
    assert await db.scalar(sa.select(ShippingAddress.id).where(
        ShippingAddress.creator_id == deal.creator.creator_id)) is None


# --- who may act ----------------------------------------------------------------------------------------------------


async def test_finance_members_can_not_take_deal_steps(runtime, db, people) -> None:
    deal = await make_deal(runtime, CollabState.DRAFT_SUBMITTED)
    finance = await people.brand(brand_id=deal.brand.brand_id, role=BrandRole.FINANCE)
    with pytest.raises(RoleNotAllowed) as caught:
        await run(runtime, lambda d: d.approve_draft(deal.id, brand_actor(finance, BrandRole.FINANCE)))
    assert caught.value.status_code == 403
    manager = await people.brand(brand_id=deal.brand.brand_id, role=BrandRole.MANAGER)
    await run(runtime, lambda d: d.approve_draft(deal.id, brand_actor(manager, BrandRole.MANAGER)))
    assert (await db.get(Collaboration, deal.id)).status is CollabState.DRAFT_APPROVED


async def test_outsiders_get_not_found_before_their_input_is_even_read(runtime, db) -> None:
    deal = await make_deal(runtime, CollabState.FUNDED)
    other = await make_deal(runtime, CollabState.FUNDED)
    with pytest.raises(NotFound):
        await run(runtime, lambda d: d.ship(deal.id, brand_actor(other.brand), carrier="", tracking_number=""))
    with pytest.raises(NotFound):
        await run(runtime, lambda d: d.cancel(deal.id, creator_actor(other.creator)))
    assert (await db.get(Collaboration, deal.id)).status is CollabState.FUNDED


async def test_revision_rounds_run_out(runtime, db) -> None:
    deal = await make_deal(runtime, CollabState.CHANGES_REQUESTED)
    await run(runtime, lambda d: d.submit_draft(deal.id, creator_actor(deal.creator), caption="Take two",
                                                media_url="https://drive.example.com/2.mp4"))
    with pytest.raises(IllegalTransition, match="revision round"):
        await run(runtime, lambda d: d.request_changes(deal.id, brand_actor(deal.brand), comment="Again"))
    drafts = (await db.scalars(sa.select(ContentDraft).where(ContentDraft.collaboration_id == deal.id)
                               .order_by(ContentDraft.round))).all()
    assert [(d.round, d.review.value) for d in drafts] == [(1, "changes_requested"), (2, "pending")]


async def test_two_managers_approving_the_same_draft_at_once_make_one_transition(
    runtime, db, people, is_postgres
) -> None:
    deal = await make_deal(runtime, CollabState.DRAFT_SUBMITTED)
    managers = [await people.brand(brand_id=deal.brand.brand_id, role=BrandRole.MANAGER) for _ in range(2)]
    # On PostgreSQL both transactions are open before either locks the row; SQLite's BEGIN IMMEDIATE already
    # queues the second writer at BEGIN, so waiting there for the other would only dead-wait.
    both_open = asyncio.Barrier(2) if is_postgres else None

    async def approve(manager):
        async with session_scope(runtime.session_maker) as session:
            await session.execute(sa.text("SELECT 1"))
            if both_open:
                await both_open.wait()
            await DealService.of(session, runtime).approve_draft(deal.id, brand_actor(manager, BrandRole.MANAGER))

    results = await asyncio.gather(*(approve(m) for m in managers), return_exceptions=True)
    assert sorted(type(r).__name__ for r in results) == ["IllegalTransition", "NoneType"], results
    approvals = await db.scalar(sa.select(sa.func.count(CollaborationEvent.id)).where(
        CollaborationEvent.collaboration_id == deal.id, CollaborationEvent.action == "approve_draft"))
    assert approvals == 1
    collab = await db.get(Collaboration, deal.id)
    assert collab.status is CollabState.DRAFT_APPROVED and collab.event_count == await event_count(db, deal.id)


# --- posts ----------------------------------------------------------------------------------------------------------


async def test_post_links_must_match_the_deal_and_not_be_reused(runtime, db, monkeypatch) -> None:
    seen = []

    async def record(session, collab, submission, now):
        seen.append((collab.status, submission.post_ref))

    monkeypatch.setattr(verification_listener, "start_verification", record)
    deal = await make_deal(runtime, CollabState.DRAFT_APPROVED)
    creator = creator_actor(deal.creator)
    for url, message in (
        ("https://www.youtube.com/watch?v=dQw4w9WgXcQ", "for a TikTok post"),
        ("https://vm.tiktok.com/ZMabc/", "short links"),
        ("not a link at all", "Only TikTok, YouTube and Instagram"),
        ("https://www.tiktok.com@evil.example/@x/video/7312345678901234567", "hides another address"),
    ):
        with pytest.raises(InvalidInput) as caught:
            await run(runtime, lambda d, url=url: d.submit_post(deal.id, creator, url=url))
        assert message in caught.value.errors["url"], (url, caught.value.errors)

    first_url = deal.post_url("7312345678901234567")
    await run(runtime, lambda d: d.submit_post(deal.id, creator, url=first_url))
    # Verification failed, say; the creator fixes the post and submits it again.
    await run(runtime, lambda d: d.submit_post(deal.id, creator, url=deal.post_url("7312345678901234568")))
    posts = (await db.scalars(sa.select(PostSubmission).where(PostSubmission.collaboration_id == deal.id)
                              .order_by(PostSubmission.created_at, PostSubmission.id))).all()
    assert [(p.post_ref, p.is_current) for p in posts] == [("7312345678901234567", False),
                                                           ("7312345678901234568", True)]
    assert seen == [(CollabState.POSTED, "7312345678901234567"), (CollabState.POSTED, "7312345678901234568")]

    other = await make_deal(runtime, CollabState.DRAFT_APPROVED, creator=deal.creator)
    with pytest.raises(InvalidInput, match="already submitted"):
        await run(runtime, lambda d: d.submit_post(other.id, creator, url=first_url))


async def test_deadlines_follow_the_steps(runtime, db, clock) -> None:
    deal = await make_deal(runtime, CollabState.FUNDED)
    clock.advance(days=2)
    await run(runtime, lambda d: d.ship(deal.id, brand_actor(deal.brand), carrier="DHL", tracking_number="JD0146"))
    collab = await db.get(Collaboration, deal.id)
    assert collab.next_due_stage == "receipt" and collab.next_due_party == "creator"
    assert collab.next_due_at == clock.now() + timedelta(days=14)
