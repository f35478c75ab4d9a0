"""Deadline jobs: the periodic sweep, one job per consequence, and the watch repair. Each takes ids and is safe to
run twice (the rule is checked again on the locked row)."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from uuid import UUID

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from marketplace.collaborations.models import Collaboration
from marketplace.collaborations.states import TERMINAL
from marketplace.db import session_scope
from marketplace.deadlines import enforcement
from marketplace.deadlines.models import DeadlineWatch
from marketplace.deadlines.rules import earliest_check_at
from marketplace.deadlines.sweeper import sweep_deadlines
from marketplace.deadlines.watch import upsert_watch
from marketplace.errors import NotFound
from marketplace.jobs import JobContext, RetryLater, job
from marketplace.payments.hooks import EscrowRefused, EscrowUnavailable

log = logging.getLogger(__name__)

#: Sweep every five minutes: reminders are hours apart, so a few minutes late is invisible to people.
SWEEP_EVERY_SECONDS = 300.0
#: Escrow down or not wired: try the consequence again this much later (nothing was written meanwhile).
ESCROW_RETRY_SECONDS = 300.0


@job("deadlines.sweep", every=SWEEP_EVERY_SECONDS, max_retries=0)
async def sweep(ctx: JobContext) -> dict[str, object]:
    """Send due reminders and hand due consequences to their jobs."""
    report = await sweep_deadlines(ctx.session_maker, ctx.clock.now(), public_url=ctx.settings.app.public_url)
    if report.examined:
        log.info("deadline sweep: %s", report.as_dict())
    return report.as_dict()


Enforcer = Callable[..., Awaitable[str]]


async def _enforce(ctx: JobContext, what: str, enforcer: Enforcer, collaboration_id: str) -> str:
    now = ctx.clock.now()
    try:
        async with session_scope(ctx.session_maker) as session:
            decision = await enforcer(session, UUID(collaboration_id), now, public_url=ctx.settings.app.public_url)
    except NotFound:
        decision = "gone"
    except EscrowUnavailable as exc:
        log.warning("%s %s waits for escrow: %s", what, collaboration_id, exc)
        raise RetryLater(f"escrow unavailable: {exc}", retry_after=ESCROW_RETRY_SECONDS) from exc
    except EscrowRefused as exc:
        # Nothing was written (the transaction rolled back); retrying would be refused again.
        async with session_scope(ctx.session_maker) as session:
            await enforcement.hold_for_admin(
                session,
                UUID(collaboration_id),
                why=f"{what}: escrow refused: {exc.message}",
                public_url=ctx.settings.app.public_url,
            )
        decision = "escrow refused; held for admin review"
    log.info("%s %s: %s", what, collaboration_id, decision)
    return decision


@job("deadlines.ghost_collaboration", max_retries=12)
async def ghost_collaboration(ctx: JobContext, collaboration_id: str) -> str:
    return await _enforce(ctx, "ghosting check", enforcement.ghost_collaboration, collaboration_id)


@job("deadlines.auto_approve_post", max_retries=12)
async def auto_approve_post(ctx: JobContext, collaboration_id: str) -> str:
    return await _enforce(ctx, "review-window check", enforcement.auto_approve_post, collaboration_id)


@job("deadlines.auto_accept_post", max_retries=12)
async def auto_accept_post(ctx: JobContext, collaboration_id: str) -> str:
    return await _enforce(ctx, "post review window check", enforcement.auto_accept_post, collaboration_id)


@job("deadlines.announce_brand_no_show", max_retries=5)
async def announce_brand_no_show(ctx: JobContext, collaboration_id: str) -> str:
    return await _enforce(ctx, "brand no-show check", enforcement.announce_brand_no_show, collaboration_id)


async def reconcile_watch_batch(session: AsyncSession, limit: int = 1000) -> int:
    """Give watch rows to open collaborations that have none (created before the watch existed, or by bulk SQL)."""
    missing = (
        await session.scalars(
            sa.select(Collaboration)
            .outerjoin(DeadlineWatch, DeadlineWatch.collaboration_id == Collaboration.id)
            .where(DeadlineWatch.id.is_(None), Collaboration.status.notin_([s.value for s in TERMINAL]))
            .limit(limit)
        )
    ).all()
    if missing:
        assert session.bind is not None
        rows: list[dict[str, object]] = [{"collaboration_id": c.id, "check_at": earliest_check_at(c)} for c in missing]
        await session.execute(upsert_watch(session.bind.dialect.name, rows))
    return len(missing)


@job("deadlines.reconcile_watches", every=3600.0, max_retries=0)
async def reconcile_watches(ctx: JobContext) -> int:
    total = 0
    while True:
        async with session_scope(ctx.session_maker) as session:
            added = await reconcile_watch_batch(session)
        total += added
        if added < 1000:
            break
    if total:
        log.info("deadline watch repaired for %d collaborations", total)
    return total
