"""Jobs that talk to the payment provider: run one decided call, and finish calls a crash left behind."""

from __future__ import annotations

import logging
from uuid import UUID

from escrow.executor import ProviderCallRetry
from marketplace.jobs import JobContext, RetryLater, job
from marketplace.payments.gateway import executor_for

log = logging.getLogger(__name__)


@job("escrow.execute_provider_call", max_retries=8)
async def execute_provider_call(ctx: JobContext, call_id: str) -> None:
    """Make one provider call escrow decided (idempotent: a finished call is skipped, a retry reuses its key)."""
    executor = executor_for(ctx.settings, ctx.session_maker, ctx.clock, ctx.resources)
    try:
        outcome = await executor.execute(UUID(call_id))
    except ProviderCallRetry as exc:
        raise RetryLater(f"payment provider unavailable: {exc}", retry_after=exc.retry_after) from exc
    log.info("provider call %s: %s", call_id, outcome)


#: Often enough that a call a crash left behind goes out within about half a minute of a restart (the embedded
#: scheduler also runs it a few seconds after start-up, and the Celery worker when it is ready).
@job("escrow.recover_provider_calls", every=10)
async def recover_provider_calls(ctx: JobContext) -> None:
    """Finish provider calls left unfinished (a crash between the call and its record, a lost job) and send
    releases that waited for a creator's payout account."""
    executor = executor_for(ctx.settings, ctx.session_maker, ctx.clock, ctx.resources)
    counts = await executor.recover()
    if any(counts.values()):
        log.info("recovered provider calls: %s", counts)
