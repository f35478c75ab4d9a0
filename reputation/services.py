"""Reputation services over the database: record observed outcomes, read scores, decide gig eligibility.

Every outcome lands in two places in one transaction: an append-only `ReputationEvent` row, and an O(1) update of
the subject's `ReliabilityScore` under a row lock. The event's unique key (collaboration, subject, kind) makes
recording idempotent, so the worker, webhooks and retries may report the same outcome as often as they like.

Lock order: callers hold the collaboration (then escrow, then ledger) locks first; score rows come last, and when one
transaction locks several, they are locked in (subject kind, subject id) order, so two transactions never wait on
each other in a circle.

Long because recording, reading and judging scores share the one locked write path they must not bypass.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any
from uuid import UUID

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession

from reputation.events import EventKind, Side
from reputation.models import ReliabilityScore, ReputationEvent, SubjectKind
from reputation.scoring import (
    Evidence,
    Outcome,
    apply_outcome,
    decay,
    expected_reliability,
    outcome_for,
    ranking_score,
    value_weight,
    wilson_lower_bound,
)
from reputation.tiers import (
    RULES,
    SUSPENSION_GHOSTINGS,
    SUSPENSION_WINDOW,
    Eligibility,
    GigRequirements,
    Tier,
    TrackRecord,
    earned_tier,
    eligibility,
    is_suspended,
    next_tier_needs,
    on_ghost_probation_until,
    ranking_evidence,
    tier_for,
)

__all__ = [
    "COMPLETED_KINDS",
    "ScoreView",
    "Subject",
    "Tally",
    "append_outcome",
    "clear_suspension",
    "eligibility_for",
    "lock_scores",
    "next_tier_needs_for",
    "rank_order",
    "rank_row",
    "recent_events",
    "record_outcome",
    "records_for",
    "score_for",
    "scores_for",
]

#: Kinds that close a deal the normal way; they count as completed deals and make a distinct counterparty.
COMPLETED_KINDS = frozenset(
    {EventKind.CREATOR_ON_TIME, EventKind.CREATOR_LATE, EventKind.BRAND_RELEASED_ON_TIME, EventKind.BRAND_LATE_RELEASE}
)
#: Which counter column each kind increments (brand kinds share the creator columns' meaning).
COUNT_COLUMNS: dict[EventKind, str] = {
    EventKind.CREATOR_ON_TIME: "on_time_count",
    EventKind.CREATOR_LATE: "late_count",
    EventKind.CREATOR_GHOSTED: "ghosted_count",
    EventKind.CREATOR_POST_REMOVED: "removed_count",
    EventKind.CREATOR_CANCELLED_AFTER_SIGNING: "cancelled_count",
    EventKind.CREATOR_DISPUTE_LOST: "disputes_lost_count",
    EventKind.BRAND_RELEASED_ON_TIME: "on_time_count",
    EventKind.BRAND_LATE_RELEASE: "late_count",
    EventKind.BRAND_DID_NOT_SHIP: "did_not_ship_count",
    EventKind.BRAND_DISPUTE_LOST: "disputes_lost_count",
    EventKind.RATING: "ratings_received",
}
COUNTERS: tuple[str, ...] = tuple(dict.fromkeys(COUNT_COLUMNS.values()))
_SIDE_OF = {SubjectKind.CREATOR: Side.CREATOR, SubjectKind.BRAND: Side.BRAND}


@dataclass(frozen=True, slots=True, order=True)
class Subject:
    """Whose reputation: a creator or a brand, by id. Sorts in the lock order."""

    kind: SubjectKind
    id: UUID

    @classmethod
    def creator(cls, creator_id: UUID) -> Subject:
        return cls(SubjectKind.CREATOR, creator_id)

    @classmethod
    def brand(cls, brand_id: UUID) -> Subject:
        return cls(SubjectKind.BRAND, brand_id)


def _aware(value: datetime, name: str) -> datetime:
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"{name} must be timezone-aware, got {value!r}")
    return value


def _parse_times(values: Iterable[Any]) -> list[datetime]:
    return sorted(datetime.fromisoformat(v) if isinstance(v, str) else v for v in values)


# --- the per-subject tally, shared by incremental updates and the full recompute ------------------------------------


@dataclass
class Tally:
    """Everything a score row derives from its events; `add` is the single rule both update paths apply."""

    evidence: Evidence = field(default_factory=Evidence)
    counts: dict[str, int] = field(default_factory=lambda: dict.fromkeys(COUNTERS, 0))
    events_count: int = 0
    completed_deals: int = 0
    distinct_counterparties: int = 0
    ghosted_at: list[datetime] = field(default_factory=list)

    @classmethod
    def of(cls, row: ReliabilityScore) -> Tally:
        return cls(
            evidence=Evidence(row.r or 0.0, row.s or 0.0, row.evidence_at),
            counts={name: getattr(row, name) or 0 for name in COUNTERS},
            events_count=row.events_count or 0,
            completed_deals=row.completed_deals or 0,
            distinct_counterparties=row.distinct_counterparties or 0,
            ghosted_at=_parse_times(row.ghosted_at or ()),
        )

    def add(self, kind: EventKind, outcome: Outcome, *, new_counterparty: bool) -> None:
        self.evidence = apply_outcome(self.evidence, outcome)
        self.counts[COUNT_COLUMNS[kind]] += 1
        self.events_count += 1
        if kind in COMPLETED_KINDS:
            self.completed_deals += 1
            self.distinct_counterparties += new_counterparty
        if kind is EventKind.CREATOR_GHOSTED:
            self.ghosted_at = sorted([*self.ghosted_at, outcome.at])

    def record(self, review_cleared_at: datetime | None) -> TrackRecord:
        """What the tier rules see of this tally."""
        return TrackRecord(
            self.evidence, self.completed_deals, self.distinct_counterparties, tuple(self.ghosted_at), review_cleared_at
        )

    def values(self, review_cleared_at: datetime | None) -> dict[str, Any]:
        """Column values for the score row (ranking columns excluded: see `rank_row`)."""
        return {
            "r": self.evidence.r,
            "s": self.evidence.s,
            "evidence_at": self.evidence.updated_at,
            "events_count": self.events_count,
            **self.counts,
            "completed_deals": self.completed_deals,
            "distinct_counterparties": self.distinct_counterparties,
            "ghosted_at": [t.isoformat() for t in self.ghosted_at],
            "suspended_at": suspension_started(self.ghosted_at, review_cleared_at),
        }


def suspension_started(ghosted_at: Sequence[datetime], review_cleared_at: datetime | None) -> datetime | None:
    """When the ghosting that completed "two within 12 months" happened (after the last admin clearance), or None."""
    if len(ghosted_at) < SUSPENSION_GHOSTINGS:
        return None
    counted = sorted(t for t in ghosted_at if review_cleared_at is None or t > review_cleared_at)
    span = SUSPENSION_GHOSTINGS - 1
    for earlier, later in zip(counted, counted[span:], strict=False):
        if later - earlier <= SUSPENSION_WINDOW:
            return later
    return None


def track_record(row: ReliabilityScore | None) -> TrackRecord:
    """The stored row as the pure tier rules see it; a subject without a row is a newcomer."""
    if row is None:
        return TrackRecord(Evidence())
    return TrackRecord(
        evidence=Evidence(row.r or 0.0, row.s or 0.0, row.evidence_at),
        completed_deals=row.completed_deals or 0,
        distinct_counterparties=row.distinct_counterparties or 0,
        ghosted_at=tuple(_parse_times(row.ghosted_at or ())),
        review_cleared_at=row.review_cleared_at,
    )


def rank_order(score: float, expected: float) -> int:
    """One integer that sorts like `scoring.ranking_key` (ranking score, then expected reliability).

    Lists page through creators by keyset on a single indexed column; the score keeps six decimals (far finer than
    anything shown) and the expectation three, so the order of any two subjects is that of their ranking keys.
    """
    return int(score * 1_000_000 + 0.5) * 1_000 + int(expected * 999 + 0.5)


#: Where a subject with no evidence sorts: above accounts with only bad evidence, below anyone with proof.
NEWCOMER_RANK_ORDER = rank_order(0.0, 0.5)


def ranking_values(record: TrackRecord, at: datetime, *, verified_audience: bool = False) -> dict[str, Any]:
    """The stored ranking columns as of `at`. A subject without a record but with a verified audience is placed by
    the prior of `tiers.ranking_evidence` (rank_order only: its proven score stays 0 and its tier New)."""
    current = decay(record.evidence, at)
    # scoring.ranking_score(record.evidence, at), without decaying a second time.
    score, expected = wilson_lower_bound(current.r, current.n), expected_reliability(current)
    ranked = ranking_evidence(record.evidence, verified_audience=verified_audience)
    order = rank_order(score, expected) if ranked is record.evidence else rank_order(
        wilson_lower_bound(ranked.r, ranked.n), expected_reliability(ranked))
    return {
        "ranking_score": score,
        "expected": expected,
        "rank_order": order,
        "tier": tier_for(record, at).name,
        "ranked_at": at,
    }


def rank_row(row: ReliabilityScore, at: datetime) -> None:
    """Refresh a row's ranking columns as of `at` (never earlier than its evidence)."""
    if row.evidence_at is not None and at < row.evidence_at:
        at = row.evidence_at
    for name, value in ranking_values(track_record(row), at, verified_audience=bool(row.verified_audience)).items():
        setattr(row, name, value)


