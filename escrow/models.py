"""Escrow tables: holds per collaboration, the double-entry ledger, provider calls, chargebacks, payout accounts."""

from __future__ import annotations

import enum
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

import sqlalchemy as sa
from advanced_alchemy.base import UUIDv7AuditBase as AuditBase
from advanced_alchemy.base import UUIDv7Base as Base
from advanced_alchemy.types import DateTimeUTC
from sqlalchemy.orm import Mapped, mapped_column, validates

from escrow.states import EscrowState

#: True only while ``escrow.transition.transition()`` moves a hold: the one place its status may change.
_status_change: ContextVar[bool] = ContextVar("escrow_status_change", default=False)


@contextmanager
def status_change() -> Iterator[None]:
    """Let ``EscrowHold.status`` be written inside this block (used by ``escrow.transition`` only)."""
    token = _status_change.set(True)
    try:
        yield
    finally:
        _status_change.reset(token)


def enum_column(enum_cls: type[enum.Enum], length: int = 32) -> sa.Enum:
    """Same storage as marketplace.db.enum_column (escrow doesn't import marketplace): the value as a short string."""
    return sa.Enum(
        enum_cls,
        native_enum=False,
        length=length,
        values_callable=lambda members: [m.value for m in members],
        validate_strings=True,
    )


def _utc(value: datetime | None) -> datetime | None:
    """Timestamps are UTC; some drivers hand them back naive."""
    if value is None:
        return None
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class EscrowHold(AuditBase):
    """The money side of one collaboration. Amounts are caches of the ledger, kept under this row's lock
    (the ledger stays the truth; the property tests compare both after every step)."""

    __tablename__ = "escrow_hold"

    collaboration_id: Mapped[UUID] = mapped_column(
        sa.ForeignKey("collaboration.id", ondelete="RESTRICT"), unique=True
    )
    brand_id: Mapped[UUID] = mapped_column(sa.ForeignKey("brand.id", ondelete="RESTRICT"), index=True)
    creator_id: Mapped[UUID] = mapped_column(sa.ForeignKey("creator.id", ondelete="RESTRICT"), index=True)
    currency: Mapped[str] = mapped_column(sa.String(3))
    #: The creator's agreed fee (paid to them in full) and PostPact's fee on top, fixed when funding starts.
    creator_amount: Mapped[int] = mapped_column(sa.BigInteger)
    platform_fee_amount: Mapped[int] = mapped_column(sa.BigInteger)
    status: Mapped[EscrowState] = mapped_column(enum_column(EscrowState, 24), default=EscrowState.AWAITING_FUNDING)
    #: Where a voided release/refund/split returns to (funded or frozen).
    resume_status: Mapped[str | None] = mapped_column(sa.String(24), default=None)
    status_changed_at: Mapped[datetime] = mapped_column(DateTimeUTC(timezone=True))
    event_count: Mapped[int] = mapped_column(default=0)

    # Cached sums (minor units, this hold's currency).
    funded_amount: Mapped[int] = mapped_column(sa.BigInteger, default=0)
    released_creator_amount: Mapped[int] = mapped_column(sa.BigInteger, default=0)
    released_fee_amount: Mapped[int] = mapped_column(sa.BigInteger, default=0)
    refunded_amount: Mapped[int] = mapped_column(sa.BigInteger, default=0)
    #: Taken out of the held money by chargebacks (net of chargebacks won).
    charged_back_amount: Mapped[int] = mapped_column(sa.BigInteger, default=0)
    #: Reserved by pending releases/refunds.
    reserved_amount: Mapped[int] = mapped_column(sa.BigInteger, default=0)
    provider_fee_amount: Mapped[int] = mapped_column(sa.BigInteger, default=0)

    # Sequence numbers for deterministic idempotency keys (collab:<id>:release:<n>).
    funding_seq: Mapped[int] = mapped_column(default=0)
    release_seq: Mapped[int] = mapped_column(default=0)
    refund_seq: Mapped[int] = mapped_column(default=0)
    split_seq: Mapped[int] = mapped_column(default=0)

    provider: Mapped[str | None] = mapped_column(sa.String(16), default=None)
    funding_ref: Mapped[str | None] = mapped_column(sa.String(255), default=None, index=True)
    charge_ref: Mapped[str | None] = mapped_column(sa.String(255), default=None, index=True)
    checkout_url: Mapped[str | None] = mapped_column(sa.String(2000), default=None)
    funded_at: Mapped[datetime | None] = mapped_column(DateTimeUTC(timezone=True), default=None)
    #: Set when a chargeback arrived while a posting was in flight: freeze as soon as it resolves.
    freeze_requested_at: Mapped[datetime | None] = mapped_column(DateTimeUTC(timezone=True), default=None)
    #: What people should read about the latest problem (a declined card, a failed transfer...).
    last_message: Mapped[str | None] = mapped_column(sa.String(500), default=None)

    __table_args__ = (
        sa.CheckConstraint("creator_amount >= 0 AND platform_fee_amount >= 0", name="amounts_not_negative"),
        sa.CheckConstraint("reserved_amount >= 0", name="reserved_not_negative"),
        # The escrow's own invariant: what left never exceeds what came in (released + refunded <= funded).
        sa.CheckConstraint(
            "released_creator_amount + released_fee_amount + refunded_amount + charged_back_amount + reserved_amount"
            " <= funded_amount",
            name="never_more_out_than_in",
        ),
        # "Money held now" on the admin dashboard sums only holds in holding or pending states.
        sa.Index("ix_escrow_hold_status", "status"),
    )

    @validates("status")
    def _only_through_transition(self, _key: str, value: EscrowState) -> EscrowState:
        if self.__dict__.get("status") is not None and not _status_change.get():
            raise RuntimeError("EscrowHold.status changes only through escrow.transition.transition()")
        return value

    @property
    def state(self) -> EscrowState:
        return EscrowState(self.status)

    @property
    def gross_amount(self) -> int:
        """What the brand pays: the creator's fee plus PostPact's fee."""
        return self.creator_amount + self.platform_fee_amount

    @property
    def held_amount(self) -> int:
        return (
            self.funded_amount
            - self.released_creator_amount
            - self.released_fee_amount
            - self.refunded_amount
            - self.charged_back_amount
        )

    @property
    def available_amount(self) -> int:
        return self.held_amount - self.reserved_amount

    @property
    def creator_amount_remaining(self) -> int:
        return max(0, self.creator_amount - self.released_creator_amount)


