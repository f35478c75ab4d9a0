"""Commission money under random sequences (Hypothesis state machine, real database): orders, refunds inside the
hold and after payout, the hold passing, budget deposits paid or declined, payouts, weekly charges, unused budget
returned, provider faults and recovery. After every step: the ledger holds together (balanced, no holding account
below zero, nothing rewritten), each budget's cached sums match its ledger account and released + refunded +
reserved <= funded, what creators received at the provider is exactly the payouts posted, a creator is never paid
less than the orders settled are worth (a refund after payout only ever leaves a carried balance) and never has
money pulled back.

Locally a fixed (derandomized) modest set; ``CI=true`` or ``ESCROW_HYPOTHESIS=heavy`` run fresh, longer sequences.
"""

from __future__ import annotations

import contextlib
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from hypothesis import strategies as st
from hypothesis.stateful import initialize, invariant, rule, run_state_machine_as_test

from escrow import commission as escrow_commission
from escrow import ledger
from escrow.commission_models import CommissionBudget, CommissionFunding, CommissionPayout, MoneyStatus, PayoutStatus
from escrow.executor import ProviderCallRetry
from escrow.models import CallStatus, ProviderCall
from escrow.providers.simulated import SimulatedCrash, SimulatedProvider
from escrow.services import EscrowConflict
from marketplace.db import session_scope
from marketplace.payments import gateway
from marketplace.sales import payouts, rollup
from marketplace.sales.models import CommissionState, SaleAttribution
from marketplace.sales.services import approve_due, attribute_order
from marketplace.stores.models import StoreConnection, StoreOrder
from tests.integration.sales.helpers import signed_deal
from tests.support.escrow import executor, onboard_creator
from tests.support.money_machine import LedgerMachine, machine_env, machine_settings

REFUSED = (EscrowConflict, SimulatedCrash, ProviderCallRetry)


