"""Card disputes (chargebacks): take what is held, reverse what was paid out, book the rest; won cases hold again."""

from __future__ import annotations

import sqlalchemy as sa

from escrow import ledger
from escrow.context import EscrowContext, call_metadata, transfer_group
from escrow.models import CallStatus, Chargeback, EscrowHold, ProviderCall
from escrow.money import normalise_currency
from escrow.payouts import freeze_locked
from escrow.providers.base import Reversal
from escrow.states import EscrowAction

A = EscrowAction


async def record_chargeback(ctx: EscrowContext, *, dispute_id: str, amount: int, currency: str, status: str,
                            charge_ref: str | None = None, funding_ref: str | None = None) -> Chargeback | None:
    """A card dispute: the provider took ``amount`` back from the platform. Freezes the escrow, takes what is
    still held, tries to reverse what was already paid to the creator, and books the rest as a loss (or as
    recoverable from the creator if the reversal fails). Later calls update the status; "won" returns the
    money to the frozen escrow."""
    hold_id = None
    if charge_ref:
        hold_id = await ctx.session.scalar(sa.select(EscrowHold.id).where(EscrowHold.charge_ref == charge_ref))
    if hold_id is None and funding_ref:
        found = await ctx.hold_by_funding_ref(funding_ref)
        hold_id = found.id if found else None
    if hold_id is None:
        return None
    hold = await ctx.lock(escrow_id=hold_id)
    assert hold is not None
    currency = normalise_currency(currency)
    case = await ctx.session.scalar(
        sa.select(Chargeback).where(Chargeback.provider_dispute_id == dispute_id).with_for_update())
    if case is None:
        take = min(amount, max(0, hold.available_amount))
        case = Chargeback(
            provider_dispute_id=dispute_id, charge_ref=charge_ref or hold.charge_ref, escrow_id=hold.id,
            collaboration_id=hold.collaboration_id, amount=amount, currency=currency, status=status,
            from_escrow_amount=take, opened_at=ctx.now,
        )
        ctx.session.add(case)
        await ledger.post(
            ctx.session, key=f"chargeback:{dispute_id}", kind="chargeback",
            legs=ledger.chargeback_legs(hold.id, amount, take, currency), now=ctx.now, actor=ctx.actor,
            escrow_id=hold.id, collaboration_id=hold.collaboration_id, provider_ref=dispute_id,
            memo="card payment disputed by the brand's bank",
        )
        hold.charged_back_amount += take
        await ctx.session.flush()
        await _start_reversals(ctx, hold, case, amount - take)
        await freeze_locked(ctx, hold, "chargeback")
    else:
        case.status = status
    if status == "won" and case.closed_at is None:
        await _chargeback_won(ctx, hold, case)
    elif status in ("lost", "charge_refunded", "warning_closed") and case.closed_at is None:
        case.closed_at = ctx.now
    return case


async def _start_reversals(ctx: EscrowContext, hold: EscrowHold, case: Chargeback, shortfall: int) -> None:
    if shortfall <= 0:
        return
    transfers = [c for c in await ctx.calls_of(hold)
                 if c.operation == "transfer" and c.status is CallStatus.SUCCEEDED and c.result_ref]
    remaining = shortfall
    for k, transfer in enumerate(reversed(transfers), start=1):
        if remaining <= 0:
            break
        reversed_already = sum(
            c.amount for c in await ctx.calls_of(hold)
            if c.operation == "reverse_transfer" and c.params.get("transfer_ref") == transfer.result_ref
            and c.status is not CallStatus.FAILED
        )
        part = min(remaining, transfer.amount - reversed_already)
        if part <= 0:
            continue
        key = f"chargeback:{case.provider_dispute_id}:reversal:{k}"
        await ctx.new_call(hold, key=key, operation="reverse_transfer", amount=part, currency=hold.currency,
                           params={"transfer_ref": transfer.result_ref, "amount": part,
                                   "reversed_before": reversed_already,
                                   "dispute_id": case.provider_dispute_id,
                                   "transfer_group": transfer_group(hold.collaboration_id),
                                   "metadata": call_metadata(hold, key)})
        remaining -= part


async def post_reversal(ctx: EscrowContext, hold: EscrowHold, call: ProviderCall, reversal: Reversal) -> None:
    """Our reversal for a chargeback went through: the money is recovered from the creator."""
    if call.status is not CallStatus.READY:
        return
    await ledger.post(
        ctx.session, key=f"reversal:{reversal.ref}", kind="reversal",
        legs=ledger.reversal_legs(reversal.amount, hold.currency), now=ctx.now, actor=ctx.actor,
        escrow_id=hold.id, collaboration_id=hold.collaboration_id, provider_ref=reversal.ref,
        memo="recovered from the creator for a chargeback",
    )
    hold.released_creator_amount -= reversal.amount
    hold.charged_back_amount += reversal.amount
    case = await _case_for(ctx, call)
    if case is not None:
        case.reversed_amount += reversal.amount
    call.status = CallStatus.SUCCEEDED
    call.result_ref = reversal.ref
    call.completed_at = ctx.now


async def reversal_failed(ctx: EscrowContext, hold: EscrowHold, call: ProviderCall, message: str) -> None:
    """The creator's balance couldn't cover the reversal: they owe it back (booked as recoverable)."""
    case = await _case_for(ctx, call)
    dispute = case.provider_dispute_id if case else call.idempotency_key
    await ledger.post(
        ctx.session, key=f"chargeback:{dispute}:recoverable:{call.idempotency_key.rsplit(':', 1)[-1]}",
        kind="recoverable", legs=ledger.recoverable_legs(hold.creator_id, call.amount, hold.currency),
        now=ctx.now, actor=ctx.actor, escrow_id=hold.id, collaboration_id=hold.collaboration_id,
        memo="the creator owes this back after a chargeback",
    )
    if case is not None:
        case.recoverable_amount += call.amount
    call.status = CallStatus.FAILED
    call.last_error = message[:1000]
    call.completed_at = ctx.now
    await ctx.move(hold, A.NOTE, reversal_failed=message, recoverable=call.amount)


async def _case_for(ctx: EscrowContext, call: ProviderCall) -> Chargeback | None:
    dispute = call.params.get("dispute_id")
    if not dispute:
        return None
    return await ctx.session.scalar(sa.select(Chargeback).where(Chargeback.provider_dispute_id == dispute))


async def _chargeback_won(ctx: EscrowContext, hold: EscrowHold, case: Chargeback) -> None:
    back = case.from_escrow_amount + case.reversed_amount
    await ledger.post(
        ctx.session, key=f"chargeback:{case.provider_dispute_id}:won", kind="chargeback_won",
        legs=ledger.chargeback_won_legs(hold.id, hold.creator_id, case.amount, back, case.recoverable_amount,
                                        hold.currency),
        now=ctx.now, actor=ctx.actor, escrow_id=hold.id, collaboration_id=hold.collaboration_id,
        provider_ref=case.provider_dispute_id, memo="chargeback won: the money is held again",
    )
    hold.charged_back_amount -= back
    case.closed_at = ctx.now
    await ctx.move(hold, A.NOTE, chargeback_won=case.provider_dispute_id, held_again=back)
