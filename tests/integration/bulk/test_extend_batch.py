"""Extending deadlines as a batch (``bulk.batch.extend_deals``) ends where the per-item path (``do_extend``, one
transaction per deal) ends: the same item outcome and reason, the same extension requests and the same notices to
the creators, for deals whose deadline can move, deals whose named deadline can't, deals that already have an open
request and ended deals; with the requests read and written in a constant number of statements per batch."""

from __future__ import annotations

import dataclasses
import uuid
from datetime import timedelta
from typing import Any

import sqlalchemy as sa
from hypothesis import strategies as st
from sqlalchemy import event

from marketplace.bulk.actions import ACTIONS
from marketplace.bulk.models import BulkJobItem
from marketplace.bulk.services import BulkService, Selection, run_job
from marketplace.collaborations.models import Collaboration, ExtensionRequest
from marketplace.collaborations.states import CollabState
from marketplace.db import session_scope
from marketplace.deadlines.extensions import request_extension, stage_to_extend
from marketplace.notifications.models import Notification
from tests.support.deals import make_deal
from tests.support.escrow import actor_of
from tests.support.properties import run_property

#: What a generated deal is before the step; "open_request" already has a request open for the deadline offered.
KINDS = ["funded", "received", "draft_approved", "draft_submitted", "open_request", "cancelled"]
#: Kinds whose deals are always refused.
REFUSED = {"open_request", "cancelled"}


async def _deal_like(runtime: Any, kind: str, brand: Any, creator: Any, stage: str) -> uuid.UUID:
    state = CollabState.RECEIVED if kind == "open_request" else CollabState(kind)
    deal = await make_deal(runtime, state, brand=brand, creator=creator)
    if kind == "open_request":
        actor = await actor_of(runtime, brand)
        async with session_scope(runtime.session_maker) as session:
            collab = await session.get(Collaboration, deal.id)
            wanted = stage_to_extend(collab, stage)
            await request_extension(session, deal.id, actor, stage=wanted,
                                    proposed_due_at=collab.due(wanted) + timedelta(days=1), reason="Earlier ask",
                                    now=runtime.clock.now())
    return deal.id


async def _run(runtime: Any, actor: Any, ids: list[uuid.UUID], parameters: dict[str, Any], *, batch: bool,
               monkeypatch: Any) -> uuid.UUID:
    real = ACTIONS["extend"]
    monkeypatch.setitem(ACTIONS, "extend", real if batch else dataclasses.replace(real, apply_batch=None))
    try:
        async with session_scope(runtime.session_maker) as session:
            job = await BulkService(session, runtime.clock).start(actor, "extend", parameters, Selection(ids=ids))
        await run_job(runtime.job_context(), str(job.id))
    finally:
        monkeypatch.setitem(ACTIONS, "extend", real)
    return job.id


async def _where(db: Any, job_id: uuid.UUID, deal_id: uuid.UUID) -> dict[str, Any]:
    item = await db.scalar(sa.select(BulkJobItem).where(BulkJobItem.job_id == job_id,
                                                        BulkJobItem.target_id == deal_id))
    requests = sorted((await db.execute(
        sa.select(ExtensionRequest.stage, ExtensionRequest.requested_by_party, ExtensionRequest.current_due_at,
                  ExtensionRequest.proposed_due_at, ExtensionRequest.reason, ExtensionRequest.status)
        .where(ExtensionRequest.collaboration_id == deal_id))).all())
    notices = sorted((await db.execute(
        sa.select(Notification.kind, Notification.title, Notification.body)
        .where(Notification.link == f"/collaborations/{deal_id}/extensions"))).all())
    return {"item": (item.state.value, item.error, item.attempts), "requests": requests, "notices": notices}


async def test_a_batch_of_extensions_ends_where_one_by_one_ends(runtime, people, db, monkeypatch) -> None:
    cases = st.tuples(st.lists(st.sampled_from(KINDS), min_size=1, max_size=5), st.sampled_from(["", "post"]),
                      st.sampled_from(["", "Holidays"]))

    outcomes: list[str] = []

    async def check(case: tuple[list[str], str, str]) -> None:
        kinds, stage, reason = case
        brand = await people.brand()
        actor = await actor_of(runtime, brand)
        pairs = []
        for kind in kinds:
            creator = await people.creator()
            pairs.append((await _deal_like(runtime, kind, brand, creator, stage),
                          await _deal_like(runtime, kind, brand, creator, stage)))
        parameters = {"days": "3", "stage": stage, "reason": reason}
        one_by_one = await _run(runtime, actor, [a for a, _ in pairs], parameters, batch=False,
                                monkeypatch=monkeypatch)
        batched = await _run(runtime, actor, [b for _, b in pairs], parameters, batch=True, monkeypatch=monkeypatch)
        for kind, (a, b) in zip(kinds, pairs, strict=True):
            alone, together = await _where(db, one_by_one, a), await _where(db, batched, b)
            assert together == alone, (kind, together, alone)
            # The comparison compares something: a done deal has the one new request and its creator's notice.
            done = together["item"][0] == "done"
            assert not (done and kind in REFUSED), (kind, together)
            assert not done or (len(together["requests"]) == len(together["notices"]) == 1), (kind, together)
            outcomes.append(together["item"][0])

    await run_property(cases, check, examples=6)
    assert "done" in outcomes, outcomes


async def test_a_batch_reads_and_writes_the_requests_in_a_few_statements(runtime, people, db) -> None:
    brand = await people.brand()
    actor = await actor_of(runtime, brand)
    ids = [(await make_deal(runtime, CollabState.RECEIVED, brand=brand, creator=await people.creator())).id
           for _ in range(6)]
    statements: list[str] = []
    engine = runtime.alchemy.get_engine().sync_engine

    def count(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        statements.append(statement)

    async with session_scope(runtime.session_maker) as session:
        job = await BulkService(session, runtime.clock).start(actor, "extend", {"days": "2"}, Selection(ids=ids))
    event.listen(engine, "before_cursor_execute", count)
    try:
        await run_job(runtime.job_context(), str(job.id))
    finally:
        event.remove(engine, "before_cursor_execute", count)
    assert await db.scalar(sa.select(sa.func.count(ExtensionRequest.id))) == 6
    touching = [s for s in statements if "extension_request" in s]
    assert len(touching) == 2, touching  # the open requests read once, the new ones written once
