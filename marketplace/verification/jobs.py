"""Verification jobs on the ``verification`` queue: check a submitted post, re-check it during keep-live.

Outbound fetches happen outside any database transaction. A transient failure (429, 5xx, time-out, network)
raises RetryLater, which the queue turns into a retry with exponential backoff and jitter, or after the platform's
Retry-After; after MAX_FETCH_ATTEMPTS the check is decided as it stands.
"""

from __future__ import annotations

import asyncio
import logging
from uuid import UUID

import httpx

from marketplace.db import session_scope
from marketplace.jobs import JobContext, RetryLater, job
from marketplace.social.source import fetch_from_account
from marketplace.verification.adapters import PostAdapter, build_adapters
from marketplace.verification.models import CheckPurpose
from marketplace.verification.outcomes import TransientFetchError
from marketplace.verification.posts import Platform
from marketplace.verification.services import (
    MAX_FETCH_ATTEMPTS,
    begin_check,
    conclude_check,
    current_submission,
    fetch_submitted_post,
    note_transient_failure,
)

log = logging.getLogger(__name__)


def adapters_for(ctx: JobContext) -> dict[Platform, PostAdapter]:
    """One HTTP client and one set of rate-limited adapters per event loop (they are bound to the loop)."""
    loop = asyncio.get_running_loop()

    def build() -> dict[Platform, PostAdapter]:
        client = httpx.AsyncClient(headers={"User-Agent": "PostPact post verification"})
        return build_adapters(client, ctx.settings.verification, now=ctx.clock.now)

    adapters: dict[Platform, PostAdapter] = ctx.resource(f"verification.adapters:{id(loop)}", build)
    return adapters


async def run_check(ctx: JobContext, submission_id: UUID, purpose: CheckPurpose) -> str:
    attempt = await begin_check(ctx.session_maker, submission_id, purpose, ctx.clock.now())
    if isinstance(attempt, str):
        log.info("post check of submission %s (%s) skipped: %s", submission_id, purpose.value, attempt)
        return attempt
    # The creator's connected account is the better witness (author, full caption, real publish time); oEmbed
    # decides when there is none or the post isn't among the account's own media.
    outcome = await fetch_from_account(ctx, submission_id, attempt.url)
    if outcome is None:
        outcome = await fetch_submitted_post(adapters_for(ctx), attempt.url)
    if isinstance(outcome, TransientFetchError) and attempt.attempts < MAX_FETCH_ATTEMPTS:
        await note_transient_failure(ctx.session_maker, attempt.check_id, outcome)
        log.warning(
            "post check %s attempt %d/%d: %s; retrying",
            attempt.check_id,
            attempt.attempts,
            MAX_FETCH_ATTEMPTS,
            outcome.reason,
        )
        raise RetryLater(outcome.reason, retry_after=outcome.retry_after)
    return await conclude_check(
        ctx.session_maker, attempt.check_id, outcome, ctx.clock.now(), public_url=ctx.settings.app.public_url
    )


@job("verification.verify_post", queue="verification", max_retries=MAX_FETCH_ATTEMPTS + 2)
async def verify_post(ctx: JobContext, submission_id: str) -> str:
    """Check a just-submitted post: exists, public, by the creator, disclosed, tagged, published after signing."""
    return await run_check(ctx, UUID(submission_id), CheckPurpose.SUBMITTED)


@job("verification.check_keep_live", queue="verification", max_retries=MAX_FETCH_ATTEMPTS + 2)
async def check_keep_live(ctx: JobContext, collaboration_id: str, purpose: str) -> str:
    """Re-check the current post halfway through and at the end of the keep-live period."""
    async with session_scope(ctx.session_maker) as session:
        submission = await current_submission(session, UUID(collaboration_id))
    if submission is None:
        log.info("keep-live check of collaboration %s: no submitted post", collaboration_id)
        return "no post"
    return await run_check(ctx, submission.id, CheckPurpose(purpose))