class EscrowEvent(Base):
    """Append-only history of an escrow (shown as the timeline; evidence in disputes)."""

    __tablename__ = "escrow_event"

    escrow_id: Mapped[UUID] = mapped_column(sa.ForeignKey("escrow_hold.id", ondelete="RESTRICT"))
    seq: Mapped[int] = mapped_column()
    action: Mapped[str] = mapped_column(sa.String(32))
    from_state: Mapped[str] = mapped_column(sa.String(24))
    to_state: Mapped[str] = mapped_column(sa.String(24))
    actor: Mapped[str] = mapped_column(sa.String(80))
    payload: Mapped[dict[str, Any]] = mapped_column(sa.JSON, default=dict)
    created_at: Mapped[datetime] = mapped_column(DateTimeUTC(timezone=True))

    __table_args__ = (sa.UniqueConstraint("escrow_id", "seq"),)


class AccountKind(enum.StrEnum):
    ASSET = "asset"
    LIABILITY = "liability"
    REVENUE = "revenue"
    EXPENSE = "expense"


class LedgerAccount(AuditBase):
    """One account per (code, currency), e.g. ``escrow_held:<escrow id>`` in USD. Balances are sums of entries."""

    __tablename__ = "ledger_account"

    code: Mapped[str] = mapped_column(sa.String(120))
    currency: Mapped[str] = mapped_column(sa.String(3))
    kind: Mapped[AccountKind] = mapped_column(enum_column(AccountKind, 16))
    #: Holding accounts (escrow_held, creator_payable, refunds, brand_funding) must never go below zero.
    holding: Mapped[bool] = mapped_column(default=False)

    __table_args__ = (sa.UniqueConstraint("code", "currency"),)


class Phase(enum.StrEnum):
    #: Posted at once.
    SINGLE = "single"
    #: Reserves money; its entries count only once a POST transaction resolves it.
    PENDING = "pending"
    POST = "post"
    VOID = "void"


