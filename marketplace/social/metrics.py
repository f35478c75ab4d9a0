"""Engagement after publishing: scheduled reads of a post's counts through the creator's account, as a time series.

A post gets fetches at 1 h, 24 h, 72 h and 7 days after it was published, and one a day while the deal's keep-live
period runs. They are scheduled from the submission time when the link arrives, and re-timed from the platform's
publish time once verification has read it (the account's own media, or oEmbed where it tells). The scheduler
job finds due rows with one indexed query (``ix_social_metric_fetch_due``) and queues a fetch per row; each fetch
is safe to run twice (a done row is skipped). A post the account no longer has during
keep-live is handed to verification's keep-live check (purpose ``keep_live_spot``: once per submission), which
confirms it and applies the existing removed-post rule.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from uuid import UUID

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from marketplace.clock import as_utc
from marketplace.collaborations.models import Collaboration, PostSubmission
from marketplace.collaborations.states import CollabState
from marketplace.collaborations.terms import Terms
from marketplace.db import session_scope
from marketplace.jobs import JobContext, RetryLater, enqueue
from marketplace.social.clients import ApiError, Media, MediaGone, RateLimited, TokenRejected
from marketplace.social.connections import fresh_access_token, mark_reconnect, platform_kit
from marketplace.social.figures import EngagementFigures, engagements_of
from marketplace.social.models import MetricFetch, PostMetric, SocialConnection

log = logging.getLogger(__name__)

AFTER_POSTING = (("1h", timedelta(hours=1)), ("24h", timedelta(hours=24)), ("72h", timedelta(hours=72)),
                 ("7d", timedelta(days=7)))
FETCH_JOB = "social.fetch_post_metrics"
#: A fetch queued this long ago and still open was lost (worker died): hand it out again.
REQUEUE_AFTER = timedelta(hours=1)
#: Fetches a retry loop may spend before the row is closed as given up.
MAX_ATTEMPTS = 6
#: Deals whose post may still be fetched.
FETCHABLE = frozenset({CollabState.POSTED, CollabState.VERIFIED, CollabState.RELEASED, CollabState.COMPLETED,
                       CollabState.DISPUTED})


async def _add_fetches(session: AsyncSession, collab: Collaboration, submission: PostSubmission,
                       due: list[tuple[str, datetime]]) -> None:
    existing = set((await session.scalars(sa.select(MetricFetch.label).where(
        MetricFetch.submission_id == submission.id))).all())
    for label, at in due:
        if label not in existing:
            session.add(MetricFetch(collaboration_id=collab.id, submission_id=submission.id,
                                    platform=submission.platform, label=label, due_at=at))


async def schedule_after_posting(session: AsyncSession, collab: Collaboration, submission: PostSubmission,
                                 posted_at: datetime) -> None:
    await _add_fetches(session, collab, submission, [(label, posted_at + delta) for label, delta in AFTER_POSTING])


async def retime_after_posting(session: AsyncSession, submission_id: UUID, published_at: datetime,
                               now: datetime) -> int:
    """Move the after-posting fetches not yet handed out to the platform's publish time. Readings whose time passed
    before the post was verified collapse into one due now (the latest of them): the counts can't be read back."""
    fetches = (await session.scalars(sa.select(MetricFetch).where(
        MetricFetch.submission_id == submission_id, MetricFetch.done_at.is_(None), MetricFetch.queued_at.is_(None),
        MetricFetch.label.in_([label for label, _ in AFTER_POSTING])).with_for_update())).all()
    by_label = {f.label: f for f in fetches}
    published = as_utc(published_at)
    passed = [label for label, delta in AFTER_POSTING if label in by_label and published + delta <= now]
    for label, delta in AFTER_POSTING:
        fetch = by_label.get(label)
        if fetch is None:
            continue
        if label in passed[:-1]:
            fetch.due_at, fetch.done_at, fetch.outcome = published + delta, now, "skipped"
        else:
            fetch.due_at = max(published + delta, now) if label in passed else published + delta
    await session.flush()
    return len(fetches)


