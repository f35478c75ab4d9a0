"""What deals tell reputation, and what reputation tells the marketplace: outcomes, eligibility, ranked lists.

Which collaboration transition is which outcome, for whom (``outcomes_for_transition``; callers use
``record_transition_outcomes`` right after ``transition()``, in the same transaction):

| transition (action)                       | outcome                                                              |
|-------------------------------------------|----------------------------------------------------------------------|
| ``ghost`` (the deadline sweeper)          | creator ghosted - unless the product never shipped: then the brand   |
|                                           | did not ship (the creator is never blamed for the brand's failure)   |
| ``cancel_no_show`` (creator, brand late)  | brand did not ship                                                   |
| ``cancel`` from signed / funded           | brand did not ship, when its ship-by date passed without shipping;   |
|                                           | otherwise creator cancelled after signing if the creator cancelled;  |
|                                           | a brand's or admin's cancellation scores nothing                     |
| ``approve_post`` by the brand             | brand released on time / late (``brand_release_kind``)               |
| ``approve_post`` by PostPact (window over)| brand late release (the creator waited for the automatic release)    |
| ``mark_post_removed``                     | creator removed the post, if before the keep-live period ended       |
| ``complete`` (after keep-live)            | creator on time / late (``creator_delivery_kind``)                   |
| ``resolve_refund``                        | creator lost the dispute                                             |
| ``resolve_release``                       | brand lost the dispute                                               |
| ``resolve_split``                         | nothing                                                              |

A resolution's payload may name who was at fault instead (``{"at_fault": "creator" | "brand" | "both" | "none"}``),
for the admin who refunds a brand that never shipped. Every other action records nothing. Recording is idempotent,
so calling this twice for one transition (or from a retried job) is harmless.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any
from uuid import UUID

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from escrow.money import CURRENCY_EXPONENTS, normalise_currency
from marketplace.clock import as_utc
from marketplace.collaborations.models import Collaboration
from marketplace.collaborations.states import Action, CollabState, Party, TransitionResult
from marketplace.creators.models import Creator, ShippingAddress
from marketplace.gigs.models import Gig
from marketplace.notifications.services import admin_user_ids, notify
from marketplace.reliability.deal_values import collaboration_value_minor, gig_value_minor, to_usd_minor
from reputation.events import EventKind, brand_release_kind, creator_delivery_kind
from reputation.models import ReliabilityScore, ReputationEvent, SubjectKind
from reputation.services import (
    ScoreView,
    Subject,
    eligibility_for,
    record_outcome,
    records_for,
    track_record,
    view_of,
)
from reputation.tiers import Eligibility, GigRequirements, Tier, eligibility

# --- transitions into outcomes -------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class PlannedOutcome:
    """One outcome a transition produces: which side's reputation, and what kind."""

    side: SubjectKind
    kind: EventKind


_CREATOR = SubjectKind.CREATOR
_BRAND = SubjectKind.BRAND
_AT_FAULT: dict[str, tuple[SubjectKind, ...]] = {
    "creator": (_CREATOR,),
    "brand": (_BRAND,),
    "both": (_BRAND, _CREATOR),
    "none": (),
}
_DEFAULT_AT_FAULT = {
    Action.RESOLVE_REFUND: (_CREATOR,),
    Action.RESOLVE_RELEASE: (_BRAND,),
    Action.RESOLVE_SPLIT: (),
}
_DISPUTE_LOST = {_CREATOR: EventKind.CREATOR_DISPUTE_LOST, _BRAND: EventKind.BRAND_DISPUTE_LOST}


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


def outcomes_for_transition(
    collab: Collaboration,
    *,
    action: Action | str,
    actor_party: Party | str,
    now: datetime,
    payload: dict[str, Any] | None = None,
) -> list[PlannedOutcome]:
    """The outcomes one transition of `collab` (already applied, at `now`) records; see the module table."""
    action, party = Action(action), Party(actor_party)
    if action is Action.GHOST:
        if _brand_never_shipped(collab, now):
            return [PlannedOutcome(_BRAND, EventKind.BRAND_DID_NOT_SHIP)]
        if collab.product_included and collab.shipped_at is None:
            return []  # not the creator's doing, and the brand still had time: nothing to score
        return [PlannedOutcome(_CREATOR, EventKind.CREATOR_GHOSTED)]
    if action is Action.CANCEL_NO_SHOW:
        return [PlannedOutcome(_BRAND, EventKind.BRAND_DID_NOT_SHIP)]
    if action is Action.CANCEL:
        if _brand_never_shipped(collab, now):
            return [PlannedOutcome(_BRAND, EventKind.BRAND_DID_NOT_SHIP)]
        if party is Party.CREATOR and collab.signed_at is not None:
            return [PlannedOutcome(_CREATOR, EventKind.CREATOR_CANCELLED_AFTER_SIGNING)]
        return []
    if action is Action.APPROVE_POST:
        if party is Party.SYSTEM:
            return [PlannedOutcome(_BRAND, EventKind.BRAND_LATE_RELEASE)]
        kind = brand_release_kind(
            shipped=True,
            ship_due_at=collab.due("ship") or now,
            review_due_at=collab.due("approve"),
            released_at=now,
            at=now,
        )
        return [PlannedOutcome(_BRAND, kind)] if kind is not None else []
    if action is Action.MARK_POST_REMOVED:
        kind = _delivery_kind(collab, now)
        return [PlannedOutcome(_CREATOR, kind)] if kind is EventKind.CREATOR_POST_REMOVED else []
    if action is Action.COMPLETE:
        kind = _delivery_kind(collab, now)
        return [PlannedOutcome(_CREATOR, kind)] if kind is not None else []
    if action in _DEFAULT_AT_FAULT:
        named = (payload or {}).get("at_fault")
        sides = _AT_FAULT.get(str(named), _DEFAULT_AT_FAULT[action]) if named is not None else _DEFAULT_AT_FAULT[action]
        return [PlannedOutcome(side, _DISPUTE_LOST[side]) for side in sides]
    return []