class LedgerTransaction(Base):
    """Immutable once written. A pending transaction is resolved by exactly one POST or VOID transaction
    (``pending_id`` is unique), TigerBeetle-style."""

    __tablename__ = "ledger_transaction"

    idempotency_key: Mapped[str] = mapped_column(sa.String(255), unique=True)
    kind: Mapped[str] = mapped_column(sa.String(32))
    phase: Mapped[Phase] = mapped_column(enum_column(Phase, 8))
    pending_id: Mapped[UUID | None] = mapped_column(
        sa.ForeignKey("ledger_transaction.id", ondelete="RESTRICT"), unique=True, default=None
    )
    escrow_id: Mapped[UUID | None] = mapped_column(
        sa.ForeignKey("escrow_hold.id", ondelete="RESTRICT"), index=True, default=None
    )
    collaboration_id: Mapped[UUID | None] = mapped_column(index=True, default=None)
    actor: Mapped[str] = mapped_column(sa.String(80))
    memo: Mapped[str] = mapped_column(sa.String(300), default="")
    provider_ref: Mapped[str | None] = mapped_column(sa.String(255), default=None)
    created_at: Mapped[datetime] = mapped_column(DateTimeUTC(timezone=True), index=True)


class LedgerEntry(Base):
    """One leg: positive amounts are debits, negative amounts credits (minor units)."""

    __tablename__ = "ledger_entry"

    transaction_id: Mapped[UUID] = mapped_column(
        sa.ForeignKey("ledger_transaction.id", ondelete="RESTRICT"), index=True
    )
    account_id: Mapped[UUID] = mapped_column(sa.ForeignKey("ledger_account.id", ondelete="RESTRICT"))
    amount: Mapped[int] = mapped_column(sa.BigInteger)
    currency: Mapped[str] = mapped_column(sa.String(3))
    #: Copied from the transaction so posted balances are one indexed sum (pending legs never count).
    pending: Mapped[bool] = mapped_column(default=False)

    __table_args__ = (
        sa.CheckConstraint("amount <> 0", name="amount_not_zero"),
        sa.Index("ix_ledger_entry_account_pending", "account_id", "pending"),
    )


class CallStatus(enum.StrEnum):
    #: Decided, but the creator can't receive transfers yet (release waits for onboarding).
    WAITING = "waiting"
    READY = "ready"
    SUCCEEDED = "succeeded"
    FAILED = "failed"


class ProviderCall(AuditBase):
    """A provider call decided and committed before it is made; completed (or voided) after. The idempotency
    key is deterministic, so a retry after a crash can never move money twice."""

    __tablename__ = "provider_call"

    idempotency_key: Mapped[str] = mapped_column(sa.String(255), unique=True)
    operation: Mapped[str] = mapped_column(sa.String(32))
    escrow_id: Mapped[UUID | None] = mapped_column(
        sa.ForeignKey("escrow_hold.id", ondelete="RESTRICT"), index=True, default=None
    )
    creator_id: Mapped[UUID | None] = mapped_column(index=True, default=None)
    #: The pending ledger transaction this call resolves (releases, refunds, splits).
    pending_transaction_id: Mapped[UUID | None] = mapped_column(
        sa.ForeignKey("ledger_transaction.id", ondelete="RESTRICT"), default=None
    )
    amount: Mapped[int] = mapped_column(sa.BigInteger, default=0)
    currency: Mapped[str | None] = mapped_column(sa.String(3), default=None)
    params: Mapped[dict[str, Any]] = mapped_column(sa.JSON, default=dict)
    status: Mapped[CallStatus] = mapped_column(enum_column(CallStatus, 16), default=CallStatus.READY)
    provider: Mapped[str | None] = mapped_column(sa.String(16), default=None)
    attempts: Mapped[int] = mapped_column(default=0)
    first_attempt_at: Mapped[datetime | None] = mapped_column(DateTimeUTC(timezone=True), default=None)
    last_attempt_at: Mapped[datetime | None] = mapped_column(DateTimeUTC(timezone=True), default=None)
    next_attempt_at: Mapped[datetime | None] = mapped_column(DateTimeUTC(timezone=True), default=None)
    result_ref: Mapped[str | None] = mapped_column(sa.String(255), default=None, index=True)
    last_error: Mapped[str | None] = mapped_column(sa.String(1000), default=None)
    completed_at: Mapped[datetime | None] = mapped_column(DateTimeUTC(timezone=True), default=None)

    __table_args__ = (sa.Index("ix_provider_call_status_next", "status", "next_attempt_at"),)