class CommissionMachine(LedgerMachine):
    def __init__(self) -> None:
        super().__init__()
        self.orders: list[Any] = []
        self.n = 0

    @property
    def runtime(self) -> Any:
        return self.env["runtime"]

    async def _in_tx(self, fn: Any) -> Any:
        try:
            async with session_scope(self.runtime.session_maker) as session:
                return await fn(session)
        except REFUSED:
            return None

    def ctx(self, session: Any) -> Any:
        return gateway.escrow_context(session, self.runtime.clock.now(), settings=self.runtime.settings)

    async def _refund(self, session: Any, order: Any, refunded: int) -> None:
        """Refund part of an order; what it takes off commission already settled by a payout is noted, because
        only that may leave payouts above what the settled orders are worth."""
        row = await session.scalar(sa.select(SaleAttribution).where(SaleAttribution.store_order_id == order.id))
        settled_before = row is not None and (row.state == CommissionState.PAID or row.payout_key is not None)
        before = row.commission_amount if row is not None else 0
        order.refunded_amount = refunded
        after = await attribute_order(session, order, self.env["brand"].brand_id, self.runtime.clock.now())
        if settled_before and after is not None:
            self.env["reduced_after_payout"] += max(before - after.commission_amount, 0)

    async def _run_calls(self) -> None:
        ids = list(await self.env["db"].scalars(sa.select(ProviderCall.id).where(
            ProviderCall.status == CallStatus.READY).order_by(ProviderCall.created_at)))
        for call_id in ids:
            with contextlib.suppress(*REFUSED):
                await executor(self.runtime, self.env["provider"]).execute(call_id)

    @initialize()
    def start(self) -> None:
        env = self.env
        self.run(signed_deal(self.runtime, env["brand"], env["creator"]))

        async def store() -> None:
            async with session_scope(self.runtime.session_maker) as session:
                found = StoreConnection(brand_id=env["brand"].brand_id, platform="custom", name="Shop",
                                        secret_hints={})
                session.add(found)
                await session.flush()
                self.store_id = found.id

        self.run(store())
        # Start from a funded budget and one order, so short sequences reach payouts and refunds after them.
        self.deposit(2_000, True)
        self.order(10_000)

    @rule(total=st.sampled_from([1_000, 3_333, 10_000]))
    def order(self, total: int) -> None:
        self.n += 1
        number = self.n

        async def go(session: Any) -> None:
            order = StoreOrder(store_id=self.store_id, external_id=str(number), name=f"#{number}",
                               email="buyer@example.com", currency="USD", total_amount=total, subtotal_amount=total,
                               discount_codes=[{"code": "AVA-GLOW15"}], refund_ids=[],
                               placed_at=self.runtime.clock.now())
            session.add(order)
            await session.flush()
            await attribute_order(session, order, self.env["brand"].brand_id, self.runtime.clock.now())
            self.orders.append(order.id)

        self.run(self._in_tx(go))

    @rule(i=st.integers(0, 5), share=st.sampled_from([2, 1]))
    def refund_order(self, i: int, share: int) -> None:
        if not self.orders:
            return
        order_id = self.orders[i % len(self.orders)]

        async def go(session: Any) -> None:
            order = await session.get(StoreOrder, order_id, with_for_update=True)
            await self._refund(session, order, min(order.total_amount,
                                                   order.refunded_amount + order.total_amount // share))

        self.run(self._in_tx(go))

    @rule(share=st.sampled_from([2, 1]))
    def refund_a_paid_order(self, share: int) -> None:
        async def go(session: Any) -> None:
            order = await session.scalar(sa.select(StoreOrder).join(
                SaleAttribution, SaleAttribution.store_order_id == StoreOrder.id).where(
                SaleAttribution.state == CommissionState.PAID, StoreOrder.refunded_amount == 0).limit(1)
                .with_for_update())
            if order is not None:
                await self._refund(session, order, order.total_amount // share)

        self.run(self._in_tx(go))

    @rule(days=st.sampled_from([1, 31]))
    def time_passes(self, days: int) -> None:
        self.runtime.clock.advance(days=days)
        self.run(self._in_tx(lambda session: approve_due(session, self.runtime.clock.now())))

    @rule(amount=st.sampled_from([500, 2_000]), succeed=st.booleans())
    def deposit(self, amount: int, succeed: bool) -> None:
        async def start(session: Any) -> Any:
            return (await escrow_commission.start_deposit(
                self.ctx(session), self.env["brand"].brand_id, "USD", amount, return_url="/r",
                refund_after=self.runtime.clock.now() + timedelta(days=60))).id

        self.run(self._in_tx(start))
        self.run(self._run_calls())
        self.settle(succeed)

    @rule(succeed=st.booleans())
    def settle(self, succeed: bool) -> None:
        async def go(session: Any) -> None:
            for row in await session.scalars(sa.select(CommissionFunding).where(
                    CommissionFunding.status == MoneyStatus.PENDING, CommissionFunding.funding_ref.is_not(None))):
                funding = await self.env["provider"].settle_funding(session, row.funding_ref, succeed=succeed)
                await gateway.escrow_service(session, self.runtime.clock.now(),
                                             settings=self.runtime.settings).apply_funding(funding)

        self.run(self._in_tx(go))

    @rule()
    def pay(self) -> None:
        self.run(self._in_tx(lambda session: payouts.pay_commissions(session, self.runtime.clock.now(),
                                                                     self.runtime.settings)))
        self.run(self._run_calls())

    @rule()
    def hold_passes_then_pay(self) -> None:
        self.time_passes(31)
        self.pay()

    @rule()
    def return_unused(self) -> None:
        self.runtime.clock.advance(days=61)
        self.run(self._in_tx(lambda session: payouts.refund_unused_budgets(session, self.runtime.clock.now(),
                                                                            self.runtime.settings)))
        self.run(self._run_calls())

    @rule(op=st.sampled_from(["transfer", "refund", "create_funding"]),
          mode=st.sampled_from(["transient", "definitive", "crash_after"]))
    def inject_fault(self, op: str, mode: str) -> None:
        self.run(self.env["provider"].inject_fault(op, mode))

    @rule()
    def recover(self) -> None:
        self.runtime.clock.advance(minutes=7)
        self.run(executor(self.runtime, self.env["provider"]).recover())

    @invariant()
    def budgets_match_their_ledger_and_never_pay_out_more_than_came_in(self) -> None:
        async def check() -> None:
            db = self.env["db"]
            for b in await db.scalars(sa.select(CommissionBudget).execution_options(populate_existing=True)):
                assert b.released_amount + b.refunded_amount + b.reserved_amount <= b.funded_amount
                assert b.reserved_amount >= 0
                spec = escrow_commission.budget_account(b.id)
                account = await db.scalar(sa.select(ledger.LedgerAccount.id).where(
                    ledger.LedgerAccount.code == spec.code))
                held = await ledger.balance_of(db, spec, "USD")
                reserved = await ledger.reserved_debits(db, account) if account else 0
                assert (held, reserved) == (b.held_amount, b.reserved_amount), b.id

        self.run(check())

    @invariant()
    def creators_get_exactly_the_payouts_and_nothing_is_pulled_back(self) -> None:
        async def check() -> None:
            db = self.env["db"]
            creator_id = self.env["creator"].creator_id
            paid = await db.scalar(sa.select(sa.func.coalesce(sa.func.sum(CommissionPayout.amount), 0)).where(
                CommissionPayout.status == PayoutStatus.PAID))
            sent = await db.scalar(sa.select(sa.func.coalesce(sa.func.sum(CommissionPayout.amount), 0)).where(
                CommissionPayout.status != PayoutStatus.FAILED))
            transfers = [o for o in await self.env["provider"].objects("transfer")
                         if escrow_commission.MARK in (o.data.get("metadata") or {})]
            assert sum(o.data["amount"] for o in transfers) >= paid
            assert all(o.data.get("amount_reversed", 0) == 0 for o in transfers)
            assert await db.scalar(sa.select(sa.func.count()).select_from(ProviderCall).where(
                ProviderCall.operation == "reverse_transfer")) == 0
            settled = await db.scalar(sa.select(sa.func.coalesce(sa.func.sum(SaleAttribution.commission_amount), 0))
                                      .where(SaleAttribution.creator_id == creator_id, sa.or_(
                                          SaleAttribution.state == CommissionState.PAID,
                                          SaleAttribution.payout_key.is_not(None))))
            # Payouts are never below what the orders they settled are worth, and above it only by what refunds
            # took off settled orders (the carried balance): nothing is paid twice.
            assert 0 <= sent - settled <= self.env["reduced_after_payout"], (sent, settled)
            [owed] = (await payouts.balances(db, creator_id=creator_id)).values() or [None]
            if owed is not None:
                assert owed.carried == min(settled - sent, 0) and owed.paid == paid

        self.run(check())

    @invariant()
    def the_daily_rollup_matches_the_orders(self) -> None:
        async def check() -> None:
            assert await rollup.stored(self.env["db"]) == await rollup.recomputed(self.env["db"])

        self.run(check())


def test_commission_money_invariants_hold_under_random_operations(database_url: str, tmp_path: Path) -> None:
    with machine_env(database_url, tmp_path) as env:
        try:
            brand = env.run(env.people.brand(brand_name="GlowLab"))
            creator = env.run(env.people.creator(name="Ava"))
            env.run(onboard_creator(env.runtime, creator))
            CommissionMachine.env = {"loop": env.loop, "runtime": env.runtime, "db": env.db, "brand": brand,
                                     "creator": creator, "provider": SimulatedProvider(env.runtime.session_maker),
                                     "reduced_after_payout": 0}
            run_state_machine_as_test(CommissionMachine,
                                      settings=machine_settings(local=(5, 20), ci=(10, 25), heavy=(25, 40)))
            # The sequences reached what matters: payouts posted, a refund after payout carried.
            statuses = set(env.run(env.db.scalars(sa.select(CommissionPayout.status))))
            print("payout statuses reached:", sorted(statuses))
            refunded_after_payout = env.run(env.db.scalar(sa.select(sa.func.count()).where(
                SaleAttribution.state == CommissionState.PAID,
                SaleAttribution.commission_amount < SaleAttribution.paid_amount)))
            print("refunded after payout:", refunded_after_payout)
            assert PayoutStatus.PAID in statuses and refunded_after_payout > 0
        finally:
            CommissionMachine.env = {}


pytestmark = pytest.mark.slow
