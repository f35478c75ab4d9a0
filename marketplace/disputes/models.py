"""Dispute cases (opened by a party, or by PostPact for a chargeback), what each side said, and the one decision."""

from __future__ import annotations

import enum
from datetime import datetime
from uuid import UUID

import sqlalchemy as sa
from advanced_alchemy.types import DateTimeUTC
from sqlalchemy.orm import Mapped, mapped_column

from marketplace.db import AuditBase, enum_column


class DisputeKind(enum.StrEnum):
    #: A brand or creator asked PostPact to decide.
    DISPUTE = "dispute"
    #: The brand's bank took the payment back; PostPact opened the case itself.
    CHARGEBACK = "chargeback"
    #: Escrow froze itself because money moved outside PostPact (a refund or reversal in Stripe's dashboard).
    REVIEW = "review"


class DisputeReason(enum.StrEnum):
    NOT_POSTED = "not_posted"
    BRIEF_MISMATCH = "brief_mismatch"
    POST_REMOVED_EARLY = "post_removed_early"
    PRODUCT_NOT_RECEIVED = "product_not_received"
    PAYMENT_WITHHELD = "payment_withheld"
    OTHER = "other"
    #: Only PostPact opens these (a card dispute on the funding charge; money moved outside PostPact).
    CHARGEBACK = "chargeback"
    MONEY_MOVED_OUTSIDE = "money_moved_outside"


#: What a party may choose when opening a dispute (chargeback is PostPact's own).
PARTY_REASONS: dict[DisputeReason, str] = {
    DisputeReason.NOT_POSTED: "The post was not published",
    DisputeReason.BRIEF_MISMATCH: "The post doesn't match the brief",
    DisputeReason.POST_REMOVED_EARLY: "The post was removed before the keep-live period ended",
    DisputeReason.PRODUCT_NOT_RECEIVED: "The product never arrived",
    DisputeReason.PAYMENT_WITHHELD: "The brand is withholding payment",
    DisputeReason.OTHER: "Something else",
}
REASON_LABELS: dict[str, str] = {
    **{reason.value: label for reason, label in PARTY_REASONS.items()},
    DisputeReason.CHARGEBACK.value: "Card payment disputed at the bank (chargeback)",
    DisputeReason.MONEY_MOVED_OUTSIDE.value: "Money moved outside PostPact (escrow frozen)",
}


class DisputeStatus(enum.StrEnum):
    OPEN = "open"
    DECIDED = "decided"


class Outcome(enum.StrEnum):
    RELEASE = "release"
    REFUND = "refund"
    SPLIT = "split"


OUTCOME_LABELS: dict[str, str] = {
    Outcome.RELEASE.value: "Release in full to the creator",
    Outcome.REFUND.value: "Refund in full to the brand",
    Outcome.SPLIT.value: "Split between them",
}


class Dispute(AuditBase):
    """One case about one collaboration. At most one is open per collaboration (a partial unique index)."""

    __tablename__ = "dispute"

    collaboration_id: Mapped[UUID] = mapped_column(sa.ForeignKey("collaboration.id", ondelete="RESTRICT"))
    kind: Mapped[DisputeKind] = mapped_column(enum_column(DisputeKind, 16), default=DisputeKind.DISPUTE)
    status: Mapped[DisputeStatus] = mapped_column(enum_column(DisputeStatus, 16), default=DisputeStatus.OPEN)
    reason: Mapped[DisputeReason] = mapped_column(enum_column(DisputeReason, 32))
    #: brand, creator or system.
    opened_by_party: Mapped[str] = mapped_column(sa.String(16))
    opened_by_id: Mapped[UUID | None] = mapped_column(
        sa.ForeignKey("user_account.id", ondelete="SET NULL"), default=None
    )
    opened_at: Mapped[datetime] = mapped_column(DateTimeUTC(timezone=True))
    #: The side asked to answer (None for PostPact's own cases) and by when.
    respondent_party: Mapped[str | None] = mapped_column(sa.String(16), default=None)
    response_due_at: Mapped[datetime | None] = mapped_column(DateTimeUTC(timezone=True), default=None)
    responded_at: Mapped[datetime | None] = mapped_column(DateTimeUTC(timezone=True), default=None)
    #: Set by the job that noticed the window passed without an answer (admins are told once).
    response_missed_at: Mapped[datetime | None] = mapped_column(DateTimeUTC(timezone=True), default=None)
    chargeback_id: Mapped[UUID | None] = mapped_column(
        sa.ForeignKey("chargeback.id", ondelete="RESTRICT"), unique=True, default=None
    )
    decided_at: Mapped[datetime | None] = mapped_column(DateTimeUTC(timezone=True), default=None)

    __table_args__ = (
        sa.Index(
            "uq_dispute_open_per_collaboration",
            "collaboration_id",
            unique=True,
            postgresql_where=sa.text("status = 'open'"),
            sqlite_where=sa.text("status = 'open'"),
        ),
        sa.Index("ix_dispute_status_opened", "status", "opened_at"),
        sa.Index("ix_dispute_collaboration", "collaboration_id", "opened_at"),
    )


