"""Commission tables: a brand's commission budget held in escrow, the payments into it (deposits and weekly
charges) and the commission payouts to creators out of it."""

from __future__ import annotations

import enum
from datetime import datetime
from uuid import UUID

import sqlalchemy as sa
from advanced_alchemy.base import UUIDv7AuditBase as AuditBase
from advanced_alchemy.types import DateTimeUTC
from sqlalchemy.orm import Mapped, mapped_column

from escrow.models import enum_column


class CommissionBudget(AuditBase):
    """One brand's commission money in one currency (ledger account ``commission_budget:<id>``). The amounts are
    caches of the ledger kept under this row's lock; out (released + refunded + reserved) never exceeds in."""

    __tablename__ = "commission_budget"

    brand_id: Mapped[UUID] = mapped_column(sa.ForeignKey("brand.id", ondelete="RESTRICT"))
    currency: Mapped[str] = mapped_column(sa.String(3))
    funded_amount: Mapped[int] = mapped_column(sa.BigInteger, default=0)
    #: Paid out to creators (transfers posted).
    released_amount: Mapped[int] = mapped_column(sa.BigInteger, default=0)
    #: Returned to the brand (refunds posted).
    refunded_amount: Mapped[int] = mapped_column(sa.BigInteger, default=0)
    #: Held back by payouts and refunds in flight.
    reserved_amount: Mapped[int] = mapped_column(sa.BigInteger, default=0)
    deposit_seq: Mapped[int] = mapped_column(default=0)
    refund_seq: Mapped[int] = mapped_column(default=0)
    #: The end of the attribution window the brand funded for: after it, what no commission needs is refunded.
    refund_after: Mapped[datetime | None] = mapped_column(DateTimeUTC(timezone=True), default=None)
    last_message: Mapped[str | None] = mapped_column(sa.String(500), default=None)

    __table_args__ = (
        sa.UniqueConstraint("brand_id", "currency", name="uq_commission_budget_brand_currency"),
        sa.CheckConstraint("reserved_amount >= 0", name="budget_reserved_not_negative"),
        sa.CheckConstraint("released_amount + refunded_amount + reserved_amount <= funded_amount",
                           name="budget_never_more_out_than_in"),
    )

    @property
    def held_amount(self) -> int:
        return self.funded_amount - self.released_amount - self.refunded_amount

    @property
    def available_amount(self) -> int:
        return self.held_amount - self.reserved_amount


class FundingKind(enum.StrEnum):
    #: The brand topped the budget up (a cap it chose).
    DEPOSIT = "deposit"
    #: The weekly statement: approved commission the budget could not cover.
    CHARGE = "charge"


class MoneyStatus(enum.StrEnum):
    PENDING = "pending"
    SUCCEEDED = "succeeded"
    FAILED = "failed"


class CommissionFunding(AuditBase):
    """A payment into a commission budget, decided (with its idempotency key) before the provider is called."""

    __tablename__ = "commission_funding"

    budget_id: Mapped[UUID] = mapped_column(sa.ForeignKey("commission_budget.id", ondelete="RESTRICT"), index=True)
    kind: Mapped[FundingKind] = mapped_column(enum_column(FundingKind, 16))
    #: ``brand:<brand>:commission-charge:<week>`` for a weekly charge, ``brand:<brand>:commission-budget:<cur>:
    #: fund:<n>`` for a deposit.
    idempotency_key: Mapped[str] = mapped_column(sa.String(255), unique=True)
    #: The statement's ISO week (``2026-W49``) for a charge.
    period: Mapped[str | None] = mapped_column(sa.String(10), default=None)
    amount: Mapped[int] = mapped_column(sa.BigInteger)
    currency: Mapped[str] = mapped_column(sa.String(3))
    status: Mapped[MoneyStatus] = mapped_column(enum_column(MoneyStatus, 16), default=MoneyStatus.PENDING)
    funding_ref: Mapped[str | None] = mapped_column(sa.String(255), unique=True, default=None)
    checkout_url: Mapped[str | None] = mapped_column(sa.String(2000), default=None)
    #: Returned to the brand from this payment (posted), and being returned (in flight).
    refunded_amount: Mapped[int] = mapped_column(sa.BigInteger, default=0)
    refunding_amount: Mapped[int] = mapped_column(sa.BigInteger, default=0)
    message: Mapped[str] = mapped_column(sa.String(500), default="")

    __table_args__ = (sa.CheckConstraint("amount > 0", name="commission_funding_positive"),)


class PayoutStatus(enum.StrEnum):
    #: Reserved in the ledger; the transfer is being made (or waits for the creator's payout account).
    RESERVED = "reserved"
    PAID = "paid"
    FAILED = "failed"
    #: Nothing to send: the approved commission only paid back a carried negative balance.
    OFFSET = "offset"


class CommissionPayout(AuditBase):
    """One payout of approved commission to one creator from one brand, key
    ``commission:<brand>:<creator>:<currency>:payout:<seq>`` (written before the transfer is attempted)."""

    __tablename__ = "commission_payout"

    budget_id: Mapped[UUID] = mapped_column(sa.ForeignKey("commission_budget.id", ondelete="RESTRICT"), index=True)
    brand_id: Mapped[UUID] = mapped_column(sa.ForeignKey("brand.id", ondelete="RESTRICT"))
    creator_id: Mapped[UUID] = mapped_column(sa.ForeignKey("creator.id", ondelete="RESTRICT"), index=True)
    currency: Mapped[str] = mapped_column(sa.String(3))
    seq: Mapped[int] = mapped_column()
    idempotency_key: Mapped[str] = mapped_column(sa.String(255), unique=True)
    amount: Mapped[int] = mapped_column(sa.BigInteger)
    status: Mapped[PayoutStatus] = mapped_column(enum_column(PayoutStatus, 16), default=PayoutStatus.RESERVED)
    transfer_ref: Mapped[str | None] = mapped_column(sa.String(255), default=None)
    paid_at: Mapped[datetime | None] = mapped_column(DateTimeUTC(timezone=True), default=None)
    message: Mapped[str] = mapped_column(sa.String(500), default="")

    __table_args__ = (
        sa.UniqueConstraint("brand_id", "creator_id", "currency", "seq", name="uq_commission_payout_seq"),
        sa.CheckConstraint("amount >= 0", name="commission_payout_not_negative"),
    )
