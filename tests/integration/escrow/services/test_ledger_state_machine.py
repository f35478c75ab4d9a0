"""Ledger invariants under random sequences of escrow operations, against the real database (TigerBeetle-style
simulation with Hypothesis): fund, pay or decline, release (part or all), refund, freeze, split, chargebacks,
injected provider faults, crashes and recovery — and after every step the ledger must hold together.

Locally a fixed (derandomized) modest set so the suite stays fast and repeatable; in CI (``CI=true``) fresh random
sequences on every run, a few more and longer; ``ESCROW_HYPOTHESIS=heavy`` runs many more and longer ones. A failure
prints the sequence and a ``@reproduce_failure`` blob.
"""

from __future__ import annotations

import contextlib
import uuid
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from hypothesis import strategies as st
from hypothesis.stateful import initialize, invariant, rule, run_state_machine_as_test

from escrow.events import NullListener
from escrow.executor import ProviderCallExecutor, ProviderCallRetry
from escrow.models import CallStatus, Chargeback, EscrowHold, ProviderCall
from escrow.providers.simulated import SimulatedCrash, SimulatedProvider
from escrow.services import EscrowConflict, EscrowService, FundingRequest
from escrow.states import EscrowState, IllegalEscrowTransition
from marketplace.collaborations.states import CollabState
from marketplace.db import session_scope
from tests.support.deals import make_deal
from tests.support.money_machine import LedgerMachine, machine_env, machine_settings

DEALS = 3
REFUSED = (EscrowConflict, IllegalEscrowTransition, SimulatedCrash, ProviderCallRetry)