class Chargeback(AuditBase):
    """A card dispute on a funding charge: the provider took the money back from the platform."""

    __tablename__ = "chargeback"

    provider_dispute_id: Mapped[str] = mapped_column(sa.String(255), unique=True)
    charge_ref: Mapped[str | None] = mapped_column(sa.String(255), default=None)
    escrow_id: Mapped[UUID] = mapped_column(sa.ForeignKey("escrow_hold.id", ondelete="RESTRICT"), index=True)
    collaboration_id: Mapped[UUID] = mapped_column(index=True)
    amount: Mapped[int] = mapped_column(sa.BigInteger)
    currency: Mapped[str] = mapped_column(sa.String(3))
    #: The provider's dispute status (needs_response, under_review, won, lost...).
    status: Mapped[str] = mapped_column(sa.String(32))
    #: How the amount was covered: from money still held, from the creator (reversal), or not yet (recoverable).
    from_escrow_amount: Mapped[int] = mapped_column(sa.BigInteger, default=0)
    reversed_amount: Mapped[int] = mapped_column(sa.BigInteger, default=0)
    recoverable_amount: Mapped[int] = mapped_column(sa.BigInteger, default=0)
    opened_at: Mapped[datetime] = mapped_column(DateTimeUTC(timezone=True))
    closed_at: Mapped[datetime | None] = mapped_column(DateTimeUTC(timezone=True), default=None)


class PayoutAccount(AuditBase):
    """A creator's account at the provider (Stripe: a connected account) and whether it can receive transfers."""

    __tablename__ = "payout_account"

    creator_id: Mapped[UUID] = mapped_column(sa.ForeignKey("creator.id", ondelete="RESTRICT"), unique=True)
    provider: Mapped[str] = mapped_column(sa.String(16))
    account_ref: Mapped[str | None] = mapped_column(sa.String(255), unique=True, default=None)
    transfers_active: Mapped[bool] = mapped_column(default=False)
    details_submitted: Mapped[bool] = mapped_column(default=False)
    payouts_enabled: Mapped[bool] = mapped_column(default=False)
    requirements_due: Mapped[list[Any]] = mapped_column(sa.JSON, default=list)


class DeferredProviderObject(AuditBase):
    """A provider report that arrived before what it depends on (a refund before its funding succeeded);
    applied as soon as the missing piece is recorded."""

    __tablename__ = "deferred_provider_object"

    kind: Mapped[str] = mapped_column(sa.String(16))
    ref: Mapped[str] = mapped_column(sa.String(255), unique=True)
    depends_on_ref: Mapped[str] = mapped_column(sa.String(255), index=True)
    payload: Mapped[dict[str, Any]] = mapped_column(sa.JSON, default=dict)
    applied_at: Mapped[datetime | None] = mapped_column(DateTimeUTC(timezone=True), default=None)


class SimulatedObject(AuditBase):
    """The simulated provider's own state (fundings, refunds, transfers, reversals, accounts), in the database
    so it survives restarts and is shared by every process."""

    __tablename__ = "simulated_object"

    kind: Mapped[str] = mapped_column(sa.String(16))
    ref: Mapped[str] = mapped_column(sa.String(64), unique=True)
    #: Like Stripe: a key maps to one request's parameters and its result.
    idempotency_key: Mapped[str | None] = mapped_column(sa.String(255), unique=True, default=None)
    params_hash: Mapped[str | None] = mapped_column(sa.String(64), default=None)
    group_key: Mapped[str | None] = mapped_column(sa.String(255), index=True, default=None)
    data: Mapped[dict[str, Any]] = mapped_column(sa.JSON, default=dict)


class SimulatedFault(AuditBase):
    """A fault the simulated provider injects into its next matching calls (tests, demos)."""

    __tablename__ = "simulated_fault"

    operation: Mapped[str] = mapped_column(sa.String(32), index=True)
    #: transient (500/timeout), definitive (decline), crash_after (succeed, then the caller dies).
    mode: Mapped[str] = mapped_column(sa.String(16))
    remaining: Mapped[int] = mapped_column(default=1)
    message: Mapped[str] = mapped_column(sa.String(300), default="")
