"""Reputation tables: per-subject reliability scores, the append-only outcome log, and double-blind ratings.

The tables refer to creators, brands and collaborations by id without foreign keys: `reputation` has no schema
dependency on the marketplace (dependencies point marketplace -> reputation), and the event log stays a plain
fact table that can be bulk-loaded and rebuilt from on its own.

Stored ranking decays with time. `ReliabilityScore` keeps the evidence (r, s) exactly as of `evidence_at` (the time
of the newest outcome; it is the Beta model's "updated_at", named apart from the audit column advanced-alchemy bumps
on every write) and the ranking columns (`ranking_score`, `expected`, `rank_order`, `tier`) as of `ranked_at`: they are
refreshed when an outcome lands and by the daily `reputation.refresh_scores` job. They exist only so lists can sort
and filter on an index; anything that decides something (eligibility, the reliability page) recomputes from
(r, s, evidence_at) at the current time. With a 180-day half-life a day-old ranking moves by well under 1%.
"""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Any
from uuid import UUID

import sqlalchemy as sa
from advanced_alchemy.base import DefaultBase, IdentityBase, UUIDv7Base
from advanced_alchemy.types import GUID, DateTimeUTC
from sqlalchemy.orm import Mapped, mapped_column

from reputation.events import EventKind
from reputation.tiers import Tier

#: reputation.services.rank_order(0.0, 0.5), spelled out here because services import these models.
NEWCOMER_RANK_ORDER = 500


class SubjectKind(enum.StrEnum):
    """Whose reputation: both sides of the marketplace are scored."""

    CREATOR = "creator"
    BRAND = "brand"


def _enum(enum_cls: type[enum.Enum], length: int) -> sa.Enum:
    # Same storage as marketplace.db.enum_column (short string by value), without importing the marketplace.
    return sa.Enum(
        enum_cls,
        native_enum=False,
        length=length,
        values_callable=lambda members: [m.value for m in members],
        validate_strings=True,
    )


def _count() -> Mapped[int]:
    return mapped_column(sa.Integer, default=0, server_default="0")


class ReliabilityScore(DefaultBase):
    """One subject's reliability: Beta evidence (r, s) as of `evidence_at`, counts, sanctions and the ranking."""

    __tablename__ = "reliability_score"

    subject_kind: Mapped[SubjectKind] = mapped_column(_enum(SubjectKind, 8), primary_key=True)
    subject_id: Mapped[UUID] = mapped_column(GUID(length=16), primary_key=True)

    r: Mapped[float] = mapped_column(sa.Float, default=0.0, server_default="0")
    s: Mapped[float] = mapped_column(sa.Float, default=0.0, server_default="0")
    #: The evidence time: r and s are decayed to this instant (the newest outcome's). None: nothing happened yet.
    evidence_at: Mapped[datetime | None] = mapped_column(DateTimeUTC(timezone=True), default=None)
    events_count: Mapped[int] = _count()

    # What happened, by kind (brand kinds share the columns: on time = released on time, late = late release).
    on_time_count: Mapped[int] = _count()
    late_count: Mapped[int] = _count()
    ghosted_count: Mapped[int] = _count()
    removed_count: Mapped[int] = _count()
    cancelled_count: Mapped[int] = _count()
    disputes_lost_count: Mapped[int] = _count()
    did_not_ship_count: Mapped[int] = _count()
    ratings_received: Mapped[int] = _count()
    #: On-time or late deliveries (releases, for a brand), and how many different counterparties they were with.
    completed_deals: Mapped[int] = _count()
    distinct_counterparties: Mapped[int] = _count()

    #: ISO timestamps of every ghosting (rare, so a list): probation and suspension read them.
    ghosted_at: Mapped[list[Any]] = mapped_column(sa.JSON, default=list, server_default=sa.text("'[]'"))
    #: Set when a second ghosting within 12 months suspended applications; cleared by an admin's review.
    suspended_at: Mapped[datetime | None] = mapped_column(DateTimeUTC(timezone=True), default=None)
    review_cleared_at: Mapped[datetime | None] = mapped_column(DateTimeUTC(timezone=True), default=None)
    review_cleared_by_id: Mapped[UUID | None] = mapped_column(GUID(length=16), default=None)

    #: Ratings this subject gave (all, and 1- or 5-star ones): how much its future ratings count.
    ratings_given: Mapped[int] = _count()
    extreme_ratings_given: Mapped[int] = _count()

    # Ranking as of `ranked_at` (see the module docstring): for sorting and filtering lists on an index only.
    ranking_score: Mapped[float] = mapped_column(sa.Float, default=0.0, server_default="0")
    expected: Mapped[float] = mapped_column(sa.Float, default=0.5, server_default="0.5")
    #: services.rank_order(ranking_score, expected): the one indexed integer lists sort and page by.
    rank_order: Mapped[int] = mapped_column(sa.BigInteger, default=NEWCOMER_RANK_ORDER, server_default="500")
    tier: Mapped[str] = mapped_column(sa.String(16), default=Tier.NEW.name, server_default=Tier.NEW.name)
    ranked_at: Mapped[datetime | None] = mapped_column(DateTimeUTC(timezone=True), default=None)
    #: Set by the marketplace: a connected account with real history, linked to no ghosting. Ranking then gives a
    #: subject without a record the prior of `tiers.ranking_evidence` (rank_order only: never the proven score, tier
    #: or caps).
    verified_audience: Mapped[bool] = mapped_column(sa.Boolean, default=False, server_default=sa.false())

    __table_args__ = (
        # Directory and application lists: ORDER BY rank_order DESC, subject_id DESC (a backward index scan).
        sa.Index("ix_reliability_score_ranking", "subject_kind", "rank_order", "subject_id"),
        # Only the suspended few (the admin's list and count ask for suspended_at IS NOT NULL): a rebuild writing every
        # row leaves this index alone.
        sa.Index("ix_reliability_score_suspended", "suspended_at", postgresql_where=sa.text("suspended_at IS NOT NULL"),
                 sqlite_where=sa.text("suspended_at IS NOT NULL")),
        sa.CheckConstraint("r >= 0 AND s >= 0", name="evidence_not_negative"),
    )


