"""A post the automatic check couldn't confirm: the brand owns the next step with a due time, it is on the brand's
dashboard and in reminders, and when the review window passes PostPact accepts and pays (unless the brand opened a
dispute). After a hand accept the page says who accepted it and what couldn't be checked, in words."""

from __future__ import annotations

import html
from datetime import timedelta
from typing import Any

import sqlalchemy as sa

from marketplace.clock import as_utc
from marketplace.collaborations.models import CollaborationEvent, PostSubmission
from marketplace.collaborations.states import CollabState
from marketplace.deadlines import jobs as deadline_jobs
from marketplace.deadlines.models import DeadlineReminder
from marketplace.deadlines.sweeper import sweep_deadlines
from marketplace.notifications.models import Notification
from marketplace.verification.models import CheckPurpose
from marketplace.verification.outcomes import MalformedResponse
from marketplace.verification.posts import Platform
from marketplace.verification.services import begin_check, conclude_check
from tests.support.deadlines import load
from tests.support.deals import PASSWORD
from tests.support.escrow import assert_ledger_invariants, funded_deal, hold_of, run_jobs


async def needs_review(runtime: Any, db: Any) -> Any:
    """A funded deal whose live post the platform answered with something unreadable: "needs review"."""
    deal = await funded_deal(runtime, CollabState.POSTED, onboarded=True)
    submission = await db.scalar(sa.select(PostSubmission).where(PostSubmission.collaboration_id == deal.id))
    now = runtime.clock.now()
    attempt = await begin_check(runtime.session_maker, submission.id, CheckPurpose.SUBMITTED, now)
    outcome = MalformedResponse(platform=Platform.TIKTOK, requested_url=submission.url,
                                reason="the answer was not JSON", fetched_at=now)
    assert await conclude_check(runtime.session_maker, attempt.check_id, outcome, now) == "needs_review"
    return deal


async def actions(db: Any, deal: Any) -> list[CollaborationEvent]:
    return list(await db.scalars(sa.select(CollaborationEvent).where(CollaborationEvent.collaboration_id == deal.id)
                                 .order_by(CollaborationEvent.seq)))


async def test_needs_review_has_an_owner_a_due_time_and_a_dashboard_place(runtime: Any, db: Any, web: Any) -> None:
    deal = await needs_review(runtime, db)
    collab = await load(runtime, deal.id)
    window = timedelta(hours=collab.terms["review_window_hours"])
    assert (collab.status, collab.next_due_stage, collab.next_due_party) == (CollabState.POSTED, "check", "brand")
    assert as_utc(collab.next_due_at) == runtime.clock.now() + window
    note = await db.scalar(sa.select(Notification).where(Notification.user_id == deal.brand.user_id,
                                                          Notification.kind == "verification.needs_review"))
    assert "If you do neither, PostPact accepts it" in note.body

    await web.sign_in(deal.brand.email, PASSWORD)
    dashboard = (await web.get("/brand")).text
    assert "Nothing needs you right now" not in dashboard
    assert "Check the post by hand" in dashboard
    page = (await web.get(deal.url)).text
    assert "Check the post by hand" in page and "— <strong>You</strong>" in page
    assert 'data-testid="review-rule"' in page and "PostPact accepts it and releases the payment" in page


async def test_reminders_then_automatic_acceptance_releases_the_money(runtime: Any, db: Any, queue: Any) -> None:
    deal = await needs_review(runtime, db)
    due = (await load(runtime, deal.id)).due("check")
    assert due is not None
    await sweep_deadlines(runtime.session_maker, due - timedelta(hours=23))
    reminders = list(await db.scalars(sa.select(DeadlineReminder).where(DeadlineReminder.collaboration_id == deal.id)))
    assert [(r.stage, r.party, r.offset_hours) for r in reminders] == [("check", "brand", -24)]

    queue.jobs.clear()
    runtime.clock.set(due + timedelta(minutes=5))
    await sweep_deadlines(runtime.session_maker, runtime.clock.now())
    assert "deadlines.auto_accept_post" in [j.name for j in queue.jobs]
    queue.jobs.clear()
    assert await deadline_jobs.auto_accept_post(runtime.job_context(), str(deal.id)) == "accepted"
    await run_jobs(runtime)
    collab = await load(runtime, deal.id)
    assert collab.status == CollabState.RELEASED
    assert (await hold_of(db, deal.id)).released_creator_amount == collab.fee_amount
    await assert_ledger_invariants(db)
    verified = [e for e in await actions(db, deal) if e.action in ("mark_verified", "approve_post")]
    assert [(e.action, e.actor_party, e.payload["accepted_unchecked"]) for e in verified] == [
        ("mark_verified", "system", True), ("approve_post", "system", True)]
    assert await deadline_jobs.auto_accept_post(runtime.job_context(), str(deal.id)) == "not due"


async def test_a_dispute_stops_the_automatic_acceptance(runtime: Any, db: Any, web: Any) -> None:
    deal = await needs_review(runtime, db)
    await web.sign_in(deal.brand.email, PASSWORD)
    opened = await web.post(f"{deal.url}/dispute", {"reason": "brief_mismatch",
                                                    "statement": "The post is not what we agreed: wrong product."})
    assert opened.status_code in (200, 302, 303), opened.text[:500]
    collab = await load(runtime, deal.id)
    assert collab.status == CollabState.DISPUTED
    runtime.clock.set(runtime.clock.now() + timedelta(days=30))
    assert await deadline_jobs.auto_accept_post(runtime.job_context(), str(deal.id)) == "not due"
    assert (await load(runtime, deal.id)).status == CollabState.DISPUTED


async def test_after_a_hand_accept_the_page_says_who_and_what_was_not_checked(runtime: Any, db: Any,
                                                                              web: Any) -> None:
    deal = await needs_review(runtime, db)
    await web.sign_in(deal.brand.email, PASSWORD)
    accepted = await web.post(f"{deal.url}/accept-post", {"note": "Watched it, all fine"})
    assert accepted.status_code in (200, 302, 303)
    assert (await load(runtime, deal.id)).status == CollabState.VERIFIED
    page = html.unescape((await web.get(deal.url)).text)
    assert "passed PostPact's checks" not in page
    assert "You accepted the post by hand" in page
    assert "couldn't check: the post exists, the post is public, posted from the creator's linked account" in page
    assert "hashtag #glowlab in the caption" in page
    # The creator reads the same, naming the brand member who accepted it.
    await web.sign_out()
    await web.sign_in(deal.creator.email, PASSWORD)
    page = html.unescape((await web.get(deal.url)).text)
    assert "GlowLab (" in page and "accepted it by hand" in page
    evidence = html.unescape((await web.get(f"{deal.url}/verification")).text)
    assert "hashtags_present:" not in evidence and "author_matches" not in evidence
    assert "Hashtag #glowlab in the caption" in evidence and "Couldn't be checked" in evidence
