"""A bulk job and its items: what was asked, and for each item whether it is done, failed (and why) or pending."""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Any
from uuid import UUID

import sqlalchemy as sa
from advanced_alchemy.types import DateTimeUTC
from sqlalchemy.orm import Mapped, mapped_column

from marketplace.db import AuditBase, enum_column


class JobState(enum.StrEnum):
    QUEUED = "queued"
    RUNNING = "running"
    FINISHED = "finished"


class ItemState(enum.StrEnum):
    PENDING = "pending"
    DONE = "done"
    FAILED = "failed"


class BulkJob(AuditBase):
    """One bulk action a brand started: the counters are kept in the same transaction as each item's change."""

    __tablename__ = "bulk_job"

    brand_id: Mapped[UUID] = mapped_column(sa.ForeignKey("brand.id", ondelete="CASCADE"))
    created_by_id: Mapped[UUID | None] = mapped_column(sa.ForeignKey("user_account.id", ondelete="SET NULL"))
    action: Mapped[str] = mapped_column(sa.String(32))
    #: The action's checked parameters (message template, reason, days...), as the brand gave them.
    parameters: Mapped[dict[str, Any]] = mapped_column(sa.JSON, default=dict)
    state: Mapped[JobState] = mapped_column(enum_column(JobState, 16), default=JobState.QUEUED)
    total: Mapped[int] = mapped_column(default=0)
    done: Mapped[int] = mapped_column(default=0)
    failed: Mapped[int] = mapped_column(default=0)
    started_at: Mapped[datetime | None] = mapped_column(DateTimeUTC(timezone=True), default=None)
    finished_at: Mapped[datetime | None] = mapped_column(DateTimeUTC(timezone=True), default=None)

    __table_args__ = (sa.Index("ix_bulk_job_brand_created", "brand_id", "created_at"),)


class BulkJobItem(AuditBase):
    """One deal, application or creator of a job. An item leaves ``pending`` once, in the transaction that did its
    work, so a re-run job (a crash, a redelivered task, "retry failed") never does it twice."""

    __tablename__ = "bulk_job_item"

    job_id: Mapped[UUID] = mapped_column(sa.ForeignKey("bulk_job.id", ondelete="CASCADE"))
    position: Mapped[int] = mapped_column()
    #: The deal, application or creator acted on; None for a CSV row that named nothing we know.
    target_id: Mapped[UUID | None] = mapped_column(default=None)
    #: How people recognise the item on the progress page ("Ava Brooks", "row 7").
    label: Mapped[str] = mapped_column(sa.String(200), default="")
    #: Per-item inputs (a CSV row's carrier and tracking number).
    data: Mapped[dict[str, Any]] = mapped_column(sa.JSON, default=dict)
    state: Mapped[ItemState] = mapped_column(enum_column(ItemState, 16), default=ItemState.PENDING)
    #: Why it failed, in plain words.
    error: Mapped[str | None] = mapped_column(sa.Text, default=None)
    attempts: Mapped[int] = mapped_column(default=0)
    finished_at: Mapped[datetime | None] = mapped_column(DateTimeUTC(timezone=True), default=None)

    # No index holds the state (migration 0037): each item changes it once, and with room left on every page
    # (fillfactor 50 on PostgreSQL) that update touches no index. (job_id, position) serves a job's reads.
    __table_args__ = (sa.UniqueConstraint("job_id", "position"),)
