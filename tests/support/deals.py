"""Test factories for deals: "a collaboration in state X for a new brand and creator", fast, through real services.

    deal = await make_deal(runtime, state=CollabState.DRAFT_SUBMITTED)
    deal = await make_deal(runtime, state=CollabState.FUNDED, product_included=False, brand=existing_brand_person)
    await advance_deal(runtime, deal, CollabState.POSTED)

The gig, social account, shipping address and accepted application are inserted with the models; the
collaboration is made by ``create_collaboration()`` and moved with ``DealService`` steps (as brand and creator) or
``transition(..., SYSTEM)`` for what escrow, verification and the worker do — so every row a real deal has exists.
"""

from __future__ import annotations

import secrets
import uuid
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from marketplace.applications.models import Application, ApplicationStatus
from marketplace.brands.models import BrandRole
from marketplace.collaborations.models import (
    Collaboration,
    CollaborationEvent,
    ContentDraft,
    PostSubmission,
    Shipment,
)
from marketplace.collaborations.services import DealService, create_collaboration
from marketplace.collaborations.states import SYSTEM, Action, CollabState, Party, TransitionActor
from marketplace.collaborations.transition import transition
from marketplace.collaborations.uploads import DraftUpload
from marketplace.creators.models import ContentKind, Platform, ShippingAddress, SocialAccount
from marketplace.db import session_scope
from marketplace.gigs.models import Deliverable, Gig, GigStatus
from marketplace.notifications.models import Notification
from marketplace.runtime import Runtime
from tests.support.db import PeopleFactory

PASSWORD = "correct-horse-battery"
#: A real (tiny) PNG, for draft uploads.
PNG_BYTES = bytes.fromhex(
    "89504e470d0a1a0a0000000d49484452000000010000000108060000001f15c489"
    "0000000d49444154789c63f8dfc0f01f000680027f104c1be10000000049454e44ae426082"
)


@dataclass
class Deal:
    """A collaboration and the people on both sides (their ``password`` signs them in)."""

    id: uuid.UUID
    brand: Any
    creator: Any
    gig_id: uuid.UUID
    application_id: uuid.UUID
    social_account_id: uuid.UUID
    platform: str
    handle: str
    product_included: bool

    @property
    def url(self) -> str:
        return f"/collaborations/{self.id}"

    def post_url(self, video_id: str | None = None) -> str:
        """A valid live-post link on the deal's platform and handle (a fresh post id each call)."""
        vid = video_id or str(7_300_000_000_000_000_000 + secrets.randbelow(10**17))
        if self.platform == "youtube":
            return f"https://www.youtube.com/watch?v={secrets.token_urlsafe(8)[:11].ljust(11, 'x')}"
        if self.platform == "instagram":
            return f"https://www.instagram.com/p/{secrets.token_urlsafe(8)[:11]}/"
        return f"https://www.tiktok.com/@{self.handle}/video/{vid}"


def brand_actor(person: Any, role: BrandRole = BrandRole.OWNER) -> TransitionActor:
    return TransitionActor(Party.BRAND, person.user_id, brand_id=person.brand_id, brand_role=role)


def creator_actor(person: Any) -> TransitionActor:
    return TransitionActor(Party.CREATOR, person.user_id, creator_id=person.creator_id)


#: The happy path, one step at a time: (state reached, how to get there).
_PATH: list[tuple[CollabState, str]] = [
    (CollabState.SIGNED, "sign"),
    (CollabState.FUNDED, "fund"),
    (CollabState.SHIPPED, "ship"),
    (CollabState.RECEIVED, "receive"),
    (CollabState.DRAFT_SUBMITTED, "draft"),
    (CollabState.DRAFT_APPROVED, "approve"),
    (CollabState.POSTED, "post"),
    (CollabState.VERIFIED, "verify"),
    (CollabState.RELEASED, "release"),
    (CollabState.COMPLETED, "complete"),
]
#: States off the happy path: (the happy-path state to reach first, then the last step).
_BRANCHES: dict[CollabState, tuple[CollabState, str]] = {
    CollabState.CANCELLED: (CollabState.OFFERED, "decline"),
    CollabState.CHANGES_REQUESTED: (CollabState.DRAFT_SUBMITTED, "request_changes"),
    CollabState.GHOSTED: (CollabState.FUNDED, "ghost"),
    CollabState.DISPUTED: (CollabState.FUNDED, "dispute"),
    CollabState.REFUNDED: (CollabState.FUNDED, "dispute+refund"),
    CollabState.SETTLED: (CollabState.FUNDED, "dispute+split"),
}


