"""Connected-account jobs: the daily audience refresh and the engagement fetches after publishing."""

from __future__ import annotations

import logging
from uuid import UUID

import sqlalchemy as sa

from marketplace.db import session_scope
from marketplace.jobs import JobContext, job
from marketplace.social.connections import platform_kit, refresh_audience
from marketplace.social.metrics import FETCH_JOB, MAX_ATTEMPTS, fetch_post_metrics, queue_due_fetches
from marketplace.social.models import ConnectionStatus, SocialConnection

log = logging.getLogger(__name__)

DAY = 24 * 3600.0


@job("social.refresh_audiences", every=DAY)
async def refresh_audiences(ctx: JobContext) -> int:
    """Re-read every active connection's followers, media count and engagement (one account at a time: the
    platforms' rate limits are per app)."""
    from_time = ctx.clock.now()
    async with session_scope(ctx.session_maker) as session:
        ids = (await session.scalars(sa.select(SocialConnection.id).where(
            SocialConnection.status == ConnectionStatus.ACTIVE.value))).all()
    refreshed = 0
    for connection_id in ids:
        if await refresh_audience_of(ctx, connection_id) == "refreshed":
            refreshed += 1
    log.info("audience refresh at %s: %d of %d connections", from_time, refreshed, len(ids))
    return refreshed


async def refresh_audience_of(ctx: JobContext, connection_id: UUID) -> str:
    async with session_scope(ctx.session_maker) as session:
        conn = await session.get(SocialConnection, connection_id, with_for_update=True)
        if conn is None or not ctx.settings.social.platform(conn.platform).enabled:
            return "gone"
        try:
            return await refresh_audience(session, ctx.settings, platform_kit(ctx.resources, ctx.settings),
                                          ctx.clock, conn)
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
