"""Money into escrow: start a brand's payment, apply what the provider reports about it, cancel before funding.

A payment that arrives for a deal that can't take it (cancelled, already funded, wrong amount) is returned to the
brand at once.
"""

from __future__ import annotations

from dataclasses import dataclass
from uuid import UUID

import sqlalchemy as sa

from escrow import commission, ledger
from escrow.context import EscrowContext, call_metadata, transfer_group
from escrow.errors import EscrowConflict
from escrow.models import CallStatus, EscrowHold, Phase, ProviderCall
from escrow.money import basis_points, normalise_currency
from escrow.payouts import request_refund_locked
from escrow.providers.base import Funding, FundingStatus
from escrow.reports import apply_deferred
from escrow.states import EscrowAction, EscrowState

A = EscrowAction
S = EscrowState


@dataclass(frozen=True)
class FundingRequest:
    """What escrow needs to know about a deal to hold money for it (taken from the collaboration's terms)."""

    collaboration_id: UUID
    brand_id: UUID
    creator_id: UUID
    creator_amount: int
    currency: str
    description: str = ""


async def start_funding(ctx: EscrowContext, request: FundingRequest, *, return_url: str,
                        platform_fee_bps: int) -> ProviderCall | None:
    """Decide to take the brand's money for one deal (bulk funding calls this once per deal). Starting again
    while a payment is in progress returns the same call, so a double click never charges twice.
    PostPact's fee (``platform_fee_bps`` of the creator's fee) is fixed on the hold the first time.
    Returns None for a deal with nothing to pay (it is funded at once)."""
    currency = normalise_currency(request.currency)
    hold = await ctx.lock(collaboration_id=request.collaboration_id)
    if hold is None:
        hold = EscrowHold(
            collaboration_id=request.collaboration_id,
            brand_id=request.brand_id,
            creator_id=request.creator_id,
            currency=currency,
            creator_amount=request.creator_amount,
            platform_fee_amount=basis_points(request.creator_amount, platform_fee_bps),
            status=S.AWAITING_FUNDING,
            status_changed_at=ctx.now,
        )
        ctx.session.add(hold)
        await ctx.session.flush()
    if hold.state is S.FUNDING:
        existing = await ctx.open_call(hold, "create_funding")
        if existing is not None:
            return existing
    if hold.state not in (S.AWAITING_FUNDING, S.FUNDING_FAILED, S.FUNDING):
        raise EscrowConflict(
            "This deal is already funded." if hold.funded_amount else "This deal can no longer be funded."
        )
    if hold.state is not S.FUNDING:
        await ctx.move(hold, A.START_FUNDING)
    hold.last_message = None
    if hold.gross_amount == 0:
        await ctx.move(hold, A.FUNDING_SUCCEEDED, note="nothing to pay")
        hold.funded_at = ctx.now
        await ctx.listener.on_funded(ctx.session, hold, ctx.now)
        return None
    hold.funding_seq += 1
    key = f"collab:{hold.collaboration_id}:fund:{hold.funding_seq}"
    return await ctx.new_call(
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
            "metadata": call_metadata(hold, key),
            "return_url": return_url,
        },
    )


async def _find_hold_for_funding(ctx: EscrowContext, funding: Funding) -> EscrowHold | None:
    escrow_id = funding.metadata.get("escrow_id") if funding.metadata else None
    if escrow_id:
        hold = await ctx.session.get(EscrowHold, UUID(escrow_id))
        if hold is not None:
            return hold
    hold = await ctx.session.scalar(sa.select(EscrowHold).where(EscrowHold.funding_ref == funding.ref))
    if hold is not None:
        return hold
    call = await ctx.session.scalar(
        sa.select(ProviderCall).where(ProviderCall.result_ref == funding.ref, ProviderCall.escrow_id.is_not(None))
    )
    return await ctx.session.get(EscrowHold, call.escrow_id) if call is not None else None


async def apply_funding(ctx: EscrowContext, funding: Funding) -> EscrowHold | None:
    """A funding's status as the provider reports it (call result, webhook, reconciliation)."""
    if funding.metadata and commission.MARK in funding.metadata:
        await commission.apply_budget_funding(ctx, funding)
        return None
    found = await _find_hold_for_funding(ctx, funding)
    if found is None:
        return None
    hold = await ctx.lock(collaboration_id=found.collaboration_id)
    assert hold is not None
    await _settle_funding_call(ctx, hold, funding)
    if funding.status is FundingStatus.SUCCEEDED:
        await _funding_succeeded(ctx, hold, funding)
    elif funding.status in (FundingStatus.FAILED, FundingStatus.CANCELED):
        if hold.state is S.FUNDING and hold.funding_ref in (None, funding.ref):
            message = funding.failure_message or "The payment did not go through."
            hold.funding_ref = funding.ref
            hold.last_message = message[:500]
            await ctx.move(hold, A.FUNDING_FAILED, funding=funding.ref, message=message)
            await ctx.listener.on_funding_failed(ctx.session, hold, ctx.now, message)
    elif hold.funding_ref is None and hold.state is S.FUNDING:
        hold.funding_ref = funding.ref
        hold.checkout_url = funding.checkout_url
    return hold