class DisputeStatement(AuditBase):
    """What one side (or an admin, or PostPact) said in a case; statements are never edited."""

    __tablename__ = "dispute_statement"

    dispute_id: Mapped[UUID] = mapped_column(sa.ForeignKey("dispute.id", ondelete="CASCADE"))
    #: brand, creator, admin or system.
    party: Mapped[str] = mapped_column(sa.String(16))
    author_id: Mapped[UUID | None] = mapped_column(sa.ForeignKey("user_account.id", ondelete="SET NULL"))
    #: opening, response, addition, admin_note, system.
    kind: Mapped[str] = mapped_column(sa.String(16))
    body: Mapped[str] = mapped_column(sa.Text)

    __table_args__ = (sa.Index("ix_dispute_statement_dispute", "dispute_id", "created_at"),)


class DisputeAttachment(AuditBase):
    """A file attached to a statement: type decided by its content, stored outside the public files."""

    __tablename__ = "dispute_attachment"

    dispute_id: Mapped[UUID] = mapped_column(sa.ForeignKey("dispute.id", ondelete="CASCADE"), index=True)
    statement_id: Mapped[UUID] = mapped_column(sa.ForeignKey("dispute_statement.id", ondelete="CASCADE"))
    #: The browser's file name, cleaned, for display only (never a path on disk).
    filename: Mapped[str] = mapped_column(sa.String(200))
    path: Mapped[str] = mapped_column(sa.String(500))
    content_type: Mapped[str] = mapped_column(sa.String(100))
    size: Mapped[int] = mapped_column(sa.BigInteger)


class DisputeDecision(AuditBase):
    """The admin's decision. ``dispute_id`` is unique: a case is decided once, whatever races."""

    __tablename__ = "dispute_decision"

    dispute_id: Mapped[UUID] = mapped_column(sa.ForeignKey("dispute.id", ondelete="RESTRICT"), unique=True)
    collaboration_id: Mapped[UUID] = mapped_column(sa.ForeignKey("collaboration.id", ondelete="RESTRICT"))
    outcome: Mapped[Outcome] = mapped_column(enum_column(Outcome, 16))
    #: What escrow was asked to move (minor units of ``currency``): to the creator (their fee part, before
    #: PostPact's fee share) and back to the brand. Zero when nothing was held.
    creator_amount: Mapped[int] = mapped_column(sa.BigInteger, default=0)
    brand_amount: Mapped[int] = mapped_column(sa.BigInteger, default=0)
    currency: Mapped[str] = mapped_column(sa.String(3))
    #: Whose reputation records a lost dispute: creator, brand, both or none.
    at_fault: Mapped[str] = mapped_column(sa.String(16))
    rationale: Mapped[str] = mapped_column(sa.Text)
    decided_by_id: Mapped[UUID | None] = mapped_column(sa.ForeignKey("user_account.id", ondelete="SET NULL"))
    decided_at: Mapped[datetime] = mapped_column(DateTimeUTC(timezone=True))

    __table_args__ = (
        sa.CheckConstraint("creator_amount >= 0 AND brand_amount >= 0", name="amounts_not_negative"),
    )
