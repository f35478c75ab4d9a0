"""The provider-call lifecycle the executor drives: begin an attempt, note a transient failure, complete or fail.

A call is decided inside a money decision (``ctx.new_call``), made after commit by ``escrow.executor``, and its
answer applied here in a new locked transaction: ``complete_call`` dispatches by operation, ``fail_call`` voids.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

from escrow import commission
from escrow.chargebacks import post_reversal, reversal_failed
from escrow.context import EscrowContext
from escrow.funding import apply_funding
from escrow.models import CallStatus, EscrowHold, ProviderCall
from escrow.payout_accounts import apply_payout_account
from escrow.providers.base import Funding, Refund, Reversal, Transfer, TransferStatus
from escrow.providers.base import PayoutAccount as ProviderPayoutAccount
from escrow.settlement import fail_locked, post_refund, post_transfer
from escrow.states import EscrowAction, EscrowState

A = EscrowAction
S = EscrowState


async def begin_attempt(ctx: EscrowContext, call_id: UUID) -> tuple[ProviderCall, EscrowHold | None] | None:
    """Before a provider call is made: promote a waiting transfer whose creator can now be paid, and record
    the attempt. Returns the call and its (locked) hold, or None when there is nothing to send (done, failed, or
    still waiting)."""
    locked = await ctx.lock_call(call_id)
    if locked is None:
        return None
    call, hold = locked
    if call.status is CallStatus.WAITING:
        account = await ctx.payout_account(call.creator_id) if call.creator_id else None
        if account is None or not account.transfers_active or not account.account_ref:
            return None
        if call.creator_id and await ctx.listener.payouts_blocked(ctx.session, call.creator_id):
            return None
        call.params = {**call.params, "destination": account.account_ref}
        call.status = CallStatus.READY
    if call.status is not CallStatus.READY:
        return None
    call.attempts += 1
    call.first_attempt_at = call.first_attempt_at or ctx.now
    call.last_attempt_at = ctx.now
    await ctx.session.flush()
    return call, hold


async def record_transient_failure(ctx: EscrowContext, call_id: UUID, message: str, retry_at: datetime) -> None:
    call = await ctx.session.get(ProviderCall, call_id, with_for_update=True)
    if call is not None and call.status is CallStatus.READY:
        call.last_error = message[:1000]
        call.next_attempt_at = retry_at


async def complete_call(ctx: EscrowContext, call_id: UUID, result: Any, *, provider: str | None = None,
                        collaboration_id: UUID | None = None) -> None:
    """Apply what the provider answered to a call we made (idempotent). ``collaboration_id``: the call's escrow's
    collaboration when the caller knows it (see ``EscrowContext.lock_call``)."""
    locked = await ctx.lock_call(call_id, collaboration_id=collaboration_id)
    if locked is None:
        return
    call, hold = locked
    if provider and call.operation == "transfer":
        # A transfer's post writes the call's row with it (``escrow.carried``): set it first to go out there.
        call.provider = provider
    await _apply_answer(ctx, call, hold, result, provider)
    if provider and call.provider != provider:
        # Set last otherwise, so it goes out with the call's other changes (the postings flush on the way). Set only
        # when it differs: setting a written value again would mark the written call changed and make commit flush.
        call.provider = provider


async def _apply_answer(ctx: EscrowContext, call: ProviderCall, hold: EscrowHold | None, result: Any,
                        provider: str | None) -> None:
    if commission.is_commission_call(call):
        await commission.complete(ctx, call, result)
        return
    if call.operation == "create_funding":
        assert isinstance(result, Funding)
        if hold is not None and hold.provider is None:
            hold.provider = provider
        await apply_funding(ctx, result)
        if call.status is not CallStatus.SUCCEEDED:
            call.status = CallStatus.SUCCEEDED
            call.result_ref = result.ref
            call.completed_at = ctx.now
    elif call.operation == "transfer":
        assert isinstance(result, Transfer) and hold is not None
        if result.status is TransferStatus.FAILED:
            await fail_locked(ctx, hold, call, "The transfer to the creator failed.")
        else:
            await post_transfer(ctx, hold, call, result.ref)
    elif call.operation == "refund":
        assert isinstance(result, Refund) and hold is not None
        if result.status in ("failed", "canceled"):
            await fail_locked(ctx, hold, call, "The refund failed at the payment provider.")
        else:
            await post_refund(ctx, hold, call, result.ref)
    elif call.operation == "reverse_transfer":
        assert isinstance(result, Reversal) and hold is not None
        await post_reversal(ctx, hold, call, result)
    elif call.operation == "create_payout_account":
        assert isinstance(result, ProviderPayoutAccount)
        call.status = CallStatus.SUCCEEDED
        call.result_ref = result.ref
        call.completed_at = ctx.now
        await apply_payout_account(ctx, result, creator_id=call.creator_id, provider=provider)


async def fail_call(ctx: EscrowContext, call_id: UUID, message: str) -> None:
    """The provider refused for good: void the pending posting and move the escrow back, with a clear message."""
    locked = await ctx.lock_call(call_id)
    if locked is None:
        return
    call, hold = locked
    if call.status not in (CallStatus.READY, CallStatus.WAITING):
        return
    if commission.is_commission_call(call):
        await commission.fail(ctx, call, message)
        return
    if call.operation == "reverse_transfer" and hold is not None:
        await reversal_failed(ctx, hold, call, message)
        return
    if hold is None or call.operation in ("create_funding", "create_payout_account"):
        call.status = CallStatus.FAILED
        call.last_error = message[:1000]
        call.completed_at = ctx.now
        if hold is not None and call.operation == "create_funding" and hold.state is S.FUNDING:
            hold.last_message = message[:500]
            await ctx.move(hold, A.FUNDING_FAILED, message=message)
            await ctx.listener.on_funding_failed(ctx.session, hold, ctx.now, message)
        return
    await fail_locked(ctx, hold, call, message)
