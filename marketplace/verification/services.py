"""Post verification as a service: fetch a submitted post, judge it, keep the evidence, move the deal on.

A check runs in three short steps so no database lock is held during the outbound call: ``begin_check`` records
the attempt, the adapter fetches, ``conclude_check`` locks the collaboration and decides once (a second run of the
same check finds it decided and does nothing). Transient failures are retried by the job with backoff; after
``MAX_FETCH_ATTEMPTS`` the check is decided as it stands (``needs_review``: the brand decides by hand).
"""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from marketplace.clock import as_utc
from marketplace.collaborations.models import Collaboration, PostSubmission
from marketplace.collaborations.states import SYSTEM, Action, CollabState
from marketplace.collaborations.terms import Terms
from marketplace.collaborations.transition import lock_collaboration, transition
from marketplace.db import session_scope
from marketplace.deadlines.recipients import admin_ids, deal_parties
from marketplace.jobs import enqueue
from marketplace.notifications.services import notify
from marketplace.verification.adapters import PostAdapter, fetch_post
from marketplace.verification.checks import (
    CheckResult,
    CheckStatus,
    DealRequirements,
    VerificationResult,
    VerificationStatus,
    check_label,
    check_status_words,
    checks_in_words,
    verify_post,
)
from marketplace.verification.models import CheckPurpose, CheckState, EngagementSnapshot, PostCheck
from marketplace.verification.outcomes import FetchedPost, FetchError, FetchOutcome, PostNotFound, PostNotPublic
from marketplace.verification.posts import InvalidPostUrl, Platform

log = logging.getLogger(__name__)

#: One first try and three retries (with exponential backoff and jitter, or the platform's Retry-After).
MAX_FETCH_ATTEMPTS = 4
#: Evidence keeps the platform's answer up to this size (oEmbed answers are a few KiB).
MAX_EVIDENCE_CHARS = 64 * 1024


# --- what the deal asks for -----------------------------------------------------------------------------------------


def deal_requirements(collab: Collaboration) -> DealRequirements:
    """The checks' input, read from the frozen terms (never the live gig) and the signing time."""
    terms = Terms.from_dict(collab.terms)
    try:
        platform: Platform | None = Platform(terms.platform)
    except ValueError:
        platform = None
    deliverables = [d for d in terms.deliverables if platform is None or d.platform == terms.platform]
    disclosure = next((d.disclosure_text for d in deliverables if d.disclosure_required and d.disclosure_text), "#ad")
    hashtags = tuple(dict.fromkeys(tag for d in deliverables for tag in d.required_hashtags))
    mentions = tuple(dict.fromkeys(handle for d in deliverables for handle in d.required_mentions))
    signed = as_utc(collab.signed_at) if collab.signed_at else as_utc(collab.created_at)
    return DealRequirements(
        creator_handle=terms.handle,
        signed_at=signed,
        platform=platform,
        disclosure=disclosure,
        required_hashtags=hashtags,
        required_mentions=mentions,
    )


def invalid_link_result(message: str) -> VerificationResult:
    check = CheckResult("post_link_valid", CheckStatus.FAILED, message)
    summary = f"Failed: not met — {checks_in_words([check.name])}."
    return VerificationResult(VerificationStatus.FAILED, (check,), summary, "invalid_link")


# --- starting checks --------------------------------------------------------------------------------------------------


async def start_verification(
    session: AsyncSession, collab: Collaboration, submission: PostSubmission, now: datetime
) -> None:
    """Called when the creator submits a live post: verify it after this transaction commits."""
    submission.verification_status = "pending"
    enqueue(session, "verification.verify_post", str(submission.id))
    log.info("verification of submission %s queued for collaboration %s at %s", submission.id, collab.id, now)


async def current_submission(session: AsyncSession, collaboration_id: UUID) -> PostSubmission | None:
    return await session.scalar(
        sa.select(PostSubmission)
        .where(PostSubmission.collaboration_id == collaboration_id, PostSubmission.is_current.is_(True))
        .order_by(PostSubmission.created_at.desc())
        .limit(1)
    )


@dataclass(frozen=True)
class CheckAttempt:
    check_id: UUID
    url: str
    attempts: int


