"""Commission money through escrow: a brand's commission budget, paying approved commission out of it, the weekly
charge when it runs short, and returning what is unused.

Postings (B = the brand's budget for one currency, ``commission_budget:<B>``, a holding account):

* **deposit / weekly charge** succeeded (keys ``funding:<ref>`` and ``funding:<ref>:hold``): Dr platform_cash /
  Cr brand_funding:b, then Dr brand_funding:b / Cr commission_budget:B.
* **payout** a to creator c (key ``commission:<brand>:<creator>:<currency>:payout:<seq>``), pending then posted
  with the transfer: Dr commission_budget:B a / Cr creator_payable:c a; **transfer** (``transfer:<ref>``):
  Dr creator_payable:c a / Cr platform_cash a. A refused transfer voids the pending posting.
* **refund of unused budget** x (key ``commission_budget:<B>:refund:<n>``), pending then posted: Dr
  commission_budget:B x / Cr refunds:b x; **refund paid** (``refund:<ref>``): Dr refunds:b / Cr platform_cash.

Each decision writes its ledger posting, its record and a ``ProviderCall`` (same key) in the caller's transaction;
the executor makes the call after commit and the answer comes back through ``complete`` / ``fail`` (dispatched from
``escrow.calls`` for calls carrying ``commission_budget_id``). What the amounts cover — which orders, which
creator is owed what — is the marketplace's business: it is told through ``CommissionListener``.

A refund of an order after its commission was paid never reaches this module: the marketplace carries it as a
negative balance against the creator's next commission from the same brand. Nothing here ever takes money back
from a creator.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Protocol
from uuid import UUID

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from escrow import ledger
from escrow.commission_models import (
    CommissionBudget,
    CommissionFunding,
    CommissionPayout,
    FundingKind,
    MoneyStatus,
    PayoutStatus,
)
from escrow.context import EscrowContext
from escrow.errors import EscrowConflict
from escrow.models import AccountKind, CallStatus, LedgerTransaction, Phase, ProviderCall
from escrow.money import normalise_currency
from escrow.providers.base import Funding, FundingStatus, Refund, Transfer, TransferStatus

#: The marker on every provider call (and provider object) of this module.
MARK = "commission_budget_id"


class CommissionListener(Protocol):
    """The marketplace's side of a payout: which orders it covered."""

    async def on_commission_paid(self, session: AsyncSession, payout: CommissionPayout) -> None: ...

    async def on_commission_failed(self, session: AsyncSession, payout: CommissionPayout) -> None: ...


_LISTENERS: list[CommissionListener] = []


def install(listeners: list[CommissionListener]) -> None:
    """Called once per process at start-up (``marketplace.listeners``)."""
    _LISTENERS[:] = listeners


def budget_account(budget_id: UUID) -> ledger.AccountSpec:
    return ledger.AccountSpec(f"commission_budget:{budget_id}", AccountKind.LIABILITY, holding=True)


def budget_hold_legs(brand_id: UUID, budget_id: UUID, amount: int, currency: str) -> list[ledger.Leg]:
    return [ledger.dr(ledger.brand_funding(brand_id), amount, currency),
            ledger.cr(budget_account(budget_id), amount, currency)]


def payout_legs(budget_id: UUID, creator_id: UUID, amount: int, currency: str) -> list[ledger.Leg]:
    return [ledger.dr(budget_account(budget_id), amount, currency),
            ledger.cr(ledger.creator_payable(creator_id), amount, currency)]


def budget_refund_legs(budget_id: UUID, brand_id: UUID, amount: int, currency: str) -> list[ledger.Leg]:
    return [ledger.dr(budget_account(budget_id), amount, currency),
            ledger.cr(ledger.refunds(brand_id), amount, currency)]


def payout_key(brand_id: UUID, creator_id: UUID, currency: str, seq: int) -> str:
    return f"commission:{brand_id}:{creator_id}:{currency}:payout:{seq}"


def charge_key(brand_id: UUID, week: str, currency: str) -> str:
    """One weekly charge per brand, period (and currency: a brand selling in two pays two statements)."""
    return f"brand:{brand_id}:commission-charge:{week}:{currency}"


def iso_week(moment: datetime) -> str:
    year, week, _ = moment.isocalendar()
    return f"{year}-W{week:02d}"


# --- the budget ----------------------------------------------------------------------------------------------------