async def schedule_keep_live(session: AsyncSession, collab: Collaboration, submission: PostSubmission,
                             start: datetime) -> None:
    end = collab.due("keep_live")
    if end is None:
        return
    days = max(0, int((as_utc(end) - start) / timedelta(days=1)))
    await _add_fetches(session, collab, submission,
                       [(f"keep-live-{n}", start + timedelta(days=n)) for n in range(1, days + 1)])


def due_rows(now: datetime, limit: int) -> sa.Select[tuple[UUID]]:
    """The scheduler's one query (the partial index on due_at where done_at is null serves it)."""
    return (sa.select(MetricFetch.id)
            .where(MetricFetch.done_at.is_(None), MetricFetch.due_at <= now,
                   sa.or_(MetricFetch.queued_at.is_(None), MetricFetch.queued_at < now - REQUEUE_AFTER))
            .order_by(MetricFetch.due_at).limit(limit))


async def queue_due_fetches(session_maker: async_sessionmaker[AsyncSession], now: datetime,
                            limit: int = 1000) -> int:
    async with session_scope(session_maker) as session:
        ids = list((await session.scalars(due_rows(now, limit))).all())
        if ids:
            await session.execute(sa.update(MetricFetch).where(MetricFetch.id.in_(ids)).values(queued_at=now))
        for fetch_id in ids:
            enqueue(session, FETCH_JOB, str(fetch_id))
    return len(ids)


@dataclass(frozen=True)
class FetchPlan:
    fetch_id: UUID
    collaboration_id: UUID
    platform: str
    post_ref: str
    label: str
    token: str
    connection_id: UUID
    in_keep_live: bool


async def _close(session: AsyncSession, fetch: MetricFetch, outcome: str, now: datetime) -> str:
    fetch.done_at, fetch.outcome = now, outcome
    await session.flush()
    return outcome


async def _plan(ctx: JobContext, fetch_id: UUID) -> FetchPlan | str:
    now = ctx.clock.now()
    async with session_scope(ctx.session_maker) as session:
        fetch = await session.get(MetricFetch, fetch_id, with_for_update=True)
        if fetch is None or fetch.done_at is not None:
            return "already done"
        submission = await session.get(PostSubmission, fetch.submission_id)
        collab = await session.get(Collaboration, fetch.collaboration_id)
        if submission is None or collab is None or not submission.is_current \
                or CollabState(collab.status) not in FETCHABLE:
            return await _close(session, fetch, "superseded", now)
        if collab.post_removed_at is not None:
            return await _close(session, fetch, "removed", now)
        if not ctx.settings.social.platform(fetch.platform).enabled:
            return await _close(session, fetch, "no_connection", now)
        conn = await session.scalar(sa.select(SocialConnection).where(
            SocialConnection.creator_id == collab.creator_id, SocialConnection.platform == fetch.platform))
        if conn is None:
            return await _close(session, fetch, "no_connection", now)
        token = await fresh_access_token(session, ctx.settings, conn, now)
        if token is None:
            # A revoked or dead connection: the creator sees "reconnect"; nothing is fetched, nothing fails.
            return await _close(session, fetch, "reconnect", now)
        fetch.attempts += 1
        if fetch.attempts > MAX_ATTEMPTS:
            return await _close(session, fetch, "gave_up", now)
        return FetchPlan(fetch.id, collab.id, fetch.platform, submission.post_ref or "", fetch.label, token, conn.id,
                         CollabState(collab.status) is CollabState.RELEASED)


