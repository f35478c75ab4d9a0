"""Collaborations and everything that happens in one: events, shipping, drafts, posts, deadline extensions."""

from __future__ import annotations

import enum
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import datetime
from typing import Any
from uuid import UUID

import sqlalchemy as sa
from advanced_alchemy.types import DateTimeUTC
from sqlalchemy.orm import Mapped, mapped_column, validates

from marketplace.clock import as_utc
from marketplace.collaborations.states import CollabState
from marketplace.db import AuditBase, Base, enum_column

_transitioning: ContextVar[bool] = ContextVar("collaboration_transitioning", default=False)


@contextmanager
def status_change() -> Iterator[None]:
    """The one door through which ``transition()`` sets ``Collaboration.status``; anywhere else setting it raises."""
    token = _transitioning.set(True)
    try:
        yield
    finally:
        _transitioning.reset(token)


#: The stages that have a due time, in deal order; ``due_<stage>`` columns hold them.
STAGES = ("sign", "fund", "ship", "receipt", "draft", "review", "post", "check", "approve", "keep_live")


class Collaboration(AuditBase):
    """One accepted match: a creator doing a gig for a brand, under a frozen copy of the terms."""

    __tablename__ = "collaboration"

    gig_id: Mapped[UUID] = mapped_column(sa.ForeignKey("gig.id", ondelete="RESTRICT"), index=True)
    application_id: Mapped[UUID] = mapped_column(sa.ForeignKey("application.id", ondelete="RESTRICT"), unique=True)
    brand_id: Mapped[UUID] = mapped_column(sa.ForeignKey("brand.id", ondelete="RESTRICT"))
    creator_id: Mapped[UUID] = mapped_column(sa.ForeignKey("creator.id", ondelete="RESTRICT"))
    social_account_id: Mapped[UUID] = mapped_column(sa.ForeignKey("social_account.id", ondelete="RESTRICT"))

    status: Mapped[CollabState] = mapped_column(enum_column(CollabState, 24), default=CollabState.OFFERED)
    state_changed_at: Mapped[datetime] = mapped_column(DateTimeUTC(timezone=True))
    #: Number of events recorded; the next event's ``seq``.
    event_count: Mapped[int] = mapped_column(default=0)

    #: The terms as accepted (marketplace.collaborations.terms.Terms.to_dict()) and their SHA-256.
    terms: Mapped[dict[str, Any]] = mapped_column(sa.JSON)
    terms_hash: Mapped[str] = mapped_column(sa.String(64))
    #: The language the terms were frozen in (the accepting brand's) and signed in (the creator's): each side reads
    #: the deal in its own language and can read the signed terms in both (marketplace.i18n).
    terms_locale: Mapped[str | None] = mapped_column(sa.String(16), default=None)
    signed_locale: Mapped[str | None] = mapped_column(sa.String(16), default=None)
    fee_amount: Mapped[int] = mapped_column(sa.BigInteger)
    currency: Mapped[str] = mapped_column(sa.String(3))
    product_included: Mapped[bool] = mapped_column()
    revision_rounds_allowed: Mapped[int] = mapped_column(default=1)
    revision_rounds_used: Mapped[int] = mapped_column(default=0)

    # When each milestone happened (the event log has the detail; these make deadline arithmetic cheap).
    signed_at: Mapped[datetime | None] = mapped_column(DateTimeUTC(timezone=True), default=None)
    funded_at: Mapped[datetime | None] = mapped_column(DateTimeUTC(timezone=True), default=None)
    shipped_at: Mapped[datetime | None] = mapped_column(DateTimeUTC(timezone=True), default=None)
    received_at: Mapped[datetime | None] = mapped_column(DateTimeUTC(timezone=True), default=None)
    draft_submitted_at: Mapped[datetime | None] = mapped_column(DateTimeUTC(timezone=True), default=None)
    draft_approved_at: Mapped[datetime | None] = mapped_column(DateTimeUTC(timezone=True), default=None)
    posted_at: Mapped[datetime | None] = mapped_column(DateTimeUTC(timezone=True), default=None)
    verified_at: Mapped[datetime | None] = mapped_column(DateTimeUTC(timezone=True), default=None)
    approved_at: Mapped[datetime | None] = mapped_column(DateTimeUTC(timezone=True), default=None)
    released_at: Mapped[datetime | None] = mapped_column(DateTimeUTC(timezone=True), default=None)
    ended_at: Mapped[datetime | None] = mapped_column(DateTimeUTC(timezone=True), default=None)
    post_removed_at: Mapped[datetime | None] = mapped_column(DateTimeUTC(timezone=True), default=None)
    #: When verification asked the brand to check the current post by hand (needs review); cleared by a new post.
    post_review_requested_at: Mapped[datetime | None] = mapped_column(DateTimeUTC(timezone=True), default=None)

    # Due times per stage, computed from the terms by deadlines.recompute_due_dates().
    due_sign: Mapped[datetime | None] = mapped_column(DateTimeUTC(timezone=True), default=None)
    due_fund: Mapped[datetime | None] = mapped_column(DateTimeUTC(timezone=True), default=None)
    due_ship: Mapped[datetime | None] = mapped_column(DateTimeUTC(timezone=True), default=None)
    due_receipt: Mapped[datetime | None] = mapped_column(DateTimeUTC(timezone=True), default=None)
    due_draft: Mapped[datetime | None] = mapped_column(DateTimeUTC(timezone=True), default=None)
    due_review: Mapped[datetime | None] = mapped_column(DateTimeUTC(timezone=True), default=None)
    due_post: Mapped[datetime | None] = mapped_column(DateTimeUTC(timezone=True), default=None)
    due_check: Mapped[datetime | None] = mapped_column(DateTimeUTC(timezone=True), default=None)
    due_approve: Mapped[datetime | None] = mapped_column(DateTimeUTC(timezone=True), default=None)
    due_keep_live: Mapped[datetime | None] = mapped_column(DateTimeUTC(timezone=True), default=None)
    #: Accepted extensions: stage name → ISO due time that replaces the computed one.
    due_overrides: Mapped[dict[str, Any]] = mapped_column(sa.JSON, default=dict)
    #: The stage that is due next, who must act, and when: what the deadline sweeper reads (indexed).
    next_due_stage: Mapped[str | None] = mapped_column(sa.String(16), default=None)
    next_due_party: Mapped[str | None] = mapped_column(sa.String(16), default=None)
    next_due_at: Mapped[datetime | None] = mapped_column(DateTimeUTC(timezone=True), default=None)
    #: Set while a dispute is open (or an admin review holds the deal): deadlines don't run.
    deadlines_paused_at: Mapped[datetime | None] = mapped_column(DateTimeUTC(timezone=True), default=None)
    #: An admin must look at this deal (the brand or creator was suspended, a chargeback arrived...).
    needs_admin_review: Mapped[bool] = mapped_column(default=False)

    __table_args__ = (
        sa.Index("ix_collaboration_brand_status", "brand_id", "status"),
        sa.Index("ix_collaboration_creator_status", "creator_id", "status"),
        sa.Index("ix_collaboration_next_due", "next_due_at"),
        # Admin dashboard: deals that ended this month, and the (few) deals held for an admin's review.
        sa.Index("ix_collaboration_ended_at", "ended_at"),
        sa.Index("ix_collaboration_admin_review", "needs_admin_review",
                 postgresql_where=sa.text("needs_admin_review"), sqlite_where=sa.text("needs_admin_review")),
        sa.CheckConstraint("fee_amount >= 0", name="fee_not_negative"),
    )

    @validates("status")
    def _only_through_transition(self, _key: str, value: CollabState) -> CollabState:
        if self.__dict__.get("status") is not None and not _transitioning.get():
            raise RuntimeError("Collaboration.status changes only through collaborations.transition.transition()")
        return value

    def due(self, stage: str) -> datetime | None:
        value = getattr(self, f"due_{stage}")
        return as_utc(value) if value is not None else None

    def due_passed(self, stage: str, now: datetime) -> bool:
        due = self.due(stage)
        return due is not None and now >= due

    @property
    def state(self) -> CollabState:
        return CollabState(self.status)