async def find_budget(session: AsyncSession, brand_id: UUID, currency: str) -> CommissionBudget | None:
    return await session.scalar(sa.select(CommissionBudget).where(
        CommissionBudget.brand_id == brand_id, CommissionBudget.currency == currency))


async def lock_budget(ctx: EscrowContext, brand_id: UUID, currency: str, *, create: bool = True
                      ) -> CommissionBudget | None:
    """The brand's budget in ``currency``, locked (created empty on first use)."""
    currency = normalise_currency(currency)
    query = sa.select(CommissionBudget).where(CommissionBudget.brand_id == brand_id,
                                              CommissionBudget.currency == currency).with_for_update()
    budget = await ctx.session.scalar(query.execution_options(populate_existing=True))
    if budget is None and create:
        async with ctx.session.begin_nested():
            ctx.session.add(CommissionBudget(brand_id=brand_id, currency=currency, created_at=ctx.now,
                                             updated_at=ctx.now))
        budget = await ctx.session.scalar(query.execution_options(populate_existing=True))
    return budget


def _metadata(budget: CommissionBudget, key: str) -> dict[str, str]:
    return {MARK: str(budget.id), "brand_id": str(budget.brand_id), "call_key": key}


async def _start_funding(ctx: EscrowContext, budget: CommissionBudget, *, kind: FundingKind, key: str, amount: int,
                         return_url: str, period: str | None = None) -> CommissionFunding:
    existing = await ctx.session.scalar(sa.select(CommissionFunding).where(CommissionFunding.idempotency_key == key))
    if existing is not None:
        return existing
    if amount <= 0:
        raise EscrowConflict("The amount must be above zero.")
    row = CommissionFunding(budget_id=budget.id, kind=kind, idempotency_key=key, period=period, amount=amount,
                            currency=budget.currency, status=MoneyStatus.PENDING, created_at=ctx.now,
                            updated_at=ctx.now)
    ctx.session.add(row)
    await ctx.session.flush()
    description = "PostPact commission budget" if kind is FundingKind.DEPOSIT else f"PostPact commission {period}"
    await ctx.new_call(None, key=key, operation="create_funding", amount=amount, currency=budget.currency, params={
        "amount": amount, "currency": budget.currency, "transfer_group": f"commission_budget:{budget.id}",
        "description": description, "metadata": _metadata(budget, key), "return_url": return_url,
        MARK: str(budget.id), "funding_id": str(row.id)})
    return row


async def start_deposit(ctx: EscrowContext, brand_id: UUID, currency: str, amount: int, *, return_url: str,
                        refund_after: datetime | None) -> CommissionFunding:
    """The brand funds (or tops up) its commission budget: the cap it chooses. Unused money goes back after
    ``refund_after`` (the end of the attribution window it funds for)."""
    budget = await lock_budget(ctx, brand_id, currency)
    assert budget is not None
    budget.deposit_seq += 1
    if refund_after is not None:
        budget.refund_after = max(budget.refund_after or refund_after, refund_after)
    key = f"brand:{brand_id}:commission-budget:{budget.currency}:fund:{budget.deposit_seq}"
    return await _start_funding(ctx, budget, kind=FundingKind.DEPOSIT, key=key, amount=amount, return_url=return_url)


async def start_weekly_charge(ctx: EscrowContext, brand_id: UUID, currency: str, amount: int, *,
                              return_url: str) -> CommissionFunding:
    """The weekly statement for approved commission the budget can't cover: once per brand and week, whatever
    the amount asked the second time."""
    budget = await lock_budget(ctx, brand_id, currency)
    assert budget is not None
    week = iso_week(ctx.now)
    return await _start_funding(ctx, budget, kind=FundingKind.CHARGE, key=charge_key(brand_id, week, budget.currency),
                                amount=amount, return_url=return_url, period=week)


