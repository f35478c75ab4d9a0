"""Which deal transitions are reputation outcomes: one table, and the listener that records from it.

Every reputation outcome of a deal comes from ``OUTCOMES`` through ``ReputationListener``, whatever moved the deal
(a brand's click, the deadline sweeper, post verification, an admin's dispute decision). Nobody records an outcome
by hand after a transition.

| action                                    | outcome                                                              |
|-------------------------------------------|----------------------------------------------------------------------|
| ``ghost`` (the deadline sweeper)          | creator ghosted - unless the product never shipped: then the brand   |
|                                           | did not ship (the creator is never blamed for the brand's failure)   |
| ``note_brand_no_show`` (sweeper)          | brand did not ship                                                   |
| ``cancel_no_show`` (creator, brand late)  | brand did not ship                                                   |
| ``cancel`` from signed / funded           | brand did not ship, when its ship-by date passed without shipping;   |
|                                           | otherwise creator cancelled after signing if the creator cancelled;  |
|                                           | a brand's or admin's cancellation scores nothing                     |
| ``approve_post`` by the brand             | brand released on time / late (``brand_release_kind``)               |
| ``approve_post`` by PostPact (window over)| brand late release (the creator waited for the automatic release)    |
| ``mark_post_removed``                     | creator removed the post, while the deal is released (keep-live runs)|
| ``complete`` (after keep-live)            | creator on time / late (``creator_delivery_kind``) - nothing when    |
|                                           | the post was found removed: one delivery outcome per deal            |
| ``resolve_refund`` / ``record_decision``  | creator lost the dispute (default; ``at_fault`` in the payload wins) |
| ``resolve_release``                       | brand lost the dispute (default; ``at_fault`` wins)                  |
| ``resolve_split``                         | nothing (default; ``at_fault`` wins)                                 |

``at_fault`` is "creator", "brand", "both" or "none", for the admin who refunds a brand that never shipped. Every
other action records nothing. Recording is idempotent per (deal, side, kind), so a retried job records once.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from escrow.money import CURRENCY_EXPONENTS, normalise_currency
from marketplace.clock import as_utc
from marketplace.collaborations.models import Collaboration
from marketplace.collaborations.states import Action, CollabState, Party
from marketplace.collaborations.transition import Change
from marketplace.creators.models import Creator
from marketplace.notifications.services import admin_user_ids, notify
from marketplace.reputation.deal_values import collaboration_value_minor
from reputation.events import EventKind, brand_release_kind, creator_delivery_kind
from reputation.models import ReliabilityScore, ReputationEvent, SubjectKind
from reputation.services import Subject, record_outcome


@dataclass(frozen=True, slots=True)
class PlannedOutcome:
    """One outcome a transition produces: which side's reputation, and what kind."""

    side: SubjectKind
    kind: EventKind


_CREATOR = SubjectKind.CREATOR
_BRAND = SubjectKind.BRAND
AT_FAULT: dict[str, tuple[SubjectKind, ...]] = {
    "creator": (_CREATOR,),
    "brand": (_BRAND,),
    "both": (_BRAND, _CREATOR),
    "none": (),
}
_DISPUTE_LOST = {_CREATOR: EventKind.CREATOR_DISPUTE_LOST, _BRAND: EventKind.BRAND_DISPUTE_LOST}

#: A rule reads the deal as the transition left it, who acted, when, and the event's payload.
Rule = Callable[[Collaboration, Party, datetime, Mapping[str, Any]], list[PlannedOutcome]]


def _brand_never_shipped(collab: Collaboration, now: datetime) -> bool:
    return bool(collab.product_included) and collab.shipped_at is None and collab.due_passed("ship", now)


def _delivery_kind(collab: Collaboration, now: datetime) -> EventKind | None:
    due_post = collab.due("post")
    if due_post is None:
        return None
    return creator_delivery_kind(
        due_at=due_post,
        brand_shipped=not collab.product_included or collab.shipped_at is not None,
        posted_at=as_utc(collab.posted_at) if collab.posted_at else None,
        removed_at=as_utc(collab.post_removed_at) if collab.post_removed_at else None,
        keep_live_until=collab.due("keep_live"),
        at=now,
    )