# --- reading scores ------------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ScoreView:
    """A subject's reliability as of `at`, computed live from the stored evidence (what pages and rules use)."""

    subject: Subject
    at: datetime
    record: TrackRecord
    #: Evidence decayed to `at`: n = r + s is "how much we know".
    current: Evidence
    expected: float
    ranking_score: float
    tier: Tier
    suspended: bool
    probation_until: datetime | None
    on_time: int = 0
    late: int = 0
    ghosted: int = 0
    removed: int = 0
    cancelled: int = 0
    disputes_lost: int = 0
    did_not_ship: int = 0
    ratings_received: int = 0
    completed_deals: int = 0
    distinct_counterparties: int = 0
    events_count: int = 0

    @property
    def is_newcomer(self) -> bool:
        return self.events_count == 0

    @property
    def sort_key(self) -> tuple[float, float]:
        """(ranking score, expected reliability): best last, as `scoring.ranking_key`."""
        return self.ranking_score, self.expected


def view_of(subject: Subject, row: ReliabilityScore | None, at: datetime,
            linked_ghosted_at: Sequence[datetime] = ()) -> ScoreView:
    """`linked_ghosted_at`: ghostings on other accounts of the same person (see ``TrackRecord``)."""
    record = track_record(row)
    if linked_ghosted_at:
        record = replace(record, linked_ghosted_at=tuple(linked_ghosted_at))
    current = decay(record.evidence, at)
    counts = {name: (getattr(row, name) or 0) if row is not None else 0 for name in COUNTERS}
    return ScoreView(
        subject=subject,
        at=at,
        record=record,
        current=current,
        expected=expected_reliability(current),
        ranking_score=ranking_score(record.evidence, at),
        tier=tier_for(record, at),
        suspended=is_suspended(record, at),
        probation_until=on_ghost_probation_until(record, at) if subject.kind is SubjectKind.CREATOR else None,
        on_time=counts["on_time_count"],
        late=counts["late_count"],
        ghosted=counts["ghosted_count"],
        removed=counts["removed_count"],
        cancelled=counts["cancelled_count"],
        disputes_lost=counts["disputes_lost_count"],
        did_not_ship=counts["did_not_ship_count"],
        ratings_received=counts["ratings_received"],
        completed_deals=record.completed_deals,
        distinct_counterparties=record.distinct_counterparties,
        events_count=(row.events_count or 0) if row is not None else 0,
    )


