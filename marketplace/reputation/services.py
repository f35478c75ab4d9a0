"""What reputation tells the marketplace: standing, eligibility and ranked lists (outcomes are in ``outcomes.py``)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import replace
from datetime import datetime
from typing import Any
from uuid import UUID

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from marketplace.collaborations.models import Collaboration
from marketplace.collaborations.states import CollabState
from marketplace.creators.models import Creator, ShippingAddress
from marketplace.gigs.models import Gig
from marketplace.reputation.deal_values import gig_value_minor, to_usd_minor
from reputation.models import ReliabilityScore, SubjectKind
from reputation.services import (
    ScoreView,
    Subject,
    eligibility_for,
    records_for,
    track_record,
    view_of,
)
from reputation.tiers import Eligibility, GigRequirements, Tier, eligibility

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


_MINE, _OTHER = aliased(ShippingAddress, name="mine"), aliased(ShippingAddress, name="other")
#: Built once, at import: on a signed-in page, building these aliased joins cost more than PostgreSQL took to run
#: them (a fifth of the process's time under load), so the statement is reused with the ids as an expanding parameter.
_LINKED_GHOSTINGS = (
    sa.select(_MINE.creator_id, ReliabilityScore)
    .join(_OTHER, sa.and_(_OTHER.address_key == _MINE.address_key, _OTHER.creator_id != _MINE.creator_id))
    .join(ReliabilityScore, sa.and_(ReliabilityScore.subject_kind == SubjectKind.CREATOR,
                                    ReliabilityScore.subject_id == _OTHER.creator_id))
    .where(_MINE.creator_id.in_(sa.bindparam("ids", expanding=True)), _MINE.address_key != "",
           ReliabilityScore.ghosted_count > 0)
)


async def linked_ghostings(session: AsyncSession, creator_ids: Iterable[UUID]) -> dict[UUID, tuple[datetime, ...]]:
    """Per creator: ghostings on other creator accounts that take products at the same delivery address.

    A ghoster's new account still needs the product delivered; deals ghosted at that door count against it too, so
    a fresh account gains nothing (``reputation.tiers.TrackRecord.linked_ghosted_at``). One indexed query.
    """
    ids = list(dict.fromkeys(creator_ids))
    found: dict[UUID, list[datetime]] = {creator_id: [] for creator_id in ids}
    if not ids:
        return {}
    for creator_id, score in await session.execute(_LINKED_GHOSTINGS, {"ids": ids}):
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


async def creator_views(session: AsyncSession, creator_ids: Iterable[UUID], now: datetime) -> dict[UUID, ScoreView]:
    """The live standing of each creator: stored evidence decayed to `now`, with ghostings at the same delivery
    address. The one computation behind every reliability number and tier a page shows (directory, profile,
    reliability page, roster), so they never disagree. Two queries whatever the number of creators."""
    ids = list(dict.fromkeys(creator_ids))
    if not ids:
        return {}
    rows = {row.subject_id: row for row in await session.scalars(sa.select(ReliabilityScore).where(
        ReliabilityScore.subject_kind == SubjectKind.CREATOR, ReliabilityScore.subject_id.in_(ids)))}
    linked = await linked_ghostings(session, ids)
    return {creator_id: view_of(Subject.creator(creator_id), rows.get(creator_id), now, linked.get(creator_id, ()))
            for creator_id in ids}


_CREATOR = sa.bindparam("creator_id")
#: Built once, at import (see ``_LINKED_GHOSTINGS``): the creator's stored score with the count of their open
#: unposted deals as a scalar subquery, so a signed-in page judging gigs reads its standing in two statements.
_STANDING = (
    sa.select(
        ReliabilityScore,
        sa.select(sa.func.count()).select_from(Collaboration).where(_unposted(_CREATOR)).scalar_subquery(),
    )
    .where(ReliabilityScore.subject_kind == SubjectKind.CREATOR, ReliabilityScore.subject_id == _CREATOR)
)
_SCORE = ReliabilityScore.__table__
_LINKED_SCORE = _SCORE.alias("linked_score")
_MY_ADDRESS = ShippingAddress.__table__.alias("my_address")
_SHARED_ADDRESS = ShippingAddress.__table__.alias("shared_address")
#: ``_STANDING`` with, joined on, the ghostings of each other account taking products at the creator's delivery
#: address (``linked_ghostings``' rows): one row per such account with ghostings, or one row with none. Core columns,
#: not entities: loading the score as an ORM object cost as much CPU as the statement itself.
_STANDING_WITH_LINKED = (
    sa.select(
        *_SCORE.c,
        sa.select(sa.func.count()).select_from(Collaboration).where(_unposted(_CREATOR)).scalar_subquery()
        .label("open_deals"),
        _LINKED_SCORE.c.ghosted_at.label("linked_ghosted_at"),
    )
    .select_from(_SCORE)
    .outerjoin(_MY_ADDRESS, sa.and_(_MY_ADDRESS.c.creator_id == _SCORE.c.subject_id, _MY_ADDRESS.c.address_key != ""))
    .outerjoin(_SHARED_ADDRESS, sa.and_(_SHARED_ADDRESS.c.address_key == _MY_ADDRESS.c.address_key,
                                        _SHARED_ADDRESS.c.creator_id != _MY_ADDRESS.c.creator_id))
    .outerjoin(_LINKED_SCORE, sa.and_(_LINKED_SCORE.c.subject_kind == SubjectKind.CREATOR,
                                      _LINKED_SCORE.c.subject_id == _SHARED_ADDRESS.c.creator_id,
                                      _LINKED_SCORE.c.ghosted_count > 0))
    .where(_SCORE.c.subject_kind == SubjectKind.CREATOR, _SCORE.c.subject_id == _CREATOR)
)


async def creator_standing(session: AsyncSession, creator_id: UUID, now: datetime) -> tuple[ScoreView, int]:
    """A creator's live score (as ``creator_views`` computes it) and open unposted deals (pages that judge many gigs
    call this once): two prebuilt statements."""
    row = (await session.execute(_STANDING, {"creator_id": creator_id})).first()
    score, open_deals = (row[0], int(row[1])) if row is not None else (None, None)
    if open_deals is None:  # no score row yet: count the deals on their own
        open_deals = (await open_unposted_deals(session, [creator_id]))[creator_id]
    linked = (await linked_ghostings(session, [creator_id]))[creator_id]
    return view_of(Subject.creator(creator_id), score, now, linked), open_deals


async def creator_standing_at_once(session: AsyncSession, creator_id: UUID,
                                   now: datetime) -> tuple[ScoreView, int]:
    """``creator_standing`` in one statement (the /gigs page's round trips): the score, the open unposted deals and
    the linked ghostings together; a creator without a score row yet falls back to ``creator_standing``."""
    rows = (await (await session.connection()).execute(_STANDING_WITH_LINKED, {"creator_id": creator_id})).all()
    if not rows:
        return await creator_standing(session, creator_id, now)
    linked = tuple(sorted(t for row in rows if row.linked_ghosted_at is not None
                          for t in track_record(_Ghostings(row.linked_ghosted_at)).ghosted_at))
    # The row reads like a ReliabilityScore (same attribute names) wherever view_of looks.
    return view_of(Subject.creator(creator_id), rows[0], now, linked), int(rows[0].open_deals)


class _Ghostings:
    """Another account's stored ghostings, read by ``track_record`` like a score row with nothing else."""

    r = s = completed_deals = distinct_counterparties = 0
    evidence_at = review_cleared_at = None

    def __init__(self, ghosted_at: Any) -> None:
        self.ghosted_at = ghosted_at


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


