"""EscrowService: every money decision and every provider report goes through here, one locked transaction each.

Deciding (fund, release, refund, freeze, resolve) records a pending ledger posting and a ``ProviderCall`` with a
deterministic idempotency key in the caller's transaction; the call is made after commit (``escrow.executor``) and
its result applied by ``complete_call`` / ``fail_call``. Provider reports from webhooks and reconciliation
(``apply_funding``, ``apply_refund``, ``apply_transfer``, ``apply_reversal``, ``record_chargeback``,
``apply_payout_account``) are idempotent and order-independent: a report that arrives twice changes nothing the
second time, and one that arrives before what it depends on is kept and applied when that arrives.

Locks are always taken in one order: the collaboration (through the listener), the escrow hold, then the call row.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from escrow import ledger
from escrow.events import EscrowListener
from escrow.models import (
    CallStatus,
    Chargeback,
    DeferredProviderObject,
    EscrowHold,
    LedgerTransaction,
    PayoutAccount,
    Phase,
    ProviderCall,
)
from escrow.money import basis_points, normalise_currency
from escrow.providers.base import Funding, FundingStatus, Refund, Reversal, Transfer, TransferStatus
from escrow.providers.base import PayoutAccount as ProviderPayoutAccount
from escrow.states import PENDING, EscrowAction, EscrowState, IllegalEscrowTransition, lock_hold, transition

A = EscrowAction
S = EscrowState


class EscrowError(Exception):
    """A money decision that is not possible now; ``message`` is written for people."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class EscrowConflict(EscrowError):
    pass


@dataclass(frozen=True)
class FundingRequest:
    """What escrow needs to know about a deal to hold money for it (taken from the collaboration's terms)."""

    collaboration_id: UUID
    brand_id: UUID
    creator_id: UUID
    creator_amount: int
    currency: str
    description: str = ""


def transfer_group(collaboration_id: UUID) -> str:
    return f"collab:{collaboration_id}"


