"""Paying commission through escrow: the brand's commission budget (fund, top up, get unused money back), the
periodic payout of approved commission per creator, the weekly charge when the budget is short, and which orders a
payout covered.

What a creator is owed by a brand in a currency is ``marketplace.sales.commission.balance``: approved commission in
no payout yet, less any negative balance carried from refunds after payment. Each payout reserves exactly that out
of the budget (``escrow.commission.reserve_payout``) and marks the approved orders it covers with its key; when the
transfer posts they become ``paid``, if it is refused they are approved again and the next run pays them.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any
from uuid import UUID

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from escrow import commission as escrow_commission
from escrow.commission_models import CommissionBudget, CommissionFunding, CommissionPayout
from escrow.errors import EscrowConflict
from escrow.money import normalise_currency
from marketplace.accounts.auth import Actor
from marketplace.brands.models import BrandRole
from marketplace.errors import Forbidden, InvalidInput, NotFound
from marketplace.i18n import gettext
from marketplace.payments import gateway
from marketplace.sales.commission import Balance
from marketplace.sales.models import CommissionState, SaleAttribution
from marketplace.sales.reports import statements
from marketplace.settings import Settings

log = logging.getLogger(__name__)

#: Most a brand funds in one go (minor units); larger budgets are several deposits.
MAX_DEPOSIT = 100_000_000
DEFAULT_REFUND_AFTER_DAYS = 60


class SalesCommissionListener:
    """Escrow's news about a payout, applied to the orders it covered."""

    async def on_commission_paid(self, session: AsyncSession, payout: CommissionPayout) -> None:
        await session.execute(sa.update(SaleAttribution).where(
            SaleAttribution.payout_key == payout.idempotency_key, SaleAttribution.commission_amount > 0)
            .values(state=CommissionState.PAID, paid_amount=SaleAttribution.commission_amount,
                    updated_at=payout.paid_at))

    async def on_commission_failed(self, session: AsyncSession, payout: CommissionPayout) -> None:
        await session.execute(sa.update(SaleAttribution).where(
            SaleAttribution.payout_key == payout.idempotency_key).values(payout_key=None))


def install() -> None:
    escrow_commission.install([SalesCommissionListener()])


# -- what each creator is owed --------------------------------------------------------------------------------------


async def balances(session: AsyncSession, *, brand_id: UUID | None = None, creator_id: UUID | None = None
                   ) -> dict[tuple[UUID, UUID, str], Balance]:
    """Balance per (brand, creator, currency): the statements' figures (``marketplace.sales.reports.statements``)."""
    return {(s.brand_id, s.creator_id, s.currency): s.balance
            for s in await statements(session, brand_id=brand_id, creator_id=creator_id)}


@dataclass
class PayRun:
    paid: int = 0
    offsets: int = 0
    #: (brand, currency) → approved commission the budget could not cover.
    short: dict[tuple[UUID, str], int] = field(default_factory=dict)
    charges: int = 0


async def pay_commissions(session: AsyncSession, now: datetime, settings: Settings, *,
                          brand_id: UUID | None = None) -> PayRun:
    """Pay every creator the approved commission they are owed, out of each brand's budget. Whatever a budget can't
    cover is charged to the brand once per week, and paid on a later run once that money is in. Safe to run twice:
    a payout marks the orders it covers, so the second run finds nothing owed."""
    run = PayRun()
    owed = {k: b for k, b in (await balances(session, brand_id=brand_id)).items() if b.approved > 0}
    ctx = gateway.escrow_context(session, now, settings=settings, actor="system:commission")
    by_budget: dict[tuple[UUID, str], list[tuple[UUID, Balance]]] = defaultdict(list)
    for (b, c, cur), bal in owed.items():
        by_budget[(b, cur)].append((c, bal))
    for (b, cur), creators in sorted(by_budget.items(), key=lambda item: (str(item[0][0]), item[0][1])):
        budget = await escrow_commission.lock_budget(ctx, b, cur)
        assert budget is not None
        for creator_id, bal in sorted(creators, key=lambda item: str(item[0])):
            if bal.payable > budget.available_amount:
                run.short[(b, cur)] = run.short.get((b, cur), 0) + bal.payable - budget.available_amount
                continue
            payout = await escrow_commission.reserve_payout(ctx, budget, creator_id, bal.payable)
            covered = sa.update(SaleAttribution).where(
                SaleAttribution.brand_id == b, SaleAttribution.creator_id == creator_id,
                SaleAttribution.currency == cur, SaleAttribution.state == CommissionState.APPROVED,
                SaleAttribution.payout_key.is_(None))
            if payout.amount == 0:
                run.offsets += 1
                await session.execute(covered.values(payout_key=payout.idempotency_key, state=CommissionState.PAID,
                                                     paid_amount=SaleAttribution.commission_amount, updated_at=now))
            else:
                run.paid += 1
                await session.execute(covered.values(payout_key=payout.idempotency_key, updated_at=now))
        if run.short.get((b, cur)):
            charge = await escrow_commission.start_weekly_charge(
                ctx, b, cur, run.short[(b, cur)], return_url=f"{settings.app.public_url}/brand/sales/commission")
            run.charges += 1 if charge.created_at == now else 0
    return run