async def fetch_post_metrics(ctx: JobContext, fetch_id: UUID) -> str:
    plan = await _plan(ctx, fetch_id)
    if isinstance(plan, str):
        return plan
    api = platform_kit(ctx.resources, ctx.settings).api(ctx.settings, plan.platform, ctx.clock)
    try:
        media = await api.media_counts(plan.token, plan.post_ref)
    except RateLimited as exc:
        raise RetryLater(str(exc), retry_after=exc.retry_after) from None
    except MediaGone:
        return await _post_gone(ctx, plan)
    except TokenRejected as exc:
        async with session_scope(ctx.session_maker) as session:
            conn = await session.get(SocialConnection, plan.connection_id, with_for_update=True)
            if conn is not None:
                mark_reconnect(conn, str(exc))
            fetch = await session.get(MetricFetch, plan.fetch_id, with_for_update=True)
            assert fetch is not None
            return await _close(session, fetch, "reconnect", ctx.clock.now())
    except ApiError as exc:
        raise RetryLater(str(exc)) from None
    now = ctx.clock.now()
    async with session_scope(ctx.session_maker) as session:
        fetch = await session.get(MetricFetch, plan.fetch_id, with_for_update=True)
        if fetch is None or fetch.done_at is not None:
            return "already done"
        return await record_reading(session, fetch, media, now)


async def record_reading(session: AsyncSession, fetch: MetricFetch, media: Media, now: datetime) -> str:
    """Store what the platform said about the post as this fetch's reading, and close the fetch."""
    session.add(PostMetric(collaboration_id=fetch.collaboration_id, submission_id=fetch.submission_id,
                           label=fetch.label, taken_at=now, views=media.views, likes=media.likes,
                           comments=media.comments, shares=media.shares, saves=media.saves, reach=media.reach))
    return await _close(session, fetch, "fetched", now)


async def _post_gone(ctx: JobContext, plan: FetchPlan) -> str:
    now = ctx.clock.now()
    async with session_scope(ctx.session_maker) as session:
        fetch = await session.get(MetricFetch, plan.fetch_id, with_for_update=True)
        if fetch is None or fetch.done_at is not None:
            return "already done"
        if plan.in_keep_live:
            # Verification confirms and applies the keep-live rule; its check is unique per submission and purpose,
            # so finding the post gone again later changes nothing.
            enqueue(session, "verification.check_keep_live", str(plan.collaboration_id), "keep_live_spot")
        log.info("metrics fetch %s: post of collaboration %s is gone", plan.fetch_id, plan.collaboration_id)
        return await _close(session, fetch, "deleted", now)


# --- what people see ------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class MetricPoint:
    label: str
    taken_at: datetime
    views: int | None
    likes: int | None
    comments: int | None
    shares: int | None
    saves: int | None
    reach: int | None

    @property
    def engagements(self) -> int:
        return engagements_of(self.likes, self.comments, self.shares, self.saves)


@dataclass(frozen=True)
class DealMetrics(EngagementFigures):
    collaboration_id: UUID
    currency: str
    fee_amount: int
    series: list[MetricPoint]
    pending: int

    @property
    def latest(self) -> MetricPoint | None:
        return self.series[-1] if self.series else None

    @property
    def views(self) -> int | None:
        """The latest reading's: the figures are those of the newest reading."""
        return self.latest.views if self.latest else None

    @property
    def engagements(self) -> int:
        return self.latest.engagements if self.latest else 0


async def deal_metrics(session: AsyncSession, collab: Collaboration) -> DealMetrics:
    terms = Terms.from_dict(collab.terms)
    rows = (await session.scalars(sa.select(PostMetric).where(PostMetric.collaboration_id == collab.id)
                                  .order_by(PostMetric.taken_at))).all()
    pending = await session.scalar(sa.select(sa.func.count()).select_from(MetricFetch).where(
        MetricFetch.collaboration_id == collab.id, MetricFetch.done_at.is_(None))) or 0
    series = [MetricPoint(r.label, as_utc(r.taken_at), r.views, r.likes, r.comments, r.shares, r.saves, r.reach)
              for r in rows]
    return DealMetrics(collab.id, terms.currency, terms.fee_amount, series, int(pending))
