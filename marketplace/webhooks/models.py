"""Endpoints people register, the events recorded for them, and each delivery with its attempts (the log)."""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Any
from uuid import UUID

import sqlalchemy as sa
from advanced_alchemy.types import DateTimeUTC
from sqlalchemy.orm import Mapped, mapped_column

from marketplace.db import AuditBase, enum_column


class DeliveryStatus(enum.StrEnum):
    #: Waiting for its next attempt (``next_attempt_at``); also while an attempt is under way.
    PENDING = "pending"
    #: The endpoint answered 2xx: never sent again unless someone replays it.
    DELIVERED = "delivered"
    #: No 2xx within the retry window (3 days): kept in the log, can be replayed.
    FAILED = "failed"


class OutgoingEndpoint(AuditBase):
    """Where a brand (or a creator) wants events sent. The signing secret is a Fernet token (``stores.vault``)."""

    __tablename__ = "hook_endpoint"
    __table_args__ = (
        sa.CheckConstraint("(brand_id IS NULL) <> (creator_id IS NULL)", name="one_owner"),
    )

    brand_id: Mapped[UUID | None] = mapped_column(sa.ForeignKey("brand.id", ondelete="CASCADE"), index=True,
                                                  default=None)
    creator_id: Mapped[UUID | None] = mapped_column(sa.ForeignKey("creator.id", ondelete="CASCADE"), index=True,
                                                    default=None)
    url: Mapped[str] = mapped_column(sa.String(2000))
    description: Mapped[str] = mapped_column(sa.String(200), default="")
    #: Event kinds to send; empty means every kind.
    events: Mapped[list[str]] = mapped_column(sa.JSON, default=list)
    secret_enc: Mapped[str] = mapped_column(sa.Text)
    #: The last 4 characters of the secret (the only part shown again).
    secret_hint: Mapped[str] = mapped_column(sa.String(8), default="")
    active: Mapped[bool] = mapped_column(default=True)

    def wants(self, kind: str) -> bool:
        return self.active and (not self.events or kind in self.events)


class OutgoingEvent(AuditBase):
    """Something that happened, once, with the parties it concerns; ``source_key`` makes recording idempotent."""

    __tablename__ = "hook_event"

    kind: Mapped[str] = mapped_column(sa.String(60))
    source_key: Mapped[str] = mapped_column(sa.String(200), unique=True)
    occurred_at: Mapped[datetime] = mapped_column(DateTimeUTC(timezone=True), index=True)
    brand_id: Mapped[UUID | None] = mapped_column(sa.ForeignKey("brand.id", ondelete="CASCADE"), default=None)
    creator_id: Mapped[UUID | None] = mapped_column(sa.ForeignKey("creator.id", ondelete="CASCADE"), default=None)
    collaboration_id: Mapped[UUID | None] = mapped_column(default=None)
    data: Mapped[dict[str, Any]] = mapped_column(sa.JSON, default=dict)


class OutgoingDelivery(AuditBase):
    """One event to one endpoint. Unique per pair, so an event is never queued twice for the same endpoint."""

    __tablename__ = "hook_delivery"
    __table_args__ = (
        sa.UniqueConstraint("endpoint_id", "event_id", name="uq_hook_delivery_endpoint_event"),
        sa.Index("ix_hook_delivery_due", "status", "next_attempt_at"),
    )

    endpoint_id: Mapped[UUID] = mapped_column(sa.ForeignKey("hook_endpoint.id", ondelete="CASCADE"), index=True)
    event_id: Mapped[UUID] = mapped_column(sa.ForeignKey("hook_event.id", ondelete="CASCADE"), index=True)
    status: Mapped[DeliveryStatus] = mapped_column(enum_column(DeliveryStatus, 16), default=DeliveryStatus.PENDING)
    attempts: Mapped[int] = mapped_column(default=0)
    #: When the next attempt is due; an attempt under way pushes it out by a lease, so no one else sends it.
    next_attempt_at: Mapped[datetime | None] = mapped_column(DateTimeUTC(timezone=True), default=None)
    #: The retry window ends here (3 days after the event was queued, or after a replay).
    give_up_at: Mapped[datetime] = mapped_column(DateTimeUTC(timezone=True))
    last_status_code: Mapped[int | None] = mapped_column(default=None)
    last_error: Mapped[str] = mapped_column(sa.String(500), default="")
    delivered_at: Mapped[datetime | None] = mapped_column(DateTimeUTC(timezone=True), default=None)


class OutgoingAttempt(AuditBase):
    """One HTTP attempt of a delivery: what the endpoint answered (or why it could not be reached)."""

    __tablename__ = "hook_attempt"

    delivery_id: Mapped[UUID] = mapped_column(sa.ForeignKey("hook_delivery.id", ondelete="CASCADE"), index=True)
    attempted_at: Mapped[datetime] = mapped_column(DateTimeUTC(timezone=True))
    status_code: Mapped[int | None] = mapped_column(default=None)
    error: Mapped[str] = mapped_column(sa.String(500), default="")
    duration_ms: Mapped[int] = mapped_column(default=0)
    #: Set when a person asked for this attempt (replay, test), not the schedule.
    manual: Mapped[bool] = mapped_column(default=False)
