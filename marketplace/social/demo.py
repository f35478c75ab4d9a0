"""The demo's connected accounts (`make run`): verified audiences and a post's readings, with no outside service.

``seed_demo_social`` is called once from ``marketplace.seed`` at the end of the story. The embedded default has no
platform credentials, so nothing can sign in to TikTok: the demo stores what a platform would have answered
through the functions the real fetchers store with (``connections.record_audience`` for an account,
``metrics.record_reading`` for each scheduled reading), on connections marked as demo data (no tokens, scope
``demo``; the creator's page says so). Ava Brooks (a record of her own) gets a verified TikTok audience and the
readings of her first post; Finn Murphy, a newcomer, gets a verified audience with years of history, so the
directory's reliability order shows the verified-audience prior.
"""

from __future__ import annotations

import math
from datetime import datetime, timedelta
from uuid import UUID

import sqlalchemy as sa

from marketplace.clock import as_utc
from marketplace.collaborations.models import Collaboration, PostSubmission
from marketplace.creators.models import Creator
from marketplace.db import session_scope
from marketplace.runtime import Runtime
from marketplace.social.clients import Media, Profile
from marketplace.social.connections import Audience, record_audience
from marketplace.social.metrics import record_reading, schedule_after_posting
from marketplace.social.models import ConnectionStatus, MetricFetch, SocialConnection

#: Marks a connection whose numbers the demo wrote (no platform was asked).
DEMO_SCOPE = "demo"
#: email -> (platform, handle, followers, media count, engagement bps, account age in days)
DEMO_ACCOUNTS = {
    "ava@creators.test": ("tiktok", "avabrooks", 48_200, 312, 610, 3 * 365),
    "finn@creators.test": ("tiktok", "finnmurphy", 3_200, 141, 880, 2 * 365),
}
#: Where Ava's first post's counts level off (they grow towards it, most of it in the first two days).
FINAL_COUNTS = {"views": 64_000, "likes": 4_100, "comments": 230, "shares": 410, "saves": 520}


def is_demo(conn: SocialConnection) -> bool:
    return conn.scope == DEMO_SCOPE


def _counts_at(age: timedelta) -> Media:
    share = 1 - math.exp(-age.total_seconds() / timedelta(days=2).total_seconds())
    values = {name: round(final * share) for name, final in FINAL_COUNTS.items()}
    return Media(media_id="", post_ref="", permalink="", caption="", published_at=None, author_handle=None,
                 reach=round(values["views"] * 0.8), **values)


async def seed_demo_social(runtime: Runtime, users: dict[str, UUID], now: datetime) -> None:
    async with session_scope(runtime.session_maker) as session:
        creators: dict[str, UUID] = {}
        for email, (platform, handle, followers, media_count, rate, age_days) in DEMO_ACCOUNTS.items():
            creator_id = await session.scalar(sa.select(Creator.id).where(Creator.user_id == users[email]))
            if creator_id is None:
                continue
            creators[email] = creator_id
            conn = SocialConnection(creator_id=creator_id, platform=platform, external_id=f"demo-{handle}",
                                    handle=handle, status=ConnectionStatus.ACTIVE.value, access_token_enc="",
                                    scope=DEMO_SCOPE)
            session.add(conn)
            await session.flush()
            audience = Audience(Profile(conn.external_id, handle, followers, media_count), rate,
                                now - timedelta(days=age_days))
            await record_audience(session, conn, audience, now)
        ava = creators.get("ava@creators.test")
        if ava is None:
            return
        collab = await session.scalar(sa.select(Collaboration).where(
            Collaboration.creator_id == ava, Collaboration.posted_at.is_not(None)).order_by(Collaboration.posted_at))
        submission = await session.scalar(sa.select(PostSubmission).where(
            PostSubmission.collaboration_id == collab.id, PostSubmission.is_current.is_(True))) if collab else None
        if collab is None or submission is None or collab.posted_at is None:
            return
        posted = as_utc(collab.posted_at)
        await schedule_after_posting(session, collab, submission, posted)  # already there from the deal's steps
        due = (await session.scalars(sa.select(MetricFetch).where(
            MetricFetch.submission_id == submission.id, MetricFetch.done_at.is_(None), MetricFetch.due_at <= now)
            .order_by(MetricFetch.due_at))).all()
        for fetch in due:
            at = as_utc(fetch.due_at)
            await record_reading(session, fetch, _counts_at(at - posted), at)
