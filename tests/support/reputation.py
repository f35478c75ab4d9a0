"""Test helpers for reputation: deals driven through ``transition()`` with their outcomes recorded, step by step.

    deal = await make_collaboration(runtime)
    await deliver(runtime, clock, deal)                 # signed ... completed, posted on time
    await deliver(runtime, clock, deal, late_days=3)    # posted 3 days after the deadline
    await ghost(runtime, clock, deal)                   # funded, shipped, received, never posted

Every step goes through ``transition()``, whose reputation listener records the outcomes, so tests see
exactly the events production records. Only the core collaboration API is used (``create_collaboration`` and
``transition``), never page or service code of other areas.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import sqlalchemy as sa

from marketplace.accounts.auth import Actor
from marketplace.accounts.models import UserKind
from marketplace.brands.models import BrandRole
from marketplace.clock import FrozenClock
from marketplace.collaborations.models import Collaboration
from marketplace.collaborations.states import SYSTEM, Action, Party, TransitionActor
from marketplace.collaborations.transition import transition
from marketplace.creators.models import ContentKind, Platform
from marketplace.db import session_scope
from marketplace.gigs.models import Deliverable, Gig, GigStatus
from marketplace.reputation.outcomes import record_transition_outcomes
from marketplace.runtime import Runtime
from reputation.models import ReputationEvent
from tests.support.db import PeopleFactory
from tests.support.deals import insert_offer

PASSWORD = "correct-horse-battery"


@dataclass
class ReliabilityDeal:
    """A collaboration and both parties (Person objects: email, password, user_id, brand_id / creator_id)."""

    id: uuid.UUID
    brand: Any
    creator: Any
    gig_id: uuid.UUID


async def make_gig(
    runtime: Runtime,
    brand: Any,
    *,
    fee_amount: int = 15_000,
    product_value: int = 4_500,
    product_included: bool = True,
    currency: str = "USD",
    min_reliability: float | None = None,
    min_tier: str | None = None,
) -> uuid.UUID:
    """An open gig of `brand` with one TikTok video deliverable."""
    async with session_scope(runtime.session_maker) as session:
        gig = Gig(
            brand_id=brand.brand_id,
            created_by_id=brand.user_id,
            status=GigStatus.OPEN,
            title="Glow serum launch",
            brief="Show your morning routine with the serum.",
            product_name="Glow serum" if product_included else "",
            product_retail_value=product_value if product_included else 0,
            product_included=product_included,
            currency=currency,
            base_fee_amount=fee_amount,
            min_reliability=min_reliability,
            min_tier=min_tier,
            published_at=runtime.clock.now(),
        )
        session.add(gig)
        await session.flush()
        session.add(Deliverable(gig_id=gig.id, platform=Platform.TIKTOK, kind=ContentKind.VIDEO, count=1))
        return gig.id


async def make_collaboration(
    runtime: Runtime,
    *,
    brand: Any | None = None,
    creator: Any | None = None,
    gig_id: uuid.UUID | None = None,
    **gig_options: Any,
) -> ReliabilityDeal:
    """A collaboration in ``offered`` between `brand` and `creator` (new people when not given)."""
    people = PeopleFactory(runtime, PASSWORD)
    brand = brand or await people.brand(brand_name="GlowLab")
    creator = creator or await people.creator(name="Ava Brooks")
    gig_id = gig_id or await make_gig(runtime, brand, **gig_options)
    async with session_scope(runtime.session_maker) as session:
        rows = await insert_offer(session, brand, creator, now=runtime.clock.now(), gig_id=gig_id)
    return ReliabilityDeal(rows.collaboration_id, brand, creator, gig_id)


def signed_in_creator(person: Any) -> Actor:
    """The Actor a creator Person is when signed in (for calling page-level services directly)."""
    return Actor(person.user_id, person.email, UserKind.CREATOR, "Ava", creator_id=person.creator_id)


def signed_in_brand(person: Any, role: BrandRole = BrandRole.OWNER) -> Actor:
    return Actor(person.user_id, person.email, UserKind.BRAND, "Maya", brand_id=person.brand_id, brand_role=role)


def signed_in_admin(person: Any) -> Actor:
    return Actor(person.user_id, person.email, UserKind.ADMIN, "Ops")


def actor_for(deal: ReliabilityDeal, party: Party) -> TransitionActor:
    if party is Party.BRAND:
        return TransitionActor(
            Party.BRAND, deal.brand.user_id, brand_id=deal.brand.brand_id, brand_role=BrandRole.OWNER
        )
    if party is Party.CREATOR:
        return TransitionActor(Party.CREATOR, deal.creator.user_id, creator_id=deal.creator.creator_id)
    if party is Party.ADMIN:
        return TransitionActor(Party.ADMIN)
    return SYSTEM


async def step(
    runtime: Runtime, deal: ReliabilityDeal, action: Action, party: Party, payload: dict[str, Any] | None = None
) -> list[ReputationEvent]:
    """One transition at the clock's time, in its own transaction; returns the reputation outcomes it recorded
    (transition() records them itself; calling the recorder again must add nothing)."""
    now = runtime.clock.now()
    async with session_scope(runtime.session_maker) as session:
        known = set(await session.scalars(
            sa.select(ReputationEvent.id).where(ReputationEvent.collaboration_id == deal.id)))
        result = await transition(session, deal.id, action, actor_for(deal, party), now=now, payload=payload)
        assert await record_transition_outcomes(session, result) == []
        recorded = await session.scalars(
            sa.select(ReputationEvent).where(ReputationEvent.collaboration_id == deal.id)
            .order_by(ReputationEvent.subject_kind))
        return [event for event in recorded if event.id not in known]


async def due(runtime: Runtime, deal: ReliabilityDeal, stage: str) -> Any:
    async with session_scope(runtime.session_maker) as session:
        collab = await session.get(Collaboration, deal.id)
        assert collab is not None
        return collab.due(stage)


async def fund_and_receive(runtime: Runtime, clock: FrozenClock, deal: ReliabilityDeal) -> None:
    """Signed, funded, shipped and received a day apart each: the creator's post clock is running."""
    await step(runtime, deal, Action.SIGN, Party.CREATOR)
    clock.advance(hours=2)
    await step(runtime, deal, Action.MARK_FUNDED, Party.SYSTEM)
    clock.advance(days=1)
    await step(runtime, deal, Action.SHIP, Party.BRAND)
    clock.advance(days=2)
    await step(runtime, deal, Action.CONFIRM_RECEIPT, Party.CREATOR)