class CollaborationEvent(Base):
    """Append-only history of a collaboration (also dispute evidence)."""

    __tablename__ = "collaboration_event"

    collaboration_id: Mapped[UUID] = mapped_column(sa.ForeignKey("collaboration.id", ondelete="CASCADE"))
    seq: Mapped[int] = mapped_column()
    action: Mapped[str] = mapped_column(sa.String(32))
    from_state: Mapped[str] = mapped_column(sa.String(24))
    to_state: Mapped[str] = mapped_column(sa.String(24))
    actor_party: Mapped[str] = mapped_column(sa.String(16))
    actor_user_id: Mapped[UUID | None] = mapped_column(sa.ForeignKey("user_account.id", ondelete="SET NULL"))
    payload: Mapped[dict[str, Any]] = mapped_column(sa.JSON, default=dict)
    created_at: Mapped[datetime] = mapped_column(DateTimeUTC(timezone=True))

    __table_args__ = (sa.UniqueConstraint("collaboration_id", "seq"),)


class Shipment(AuditBase):
    __tablename__ = "shipment"

    collaboration_id: Mapped[UUID] = mapped_column(sa.ForeignKey("collaboration.id", ondelete="CASCADE"), index=True)
    carrier: Mapped[str] = mapped_column(sa.String(60))
    tracking_number: Mapped[str] = mapped_column(sa.String(100))
    tracking_url: Mapped[str | None] = mapped_column(sa.String(2000), default=None)
    shipped_at: Mapped[datetime] = mapped_column(DateTimeUTC(timezone=True))
    received_at: Mapped[datetime | None] = mapped_column(DateTimeUTC(timezone=True), default=None)
    problem: Mapped[str | None] = mapped_column(sa.Text, default=None)
    problem_reported_at: Mapped[datetime | None] = mapped_column(DateTimeUTC(timezone=True), default=None)