async def apply_budget_funding(ctx: EscrowContext, funding: Funding) -> CommissionFunding | None:
    """The provider's news about a payment into a budget (call result, webhook, simulated checkout): idempotent."""
    key = (funding.metadata or {}).get("call_key")
    query = sa.select(CommissionFunding).where(
        CommissionFunding.idempotency_key == key if key else CommissionFunding.funding_ref == funding.ref)
    found = await ctx.session.scalar(query)
    if found is None:
        return None
    budget = await ctx.session.scalar(sa.select(CommissionBudget).where(CommissionBudget.id == found.budget_id)
                                      .with_for_update().execution_options(populate_existing=True))
    row = await ctx.session.scalar(sa.select(CommissionFunding).where(CommissionFunding.id == found.id)
                                   .with_for_update().execution_options(populate_existing=True))
    assert budget is not None and row is not None
    row.funding_ref = row.funding_ref or funding.ref
    row.checkout_url = funding.checkout_url or row.checkout_url
    row.updated_at = ctx.now
    call = await ctx.session.scalar(sa.select(ProviderCall).where(ProviderCall.idempotency_key == row.idempotency_key)
                                    .with_for_update())
    if call is not None and call.status is not CallStatus.SUCCEEDED:
        call.status, call.result_ref, call.completed_at = CallStatus.SUCCEEDED, funding.ref, ctx.now
    if funding.status is FundingStatus.SUCCEEDED and row.status is not MoneyStatus.SUCCEEDED:
        currency = normalise_currency(funding.currency)
        await ledger.post(ctx.session, key=f"funding:{funding.ref}", kind="fund",
                          legs=ledger.fund_legs(budget.brand_id, funding.amount, currency), now=ctx.now,
                          actor=ctx.actor, provider_ref=funding.ref, memo="commission budget paid by the brand")
        if funding.provider_fee:
            await ledger.post(ctx.session, key=f"funding:{funding.ref}:fee", kind="provider_fee",
                              legs=ledger.provider_fee_legs(funding.provider_fee, currency), now=ctx.now,
                              actor=ctx.actor, provider_ref=funding.ref, memo="payment provider's processing fee")
        await ledger.post(ctx.session, key=f"funding:{funding.ref}:hold", kind="commission_hold",
                          legs=budget_hold_legs(budget.brand_id, budget.id, funding.amount, currency), now=ctx.now,
                          actor=ctx.actor, provider_ref=funding.ref, memo="held in the commission budget")
        row.status = MoneyStatus.SUCCEEDED
        budget.funded_amount += funding.amount
        budget.last_message, budget.updated_at = None, ctx.now
    elif funding.status in (FundingStatus.FAILED, FundingStatus.CANCELED) and row.status is MoneyStatus.PENDING:
        row.status = MoneyStatus.FAILED
        row.message = (funding.failure_message or "The payment did not go through.")[:500]
        budget.last_message, budget.updated_at = row.message, ctx.now
    return row


# --- payouts -------------------------------------------------------------------------------------------------------


async def sent_to_creators(session: AsyncSession, *, brand_id: UUID | None = None,
                           creator_id: UUID | None = None) -> dict[tuple[UUID, UUID, str], tuple[int, int]]:
    """(sent, of which paid) per (brand, creator, currency): payouts reserved or paid; failed ones count for
    nothing."""
    query = sa.select(
        CommissionPayout.brand_id, CommissionPayout.creator_id, CommissionPayout.currency,
        sa.func.sum(CommissionPayout.amount),
        sa.func.coalesce(sa.func.sum(CommissionPayout.amount).filter(CommissionPayout.status == PayoutStatus.PAID), 0),
    ).where(CommissionPayout.status != PayoutStatus.FAILED).group_by(
        CommissionPayout.brand_id, CommissionPayout.creator_id, CommissionPayout.currency)
    if brand_id is not None:
        query = query.where(CommissionPayout.brand_id == brand_id)
    if creator_id is not None:
        query = query.where(CommissionPayout.creator_id == creator_id)
    return {(b, c, cur): (int(sent or 0), int(paid or 0)) for b, c, cur, sent, paid in await session.execute(query)}