async def begin_check(
    session_maker: async_sessionmaker[AsyncSession], submission_id: UUID, purpose: CheckPurpose, now: datetime
) -> CheckAttempt | str:
    """Count one more attempt of this check (its own short transaction); returns why not when nothing is to do."""
    async with session_scope(session_maker) as session:
        submission = await session.get(PostSubmission, submission_id)
        if submission is None:
            return "gone"
        check = await session.scalar(
            sa.select(PostCheck)
            .where(PostCheck.submission_id == submission_id, PostCheck.purpose == purpose.value)
            .with_for_update()
        )
        if check is not None and CheckState(check.status).is_final:
            return f"already {check.status}"
        collab = await session.get(Collaboration, submission.collaboration_id)
        assert collab is not None
        waiting_for = CollabState.POSTED if purpose is CheckPurpose.SUBMITTED else CollabState.RELEASED
        if CollabState(collab.status) is not waiting_for or not submission.is_current:
            # The deal moved on (the brand verified by hand, a dispute, a newer link): nothing to fetch for.
            if check is not None:
                check.status = CheckState.SUPERSEDED.value
                check.decided_at = now
            return f"superseded: the deal is {collab.status}"
        if check is None:
            check = PostCheck(
                collaboration_id=submission.collaboration_id,
                submission_id=submission.id,
                purpose=purpose.value,
                status=CheckState.RUNNING.value,
                attempts=0,
                platform=submission.platform,
                requested_url=submission.url,
                checks=[],
            )
            session.add(check)
        check.attempts += 1
        await session.flush()
        return CheckAttempt(check.id, submission.url, check.attempts)


async def fetch_submitted_post(adapters: dict[Platform, PostAdapter], url: str) -> FetchOutcome | InvalidPostUrl:
    try:
        return await fetch_post(adapters, url)
    except InvalidPostUrl as exc:
        return exc


async def note_transient_failure(
    session_maker: async_sessionmaker[AsyncSession], check_id: UUID, outcome: FetchError
) -> None:
    async with session_scope(session_maker) as session:
        check = await session.get(PostCheck, check_id, with_for_update=True)
        if check is not None:
            check.last_error = outcome.reason[:1000]
            check.http_status = outcome.status_code


# --- deciding -------------------------------------------------------------------------------------------------------


def _fill_evidence(check: PostCheck, outcome: FetchOutcome | InvalidPostUrl, result: VerificationResult) -> None:
    check.status = result.status.value
    check.summary = result.summary
    check.outcome_kind = result.outcome_kind
    check.checks = result.to_dict()["checks"]
    if isinstance(outcome, FetchedPost):
        check.payload_text = outcome.raw_payload.decode("utf-8", "replace")[:MAX_EVIDENCE_CHARS]
        check.payload_sha256 = outcome.payload_sha256
        check.content_sha256 = outcome.content_sha256
        check.author_handle = (outcome.author_handle or "")[:100] or None
        check.caption = outcome.caption
        check.published_at = outcome.published_at
        check.fetched_at = outcome.fetched_at
        check.http_status = 200
        check.requested_url = outcome.requested_url
    elif isinstance(outcome, FetchError):
        check.payload_text = outcome.body_excerpt[:MAX_EVIDENCE_CHARS]
        check.payload_sha256 = hashlib.sha256(outcome.body_excerpt.encode()).hexdigest()
        check.fetched_at = outcome.fetched_at
        check.http_status = outcome.status_code
        check.requested_url = outcome.requested_url
        check.last_error = outcome.reason[:1000]
    else:
        check.payload_text = ""
        check.last_error = str(outcome)[:1000]


def _snapshot_engagement(session: AsyncSession, check: PostCheck, outcome: object) -> None:
    if not isinstance(outcome, FetchedPost) or outcome.engagement is None:
        return
    e = outcome.engagement
    session.add(
        EngagementSnapshot(
            collaboration_id=check.collaboration_id,
            submission_id=check.submission_id,
            taken_at=outcome.fetched_at,
            views=e.views,
            likes=e.likes,
            comments=e.comments,
            shares=e.shares,
        )
    )


async def _people(session: AsyncSession, collab: Collaboration) -> tuple[list[UUID], list[UUID]]:
    return await deal_parties(session, collab)


async def _tell(
    session: AsyncSession,
    user_ids: list[UUID],
    collab: Collaboration,
    *,
    kind: str,
    title: str,
    body: str,
    result: VerificationResult,
    public_url: str,
) -> None:
    await notify(
        session,
        user_ids,
        kind=kind,
        title=title,
        body=body,
        link=f"/collaborations/{collab.id}",
        email_template="verification_result",
        checks=[{**c, "label": check_label(c["name"]), "status_words": check_status_words(c["status"])}
                for c in result.to_dict()["checks"] if c["status"] != "passed"],
        public_url=public_url,
    )