async def post(runtime: Runtime, clock: FrozenClock, deal: ReliabilityDeal, *, late_days: float = 0) -> None:
    """From received: draft, approval, and the live post `late_days` after the post deadline (or 3 days early)."""
    clock.advance(days=1)
    await step(runtime, deal, Action.SUBMIT_DRAFT, Party.CREATOR)
    clock.advance(hours=6)
    await step(runtime, deal, Action.APPROVE_DRAFT, Party.BRAND)
    due_post = await due(runtime, deal, "post")
    clock.set(max(clock.now() + timedelta(hours=1), due_post + timedelta(days=late_days) if late_days else clock.now()))
    await step(runtime, deal, Action.SUBMIT_POST, Party.CREATOR)


async def deliver(
    runtime: Runtime,
    clock: FrozenClock,
    deal: ReliabilityDeal,
    *,
    late_days: float = 0,
    approve_by: Party = Party.BRAND,
    complete: bool = True,
) -> None:
    """The whole deal: funded, received, posted (on time or late), verified, approved, released, kept live."""
    await fund_and_receive(runtime, clock, deal)
    await post(runtime, clock, deal, late_days=late_days)
    clock.advance(hours=1)
    await step(runtime, deal, Action.MARK_VERIFIED, Party.SYSTEM)
    if approve_by is Party.SYSTEM:
        clock.set((await due(runtime, deal, "approve")) + timedelta(minutes=5))
    else:
        clock.advance(hours=5)
    await step(runtime, deal, Action.APPROVE_POST, approve_by)
    clock.advance(minutes=1)
    await step(runtime, deal, Action.MARK_RELEASED, Party.SYSTEM)
    if complete:
        clock.set((await due(runtime, deal, "keep_live")) + timedelta(hours=1))
        await step(runtime, deal, Action.COMPLETE, Party.SYSTEM)


async def ghost(runtime: Runtime, clock: FrozenClock, deal: ReliabilityDeal) -> list[ReputationEvent]:
    """Funded, shipped and received; the creator never posts and the sweeper ghosts them after the grace period."""
    await fund_and_receive(runtime, clock, deal)
    clock.set((await due(runtime, deal, "post")) + timedelta(days=3, hours=1))
    return await step(runtime, deal, Action.GHOST, Party.SYSTEM)


async def creator_at(make_web: Any, people: Any, address: dict[str, str]) -> tuple[Any, Any]:
    """A new creator signed in on a web client of their own, with ``address`` saved as their delivery address
    through the profile form (where linked-ghosting checks read it): the person and the client."""
    person = await people.creator()
    web = await make_web()
    await web.sign_in(person.email, person.password)
    saved = await web.post("/creator/profile/address", address)
    assert saved.status_code in (200, 303), saved.text[:500]
    return person, web