def _one(side: SubjectKind, kind: EventKind | None) -> list[PlannedOutcome]:
    return [PlannedOutcome(side, kind)] if kind is not None else []


def _ghost(collab: Collaboration, _party: Party, now: datetime, _payload: Mapping[str, Any]) -> list[PlannedOutcome]:
    if _brand_never_shipped(collab, now):
        return _one(_BRAND, EventKind.BRAND_DID_NOT_SHIP)
    if collab.product_included and collab.shipped_at is None:
        return []  # not the creator's doing, and the brand still had time: nothing to score
    return _one(_CREATOR, EventKind.CREATOR_GHOSTED)


def _brand_did_not_ship(*_: Any) -> list[PlannedOutcome]:
    return _one(_BRAND, EventKind.BRAND_DID_NOT_SHIP)


def _cancel(collab: Collaboration, party: Party, now: datetime, _payload: Mapping[str, Any]) -> list[PlannedOutcome]:
    if _brand_never_shipped(collab, now):
        return _one(_BRAND, EventKind.BRAND_DID_NOT_SHIP)
    if party is Party.CREATOR and collab.signed_at is not None:
        return _one(_CREATOR, EventKind.CREATOR_CANCELLED_AFTER_SIGNING)
    return []


def _approve_post(collab: Collaboration, party: Party, now: datetime, _payload: Mapping[str, Any]
                  ) -> list[PlannedOutcome]:
    if party is Party.SYSTEM:
        return _one(_BRAND, EventKind.BRAND_LATE_RELEASE)
    return _one(_BRAND, brand_release_kind(shipped=True, ship_due_at=collab.due("ship") or now,
                                           review_due_at=collab.due("approve"), released_at=now, at=now))


def _post_removed(collab: Collaboration, _party: Party, _now: datetime, _payload: Mapping[str, Any]
                  ) -> list[PlannedOutcome]:
    # A released deal is still inside its keep-live period (it completes at the period's end), so a post found gone
    # then - by the halfway check or by the last one, just before completing - was taken down too early. Once the
    # deal is completed the creator was free to remove it.
    if CollabState(collab.status) is not CollabState.RELEASED:
        return []
    return _one(_CREATOR, EventKind.CREATOR_POST_REMOVED)


def _complete(collab: Collaboration, _party: Party, now: datetime, _payload: Mapping[str, Any]
              ) -> list[PlannedOutcome]:
    if collab.post_removed_at is not None:
        return []  # already scored as removed: one delivery outcome per deal
    return _one(_CREATOR, _delivery_kind(collab, now))


def _decided(default: tuple[SubjectKind, ...]) -> Rule:
    def rule(_collab: Collaboration, _party: Party, _now: datetime, payload: Mapping[str, Any]
             ) -> list[PlannedOutcome]:
        named = payload.get("at_fault")
        sides = AT_FAULT.get(str(named), default) if named is not None else default
        return [PlannedOutcome(side, _DISPUTE_LOST[side]) for side in sides]

    return rule


#: The one mapping from deal actions to reputation outcomes (see the module table).
OUTCOMES: dict[Action, Rule] = {
    Action.GHOST: _ghost,
    Action.NOTE_BRAND_NO_SHOW: _brand_did_not_ship,
    Action.CANCEL_NO_SHOW: _brand_did_not_ship,
    Action.CANCEL: _cancel,
    Action.APPROVE_POST: _approve_post,
    Action.MARK_POST_REMOVED: _post_removed,
    Action.COMPLETE: _complete,
    Action.RESOLVE_REFUND: _decided((_CREATOR,)),
    Action.RESOLVE_RELEASE: _decided((_BRAND,)),
    Action.RESOLVE_SPLIT: _decided(()),
    Action.RECORD_DECISION: _decided((_CREATOR,)),
}


