"""Applying a provider's answer to one of our calls: post its pending posting (transfer, refund) or void it.

Shared by the call lifecycle (``escrow.calls``, answers to calls we made) and provider reports (``escrow.reports``,
the same answers arriving by webhook or reconciliation); each function is idempotent.
"""

from __future__ import annotations

from escrow import ledger
from escrow.context import EscrowContext
from escrow.models import CallStatus, EscrowHold, LedgerTransaction, ProviderCall
from escrow.payouts import freeze_if_requested, mark_release_posted, maybe_finish_split, tell_release_posted
from escrow.states import EscrowAction, EscrowState

A = EscrowAction
S = EscrowState


async def fail_locked(ctx: EscrowContext, hold: EscrowHold, call: ProviderCall, message: str) -> None:
    """The provider refused a transfer or refund for good: void it and move the escrow back, with a message."""
    if call.status not in (CallStatus.READY, CallStatus.WAITING):
        return
    await ctx.void_call(hold, call, message)
    split = call.params.get("split")
    if split is not None:
        await maybe_finish_split(ctx, hold, split)
        return
    if call.params.get("source") == "brand_funding":
        await ctx.move(hold, A.NOTE, return_failed=message)
        return
    hold.last_message = message[:500]
    if call.operation == "transfer" and hold.state is S.RELEASE_PENDING:
        await ctx.move(hold, A.RELEASE_VOIDED, message=message)
        await ctx.listener.on_release_failed(ctx.session, hold, ctx.now, message)
    elif call.operation == "refund" and hold.state is S.REFUND_PENDING:
        await ctx.move(hold, A.REFUND_VOIDED, message=message)
        await ctx.listener.on_refund_failed(ctx.session, hold, ctx.now, message)
    await freeze_if_requested(ctx, hold)


async def post_transfer(ctx: EscrowContext, hold: EscrowHold, call: ProviderCall, transfer_ref: str) -> None:
    if call.status is CallStatus.SUCCEEDED:
        return
    if call.status is CallStatus.FAILED:
        # Voided before the provider's success arrived (should not happen: voids only follow a refusal).
        await ctx.move(hold, A.NOTE, late_transfer=transfer_ref)
        return
    assert call.pending_transaction_id is not None
    part = call.amount
    fee = int(call.params.get("fee", 0))
    # The call carries what its pending posting reserved (``reserve_release``: its key, the creator's part and the
    # fee share), so the post and the provider's transfer are written together without reading the pending one
    # back. Its resolution is new (we hold the open call locked), and so is the transfer's key (only this call
    # books it); the unique keys and ``pending_id`` still refuse a second one.
    pending = ledger.PendingRef(id=call.pending_transaction_id, idempotency_key=call.idempotency_key,
                                kind="release", escrow_id=hold.id, collaboration_id=hold.collaboration_id)
    hold.reserved_amount -= part + fee
    hold.released_creator_amount += part
    hold.released_fee_amount += fee
    call.status = CallStatus.SUCCEEDED
    call.result_ref = transfer_ref
    call.completed_at = ctx.now
    split = call.params.get("split")
    # The hold, its event and the call change before the postings are written, so their statement carries them
    # (``escrow.carried``); what the listener does follows.
    complete = await mark_release_posted(ctx, hold, call, part, fee) if split is None else False
    await ledger.write(ctx.session, [
        ledger.resolution(pending, post_it=True, provider_ref=transfer_ref,
                          legs=ledger.release_legs(hold.id, hold.creator_id, part, fee, hold.currency)),
        ledger.Posting(key=f"transfer:{transfer_ref}", kind="transfer",
                       legs=ledger.transfer_legs(hold.creator_id, part, hold.currency), escrow_id=hold.id,
                       collaboration_id=hold.collaboration_id, provider_ref=transfer_ref,
                       memo="transferred to the creator's payout account"),
    ], now=ctx.now, actor=ctx.actor)
    if split is not None:
        await maybe_finish_split(ctx, hold, split)
    else:
        await tell_release_posted(ctx, hold, part, complete=complete)


async def post_refund(ctx: EscrowContext, hold: EscrowHold, call: ProviderCall, refund_ref: str) -> None:
    if call.status is not CallStatus.READY:
        return
    pending = await ctx.session.get(LedgerTransaction, call.pending_transaction_id)
    assert pending is not None
    await ledger.resolve(ctx.session, pending, post_it=True, now=ctx.now, actor=ctx.actor, provider_ref=refund_ref,
                         open_call=True)
    await ledger.post(
        ctx.session, key=f"refund:{refund_ref}", kind="refund_paid",
        legs=ledger.refund_paid_legs(hold.brand_id, call.amount, hold.currency), now=ctx.now, actor=ctx.actor,
        escrow_id=hold.id, collaboration_id=hold.collaboration_id, provider_ref=refund_ref,
        memo="refunded to the brand's card",
    )
    call.status = CallStatus.SUCCEEDED
    call.result_ref = refund_ref
    call.completed_at = ctx.now
    if call.params.get("source") == "brand_funding":
        await ctx.move(hold, A.NOTE, returned=call.amount, refund=refund_ref)
        return
    hold.reserved_amount -= call.amount
    hold.refunded_amount += call.amount
    split = call.params.get("split")
    if split is not None:
        await maybe_finish_split(ctx, hold, split)
        return
    hold.last_message = None
    complete = hold.available_amount == 0
    await ctx.move(hold, A.REFUND_POSTED if complete else A.REFUND_POSTED_PARTIAL, amount=call.amount,
                   refund=refund_ref)
    await ctx.listener.on_refunded(ctx.session, hold, ctx.now, amount=call.amount)
    await freeze_if_requested(ctx, hold)
