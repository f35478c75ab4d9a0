"""Property: every reputation outcome of a deal comes from the one outcome table, whatever path moved the deal.

Random histories of funded deals are played through the real paths - parties' steps through ``transition()``, the
deadline sweeper's enforcement (ghosting, brand no-show, automatic approval), post checks (removed, completed) and an
admin's dispute decision - and the reputation events each deal ends with must be exactly the outcomes
``OUTCOMES`` gives for the events the deal recorded, each once.
"""

from __future__ import annotations

import random
from datetime import timedelta
from typing import Any

import sqlalchemy as sa
from hypothesis import strategies as st

from marketplace.collaborations.models import Collaboration, CollaborationEvent
from marketplace.collaborations.states import SYSTEM, Action, CollabState, Party
from marketplace.collaborations.transition import transition
from marketplace.db import session_scope
from marketplace.deadlines import enforcement
from marketplace.deadlines.rules import auto_approve_at, brand_no_show_at, ghost_at
from marketplace.disputes.models import Dispute, DisputeStatus
from marketplace.reputation.outcomes import outcomes_for_transition
from reputation.models import ReputationEvent
from tests.support.deals import brand_actor, creator_actor
from tests.support.disputes import decide, funded, open_dispute
from tests.support.escrow import run_jobs
from tests.support.properties import run_property

MINUTE = timedelta(minutes=1)


async def _collab(runtime: Any, deal_id: Any) -> Collaboration:
    async with session_scope(runtime.session_maker) as session:
        collab = await session.get(Collaboration, deal_id)
        assert collab is not None
        session.expunge(collab)
        return collab


async def _move(runtime: Any, deal: Any, action: Action, party: Party, payload: dict[str, Any] | None = None) -> None:
    actor = {Party.BRAND: brand_actor(deal.brand), Party.CREATOR: creator_actor(deal.creator)}.get(party, SYSTEM)
    async with session_scope(runtime.session_maker) as session:
        await transition(session, deal.id, action, actor, now=runtime.clock.now(), payload=payload)


async def _enforce(runtime: Any, deal: Any, rule: Any, at: Any) -> None:
    runtime.clock.set(at + MINUTE)
    async with session_scope(runtime.session_maker) as session:
        await rule(session, deal.id, runtime.clock.now(), public_url="http://testserver.local")


def _steps(collab: Collaboration) -> list[str]:
    """The moves this history may take next from the deal's state (the paths above, by name)."""
    state = CollabState(collab.status)
    moves: list[str] = []
    if state in {CollabState.FUNDED, CollabState.SHIPPED, CollabState.RECEIVED, CollabState.DRAFT_SUBMITTED,
                 CollabState.CHANGES_REQUESTED, CollabState.DRAFT_APPROVED, CollabState.POSTED, CollabState.VERIFIED}:
        moves.append("dispute")
    if state in {CollabState.FUNDED, CollabState.SHIPPED, CollabState.RECEIVED, CollabState.CHANGES_REQUESTED,
                 CollabState.DRAFT_APPROVED} and ghost_at(collab) is not None:
        moves.append("sweep_ghost")
    by_state = {
        CollabState.FUNDED: ["ship", "cancel_brand", "cancel_creator", "sweep_no_show"],
        CollabState.SHIPPED: ["receive"],
        CollabState.RECEIVED: ["draft"],
        CollabState.DRAFT_SUBMITTED: ["approve_draft", "request_changes"],
        CollabState.CHANGES_REQUESTED: ["draft"],
        CollabState.DRAFT_APPROVED: ["post"],
        CollabState.POSTED: ["verify"],
        CollabState.VERIFIED: ["approve_post", "sweep_auto_approve"],
        CollabState.RELEASED: ["removed", "complete"],
        CollabState.DISPUTED: ["decide"],
    }
    moves += by_state.get(state, [])
    if "sweep_no_show" in moves and (brand_no_show_at(collab) is None or collab.shipped_at is not None):
        moves.remove("sweep_no_show")
    if "request_changes" in moves and collab.revision_rounds_used >= collab.revision_rounds_allowed:
        moves.remove("request_changes")
    return moves