async def _rows(session: AsyncSession, kind: SubjectKind, ids: Sequence[UUID]) -> dict[UUID, ReliabilityScore]:
    rows: dict[UUID, ReliabilityScore] = {}
    unique = list(dict.fromkeys(ids))
    # Chunks keep the IN list within every driver's parameter limit (bulk tools pass thousands of ids).
    for start in range(0, len(unique), 900):
        chunk = unique[start : start + 900]
        result = await session.scalars(
            sa.select(ReliabilityScore).where(
                ReliabilityScore.subject_kind == kind, ReliabilityScore.subject_id.in_(chunk)
            )
        )
        rows.update({row.subject_id: row for row in result})
    return rows


async def scores_for(
    session: AsyncSession, kind: SubjectKind | str, ids: Iterable[UUID], at: datetime
) -> dict[UUID, ScoreView]:
    """Live scores for many subjects of one kind (every id gets a view; unknown ones are newcomers)."""
    kind = SubjectKind(kind)
    _aware(at, "at")
    wanted = list(ids)
    rows = await _rows(session, kind, wanted)
    return {subject_id: view_of(Subject(kind, subject_id), rows.get(subject_id), at) for subject_id in wanted}


async def score_for(session: AsyncSession, subject: Subject, at: datetime) -> ScoreView:
    return (await scores_for(session, subject.kind, [subject.id], at))[subject.id]


async def records_for(session: AsyncSession, kind: SubjectKind | str, ids: Iterable[UUID]) -> dict[UUID, TrackRecord]:
    """Tier-rule inputs for many subjects (newcomers included)."""
    wanted = list(ids)
    rows = await _rows(session, SubjectKind(kind), wanted)
    return {subject_id: track_record(rows.get(subject_id)) for subject_id in wanted}


