"""What every family of escrow actions shares: the transaction context, locking a hold, moving its state, calls.

An ``EscrowContext`` is one database transaction's view of escrow (session, clock reading, listener, actor). Locks
are always taken in one order: the collaboration (through the listener), the escrow hold, then the call row.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, NamedTuple
from uuid import UUID

import sqlalchemy as sa
from advanced_alchemy.mixins.uuid import uuid7
from sqlalchemy.ext.asyncio import AsyncSession

from escrow import ledger
from escrow.events import EscrowListener
from escrow.models import CallStatus, EscrowHold, LedgerTransaction, PayoutAccount, ProviderCall
from escrow.states import PENDING, EscrowAction
from escrow.transition import lock_hold, transition


def transfer_group(collaboration_id: UUID) -> str:
    return f"collab:{collaboration_id}"


def call_metadata(hold: EscrowHold, key: str) -> dict[str, str]:
    """What the provider stores with an object we create, so its reports lead back to the hold and the call."""
    return {"escrow_id": str(hold.id), "collaboration_id": str(hold.collaboration_id), "call_key": key}


def why_not(hold: EscrowHold | None, what: str) -> str:
    if hold is None:
        return f"Can't {what}: this deal was never funded."
    if hold.state in PENDING:
        return f"Can't {what}: a payment for this deal is already in progress."
    return f"Can't {what} while the escrow is {hold.state.value.replace('_', ' ')}."


# The money path's locks, built once (bind parameters), so each use skips building the statement and its cache key.
_LOCK_WITH_PAYOUT_ACCOUNT = (
    sa.select(EscrowHold, PayoutAccount.transfers_active, PayoutAccount.account_ref)
    .outerjoin(PayoutAccount, PayoutAccount.creator_id == EscrowHold.creator_id)
    .where(EscrowHold.collaboration_id == sa.bindparam("collaboration_id"))
    .with_for_update(of=EscrowHold).execution_options(populate_existing=True)
)
_LOCK_HOLD_AND_CALL = (
    sa.select(EscrowHold, ProviderCall)
    .join(ProviderCall, ProviderCall.escrow_id == EscrowHold.id)
    .where(EscrowHold.collaboration_id == sa.bindparam("collaboration_id"), ProviderCall.id == sa.bindparam("call_id"))
    .with_for_update().execution_options(populate_existing=True)
)


class PayoutReadiness(NamedTuple):
    """What a release reads of the creator's payout account (no entity loaded for it): can it take transfers, where."""

    transfers_active: bool
    account_ref: str | None