async def _apply_submitted(
    session: AsyncSession,
    collab: Collaboration,
    submission: PostSubmission,
    check: PostCheck,
    result: VerificationResult,
    now: datetime,
    public_url: str,
) -> str:
    if not submission.is_current or CollabState(collab.status) is not CollabState.POSTED:
        check.status = CheckState.SUPERSEDED.value
        check.summary = f"Not applied: the deal is {collab.status} or a newer post link was submitted. {check.summary}"
        return "superseded"
    submission.verification_status = result.status.value
    payload: dict[str, Any] = {
        "post_check_id": str(check.id),
        "submission_id": str(submission.id),
        "status": result.status.value,
        "summary": result.summary,
        "failed_checks": [c.name for c in result.failed_checks],
        # What the automatic check couldn't confirm, in words: the deal page says so after a hand or automatic
        # acceptance instead of claiming the post passed.
        "unchecked": [check_label(c.name) for c in result.unknown_checks if c.required],
    }
    terms = Terms.from_dict(collab.terms)
    brand_ids, creator_ids = await _people(session, collab)
    if result.status is VerificationStatus.VERIFIED:
        await transition(session, collab.id, Action.MARK_VERIFIED, SYSTEM, now=now, payload=payload, collab=collab)
        approve_by = collab.due("approve")
        window = f" by {approve_by:%a %d %b %Y, %H:%M} UTC" if approve_by else ""
        await _tell(session, brand_ids, collab, kind="verification.verified",
                    title=f"“{terms.gig_title}”: the post is live and verified",
                    body=(f"{terms.creator_display_name}'s post passed every check. Approve it{window} or open a "
                          "dispute; if you do neither, PostPact approves it and releases the payment."),
                    result=result, public_url=public_url)
        await _tell(session, creator_ids, collab, kind="verification.verified",
                    title=f"“{terms.gig_title}”: your post is verified",
                    body=f"Every check passed. {terms.brand_name} now reviews it; payment follows approval.",
                    result=result, public_url=public_url)
        return "verified"
    if result.status is VerificationStatus.NEEDS_REVIEW:
        # The brand now owns the next step, with a due time (the "check" stage): the transition recomputes it.
        collab.post_review_requested_at = now
    await transition(session, collab.id, Action.RECORD_VERIFICATION, SYSTEM, now=now, payload=payload, collab=collab)
    if result.status is VerificationStatus.FAILED:
        names = checks_in_words(c.name for c in result.failed_checks)
        await _tell(session, creator_ids, collab, kind="verification.failed",
                    title=f"“{terms.gig_title}”: your post failed verification (not met: {names})",
                    body="Fix what the checks below name (or publish a corrected post) and submit the link again.",
                    result=result, public_url=public_url)
        await _tell(session, brand_ids, collab, kind="verification.failed",
                    title=f"“{terms.gig_title}”: the submitted post failed verification (not met: {names})",
                    body=f"{terms.creator_display_name} has been asked to fix it and submit the link again.",
                    result=result, public_url=public_url)
        return "failed"
    check_by = collab.due("check")
    by = f" by {check_by:%a %d %b %Y, %H:%M} UTC" if check_by else ""
    await _tell(session, brand_ids, collab, kind="verification.needs_review",
                title=f"“{terms.gig_title}”: please check the post by hand{by}",
                body=(f"PostPact could not verify {terms.creator_display_name}'s post automatically: "
                      f"{result.summary} Open the post and accept it by hand if it meets the brief{by}, or open a "
                      "dispute. If you do neither, PostPact accepts it and releases the payment, as for a verified "
                      "post."),
                result=result, public_url=public_url)
    await _tell(session, creator_ids, collab, kind="verification.needs_review",
                title=f"“{terms.gig_title}”: your post is waiting for the brand's review",
                body=(f"The automatic check was inconclusive ({result.summary}); {terms.brand_name} checks it by "
                      f"hand{by}. If they don't, PostPact accepts it and releases your payment."),
                result=result, public_url=public_url)
    return "needs_review"


def _post_gone(outcome: object) -> bool:
    return isinstance(outcome, PostNotFound | PostNotPublic)


