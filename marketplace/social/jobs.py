"""Connected-account jobs: the daily audience refresh and the engagement fetches after publishing."""

from __future__ import annotations

import asyncio
import logging
from uuid import UUID

import sqlalchemy as sa

from marketplace.db import session_scope
from marketplace.jobs import JobContext, job
from marketplace.social.connections import platform_kit, refresh_audience
from marketplace.social.metrics import FETCH_JOB, MAX_ATTEMPTS, fetch_post_metrics, queue_due_fetches
from marketplace.social.models import ConnectionStatus, SocialConnection
from marketplace.social.ranking import flagged_without_connection, sync_ranking_prior

log = logging.getLogger(__name__)

DAY = 24 * 3600.0
#: Connections read per batch (one id query each), and at the same time within a batch. Every request still waits
#: for its platform's shared token bucket, so this overlaps waiting on the network without exceeding a rate limit.
REFRESH_BATCH = 200
REFRESH_CONCURRENCY = 8


@job("social.refresh_audiences", every=DAY)
async def refresh_audiences(ctx: JobContext) -> int:
    """Re-read every active connection's followers, media count and engagement, in batches of concurrent reads,
    then clear the verified-audience ranking prior of creators left without a live connection."""
    now = ctx.clock.now()
    gate = asyncio.Semaphore(REFRESH_CONCURRENCY)

    async def one(connection_id: UUID) -> str:
        async with gate:
            return await refresh_audience_of(ctx, connection_id)

    refreshed = seen = 0
    after: UUID | None = None
    while True:
        async with session_scope(ctx.session_maker) as session:
            query = sa.select(SocialConnection.id).where(
                SocialConnection.status == ConnectionStatus.ACTIVE.value).order_by(SocialConnection.id)
            if after is not None:
                query = query.where(SocialConnection.id > after)
            ids = list((await session.scalars(query.limit(REFRESH_BATCH))).all())
        if not ids:
            break
        outcomes = await asyncio.gather(*(one(i) for i in ids))
        refreshed += sum(1 for o in outcomes if o == "refreshed")
        seen, after = seen + len(ids), ids[-1]
    async with session_scope(ctx.session_maker) as session:
        for creator_id in (await session.scalars(flagged_without_connection())).all():
            await sync_ranking_prior(session, creator_id, now)
    log.info("audience refresh at %s: %d of %d connections", now, refreshed, seen)
    return refreshed


async def refresh_audience_of(ctx: JobContext, connection_id: UUID) -> str:
    try:
        return await refresh_audience(ctx.session_maker, ctx.settings, platform_kit(ctx.resources, ctx.settings),
                                      ctx.clock, connection_id)
    except Exception:
        # One account's trouble (rate limit, outage) must not stop the others; tomorrow's run tries again.
        log.warning("audience refresh of connection %s failed", connection_id, exc_info=True)
        return "failed"


@job("social.queue_metric_fetches", every=300.0)
async def queue_metric_fetches(ctx: JobContext) -> int:
    """Hand every due metrics fetch to the queue (one indexed query)."""
    return await queue_due_fetches(ctx.session_maker, ctx.clock.now())


@job(FETCH_JOB, queue="verification", max_retries=MAX_ATTEMPTS)
async def fetch_post_metrics_job(ctx: JobContext, fetch_id: str) -> str:
    """Read one post's counts through the creator's account; retries honour the platform's Retry-After."""
    return await fetch_post_metrics(ctx, UUID(fetch_id))