class EscrowService:
    def __init__(self, session: AsyncSession, *, now: datetime, listener: EscrowListener,
                 platform_fee_bps: int = 800, actor: str = "system") -> None:
        self.session = session
        self.now = now
        self.listener = listener
        self.platform_fee_bps = platform_fee_bps
        self.actor = actor

    # --- locking ----------------------------------------------------------------------------------------------------

    async def _lock(self, *, collaboration_id: UUID | None = None, escrow_id: UUID | None = None) -> EscrowHold | None:
        if collaboration_id is None:
            assert escrow_id is not None
            collaboration_id = await self.session.scalar(
                sa.select(EscrowHold.collaboration_id).where(EscrowHold.id == escrow_id)
            )
            if collaboration_id is None:
                return None
        await self.listener.lock_subject(self.session, collaboration_id)
        return await lock_hold(self.session, collaboration_id=collaboration_id)

    async def _move(self, hold: EscrowHold, action: EscrowAction, **payload: Any) -> None:
        await transition(self.session, hold, action, actor=self.actor, now=self.now, payload=payload)

    async def _new_call(self, hold: EscrowHold | None, *, key: str, operation: str, amount: int, currency: str | None,
                        params: dict[str, Any], pending: LedgerTransaction | None = None,
                        creator_id: UUID | None = None, waiting: bool = False) -> ProviderCall:
        call = ProviderCall(
            idempotency_key=key,
            operation=operation,
            escrow_id=hold.id if hold is not None else None,
            creator_id=creator_id or (hold.creator_id if hold is not None else None),
            pending_transaction_id=pending.id if pending is not None else None,
            amount=amount,
            currency=currency,
            params=params,
            status=CallStatus.WAITING if waiting else CallStatus.READY,
            next_attempt_at=self.now,
        )
        self.session.add(call)
        await self.session.flush()
        if not waiting:
            await self.listener.schedule_provider_call(self.session, call.id)
        return call

    # --- funding ----------------------------------------------------------------------------------------------------

    async def hold_for(self, collaboration_id: UUID) -> EscrowHold | None:
        return await self.session.scalar(sa.select(EscrowHold).where(EscrowHold.collaboration_id == collaboration_id))

    async def start_funding(self, request: FundingRequest, *, return_url: str) -> ProviderCall | None:
        """Decide to take the brand's money for one deal (bulk funding calls this once per deal). Starting again
        while a payment is in progress returns the same call, so a double click never charges twice.
        Returns None for a deal with nothing to pay (it is funded at once)."""
        currency = normalise_currency(request.currency)
        await self.listener.lock_subject(self.session, request.collaboration_id)
        hold = await lock_hold(self.session, collaboration_id=request.collaboration_id)
        if hold is None:
            fee = basis_points(request.creator_amount, self.platform_fee_bps)
            hold = EscrowHold(
                collaboration_id=request.collaboration_id,
                brand_id=request.brand_id,
                creator_id=request.creator_id,
                currency=currency,
                creator_amount=request.creator_amount,
                platform_fee_amount=fee,
                status=S.AWAITING_FUNDING,
                status_changed_at=self.now,
            )
            self.session.add(hold)
            await self.session.flush()
        if hold.state is S.FUNDING:
            existing = await self._open_call(hold, "create_funding")
            if existing is not None:
                return existing
        if hold.state not in (S.AWAITING_FUNDING, S.FUNDING_FAILED, S.FUNDING):
            raise EscrowConflict(
                "This deal is already funded." if hold.funded_amount else "This deal can no longer be funded."
            )
        if hold.state is not S.FUNDING:
            await self._move(hold, A.START_FUNDING)
        hold.last_message = None
        if hold.gross_amount == 0:
            await self._move(hold, A.FUNDING_SUCCEEDED, note="nothing to pay")
            hold.funded_at = self.now
            await self.listener.on_funded(self.session, hold, self.now)
            return None
        hold.funding_seq += 1
        key = f"collab:{hold.collaboration_id}:fund:{hold.funding_seq}"
        return await self._new_call(
            hold,
            key=key,
            operation="create_funding",
            amount=hold.gross_amount,
            currency=hold.currency,
            params={
                "amount": hold.gross_amount,
                "currency": hold.currency,
                "transfer_group": transfer_group(hold.collaboration_id),
                "description": request.description[:200] or "PostPact escrow",
                "metadata": self._metadata(hold, key),
                "return_url": return_url,
            },
        )

    def _metadata(self, hold: EscrowHold, key: str) -> dict[str, str]:
        return {"escrow_id": str(hold.id), "collaboration_id": str(hold.collaboration_id), "call_key": key}

    async def _open_call(self, hold: EscrowHold, operation: str) -> ProviderCall | None:
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

    async def _find_hold_for_funding(self, funding: Funding) -> EscrowHold | None:
        escrow_id = funding.metadata.get("escrow_id") if funding.metadata else None
        if escrow_id:
            hold = await self.session.get(EscrowHold, UUID(escrow_id))
            if hold is not None:
                return hold
        hold = await self.session.scalar(sa.select(EscrowHold).where(EscrowHold.funding_ref == funding.ref))
        if hold is not None:
            return hold
        call = await self.session.scalar(
            sa.select(ProviderCall).where(ProviderCall.result_ref == funding.ref, ProviderCall.escrow_id.is_not(None))
        )
        return await self.session.get(EscrowHold, call.escrow_id) if call is not None else None

    async def apply_funding(self, funding: Funding) -> EscrowHold | None:
        """A funding's status as the provider reports it (call result, webhook, reconciliation)."""
        found = await self._find_hold_for_funding(funding)
        if found is None:
            return None
        hold = await self._lock(collaboration_id=found.collaboration_id)
        assert hold is not None
        await self._settle_funding_call(hold, funding)
        if funding.status is FundingStatus.SUCCEEDED:
            await self._funding_succeeded(hold, funding)
        elif funding.status in (FundingStatus.FAILED, FundingStatus.CANCELED):
            if hold.state is S.FUNDING and hold.funding_ref in (None, funding.ref):
                message = funding.failure_message or "The payment did not go through."
                hold.funding_ref = funding.ref
                hold.last_message = message[:500]
                await self._move(hold, A.FUNDING_FAILED, funding=funding.ref, message=message)
                await self.listener.on_funding_failed(self.session, hold, self.now, message)
        elif hold.funding_ref is None and hold.state is S.FUNDING:
            hold.funding_ref = funding.ref
            hold.checkout_url = funding.checkout_url
        return hold

    async def _settle_funding_call(self, hold: EscrowHold, funding: Funding) -> None:
        key = funding.metadata.get("call_key") if funding.metadata else None
        query = sa.select(ProviderCall).where(ProviderCall.escrow_id == hold.id)
        query = query.where(
            ProviderCall.idempotency_key == key if key else ProviderCall.result_ref == funding.ref
        ).with_for_update()
        call = await self.session.scalar(query)
        if call is None or call.status is CallStatus.SUCCEEDED:
            return
        call.status = CallStatus.SUCCEEDED
        call.result_ref = funding.ref
        call.completed_at = self.now
        if hold.state is S.FUNDING and funding.status is FundingStatus.PENDING:
            hold.funding_ref = funding.ref
            hold.checkout_url = funding.checkout_url

    async def _funding_succeeded(self, hold: EscrowHold, funding: Funding) -> None:
        key = f"funding:{funding.ref}"
        currency = normalise_currency(funding.currency)
        _, created = await ledger.post(
            self.session, key=key, kind="fund", legs=ledger.fund_legs(hold.brand_id, funding.amount, currency),
            now=self.now, actor=self.actor, escrow_id=hold.id, collaboration_id=hold.collaboration_id,
            provider_ref=funding.ref, memo="payment received from the brand",
        )
        if funding.provider_fee:
            _, fee_created = await ledger.post(
                self.session, key=f"{key}:fee", kind="provider_fee",
                legs=ledger.provider_fee_legs(funding.provider_fee, currency), now=self.now, actor=self.actor,
                escrow_id=hold.id, collaboration_id=hold.collaboration_id, provider_ref=funding.ref,
                memo="payment provider's processing fee",
            )
            if fee_created:
                hold.provider_fee_amount += funding.provider_fee
        if not created:
            return
        holdable = (
            hold.state in (S.FUNDING, S.FUNDING_FAILED, S.AWAITING_FUNDING)
            and hold.funding_ref in (None, funding.ref)
            and funding.amount == hold.gross_amount
            and currency == hold.currency
        )
        if not holdable:
            # Paid for a deal that was cancelled or already funded: the money goes straight back.
            await self._return_unallocated(hold, funding, currency)
            return
        await ledger.post(
            self.session, key=f"{key}:hold", kind="hold",
            legs=ledger.hold_legs(hold.brand_id, hold.id, funding.amount, currency), now=self.now, actor=self.actor,
            escrow_id=hold.id, collaboration_id=hold.collaboration_id, provider_ref=funding.ref,
            memo="held in escrow for the collaboration",
        )
        hold.funded_amount += funding.amount
        hold.funding_ref = funding.ref
        hold.charge_ref = funding.charge_ref
        hold.funded_at = self.now
        hold.last_message = None
        if hold.state is S.AWAITING_FUNDING:
            await self._move(hold, A.START_FUNDING)
        await self._move(hold, A.FUNDING_SUCCEEDED, funding=funding.ref, amount=funding.amount)
        accepted = await self.listener.on_funded(self.session, hold, self.now)
        await self._apply_deferred(funding.ref)
        if not accepted and hold.state is S.FUNDED:
            await self._request_refund_locked(hold, reason="The deal ended before the payment arrived.")

    async def _return_unallocated(self, hold: EscrowHold, funding: Funding, currency: str) -> None:
        key = f"funding:{funding.ref}:return"
        pending, _ = await ledger.post(
            self.session, key=key, kind="refund", phase=Phase.PENDING,
            legs=ledger.return_funding_legs(hold.brand_id, funding.amount, currency), now=self.now, actor=self.actor,
            escrow_id=hold.id, collaboration_id=hold.collaboration_id, provider_ref=funding.ref,
            memo="returning a payment the deal could not take",
        )
        await self._new_call(
            hold, key=key, operation="refund", amount=funding.amount, currency=currency, pending=pending,
            params={"funding_ref": funding.ref, "amount": funding.amount, "currency": currency,
                    "metadata": self._metadata(hold, key), "source": "brand_funding"},
        )
        await self._move(hold, A.NOTE, returned_funding=funding.ref, amount=funding.amount)

    async def cancel(self, collaboration_id: UUID) -> EscrowHold | None:
        """The deal ended before funding: close the escrow (a payment that still arrives is returned)."""
        hold = await self._lock(collaboration_id=collaboration_id)
        if hold is not None and hold.state in (S.AWAITING_FUNDING, S.FUNDING, S.FUNDING_FAILED):
            await self._move(hold, A.CANCEL)
        return hold

    # --- release ----------------------------------------------------------------------------------------------------

    async def request_release(self, collaboration_id: UUID, *, amount: int | None = None,
                              reason: str = "") -> ProviderCall | None:
        """Pay the creator ``amount`` of their fee (default: all that is left), with PostPact's fee share.
        Waits in ``release_pending`` until the creator can receive transfers."""
        hold = await self._lock(collaboration_id=collaboration_id)
        if hold is None or hold.state not in (S.FUNDED, S.FROZEN):
            raise EscrowConflict(self._why_not(hold, "pay the creator"))
        part = hold.creator_amount_remaining if amount is None else amount
        if part < 0 or part > hold.creator_amount_remaining:
            raise EscrowConflict(f"At most {hold.creator_amount_remaining} can still be released.")
        fee = ledger.fee_share(hold.platform_fee_amount, hold.creator_amount, hold.released_creator_amount,
                               hold.released_fee_amount, part)
        if part + fee > hold.available_amount:
            raise EscrowConflict("Not enough money is held for this release.")
        await self._move(hold, A.REQUEST_RELEASE if hold.state is S.FUNDED else A.RESOLVE_RELEASE,
                         amount=part, fee=fee, reason=reason)
        hold.release_seq += 1
        key = f"collab:{hold.collaboration_id}:release:{hold.release_seq}"
        return await self._reserve_release(hold, key, part, fee, kind="release")

    async def _reserve_release(self, hold: EscrowHold, key: str, part: int, fee: int, *, kind: str,
                               split: int | None = None) -> ProviderCall | None:
        if part + fee == 0:
            if split is None:
                await self._after_release_posted(hold, None, 0, 0, split=None)
            return None
        pending, _ = await ledger.post(
            self.session, key=key, kind=kind, phase=Phase.PENDING,
            legs=ledger.release_legs(hold.id, hold.creator_id, part, fee, hold.currency), now=self.now,
            actor=self.actor, escrow_id=hold.id, collaboration_id=hold.collaboration_id,
            memo="payment to the creator",
        )
        hold.reserved_amount += part + fee
        if part == 0:
            # Only PostPact's fee share moves: nothing to transfer, post at once.
            await ledger.resolve(self.session, pending, post_it=True, now=self.now, actor=self.actor)
            hold.reserved_amount -= fee
            hold.released_fee_amount += fee
            if split is None:
                await self._after_release_posted(hold, None, 0, fee, split=None)
            return None
        account = await self._payout_account(hold.creator_id)
        blocked = await self.listener.payouts_blocked(self.session, hold.creator_id)
        ready = account is not None and account.transfers_active and account.account_ref is not None and not blocked
        params: dict[str, Any] = {
            "amount": part,
            "fee": fee,
            "currency": hold.currency,
            "transfer_group": transfer_group(hold.collaboration_id),
            "source_charge_ref": hold.charge_ref,
            "metadata": self._metadata(hold, key),
        }
        if split is not None:
            params["split"] = split
        if ready:
            assert account is not None
            params["destination"] = account.account_ref
        call = await self._new_call(hold, key=key, operation="transfer", amount=part, currency=hold.currency,
                                    params=params, pending=pending, waiting=not ready)
        if blocked:
            hold.last_message = "The creator's account is under review; the payment goes out once it is cleared."
        elif not ready:
            hold.last_message = "Waiting for the creator to set up payouts; the payment goes out as soon as they do."
            await self.listener.on_release_waiting(self.session, hold, self.now)
        return call

    async def _payout_account(self, creator_id: UUID) -> PayoutAccount | None:
        return await self.session.scalar(sa.select(PayoutAccount).where(PayoutAccount.creator_id == creator_id))

    async def _after_release_posted(self, hold: EscrowHold, call: ProviderCall | None, part: int, fee: int,
                                    *, split: int | None) -> None:
        if split is not None:
            await self._maybe_finish_split(hold, split)
            return
        complete = hold.creator_amount_remaining == 0 and hold.available_amount == 0
        hold.last_message = None
        await self._move(hold, A.RELEASE_POSTED if complete else A.RELEASE_POSTED_PARTIAL, amount=part, fee=fee,
                         transfer=call.result_ref if call else None)
        await self.listener.on_released(self.session, hold, self.now, amount=part, complete=complete)
        await self._freeze_if_requested(hold)

    # --- refund -----------------------------------------------------------------------------------------------------

    async def request_refund(self, collaboration_id: UUID, *, reason: str = "") -> ProviderCall | None:
        """Return everything still held to the brand. Before funding this just closes the escrow."""
        hold = await self._lock(collaboration_id=collaboration_id)
        if hold is None:
            return None
        if hold.state in (S.AWAITING_FUNDING, S.FUNDING, S.FUNDING_FAILED):
            await self._move(hold, A.CANCEL, reason=reason)
            return None
        if hold.state is S.CANCELLED:
            return None
        if hold.state not in (S.FUNDED, S.FROZEN):
            raise EscrowConflict(self._why_not(hold, "refund the brand"))
        return await self._request_refund_locked(hold, reason=reason)

    async def _request_refund_locked(self, hold: EscrowHold, *, reason: str) -> ProviderCall | None:
        amount = hold.available_amount
        await self._move(hold, A.REQUEST_REFUND if hold.state is S.FUNDED else A.RESOLVE_REFUND,
                         amount=amount, reason=reason)
        hold.refund_seq += 1
        key = f"collab:{hold.collaboration_id}:refund:{hold.refund_seq}"
        return await self._reserve_refund(hold, key, amount)

    async def _reserve_refund(self, hold: EscrowHold, key: str, amount: int, *,
                              split: int | None = None) -> ProviderCall | None:
        if amount == 0:
            if split is None:
                await self._move(hold, A.REFUND_POSTED, amount=0)
                await self.listener.on_refunded(self.session, hold, self.now, amount=0)
            return None
        pending, _ = await ledger.post(
            self.session, key=key, kind="refund", phase=Phase.PENDING,
            legs=ledger.refund_legs(hold.id, hold.brand_id, amount, hold.currency), now=self.now, actor=self.actor,
            escrow_id=hold.id, collaboration_id=hold.collaboration_id, memo="refund to the brand",
        )
        hold.reserved_amount += amount
        params: dict[str, Any] = {
            "funding_ref": hold.funding_ref,
            "amount": amount,
            "currency": hold.currency,
            "metadata": self._metadata(hold, key),
            # What the provider already refunded on this payment: lets recovery recognise this refund later.
            "refunded_before": hold.refunded_amount,
        }
        if split is not None:
            params["split"] = split
        return await self._new_call(hold, key=key, operation="refund", amount=amount, currency=hold.currency,
                                    params=params, pending=pending)

    # --- freeze and dispute decisions ------------------------------------------------------------------------------

    async def freeze(self, collaboration_id: UUID, *, reason: str = "") -> EscrowHold | None:
        """A dispute or chargeback: nothing is released or refunded until an admin decides. A release waiting for
        onboarding is withdrawn; one already sent to the provider finishes first and the freeze follows."""
        hold = await self._lock(collaboration_id=collaboration_id)
        if hold is None or hold.state in (S.AWAITING_FUNDING, S.FUNDING, S.FUNDING_FAILED, S.CANCELLED):
            return hold
        await self._freeze_locked(hold, reason)
        return hold

    async def _freeze_locked(self, hold: EscrowHold, reason: str) -> None:
        if hold.state in PENDING:
            calls = await self._unfinished_calls(hold)
            if any(c.status is CallStatus.READY and c.attempts > 0 for c in calls) or hold.state is S.SPLIT_PENDING:
                hold.freeze_requested_at = self.now
                await self._move(hold, A.NOTE, freeze_requested=reason)
                return
            for call in calls:
                await self._void_call(hold, call, "Withdrawn: the deal is frozen while a dispute is open.")
        await self._move(hold, A.FREEZE, reason=reason)
        hold.freeze_requested_at = None
        await self.listener.on_frozen(self.session, hold, self.now, reason)

    async def _freeze_if_requested(self, hold: EscrowHold) -> None:
        if hold.freeze_requested_at is not None and hold.state not in PENDING:
            await self._freeze_locked(hold, "a chargeback arrived while a payment was in progress")

    async def resolve_split(self, collaboration_id: UUID, *, creator_amount: int,
                            reason: str = "") -> list[ProviderCall]:
        """An admin's decision on a frozen escrow: ``creator_amount`` of the creator's fee to the creator (with its
        PostPact fee share), everything else still held back to the brand."""
        hold = await self._lock(collaboration_id=collaboration_id)
        if hold is None or hold.state is not S.FROZEN:
            raise EscrowConflict(self._why_not(hold, "split the money"))
        if creator_amount < 0 or creator_amount > hold.creator_amount_remaining:
            raise EscrowConflict(f"The creator's part must be between 0 and {hold.creator_amount_remaining}.")
        fee = ledger.fee_share(hold.platform_fee_amount, hold.creator_amount, hold.released_creator_amount,
                               hold.released_fee_amount, creator_amount)
        brand_part = hold.available_amount - creator_amount - fee
        if brand_part < 0:
            raise EscrowConflict("Not enough money is held for that split.")
        hold.split_seq += 1
        n = hold.split_seq
        await self._move(hold, A.RESOLVE_SPLIT, creator_amount=creator_amount, fee=fee, brand_amount=brand_part,
                         reason=reason, split=n)
        base = f"collab:{hold.collaboration_id}:split:{n}"
        calls = []
        if creator_amount + fee:
            call = await self._reserve_release(hold, f"{base}:creator", creator_amount, fee, kind="release", split=n)
            if call is not None:
                calls.append(call)
        if brand_part:
            call = await self._reserve_refund(hold, f"{base}:brand", brand_part, split=n)
            if call is not None:
                calls.append(call)
        if hold.state is S.SPLIT_PENDING:
            await self._maybe_finish_split(hold, n)
        return calls

    async def _maybe_finish_split(self, hold: EscrowHold, split: int) -> None:
        if hold.state is not S.SPLIT_PENDING:
            return
        calls = [c for c in await self._calls_of(hold) if c.params.get("split") == split]
        if any(c.status in (CallStatus.READY, CallStatus.WAITING) for c in calls):
            return
        if any(c.status is CallStatus.FAILED for c in calls):
            await self._move(hold, A.SPLIT_VOIDED, split=split)
            await self._freeze_if_requested(hold)
            return
        creator_part = sum(c.amount for c in calls if c.operation == "transfer")
        brand_part = sum(c.amount for c in calls if c.operation == "refund")
        hold.last_message = None
        await self._move(hold, A.SPLIT_POSTED, split=split, creator_amount=creator_part, brand_amount=brand_part)
        await self.listener.on_settled(self.session, hold, self.now, creator_amount=creator_part,
                                       brand_amount=brand_part)
        await self._freeze_if_requested(hold)

    def _why_not(self, hold: EscrowHold | None, what: str) -> str:
        if hold is None:
            return f"Can't {what}: this deal was never funded."
        if hold.state in PENDING:
            return f"Can't {what}: a payment for this deal is already in progress."
        return f"Can't {what} while the escrow is {hold.state.value.replace('_', ' ')}."

    # --- calls: completing and failing ------------------------------------------------------------------------------

    async def _calls_of(self, hold: EscrowHold) -> list[ProviderCall]:
        return list(
            await self.session.scalars(
                sa.select(ProviderCall).where(ProviderCall.escrow_id == hold.id).order_by(ProviderCall.created_at)
            )
        )

    async def _unfinished_calls(self, hold: EscrowHold) -> list[ProviderCall]:
        return [c for c in await self._calls_of(hold)
                if c.status in (CallStatus.READY, CallStatus.WAITING) and c.pending_transaction_id is not None]

    async def lock_call(self, call_id: UUID) -> tuple[ProviderCall, EscrowHold | None] | None:
        call = await self.session.get(ProviderCall, call_id)
        if call is None:
            return None
        hold = await self._lock(escrow_id=call.escrow_id) if call.escrow_id is not None else None
        call = await self.session.scalar(
            sa.select(ProviderCall).where(ProviderCall.id == call_id).with_for_update()
            .execution_options(populate_existing=True)
        )
        assert call is not None
        return call, hold

    async def begin_attempt(self, call_id: UUID) -> ProviderCall | None:
        """Before a provider call is made: promote a waiting transfer whose creator can now be paid, and record
        the attempt. Returns None when there is nothing to send (done, failed, or still waiting)."""
        locked = await self.lock_call(call_id)
        if locked is None:
            return None
        call, _hold = locked
        if call.status is CallStatus.WAITING:
            account = await self._payout_account(call.creator_id) if call.creator_id else None
            if account is None or not account.transfers_active or not account.account_ref:
                return None
            if call.creator_id and await self.listener.payouts_blocked(self.session, call.creator_id):
                return None
            call.params = {**call.params, "destination": account.account_ref}
            call.status = CallStatus.READY
        if call.status is not CallStatus.READY:
            return None
        call.attempts += 1
        call.first_attempt_at = call.first_attempt_at or self.now
        call.last_attempt_at = self.now
        await self.session.flush()
        return call

    async def record_transient_failure(self, call_id: UUID, message: str, retry_at: datetime) -> None:
        call = await self.session.get(ProviderCall, call_id, with_for_update=True)
        if call is not None and call.status is CallStatus.READY:
            call.last_error = message[:1000]
            call.next_attempt_at = retry_at

    async def complete_call(self, call_id: UUID, result: Any, *, provider: str | None = None) -> None:
        """Apply what the provider answered to a call we made (idempotent)."""
        locked = await self.lock_call(call_id)
        if locked is None:
            return
        call, hold = locked
        if provider:
            call.provider = provider
        if call.operation == "create_funding":
            assert isinstance(result, Funding)
            if hold is not None and hold.provider is None:
                hold.provider = provider
            await self.apply_funding(result)
            if call.status is not CallStatus.SUCCEEDED:
                call.status = CallStatus.SUCCEEDED
                call.result_ref = result.ref
                call.completed_at = self.now
        elif call.operation == "transfer":
            assert isinstance(result, Transfer) and hold is not None
            if result.status is TransferStatus.FAILED:
                await self._fail_locked(hold, call, "The transfer to the creator failed.")
            else:
                await self._post_transfer(hold, call, result.ref)
        elif call.operation == "refund":
            assert isinstance(result, Refund) and hold is not None
            if result.status in ("failed", "canceled"):
                await self._fail_locked(hold, call, "The refund failed at the payment provider.")
            else:
                await self._post_refund(hold, call, result.ref)
        elif call.operation == "reverse_transfer":
            assert isinstance(result, Reversal) and hold is not None
            await self._post_reversal(hold, call, result)
        elif call.operation == "create_payout_account":
            assert isinstance(result, ProviderPayoutAccount)
            call.status = CallStatus.SUCCEEDED
            call.result_ref = result.ref
            call.completed_at = self.now
            await self.apply_payout_account(result, creator_id=call.creator_id, provider=provider)

    async def fail_call(self, call_id: UUID, message: str) -> None:
        """The provider refused for good: void the pending posting and move the escrow back, with a clear message."""
        locked = await self.lock_call(call_id)
        if locked is None:
            return
        call, hold = locked
        if call.status not in (CallStatus.READY, CallStatus.WAITING):
            return
        if call.operation == "reverse_transfer" and hold is not None:
            await self._reversal_failed(hold, call, message)
            return
        if hold is None or call.operation in ("create_funding", "create_payout_account"):
            call.status = CallStatus.FAILED
            call.last_error = message[:1000]
            call.completed_at = self.now
            if hold is not None and call.operation == "create_funding" and hold.state is S.FUNDING:
                hold.last_message = message[:500]
                await self._move(hold, A.FUNDING_FAILED, message=message)
                await self.listener.on_funding_failed(self.session, hold, self.now, message)
            return
        await self._fail_locked(hold, call, message)

    async def _fail_locked(self, hold: EscrowHold, call: ProviderCall, message: str) -> None:
        if call.status not in (CallStatus.READY, CallStatus.WAITING):
            return
        await self._void_call(hold, call, message)
        split = call.params.get("split")
        if split is not None:
            await self._maybe_finish_split(hold, split)
            return
        if call.params.get("source") == "brand_funding":
            await self._move(hold, A.NOTE, return_failed=message)
            return
        hold.last_message = message[:500]
        if call.operation == "transfer" and hold.state is S.RELEASE_PENDING:
            await self._move(hold, A.RELEASE_VOIDED, message=message)
            await self.listener.on_release_failed(self.session, hold, self.now, message)
        elif call.operation == "refund" and hold.state is S.REFUND_PENDING:
            await self._move(hold, A.REFUND_VOIDED, message=message)
            await self.listener.on_refund_failed(self.session, hold, self.now, message)
        await self._freeze_if_requested(hold)

    async def _void_call(self, hold: EscrowHold, call: ProviderCall, message: str) -> None:
        pending = await self.session.get(LedgerTransaction, call.pending_transaction_id)
        assert pending is not None
        await ledger.resolve(self.session, pending, post_it=False, now=self.now, actor=self.actor, memo=message)
        if call.params.get("source") != "brand_funding":
            hold.reserved_amount -= call.amount + int(call.params.get("fee", 0))
        call.status = CallStatus.FAILED
        call.last_error = message[:1000]
        call.completed_at = self.now

    async def _post_transfer(self, hold: EscrowHold, call: ProviderCall, transfer_ref: str) -> None:
        if call.status is CallStatus.SUCCEEDED:
            return
        if call.status is CallStatus.FAILED:
            # Voided before the provider's success arrived (should not happen: voids only follow a refusal).
            await self._move(hold, A.NOTE, late_transfer=transfer_ref)
            return
        pending = await self.session.get(LedgerTransaction, call.pending_transaction_id)
        assert pending is not None
        await ledger.resolve(self.session, pending, post_it=True, now=self.now, actor=self.actor,
                             provider_ref=transfer_ref)
        part = call.amount
        fee = int(call.params.get("fee", 0))
        await ledger.post(
            self.session, key=f"transfer:{transfer_ref}", kind="transfer",
            legs=ledger.transfer_legs(hold.creator_id, part, hold.currency), now=self.now, actor=self.actor,
            escrow_id=hold.id, collaboration_id=hold.collaboration_id, provider_ref=transfer_ref,
            memo="transferred to the creator's payout account",
        )
        hold.reserved_amount -= part + fee
        hold.released_creator_amount += part
        hold.released_fee_amount += fee
        call.status = CallStatus.SUCCEEDED
        call.result_ref = transfer_ref
        call.completed_at = self.now
        await self._after_release_posted(hold, call, part, fee, split=call.params.get("split"))

    async def _post_refund(self, hold: EscrowHold, call: ProviderCall, refund_ref: str) -> None:
        if call.status is not CallStatus.READY:
            return
        pending = await self.session.get(LedgerTransaction, call.pending_transaction_id)
        assert pending is not None
        await ledger.resolve(self.session, pending, post_it=True, now=self.now, actor=self.actor,
                             provider_ref=refund_ref)
        await ledger.post(
            self.session, key=f"refund:{refund_ref}", kind="refund_paid",
            legs=ledger.refund_paid_legs(hold.brand_id, call.amount, hold.currency), now=self.now, actor=self.actor,
            escrow_id=hold.id, collaboration_id=hold.collaboration_id, provider_ref=refund_ref,
            memo="refunded to the brand's card",
        )
        call.status = CallStatus.SUCCEEDED
        call.result_ref = refund_ref
        call.completed_at = self.now
        if call.params.get("source") == "brand_funding":
            await self._move(hold, A.NOTE, returned=call.amount, refund=refund_ref)
            return
        hold.reserved_amount -= call.amount
        hold.refunded_amount += call.amount
        split = call.params.get("split")
        if split is not None:
            await self._maybe_finish_split(hold, split)
            return
        hold.last_message = None
        complete = hold.available_amount == 0
        await self._move(hold, A.REFUND_POSTED if complete else A.REFUND_POSTED_PARTIAL, amount=call.amount,
                         refund=refund_ref)
        await self.listener.on_refunded(self.session, hold, self.now, amount=call.amount)
        await self._freeze_if_requested(hold)

    # --- provider reports: refunds, transfers, reversals ------------------------------------------------------------

    async def _hold_by_funding_ref(self, funding_ref: str) -> EscrowHold | None:
        hold = await self.session.scalar(sa.select(EscrowHold).where(EscrowHold.funding_ref == funding_ref))
        if hold is not None:
            return hold
        txn = await ledger.find_transaction(self.session, f"funding:{funding_ref}")
        return await self.session.get(EscrowHold, txn.escrow_id) if txn and txn.escrow_id else None

    async def apply_refund(self, refund: Refund) -> EscrowHold | None:
        """A refund the provider reports (ours, or one made in the provider's dashboard)."""
        if await ledger.find_transaction(self.session, f"funding:{refund.funding_ref}") is None:
            await self._defer("refund", refund.ref, refund.funding_ref, _refund_payload(refund))
            return None
        found = await self._hold_by_funding_ref(refund.funding_ref)
        if found is None:
            return None
        hold = await self._lock(collaboration_id=found.collaboration_id)
        assert hold is not None
        call = await self._match_refund_call(hold, refund)
        if refund.status in ("failed", "canceled"):
            if call is not None:
                await self._fail_locked(hold, call, "The refund failed at the payment provider.")
            return hold
        if refund.status != "succeeded":
            return hold
        if call is not None:
            await self._post_refund(hold, call, refund.ref)
        elif await ledger.find_transaction(self.session, f"refund:{refund.ref}") is None:
            await self._external_refund(hold, refund)
        return hold

    async def _match_refund_call(self, hold: EscrowHold, refund: Refund) -> ProviderCall | None:
        calls = [c for c in await self._calls_of(hold) if c.operation == "refund"]
        for call in calls:
            if call.result_ref == refund.ref:
                return call
        for call in calls:
            if (call.status is CallStatus.READY and call.amount == refund.amount
                    and call.params.get("funding_ref") == refund.funding_ref):
                return call
        return None

    async def _external_refund(self, hold: EscrowHold, refund: Refund) -> None:
        """Refunded outside PostPact (the provider's dashboard): take it from what is held; anything beyond that
        is PostPact's loss, and the escrow is frozen for an admin to look at."""
        take = min(refund.amount, hold.available_amount) if hold.state in (S.FUNDED, S.FROZEN) else 0
        if take:
            await self._move(hold, A.REQUEST_REFUND if hold.state is S.FUNDED else A.RESOLVE_REFUND,
                             external=refund.ref, amount=take)
            pending, _ = await ledger.post(
                self.session, key=f"refund:{refund.ref}:decision", kind="refund", phase=Phase.PENDING,
                legs=ledger.refund_legs(hold.id, hold.brand_id, take, hold.currency), now=self.now,
                actor=self.actor, escrow_id=hold.id, collaboration_id=hold.collaboration_id,
                provider_ref=refund.ref, memo="refunded outside PostPact",
            )
            await ledger.resolve(self.session, pending, post_it=True, now=self.now, actor=self.actor,
                                 provider_ref=refund.ref)
            await ledger.post(
                self.session, key=f"refund:{refund.ref}", kind="refund_paid",
                legs=ledger.refund_paid_legs(hold.brand_id, take, hold.currency), now=self.now, actor=self.actor,
                escrow_id=hold.id, collaboration_id=hold.collaboration_id, provider_ref=refund.ref,
                memo="refunded to the brand's card",
            )
            hold.refunded_amount += take
            await self._move(hold, A.REFUND_POSTED if hold.available_amount == 0 else A.REFUND_POSTED_PARTIAL,
                             amount=take, refund=refund.ref)
            await self.listener.on_refunded(self.session, hold, self.now, amount=take)
        rest = refund.amount - take
        if rest:
            await ledger.post(
                self.session, key=f"refund:{refund.ref}:loss", kind="dispute_loss",
                legs=[ledger.dr(ledger.dispute_loss(), rest, hold.currency),
                      ledger.cr(ledger.platform_cash(), rest, hold.currency)],
                now=self.now, actor=self.actor, escrow_id=hold.id, collaboration_id=hold.collaboration_id,
                provider_ref=refund.ref, memo="refunded outside PostPact beyond what was held",
            )
            if hold.state not in PENDING:
                await self._freeze_locked(hold, "refunded outside PostPact")

    async def apply_transfer(self, transfer: Transfer) -> EscrowHold | None:
        key = transfer.metadata.get("call_key") if transfer.metadata else None
        call = await self.session.scalar(sa.select(ProviderCall).where(
            ProviderCall.idempotency_key == key if key else ProviderCall.result_ref == transfer.ref))
        if call is None or call.escrow_id is None:
            return None
        locked = await self.lock_call(call.id)
        assert locked is not None
        call, hold = locked
        assert hold is not None
        if transfer.status is TransferStatus.FAILED:
            await self._fail_locked(hold, call, "The transfer to the creator failed.")
        else:
            await self._post_transfer(hold, call, transfer.ref)
        return hold

    async def apply_reversal(self, reversal: Reversal) -> EscrowHold | None:
        """A transfer reversal (ours for a chargeback, or one made in the dashboard)."""
        if await ledger.find_transaction(self.session, f"reversal:{reversal.ref}") is not None:
            return None
        transfer_call = await self.session.scalar(
            sa.select(ProviderCall).where(ProviderCall.result_ref == reversal.transfer_ref,
                                          ProviderCall.operation == "transfer"))
        if transfer_call is None or transfer_call.escrow_id is None:
            return None
        hold = await self._lock(escrow_id=transfer_call.escrow_id)
        assert hold is not None
        ours = await self.session.scalar(
            sa.select(ProviderCall).where(
                ProviderCall.escrow_id == hold.id, ProviderCall.operation == "reverse_transfer",
                sa.or_(ProviderCall.result_ref == reversal.ref,
                       sa.and_(ProviderCall.status == CallStatus.READY, ProviderCall.amount == reversal.amount)),
            ).with_for_update())
        if ours is not None:
            await self._post_reversal(hold, ours, reversal)
            return hold
        # Not ours: the money came back from the creator; hold it again and let an admin decide.
        await ledger.post(
            self.session, key=f"reversal:{reversal.ref}", kind="reversal",
            legs=[ledger.dr(ledger.platform_cash(), reversal.amount, hold.currency),
                  ledger.cr(ledger.escrow_held(hold.id), reversal.amount, hold.currency)],
            now=self.now, actor=self.actor, escrow_id=hold.id, collaboration_id=hold.collaboration_id,
            provider_ref=reversal.ref, memo="transfer reversed outside PostPact",
        )
        hold.released_creator_amount -= reversal.amount
        if hold.state not in PENDING:
            await self._freeze_locked(hold, "a transfer was reversed outside PostPact")
        return hold

    # --- chargebacks ------------------------------------------------------------------------------------------------

    async def record_chargeback(self, *, dispute_id: str, amount: int, currency: str, status: str,
                                charge_ref: str | None = None, funding_ref: str | None = None) -> Chargeback | None:
        """A card dispute: the provider took ``amount`` back from the platform. Freezes the escrow, takes what is
        still held, tries to reverse what was already paid to the creator, and books the rest as a loss (or as
        recoverable from the creator if the reversal fails). Later calls update the status; "won" returns the
        money to the frozen escrow."""
        hold_id = None
        if charge_ref:
            hold_id = await self.session.scalar(sa.select(EscrowHold.id).where(EscrowHold.charge_ref == charge_ref))
        if hold_id is None and funding_ref:
            found = await self._hold_by_funding_ref(funding_ref)
            hold_id = found.id if found else None
        if hold_id is None:
            return None
        hold = await self._lock(escrow_id=hold_id)
        assert hold is not None
        currency = normalise_currency(currency)
        case = await self.session.scalar(
            sa.select(Chargeback).where(Chargeback.provider_dispute_id == dispute_id).with_for_update())
        if case is None:
            take = min(amount, max(0, hold.available_amount))
            case = Chargeback(
                provider_dispute_id=dispute_id, charge_ref=charge_ref or hold.charge_ref, escrow_id=hold.id,
                collaboration_id=hold.collaboration_id, amount=amount, currency=currency, status=status,
                from_escrow_amount=take, opened_at=self.now,
            )
            self.session.add(case)
            await ledger.post(
                self.session, key=f"chargeback:{dispute_id}", kind="chargeback",
                legs=ledger.chargeback_legs(hold.id, amount, take, currency), now=self.now, actor=self.actor,
                escrow_id=hold.id, collaboration_id=hold.collaboration_id, provider_ref=dispute_id,
                memo="card payment disputed by the brand's bank",
            )
            hold.charged_back_amount += take
            await self.session.flush()
            await self._start_reversals(hold, case, amount - take)
            await self._freeze_locked(hold, "chargeback")
        else:
            case.status = status
        if status == "won" and case.closed_at is None:
            await self._chargeback_won(hold, case)
        elif status in ("lost", "charge_refunded", "warning_closed") and case.closed_at is None:
            case.closed_at = self.now
        return case

    async def _start_reversals(self, hold: EscrowHold, case: Chargeback, shortfall: int) -> None:
        if shortfall <= 0:
            return
        transfers = [c for c in await self._calls_of(hold)
                     if c.operation == "transfer" and c.status is CallStatus.SUCCEEDED and c.result_ref]
        remaining = shortfall
        for k, transfer in enumerate(reversed(transfers), start=1):
            if remaining <= 0:
                break
            reversed_already = sum(
                c.amount for c in await self._calls_of(hold)
                if c.operation == "reverse_transfer" and c.params.get("transfer_ref") == transfer.result_ref
                and c.status is not CallStatus.FAILED
            )
            part = min(remaining, transfer.amount - reversed_already)
            if part <= 0:
                continue
            key = f"chargeback:{case.provider_dispute_id}:reversal:{k}"
            await self._new_call(hold, key=key, operation="reverse_transfer", amount=part, currency=hold.currency,
                                 params={"transfer_ref": transfer.result_ref, "amount": part,
                                         "reversed_before": reversed_already,
                                         "dispute_id": case.provider_dispute_id,
                                         "transfer_group": transfer_group(hold.collaboration_id),
                                         "metadata": self._metadata(hold, key)})
            remaining -= part

    async def _post_reversal(self, hold: EscrowHold, call: ProviderCall, reversal: Reversal) -> None:
        if call.status is not CallStatus.READY:
            return
        await ledger.post(
            self.session, key=f"reversal:{reversal.ref}", kind="reversal",
            legs=ledger.reversal_legs(reversal.amount, hold.currency), now=self.now, actor=self.actor,
            escrow_id=hold.id, collaboration_id=hold.collaboration_id, provider_ref=reversal.ref,
            memo="recovered from the creator for a chargeback",
        )
        hold.released_creator_amount -= reversal.amount
        hold.charged_back_amount += reversal.amount
        case = await self._case_for(call)
        if case is not None:
            case.reversed_amount += reversal.amount
        call.status = CallStatus.SUCCEEDED
        call.result_ref = reversal.ref
        call.completed_at = self.now

    async def _reversal_failed(self, hold: EscrowHold, call: ProviderCall, message: str) -> None:
        case = await self._case_for(call)
        dispute = case.provider_dispute_id if case else call.idempotency_key
        await ledger.post(
            self.session, key=f"chargeback:{dispute}:recoverable:{call.idempotency_key.rsplit(':', 1)[-1]}",
            kind="recoverable", legs=ledger.recoverable_legs(hold.creator_id, call.amount, hold.currency),
            now=self.now, actor=self.actor, escrow_id=hold.id, collaboration_id=hold.collaboration_id,
            memo="the creator owes this back after a chargeback",
        )
        if case is not None:
            case.recoverable_amount += call.amount
        call.status = CallStatus.FAILED
        call.last_error = message[:1000]
        call.completed_at = self.now
        await self._move(hold, A.NOTE, reversal_failed=message, recoverable=call.amount)

    async def _case_for(self, call: ProviderCall) -> Chargeback | None:
        dispute = call.params.get("dispute_id")
        if not dispute:
            return None
        return await self.session.scalar(sa.select(Chargeback).where(Chargeback.provider_dispute_id == dispute))

    async def _chargeback_won(self, hold: EscrowHold, case: Chargeback) -> None:
        back = case.from_escrow_amount + case.reversed_amount
        await ledger.post(
            self.session, key=f"chargeback:{case.provider_dispute_id}:won", kind="chargeback_won",
            legs=ledger.chargeback_won_legs(hold.id, hold.creator_id, case.amount, back, case.recoverable_amount,
                                            hold.currency),
            now=self.now, actor=self.actor, escrow_id=hold.id, collaboration_id=hold.collaboration_id,
            provider_ref=case.provider_dispute_id, memo="chargeback won: the money is held again",
        )
        hold.charged_back_amount -= back
        case.closed_at = self.now
        await self._move(hold, A.NOTE, chargeback_won=case.provider_dispute_id, held_again=back)

    # --- payout accounts --------------------------------------------------------------------------------------------

    async def request_payout_account(self, creator_id: UUID, *, email: str, country: str | None,
                                     provider: str) -> tuple[PayoutAccount, ProviderCall | None]:
        """A creator starts payout onboarding: create their account at the provider once (one call, one key)."""
        account = await self.session.scalar(
            sa.select(PayoutAccount).where(PayoutAccount.creator_id == creator_id).with_for_update())
        if account is None:
            account = PayoutAccount(creator_id=creator_id, provider=provider, requirements_due=[])
            self.session.add(account)
            await self.session.flush()
        if account.account_ref:
            return account, None
        key = f"creator:{creator_id}:payout_account"
        call = await self.session.scalar(sa.select(ProviderCall).where(ProviderCall.idempotency_key == key))
        if call is None:
            call = await self._new_call(None, key=key, operation="create_payout_account", amount=0, currency=None,
                                        creator_id=creator_id,
                                        params={"email": email, "country": country,
                                                "metadata": {"creator_id": str(creator_id), "call_key": key}})
        elif call.status is CallStatus.FAILED:
            call.status = CallStatus.READY
            call.next_attempt_at = self.now
            await self.listener.schedule_provider_call(self.session, call.id)
        return account, call

    async def apply_payout_account(self, update: ProviderPayoutAccount, *, creator_id: UUID | None = None,
                                   provider: str | None = None) -> PayoutAccount | None:
        """The provider's view of a creator's account; when it can take transfers, waiting releases go out."""
        account = await self.session.scalar(
            sa.select(PayoutAccount).where(PayoutAccount.account_ref == update.ref).with_for_update())
        if account is None and creator_id is not None:
            account = await self.session.scalar(
                sa.select(PayoutAccount).where(PayoutAccount.creator_id == creator_id).with_for_update())
            if account is None:
                account = PayoutAccount(creator_id=creator_id, provider=provider or "unknown", requirements_due=[])
                self.session.add(account)
        if account is None:
            return None
        before = (account.account_ref, account.transfers_active, account.details_submitted, account.payouts_enabled,
                  list(account.requirements_due or []))
        account.account_ref = update.ref
        account.transfers_active = update.transfers_active
        account.details_submitted = update.details_submitted
        account.payouts_enabled = update.payouts_enabled
        account.requirements_due = list(update.requirements_due)
        await self.session.flush()
        if account.transfers_active:
            await self.resume_waiting_transfers(account.creator_id)
        after = (account.account_ref, account.transfers_active, account.details_submitted, account.payouts_enabled,
                 list(account.requirements_due))
        if after != before:  # the provider repeats itself (webhooks, reconciliation): tell people only of changes
            await self.listener.on_payout_account_updated(self.session, account, self.now)
        return account

    async def resume_waiting_transfers(self, creator_id: UUID) -> int:
        """Schedule the creator's transfers that wait (for payout setup or a lifted hold); each one checks again
        before it is sent. Returns how many were scheduled."""
        waiting = list(await self.session.scalars(
            sa.select(ProviderCall.id).where(
                ProviderCall.creator_id == creator_id,
                ProviderCall.operation == "transfer",
                ProviderCall.status == CallStatus.WAITING,
            )
        ))
        for call_id in waiting:
            await self.listener.schedule_provider_call(self.session, call_id)
        return len(waiting)

    # --- deferred reports -------------------------------------------------------------------------------------------

    async def _defer(self, kind: str, ref: str, depends_on: str, payload: dict[str, Any]) -> None:
        existing = await self.session.scalar(
            sa.select(DeferredProviderObject).where(DeferredProviderObject.ref == ref))
        if existing is None:
            self.session.add(DeferredProviderObject(kind=kind, ref=ref, depends_on_ref=depends_on, payload=payload))
        else:
            existing.payload = payload
        await self.session.flush()

    async def _apply_deferred(self, funding_ref: str) -> None:
        rows = list(await self.session.scalars(
            sa.select(DeferredProviderObject).where(
                DeferredProviderObject.depends_on_ref == funding_ref, DeferredProviderObject.applied_at.is_(None))))
        for row in rows:
            row.applied_at = self.now
            if row.kind == "refund":
                refund = Refund(**row.payload)
                hold = await self._hold_by_funding_ref(funding_ref)
                if hold is None:
                    continue
                call = await self._match_refund_call(hold, refund)
                if refund.status == "succeeded":
                    if call is not None:
                        await self._post_refund(hold, call, refund.ref)
                    elif await ledger.find_transaction(self.session, f"refund:{refund.ref}") is None:
                        await self._external_refund(hold, refund)


def _refund_payload(refund: Refund) -> dict[str, Any]:
    return {"ref": refund.ref, "funding_ref": refund.funding_ref, "amount": refund.amount,
            "currency": refund.currency, "status": refund.status}


__all__ = [
    "EscrowConflict",
    "EscrowError",
    "EscrowService",
    "FundingRequest",
    "IllegalEscrowTransition",
    "transfer_group",
]