async def _settle_funding_call(ctx: EscrowContext, hold: EscrowHold, funding: Funding) -> None:
    key = funding.metadata.get("call_key") if funding.metadata else None
    query = sa.select(ProviderCall).where(ProviderCall.escrow_id == hold.id)
    query = query.where(
        ProviderCall.idempotency_key == key if key else ProviderCall.result_ref == funding.ref
    ).with_for_update()
    call = await ctx.session.scalar(query)
    if call is None or call.status is CallStatus.SUCCEEDED:
        return
    call.status = CallStatus.SUCCEEDED
    call.result_ref = funding.ref
    call.completed_at = ctx.now
    if hold.state is S.FUNDING and funding.status is FundingStatus.PENDING:
        hold.funding_ref = funding.ref
        hold.checkout_url = funding.checkout_url


async def _funding_succeeded(ctx: EscrowContext, hold: EscrowHold, funding: Funding) -> None:
    key = f"funding:{funding.ref}"
    currency = normalise_currency(funding.currency)
    _, created = await ledger.post(
        ctx.session, key=key, kind="fund", legs=ledger.fund_legs(hold.brand_id, funding.amount, currency),
        now=ctx.now, actor=ctx.actor, escrow_id=hold.id, collaboration_id=hold.collaboration_id,
        provider_ref=funding.ref, memo="payment received from the brand",
    )
    if funding.provider_fee:
        _, fee_created = await ledger.post(
            ctx.session, key=f"{key}:fee", kind="provider_fee",
            legs=ledger.provider_fee_legs(funding.provider_fee, currency), now=ctx.now, actor=ctx.actor,
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
        await _return_unallocated(ctx, hold, funding, currency)
        return
    await ledger.post(
        ctx.session, key=f"{key}:hold", kind="hold",
        legs=ledger.hold_legs(hold.brand_id, hold.id, funding.amount, currency), now=ctx.now, actor=ctx.actor,
        escrow_id=hold.id, collaboration_id=hold.collaboration_id, provider_ref=funding.ref,
        memo="held in escrow for the collaboration",
    )
    hold.funded_amount += funding.amount
    hold.funding_ref = funding.ref
    hold.charge_ref = funding.charge_ref
    hold.funded_at = ctx.now
    hold.last_message = None
    if hold.state is S.AWAITING_FUNDING:
        await ctx.move(hold, A.START_FUNDING)
    await ctx.move(hold, A.FUNDING_SUCCEEDED, funding=funding.ref, amount=funding.amount)
    accepted = await ctx.listener.on_funded(ctx.session, hold, ctx.now)
    await apply_deferred(ctx, funding.ref)
    if not accepted and hold.state is S.FUNDED:
        await request_refund_locked(ctx, hold, reason="The deal ended before the payment arrived.")


async def _return_unallocated(ctx: EscrowContext, hold: EscrowHold, funding: Funding, currency: str) -> None:
    key = f"funding:{funding.ref}:return"
    pending, _ = await ledger.post(
        ctx.session, key=key, kind="refund", phase=Phase.PENDING,
        legs=ledger.return_funding_legs(hold.brand_id, funding.amount, currency), now=ctx.now, actor=ctx.actor,
        escrow_id=hold.id, collaboration_id=hold.collaboration_id, provider_ref=funding.ref,
        memo="returning a payment the deal could not take",
    )
    await ctx.new_call(
        hold, key=key, operation="refund", amount=funding.amount, currency=currency, pending=pending,
        params={"funding_ref": funding.ref, "amount": funding.amount, "currency": currency,
                "metadata": call_metadata(hold, key), "source": "brand_funding"},
    )
    await ctx.move(hold, A.NOTE, returned_funding=funding.ref, amount=funding.amount)


async def cancel(ctx: EscrowContext, collaboration_id: UUID) -> EscrowHold | None:
    """The deal ended before funding: close the escrow (a payment that still arrives is returned)."""
    hold = await ctx.lock(collaboration_id=collaboration_id)
    if hold is not None and hold.state in (S.AWAITING_FUNDING, S.FUNDING, S.FUNDING_FAILED):
        await ctx.move(hold, A.CANCEL)
    return hold
