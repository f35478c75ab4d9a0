"""Threads and immutable messages (they are dispute evidence), with per-reader unread tracking."""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

import sqlalchemy as sa
from advanced_alchemy.types import DateTimeUTC
from sqlalchemy.orm import Mapped, mapped_column

from marketplace.db import AuditBase, Base


class Thread(AuditBase):
    """One conversation: about an application, or about a collaboration (never both)."""

    __tablename__ = "message_thread"

    application_id: Mapped[UUID | None] = mapped_column(
        sa.ForeignKey("application.id", ondelete="CASCADE"), unique=True, default=None
    )
    collaboration_id: Mapped[UUID | None] = mapped_column(
        sa.ForeignKey("collaboration.id", ondelete="CASCADE"), unique=True, default=None
    )
    #: The two sides, denormalised so every read is scoped by an indexed column.
    brand_id: Mapped[UUID] = mapped_column(sa.ForeignKey("brand.id", ondelete="CASCADE"), index=True)
    creator_id: Mapped[UUID] = mapped_column(sa.ForeignKey("creator.id", ondelete="CASCADE"), index=True)
    last_message_at: Mapped[datetime | None] = mapped_column(DateTimeUTC(timezone=True), default=None)
    message_count: Mapped[int] = mapped_column(default=0)

    __table_args__ = (
        sa.CheckConstraint("(application_id IS NULL) <> (collaboration_id IS NULL)", name="exactly_one_subject"),
        # The inbox lists a side's threads newest first with keyset pagination; the digest job scans recent ones.
        sa.Index("ix_message_thread_brand_recent", "brand_id", "last_message_at", "id"),
        sa.Index("ix_message_thread_creator_recent", "creator_id", "last_message_at", "id"),
        sa.Index("ix_message_thread_last_message_at", "last_message_at"),
    )


class Message(Base):
    """Never edited or deleted once written: the application has no path that does, and on both databases a
    trigger (migration 0005) refuses UPDATE and DELETE, except clearing ``sender_user_id`` when a user is erased."""

    __tablename__ = "message"

    thread_id: Mapped[UUID] = mapped_column(sa.ForeignKey("message_thread.id", ondelete="CASCADE"))
    seq: Mapped[int] = mapped_column()
    sender_user_id: Mapped[UUID | None] = mapped_column(sa.ForeignKey("user_account.id", ondelete="SET NULL"))
    #: brand, creator, admin or system.
    sender_party: Mapped[str] = mapped_column(sa.String(16))
    body: Mapped[str] = mapped_column(sa.Text)
    created_at: Mapped[datetime] = mapped_column(DateTimeUTC(timezone=True))

    __table_args__ = (sa.UniqueConstraint("thread_id", "seq"),)


class ThreadReadState(AuditBase):
    """How far one user has read a thread, and when they were last emailed about it (for batching)."""

    __tablename__ = "message_thread_read"

    thread_id: Mapped[UUID] = mapped_column(sa.ForeignKey("message_thread.id", ondelete="CASCADE"))
    user_id: Mapped[UUID] = mapped_column(sa.ForeignKey("user_account.id", ondelete="CASCADE"), index=True)
    last_read_seq: Mapped[int] = mapped_column(default=0)
    last_emailed_seq: Mapped[int] = mapped_column(default=0)
    last_emailed_at: Mapped[datetime | None] = mapped_column(DateTimeUTC(timezone=True), default=None)

    __table_args__ = (sa.UniqueConstraint("thread_id", "user_id"),)
