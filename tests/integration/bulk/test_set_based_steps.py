"""Set-based bulk steps end exactly where the one-deal-at-a-time path ends.

Property: a mixed selection (deals in the right state, in other states, a draft already reviewed) is made twice,
identically; one copy runs through the per-item path (``BulkAction.apply``, one transaction per deal), the other
through the set-based step (``BulkAction.apply_batch``, one ``transition_many`` per batch). Every deal must end in
the same place: the item's outcome and reason, the state, the due dates, the event rows, the draft's review, the
shipment (a tracking CSV's row), the notices, the deadline watch and the money asked of escrow.
"""

from __future__ import annotations

import dataclasses
import re
import uuid
from typing import Any

import pytest
import sqlalchemy as sa
from hypothesis import strategies as st

from escrow.models import EscrowHold, ProviderCall
from marketplace.bulk.actions import ACTIONS
from marketplace.bulk.models import BulkJobItem
from marketplace.bulk.services import BulkService, NewItem, Selection, run_job
from marketplace.collaborations.models import (
    STAGES,
    Collaboration,
    CollaborationEvent,
    ContentDraft,
    DraftReview,
    Shipment,
)
from marketplace.collaborations.states import CollabState
from marketplace.collaborations.transition import transition_many
from marketplace.db import session_scope
from marketplace.deadlines.models import DeadlineWatch
from marketplace.notifications.mail import write_pending
from marketplace.notifications.models import Notification, OutboxEmail
from tests.support.deals import make_deal
from tests.support.escrow import actor_of
from tests.support.properties import run_property

#: The factory's post links are random: they are compared as "a link".
LINK = re.compile(r"https?://\S+")
#: Payload keys that differ between the two copies by construction (ids, hashes of terms naming them, post links).
VARYING = ("_id", "_hash", "url")
#: What a generated deal is before the step: a state, or a draft under review that was already reviewed.
KINDS = {
    "approve_draft": ["draft_submitted", "draft_submitted", "reviewed_draft", "no_disclosure", "offered",
                      "draft_approved"],
    "approve_post": ["verified", "verified", "posted", "draft_submitted"],
    "cancel": ["signed", "offered", "funded", "draft_submitted", "cancelled"],
    "ship": ["funded", "funded", "bad_tracking", "signed", "shipped"],
}
#: The kinds the step moves (the others it refuses).
READY = {"approve_draft": {"draft_submitted"}, "approve_post": {"verified"}, "cancel": {"signed", "offered", "funded"},
         "ship": {"funded"}}
#: A shipment's row of a tracking CSV, per kind (a tracking number no carrier shows, for "bad_tracking").
TRACKING = {"bad_tracking": {"carrier": "UPS", "tracking_number": "?!"}}
GOOD_TRACKING = {"carrier": "UPS", "tracking_number": "1Z999AA10123456784", "tracking_url": "https://ups.example/t"}


async def _deal_like(runtime: Any, kind: str, brand: Any, creator: Any, *, product: bool = False) -> uuid.UUID:
    state = (CollabState.DRAFT_SUBMITTED if kind in {"reviewed_draft", "no_disclosure"}
             else CollabState.FUNDED if kind == "bad_tracking" else CollabState(kind))
    deal = await make_deal(runtime, state, brand=brand, creator=creator, product_included=product,
                           with_address=product)
    if kind == "reviewed_draft":
        async with session_scope(runtime.session_maker) as session:
            await session.execute(sa.update(ContentDraft).where(ContentDraft.collaboration_id == deal.id)
                                  .values(review=DraftReview.CHANGES_REQUESTED))
    if kind == "no_disclosure":  # approving it needs "approve anyway", which a bulk approval doesn't give
        async with session_scope(runtime.session_maker) as session:
            await session.execute(sa.update(ContentDraft).where(ContentDraft.collaboration_id == deal.id)
                                  .values(caption="Morning glow with the serum"))
    return deal.id