def subject_of(collab: Collaboration, side: SubjectKind) -> tuple[Subject, UUID]:
    """The deal's party on `side`, and the counterparty's id."""
    if side is SubjectKind.CREATOR:
        return Subject.creator(collab.creator_id), collab.brand_id
    return Subject.brand(collab.brand_id), collab.creator_id


async def record_collaboration_outcome(
    session: AsyncSession, collab: Collaboration, kind: EventKind, now: datetime
) -> ReputationEvent | None:
    """Record one observed outcome of `collab` for the side `kind` belongs to, weighted by the deal's value.

    For callers that observe an outcome outside a transition; None when it was already recorded.
    """
    side = SubjectKind.CREATOR if kind.value.startswith("creator.") else SubjectKind.BRAND
    if kind is EventKind.RATING:
        raise ValueError("ratings are recorded by marketplace.reliability.ratings")
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


async def record_transition_outcomes(
    session: AsyncSession, result: TransitionResult, *, now: datetime
) -> list[ReputationEvent]:
    """Record whatever reputation outcomes `result` (just returned by ``transition()``) implies; usually none."""
    event = result.event
    planned = outcomes_for_transition(
        result.collaboration, action=event.action, actor_party=event.actor_party, now=now, payload=event.payload
    )
    recorded: list[ReputationEvent] = []
    # Score rows are locked in subject order ("brand" before "creator"), the order every other writer uses.
    for item in sorted(planned, key=lambda p: p.side.value):
        row = await record_collaboration_outcome(session, result.collaboration, item.kind, now)
        if row is not None:
            recorded.append(row)
    return recorded


# --- eligibility ---------------------------------------------------------------------------------------------------

#: A signed deal whose post isn't made yet: what the tier caps on "open unposted deals" count.
UNPOSTED_STATES = frozenset(
    {
        CollabState.SIGNED,
        CollabState.FUNDED,
        CollabState.SHIPPED,
        CollabState.RECEIVED,
        CollabState.DRAFT_SUBMITTED,
        CollabState.CHANGES_REQUESTED,
        CollabState.DRAFT_APPROVED,
    }
)


def gig_requirements(gig: Gig) -> GigRequirements:
    """The brand's entry bar on a gig, as the tier rules read it."""
    tier = Tier[gig.min_tier.upper()] if gig.min_tier and gig.min_tier.upper() in Tier.__members__ else Tier.NEW
    return GigRequirements(min_score=float(gig.min_reliability or 0.0), min_tier=tier)


def _unposted(creator_id: Any) -> Any:
    return sa.and_(
        Collaboration.creator_id == creator_id,
        sa.or_(
            Collaboration.status.in_([s.value for s in UNPOSTED_STATES]),
            sa.and_(Collaboration.status == CollabState.DISPUTED.value, Collaboration.posted_at.is_(None)),
        ),
    )


async def open_unposted_deals(session: AsyncSession, creator_ids: Iterable[UUID]) -> dict[UUID, int]:
    """Per creator: signed deals without a post yet (a dispute opened before posting still counts)."""
    ids = list(dict.fromkeys(creator_ids))
    counts = dict.fromkeys(ids, 0)
    if not ids:
        return counts
    rows = await session.execute(
        sa.select(Collaboration.creator_id, sa.func.count())
        .where(Collaboration.creator_id.in_(ids), _unposted(Collaboration.creator_id))
        .group_by(Collaboration.creator_id)
    )
    counts.update({creator_id: int(n) for creator_id, n in rows})
    return counts


async def linked_ghostings(session: AsyncSession, creator_ids: Iterable[UUID]) -> dict[UUID, tuple[datetime, ...]]:
    """Per creator: ghostings on other creator accounts that take products at the same delivery address.

    A ghoster's new account still needs the product delivered; deals ghosted at that door count against it too, so
    a fresh account gains nothing (``reputation.tiers.TrackRecord.linked_ghosted_at``). One indexed query.
    """
    ids = list(dict.fromkeys(creator_ids))
    found: dict[UUID, list[datetime]] = {creator_id: [] for creator_id in ids}
    if not ids:
        return {}
    mine, other = aliased(ShippingAddress), aliased(ShippingAddress)
    rows = await session.execute(
        sa.select(mine.creator_id, ReliabilityScore)
        .join(other, sa.and_(other.address_key == mine.address_key, other.creator_id != mine.creator_id))
        .join(ReliabilityScore, sa.and_(ReliabilityScore.subject_kind == SubjectKind.CREATOR,
                                        ReliabilityScore.subject_id == other.creator_id))
        .where(mine.creator_id.in_(ids), mine.address_key != "", ReliabilityScore.ghosted_count > 0)
    )
    for creator_id, score in rows:
        found[creator_id].extend(track_record(score).ghosted_at)
    return {creator_id: tuple(sorted(times)) for creator_id, times in found.items()}


