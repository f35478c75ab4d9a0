"""Connected social accounts (encrypted tokens, verified audience) and the engagement fetched after publishing."""

from __future__ import annotations

import enum
from datetime import datetime
from uuid import UUID

import sqlalchemy as sa
from advanced_alchemy.types import DateTimeUTC
from sqlalchemy.orm import Mapped, mapped_column

from marketplace.db import AuditBase


class ConnectionStatus(enum.StrEnum):
    ACTIVE = "active"
    #: The platform refused our tokens (revoked, expired past refreshing): only the creator can fix it.
    RECONNECT = "reconnect"


class SocialConnection(AuditBase):
    """A creator's account connected through the platform's OAuth; tokens are Fernet tokens, never shown again."""

    __tablename__ = "social_connection"

    creator_id: Mapped[UUID] = mapped_column(sa.ForeignKey("creator.id", ondelete="CASCADE"))
    platform: Mapped[str] = mapped_column(sa.String(16))
    #: The platform's id of the account (Instagram user id, TikTok open_id, YouTube channel id).
    external_id: Mapped[str] = mapped_column(sa.String(200))
    #: Lower-case, without "@": compared with the handle named in deals.
    handle: Mapped[str] = mapped_column(sa.String(100))
    status: Mapped[str] = mapped_column(sa.String(16), default=ConnectionStatus.ACTIVE.value)
    status_reason: Mapped[str] = mapped_column(sa.String(300), default="")
    access_token_enc: Mapped[str] = mapped_column(sa.Text)
    refresh_token_enc: Mapped[str | None] = mapped_column(sa.Text, default=None)
    token_expires_at: Mapped[datetime | None] = mapped_column(DateTimeUTC(timezone=True), default=None)
    scope: Mapped[str] = mapped_column(sa.String(500), default="")
    followers: Mapped[int | None] = mapped_column(sa.BigInteger, default=None)
    media_count: Mapped[int | None] = mapped_column(default=None)
    #: Mean (likes + comments + shares) / followers over the recent media, in basis points.
    engagement_bps: Mapped[int | None] = mapped_column(default=None)
    audience_fetched_at: Mapped[datetime | None] = mapped_column(DateTimeUTC(timezone=True), default=None)
    #: The oldest publish time seen among the account's recent media: real history when older than the PostPact
    #: account (a ranking prior for a newcomer, see ``social.ranking``).
    history_since: Mapped[datetime | None] = mapped_column(DateTimeUTC(timezone=True), default=None)

    __table_args__ = (
        sa.UniqueConstraint("creator_id", "platform", name="uq_social_connection_creator_platform"),
        # One platform account backs one creator: a second PostPact account can't borrow a verified audience.
        sa.UniqueConstraint("platform", "external_id", name="uq_social_connection_external"),
        sa.Index("ix_social_connection_audience", "status", "audience_fetched_at"),
    )

    @property
    def needs_reconnect(self) -> bool:
        return self.status == ConnectionStatus.RECONNECT.value


class MetricFetch(AuditBase):
    """One scheduled read of a post's engagement (1 h, 24 h, 72 h, 7 d after posting, daily during keep-live)."""

    __tablename__ = "social_metric_fetch"

    collaboration_id: Mapped[UUID] = mapped_column(sa.ForeignKey("collaboration.id", ondelete="CASCADE"))
    submission_id: Mapped[UUID] = mapped_column(sa.ForeignKey("post_submission.id", ondelete="CASCADE"))
    platform: Mapped[str] = mapped_column(sa.String(16))
    label: Mapped[str] = mapped_column(sa.String(24))
    due_at: Mapped[datetime] = mapped_column(DateTimeUTC(timezone=True))
    #: Set when the fetch was handed to the queue, so the scheduler hands it out once.
    queued_at: Mapped[datetime | None] = mapped_column(DateTimeUTC(timezone=True), default=None)
    done_at: Mapped[datetime | None] = mapped_column(DateTimeUTC(timezone=True), default=None)
    #: fetched, deleted, no_connection, reconnect, not_in_account, gave_up.
    outcome: Mapped[str] = mapped_column(sa.String(24), default="")
    attempts: Mapped[int] = mapped_column(default=0)

    __table_args__ = (
        sa.UniqueConstraint("submission_id", "label", name="uq_social_metric_fetch_label"),
        # The scheduler's one query: open fetches by due time.
        sa.Index("ix_social_metric_fetch_due", "due_at", sqlite_where=sa.text("done_at IS NULL"),
                 postgresql_where=sa.text("done_at IS NULL")),
    )


class PostMetric(AuditBase):
    """A post's counts at one moment, as the creator's connected account reported them."""

    __tablename__ = "social_post_metric"

    collaboration_id: Mapped[UUID] = mapped_column(sa.ForeignKey("collaboration.id", ondelete="CASCADE"))
    submission_id: Mapped[UUID] = mapped_column(sa.ForeignKey("post_submission.id", ondelete="CASCADE"))
    label: Mapped[str] = mapped_column(sa.String(24))
    taken_at: Mapped[datetime] = mapped_column(DateTimeUTC(timezone=True))
    views: Mapped[int | None] = mapped_column(sa.BigInteger, default=None)
    likes: Mapped[int | None] = mapped_column(sa.BigInteger, default=None)
    comments: Mapped[int | None] = mapped_column(sa.BigInteger, default=None)
    shares: Mapped[int | None] = mapped_column(sa.BigInteger, default=None)
    saves: Mapped[int | None] = mapped_column(sa.BigInteger, default=None)
    reach: Mapped[int | None] = mapped_column(sa.BigInteger, default=None)

    __table_args__ = (sa.Index("ix_social_post_metric_collaboration", "collaboration_id", "taken_at"),)