async def _run(runtime: Any, actor: Any, action: str, ids: list[uuid.UUID], comment: str, *, batch: bool,
               monkeypatch: Any, kinds: list[str]) -> uuid.UUID:
    real = ACTIONS[action]
    monkeypatch.setitem(ACTIONS, action, real if batch else dataclasses.replace(real, apply_batch=None))
    # Shipments come with a tracking CSV's rows (the item's data); the other steps take the selection.
    items = ([NewItem(deal_id, f"row {n}", TRACKING.get(kind, GOOD_TRACKING))
              for n, (deal_id, kind) in enumerate(zip(ids, kinds, strict=True))] if action == "ship" else None)
    try:
        async with session_scope(runtime.session_maker) as session:
            job = await BulkService(session, runtime.clock).start(
                actor, action, {"comment": comment, "reason": comment or "The campaign is off"}, Selection(ids=ids),
                items=items)
        await run_job(runtime.job_context(), str(job.id))
    finally:
        monkeypatch.setitem(ACTIONS, action, real)
    return job.id


async def _where(db: Any, job_id: uuid.UUID, deal_id: uuid.UUID) -> dict[str, Any]:
    """Everything a deal's step may have changed, without ids that differ between the two copies (emails as they
    are delivered: those queued as template + parameters are written first)."""
    await write_pending(db, (await db.scalars(sa.select(OutboxEmail).where(OutboxEmail.body_text == ""))).all())
    item = await db.scalar(sa.select(BulkJobItem).where(BulkJobItem.job_id == job_id,
                                                        BulkJobItem.target_id == deal_id))
    collab = await db.get(Collaboration, deal_id)
    events = (await db.execute(
        sa.select(CollaborationEvent.seq, CollaborationEvent.action, CollaborationEvent.from_state,
                  CollaborationEvent.to_state, CollaborationEvent.actor_party, CollaborationEvent.payload)
        .where(CollaborationEvent.collaboration_id == deal_id).order_by(CollaborationEvent.seq))).all()
    drafts = (await db.execute(
        sa.select(ContentDraft.round, ContentDraft.review, ContentDraft.review_comment, ContentDraft.reviewed_at)
        .where(ContentDraft.collaboration_id == deal_id).order_by(ContentDraft.round))).all()
    notices = sorted((kind, title, LINK.sub("<link>", body)) for kind, title, body in (await db.execute(
        sa.select(Notification.kind, Notification.title, Notification.body)
        .where(Notification.link == f"/collaborations/{deal_id}"))).all())
    emails = sorted((category, to, subject, LINK.sub("<link>", body), status) for
                    category, to, subject, body, status in (await db.execute(
                        sa.select(OutboxEmail.category, OutboxEmail.to_address, OutboxEmail.subject,
                                  OutboxEmail.body_text, OutboxEmail.status)
                        .where(OutboxEmail.body_text.contains(f"/collaborations/{deal_id}")))).all())
    calls = sorted(await db.scalars(
        sa.select(ProviderCall.operation).join(EscrowHold, EscrowHold.id == ProviderCall.escrow_id)
        .where(EscrowHold.collaboration_id == deal_id)))
    hold = await db.scalar(sa.select(EscrowHold.status).where(EscrowHold.collaboration_id == deal_id))
    watch = await db.scalar(sa.select(DeadlineWatch.check_at).where(DeadlineWatch.collaboration_id == deal_id))
    shipments = (await db.execute(
        sa.select(Shipment.carrier, Shipment.tracking_number, Shipment.tracking_url, Shipment.shipped_at)
        .where(Shipment.collaboration_id == deal_id).order_by(Shipment.shipped_at))).all()
    return {
        "item": (item.state, item.error, item.attempts),
        "status": collab.status,
        "milestones": [getattr(collab, f"{name}_at") for name in (
            "signed", "funded", "draft_submitted", "draft_approved", "posted", "verified", "approved", "released",
            "ended")],
        "due": [collab.due(stage) for stage in STAGES],
        "next_due": (collab.next_due_stage, collab.next_due_party, collab.next_due_at),
        "event_count": collab.event_count,
        "events": [(seq, act, src, dst, party, {k: v for k, v in payload.items() if not k.endswith(VARYING)})
                   for seq, act, src, dst, party, payload in events],
        "drafts": drafts,
        "notices": notices,
        "emails": emails,
        "escrow": (hold, calls),
        "watch": watch,
        "shipments": shipments,
    }


