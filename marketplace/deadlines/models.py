"""What the deadline sweeper keeps: when to look at each collaboration next, reminders and notices already sent."""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

import sqlalchemy as sa
from advanced_alchemy.types import DateTimeUTC
from sqlalchemy.orm import Mapped, mapped_column

from marketplace.db import AuditBase, Base


class DeadlineWatch(Base):
    """One row per collaboration: the earliest time the sweeper must look at it again (None: nothing pending).

    Kept in step with the collaboration by mapper events (``marketplace.deadlines.watch``, installed at start-up)
    and moved on by the sweeper itself, so each sweep reads only the rows that are due through
    ``ix_deadline_watch_check_at``.
    """

    __tablename__ = "deadline_watch"

    collaboration_id: Mapped[UUID] = mapped_column(sa.ForeignKey("collaboration.id", ondelete="CASCADE"), unique=True)
    check_at: Mapped[datetime | None] = mapped_column(DateTimeUTC(timezone=True), default=None)

    __table_args__ = (sa.Index("ix_deadline_watch_check_at", "check_at"),)


class DeadlineReminder(AuditBase):
    """A follow-up sent to whoever must act on a stage; the unique constraint makes every reminder go out once."""

    __tablename__ = "deadline_reminder"

    collaboration_id: Mapped[UUID] = mapped_column(sa.ForeignKey("collaboration.id", ondelete="CASCADE"))
    stage: Mapped[str] = mapped_column(sa.String(16))
    due_at: Mapped[datetime] = mapped_column(DateTimeUTC(timezone=True))
    #: Hours relative to the due time: negative before it, positive once overdue.
    offset_hours: Mapped[int] = mapped_column()
    party: Mapped[str] = mapped_column(sa.String(16))
    sent_at: Mapped[datetime] = mapped_column(DateTimeUTC(timezone=True))

    __table_args__ = (
        sa.UniqueConstraint("collaboration_id", "stage", "due_at", "offset_hours", name="uq_deadline_reminder_once"),
    )


class DeadlineNotice(AuditBase):
    """A one-off consequence announced for a due time (e.g. the brand did not ship): sent once per due time."""

    __tablename__ = "deadline_notice"

    collaboration_id: Mapped[UUID] = mapped_column(sa.ForeignKey("collaboration.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(sa.String(32))
    due_at: Mapped[datetime] = mapped_column(DateTimeUTC(timezone=True))
    sent_at: Mapped[datetime] = mapped_column(DateTimeUTC(timezone=True))

    __table_args__ = (sa.UniqueConstraint("collaboration_id", "kind", "due_at", name="uq_deadline_notice_once"),)

