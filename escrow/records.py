"""What the provider told us and what we found when we checked: stored webhook events and reconciliation runs."""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Any
from uuid import UUID

import sqlalchemy as sa
from advanced_alchemy.base import UUIDv7AuditBase as AuditBase
from advanced_alchemy.types import DateTimeUTC
from sqlalchemy.orm import Mapped, mapped_column


class WebhookEvent(AuditBase):
    """One provider event, stored when it arrives (verified) and marked processed once applied.

    The unique (provider, event_id) makes a duplicate delivery a no-op: it is stored in the same transaction that
    queues its processing, so either both happen or neither does.
    """

    __tablename__ = "webhook_event"

    provider: Mapped[str] = mapped_column(sa.String(16))
    event_id: Mapped[str] = mapped_column(sa.String(255))
    type: Mapped[str] = mapped_column(sa.String(100))
    #: The id of the object the event is about (pi_..., ch_..., dp_..., acct_...).
    object_id: Mapped[str | None] = mapped_column(sa.String(255), default=None, index=True)
    #: The connected account for Connect events (account.updated...).
    account: Mapped[str | None] = mapped_column(sa.String(255), default=None)
    #: The provider's own time of the event (seconds since the epoch); deliveries may arrive out of order.
    provider_created: Mapped[int] = mapped_column(sa.BigInteger, default=0)
    payload: Mapped[dict[str, Any]] = mapped_column(sa.JSON)
    received_at: Mapped[datetime] = mapped_column(DateTimeUTC(timezone=True))
    processed_at: Mapped[datetime | None] = mapped_column(DateTimeUTC(timezone=True), default=None)
    attempts: Mapped[int] = mapped_column(default=0)
    last_error: Mapped[str | None] = mapped_column(sa.String(1000), default=None)
    #: What processing did, for people reading the log ("funding succeeded", "ignored: unknown type").
    outcome: Mapped[str | None] = mapped_column(sa.String(300), default=None)

    __table_args__ = (
        sa.UniqueConstraint("provider", "event_id", name="uq_webhook_event_provider_event_id"),
        # The redelivery sweep reads unprocessed events oldest first.
        sa.Index("ix_webhook_event_unprocessed", "processed_at", "received_at"),
    )


class RunStatus(enum.StrEnum):
    RUNNING = "running"
    COMPLETED = "completed"
    FAILED = "failed"


class ReconciliationRun(AuditBase):
    """One comparison of the ledger with the provider, over some or all collaborations."""

    __tablename__ = "reconciliation_run"

    provider: Mapped[str] = mapped_column(sa.String(16))
    status: Mapped[str] = mapped_column(sa.String(16), default=RunStatus.RUNNING.value)
    #: "job", "command" or "admin:<email>".
    triggered_by: Mapped[str] = mapped_column(sa.String(120))
    started_at: Mapped[datetime] = mapped_column(DateTimeUTC(timezone=True), index=True)
    finished_at: Mapped[datetime | None] = mapped_column(DateTimeUTC(timezone=True), default=None)
    collaborations_checked: Mapped[int] = mapped_column(default=0)
    mismatch_count: Mapped[int] = mapped_column(default=0)
    #: Collaborations that couldn't be checked (the provider failed to answer); the run still finishes.
    errors: Mapped[int] = mapped_column(default=0)
    error: Mapped[str | None] = mapped_column(sa.String(1000), default=None)


class ReconciliationMismatch(AuditBase):
    """One difference between what the ledger says and what the provider says."""

    __tablename__ = "reconciliation_mismatch"

    run_id: Mapped[UUID] = mapped_column(sa.ForeignKey("reconciliation_run.id", ondelete="CASCADE"), index=True)
    collaboration_id: Mapped[UUID | None] = mapped_column(index=True, default=None)
    escrow_id: Mapped[UUID | None] = mapped_column(default=None)
    #: What disagrees (escrow.reconcile.MismatchKind).
    kind: Mapped[str] = mapped_column(sa.String(48))
    provider_ref: Mapped[str | None] = mapped_column(sa.String(255), default=None)
    currency: Mapped[str | None] = mapped_column(sa.String(3), default=None)
    expected: Mapped[dict[str, Any]] = mapped_column(sa.JSON, default=dict)
    actual: Mapped[dict[str, Any]] = mapped_column(sa.JSON, default=dict)
    detail: Mapped[str] = mapped_column(sa.String(1000))