async def _step(deals: DealService, deal: Deal, step: str) -> None:
    session, now = deals.session, deals.clock.now()
    brand, creator = brand_actor(deal.brand), creator_actor(deal.creator)
    collab = await session.get(Collaboration, deal.id)
    assert collab is not None

    async def system(action: Action) -> None:
        await transition(session, deal.id, action, SYSTEM, now=now)

    if step == "sign":
        # Straight through transition(): factories reuse one creator for many deals, which the signature's tier
        # caps would refuse for a newcomer (DealService.sign and its caps have their own tests).
        await transition(session, deal.id, Action.SIGN, creator, now=now, payload={"terms_hash": collab.terms_hash})
    elif step == "fund":
        await system(Action.MARK_FUNDED)
    elif step == "ship":
        if deal.product_included:
            await deals.ship(deal.id, brand, carrier="UPS", tracking_number="1Z999AA10123456784")
    elif step == "receive":
        if deal.product_included:
            await deals.confirm_receipt(deal.id, creator)
    elif step == "draft":
        await deals.submit_draft(deal.id, creator, caption="Morning glow with @glowlab #ad #glowlab",
                                 media_url="https://drive.example.com/draft.mp4")
    elif step == "approve":
        await deals.approve_draft(deal.id, brand, comment="Lovely")
    elif step == "request_changes":
        await deals.request_changes(deal.id, brand, comment="Please show the label")
    elif step == "post":
        await deals.submit_post(deal.id, creator, url=deal.post_url())
    elif step == "verify":
        await system(Action.MARK_VERIFIED)
    elif step == "release":
        await system(Action.MARK_RELEASED)
    elif step == "complete":
        await system(Action.COMPLETE)
    elif step == "decline":
        await deals.decline_offer(deal.id, creator, reason="Not for me")
    elif step == "ghost":
        await system(Action.GHOST)
    elif step.startswith("dispute"):
        await system(Action.OPEN_DISPUTE)
        if step.endswith("+refund"):
            await system(Action.RESOLVE_REFUND)
        elif step.endswith("+split"):
            await system(Action.RESOLVE_SPLIT)
    else:  # pragma: no cover - a typo in this file
        raise ValueError(step)


async def advance_deal(runtime: Runtime, deal: Deal, state: CollabState) -> None:
    """Move ``deal`` from where it is to ``state`` along the happy path (or one of the branches), in one
    transaction. Product-less deals skip shipping on the way."""
    await advance_deals(runtime, [deal], state)


async def advance_deals(runtime: Runtime, deals: list[Deal], state: CollabState) -> None:
    """``advance_deal`` for each of ``deals``, all in one transaction (a campaign's fifty posts at once)."""
    target, last = _BRANCHES.get(state, (state, ""))
    order = [CollabState.OFFERED] + [s for s, _ in _PATH]
    async with session_scope(runtime.session_maker) as session:
        service = DealService.of(session, runtime)
        for deal in deals:
            collab = await session.get(Collaboration, deal.id)
            assert collab is not None
            current = CollabState(collab.status)
            if target not in order or (current in order and order.index(current) > order.index(target)):
                raise ValueError(f"can't drive a deal from {current} to {state}")
            for reached, step in _PATH:
                if order.index(reached) <= order.index(current) or order.index(reached) > order.index(target):
                    continue
                await _step(service, deal, step)
            if last:
                await _step(service, deal, last)
            collab = await session.get(Collaboration, deal.id, populate_existing=True)
            assert collab is not None and CollabState(collab.status) is state, (collab and collab.status, state)


