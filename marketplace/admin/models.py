"""The admin audit log: who did what to whom, when, with the state before and after. Append-only."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

import sqlalchemy as sa
from advanced_alchemy.types import DateTimeUTC
from sqlalchemy.orm import Mapped, mapped_column

from marketplace.db import Base


class AdminAuditEntry(Base):
    """One admin action. The database refuses UPDATE and DELETE on this table (triggers on PostgreSQL and
    SQLite, migration 0010), so not even the application can rewrite history. No foreign keys: an entry must
    outlive whatever it names, and a cascading change would be an update."""

    __tablename__ = "admin_audit_log"

    at: Mapped[datetime] = mapped_column(DateTimeUTC(timezone=True))
    #: None for PostPact's own actions recorded here (chargeback cases opened by the system).
    admin_id: Mapped[UUID | None] = mapped_column(default=None)
    admin_email: Mapped[str] = mapped_column(sa.String(320))
    #: area.verb, e.g. dispute.decide, user.suspend, brand.verify.
    action: Mapped[str] = mapped_column(sa.String(48))
    target_type: Mapped[str] = mapped_column(sa.String(32))
    target_id: Mapped[str] = mapped_column(sa.String(64))
    summary: Mapped[str] = mapped_column(sa.String(500))
    before: Mapped[dict[str, Any]] = mapped_column(sa.JSON, default=dict)
    after: Mapped[dict[str, Any]] = mapped_column(sa.JSON, default=dict)
    ip: Mapped[str | None] = mapped_column(sa.String(64), default=None)

    __table_args__ = (
        sa.Index("ix_admin_audit_log_at", "at"),
        sa.Index("ix_admin_audit_log_target", "target_type", "target_id"),
        sa.Index("ix_admin_audit_log_action", "action", "at"),
    )