async def reserve_payout(ctx: EscrowContext, budget: CommissionBudget, creator_id: UUID,
                         amount: int) -> CommissionPayout:
    """Pay ``amount`` of approved commission to the creator out of the (locked) budget. Zero records an offset
    (the commission only paid back a carried balance). Waits for the creator's payout account if needed."""
    if amount < 0 or amount > budget.available_amount:
        raise EscrowConflict(f"The commission budget holds {budget.available_amount}, not {amount}.")
    seq = int(await ctx.session.scalar(sa.select(sa.func.coalesce(sa.func.max(CommissionPayout.seq), 0)).where(
        CommissionPayout.brand_id == budget.brand_id, CommissionPayout.creator_id == creator_id,
        CommissionPayout.currency == budget.currency)) or 0) + 1
    key = payout_key(budget.brand_id, creator_id, budget.currency, seq)
    payout = CommissionPayout(budget_id=budget.id, brand_id=budget.brand_id, creator_id=creator_id,
                              currency=budget.currency, seq=seq, idempotency_key=key, amount=amount,
                              status=PayoutStatus.OFFSET if amount == 0 else PayoutStatus.RESERVED,
                              created_at=ctx.now, updated_at=ctx.now)
    ctx.session.add(payout)
    await ctx.session.flush()
    if amount == 0:
        payout.paid_at = ctx.now
        return payout
    pending, _ = await ledger.post(ctx.session, key=key, kind="commission_release", phase=Phase.PENDING,
                                   legs=payout_legs(budget.id, creator_id, amount, budget.currency), now=ctx.now,
                                   actor=ctx.actor, memo="commission to the creator")
    budget.reserved_amount += amount
    budget.updated_at = ctx.now
    account = await ctx.payout_account(creator_id)
    blocked = await ctx.listener.payouts_blocked(ctx.session, creator_id)
    ready = account is not None and account.transfers_active and account.account_ref is not None and not blocked
    params: dict[str, Any] = {
        "amount": amount, "currency": budget.currency, "transfer_group": f"commission:{budget.brand_id}:{creator_id}",
        "source_charge_ref": None, "metadata": _metadata(budget, key), MARK: str(budget.id),
        "payout_id": str(payout.id)}
    if ready:
        assert account is not None
        params["destination"] = account.account_ref
    else:
        payout.message = "Waiting for the creator to set up payouts."
    await ctx.new_call(None, key=key, operation="transfer", amount=amount, currency=budget.currency, params=params,
                       pending=pending, creator_id=creator_id, waiting=not ready)
    return payout


# --- unused budget back to the brand -------------------------------------------------------------------------------


async def refund_unused(ctx: EscrowContext, brand_id: UUID, currency: str, *, keep: int,
                        amount: int | None = None) -> int:
    """Return what the budget holds beyond ``keep`` (commission still to pay), or ``amount`` of it, to the brand's
    card: one refund per payment it came from, newest first. Returns what was decided."""
    budget = await lock_budget(ctx, brand_id, currency, create=False)
    if budget is None:
        return 0
    spare = max(budget.available_amount - max(keep, 0), 0)
    wanted = spare if amount is None else amount
    if wanted < 0 or wanted > spare:
        raise EscrowConflict(f"At most {spare} of the commission budget is unused.")
    fundings = list(await ctx.session.scalars(
        sa.select(CommissionFunding).where(CommissionFunding.budget_id == budget.id,
                                           CommissionFunding.status == MoneyStatus.SUCCEEDED)
        .order_by(CommissionFunding.created_at.desc(), CommissionFunding.id.desc()).with_for_update()))
    decided = 0
    for row in fundings:
        left = row.amount - row.refunded_amount - row.refunding_amount
        part = min(left, wanted - decided)
        if part <= 0:
            continue
        budget.refund_seq += 1
        key = f"commission_budget:{budget.id}:refund:{budget.refund_seq}"
        pending, _ = await ledger.post(ctx.session, key=key, kind="refund", phase=Phase.PENDING,
                                       legs=budget_refund_legs(budget.id, brand_id, part, budget.currency),
                                       now=ctx.now, actor=ctx.actor, memo="unused commission budget returned")
        budget.reserved_amount += part
        row.refunding_amount += part
        await ctx.new_call(None, key=key, operation="refund", amount=part, currency=budget.currency, pending=pending,
                           params={"funding_ref": row.funding_ref, "amount": part, "currency": budget.currency,
                                   "metadata": _metadata(budget, key), MARK: str(budget.id),
                                   "funding_id": str(row.id), "refunded_before": row.refunded_amount})
        decided += part
        if decided == wanted:
            break
    budget.updated_at = ctx.now
    return decided


# --- provider answers ----------------------------------------------------------------------------------------------


def is_commission_call(call: ProviderCall) -> bool:
    return MARK in (call.params or {})


async def _budget_of(ctx: EscrowContext, call: ProviderCall) -> CommissionBudget:
    budget = await ctx.session.scalar(sa.select(CommissionBudget).where(
        CommissionBudget.id == UUID(call.params[MARK])).with_for_update().execution_options(populate_existing=True))
    assert budget is not None
    return budget