async def make_deal(
    runtime: Runtime,
    state: CollabState = CollabState.OFFERED,
    *,
    brand: Any | None = None,
    creator: Any | None = None,
    product_included: bool = True,
    fee_amount: int = 15_000,
    currency: str = "USD",
    revision_rounds: int = 1,
    platform: str = "tiktok",
    title: str = "Glow serum launch",
    with_address: bool = True,
    password: str = PASSWORD,
    through_applications: bool = False,
) -> Deal:
    """A collaboration in ``state`` for a new brand and creator (or the given Person objects from ``people``).

    By default the gig and accepted application are inserted directly (fast, and free of the funnel's eligibility
    rules, so one creator can hold many deals). ``through_applications=True`` publishes the gig, applies and
    accepts through the real services instead (tests/support/marketplace.py).
    """
    people = PeopleFactory(runtime, password)
    brand = brand or await people.brand(brand_name="GlowLab")
    creator = creator or await people.creator(name="Ava Brooks")
    if through_applications:
        deal = await _deal_through_applications(runtime, people, brand, creator, product_included=product_included,
                                                fee_amount=fee_amount, currency=currency,
                                                revision_rounds=revision_rounds, platform=platform, title=title)
    else:
        deal = await _deal_inserted(runtime, brand, creator, product_included=product_included,
                                    fee_amount=fee_amount, currency=currency, revision_rounds=revision_rounds,
                                    platform=platform, title=title)
    if with_address and product_included:
        await _give_address(runtime, creator)
    if state is not CollabState.OFFERED:
        await advance_deal(runtime, deal, state)
    return deal


async def _give_address(runtime: Runtime, creator: Any) -> None:
    async with session_scope(runtime.session_maker) as session:
        has_address = await session.scalar(
            sa.select(ShippingAddress.id).where(ShippingAddress.creator_id == creator.creator_id)
        )
        if has_address is None:
            session.add(ShippingAddress(creator_id=creator.creator_id, recipient_name="Ava Brooks",
                                        line1="12 Orchard Lane", city="Portland", region="OR",
                                        postal_code="97201", country="US", phone="+1 503 555 0100"))


async def _deal_through_applications(runtime: Runtime, people: PeopleFactory, brand: Any, creator: Any, *,
                                     product_included: bool, fee_amount: int, currency: str, revision_rounds: int,
                                     platform: str, title: str) -> Deal:
    from tests.support.marketplace import make_collaboration

    made = await make_collaboration(
        runtime, people, brand=brand, creator=creator, title=title, currency=currency, base_fee_amount=fee_amount,
        product_included=product_included, product_name="Glow serum" if product_included else "",
        product_retail_value=4_500 if product_included else 0, revision_rounds=revision_rounds,
        deliverables=[{"platform": platform, "kind": "video", "count": 1, "required_hashtags": ["#glowlab"],
                       "required_mentions": ["@glowlab"], "disclosure_required": True, "disclosure_text": "#ad"}],
    )
    return Deal(made.collaboration.id, brand, creator, made.gig.id, made.application.id, made.account.id, platform,
                made.account.handle, product_included)


@dataclass(frozen=True)
class OfferRows:
    collaboration_id: uuid.UUID
    gig_id: uuid.UUID
    application_id: uuid.UUID
    account_id: uuid.UUID
    handle: str


#: What a test gig is unless a test says otherwise.
GIG_DEFAULTS: dict[str, Any] = {
    "status": GigStatus.OPEN, "title": "Glow serum launch", "brief": "Show your morning routine with the serum.",
    "product_name": "Glow serum", "product_retail_value": 4_500, "product_included": True, "currency": "USD",
    "base_fee_amount": 15_000,
}


async def insert_offer(session: Any, brand: Any, creator: Any, *, now: Any, platform: str = "tiktok",
                       gig_id: uuid.UUID | None = None, gig: dict[str, Any] | None = None,
                       deliverable: dict[str, Any] | None = None) -> OfferRows:
    """The one way the test builders create an offered deal without the funnel: the creator's account on the
    platform (reused when there is one), a gig with one video deliverable (unless ``gig_id`` names one), an accepted
    application, and the collaboration made from them by the real ``create_collaboration``."""
    account = await session.scalar(sa.select(SocialAccount).where(
        SocialAccount.creator_id == creator.creator_id, SocialAccount.platform == Platform(platform)))
    if account is None:
        handle = f"creator_{uuid.uuid4().hex[:10]}"
        account = SocialAccount(creator_id=creator.creator_id, platform=Platform(platform), handle=handle,
                                profile_url=f"https://www.{platform}.com/@{handle}", followers=12_000)
        session.add(account)
    if gig_id is None:
        row = Gig(brand_id=brand.brand_id, created_by_id=brand.user_id, published_at=now,
                  **{**GIG_DEFAULTS, **(gig or {})})
        session.add(row)
        await session.flush()
        session.add(Deliverable(gig_id=row.id, platform=Platform(platform), kind=ContentKind.VIDEO, count=1,
                                **(deliverable or {})))
        gig_id = row.id
    await session.flush()
    application = Application(gig_id=gig_id, creator_id=creator.creator_id, brand_id=brand.brand_id,
                              social_account_id=account.id, pitch="I'd love to!", status=ApplicationStatus.ACCEPTED,
                              decided_at=now, decided_by_id=brand.user_id)
    session.add(application)
    await session.flush()
    collab = await create_collaboration(session, application.id, now=now, accepted_by_id=brand.user_id)
    return OfferRows(collab.id, gig_id, application.id, account.id, account.handle)