async def _play(runtime: Any, people: Any, deal: Any, move: str, rng: random.Random) -> None:
    collab = await _collab(runtime, deal.id)
    runtime.clock.advance(hours=rng.randint(1, 72))
    party_moves = {
        "ship": (Action.SHIP, Party.BRAND, {"carrier": "DHL", "tracking_number": "JD014600003SE"}),
        "cancel_brand": (Action.CANCEL, Party.BRAND, {"reason": "changed plans"}),
        "cancel_creator": (Action.CANCEL, Party.CREATOR, {}),
        "receive": (Action.CONFIRM_RECEIPT, Party.CREATOR, None),
        "draft": (Action.SUBMIT_DRAFT, Party.CREATOR, {"round": collab.revision_rounds_used + 1}),
        "approve_draft": (Action.APPROVE_DRAFT, Party.BRAND, None),
        "request_changes": (Action.REQUEST_CHANGES, Party.BRAND, {"comment": "brighter, please"}),
        "post": (Action.SUBMIT_POST, Party.CREATOR, {"url": deal.post_url()}),
        "verify": (Action.MARK_VERIFIED, Party.SYSTEM, {"automatic": True}),
        "approve_post": (Action.APPROVE_POST, Party.BRAND, None),
        "removed": (Action.MARK_POST_REMOVED, Party.SYSTEM, {"keep_live": "removed"}),
    }
    if move in party_moves:
        await _move(runtime, deal, *party_moves[move])
    elif move == "complete":
        keep_live = collab.due("keep_live")
        if keep_live is not None and rng.random() < 0.8:
            runtime.clock.set(max(runtime.clock.now(), keep_live + MINUTE))
        await _move(runtime, deal, Action.COMPLETE, Party.SYSTEM, {"keep_live": "live"})
    elif move == "sweep_ghost":
        await _enforce(runtime, deal, enforcement.ghost_collaboration, ghost_at(collab))
    elif move == "sweep_no_show":
        await _enforce(runtime, deal, enforcement.announce_brand_no_show, brand_no_show_at(collab))
    elif move == "sweep_auto_approve":
        await _enforce(runtime, deal, enforcement.auto_approve_post, auto_approve_at(collab))
    elif move == "dispute":
        await open_dispute(runtime, deal, by=rng.choice(["brand", "creator"]))
    elif move == "decide":
        outcome = rng.choice(["release", "refund", "split"])
        await decide(runtime, await people.admin(), await _open_case(runtime, deal.id), outcome,
                     creator_amount=collab.fee_amount // 2 if outcome == "split" else None,
                     at_fault=rng.choice([None, "creator", "brand", "both", "none"]))


async def _open_case(runtime: Any, deal_id: Any) -> Any:
    async with session_scope(runtime.session_maker) as session:
        return await session.scalar(sa.select(Dispute.id).where(Dispute.collaboration_id == deal_id,
                                                                 Dispute.status == DisputeStatus.OPEN))


async def _expected_since(runtime: Any, deal_id: Any, seen: int, expected: set[tuple[str, str]]) -> int:
    """Add what the table says for the events recorded since ``seen``, judged on the deal as it is right now (the
    step just made them); returns the new event count."""
    collab = await _collab(runtime, deal_id)
    async with session_scope(runtime.session_maker) as session:
        events = list(await session.scalars(
            sa.select(CollaborationEvent).where(CollaborationEvent.collaboration_id == deal_id,
                                                CollaborationEvent.seq > seen).order_by(CollaborationEvent.seq)))
    for event in events:
        for planned in outcomes_for_transition(collab, action=event.action, actor_party=event.actor_party,
                                               now=event.created_at, payload=event.payload):
            expected.add((planned.side.value, planned.kind.value))
    return collab.event_count


async def test_every_path_records_exactly_the_outcomes_of_the_table(runtime, people, db) -> None:
    async def history(seed: int) -> None:
        rng = random.Random(seed)
        deal = await funded(runtime, CollabState.FUNDED, onboarded=rng.random() < 0.7)
        seen = (await _collab(runtime, deal.id)).event_count
        expected: set[tuple[str, str]] = set()
        for _ in range(14):
            moves = _steps(await _collab(runtime, deal.id))
            if not moves:
                break
            await _play(runtime, people, deal, rng.choice(moves), rng)
            seen = await _expected_since(runtime, deal.id, seen, expected)
            await run_jobs(runtime)  # the provider calls the money decisions queued, as the worker would
            seen = await _expected_since(runtime, deal.id, seen, expected)
        recorded = [(subject.value, kind.value) for subject, kind in await db.execute(
            sa.select(ReputationEvent.subject_kind, ReputationEvent.kind)
            .where(ReputationEvent.collaboration_id == deal.id))]
        assert sorted(recorded) == sorted(expected), (seed, recorded, expected)

    await run_property(st.integers(min_value=0, max_value=2**31), history, examples=15)
