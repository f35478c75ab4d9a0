"""Brand organisations, their team members and invitations, and their private notes on creators."""

from __future__ import annotations

import enum
from datetime import datetime
from uuid import UUID

import sqlalchemy as sa
from advanced_alchemy.types import DateTimeUTC
from sqlalchemy.orm import Mapped, mapped_column

from marketplace.db import AuditBase, enum_column


class BrandRole(enum.StrEnum):
    #: Manages the team and everything else.
    OWNER = "owner"
    #: Runs gigs, applications and collaborations.
    MANAGER = "manager"
    #: Funds escrow, sees statements and money pages.
    FINANCE = "finance"


class Brand(AuditBase):
    __tablename__ = "brand"

    name: Mapped[str] = mapped_column(sa.String(120))
    website: Mapped[str | None] = mapped_column(sa.String(2000), default=None)
    country: Mapped[str | None] = mapped_column(sa.String(2), default=None)
    description: Mapped[str] = mapped_column(sa.Text, default="")
    #: Set by an admin after checking the business is real (shown to creators as "verified brand").
    verified_at: Mapped[datetime | None] = mapped_column(DateTimeUTC(timezone=True), default=None)
    #: The logo in upload storage (marketplace.media), resized.
    logo_key: Mapped[str | None] = mapped_column(sa.String(300), default=None)


class BrandMember(AuditBase):
    """A user works for exactly one brand, with one role."""

    __tablename__ = "brand_member"

    brand_id: Mapped[UUID] = mapped_column(sa.ForeignKey("brand.id", ondelete="CASCADE"), index=True)
    user_id: Mapped[UUID] = mapped_column(sa.ForeignKey("user_account.id", ondelete="CASCADE"), unique=True)
    role: Mapped[BrandRole] = mapped_column(enum_column(BrandRole, 16))


class BrandInvitation(AuditBase):
    """An emailed, signed, expiring invitation to join a brand's team; the row makes it single-use."""

    __tablename__ = "brand_invitation"

    brand_id: Mapped[UUID] = mapped_column(sa.ForeignKey("brand.id", ondelete="CASCADE"), index=True)
    email: Mapped[str] = mapped_column(sa.String(320), index=True)
    role: Mapped[BrandRole] = mapped_column(enum_column(BrandRole, 16))
    invited_by_id: Mapped[UUID | None] = mapped_column(sa.ForeignKey("user_account.id", ondelete="SET NULL"))
    expires_at: Mapped[datetime] = mapped_column(DateTimeUTC(timezone=True))
    accepted_at: Mapped[datetime | None] = mapped_column(DateTimeUTC(timezone=True), default=None)
    accepted_user_id: Mapped[UUID | None] = mapped_column(
        sa.ForeignKey("user_account.id", ondelete="SET NULL"), default=None
    )
    revoked_at: Mapped[datetime | None] = mapped_column(DateTimeUTC(timezone=True), default=None)


class CreatorNote(AuditBase):
    """A brand's private note about a creator (roster CRM): never shown to the creator or other brands."""

    __tablename__ = "creator_note"

    brand_id: Mapped[UUID] = mapped_column(sa.ForeignKey("brand.id", ondelete="CASCADE"))
    creator_id: Mapped[UUID] = mapped_column(sa.ForeignKey("creator.id", ondelete="CASCADE"))
    author_id: Mapped[UUID | None] = mapped_column(sa.ForeignKey("user_account.id", ondelete="SET NULL"))
    body: Mapped[str] = mapped_column(sa.Text)

    __table_args__ = (sa.Index("ix_creator_note_brand_creator", "brand_id", "creator_id"),)