class EscrowMachine(LedgerMachine):
    def __init__(self) -> None:
        super().__init__()
        self.deals: list[Any] = []
        self.listener = NullListener()

    def ledger_in_use(self) -> bool:
        return bool(self.deals)

    def service(self, session: Any) -> EscrowService:
        return EscrowService(session, now=self.env["clock"].now(), listener=self.listener,
                             platform_fee_bps=self.env["runtime"].settings.app.platform_fee_bps)

    def executor(self) -> ProviderCallExecutor:
        env = self.env
        return ProviderCallExecutor(env["runtime"].session_maker, env["provider"], lambda _s: self.listener,
                                    env["clock"], platform_fee_bps=env["runtime"].settings.app.platform_fee_bps)

    async def _in_tx(self, fn: Any) -> Any:
        try:
            async with session_scope(self.env["runtime"].session_maker) as session:
                return await fn(self.service(session), session)
        except REFUSED:
            return None

    def hold(self, i: int) -> EscrowHold | None:
        async def get() -> EscrowHold | None:
            return await self.env["db"].scalar(
                sa.select(EscrowHold).where(EscrowHold.collaboration_id == self.deals[i].id))

        return self.run(get())

    @initialize()
    def make_deals(self) -> None:
        env = self.env
        for n in range(DEALS):
            creator = env["creators"][n % len(env["creators"])]
            deal = self.run(make_deal(env["runtime"], CollabState.SIGNED, brand=env["brand"], creator=creator,
                                      fee_amount=[10_000, 3_333, 1][n]))
            self.deals.append(deal)

    deal = st.integers(min_value=0, max_value=DEALS - 1)

    @rule(i=deal)
    def start_funding(self, i: int) -> None:
        d = self.deals[i]
        request = FundingRequest(d.id, d.brand.brand_id, d.creator.creator_id, [10_000, 3_333, 1][i], "USD")
        self.run(self._in_tx(lambda svc, _s: svc.start_funding(request, return_url="/r")))

    @rule()
    def run_calls(self) -> None:
        async def go() -> None:
            ids = list(await self.env["db"].scalars(
                sa.select(ProviderCall.id).where(ProviderCall.status == CallStatus.READY)
                .order_by(ProviderCall.created_at)))
            for call_id in ids:
                with contextlib.suppress(REFUSED):
                    await self.executor().execute(call_id)

        self.run(go())

    @rule(i=deal, succeed=st.booleans())
    def pay(self, i: int, succeed: bool) -> None:
        hold = self.hold(i)
        if hold is None or not hold.funding_ref:
            return

        async def go(svc: EscrowService, session: Any) -> None:
            funding = await self.env["provider"].settle_funding(session, hold.funding_ref, succeed=succeed)
            await svc.apply_funding(funding)

        self.run(self._in_tx(go))

    @rule(i=deal, part=st.sampled_from([None, 1, 2]))
    def release(self, i: int, part: int | None) -> None:
        hold = self.hold(i)
        amount = None if part is None or hold is None else min(part, hold.creator_amount_remaining)
        self.run(self._in_tx(lambda svc, _s: svc.request_release(self.deals[i].id, amount=amount)))

    @rule(i=deal)
    def refund(self, i: int) -> None:
        self.run(self._in_tx(lambda svc, _s: svc.request_refund(self.deals[i].id)))

    @rule(i=deal)
    def freeze(self, i: int) -> None:
        self.run(self._in_tx(lambda svc, _s: svc.freeze(self.deals[i].id, reason="dispute")))

    @rule(i=deal, share=st.sampled_from([0, 1, 2]))
    def split(self, i: int, share: int) -> None:
        hold = self.hold(i)
        if hold is None:
            return
        creator_amount = [0, hold.creator_amount_remaining // 2, hold.creator_amount_remaining][share]
        self.run(self._in_tx(lambda svc, _s: svc.resolve_split(self.deals[i].id, creator_amount=creator_amount)))

    @rule(c=st.integers(min_value=0, max_value=1))
    def onboard(self, c: int) -> None:
        creator = self.env["creators"][c]

        async def go(svc: EscrowService, session: Any) -> None:
            account, _call = await svc.request_payout_account(creator.creator_id, email=creator.email, country=None,
                                                              provider="simulated")
            if account.account_ref:
                update = await self.env["provider"].complete_onboarding(session, account.account_ref)
                await svc.apply_payout_account(update)

        self.run(self._in_tx(go))

    @rule(op=st.sampled_from(["transfer", "refund", "create_funding", "reverse_transfer"]),
          mode=st.sampled_from(["transient", "timeout", "definitive", "crash_after", "insufficient"]))
    def inject_fault(self, op: str, mode: str) -> None:
        self.run(self.env["provider"].inject_fault(op, mode))

    @rule()
    def recover_after_a_while(self) -> None:
        self.env["clock"].advance(minutes=7)
        self.run(self.executor().recover())

    @rule(i=deal, share=st.sampled_from([1, 2]))
    def chargeback(self, i: int, share: int) -> None:
        hold = self.hold(i)
        if hold is None or not hold.charge_ref:
            return
        amount = hold.funded_amount // share

        async def go(svc: EscrowService, _s: Any) -> None:
            await svc.record_chargeback(dispute_id=f"dp_{uuid.uuid4().hex}", amount=amount, currency="USD",
                                        status="needs_response", charge_ref=hold.charge_ref)

        self.run(self._in_tx(go))

    @rule(i=deal)
    def chargeback_won(self, i: int) -> None:
        async def go(svc: EscrowService, session: Any) -> None:
            hold = await session.scalar(sa.select(EscrowHold).where(EscrowHold.collaboration_id == self.deals[i].id))
            if hold is None:
                return
            case = await session.scalar(sa.select(Chargeback).where(Chargeback.escrow_id == hold.id,
                                                                    Chargeback.closed_at.is_(None)).limit(1))
            if case is not None:
                await svc.record_chargeback(dispute_id=case.provider_dispute_id, amount=case.amount,
                                            currency=case.currency, status="won", charge_ref=case.charge_ref)

        self.run(self._in_tx(go))

    @invariant()
    def states_are_known(self) -> None:
        for i in range(len(self.deals)):
            hold = self.hold(i)
            assert hold is None or hold.state in EscrowState


def test_ledger_invariants_hold_under_random_operations(database_url: str, tmp_path: Path) -> None:
    with machine_env(database_url, tmp_path) as env:
        try:
            brand = env.run(env.people.brand())
            creators = [env.run(env.people.creator()) for _ in range(2)]
            EscrowMachine.env = {"loop": env.loop, "runtime": env.runtime, "clock": env.clock, "db": env.db,
                                 "brand": brand, "creators": creators,
                                 "provider": SimulatedProvider(env.runtime.session_maker)}
            run_state_machine_as_test(EscrowMachine,
                                      settings=machine_settings(local=(6, 18), ci=(10, 20), heavy=(25, 30)))
        finally:
            EscrowMachine.env = {}


pytestmark = pytest.mark.slow