class ReputationEvent(IdentityBase):
    """One observed outcome for one subject: the append-only log every score can be rebuilt from.

    `weight` is final (catalogue weight x deal value weight, or 0.5 x rater weight for a rating); the deal value and
    currency exponent are kept to explain it. Rows are never updated or deleted (a database trigger refuses it).
    """

    __tablename__ = "reputation_event"

    subject_kind: Mapped[SubjectKind] = mapped_column(_enum(SubjectKind, 8))
    subject_id: Mapped[UUID] = mapped_column(GUID(length=16))
    kind: Mapped[EventKind] = mapped_column(_enum(EventKind, 40))
    value: Mapped[float] = mapped_column(sa.Float)
    weight: Mapped[float] = mapped_column(sa.Float)
    deal_value_minor: Mapped[int] = mapped_column(sa.BigInteger, default=0)
    currency_exponent: Mapped[int] = mapped_column(sa.SmallInteger, default=2)
    collaboration_id: Mapped[UUID] = mapped_column(GUID(length=16))
    #: The other side of the deal (a brand for a creator's outcome, a creator for a brand's).
    counterparty_id: Mapped[UUID | None] = mapped_column(GUID(length=16), default=None)
    occurred_at: Mapped[datetime] = mapped_column(DateTimeUTC(timezone=True))
    recorded_at: Mapped[datetime] = mapped_column(DateTimeUTC(timezone=True))

    __table_args__ = (
        # An outcome is recorded once, however many times the worker, a webhook or a retry reports it.
        sa.UniqueConstraint(
            "collaboration_id", "subject_kind", "subject_id", "kind", name="uq_reputation_event_outcome"
        ),
        sa.Index("ix_reputation_event_subject_time", "subject_kind", "subject_id", "occurred_at"),
        # The few ghostings, in time order per subject: the set-based rebuild reads them without scanning the log.
        sa.Index(
            "ix_reputation_event_ghosted",
            "subject_kind",
            "subject_id",
            "occurred_at",
            postgresql_where=sa.text("kind = 'creator.ghosted'"),
            sqlite_where=sa.text("kind = 'creator.ghosted'"),
        ),
        sa.CheckConstraint("value >= -1 AND value <= 1", name="value_in_range"),
        sa.CheckConstraint("weight >= 0", name="weight_not_negative"),
    )


class Rating(UUIDv7Base):
    """Stars and a comment one side of a completed deal gave the other; hidden until both rated or 14 days passed."""

    __tablename__ = "rating"

    collaboration_id: Mapped[UUID] = mapped_column(GUID(length=16))
    rater_side: Mapped[SubjectKind] = mapped_column(_enum(SubjectKind, 8))
    #: The rating brand's or creator's id, and the team member or creator user who submitted it.
    rater_id: Mapped[UUID] = mapped_column(GUID(length=16))
    rater_user_id: Mapped[UUID | None] = mapped_column(GUID(length=16), default=None)
    ratee_kind: Mapped[SubjectKind] = mapped_column(_enum(SubjectKind, 8))
    ratee_id: Mapped[UUID] = mapped_column(GUID(length=16))
    stars: Mapped[int] = mapped_column(sa.SmallInteger)
    comment: Mapped[str] = mapped_column(sa.Text, default="")
    #: scoring.rater_weight_from_counts() of the rater's history when this was given (fixed, so rebuilds agree).
    rater_weight: Mapped[float] = mapped_column(sa.Float)
    created_at: Mapped[datetime] = mapped_column(DateTimeUTC(timezone=True))
    #: Completion + 14 days: the rating is revealed then even if the other side never rates.
    window_closes_at: Mapped[datetime] = mapped_column(DateTimeUTC(timezone=True))
    revealed_at: Mapped[datetime | None] = mapped_column(DateTimeUTC(timezone=True), default=None)

    __table_args__ = (
        sa.UniqueConstraint("collaboration_id", "rater_side", name="uq_rating_once_per_side"),
        sa.Index("ix_rating_ratee", "ratee_kind", "ratee_id", "revealed_at"),
        sa.Index("ix_rating_reveal_due", "revealed_at", "window_closes_at"),
        sa.CheckConstraint("stars >= 1 AND stars <= 5", name="stars_in_range"),
    )
