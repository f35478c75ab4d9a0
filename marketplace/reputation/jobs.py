"""Reputation jobs: reveal ratings whose window closed, and refresh the stored (decaying) rankings."""

from __future__ import annotations

from marketplace.db import session_scope
from marketplace.jobs import JobContext, job
from marketplace.reputation.ratings import reveal_expired_ratings
from reputation.recompute import refresh_rankings

HOUR = 3600.0
#: Ratings are revealed in chunks, one transaction each, so one run never holds many score locks for long.
REVEAL_CHUNK = 500


@job("reputation.reveal_ratings", every=HOUR)
async def reveal_ratings(ctx: JobContext) -> int:
    """Reveal (and score) every rating whose 14-day window closed without the other side rating; safe to re-run."""
    now = ctx.clock.now()
    total = 0
    while True:
        async with session_scope(ctx.session_maker) as session:
            revealed = await reveal_expired_ratings(session, now, REVEAL_CHUNK)
        total += len(revealed)
        if len(revealed) < REVEAL_CHUNK:
            return total


@job("reputation.refresh_scores", every=24 * HOUR)
async def refresh_scores(ctx: JobContext) -> int:
    """Re-rank every stored score as of now: old evidence decays and probations end without any new event."""
    return await refresh_rankings(ctx.session_maker, ctx.clock.now())