@dataclass(frozen=True)
class EscrowContext:
    session: AsyncSession
    now: datetime
    listener: EscrowListener
    actor: str
    #: The caller makes this transaction's provider calls itself right after commit (``ProviderCallExecutor.
    #: execute`` with the ``Attempt``): each call is recorded with its first attempt, and no job is scheduled.
    attempt_calls: bool = False

    # --- locking ----------------------------------------------------------------------------------------------------

    async def lock(self, *, collaboration_id: UUID | None = None, escrow_id: UUID | None = None) -> EscrowHold | None:
        """The hold, locked after its collaboration (the fixed lock order)."""
        if collaboration_id is None:
            assert escrow_id is not None
            collaboration_id = await self.session.scalar(
                sa.select(EscrowHold.collaboration_id).where(EscrowHold.id == escrow_id)
            )
            if collaboration_id is None:
                return None
        await self.listener.lock_subject(self.session, collaboration_id)
        return await lock_hold(self.session, collaboration_id=collaboration_id)

    async def lock_with_payout_account(self, collaboration_id: UUID
                                       ) -> tuple[EscrowHold | None, PayoutReadiness | None]:
        """The hold, locked after its collaboration, and its creator's payout account's readiness (read, not
        locked; None: they have no account), in one statement."""
        await self.listener.lock_subject(self.session, collaboration_id)
        row = (await self.session.execute(_LOCK_WITH_PAYOUT_ACCOUNT, {"collaboration_id": collaboration_id})
               ).one_or_none()
        if row is None:
            return None, None
        hold, transfers_active, account_ref = row
        # transfers_active is NOT NULL: NULL here means the outer join found no account.
        return hold, PayoutReadiness(transfers_active, account_ref) if transfers_active is not None else None

    async def lock_call(self, call_id: UUID, *,
                        collaboration_id: UUID | None = None) -> tuple[ProviderCall, EscrowHold | None] | None:
        """A provider call and its hold, locked hold first. ``collaboration_id``: the call's escrow's collaboration
        when the caller already knows it (the executor, from the attempt it recorded), saving the look-up."""
        if collaboration_id is not None:
            await self.listener.lock_subject(self.session, collaboration_id)
            # Both rows in one statement: PostgreSQL locks a joined row's tables in the order of the FROM list,
            # hold then call, the fixed order.
            both = (await self.session.execute(
                _LOCK_HOLD_AND_CALL, {"collaboration_id": collaboration_id, "call_id": call_id})).one_or_none()
            if both is not None:
                return both[1], both[0]
            hold = await lock_hold(self.session, collaboration_id=collaboration_id)
            call = await self._lock_call_row(call_id)
            if call is None:
                return None
            if hold is not None and call.escrow_id == hold.id:
                return call, hold
            raise ValueError(f"provider call {call_id} does not belong to collaboration {collaboration_id}")
        # Which hold and collaboration, in one read (nothing locked yet: the locks follow in the fixed order).
        found = (await self.session.execute(
            sa.select(ProviderCall.escrow_id, EscrowHold.collaboration_id)
            .outerjoin(EscrowHold, EscrowHold.id == ProviderCall.escrow_id)
            .where(ProviderCall.id == call_id)
        )).one_or_none()
        if found is None:
            return None
        escrow_id, collaboration_id = found
        if escrow_id is not None and collaboration_id is not None:
            return await self.lock_call(call_id, collaboration_id=collaboration_id)
        call = await self._lock_call_row(call_id)
        assert call is not None
        return call, None

    async def _lock_call_row(self, call_id: UUID) -> ProviderCall | None:
        return await self.session.scalar(
            sa.select(ProviderCall).where(ProviderCall.id == call_id).with_for_update()
            .execution_options(populate_existing=True)
        )

    async def move(self, hold: EscrowHold, action: EscrowAction, **payload: Any) -> None:
        await transition(self.session, hold, action, actor=self.actor, now=self.now, payload=payload)

    # --- provider calls ---------------------------------------------------------------------------------------------

    async def new_call(self, hold: EscrowHold | None, *, key: str, operation: str, amount: int, currency: str | None,
                       params: dict[str, Any], pending: LedgerTransaction | None = None,
                       pending_id: UUID | None = None, creator_id: UUID | None = None,
                       waiting: bool = False) -> ProviderCall:
        """Record a decided provider call (made after commit by the executor); a waiting one is not scheduled.
        ``pending_id``: its pending posting's id, when that is posted after (the call then rides along in the
        posting's statement, ``escrow.carried``). The row is written with the session's next flush."""
        call = ProviderCall(
            id=uuid7(),
            idempotency_key=key,
            operation=operation,
            escrow_id=hold.id if hold is not None else None,
            creator_id=creator_id or (hold.creator_id if hold is not None else None),
            pending_transaction_id=pending.id if pending is not None else pending_id,
            amount=amount,
            currency=currency,
            params=params,
            status=CallStatus.WAITING if waiting else CallStatus.READY,
            next_attempt_at=self.now,
        )
        attempting = self.attempt_calls and not waiting
        if attempting:
            # Committed with the decision: a crash before the answer is recorded leaves it to ``recover()``, as
            # any attempt; the idempotency key is committed before the call either way.
            call.attempts = 1
            call.first_attempt_at = call.last_attempt_at = self.now
        self.session.add(call)
        if not waiting and not attempting:
            await self.listener.schedule_provider_call(self.session, call.id)
        return call

    async def void_call(self, hold: EscrowHold, call: ProviderCall, message: str) -> None:
        """Void the call's pending posting and release what it reserved; the call ends failed."""
        pending = await self.session.get(LedgerTransaction, call.pending_transaction_id)
        assert pending is not None
        await ledger.resolve(self.session, pending, post_it=False, now=self.now, actor=self.actor, memo=message)
        if call.params.get("source") != "brand_funding":
            hold.reserved_amount -= call.amount + int(call.params.get("fee", 0))
        call.status = CallStatus.FAILED
        call.last_error = message[:1000]
        call.completed_at = self.now

    async def calls_of(self, hold: EscrowHold) -> list[ProviderCall]:
        return list(
            await self.session.scalars(
                sa.select(ProviderCall).where(ProviderCall.escrow_id == hold.id).order_by(ProviderCall.created_at)
            )
        )

    async def unfinished_calls(self, hold: EscrowHold) -> list[ProviderCall]:
        return [c for c in await self.calls_of(hold)
                if c.status in (CallStatus.READY, CallStatus.WAITING) and c.pending_transaction_id is not None]

    async def open_call(self, hold: EscrowHold, operation: str) -> ProviderCall | None:
        return await self.session.scalar(
            sa.select(ProviderCall)
            .where(
                ProviderCall.escrow_id == hold.id,
                ProviderCall.operation == operation,
                ProviderCall.status.in_([CallStatus.READY, CallStatus.WAITING, CallStatus.SUCCEEDED]),
            )
            .order_by(ProviderCall.created_at.desc(), ProviderCall.id.desc())
            .limit(1)
        )

    # --- lookups ----------------------------------------------------------------------------------------------------

    async def hold_for(self, collaboration_id: UUID) -> EscrowHold | None:
        return await self.session.scalar(sa.select(EscrowHold).where(EscrowHold.collaboration_id == collaboration_id))

    async def hold_by_funding_ref(self, funding_ref: str) -> EscrowHold | None:
        hold = await self.session.scalar(sa.select(EscrowHold).where(EscrowHold.funding_ref == funding_ref))
        if hold is not None:
            return hold
        txn = await ledger.find_transaction(self.session, f"funding:{funding_ref}")
        return await self.session.get(EscrowHold, txn.escrow_id) if txn and txn.escrow_id else None

    async def payout_account(self, creator_id: UUID) -> PayoutAccount | None:
        return await self.session.scalar(sa.select(PayoutAccount).where(PayoutAccount.creator_id == creator_id))
