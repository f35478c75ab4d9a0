"""Gigs, their deliverables, eligibility rules and invitations."""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Any
from uuid import UUID

import sqlalchemy as sa
from advanced_alchemy.types import DateTimeUTC
from sqlalchemy.dialects import postgresql
from sqlalchemy.orm import Mapped, mapped_column

from marketplace.creators.models import ContentKind, Platform
from marketplace.db import AuditBase, enum_column

#: Reminder offsets in hours relative to a due time: 72 h and 24 h before, then 24 h and 72 h overdue.
DEFAULT_REMINDER_OFFSETS_HOURS: list[int] = [-72, -24, 24, 72]

#: The searchable document of a gig on PostgreSQL (title and brief, English stemming): a trigger stores it in
#: ``gig.search_vector`` whenever the title or brief is written (migration 0003).
GIG_FTS_DOCUMENT = "to_tsvector('english', (title || ' ') || brief)"


class GigStatus(enum.StrEnum):
    DRAFT = "draft"
    OPEN = "open"
    CLOSED = "closed"
    ARCHIVED = "archived"


class Gig(AuditBase):
    __tablename__ = "gig"

    brand_id: Mapped[UUID] = mapped_column(sa.ForeignKey("brand.id", ondelete="CASCADE"), index=True)
    created_by_id: Mapped[UUID | None] = mapped_column(sa.ForeignKey("user_account.id", ondelete="SET NULL"))
    status: Mapped[GigStatus] = mapped_column(enum_column(GigStatus, 16), default=GigStatus.DRAFT)
    title: Mapped[str] = mapped_column(sa.String(140))
    brief: Mapped[str] = mapped_column(sa.Text)

    # Product
    product_name: Mapped[str] = mapped_column(sa.String(140), default="")
    product_retail_value: Mapped[int] = mapped_column(sa.BigInteger, default=0)
    product_image_url: Mapped[str | None] = mapped_column(sa.String(2000), default=None)
    #: An uploaded product photo in upload storage (marketplace.media); shown before ``product_image_url``.
    product_image_key: Mapped[str | None] = mapped_column(sa.String(300), default=None)
    product_included: Mapped[bool] = mapped_column(default=True)
    #: The product picked from a connected store's catalog (marketplace.stores), or None when typed by hand.
    store_product_id: Mapped[UUID | None] = mapped_column(
        sa.ForeignKey("store_product.id", ondelete="SET NULL"), default=None)

    # Compensation (minor units of `currency`)
    currency: Mapped[str] = mapped_column(sa.String(3), default="USD")
    base_fee_amount: Mapped[int] = mapped_column(sa.BigInteger)
    #: Sales commission in basis points of attributed revenue (1250 = 12.5%); None when there is none.
    commission_bps: Mapped[int | None] = mapped_column(default=None)

    # Timeline
    apply_by: Mapped[datetime | None] = mapped_column(DateTimeUTC(timezone=True), default=None)
    ship_within_days: Mapped[int] = mapped_column(default=7)
    post_within_days: Mapped[int] = mapped_column(default=14)
    revision_rounds: Mapped[int] = mapped_column(default=1)
    review_window_hours: Mapped[int] = mapped_column(default=72)
    keep_live_days: Mapped[int] = mapped_column(default=14)
    ghost_grace_hours: Mapped[int] = mapped_column(default=72)
    reminder_offsets_hours: Mapped[list[Any]] = mapped_column(
        sa.JSON, default=lambda: list(DEFAULT_REMINDER_OFFSETS_HOURS)
    )

    # Capacity and eligibility
    slots: Mapped[int] = mapped_column(default=1)
    eligible_platforms: Mapped[list[Any]] = mapped_column(sa.JSON, default=list)
    min_followers: Mapped[int | None] = mapped_column(sa.BigInteger, default=None)
    max_followers: Mapped[int | None] = mapped_column(sa.BigInteger, default=None)
    eligible_countries: Mapped[list[Any]] = mapped_column(sa.JSON, default=list)
    #: Minimum ranking score (Wilson lower bound of reliability, 0 to 1) a creator needs; filled by reputation.
    min_reliability: Mapped[float | None] = mapped_column(sa.Float, default=None)
    #: Minimum reputation tier name (reputation.tiers.Tier), or None.
    min_tier: Mapped[str | None] = mapped_column(sa.String(16), default=None)
    #: Only creators whose numbers a connected account verifies (marketplace.social) meet the follower bar.
    verified_audience_required: Mapped[bool] = mapped_column(default=False, server_default=sa.false())

    published_at: Mapped[datetime | None] = mapped_column(DateTimeUTC(timezone=True), default=None)
    closed_at: Mapped[datetime | None] = mapped_column(DateTimeUTC(timezone=True), default=None)

    #: PostgreSQL: the stored full-text document (GIG_FTS_DOCUMENT), kept by a trigger so search reads it instead of
    #: re-parsing every candidate's brief. SQLite leaves it empty and searches gig_search_term. Never loaded by the ORM.
    search_vector: Mapped[str | None] = mapped_column(
        postgresql.TSVECTOR().with_variant(sa.Text(), "sqlite"), default=None, deferred=True
    )
    #: PostgreSQL: the gig's niches (from gig_niche), copied here by a trigger so the niche filter and a search word
    #: share one GIN index (ix_gig_search_niches). SQLite leaves it empty. Never loaded by the ORM.
    niches: Mapped[list[str] | None] = mapped_column(
        postgresql.ARRAY(sa.String(40)).with_variant(sa.JSON(), "sqlite"), default=None, deferred=True
    )

    __table_args__ = (
        sa.CheckConstraint("base_fee_amount >= 0", name="fee_not_negative"),
        sa.CheckConstraint("product_retail_value >= 0", name="product_value_not_negative"),
        sa.CheckConstraint("slots >= 1", name="slots_positive"),
        # Discovery lists open gigs newest first / by fee / by deadline with keyset pagination.
        sa.Index("ix_gig_status_published", "status", "published_at", "id"),
        sa.Index("ix_gig_status_fee", "status", "base_fee_amount", "id"),
        sa.Index("ix_gig_status_apply_by", "status", "apply_by", "id"),
        # PostgreSQL full-text search (GIN); on SQLite the same index exists over an always-empty column.
        sa.Index("ix_gig_search_vector", "search_vector", postgresql_using="gin"),
        # A search word and a niche in one bitmap scan (migration 0027).
        sa.Index("ix_gig_search_niches", "search_vector", "niches", postgresql_using="gin"),
    )


