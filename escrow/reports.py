"""Provider reports (webhooks, reconciliation): refunds, transfers and reversals, ours or made outside PostPact.

Idempotent and order-independent: a report that arrives twice changes nothing the second time, and a refund
reported before the payment it belongs to is kept (deferred) and applied when the payment arrives.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from escrow import commission, ledger
from escrow.chargebacks import post_reversal
from escrow.context import EscrowContext
from escrow.models import CallStatus, DeferredProviderObject, EscrowHold, Phase, ProviderCall
from escrow.payouts import freeze_locked
from escrow.providers.base import Refund, Reversal, Transfer, TransferStatus
from escrow.settlement import fail_locked, post_refund, post_transfer
from escrow.states import PENDING, EscrowAction, EscrowState

A = EscrowAction
S = EscrowState


async def apply_refund(ctx: EscrowContext, refund: Refund) -> EscrowHold | None:
    """A refund the provider reports (ours, or one made in the provider's dashboard)."""
    if await ledger.find_transaction(ctx.session, f"funding:{refund.funding_ref}") is None:
        await _defer(ctx, "refund", refund.ref, refund.funding_ref, _refund_payload(refund))
        return None
    found = await ctx.hold_by_funding_ref(refund.funding_ref)
    if found is None:
        return None
    hold = await ctx.lock(collaboration_id=found.collaboration_id)
    assert hold is not None
    call = await _match_refund_call(ctx, hold, refund)
    if refund.status in ("failed", "canceled"):
        if call is not None:
            await fail_locked(ctx, hold, call, "The refund failed at the payment provider.")
        return hold
    if refund.status != "succeeded":
        return hold
    if call is not None:
        await post_refund(ctx, hold, call, refund.ref)
    elif await ledger.find_transaction(ctx.session, f"refund:{refund.ref}") is None:
        await _external_refund(ctx, hold, refund)
    return hold


async def _match_refund_call(ctx: EscrowContext, hold: EscrowHold, refund: Refund) -> ProviderCall | None:
    calls = [c for c in await ctx.calls_of(hold) if c.operation == "refund"]
    for call in calls:
        if call.result_ref == refund.ref:
            return call
    for call in calls:
        if (call.status is CallStatus.READY and call.amount == refund.amount
                and call.params.get("funding_ref") == refund.funding_ref):
            return call
    return None


async def _external_refund(ctx: EscrowContext, hold: EscrowHold, refund: Refund) -> None:
    """Refunded outside PostPact (the provider's dashboard): take it from what is held; anything beyond that
    is PostPact's loss, and the escrow is frozen for an admin to look at."""
    take = min(refund.amount, hold.available_amount) if hold.state in (S.FUNDED, S.FROZEN) else 0
    if take:
        await ctx.move(hold, A.REQUEST_REFUND if hold.state is S.FUNDED else A.RESOLVE_REFUND,
                       external=refund.ref, amount=take)
        pending, _ = await ledger.post(
            ctx.session, key=f"refund:{refund.ref}:decision", kind="refund", phase=Phase.PENDING,
            legs=ledger.refund_legs(hold.id, hold.brand_id, take, hold.currency), now=ctx.now,
            actor=ctx.actor, escrow_id=hold.id, collaboration_id=hold.collaboration_id,
            provider_ref=refund.ref, memo="refunded outside PostPact",
        )
        await ledger.resolve(ctx.session, pending, post_it=True, now=ctx.now, actor=ctx.actor,
                             provider_ref=refund.ref)
        await ledger.post(
            ctx.session, key=f"refund:{refund.ref}", kind="refund_paid",
            legs=ledger.refund_paid_legs(hold.brand_id, take, hold.currency), now=ctx.now, actor=ctx.actor,
            escrow_id=hold.id, collaboration_id=hold.collaboration_id, provider_ref=refund.ref,
            memo="refunded to the brand's card",
        )
        hold.refunded_amount += take
        await ctx.move(hold, A.REFUND_POSTED if hold.available_amount == 0 else A.REFUND_POSTED_PARTIAL,
                       amount=take, refund=refund.ref)
        await ctx.listener.on_refunded(ctx.session, hold, ctx.now, amount=take)
    rest = refund.amount - take
    if rest:
        await ledger.post(
            ctx.session, key=f"refund:{refund.ref}:loss", kind="dispute_loss",
            legs=[ledger.dr(ledger.dispute_loss(), rest, hold.currency),
                  ledger.cr(ledger.platform_cash(), rest, hold.currency)],
            now=ctx.now, actor=ctx.actor, escrow_id=hold.id, collaboration_id=hold.collaboration_id,
            provider_ref=refund.ref, memo="refunded outside PostPact beyond what was held",
        )
        if hold.state not in PENDING:
            await freeze_locked(ctx, hold, "refunded outside PostPact")


async def apply_transfer(ctx: EscrowContext, transfer: Transfer) -> EscrowHold | None:
    key = transfer.metadata.get("call_key") if transfer.metadata else None
    call = await ctx.session.scalar(sa.select(ProviderCall).where(
        ProviderCall.idempotency_key == key if key else ProviderCall.result_ref == transfer.ref))
    if call is not None and commission.is_commission_call(call):
        locked_call = await ctx.lock_call(call.id)
        assert locked_call is not None
        await commission.complete(ctx, locked_call[0], transfer)
        return None
    if call is None or call.escrow_id is None:
        return None
    locked = await ctx.lock_call(call.id)
    assert locked is not None
    call, hold = locked
    assert hold is not None
    if transfer.status is TransferStatus.FAILED:
        await fail_locked(ctx, hold, call, "The transfer to the creator failed.")
    else:
        await post_transfer(ctx, hold, call, transfer.ref)
    return hold


async def apply_reversal(ctx: EscrowContext, reversal: Reversal) -> EscrowHold | None:
    """A transfer reversal (ours for a chargeback, or one made in the dashboard)."""
    if await ledger.find_transaction(ctx.session, f"reversal:{reversal.ref}") is not None:
        return None
    transfer_call = await ctx.session.scalar(
        sa.select(ProviderCall).where(ProviderCall.result_ref == reversal.transfer_ref,
                                      ProviderCall.operation == "transfer"))
    if transfer_call is None or transfer_call.escrow_id is None:
        return None
    hold = await ctx.lock(escrow_id=transfer_call.escrow_id)
    assert hold is not None
    ours = await ctx.session.scalar(
        sa.select(ProviderCall).where(
            ProviderCall.escrow_id == hold.id, ProviderCall.operation == "reverse_transfer",
            sa.or_(ProviderCall.result_ref == reversal.ref,
                   sa.and_(ProviderCall.status == CallStatus.READY, ProviderCall.amount == reversal.amount)),
        ).with_for_update())
    if ours is not None:
        await post_reversal(ctx, hold, ours, reversal)
        return hold
    # Not ours: the money came back from the creator; hold it again and let an admin decide.
    await ledger.post(
        ctx.session, key=f"reversal:{reversal.ref}", kind="reversal",
        legs=[ledger.dr(ledger.platform_cash(), reversal.amount, hold.currency),
              ledger.cr(ledger.escrow_held(hold.id), reversal.amount, hold.currency)],
        now=ctx.now, actor=ctx.actor, escrow_id=hold.id, collaboration_id=hold.collaboration_id,
        provider_ref=reversal.ref, memo="transfer reversed outside PostPact",
    )
    hold.released_creator_amount -= reversal.amount
    if hold.state not in PENDING:
        await freeze_locked(ctx, hold, "a transfer was reversed outside PostPact")
    return hold


# --- deferred reports ---------------------------------------------------------------------------------------------


async def _defer(ctx: EscrowContext, kind: str, ref: str, depends_on: str, payload: dict[str, Any]) -> None:
    existing = await ctx.session.scalar(sa.select(DeferredProviderObject).where(DeferredProviderObject.ref == ref))
    if existing is None:
        ctx.session.add(DeferredProviderObject(kind=kind, ref=ref, depends_on_ref=depends_on, payload=payload))
    else:
        existing.payload = payload
    await ctx.session.flush()


async def apply_deferred(ctx: EscrowContext, funding_ref: str) -> None:
    """The payment ``funding_ref`` arrived: apply the reports that were waiting for it."""
    rows = list(await ctx.session.scalars(
        sa.select(DeferredProviderObject).where(
            DeferredProviderObject.depends_on_ref == funding_ref, DeferredProviderObject.applied_at.is_(None))))
    for row in rows:
        row.applied_at = ctx.now
        if row.kind == "refund":
            refund = Refund(**row.payload)
            hold = await ctx.hold_by_funding_ref(funding_ref)
            if hold is None:
                continue
            call = await _match_refund_call(ctx, hold, refund)
            if refund.status == "succeeded":
                if call is not None:
                    await post_refund(ctx, hold, call, refund.ref)
                elif await ledger.find_transaction(ctx.session, f"refund:{refund.ref}") is None:
                    await _external_refund(ctx, hold, refund)


def _refund_payload(refund: Refund) -> dict[str, Any]:
    return {"ref": refund.ref, "funding_ref": refund.funding_ref, "amount": refund.amount,
            "currency": refund.currency, "status": refund.status}
