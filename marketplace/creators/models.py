"""Creators: profiles, linked social accounts, rate cards, niches and the shipping address brands may see."""

from __future__ import annotations

import enum
from typing import Any
from uuid import UUID

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from marketplace.db import AuditBase, enum_column


class Platform(enum.StrEnum):
    TIKTOK = "tiktok"
    INSTAGRAM = "instagram"
    YOUTUBE = "youtube"


class ContentKind(enum.StrEnum):
    VIDEO = "video"
    POST = "post"
    STORY = "story"


class Creator(AuditBase):
    __tablename__ = "creator"

    user_id: Mapped[UUID] = mapped_column(sa.ForeignKey("user_account.id", ondelete="CASCADE"), unique=True)
    display_name: Mapped[str] = mapped_column(sa.String(120))
    bio: Mapped[str] = mapped_column(sa.Text, default="")
    country: Mapped[str | None] = mapped_column(sa.String(2), default=None, index=True)
    #: ISO 639-1 codes, for display and simple filtering.
    languages: Mapped[list[Any]] = mapped_column(sa.JSON, default=list)
    #: Denormalised from social accounts so the directory can sort and filter without a join per row.
    total_followers: Mapped[int] = mapped_column(sa.BigInteger, default=0, index=True)
    #: Best engagement rate over the creator's accounts, in basis points (3.45% → 345).
    best_engagement_bps: Mapped[int] = mapped_column(default=0)
    #: The profile photo in upload storage (marketplace.media), resized; None shows initials.
    photo_key: Mapped[str | None] = mapped_column(sa.String(300), default=None)


class CreatorNiche(AuditBase):
    """Niche tags live in their own rows so "creators in skincare" is an indexed lookup on both databases."""

    __tablename__ = "creator_niche"

    creator_id: Mapped[UUID] = mapped_column(sa.ForeignKey("creator.id", ondelete="CASCADE"))
    niche: Mapped[str] = mapped_column(sa.String(40))

    __table_args__ = (
        sa.UniqueConstraint("creator_id", "niche"),
        sa.Index("ix_creator_niche_niche", "niche", "creator_id"),
    )


class SocialAccount(AuditBase):
    __tablename__ = "social_account"

    creator_id: Mapped[UUID] = mapped_column(sa.ForeignKey("creator.id", ondelete="CASCADE"), index=True)
    platform: Mapped[Platform] = mapped_column(enum_column(Platform, 16))
    #: Lower-case, without the leading "@"; verification compares the post's author against it.
    handle: Mapped[str] = mapped_column(sa.String(100))
    profile_url: Mapped[str] = mapped_column(sa.String(2000))
    followers: Mapped[int] = mapped_column(sa.BigInteger, default=0)
    average_views: Mapped[int] = mapped_column(sa.BigInteger, default=0)
    #: Engagement rate in basis points (3.45% → 345): exact, comparable, never a float.
    engagement_bps: Mapped[int] = mapped_column(default=0)

    __table_args__ = (
        # One handle belongs to one creator: a second claim of the same account is refused.
        sa.UniqueConstraint("platform", "handle"),
        sa.Index("ix_social_account_platform_followers", "platform", "followers"),
    )


class RateCardEntry(AuditBase):
    """What a creator usually charges for one deliverable of a kind on a platform."""

    __tablename__ = "rate_card_entry"

    creator_id: Mapped[UUID] = mapped_column(sa.ForeignKey("creator.id", ondelete="CASCADE"), index=True)
    platform: Mapped[Platform] = mapped_column(enum_column(Platform, 16))
    kind: Mapped[ContentKind] = mapped_column(enum_column(ContentKind, 16))
    base_fee_amount: Mapped[int] = mapped_column(sa.BigInteger)
    currency: Mapped[str] = mapped_column(sa.String(3))

    __table_args__ = (
        sa.UniqueConstraint("creator_id", "platform", "kind", "currency"),
        sa.CheckConstraint("base_fee_amount >= 0", name="rate_fee_not_negative"),
    )


class ShippingAddress(AuditBase):
    """Seen by a brand only for its own accepted product collaborations (and by the creator)."""

    __tablename__ = "shipping_address"

    creator_id: Mapped[UUID] = mapped_column(sa.ForeignKey("creator.id", ondelete="CASCADE"), unique=True)
    recipient_name: Mapped[str] = mapped_column(sa.String(120))
    line1: Mapped[str] = mapped_column(sa.String(200))
    line2: Mapped[str] = mapped_column(sa.String(200), default="")
    city: Mapped[str] = mapped_column(sa.String(100))
    region: Mapped[str] = mapped_column(sa.String(100), default="")
    postal_code: Mapped[str] = mapped_column(sa.String(20))
    country: Mapped[str] = mapped_column(sa.String(2))
    phone: Mapped[str] = mapped_column(sa.String(40), default="")
    #: ``marketplace.creators.addresses.address_key``: accounts receiving products at one door share it.
    address_key: Mapped[str] = mapped_column(sa.String(64), index=True, default="")