async def refund_unused_budgets(session: AsyncSession, now: datetime, settings: Settings) -> int:
    """Past the end of the attribution window a brand funded for, return what no commission will need: money
    beyond approved and pending commission still unpaid. Returns what was decided in total."""
    due = list(await session.scalars(sa.select(CommissionBudget).where(CommissionBudget.refund_after <= now)))
    if not due:
        return 0
    ctx = gateway.escrow_context(session, now, settings=settings, actor="system:commission")
    total = 0
    for budget in due:
        keep = sum(b.pending + b.payable for (b_id, _c, cur), b in
                   (await balances(session, brand_id=budget.brand_id)).items() if cur == budget.currency)
        total += await escrow_commission.refund_unused(ctx, budget.brand_id, budget.currency, keep=keep)
    return total


# -- the brand's budget page and API --------------------------------------------------------------------------------


def _require_money_role(actor: Actor) -> UUID:
    if not actor.is_brand or actor.brand_id is None:
        raise NotFound(gettext('No such budget.'))
    if actor.brand_role not in (BrandRole.OWNER, BrandRole.FINANCE):
        raise Forbidden(gettext('Only owners and finance fund or refund the commission budget.'))
    return actor.brand_id


def parse_amount(raw: dict[str, Any], *, required: bool = True) -> tuple[int | None, str]:
    """``amount`` in minor units (an integer) and ``currency`` (ISO 4217, upper case): every bad field at once."""
    errors: dict[str, str] = {}
    text = "" if raw.get("amount") is None else str(raw.get("amount")).strip()
    amount: int | None = None
    if text or required:
        try:
            amount = int(text)
            if isinstance(raw.get("amount"), bool) or not 1 <= amount <= MAX_DEPOSIT:
                raise ValueError
        except ValueError:
            errors["amount"] = gettext("A whole number of minor units from 1 to %(max_deposit)s.",
                                       max_deposit=MAX_DEPOSIT)
    currency = str(raw.get("currency") or "").strip()
    try:
        if currency != currency.upper():
            raise ValueError
        currency = normalise_currency(currency)
    except ValueError:
        errors["currency"] = gettext('A three-letter ISO 4217 code in capitals, e.g. USD.')
    if errors:
        raise InvalidInput(errors)
    return amount, currency


async def fund_budget(session: AsyncSession, actor: Actor, raw: dict[str, Any], now: datetime,
                      settings: Settings) -> CommissionFunding:
    brand_id = _require_money_role(actor)
    amount, currency = parse_amount(raw)
    assert amount is not None
    ctx = gateway.escrow_context(session, now, settings=settings, actor=f"brand:{actor.user_id}")
    return await escrow_commission.start_deposit(
        ctx, brand_id, currency, amount, return_url=f"{settings.app.public_url}/brand/sales/commission",
        refund_after=now + timedelta(days=DEFAULT_REFUND_AFTER_DAYS))


async def refund_budget(session: AsyncSession, actor: Actor, raw: dict[str, Any], now: datetime,
                        settings: Settings) -> int:
    """Return unused budget now (all of it, or ``amount``), keeping what approved and pending commission needs."""
    brand_id = _require_money_role(actor)
    amount, currency = parse_amount(raw, required=False)
    keep = sum(b.pending + b.payable for (_b, _c, cur), b in (await balances(session, brand_id=brand_id)).items()
               if cur == currency)
    ctx = gateway.escrow_context(session, now, settings=settings, actor=f"brand:{actor.user_id}")
    try:
        return await escrow_commission.refund_unused(ctx, brand_id, currency, keep=keep, amount=amount)
    except EscrowConflict as exc:
        raise InvalidInput({"amount": str(exc)}) from exc


@dataclass(frozen=True)
class BudgetView:
    budget: CommissionBudget | None
    currency: str
    fundings: list[CommissionFunding]
    payouts: list[CommissionPayout]
    #: Approved and pending commission still unpaid (what refunding keeps back).
    committed: int


async def budget_views(session: AsyncSession, brand_id: UUID) -> list[BudgetView]:
    """The brand's budgets with their payments in and payouts, newest first (four statements)."""
    budgets = list(await session.scalars(sa.select(CommissionBudget).where(CommissionBudget.brand_id == brand_id)
                                         .order_by(CommissionBudget.currency)))
    ids = [b.id for b in budgets]
    fundings = list(await session.scalars(sa.select(CommissionFunding).where(CommissionFunding.budget_id.in_(ids))
                                          .order_by(CommissionFunding.created_at.desc()).limit(200))) if ids else []
    payouts = list(await session.scalars(sa.select(CommissionPayout).where(CommissionPayout.brand_id == brand_id)
                                         .order_by(CommissionPayout.created_at.desc()).limit(200)))
    owed = await balances(session, brand_id=brand_id)
    views = []
    for b in budgets:
        committed = sum(x.pending + x.payable for (_b, _c, cur), x in owed.items() if cur == b.currency)
        views.append(BudgetView(b, b.currency, [f for f in fundings if f.budget_id == b.id],
                                [p for p in payouts if p.budget_id == b.id], committed))
    return views


async def creator_payouts(session: AsyncSession, creator_id: UUID) -> list[CommissionPayout]:
    return list(await session.scalars(sa.select(CommissionPayout).where(CommissionPayout.creator_id == creator_id)
                                      .order_by(CommissionPayout.created_at.desc()).limit(200)))


async def own_funding(session: AsyncSession, actor: Actor, funding_id: UUID) -> CommissionFunding:
    """A payment into the actor's brand's budget; anyone else gets 404."""
    row = await session.scalar(sa.select(CommissionFunding).join(
        CommissionBudget, CommissionBudget.id == CommissionFunding.budget_id).where(
        CommissionFunding.id == funding_id, CommissionBudget.brand_id == actor.brand_id))
    if row is None or not actor.is_brand:
        raise NotFound(gettext('No such payment.'))
    return row