#: SQLite has no built-in full-text index that fits our migrations check (FTS5 adds shadow tables), so gig words are
#: kept in this token table there: one row per distinct word of the title and brief, written by the gig services.
#: PostgreSQL leaves it empty and uses its own full-text index on the gig row (ix_gig_search_vector).
gig_search_term = sa.Table(
    "gig_search_term",
    AuditBase.metadata,
    sa.Column("gig_id", sa.ForeignKey("gig.id", ondelete="CASCADE"), primary_key=True),
    sa.Column("term", sa.String(40), primary_key=True),
    sa.Index("ix_gig_search_term_term", "term", "gig_id"),
)


#: PostgreSQL: what /gigs filters and sorts open gigs by, one narrow row per open gig (about 300 bytes against the
#: gig row's 1.3 KB, so the whole table stays in shared buffers where the gig table does not). Kept in step with
#: gig, gig_niche (through ``gig.niches``) and gig_deliverable by statement triggers in the same transaction as every
#: write (migration 0032): a gig that is not open has no row. ``tags`` holds the gig's niches ("n:skincare"), its
#: deliverables' platforms ("p:tiktok") and the countries it is open to ("c:DE", or "c:*" for everyone), so every
#: tag filter and a search word are one scan of one GIN index. SQLite leaves the table empty (gig_search_term).
gig_search = sa.Table(
    "gig_search",
    AuditBase.metadata,
    sa.Column("gig_id", sa.ForeignKey("gig.id", ondelete="CASCADE"), primary_key=True),
    sa.Column("published_at", DateTimeUTC(timezone=True), nullable=True),
    sa.Column("base_fee_amount", sa.BigInteger, nullable=False),
    sa.Column("apply_by", DateTimeUTC(timezone=True), nullable=True),
    sa.Column("currency", sa.String(3), nullable=False),
    sa.Column("product_retail_value", sa.BigInteger, nullable=False),
    sa.Column("tags", postgresql.ARRAY(sa.Text()).with_variant(sa.JSON(), "sqlite"), nullable=False),
    sa.Column("search_vector", postgresql.TSVECTOR().with_variant(sa.Text(), "sqlite"), nullable=True),
    sa.Index("ix_gig_search_published", "published_at", "gig_id"),
    sa.Index("ix_gig_search_fee", "base_fee_amount", "gig_id"),
    sa.Index("ix_gig_search_apply_by", "apply_by", "gig_id"),
    sa.Index("ix_gig_search_match", "search_vector", "tags", postgresql_using="gin"),
)


class GigNiche(AuditBase):
    __tablename__ = "gig_niche"

    gig_id: Mapped[UUID] = mapped_column(sa.ForeignKey("gig.id", ondelete="CASCADE"))
    niche: Mapped[str] = mapped_column(sa.String(40))

    __table_args__ = (
        sa.UniqueConstraint("gig_id", "niche"),
        sa.Index("ix_gig_niche_niche", "niche", "gig_id"),
    )


class Deliverable(AuditBase):
    __tablename__ = "gig_deliverable"

    gig_id: Mapped[UUID] = mapped_column(sa.ForeignKey("gig.id", ondelete="CASCADE"), index=True)
    platform: Mapped[Platform] = mapped_column(enum_column(Platform, 16))
    kind: Mapped[ContentKind] = mapped_column(enum_column(ContentKind, 16))
    count: Mapped[int] = mapped_column(default=1)
    required_hashtags: Mapped[list[Any]] = mapped_column(sa.JSON, default=list)
    required_mentions: Mapped[list[Any]] = mapped_column(sa.JSON, default=list)
    disclosure_required: Mapped[bool] = mapped_column(default=True)
    disclosure_text: Mapped[str] = mapped_column(sa.String(40), default="#ad")

    __table_args__ = (
        sa.CheckConstraint("count >= 1", name="count_positive"),
        # The /gigs platform filter's semi-join answers from the index alone (migration 0027).
        sa.Index("ix_gig_deliverable_gig_platform", "gig_id", "platform"),
    )


class GigInvitation(AuditBase):
    """A brand asks a creator to apply (invitations may skip the creator-side fee later)."""

    __tablename__ = "gig_invitation"

    gig_id: Mapped[UUID] = mapped_column(sa.ForeignKey("gig.id", ondelete="CASCADE"))
    creator_id: Mapped[UUID] = mapped_column(sa.ForeignKey("creator.id", ondelete="CASCADE"), index=True)
    invited_by_id: Mapped[UUID | None] = mapped_column(sa.ForeignKey("user_account.id", ondelete="SET NULL"))
    message: Mapped[str] = mapped_column(sa.Text, default="")

    __table_args__ = (sa.UniqueConstraint("gig_id", "creator_id"),)