async def _apply_keep_live(
    session: AsyncSession,
    collab: Collaboration,
    check: PostCheck,
    purpose: CheckPurpose,
    outcome: object,
    result: VerificationResult,
    now: datetime,
    public_url: str,
) -> str:
    if CollabState(collab.status) is not CollabState.RELEASED:
        check.status = CheckState.SUPERSEDED.value
        return "superseded"
    terms = Terms.from_dict(collab.terms)
    brand_ids, creator_ids = await _people(session, collab)
    decision = "live"
    if _post_gone(outcome):
        decision = "removed"
        if collab.post_removed_at is None:
            payload = {
                "post_check_id": str(check.id),
                "purpose": purpose.value,
                "summary": result.summary,
            }
            await transition(
                session, collab.id, Action.MARK_POST_REMOVED, SYSTEM, now=now, payload=payload, collab=collab
            )
            body = (f"The post for “{terms.gig_title}” is no longer public ({result.summary}) although the deal asks "
                    f"to keep it live until {collab.due('keep_live'):%a %d %b %Y}. This is recorded on the creator's "
                    "reliability; admins have been told.")
            await _tell(session, brand_ids + await admin_ids(session), collab, kind="verification.post_removed",
                        title=f"“{terms.gig_title}”: the post was removed", body=body, result=result,
                        public_url=public_url)
            await _tell(session, creator_ids, collab, kind="verification.post_removed",
                        title=f"“{terms.gig_title}”: your post is no longer public",
                        body=("The deal asks to keep the post live for its whole keep-live period. Removing it "
                              "counts against your reliability score."),
                        result=result, public_url=public_url)
    elif result.status is VerificationStatus.FAILED:
        decision = "changed"
        await _tell(session, brand_ids + await admin_ids(session), collab, kind="verification.post_changed",
                    title=f"“{terms.gig_title}”: the live post no longer meets the brief",
                    body=f"The keep-live check found: {result.summary}", result=result, public_url=public_url)
    elif result.status is VerificationStatus.NEEDS_REVIEW:
        decision = "unconfirmed"
    if purpose is CheckPurpose.KEEP_LIVE_FINAL:
        payload = {"post_check_id": str(check.id), "keep_live": decision, "summary": result.summary}
        await transition(session, collab.id, Action.COMPLETE, SYSTEM, now=now, payload=payload, collab=collab)
        if decision == "unconfirmed":
            await _tell(session, await admin_ids(session), collab, kind="verification.keep_live_unconfirmed",
                        title=f"“{terms.gig_title}”: keep-live could not be confirmed",
                        body=f"The deal completed, but the last check was inconclusive: {result.summary}",
                        result=result, public_url=public_url)
        return f"completed ({decision})"
    return decision


async def conclude_check(
    session_maker: async_sessionmaker[AsyncSession],
    check_id: UUID,
    outcome: FetchOutcome | InvalidPostUrl,
    now: datetime,
    *,
    public_url: str = "",
) -> str:
    """Judge the outcome, store the evidence and move the deal on, once (one transaction, collaboration locked)."""
    async with session_scope(session_maker) as session:
        collaboration_id = await session.scalar(sa.select(PostCheck.collaboration_id).where(PostCheck.id == check_id))
        if collaboration_id is None:
            return "gone"
        collab = await lock_collaboration(session, collaboration_id)
        check = await session.scalar(
            sa.select(PostCheck).where(PostCheck.id == check_id).with_for_update().execution_options(
                populate_existing=True
            )
        )
        assert check is not None
        if CheckState(check.status).is_final:
            return f"already {check.status}"
        submission = await session.get(PostSubmission, check.submission_id)
        assert submission is not None
        if isinstance(outcome, InvalidPostUrl):
            result = invalid_link_result(str(outcome))
        else:
            result = verify_post(outcome, deal_requirements(collab))
        _fill_evidence(check, outcome, result)
        check.decided_at = now
        _snapshot_engagement(session, check, outcome)
        purpose = CheckPurpose(check.purpose)
        if purpose is CheckPurpose.SUBMITTED:
            decision = await _apply_submitted(session, collab, submission, check, result, now, public_url)
        else:
            decision = await _apply_keep_live(session, collab, check, purpose, outcome, result, now, public_url)
        await session.flush()
    log.info("post check %s (%s) for collaboration %s: %s — %s", check_id, purpose.value, collaboration_id,
             decision, result.summary)
    return decision
