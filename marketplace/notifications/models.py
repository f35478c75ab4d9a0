"""Notifications and email: the outbox every email passes through, in-app notifications, email preferences."""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Any
from uuid import UUID

import sqlalchemy as sa
from advanced_alchemy.types import DateTimeUTC
from sqlalchemy.orm import Mapped, mapped_column

from marketplace.db import AuditBase, enum_column


class EmailStatus(enum.StrEnum):
    QUEUED = "queued"
    SENT = "sent"
    #: No SMTP server configured: the outbox is the destination (development, demo).
    STORED = "stored"
    FAILED = "failed"


class OutboxEmail(AuditBase):
    """An email on its way. Either written when queued (``subject``/``body_text``), or — a notice told to hundreds of
    people by one step — queued as ``template`` + ``context`` for the account ``user_id`` and written at delivery
    (``marketplace.notifications.mail.write_pending``) in the recipient's language and zone; ``subject`` and
    ``body_text`` are empty until then."""

    __tablename__ = "outbox_email"

    to_address: Mapped[str] = mapped_column(sa.String(320), index=True)
    subject: Mapped[str] = mapped_column(sa.String(300))
    body_text: Mapped[str] = mapped_column(sa.Text)
    #: Set while the email is still to be written: ``templates/email/<template>.txt``, its parameters as JSON
    #: (messages as message id + parameters, see ``mail.stored``), and the recipient's account.
    template: Mapped[str | None] = mapped_column(sa.String(60), default=None)
    context: Mapped[dict[str, Any] | None] = mapped_column(sa.JSON, default=None)
    user_id: Mapped[UUID | None] = mapped_column(default=None)
    category: Mapped[str] = mapped_column(sa.String(60), default="general", index=True)
    status: Mapped[EmailStatus] = mapped_column(enum_column(EmailStatus, 16), default=EmailStatus.QUEUED)
    attempts: Mapped[int] = mapped_column(default=0)
    sent_at: Mapped[datetime | None] = mapped_column(DateTimeUTC(timezone=True), default=None)
    last_error: Mapped[str | None] = mapped_column(sa.String(1000), default=None)


class Notification(AuditBase):
    """An in-app notification; ``link`` is where it takes the reader."""

    __tablename__ = "notification"

    user_id: Mapped[UUID] = mapped_column(sa.ForeignKey("user_account.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(sa.String(60))
    title: Mapped[str] = mapped_column(sa.String(200))
    body: Mapped[str] = mapped_column(sa.Text, default="")
    link: Mapped[str | None] = mapped_column(sa.String(500), default=None)
    read_at: Mapped[datetime | None] = mapped_column(DateTimeUTC(timezone=True), default=None)

    __table_args__ = (
        sa.Index("ix_notification_user_unread", "user_id", "read_at", "created_at"),
        # The list is newest first by id (UUIDv7 ids sort by creation time), paginated by keyset.
        sa.Index("ix_notification_user_recent", "user_id", "id"),
    )


class NotificationPreference(AuditBase):
    """Whether a user wants email for one group of notification kinds; no row means yes."""

    __tablename__ = "notification_preference"

    user_id: Mapped[UUID] = mapped_column(sa.ForeignKey("user_account.id", ondelete="CASCADE"))
    #: A key of notifications.services.EMAIL_GROUPS ("applications", "deals", "payments", "messages", ...).
    kind_group: Mapped[str] = mapped_column(sa.String(32))
    email: Mapped[bool] = mapped_column(default=True)

    __table_args__ = (sa.UniqueConstraint("user_id", "kind_group"),)