async def recent_events(session: AsyncSession, subject: Subject, limit: int = 20) -> list[ReputationEvent]:
    """The subject's newest outcomes first (explainability page)."""
    result = await session.scalars(
        sa.select(ReputationEvent)
        .where(ReputationEvent.subject_kind == subject.kind, ReputationEvent.subject_id == subject.id)
        .order_by(ReputationEvent.occurred_at.desc(), ReputationEvent.id.desc())
        .limit(limit)
    )
    return list(result)


def next_tier_needs_for(view: ScoreView) -> list[str]:
    """What the next tier needs, in words for the subject's side (the tier rules speak to creators)."""
    if view.subject.kind is SubjectKind.CREATOR:
        return next_tier_needs(view.record, view.at)
    current = earned_tier(view.record, view.at)
    if current is Tier.GOLD:
        return []
    rule = RULES[Tier(current + 1)]
    needs: list[str] = []
    if view.ranking_score < rule.min_score:
        needs.append(
            f"Proven reliability of {rule.min_score:.0%} for {rule.tier.label} (now {view.ranking_score:.0%}): "
            "review and release payment on time."
        )
    if view.completed_deals < rule.min_completed_deals:
        missing = rule.min_completed_deals - view.completed_deals
        needs.append(
            f"{missing} more completed deal{'s' if missing != 1 else ''} "
            f"({view.completed_deals} of {rule.min_completed_deals})."
        )
    if view.distinct_counterparties < rule.min_counterparties:
        missing = rule.min_counterparties - view.distinct_counterparties
        needs.append(
            f"Deals with {missing} more creator{'s' if missing != 1 else ''} "
            f"({view.distinct_counterparties} of {rule.min_counterparties} different creators)."
        )
    return needs


async def eligibility_for(
    session: AsyncSession,
    creator_id: UUID,
    gig: GigRequirements,
    now: datetime,
    *,
    deal_value_minor: int,
    open_unposted_deals: int,
    linked_ghosted_at: Sequence[datetime] = (),
) -> Eligibility:
    """May this creator apply to a gig with these requirements now? `deal_value_minor` is in USD cents.

    Computed live from the stored evidence (not the stored ranking), so a ghosting recorded a second ago counts.
    """
    _aware(now, "now")
    record = (await records_for(session, SubjectKind.CREATOR, [creator_id]))[creator_id]
    record = replace(record, linked_ghosted_at=tuple(linked_ghosted_at))
    return eligibility(record, now, gig, deal_value_minor, open_unposted_deals)


# --- writing: locks and the incremental update -----------------------------------------------------------------------


def dialect_insert(session: AsyncSession, model: Any) -> Any:
    if session.get_bind().dialect.name == "postgresql":

        return pg_insert(model)

    return sqlite_insert(model)


def _subject_clause(subjects: Sequence[Subject]) -> Any:
    return sa.or_(
        *(sa.and_(ReliabilityScore.subject_kind == s.kind, ReliabilityScore.subject_id == s.id) for s in subjects)
    )


