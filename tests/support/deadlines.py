"""Test helpers for deadlines and verification: a real collaboration walked to any state through transition()."""

from __future__ import annotations

import random
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa

from marketplace.applications.models import Application, ApplicationStatus
from marketplace.brands.models import BrandRole
from marketplace.collaborations.models import Collaboration, PostSubmission
from marketplace.collaborations.services import create_collaboration
from marketplace.collaborations.states import SYSTEM, Action, CollabState, Party, TransitionActor
from marketplace.collaborations.transition import transition
from marketplace.creators.models import ContentKind, Platform, SocialAccount
from marketplace.db import session_scope
from marketplace.gigs.models import Deliverable, Gig, GigStatus
from marketplace.runtime import Runtime

#: The happy path: (state reached, action, who acts).
PATH: list[tuple[CollabState, Action, str]] = [
    (CollabState.SIGNED, Action.SIGN, "creator"),
    (CollabState.FUNDED, Action.MARK_FUNDED, "system"),
    (CollabState.SHIPPED, Action.SHIP, "brand"),
    (CollabState.RECEIVED, Action.CONFIRM_RECEIPT, "creator"),
    (CollabState.DRAFT_SUBMITTED, Action.SUBMIT_DRAFT, "creator"),
    (CollabState.DRAFT_APPROVED, Action.APPROVE_DRAFT, "brand"),
    (CollabState.POSTED, Action.SUBMIT_POST, "creator"),
    (CollabState.VERIFIED, Action.MARK_VERIFIED, "system"),
    (CollabState.RELEASED, Action.MARK_RELEASED, "system"),
]


def tiktok_video_url(handle: str, published_at: datetime) -> str:
    """A TikTok link whose video id encodes ``published_at`` (upper 32 bits are the Unix second)."""
    video_id = (int(published_at.timestamp()) << 32) | random.getrandbits(32)
    return f"https://www.tiktok.com/@{handle}/video/{video_id}"


@dataclass
class Deal:
    collaboration_id: uuid.UUID
    brand: Any
    creator: Any
    gig_id: uuid.UUID
    handle: str
    submission_id: uuid.UUID | None = None
    post_url: str | None = None
    times: dict[CollabState, datetime] | None = None


async def make_deal(
    runtime: Runtime,
    people: Any,
    *,
    until: CollabState,
    start: datetime,
    step: timedelta = timedelta(hours=1),
    product_included: bool = True,
    brand: Any = None,
    creator: Any = None,
    gig_fields: dict[str, Any] | None = None,
    hashtags: tuple[str, ...] = ("#glow",),
    mentions: tuple[str, ...] = ("@acmegoods",),
    post_url: str | None = None,
) -> Deal:
    """A brand, a creator (TikTok account), a gig, an accepted application, and a collaboration moved through
    the real transition table to ``until``, one step every ``step`` from ``start``."""
    brand = brand or await people.brand()
    creator = creator or await people.creator()
    handle = f"creator_{uuid.uuid4().hex[:10]}"
    async with session_scope(runtime.session_maker) as s:
        account = SocialAccount(
            creator_id=creator.creator_id,
            platform=Platform.TIKTOK,
            handle=handle,
            profile_url=f"https://www.tiktok.com/@{handle}",
            followers=12_000,
        )
        gig = Gig(
            brand_id=brand.brand_id,
            title="Glow serum launch",
            brief="Show your morning routine with the serum.",
            status=GigStatus.OPEN,
            product_name="Glow serum",
            product_retail_value=3900,
            product_included=product_included,
            currency="USD",
            base_fee_amount=15000,
            **(gig_fields or {}),
        )
        s.add_all([account, gig])
        await s.flush()
        s.add(
            Deliverable(
                gig_id=gig.id,
                platform=Platform.TIKTOK,
                kind=ContentKind.VIDEO,
                count=1,
                required_hashtags=list(hashtags),
                required_mentions=list(mentions),
                disclosure_required=True,
                disclosure_text="#ad",
            )
        )
        application = Application(
            gig_id=gig.id,
            creator_id=creator.creator_id,
            brand_id=brand.brand_id,
            social_account_id=account.id,
            pitch="I love serums.",
            status=ApplicationStatus.ACCEPTED,
        )
        s.add(application)
        await s.flush()
        collab = await create_collaboration(s, application.id, now=start, accepted_by_id=brand.user_id)
        gig_id, collaboration_id = gig.id, collab.id

    actors = {
        "creator": TransitionActor(Party.CREATOR, creator.user_id, creator_id=creator.creator_id),
        "brand": TransitionActor(Party.BRAND, brand.user_id, brand_id=brand.brand_id, brand_role=BrandRole.OWNER),
        "system": SYSTEM,
    }
    deal = Deal(collaboration_id, brand, creator, gig_id, handle, times={CollabState.OFFERED: start})
    path = [p for p in PATH if product_included or p[0] not in {CollabState.SHIPPED, CollabState.RECEIVED}]
    now = start
    if until is CollabState.OFFERED:
        return deal
    for state, action, who in path:
        now = now + step
        async with session_scope(runtime.session_maker) as s:
            if action is Action.SUBMIT_POST:
                deal.post_url = post_url or tiktok_video_url(handle, now - timedelta(minutes=5))
                submission = PostSubmission(
                    collaboration_id=collaboration_id,
                    url=deal.post_url,
                    platform="tiktok",
                    post_ref=deal.post_url.rsplit("/", 1)[-1],
                    submitted_by_id=creator.user_id,
                )
                s.add(submission)
                await s.flush()
                deal.submission_id = submission.id
            await transition(s, collaboration_id, action, actors[who], now=now)
        assert deal.times is not None
        deal.times[state] = now
        if state is until:
            return deal
    raise ValueError(f"{until} is not on the happy path")


async def load(runtime: Runtime, collaboration_id: uuid.UUID) -> Collaboration:
    async with runtime.session_maker() as s:
        collab = await s.scalar(sa.select(Collaboration).where(Collaboration.id == collaboration_id))
        assert collab is not None
        return collab
