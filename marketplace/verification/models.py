"""Evidence of post verification: one check per submitted post and purpose, and engagement counts over time."""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Any
from uuid import UUID

import sqlalchemy as sa
from advanced_alchemy.types import DateTimeUTC
from sqlalchemy.orm import Mapped, mapped_column

from marketplace.db import AuditBase


class CheckPurpose(enum.StrEnum):
    #: The post was just submitted: is it live, public, by the creator, disclosed, tagged?
    SUBMITTED = "submitted"
    #: Halfway through the keep-live period: is it still there?
    KEEP_LIVE_MIDPOINT = "keep_live_midpoint"
    #: At the end of the keep-live period: still there completes the deal.
    KEEP_LIVE_FINAL = "keep_live_final"
    #: During keep-live, when a metrics fetch found the post gone: confirm it and apply the keep-live rule (once).
    KEEP_LIVE_SPOT = "keep_live_spot"


class CheckState(enum.StrEnum):
    RUNNING = "running"
    VERIFIED = "verified"
    FAILED = "failed"
    NEEDS_REVIEW = "needs_review"
    #: The submission was replaced or the deal moved on before the check finished.
    SUPERSEDED = "superseded"

    @property
    def is_final(self) -> bool:
        return self is not CheckState.RUNNING


class PostCheck(AuditBase):
    """One verification of one submitted post, with the evidence snapshot both sides and admins can see."""

    __tablename__ = "post_check"

    collaboration_id: Mapped[UUID] = mapped_column(sa.ForeignKey("collaboration.id", ondelete="CASCADE"))
    submission_id: Mapped[UUID] = mapped_column(sa.ForeignKey("post_submission.id", ondelete="CASCADE"))
    purpose: Mapped[str] = mapped_column(sa.String(24))
    status: Mapped[str] = mapped_column(sa.String(16), default=CheckState.RUNNING.value)
    #: Fetches tried so far (transient failures are retried with backoff before the check is decided).
    attempts: Mapped[int] = mapped_column(default=0)
    platform: Mapped[str] = mapped_column(sa.String(16), default="")
    requested_url: Mapped[str] = mapped_column(sa.String(2000), default="")
    #: What the fetch returned: post, not_found, not_public, transient, malformed, provider_auth, invalid_link.
    outcome_kind: Mapped[str | None] = mapped_column(sa.String(24), default=None)
    summary: Mapped[str] = mapped_column(sa.Text, default="")
    #: Each named check: {"name", "status", "message", "required"}.
    checks: Mapped[list[Any]] = mapped_column(sa.JSON, default=list)
    http_status: Mapped[int | None] = mapped_column(default=None)
    #: The platform's answer as received (UTF-8, cut at 64 KiB) and the SHA-256 of the full bytes.
    payload_text: Mapped[str] = mapped_column(sa.Text, default="")
    payload_sha256: Mapped[str | None] = mapped_column(sa.String(64), default=None)
    #: SHA-256 of the checked fields (platform, id, author, caption): equal hashes mean the post was not edited.
    content_sha256: Mapped[str | None] = mapped_column(sa.String(64), default=None)
    author_handle: Mapped[str | None] = mapped_column(sa.String(100), default=None)
    caption: Mapped[str | None] = mapped_column(sa.Text, default=None)
    published_at: Mapped[datetime | None] = mapped_column(DateTimeUTC(timezone=True), default=None)
    fetched_at: Mapped[datetime | None] = mapped_column(DateTimeUTC(timezone=True), default=None)
    decided_at: Mapped[datetime | None] = mapped_column(DateTimeUTC(timezone=True), default=None)
    #: The last transient failure while retrying, for admins.
    last_error: Mapped[str | None] = mapped_column(sa.String(1000), default=None)

    __table_args__ = (
        sa.UniqueConstraint("submission_id", "purpose", name="uq_post_check_submission_purpose"),
        sa.Index("ix_post_check_collaboration", "collaboration_id", "created_at"),
    )


class EngagementSnapshot(AuditBase):
    """Counts a platform returned for a post at one moment (only when it returns any)."""

    __tablename__ = "engagement_snapshot"

    collaboration_id: Mapped[UUID] = mapped_column(sa.ForeignKey("collaboration.id", ondelete="CASCADE"))
    submission_id: Mapped[UUID] = mapped_column(sa.ForeignKey("post_submission.id", ondelete="CASCADE"))
    taken_at: Mapped[datetime] = mapped_column(DateTimeUTC(timezone=True))
    views: Mapped[int | None] = mapped_column(sa.BigInteger, default=None)
    likes: Mapped[int | None] = mapped_column(sa.BigInteger, default=None)
    comments: Mapped[int | None] = mapped_column(sa.BigInteger, default=None)
    shares: Mapped[int | None] = mapped_column(sa.BigInteger, default=None)

    __table_args__ = (sa.Index("ix_engagement_snapshot_collaboration", "collaboration_id", "taken_at"),)