async def complete(ctx: EscrowContext, call: ProviderCall, result: Any) -> None:
    """A provider's answer to one of this module's calls (the call is locked by the caller)."""
    if call.operation == "create_funding":
        assert isinstance(result, Funding)
        await apply_budget_funding(ctx, result)
        return
    if call.status is not CallStatus.READY:
        return
    if call.operation == "transfer":
        assert isinstance(result, Transfer)
        if result.status is TransferStatus.FAILED:
            await fail(ctx, call, "The commission transfer failed.")
            return
        await _post(ctx, call, result.ref)
    elif call.operation == "refund":
        assert isinstance(result, Refund)
        if result.status in ("failed", "canceled"):
            await fail(ctx, call, "The refund of the commission budget failed.")
            return
        await _post(ctx, call, result.ref)


async def _post(ctx: EscrowContext, call: ProviderCall, ref: str) -> None:
    budget = await _budget_of(ctx, call)
    pending = await ctx.session.get(LedgerTransaction, call.pending_transaction_id)
    assert pending is not None
    await ledger.resolve(ctx.session, pending, post_it=True, now=ctx.now, actor=ctx.actor, provider_ref=ref)
    budget.reserved_amount -= call.amount
    budget.updated_at = ctx.now
    call.status, call.result_ref, call.completed_at = CallStatus.SUCCEEDED, ref, ctx.now
    if call.operation == "transfer":
        payout = await ctx.session.get(CommissionPayout, UUID(call.params["payout_id"]), with_for_update=True)
        assert payout is not None and call.creator_id is not None
        await ledger.post(ctx.session, key=f"transfer:{ref}", kind="transfer",
                          legs=ledger.transfer_legs(call.creator_id, call.amount, budget.currency), now=ctx.now,
                          actor=ctx.actor, provider_ref=ref, memo="commission transferred to the creator")
        budget.released_amount += call.amount
        payout.status, payout.transfer_ref, payout.paid_at, payout.message = PayoutStatus.PAID, ref, ctx.now, ""
        payout.updated_at = ctx.now
        for listener in _LISTENERS:
            await listener.on_commission_paid(ctx.session, payout)
    else:
        row = await ctx.session.get(CommissionFunding, UUID(call.params["funding_id"]), with_for_update=True)
        assert row is not None
        await ledger.post(ctx.session, key=f"refund:{ref}", kind="refund_paid",
                          legs=ledger.refund_paid_legs(budget.brand_id, call.amount, budget.currency), now=ctx.now,
                          actor=ctx.actor, provider_ref=ref, memo="unused commission budget refunded")
        budget.refunded_amount += call.amount
        row.refunding_amount -= call.amount
        row.refunded_amount += call.amount


async def fail(ctx: EscrowContext, call: ProviderCall, message: str) -> None:
    """The provider refused for good: void the reservation; the commission stays owed (a later run pays it)."""
    if call.status not in (CallStatus.READY, CallStatus.WAITING):
        return
    call.status, call.last_error, call.completed_at = CallStatus.FAILED, message[:1000], ctx.now
    if call.operation == "create_funding":
        row = await ctx.session.get(CommissionFunding, UUID(call.params["funding_id"]), with_for_update=True)
        if row is not None and row.status is MoneyStatus.PENDING:
            row.status, row.message = MoneyStatus.FAILED, message[:500]
        return
    budget = await _budget_of(ctx, call)
    pending = await ctx.session.get(LedgerTransaction, call.pending_transaction_id)
    assert pending is not None
    await ledger.resolve(ctx.session, pending, post_it=False, now=ctx.now, actor=ctx.actor, memo=message)
    budget.reserved_amount -= call.amount
    budget.last_message, budget.updated_at = message[:500], ctx.now
    if call.operation == "transfer":
        payout = await ctx.session.get(CommissionPayout, UUID(call.params["payout_id"]), with_for_update=True)
        assert payout is not None
        payout.status, payout.message, payout.updated_at = PayoutStatus.FAILED, message[:500], ctx.now
        for listener in _LISTENERS:
            await listener.on_commission_failed(ctx.session, payout)
    else:
        row = await ctx.session.get(CommissionFunding, UUID(call.params["funding_id"]), with_for_update=True)
        assert row is not None
        row.refunding_amount -= call.amount
