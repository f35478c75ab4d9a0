"""Applications: one per creator per gig."""

from __future__ import annotations

import enum
from datetime import datetime
from uuid import UUID

import sqlalchemy as sa
from advanced_alchemy.types import DateTimeUTC
from sqlalchemy.orm import Mapped, mapped_column

from marketplace.db import AuditBase, enum_column


class ApplicationStatus(enum.StrEnum):
    PENDING = "pending"
    ACCEPTED = "accepted"
    DECLINED = "declined"
    WITHDRAWN = "withdrawn"


class Application(AuditBase):
    __tablename__ = "application"

    gig_id: Mapped[UUID] = mapped_column(sa.ForeignKey("gig.id", ondelete="CASCADE"))
    creator_id: Mapped[UUID] = mapped_column(sa.ForeignKey("creator.id", ondelete="CASCADE"), index=True)
    #: Denormalised from the gig so every brand-side query scopes by one indexed column.
    brand_id: Mapped[UUID] = mapped_column(sa.ForeignKey("brand.id", ondelete="CASCADE"), index=True)
    social_account_id: Mapped[UUID] = mapped_column(sa.ForeignKey("social_account.id", ondelete="RESTRICT"))
    pitch: Mapped[str] = mapped_column(sa.Text)
    #: The creator's counter-offer for the base fee, in the gig's currency; None accepts the gig's fee.
    counter_offer_amount: Mapped[int | None] = mapped_column(sa.BigInteger, default=None)
    status: Mapped[ApplicationStatus] = mapped_column(
        enum_column(ApplicationStatus, 16), default=ApplicationStatus.PENDING
    )
    decided_at: Mapped[datetime | None] = mapped_column(DateTimeUTC(timezone=True), default=None)
    decided_by_id: Mapped[UUID | None] = mapped_column(
        sa.ForeignKey("user_account.id", ondelete="SET NULL"), default=None
    )
    decline_reason: Mapped[str | None] = mapped_column(sa.String(500), default=None)

    __table_args__ = (
        sa.UniqueConstraint("gig_id", "creator_id", name="uq_application_one_per_creator"),
        sa.Index("ix_application_gig_status", "gig_id", "status"),
        sa.CheckConstraint("counter_offer_amount IS NULL OR counter_offer_amount >= 0", name="counter_not_negative"),
    )
