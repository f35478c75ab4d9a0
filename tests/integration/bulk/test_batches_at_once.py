"""Set-based batches run a few at a time (``BulkAction.batches_at_once``, PostgreSQL): every item is still done
exactly once, the counters add up, and a crash in one batch while others run loses nothing and repeats nothing."""

from __future__ import annotations

import dataclasses
import uuid
from typing import Any

import pytest
import sqlalchemy as sa

from marketplace.bulk import services
from marketplace.bulk.actions import ACTIONS
from marketplace.bulk.batch import BatchWork
from marketplace.bulk.models import BulkJob, BulkJobItem, ItemState, JobState
from marketplace.bulk.services import BulkService, Selection, run_job
from marketplace.collaborations.models import CollaborationEvent
from marketplace.collaborations.states import CollabState
from marketplace.db import session_scope
from marketplace.notifications.models import Notification, OutboxEmail
from tests.support.deals import make_deal
from tests.support.escrow import actor_of


class SimulatedCrash(BaseException):
    """A worker dying mid-batch: the batch's transaction never commits."""


async def _deals(runtime: Any, ready: int) -> tuple[Any, list[uuid.UUID]]:
    """``ready`` drafts under review, then one offer (which approving a draft refuses)."""
    first = await make_deal(runtime, CollabState.DRAFT_SUBMITTED, product_included=False)
    deals = [first] + [
        await make_deal(
            runtime, CollabState.DRAFT_SUBMITTED, brand=first.brand, creator=first.creator, product_included=False
        )
        for _ in range(ready - 1)
    ]
    deals.append(
        await make_deal(runtime, CollabState.OFFERED, brand=first.brand, creator=first.creator, product_included=False)
    )
    return first.brand, [deal.id for deal in deals]


async def _counts(db: Any, ids: list[uuid.UUID], kind: Any) -> list[int]:
    counted = dict((await db.execute(sa.select(kind, sa.func.count()).where(kind.in_(ids)).group_by(kind))).all())
    return [int(counted.get(deal_id, 0)) for deal_id in ids]


@pytest.mark.parametrize("crash_in", [None, 0, 1, 2])
async def test_batches_at_once_do_each_item_once(crash_in, runtime, db, monkeypatch) -> None:
    monkeypatch.setattr(services, "SET_BATCH", 2)
    real = dataclasses.replace(ACTIONS["approve_draft"], batches_at_once=3)
    monkeypatch.setitem(ACTIONS, "approve_draft", real)
    brand, ids = await _deals(runtime, 6)  # with the offer: 7 items, in batches of 2, three at a time
    actor = await actor_of(runtime, brand)
    async with session_scope(runtime.session_maker) as session:
        job = await BulkService(session, runtime.clock).start(actor, "approve_draft", {}, Selection(ids=ids))
    if crash_in is not None:
        started = 0

        async def crashing_batch(work: BatchWork) -> dict[uuid.UUID, Any]:
            nonlocal started
            assert real.apply_batch is not None
            mine, started = started, started + 1
            refused = await real.apply_batch(work)
            if mine == crash_in:
                raise SimulatedCrash()  # this batch dies before it commits; the others go on
            return refused

        monkeypatch.setitem(ACTIONS, "approve_draft", dataclasses.replace(real, apply_batch=crashing_batch))
        with pytest.raises(SimulatedCrash):
            await run_job(runtime.job_context(), str(job.id))
        monkeypatch.setitem(ACTIONS, "approve_draft", real)
    await run_job(runtime.job_context(), str(job.id))
    await run_job(runtime.job_context(), str(job.id))  # a redelivered task: nothing more happens
    row = await db.get(BulkJob, job.id)
    await db.refresh(row)
    assert row.state is JobState.FINISHED and (row.done, row.failed, row.total) == (6, 1, 7)
    states = list(
        await db.scalars(
            sa.select(BulkJobItem.state).where(BulkJobItem.job_id == job.id).order_by(BulkJobItem.position)
        )
    )
    assert states == [ItemState.DONE] * 6 + [ItemState.FAILED]
    approvals = await _counts(db, ids, CollaborationEvent.collaboration_id)
    events = dict(
        (
            await db.execute(
                sa.select(CollaborationEvent.collaboration_id, sa.func.count())
                .where(CollaborationEvent.collaboration_id.in_(ids), CollaborationEvent.action == "approve_draft")
                .group_by(CollaborationEvent.collaboration_id)
            )
        ).all()
    )
    assert [events.get(deal_id, 0) for deal_id in ids] == [1] * 6 + [0], approvals
    links = [f"/collaborations/{deal_id}" for deal_id in ids]
    notices = dict(
        (
            await db.execute(
                sa.select(Notification.link, sa.func.count())
                .where(Notification.link.in_(links), Notification.kind == "deal.draft_approved")
                .group_by(Notification.link)
            )
        ).all()
    )
    assert [notices.get(link, 0) for link in links] == [1] * 6 + [0]
    emails = await db.scalar(
        sa.select(sa.func.count()).select_from(OutboxEmail).where(OutboxEmail.category == "deal.draft_approved")
    )
    assert emails == 6