class DraftReview(enum.StrEnum):
    PENDING = "pending"
    APPROVED = "approved"
    CHANGES_REQUESTED = "changes_requested"


class ContentDraft(AuditBase):
    __tablename__ = "content_draft"

    collaboration_id: Mapped[UUID] = mapped_column(sa.ForeignKey("collaboration.id", ondelete="CASCADE"))
    #: 1 for the first draft, then one more per requested revision.
    round: Mapped[int] = mapped_column()
    caption: Mapped[str] = mapped_column(sa.Text)
    media_url: Mapped[str | None] = mapped_column(sa.String(2000), default=None)
    #: Uploaded file, relative to the upload directory; content type and size as checked on upload.
    upload_path: Mapped[str | None] = mapped_column(sa.String(500), default=None)
    upload_content_type: Mapped[str | None] = mapped_column(sa.String(100), default=None)
    upload_size: Mapped[int | None] = mapped_column(sa.BigInteger, default=None)
    submitted_by_id: Mapped[UUID | None] = mapped_column(sa.ForeignKey("user_account.id", ondelete="SET NULL"))
    review: Mapped[DraftReview] = mapped_column(enum_column(DraftReview, 24), default=DraftReview.PENDING)
    review_comment: Mapped[str | None] = mapped_column(sa.Text, default=None)
    reviewed_at: Mapped[datetime | None] = mapped_column(DateTimeUTC(timezone=True), default=None)
    reviewed_by_id: Mapped[UUID | None] = mapped_column(
        sa.ForeignKey("user_account.id", ondelete="SET NULL"), default=None
    )

    __table_args__ = (sa.UniqueConstraint("collaboration_id", "round"),)


class PostSubmission(AuditBase):
    """A live post URL the creator submitted; verification results are stored against it."""

    __tablename__ = "post_submission"

    collaboration_id: Mapped[UUID] = mapped_column(sa.ForeignKey("collaboration.id", ondelete="CASCADE"), index=True)
    url: Mapped[str] = mapped_column(sa.String(2000))
    platform: Mapped[str] = mapped_column(sa.String(16))
    #: The platform's id of the post, parsed from the URL (e.g. TikTok video id, Instagram shortcode).
    post_ref: Mapped[str | None] = mapped_column(sa.String(100), default=None)
    submitted_by_id: Mapped[UUID | None] = mapped_column(sa.ForeignKey("user_account.id", ondelete="SET NULL"))
    #: Latest verification verdict: pending, verified, failed, needs_review (details in the verification tables).
    verification_status: Mapped[str] = mapped_column(sa.String(16), default="pending")
    #: Only the newest submission counts; earlier ones stay as history.
    is_current: Mapped[bool] = mapped_column(default=True)


class ExtensionStatus(enum.StrEnum):
    PENDING = "pending"
    ACCEPTED = "accepted"
    DECLINED = "declined"
    WITHDRAWN = "withdrawn"


class ExtensionRequest(AuditBase):
    """One side asks to move a due date; the other accepts or declines."""

    __tablename__ = "extension_request"

    collaboration_id: Mapped[UUID] = mapped_column(sa.ForeignKey("collaboration.id", ondelete="CASCADE"), index=True)
    stage: Mapped[str] = mapped_column(sa.String(16))
    requested_by_party: Mapped[str] = mapped_column(sa.String(16))
    requested_by_id: Mapped[UUID | None] = mapped_column(sa.ForeignKey("user_account.id", ondelete="SET NULL"))
    current_due_at: Mapped[datetime] = mapped_column(DateTimeUTC(timezone=True))
    proposed_due_at: Mapped[datetime] = mapped_column(DateTimeUTC(timezone=True))
    reason: Mapped[str] = mapped_column(sa.Text, default="")
    status: Mapped[ExtensionStatus] = mapped_column(enum_column(ExtensionStatus, 16), default=ExtensionStatus.PENDING)
    decided_at: Mapped[datetime | None] = mapped_column(DateTimeUTC(timezone=True), default=None)
    decided_by_id: Mapped[UUID | None] = mapped_column(
        sa.ForeignKey("user_account.id", ondelete="SET NULL"), default=None
    )
