"""Dispute jobs: noting answer windows that passed without an answer (safe to run twice: each case once)."""

from __future__ import annotations

import logging

from marketplace.db import session_scope
from marketplace.disputes.services import note_missed_responses
from marketplace.jobs import JobContext, job

log = logging.getLogger(__name__)


@job("disputes.note_missed_responses", every=900.0, max_retries=0)
async def note_missed_response_windows(ctx: JobContext) -> int:
    async with session_scope(ctx.session_maker) as session:
        noted = await note_missed_responses(session, ctx.clock.now())
    if noted:
        log.info("disputes: %d response window(s) passed without an answer", noted)
    return noted
