"""A real Celery worker process on the real Redis runs PostPact's jobs: verification that succeeds, one that retries
after a 500, the deadline sweep, and a worker killed in the middle of a task that loses nothing and does nothing
twice once restarted."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import sqlalchemy as sa

from marketplace.collaborations.models import CollaborationEvent, PostSubmission
from marketplace.collaborations.states import CollabState
from marketplace.deadlines.models import DeadlineReminder
from marketplace.payments import hooks
from marketplace.verification.models import CheckPurpose, PostCheck
from tests.support.deadlines import load, make_deal
from tests.support.escrow import assert_ledger_invariants, funded_deal, hold_of
from tests.worker.conftest import VISIBILITY_TIMEOUT, wait_for

pytestmark = [pytest.mark.worker, pytest.mark.slow, pytest.mark.xdist_group("celery-worker")]

CAPTION = "Morning routine with my new serum @acmegoods #ad #glow"


async def posted_deal(runtime: Any, people: Any, oembed: Any, *, caption: str = CAPTION) -> Any:
    now = datetime.now(UTC)
    deal = await make_deal(runtime, people, until=CollabState.POSTED, start=now - timedelta(hours=10))
    oembed.add_post("tiktok", deal.post_url, author=deal.handle, caption=caption)
    return deal


async def final_check(db: Any, submission_id: Any) -> PostCheck | None:
    check = await db.scalar(
        sa.select(PostCheck).where(
            PostCheck.submission_id == submission_id, PostCheck.purpose == CheckPurpose.SUBMITTED.value
        )
    )
    return check if check is not None and check.status != "running" else None


async def actions(db: Any, collaboration_id: Any) -> list[str]:
    return list(
        (
            await db.scalars(
                sa.select(CollaborationEvent.action)
                .where(CollaborationEvent.collaboration_id == collaboration_id)
                .order_by(CollaborationEvent.seq)
            )
        ).all()
    )


async def test_verification_task_succeeds_on_the_verification_queue(
    runtime: Any, people: Any, db: Any, oembed: Any, start_worker: Any, celery_client: Any
) -> None:
    deal = await posted_deal(runtime, people, oembed)
    worker = start_worker()
    celery_client.send_task("verification.verify_post", args=[str(deal.submission_id)], queue="verification")
    celery_client.send_task("deadlines.sweep", queue="default")

    check = await wait_for(lambda: final_check(db, deal.submission_id), what="the post check")
    assert check.status == "verified", check.summary
    await wait_for(lambda: _idle(celery_client), what="the queues to drain")
    # Each task delivered once, to one queue (a queue bound to another's routing key would get a copy).
    log = worker.log()
    assert log.count("Task verification.verify_post[") == 2, log  # "received" and "succeeded"
    assert log.count("Task deadlines.sweep[") == 2, log
    assert check.attempts == 1
    assert check.author_handle == deal.handle and check.caption == CAPTION
    assert check.payload_sha256 and check.content_sha256
    collab = await load(runtime, deal.collaboration_id)
    assert collab.status == CollabState.VERIFIED
    assert (await actions(db, deal.collaboration_id))[-1] == "mark_verified"
    submission = await db.get(PostSubmission, deal.submission_id)
    assert submission.verification_status == "verified"
    assert oembed.request_count(deal.post_url) == 1


async def test_verification_retries_after_a_500_and_then_succeeds(
    runtime: Any, people: Any, db: Any, oembed: Any, start_worker: Any, celery_client: Any
) -> None:
    deal = await posted_deal(runtime, people, oembed)
    oembed.fail_next(deal.post_url, times=1, status=500)
    worker = start_worker()
    celery_client.send_task("verification.verify_post", args=[str(deal.submission_id)], queue="verification")

    check = await wait_for(lambda: final_check(db, deal.submission_id), what="the post check")
    assert check.status == "verified", check.summary
    assert check.attempts == 2
    assert oembed.request_count(deal.post_url) == 2
    assert (await load(runtime, deal.collaboration_id)).status == CollabState.VERIFIED
    assert "had a server error (500)" in worker.log() and "retry 1/" in worker.log()


async def test_a_worker_killed_mid_task_loses_nothing_and_does_nothing_twice(
    runtime: Any, people: Any, db: Any, oembed: Any, start_worker: Any, celery_client: Any
) -> None:
    deal = await posted_deal(runtime, people, oembed)
    oembed.respond_slowly(deal.post_url, 3.0)
    worker = start_worker()
    celery_client.send_task("verification.verify_post", args=[str(deal.submission_id)], queue="verification")

    async def fetch_started() -> bool:
        return oembed.request_count(deal.post_url) >= 1

    await wait_for(fetch_started, what="the worker to start fetching the post")
    worker.kill()  # in the middle of the task: the fetch is under way, nothing decided, nothing acknowledged
    assert await final_check(db, deal.submission_id) is None
    assert (await load(runtime, deal.collaboration_id)).status == CollabState.POSTED

    oembed.respond_slowly(deal.post_url, 0.0)
    # Until the visibility timeout passes, Redis still counts the task as in flight with the dead worker.
    await asyncio.sleep(VISIBILITY_TIMEOUT + 0.5)
    restarted = start_worker()
    try:
        check = await wait_for(lambda: final_check(db, deal.submission_id), within=60, what="the redelivered task")
    except AssertionError as exc:
        raise AssertionError(f"{exc}\n--- worker log ---\n{restarted.log()[-6000:]}") from None
    assert check.status == "verified"
    assert check.attempts == 2  # the killed attempt, then the redelivered one
    assert (await actions(db, deal.collaboration_id)).count("mark_verified") == 1
    checks = (await db.scalars(sa.select(PostCheck).where(PostCheck.submission_id == deal.submission_id))).all()
    assert len(checks) == 1


async def test_the_same_task_delivered_twice_acts_once(
    runtime: Any, people: Any, db: Any, oembed: Any, start_worker: Any, celery_client: Any
) -> None:
    deal = await posted_deal(runtime, people, oembed)
    received = await make_deal(
        runtime, people, until=CollabState.RECEIVED, start=datetime.now(UTC) - timedelta(days=11, hours=12)
    )
    start_worker()
    for _ in range(2):
        celery_client.send_task("verification.verify_post", args=[str(deal.submission_id)], queue="verification")
        celery_client.send_task("deadlines.sweep", queue="default")

    await wait_for(lambda: final_check(db, deal.submission_id), what="the post check")

    async def reminded() -> int:
        return await db.scalar(
            sa.select(sa.func.count())
            .select_from(DeadlineReminder)
            .where(DeadlineReminder.collaboration_id == received.collaboration_id)
        )

    await wait_for(reminded, what="the reminder")
    inspector = celery_client.control.inspect(timeout=1)
    del inspector  # the worker runs without gossip; the database is the witness
    await wait_for(lambda: _idle(celery_client), what="the queues to drain")
    assert (await actions(db, deal.collaboration_id)).count("mark_verified") == 1
    assert await reminded() == 1


async def _idle(client: Any) -> bool:
    with client.connection_for_write() as conn:
        redis = conn.default_channel.client
        return all(redis.llen(q) == 0 for q in ("default", "verification"))


async def test_ghosting_sweep_refunds_through_escrow(
    runtime: Any, clock: Any, db: Any, start_worker: Any, celery_client: Any
) -> None:
    # The deal is arranged 40 days ago (the worker runs on the real clock), funded through escrow's simulated
    # checkout; the creator got the product and never posted.
    clock.set(datetime.now(UTC) - timedelta(days=40))
    deal = await funded_deal(runtime, CollabState.RECEIVED)
    before = await assert_ledger_invariants(db)
    start_worker()
    celery_client.send_task("deadlines.sweep", queue="default")

    async def refunded() -> bool:
        hold = await hold_of(db, deal.id)
        return hold.refunded_amount > 0 and hold.held_amount == 0

    await wait_for(refunded, what="the ghosting refund to be confirmed by the provider")
    collab = await load(runtime, deal.id)
    assert collab.status == CollabState.GHOSTED
    assert (await actions(db, deal.id)).count("ghost") == 1
    hold = await hold_of(db, deal.id)
    assert hold.refunded_amount == hold.funded_amount
    await assert_ledger_invariants(db, before)
    async with runtime.session_maker() as session:
        assert not await hooks.is_funded(session, collab)