def outcomes_for_transition(
    collab: Collaboration,
    *,
    action: Action | str,
    actor_party: Party | str,
    now: datetime,
    payload: Mapping[str, Any] | None = None,
) -> list[PlannedOutcome]:
    """The outcomes one transition of `collab` (already applied, at `now`) records, read from ``OUTCOMES``."""
    rule = OUTCOMES.get(Action(action))
    return rule(collab, Party(actor_party), now, payload or {}) if rule is not None else []


def subject_of(collab: Collaboration, side: SubjectKind) -> tuple[Subject, UUID]:
    """The deal's party on `side`, and the counterparty's id."""
    if side is SubjectKind.CREATOR:
        return Subject.creator(collab.creator_id), collab.brand_id
    return Subject.brand(collab.brand_id), collab.creator_id


async def record_collaboration_outcome(
    session: AsyncSession, collab: Collaboration, kind: EventKind, now: datetime
) -> ReputationEvent | None:
    """Record one observed outcome of `collab` for the side `kind` belongs to, weighted by the deal's value.
    None when it was already recorded."""
    if kind is EventKind.RATING:
        raise ValueError("ratings are recorded by marketplace.reputation.ratings")
    side = SubjectKind.CREATOR if kind.value.startswith("creator.") else SubjectKind.BRAND
    subject, counterparty = subject_of(collab, side)
    currency = normalise_currency(collab.currency)
    ghosting = kind is EventKind.CREATOR_GHOSTED
    was_suspended = await _reliability_suspended_at(session, collab.creator_id) if ghosting else None
    row = await record_outcome(
        session,
        subject=subject,
        kind=kind,
        collaboration_id=collab.id,
        deal_value_minor=collaboration_value_minor(collab),
        currency_exponent=CURRENCY_EXPONENTS[currency],
        occurred_at=now,
        counterparty_id=counterparty,
        recorded_at=now,
    )
    if row is not None and ghosting and was_suspended is None \
            and await _reliability_suspended_at(session, collab.creator_id) is not None:
        await _ask_admins_to_review(session, collab)
    return row


async def _reliability_suspended_at(session: AsyncSession, creator_id: UUID) -> datetime | None:
    return await session.scalar(sa.select(ReliabilityScore.suspended_at).where(
        ReliabilityScore.subject_kind == SubjectKind.CREATOR, ReliabilityScore.subject_id == creator_id))


async def _ask_admins_to_review(session: AsyncSession, collab: Collaboration) -> None:
    """A second ghosting within 12 months just suspended the creator's applications: an admin reviews them."""
    creator = await session.get(Creator, collab.creator_id)
    name = creator.display_name if creator is not None else "A creator"
    link = f"/admin/users/{creator.user_id}" if creator is not None else "/admin/users?reliability=1"
    await notify(session, await admin_user_ids(session), kind="reliability.suspended",
                 title=f"{name} is suspended for review: two ghostings in 12 months",
                 body=f"{name} ghosted a second deal within 12 months, so they can't apply to gigs until an admin "
                      "reviews their record and clears the suspension.", link=link)


async def record_transition_outcomes(session: AsyncSession, change: Change) -> list[ReputationEvent]:
    """Record whatever reputation outcomes `change` implies; usually none."""
    planned = outcomes_for_transition(change.collaboration, action=change.action, actor_party=change.actor.party,
                                      now=change.now, payload=change.payload)
    recorded: list[ReputationEvent] = []
    # Score rows are locked in subject order ("brand" before "creator"), the order every other writer uses.
    for item in sorted(planned, key=lambda p: p.side.value):
        row = await record_collaboration_outcome(session, change.collaboration, item.kind, change.now)
        if row is not None:
            recorded.append(row)
    return recorded


class ReputationListener:
    """Deal transitions into reputation outcomes, from ``OUTCOMES``."""

    async def after_transition(self, session: AsyncSession, change: Change) -> None:
        await record_transition_outcomes(session, change)
