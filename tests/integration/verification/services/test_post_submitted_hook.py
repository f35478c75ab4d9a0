"""The deal flow's hook: submitting a live post through DealService queues its verification, which then runs."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import sqlalchemy as sa

from marketplace.collaborations.models import PostSubmission
from marketplace.collaborations.services import DealService
from marketplace.collaborations.states import CollabState
from marketplace.db import session_scope
from tests.support.deadlines import load, tiktok_video_url
from tests.support.deals import creator_actor, make_deal


async def test_submitting_a_post_queues_its_verification_after_commit(
    runtime: Any, queue: Any, oembed: Any, db: Any, limiter_clock: Any
) -> None:
    deal = await make_deal(runtime, CollabState.DRAFT_APPROVED)
    runtime.clock.advance(hours=1)
    url = tiktok_video_url(deal.handle, runtime.clock.now() - timedelta(minutes=3))
    oembed.add_post("tiktok", url, author=deal.handle, caption="My routine #ad #glowlab @glowlab")
    queue.jobs.clear()
    async with session_scope(runtime.session_maker) as session:
        await DealService.of(session, runtime).submit_post(deal.id, creator_actor(deal.creator), url=url)
        assert "verification.verify_post" not in queue.names()  # only once the transaction commits
    submission = await db.scalar(sa.select(PostSubmission).where(PostSubmission.collaboration_id == deal.id))
    verify_jobs = [j for j in queue.jobs if j.name == "verification.verify_post"]
    assert [j.args for j in verify_jobs] == [(str(submission.id),)]
    assert submission.verification_status == "pending"

    await queue.run_all(runtime.job_context())
    assert (await load(runtime, deal.id)).status == CollabState.VERIFIED
    assert (await db.get(PostSubmission, submission.id)).verification_status == "verified"
