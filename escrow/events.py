"""What escrow tells the rest of PostPact, inside the same database transaction as the money change.

Escrow never imports the marketplace; the marketplace implements ``EscrowListener`` (marketplace/payments/bridge.py)
and hands it to ``EscrowService``. Every method runs inside the escrow transaction: if it raises, the money change
rolls back with it.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Protocol
from uuid import UUID

from sqlalchemy.ext.asyncio import AsyncSession

if TYPE_CHECKING:
    from escrow.models import EscrowHold, PayoutAccount


class EscrowListener(Protocol):
    async def lock_subject(self, session: AsyncSession, collaboration_id: UUID) -> None:
        """Called before escrow locks its own row, so every path takes locks in one order
        (collaboration → escrow → ledger) and concurrent decisions queue instead of deadlocking."""
        ...

    async def schedule_provider_call(self, session: AsyncSession, call_id: UUID) -> None:
        """A provider call was decided; run it after this transaction commits (a job)."""
        ...

    async def on_funded(self, session: AsyncSession, hold: EscrowHold, now: datetime) -> bool:
        """The money arrived and is held. Return False if the deal no longer wants it (it was cancelled while
        the brand paid): escrow then refunds it at once."""
        ...

    async def on_funding_failed(self, session: AsyncSession, hold: EscrowHold, now: datetime, message: str) -> None: ...

    async def payouts_blocked(self, session: AsyncSession, creator_id: UUID) -> bool:
        """True while the creator may not be paid (their account is suspended): releases are booked, but the
        transfer waits until this turns False and ``resume_waiting_transfers`` is called."""
        ...

    async def on_release_waiting(self, session: AsyncSession, hold: EscrowHold, now: datetime, *, amount: int) -> None:
        """A release of ``amount`` (the creator's part of this decision) is decided but the creator can't receive
        transfers yet (payout onboarding needed)."""
        ...

    async def on_released(self, session: AsyncSession, hold: EscrowHold, now: datetime, *, amount: int,
                          complete: bool) -> None: ...

    async def on_release_failed(self, session: AsyncSession, hold: EscrowHold, now: datetime, message: str) -> None: ...

    async def on_refunded(self, session: AsyncSession, hold: EscrowHold, now: datetime, *, amount: int) -> None: ...

    async def on_refund_failed(self, session: AsyncSession, hold: EscrowHold, now: datetime, message: str) -> None: ...

    async def on_frozen(self, session: AsyncSession, hold: EscrowHold, now: datetime, reason: str) -> None: ...

    async def on_settled(self, session: AsyncSession, hold: EscrowHold, now: datetime, *, creator_amount: int,
                         brand_amount: int) -> None: ...

    async def on_payout_account_updated(self, session: AsyncSession, account: PayoutAccount, now: datetime) -> None: ...


class NullListener:
    """For escrow's own tests and tools: accepts every funding, schedules nothing (calls are run explicitly)."""

    def __init__(self) -> None:
        self.scheduled: list[UUID] = []
        self.notes: list[tuple[str, UUID | None]] = []
        self.accept_funding = True
        #: Creators whose payouts are on hold (as a suspension would put them).
        self.blocked: set[UUID] = set()

    async def lock_subject(self, session: AsyncSession, collaboration_id: UUID) -> None:
        return None

    async def schedule_provider_call(self, session: AsyncSession, call_id: UUID) -> None:
        self.scheduled.append(call_id)

    async def payouts_blocked(self, session: AsyncSession, creator_id: UUID) -> bool:
        return creator_id in self.blocked

    async def on_funded(self, session: AsyncSession, hold: EscrowHold, now: datetime) -> bool:
        self.notes.append(("funded", hold.id))
        return self.accept_funding

    async def on_funding_failed(self, session: AsyncSession, hold: EscrowHold, now: datetime, message: str) -> None:
        self.notes.append(("funding_failed", hold.id))

    async def on_release_waiting(self, session: AsyncSession, hold: EscrowHold, now: datetime, *, amount: int) -> None:
        self.notes.append(("release_waiting", hold.id))

    async def on_released(self, session: AsyncSession, hold: EscrowHold, now: datetime, *, amount: int,
                          complete: bool) -> None:
        self.notes.append(("released", hold.id))

    async def on_release_failed(self, session: AsyncSession, hold: EscrowHold, now: datetime, message: str) -> None:
        self.notes.append(("release_failed", hold.id))

    async def on_refunded(self, session: AsyncSession, hold: EscrowHold, now: datetime, *, amount: int) -> None:
        self.notes.append(("refunded", hold.id))

    async def on_refund_failed(self, session: AsyncSession, hold: EscrowHold, now: datetime, message: str) -> None:
        self.notes.append(("refund_failed", hold.id))

    async def on_frozen(self, session: AsyncSession, hold: EscrowHold, now: datetime, reason: str) -> None:
        self.notes.append(("frozen", hold.id))

    async def on_settled(self, session: AsyncSession, hold: EscrowHold, now: datetime, *, creator_amount: int,
                         brand_amount: int) -> None:
        self.notes.append(("settled", hold.id))

    async def on_payout_account_updated(self, session: AsyncSession, account: PayoutAccount, now: datetime) -> None:
        self.notes.append(("payout_account", account.creator_id))
