"""Notification housekeeping: read notifications are kept for a while, then removed so the list stays small."""

from __future__ import annotations

import logging
from datetime import timedelta

import sqlalchemy as sa

from marketplace.db import session_scope
from marketplace.jobs import JobContext, job
from marketplace.notifications.models import Notification

log = logging.getLogger(__name__)

#: Read notifications older than this are deleted (unread ones are kept however old: nobody has seen them yet).
KEEP_READ = timedelta(days=180)
#: Rows deleted per transaction, so a large backlog never holds long locks.
PRUNE_BATCH = 5000


@job("notifications.prune_read_notifications", every=24 * 3600)
async def prune_read_notifications(ctx: JobContext) -> int:
    """Delete notifications read more than ``KEEP_READ`` ago; returns how many. Safe to run twice."""
    cutoff = ctx.clock.now() - KEEP_READ
    removed = 0
    while True:
        async with session_scope(ctx.session_maker) as session:
            ids = (
                await session.scalars(
                    sa.select(Notification.id)
                    .where(Notification.read_at.is_not(None), Notification.read_at < cutoff)
                    .limit(PRUNE_BATCH)
                )
            ).all()
            if ids:
                await session.execute(sa.delete(Notification).where(Notification.id.in_(list(ids))))
        removed += len(ids)
        if len(ids) < PRUNE_BATCH:
            break
    if removed:
        log.info("pruned %d read notifications", removed)
    return removed
