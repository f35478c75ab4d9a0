"""Test helpers for deadlines and verification: a real collaboration walked to any state through transition()."""

from __future__ import annotations

import random
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa

from marketplace.brands.models import BrandRole
from marketplace.collaborations.models import Collaboration, PostSubmission
from marketplace.collaborations.states import SYSTEM, Action, CollabState, Party, TransitionActor
from marketplace.collaborations.transition import transition
from marketplace.db import session_scope
from marketplace.runtime import Runtime
from tests.support.deals import insert_offer

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
    async with session_scope(runtime.session_maker) as s:
        rows = await insert_offer(
            s, brand, creator, now=start,
            gig={"product_retail_value": 3900, "product_included": product_included, **(gig_fields or {})},
            deliverable={"required_hashtags": list(hashtags), "required_mentions": list(mentions),
                         "disclosure_required": True, "disclosure_text": "#ad"},
        )
    gig_id, collaboration_id, handle = rows.gig_id, rows.collaboration_id, rows.handle

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