async def _select_locked(session: AsyncSession, subjects: Sequence[Subject]) -> dict[Subject, ReliabilityScore]:
    result = await session.scalars(
        sa.select(ReliabilityScore)
        .where(_subject_clause(subjects))
        .order_by(ReliabilityScore.subject_kind, ReliabilityScore.subject_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    return {Subject(row.subject_kind, row.subject_id): row for row in result}


async def lock_scores(session: AsyncSession, subjects: Iterable[Subject]) -> dict[Subject, ReliabilityScore]:
    """Lock (creating when missing) the score rows of `subjects`, in the fixed lock order."""
    wanted = sorted(set(subjects))
    if not wanted:
        return {}
    rows = await _select_locked(session, wanted)
    missing = [s for s in wanted if s not in rows]
    if missing:
        # Two first outcomes for one subject may race: ON CONFLICT lets the loser wait on the winner's row instead.
        await session.execute(
            dialect_insert(session, ReliabilityScore)
            .values([{"subject_kind": s.kind, "subject_id": s.id, "ghosted_at": []} for s in missing])
            .on_conflict_do_nothing(index_elements=["subject_kind", "subject_id"])
        )
        rows = await _select_locked(session, wanted)
    return rows


def _check_side(subject: Subject, kind: EventKind) -> None:
    side = kind.spec.side
    if side is not Side.EITHER and side is not _SIDE_OF[subject.kind]:
        raise ValueError(f"{kind.value} is a {side.value} outcome; it can't be recorded for a {subject.kind.value}")


async def append_outcome(
    session: AsyncSession,
    row: ReliabilityScore,
    subject: Subject,
    kind: EventKind,
    outcome: Outcome,
    *,
    collaboration_id: UUID,
    counterparty_id: UUID | None,
    deal_value_minor: int,
    currency_exponent: int,
    recorded_at: datetime,
) -> ReputationEvent | None:
    """Append one event and fold it into the locked row; None when this outcome was already recorded.

    Returns a detached copy of the inserted event row.
    """
    new_counterparty = False
    if kind in COMPLETED_KINDS and counterparty_id is not None:
        seen = await session.scalar(
            sa.select(ReputationEvent.id)
            .where(
                ReputationEvent.subject_kind == subject.kind,
                ReputationEvent.subject_id == subject.id,
                ReputationEvent.counterparty_id == counterparty_id,
                ReputationEvent.kind.in_(COMPLETED_KINDS),
            )
            .limit(1)
        )
        new_counterparty = seen is None
    values = {
        "subject_kind": subject.kind,
        "subject_id": subject.id,
        "kind": kind,
        "value": outcome.value,
        "weight": outcome.weight,
        "deal_value_minor": deal_value_minor,
        "currency_exponent": currency_exponent,
        "collaboration_id": collaboration_id,
        "counterparty_id": counterparty_id,
        "occurred_at": outcome.at,
        "recorded_at": recorded_at,
    }
    # The unique key decides "already recorded" in the same statement that records it.
    inserted = await session.scalar(
        dialect_insert(session, ReputationEvent)
        .values(**values)
        .on_conflict_do_nothing(index_elements=["collaboration_id", "subject_kind", "subject_id", "kind"])
        .returning(ReputationEvent.id)
    )
    if inserted is None:
        return None
    event = ReputationEvent(id=inserted, **values)
    tally = Tally.of(row)
    tally.add(kind, outcome, new_counterparty=new_counterparty)
    for name, value in tally.values(row.review_cleared_at).items():
        setattr(row, name, value)
    rank_row(row, max(recorded_at, outcome.at))
    await session.flush()
    return event


async def record_outcome(
    session: AsyncSession,
    *,
    subject: Subject,
    kind: EventKind,
    collaboration_id: UUID,
    deal_value_minor: int,
    currency_exponent: int,
    occurred_at: datetime,
    counterparty_id: UUID | None = None,
    recorded_at: datetime | None = None,
) -> ReputationEvent | None:
    """Record an observed outcome once and update the subject's score in O(1); None if it was already recorded.

    `deal_value_minor` is the deal's value (fee plus product) in minor units of its currency, whose exponent is
    `currency_exponent`; the weight is the catalogue weight times `scoring.value_weight`. `counterparty_id` (the
    brand for a creator's outcome, the creator for a brand's) feeds "distinct counterparties" for the tiers.
    Runs in the caller's transaction; the score row stays locked until it commits.
    """
    kind = EventKind(kind)
    if kind is EventKind.RATING:
        raise ValueError("ratings enter through submit_rating(), when they are revealed")
    _check_side(subject, kind)
    _aware(occurred_at, "occurred_at")
    outcome = outcome_for(kind, occurred_at, value_weight(deal_value_minor, currency_exponent))
    row = (await lock_scores(session, [subject]))[subject]
    return await append_outcome(
        session,
        row,
        subject,
        kind,
        outcome,
        collaboration_id=collaboration_id,
        counterparty_id=counterparty_id,
        deal_value_minor=deal_value_minor,
        currency_exponent=currency_exponent,
        recorded_at=_aware(recorded_at or occurred_at, "recorded_at"),
    )


async def clear_suspension(session: AsyncSession, creator_id: UUID, admin_user_id: UUID, now: datetime,
                           linked_ghosted_at: Sequence[datetime] = ()) -> bool:
    """An admin reviewed a suspended creator and lets them apply again; False when they were not suspended.

    Earlier ghostings stop counting towards another suspension (they stay in the evidence and the 90-day probation);
    so do ghostings on accounts linked to this one (`linked_ghosted_at`), whose suspension this also lifts.
    """
    subject = Subject.creator(creator_id)
    row = (await lock_scores(session, [subject]))[subject]
    linked = replace(track_record(row), linked_ghosted_at=tuple(linked_ghosted_at))
    if row.suspended_at is None and not is_suspended(linked, _aware(now, "now")):
        return False
    row.review_cleared_at = _aware(now, "now")
    row.review_cleared_by_id = admin_user_id
    row.suspended_at = None
    rank_row(row, now)
    await session.flush()
    return True
