"""Who can sign in: users, their API tokens and password-reset requests."""

from __future__ import annotations

import enum
from datetime import datetime
from uuid import UUID

import sqlalchemy as sa
from advanced_alchemy.types import DateTimeUTC
from sqlalchemy.orm import Mapped, mapped_column

from marketplace.db import AuditBase, enum_column


class UserKind(enum.StrEnum):
    BRAND = "brand"
    CREATOR = "creator"
    ADMIN = "admin"


class User(AuditBase):
    __tablename__ = "user_account"

    #: Stored normalised (trimmed, lower-case), so the unique index makes addresses unique in any case.
    email: Mapped[str] = mapped_column(sa.String(320), unique=True)
    password_hash: Mapped[str] = mapped_column(sa.String(255))
    kind: Mapped[UserKind] = mapped_column(enum_column(UserKind, 16), index=True)
    full_name: Mapped[str] = mapped_column(sa.String(120), default="")
    is_active: Mapped[bool] = mapped_column(default=True)
    suspended_at: Mapped[datetime | None] = mapped_column(DateTimeUTC(timezone=True), default=None)
    suspended_reason: Mapped[str | None] = mapped_column(sa.String(500), default=None)
    last_sign_in_at: Mapped[datetime | None] = mapped_column(DateTimeUTC(timezone=True), default=None)
    #: "en" or "zh_Hans" (marketplace.i18n.LANGUAGES); None follows the browser's Accept-Language.
    locale: Mapped[str | None] = mapped_column(sa.String(16), default=None)
    #: IANA zone every time is shown in; guessed from the browser at sign-up, editable in the account settings.
    timezone: Mapped[str] = mapped_column(sa.String(64), default="UTC", server_default="UTC")

    __table_args__ = (sa.CheckConstraint("email = lower(email)", name="email_lower"),)

    @property
    def is_suspended(self) -> bool:
        return self.suspended_at is not None


class ApiToken(AuditBase):
    __tablename__ = "api_token"

    user_id: Mapped[UUID] = mapped_column(sa.ForeignKey("user_account.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(sa.String(80))
    #: Only a digest is kept; the token itself is shown once.
    token_digest: Mapped[str] = mapped_column(sa.String(64), unique=True)
    token_prefix: Mapped[str] = mapped_column(sa.String(12))
    last_used_at: Mapped[datetime | None] = mapped_column(DateTimeUTC(timezone=True), default=None)
    revoked_at: Mapped[datetime | None] = mapped_column(DateTimeUTC(timezone=True), default=None)


class PasswordReset(AuditBase):
    """One emailed reset link; the link is signed and expiring, this row makes it single-use."""

    __tablename__ = "password_reset"

    user_id: Mapped[UUID] = mapped_column(sa.ForeignKey("user_account.id", ondelete="CASCADE"), index=True)
    expires_at: Mapped[datetime] = mapped_column(DateTimeUTC(timezone=True))
    used_at: Mapped[datetime | None] = mapped_column(DateTimeUTC(timezone=True), default=None)
    requested_ip: Mapped[str | None] = mapped_column(sa.String(64), default=None)