async def accounts_sharing_address(session: AsyncSession, creator_id: UUID) -> list[Creator]:
    """Other creator accounts with this one's delivery address (for the admin reviewing a linked suspension)."""
    mine, other = aliased(ShippingAddress), aliased(ShippingAddress)
    return list(await session.scalars(
        sa.select(Creator)
        .join(other, other.creator_id == Creator.id)
        .join(mine, sa.and_(mine.address_key == other.address_key, mine.creator_id != other.creator_id))
        .where(mine.creator_id == creator_id, mine.address_key != "")
        .order_by(Creator.display_name)
    ))


async def creator_standing(session: AsyncSession, creator_id: UUID, now: datetime) -> tuple[ScoreView, int]:
    """A creator's live score and open unposted deals (pages that judge many gigs call this once)."""
    unposted = sa.select(sa.func.count(Collaboration.id)).where(_unposted(creator_id)).scalar_subquery()
    one_row = sa.select(sa.literal(1).label("one")).subquery()
    score, open_deals = (
        await session.execute(
            sa.select(ReliabilityScore, unposted)
            .select_from(one_row)
            .outerjoin(
                ReliabilityScore,
                sa.and_(
                    ReliabilityScore.subject_kind == SubjectKind.CREATOR, ReliabilityScore.subject_id == creator_id
                ),
            )
        )
    ).one()
    linked = (await linked_ghostings(session, [creator_id]))[creator_id]
    return view_of(Subject.creator(creator_id), score, now, linked), int(open_deals or 0)


async def creator_eligibility(
    session: AsyncSession, creator_id: UUID, gig: Gig, now: datetime, *, fee_amount: int | None = None
) -> Eligibility:
    """May this creator apply to (or be signed for) this gig now, by reputation? Reasons are shown as they are.

    Checks the gig's minimum reliability and tier, the account's suspension and probation, and the tier's caps on
    deal value and on signed deals not yet posted. Profile rules (platforms, followers, countries) are the gig's.
    """
    open_deals = (await open_unposted_deals(session, [creator_id]))[creator_id]
    return await eligibility_for(
        session,
        creator_id,
        gig_requirements(gig),
        now,
        deal_value_minor=to_usd_minor(gig_value_minor(gig, fee_amount), gig.currency),
        open_unposted_deals=open_deals,
        linked_ghosted_at=(await linked_ghostings(session, [creator_id]))[creator_id],
    )


async def eligibility_for_gigs(
    session: AsyncSession, creator_id: UUID, gigs: Sequence[Gig], now: datetime
) -> dict[UUID, Eligibility]:
    """`creator_eligibility` for a page of gigs at once (three queries, whatever the page size)."""
    record = (await records_for(session, SubjectKind.CREATOR, [creator_id]))[creator_id]
    record = replace(record, linked_ghosted_at=(await linked_ghostings(session, [creator_id]))[creator_id])
    open_deals = (await open_unposted_deals(session, [creator_id]))[creator_id]
    return {
        gig.id: eligibility(
            record,
            now,
            gig_requirements(gig),
            to_usd_minor(gig_value_minor(gig), gig.currency),
            open_deals,
        )
        for gig in gigs
    }


# --- ranked lists --------------------------------------------------------------------------------------------------

#: A creator's place in ranked lists (see `reputation.services.rank_order`) and stored proven reliability (0-1), in a
#: query joined with `join_creator_ranking`. Every creator has a score row (an insert trigger from migration 0009
#: makes a newcomer's), so the join is an inner one and "most reliable first" walks ix_reliability_score_ranking.
creator_rank_order = ReliabilityScore.rank_order
creator_ranking_score = ReliabilityScore.ranking_score
#: Tie-breaker for ranked keyset pages: the same value as the creator's id, but the column the index ends with.
creator_rank_tie = ReliabilityScore.subject_id


def join_creator_ranking(query: sa.Select[Any], creator_id: Any) -> sa.Select[Any]:
    """Add the creator's stored ranking to a query over creators (or applications) keyed by `creator_id`."""
    return query.join(
        ReliabilityScore,
        sa.and_(ReliabilityScore.subject_kind == SubjectKind.CREATOR, ReliabilityScore.subject_id == creator_id),
    )


def with_min_ranking(query: sa.Select[Any], min_score: float | None) -> sa.Select[Any]:
    """Only creators whose stored proven reliability is at least `min_score` (0-1); None or 0 keeps everyone."""
    if not min_score:
        return query
    return query.where(ReliabilityScore.ranking_score >= float(min_score))