@pytest.mark.parametrize("action", sorted(KINDS))
async def test_a_batch_ends_where_one_by_one_ends(action, runtime, people, db, monkeypatch) -> None:
    cases = st.tuples(st.lists(st.sampled_from(KINDS[action]), min_size=1, max_size=5),
                      st.sampled_from(["", "Lovely, thank you!"]))

    async def check(case: tuple[list[str], str]) -> None:
        kinds, comment = case
        brand = await people.brand()
        actor = await actor_of(runtime, brand)
        pairs = []
        for kind in kinds:
            creator = await people.creator()
            product = action == "ship"
            pairs.append((await _deal_like(runtime, kind, brand, creator, product=product),
                          await _deal_like(runtime, kind, brand, creator, product=product)))
        one_by_one = await _run(runtime, actor, action, [a for a, _ in pairs], comment, batch=False,
                                monkeypatch=monkeypatch, kinds=kinds)
        batched = await _run(runtime, actor, action, [b for _, b in pairs], comment, batch=True,
                             monkeypatch=monkeypatch, kinds=kinds)
        for kind, (a, b) in zip(kinds, pairs, strict=True):
            alone, together = await _where(db, one_by_one, a), await _where(db, batched, b)
            assert together == alone, (kind, {k: (together[k], alone[k]) for k in alone if together[k] != alone[k]})
        # The property is about something: at least the right-state deals moved, the others were refused.
        outcomes = {kind: (await _where(db, batched, b))["item"][0].value for kind, (_, b) in zip(kinds, pairs,
                                                                                                   strict=True)}
        ready = READY[action]
        assert all(outcome == ("done" if kind in ready else "failed") for kind, outcome in outcomes.items()), outcomes
        # ...and the moved deals' creators were emailed about the step (so comparing the emails compares something).
        step_email = {"approve_draft": {"deal.draft_approved"}, "approve_post": {"deal.post_approved"},
                      "cancel": {"deal.cancelled", "deal.withdrawn"}, "ship": {"deal.shipped"}}[action]
        for kind, (_, b) in zip(kinds, pairs, strict=True):
            sent = [category for category, *_ in (await _where(db, batched, b))["emails"]]
            assert kind not in ready or step_email & set(sent), (kind, sent)

    await run_property(cases, check, examples=5)


async def test_transition_many_reports_a_refused_deal_and_moves_the_others(runtime, people, db) -> None:
    brand = await people.brand()
    ready = await make_deal(runtime, CollabState.DRAFT_SUBMITTED, brand=brand, product_included=False)
    early = await make_deal(runtime, CollabState.OFFERED, brand=brand, product_included=False)
    other = await make_deal(runtime, CollabState.DRAFT_SUBMITTED, product_included=False)
    actor = await actor_of(runtime, brand)
    from marketplace.collaborations.states import Action, TransitionActor

    async with session_scope(runtime.session_maker) as session:
        result = await transition_many(session, [ready.id, early.id, other.id, uuid.uuid4()], Action.APPROVE_DRAFT,
                                       TransitionActor.of(actor), now=runtime.clock.now())
    assert [c.collaboration.id for c in result.changes] == [ready.id]
    assert {k: type(v).__name__ for k, v in result.refused.items()} == {
        early.id: "IllegalTransition", other.id: "NotFound", **{k: "NotFound" for k in result.refused
                                                               if k not in {early.id, other.id}}}
    assert len(result.refused) == 3
    assert (await db.get(Collaboration, ready.id)).status is CollabState.DRAFT_APPROVED
    assert (await db.get(Collaboration, early.id)).status is CollabState.OFFERED
    assert (await db.get(Collaboration, other.id)).status is CollabState.DRAFT_SUBMITTED