async def _deal_inserted(runtime: Runtime, brand: Any, creator: Any, *, product_included: bool, fee_amount: int,
                         currency: str, revision_rounds: int, platform: str, title: str) -> Deal:
    gig = {"title": title, "product_included": product_included, "currency": currency, "base_fee_amount": fee_amount,
           "revision_rounds": revision_rounds}
    if not product_included:
        gig.update(product_name="", product_retail_value=0)
    async with session_scope(runtime.session_maker) as session:
        rows = await insert_offer(session, brand, creator, now=runtime.clock.now(), platform=platform, gig=gig,
                                  deliverable={"required_hashtags": ["#glowlab"], "required_mentions": ["@glowlab"]})
    return Deal(rows.collaboration_id, brand, creator, rows.gig_id, rows.application_id, rows.account_id, platform,
                rows.handle, product_included)


async def bearer(runtime: Runtime, person: Any) -> dict[str, str]:
    """``Authorization`` headers with a fresh API token for ``person`` (the API never reads session cookies)."""
    from marketplace.accounts.services import AccountService

    async with session_scope(runtime.session_maker) as session:
        _, raw = await AccountService(session, runtime).create_api_token(person.user_id, "tests")
    return {"Authorization": f"Bearer {raw}"}


@dataclass
class Cast:
    """One brand and one creator with a deal in each state a step starts from (the draft one has an upload)."""

    offered: Deal
    funded: Deal
    shipped: Deal
    received: Deal
    reviewing: Deal
    approved: Deal
    draft_id: uuid.UUID

    @property
    def brand(self) -> Any:
        return self.offered.brand

    @property
    def creator(self) -> Any:
        return self.offered.creator

    @property
    def deals(self) -> list[Deal]:
        return [self.offered, self.funded, self.shipped, self.received, self.reviewing, self.approved]


async def make_cast(runtime) -> Cast:
    offered = await make_deal(runtime)
    kw = {"brand": offered.brand, "creator": offered.creator}
    funded = await make_deal(runtime, CollabState.FUNDED, **kw)
    shipped = await make_deal(runtime, CollabState.SHIPPED, **kw)
    received = await make_deal(runtime, CollabState.RECEIVED, **kw)
    reviewing = await make_deal(runtime, CollabState.RECEIVED, **kw)
    async with session_scope(runtime.session_maker) as session:
        result = await DealService.of(session, runtime).submit_draft(
            reviewing.id, creator_actor(reviewing.creator), caption="Glow #ad",
            upload=DraftUpload("glow.png", PNG_BYTES, "image/png"),
        )
        draft_id = result.record.id
    approved = await make_deal(runtime, CollabState.DRAFT_SUBMITTED, **kw)
    await advance_deal(runtime, approved, CollabState.DRAFT_APPROVED)
    return Cast(offered, funded, shipped, received, reviewing, approved, draft_id)


async def snapshot(db, deal_ids: list[uuid.UUID]) -> dict[str, Any]:
    """Everything a deal step could write, to compare before and after a refused request."""
    collabs = (await db.scalars(sa.select(Collaboration).where(Collaboration.id.in_(deal_ids)))).all()

    async def count(model: Any) -> int:
        return await db.scalar(sa.select(sa.func.count(model.id)).where(model.collaboration_id.in_(deal_ids)))

    return {
        "deals": sorted((str(c.id), c.status.value, c.event_count, c.updated_at.isoformat()) for c in collabs),
        "events": await count(CollaborationEvent),
        "shipments": await count(Shipment),
        "drafts": await count(ContentDraft),
        "posts": await count(PostSubmission),
        "reviews": sorted((str(d.id), d.review.value) for d in (await db.scalars(
            sa.select(ContentDraft).where(ContentDraft.collaboration_id.in_(deal_ids)))).all()),
        "notifications": await db.scalar(sa.select(sa.func.count(Notification.id))),
    }
