"""Verifying a submitted post end to end (service and job, real HTTP to the local oEmbed server, real database):
each platform answer ends in the right collaboration state, with the evidence stored and both sides told."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
import sqlalchemy as sa

from marketplace.collaborations.models import CollaborationEvent, PostSubmission
from marketplace.collaborations.states import CollabState
from marketplace.jobs import RetryLater
from marketplace.notifications.models import Notification
from marketplace.verification import jobs as verification_jobs
from marketplace.verification.checks import check_label
from marketplace.verification.models import CheckPurpose, EngagementSnapshot, PostCheck
from marketplace.verification.services import MAX_FETCH_ATTEMPTS
from tests.conftest import START
from tests.support.deadlines import load, make_deal

CAPTION = "Morning routine with my new serum @acmegoods #ad #glow"


async def posted(runtime: Any, people: Any, oembed: Any, **post: Any) -> Any:
    deal = await make_deal(runtime, people, until=CollabState.POSTED, start=START)
    values = {"author": deal.handle, "caption": CAPTION, **post}
    oembed.add_post("tiktok", deal.post_url, **values)
    runtime.clock.set(START + timedelta(hours=12))
    return deal


async def verify(runtime: Any, deal: Any) -> str:
    return await verification_jobs.verify_post(runtime.job_context(), str(deal.submission_id))


async def verify_until_decided(runtime: Any, deal: Any) -> tuple[str, list[RetryLater]]:
    """What the queue does: run the job again after each RetryLater, up to the last attempt."""
    retries: list[RetryLater] = []
    for _ in range(MAX_FETCH_ATTEMPTS):
        try:
            return await verify(runtime, deal), retries
        except RetryLater as exc:
            retries.append(exc)
    raise AssertionError(f"still retrying after {MAX_FETCH_ATTEMPTS} attempts: {retries}")


async def the_check(db: Any, deal: Any) -> PostCheck:
    check = await db.scalar(
        sa.select(PostCheck).where(
            PostCheck.submission_id == deal.submission_id, PostCheck.purpose == CheckPurpose.SUBMITTED.value
        )
    )
    assert check is not None
    return check


async def actions(db: Any, deal: Any) -> list[str]:
    return list(
        (
            await db.scalars(
                sa.select(CollaborationEvent.action)
                .where(CollaborationEvent.collaboration_id == deal.collaboration_id)
                .order_by(CollaborationEvent.seq)
            )
        ).all()
    )


def failed_names(check: PostCheck) -> set[str]:
    return {c["name"] for c in check.checks if c["status"] == "failed"}


async def notification_kinds(db: Any, user_id: Any) -> list[str]:
    return list((await db.scalars(sa.select(Notification.kind).where(Notification.user_id == user_id))).all())


async def test_a_good_post_is_verified_with_evidence(
    runtime: Any, people: Any, oembed: Any, db: Any, limiter_clock: Any
) -> None:
    deal = await posted(runtime, people, oembed, extra_fields={"view_count": 1200, "like_count": 85})
    assert await verify(runtime, deal) == "verified"

    assert (await load(runtime, deal.collaboration_id)).status == CollabState.VERIFIED
    check = await the_check(db, deal)
    assert check.status == "verified" and check.attempts == 1 and check.http_status == 200
    assert check.author_handle == deal.handle and check.caption == CAPTION
    assert '"author_url"' in check.payload_text and len(check.payload_sha256) == 64
    assert check.content_sha256 and check.fetched_at == runtime.clock.now()
    assert failed_names(check) == set()
    submission = await db.get(PostSubmission, deal.submission_id)
    assert submission.verification_status == "verified"
    assert (await actions(db, deal))[-1] == "mark_verified"
    snapshot = await db.scalar(
        sa.select(EngagementSnapshot).where(EngagementSnapshot.submission_id == deal.submission_id)
    )
    assert (snapshot.views, snapshot.likes, snapshot.comments) == (1200, 85, None)
    assert "verification.verified" in await notification_kinds(db, deal.brand.user_id)
    # Running the job again (a second delivery) changes nothing.
    assert await verify(runtime, deal) == "already verified"
    assert oembed.request_count(deal.post_url) == 1


@pytest.mark.parametrize(
    ("arrange", "failed_check"),
    [
        (lambda server, deal: server.delete(deal.post_url), "post_exists"),
        (lambda server, deal: server.make_private(deal.post_url), "is_public"),
        (
            lambda server, deal: server.add_post("tiktok", deal.post_url, author="someone_else", caption=CAPTION),
            "author_matches",
        ),
        (
            lambda server, deal: server.add_post(
                "tiktok", deal.post_url, author=deal.handle, caption="Morning routine @acmegoods #glow"
            ),
            "disclosure_present",
        ),
    ],
    ids=["deleted-404", "private", "wrong-author", "missing-ad"],
)
async def test_a_bad_post_fails_with_the_check_named_and_the_deal_waits_for_a_fix(
    runtime: Any, people: Any, oembed: Any, db: Any, limiter_clock: Any, arrange: Any, failed_check: str
) -> None:
    deal = await posted(runtime, people, oembed)
    arrange(oembed, deal)
    assert await verify(runtime, deal) == "failed"

    collab = await load(runtime, deal.collaboration_id)
    assert collab.status == CollabState.POSTED  # the creator may fix it and submit again
    check = await the_check(db, deal)
    assert check.status == "failed" and failed_check in failed_names(check)
    assert check.summary.startswith("Failed:") and check_label(failed_check).lower()[4:] in check.summary.lower()
    assert check.attempts == 1
    assert (await db.get(PostSubmission, deal.submission_id)).verification_status == "failed"
    assert (await actions(db, deal))[-1] == "record_verification"
    notes = (
        await db.scalars(
            sa.select(Notification).where(
                Notification.user_id == deal.creator.user_id, Notification.kind == "verification.failed"
            )
        )
    ).all()
    assert len(notes) == 1 and check_label(failed_check).lower()[4:] in notes[0].title.lower()


async def test_deleted_post_evidence_keeps_the_platform_answer(
    runtime: Any, people: Any, oembed: Any, db: Any, limiter_clock: Any
) -> None:
    deal = await posted(runtime, people, oembed)
    oembed.delete(deal.post_url)
    await verify(runtime, deal)
    check = await the_check(db, deal)
    assert check.outcome_kind == "not_found" and check.http_status in {400, 404}
    assert check.payload_text and check.payload_sha256


async def test_429_retries_after_the_retry_after_then_verifies(
    runtime: Any, people: Any, oembed: Any, db: Any, limiter_clock: Any
) -> None:
    deal = await posted(runtime, people, oembed)
    oembed.rate_limit(deal.post_url, retry_after=30, times=1)
    with pytest.raises(RetryLater) as raised:
        await verify(runtime, deal)
    assert raised.value.retry_after == 30
    check = await the_check(db, deal)
    assert check.status == "running" and check.attempts == 1 and check.http_status == 429
    assert "429" in (check.last_error or "")
    assert (await load(runtime, deal.collaboration_id)).status == CollabState.POSTED

    assert await verify(runtime, deal) == "verified"
    # The platform's Retry-After also held back the per-platform rate limiter.
    assert any(29 <= s <= 30 for s in limiter_clock.sleeps)
    assert (await the_check(db, deal)).attempts == 2


async def test_500_is_retried_and_a_later_success_verifies(
    runtime: Any, people: Any, oembed: Any, db: Any, limiter_clock: Any
) -> None:
    deal = await posted(runtime, people, oembed)
    oembed.fail_next(deal.post_url, times=2, status=500)
    decision, retries = await verify_until_decided(runtime, deal)
    assert decision == "verified"
    assert len(retries) == 2 and all(r.retry_after is None for r in retries)
    assert (await the_check(db, deal)).attempts == 3
    assert (await actions(db, deal)).count("mark_verified") == 1


async def test_a_platform_down_through_every_retry_needs_the_brands_review(
    runtime: Any, people: Any, oembed: Any, db: Any, limiter_clock: Any
) -> None:
    deal = await posted(runtime, people, oembed)
    oembed.fail_next(deal.post_url, times=10, status=503)
    decision, retries = await verify_until_decided(runtime, deal)
    assert decision == "needs_review"
    assert len(retries) == MAX_FETCH_ATTEMPTS - 1
    check = await the_check(db, deal)
    assert check.status == "needs_review" and check.attempts == MAX_FETCH_ATTEMPTS
    assert check.outcome_kind == "transient" and check.http_status == 503
    assert (await load(runtime, deal.collaboration_id)).status == CollabState.POSTED
    assert "verification.needs_review" in await notification_kinds(db, deal.brand.user_id)


async def test_malformed_json_needs_review_without_retrying(
    runtime: Any, people: Any, oembed: Any, db: Any, limiter_clock: Any
) -> None:
    deal = await posted(runtime, people, oembed)
    oembed.serve_malformed(deal.post_url)
    assert await verify(runtime, deal) == "needs_review"
    check = await the_check(db, deal)
    assert check.outcome_kind == "malformed" and check.attempts == 1
    assert "<html>" in check.payload_text.lower()
    assert (await db.get(PostSubmission, deal.submission_id)).verification_status == "needs_review"
    assert (await actions(db, deal))[-1] == "record_verification"


async def test_a_response_slower_than_the_timeout_is_retried_then_needs_review(
    runtime: Any, people: Any, oembed: Any, db: Any, limiter_clock: Any
) -> None:
    deal = await posted(runtime, people, oembed)
    oembed.respond_slowly(deal.post_url, 3.0)
    decision, retries = await verify_until_decided(runtime, deal)
    assert decision == "needs_review"
    assert all("did not answer within 0.5 s" in str(r) for r in retries)
    check = await the_check(db, deal)
    assert check.status == "needs_review" and check.outcome_kind == "transient"
    assert check.http_status is None


async def test_a_replaced_submission_or_a_deal_that_moved_on_is_not_fetched(
    runtime: Any, people: Any, oembed: Any, db: Any, limiter_clock: Any
) -> None:
    deal = await posted(runtime, people, oembed)
    async with runtime.session_maker() as session, session.begin():
        submission = await session.get(PostSubmission, deal.submission_id)
        submission.is_current = False
    assert (await verify(runtime, deal)).startswith("superseded")
    assert (await load(runtime, deal.collaboration_id)).status == CollabState.POSTED
    checks = (await db.scalars(sa.select(PostCheck).where(PostCheck.submission_id == deal.submission_id))).all()
    assert checks == []
    assert oembed.request_count(deal.post_url) == 0

    disputed = await make_deal(runtime, people, until=CollabState.VERIFIED, start=START)
    oembed.add_post("tiktok", disputed.post_url, author=disputed.handle, caption=CAPTION)
    assert (await verify(runtime, disputed)) == "superseded: the deal is verified"
    assert oembed.request_count(disputed.post_url) == 0
