"""The brand's roster (its creator CRM): entries, tags, lists, custom field definitions, saved views and imports."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

import sqlalchemy as sa
from advanced_alchemy.types import DateTimeUTC
from sqlalchemy.orm import Mapped, mapped_column

from marketplace.db import AuditBase

#: The platforms a roster entry keeps a handle for; each is also a CSV column and a unique key per brand.
HANDLE_COLUMNS = ("tiktok", "instagram", "youtube")


class RosterEntry(AuditBase):
    """One person a brand works with or wants to: on PostPact (``creator_id``) or not yet (name, email, handles).

    Emails and handles are stored normalised (lower case, no "@"), so the unique keys below deduplicate imports.
    """

    __tablename__ = "roster_entry"

    brand_id: Mapped[UUID] = mapped_column(sa.ForeignKey("brand.id", ondelete="CASCADE"))
    creator_id: Mapped[UUID | None] = mapped_column(sa.ForeignKey("creator.id", ondelete="SET NULL"), default=None)
    name: Mapped[str] = mapped_column(sa.String(120))
    email: Mapped[str | None] = mapped_column(sa.String(320), default=None)
    country: Mapped[str | None] = mapped_column(sa.String(2), default=None)
    followers: Mapped[int] = mapped_column(sa.BigInteger, default=0)
    tiktok: Mapped[str | None] = mapped_column(sa.String(100), default=None)
    instagram: Mapped[str | None] = mapped_column(sa.String(100), default=None)
    youtube: Mapped[str | None] = mapped_column(sa.String(100), default=None)
    #: A member of the brand's team who looks after this person.
    owner_id: Mapped[UUID | None] = mapped_column(sa.ForeignKey("user_account.id", ondelete="SET NULL"),
                                                  default=None)
    #: The brand's private notes (people not on PostPact have no creator to hang brand notes on).
    notes: Mapped[str] = mapped_column(sa.Text, default="")
    #: Values of the brand's custom fields, by field key.
    custom_fields: Mapped[dict[str, Any]] = mapped_column(sa.JSON, default=dict)
    #: How the entry arrived: manual, imported, invited, applied, deal.
    source: Mapped[str] = mapped_column(sa.String(16), default="manual")
    #: Contact recorded outside messages (claim invitation emailed, a call); messages count on their own.
    last_contact_at: Mapped[datetime | None] = mapped_column(DateTimeUTC(timezone=True), default=None)
    #: When the claim invitation was emailed: never twice, so a re-imported file sends nothing.
    invited_at: Mapped[datetime | None] = mapped_column(DateTimeUTC(timezone=True), default=None)

    __table_args__ = (
        sa.UniqueConstraint("brand_id", "creator_id", name="uq_roster_entry_brand_creator"),
        sa.UniqueConstraint("brand_id", "email", name="uq_roster_entry_brand_email"),
        sa.UniqueConstraint("brand_id", "tiktok", name="uq_roster_entry_brand_tiktok"),
        sa.UniqueConstraint("brand_id", "instagram", name="uq_roster_entry_brand_instagram"),
        sa.UniqueConstraint("brand_id", "youtube", name="uq_roster_entry_brand_youtube"),
        sa.Index("ix_roster_entry_brand_name", "brand_id", "name", "id"),
        sa.Index("ix_roster_entry_brand_followers", "brand_id", "followers", "id"),
        sa.Index("ix_roster_entry_brand_country", "brand_id", "country"),
    )


class RosterTag(AuditBase):
    __tablename__ = "roster_tag"

    brand_id: Mapped[UUID] = mapped_column(sa.ForeignKey("brand.id", ondelete="CASCADE"))
    #: Lower case, so "VIP" and "vip" are one tag.
    name: Mapped[str] = mapped_column(sa.String(40))

    __table_args__ = (sa.UniqueConstraint("brand_id", "name", name="uq_roster_tag_brand_name"),)


class RosterEntryTag(AuditBase):
    __tablename__ = "roster_entry_tag"

    entry_id: Mapped[UUID] = mapped_column(sa.ForeignKey("roster_entry.id", ondelete="CASCADE"))
    tag_id: Mapped[UUID] = mapped_column(sa.ForeignKey("roster_tag.id", ondelete="CASCADE"))

    __table_args__ = (
        sa.UniqueConstraint("entry_id", "tag_id", name="uq_roster_entry_tag"),
        sa.Index("ix_roster_entry_tag_tag", "tag_id", "entry_id"),
    )


class RosterList(AuditBase):
    """A named, hand-picked group (a campaign's shortlist), where tags describe people."""

    __tablename__ = "roster_list"

    brand_id: Mapped[UUID] = mapped_column(sa.ForeignKey("brand.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(sa.String(80))

    __table_args__ = (sa.UniqueConstraint("brand_id", "name", name="uq_roster_list_brand_name"),)


class RosterListMember(AuditBase):
    __tablename__ = "roster_list_member"

    list_id: Mapped[UUID] = mapped_column(sa.ForeignKey("roster_list.id", ondelete="CASCADE"))
    entry_id: Mapped[UUID] = mapped_column(sa.ForeignKey("roster_entry.id", ondelete="CASCADE"), index=True)

    __table_args__ = (sa.UniqueConstraint("list_id", "entry_id", name="uq_roster_list_member"),)


class RosterField(AuditBase):
    """A custom field the brand defines (its key is also a CSV column, ``field:<key>``)."""

    __tablename__ = "roster_field"

    brand_id: Mapped[UUID] = mapped_column(sa.ForeignKey("brand.id", ondelete="CASCADE"))
    key: Mapped[str] = mapped_column(sa.String(40))
    label: Mapped[str] = mapped_column(sa.String(80))

    __table_args__ = (sa.UniqueConstraint("brand_id", "key", name="uq_roster_field_brand_key"),)


class RosterView(AuditBase):
    """A saved view: filters, sort and columns as a query string, shared with the whole team."""

    __tablename__ = "roster_view"

    brand_id: Mapped[UUID] = mapped_column(sa.ForeignKey("brand.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(sa.String(80))
    query: Mapped[str] = mapped_column(sa.String(2000))
    created_by_id: Mapped[UUID | None] = mapped_column(sa.ForeignKey("user_account.id", ondelete="SET NULL"),
                                                       default=None)

    __table_args__ = (sa.UniqueConstraint("brand_id", "name", name="uq_roster_view_brand_name"),)


class RosterImport(AuditBase):
    """An uploaded CSV between its steps (map columns, dry run, import), and what the import did."""

    __tablename__ = "roster_import"

    brand_id: Mapped[UUID] = mapped_column(sa.ForeignKey("brand.id", ondelete="CASCADE"), index=True)
    created_by_id: Mapped[UUID | None] = mapped_column(sa.ForeignKey("user_account.id", ondelete="SET NULL"),
                                                       default=None)
    filename: Mapped[str] = mapped_column(sa.String(200), default="")
    content: Mapped[str] = mapped_column(sa.Text)
    #: CSV header -> roster field (or "" to skip the column).
    mapping: Mapped[dict[str, Any]] = mapped_column(sa.JSON, default=dict)
    #: The last dry run's or import's report (counts and per-row errors).
    report: Mapped[dict[str, Any]] = mapped_column(sa.JSON, default=dict)
    #: Optional gig the claim invitations point at.
    gig_id: Mapped[UUID | None] = mapped_column(sa.ForeignKey("gig.id", ondelete="SET NULL"), default=None)
    imported_at: Mapped[datetime | None] = mapped_column(DateTimeUTC(timezone=True), default=None)


class RosterImportMapping(AuditBase):
    """The brand's saved column mapping, reused when the next file has the same headers."""

    __tablename__ = "roster_import_mapping"

    brand_id: Mapped[UUID] = mapped_column(sa.ForeignKey("brand.id", ondelete="CASCADE"), unique=True)
    mapping: Mapped[dict[str, Any]] = mapped_column(sa.JSON, default=dict)
