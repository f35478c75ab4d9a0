"""Test factories for money: "a funded collaboration", "an onboarded creator", running provider calls, and the
ledger invariants every escrow test can assert.

    deal = await funded_deal(runtime)                              # signed, paid via the simulated checkout
    deal = await funded_deal(runtime, state=CollabState.VERIFIED, onboarded=True)
    await onboard_creator(runtime, deal.creator)
    await run_jobs(runtime)                                        # execute queued provider calls
    await assert_ledger_invariants(session)
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any
from uuid import UUID

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from escrow import ledger
from escrow.executor import ProviderCallExecutor
from escrow.models import (
    CallStatus,
    EscrowHold,
    LedgerAccount,
    LedgerEntry,
    LedgerTransaction,
    PayoutAccount,
    Phase,
    ProviderCall,
)
from escrow.providers.simulated import SimulatedProvider
from marketplace.accounts.auth import load_actor
from marketplace.collaborations.models import Collaboration
from marketplace.collaborations.states import CollabState
from marketplace.db import session_scope
from marketplace.jobs import InProcessQueue, RecordingQueue
from marketplace.payments import gateway
from marketplace.payments import services as payments
from marketplace.payments.bridge import CollaborationBridge
from marketplace.runtime import Runtime
from tests.support.deals import Deal, advance_deal, make_deal


def simulated(runtime: Runtime) -> SimulatedProvider:
    provider = gateway.provider_for(runtime.settings, runtime.session_maker, runtime.resources)
    assert isinstance(provider, SimulatedProvider)
    return provider


def executor(runtime: Runtime, provider: Any | None = None) -> ProviderCallExecutor:
    return ProviderCallExecutor(
        runtime.session_maker,
        provider or simulated(runtime),
        lambda session: CollaborationBridge(session),
        runtime.clock,
        platform_fee_bps=runtime.settings.app.platform_fee_bps,
    )


async def run_jobs(runtime: Runtime) -> int:
    """Run the jobs queued so far (provider calls, emails...) the way the worker would."""
    queue = runtime.queue
    if isinstance(queue, RecordingQueue):
        return await queue.run_all(runtime.job_context())
    if isinstance(queue, InProcessQueue):
        await queue.drain()
    return 0


async def actor_of(runtime: Runtime, person: Any) -> Any:
    async with runtime.session_maker() as session:
        loaded = await load_actor(session, person.user_id)
        assert loaded is not None
        return loaded[0]


async def start_funding(runtime: Runtime, deal: Deal) -> None:
    brand = await actor_of(runtime, deal.brand)
    async with session_scope(runtime.session_maker) as session:
        await payments.fund_collaborations(session, brand, [deal.id], now=runtime.clock.now(),
                                           settings=runtime.settings)


async def pay_checkout(runtime: Runtime, deal: Deal, *, succeed: bool = True) -> None:
    """What the simulated checkout page does when the brand pays (or the card is declined)."""
    async with session_scope(runtime.session_maker) as session:
        hold = await session.scalar(sa.select(EscrowHold).where(EscrowHold.collaboration_id == deal.id))
        assert hold is not None and hold.funding_ref, "the funding call has not run yet"
        funding = await simulated(runtime).settle_funding(session, hold.funding_ref, succeed=succeed)
        await gateway.escrow_service(session, runtime.clock.now(), settings=runtime.settings).apply_funding(funding)


async def fund(runtime: Runtime, deal: Deal) -> None:
    await start_funding(runtime, deal)
    await run_jobs(runtime)
    await pay_checkout(runtime, deal)
    await run_jobs(runtime)


async def onboard_creator(runtime: Runtime, creator: Any) -> None:
    """An onboarded creator: payout account created at the (simulated) provider and able to receive transfers."""
    await onboard_creators(runtime, [creator])


async def onboard_creators(runtime: Runtime, creators: list[Any]) -> None:
    """``onboard_creator`` for each of ``creators``: one transaction asks for the payout accounts, the queued
    provider calls run, one transaction completes the onboardings, and their jobs run."""
    async with session_scope(runtime.session_maker) as session:
        for creator in creators:
            loaded = await load_actor(session, creator.user_id)
            assert loaded is not None
            await payments.start_payout_onboarding(session, loaded[0], now=runtime.clock.now(),
                                                   settings=runtime.settings)
    await run_jobs(runtime)
    async with session_scope(runtime.session_maker) as session:
        service = gateway.escrow_service(session, runtime.clock.now(), settings=runtime.settings)
        for creator in creators:
            account = await session.scalar(sa.select(PayoutAccount).where(
                PayoutAccount.creator_id == creator.creator_id))
            assert account is not None and account.account_ref, "the payout account call has not run"
            await service.apply_payout_account(await simulated(runtime).complete_onboarding(session,
                                                                                            account.account_ref))
    await run_jobs(runtime)


async def funded_deal(runtime: Runtime, state: CollabState = CollabState.FUNDED, *, onboarded: bool = False,
                      **deal_kwargs: Any) -> Deal:
    """A collaboration funded through escrow (simulated checkout paid), then moved on to ``state``."""
    deal = await make_deal(runtime, CollabState.SIGNED, **deal_kwargs)
    await fund(runtime, deal)
    if onboarded:
        await onboard_creator(runtime, deal.creator)
    if state is not CollabState.FUNDED:
        await advance_deal(runtime, deal, state)
    return deal


async def hold_of(session: AsyncSession, collaboration_id: UUID) -> EscrowHold:
    hold = await session.scalar(sa.select(EscrowHold).where(EscrowHold.collaboration_id == collaboration_id)
                                .execution_options(populate_existing=True))
    assert hold is not None
    return hold


async def collab_state(session: AsyncSession, collaboration_id: UUID) -> CollabState:
    collab = await session.get(Collaboration, collaboration_id, populate_existing=True)
    assert collab is not None
    return CollabState(collab.status)


async def calls_of(session: AsyncSession, escrow_id: UUID, operation: str | None = None) -> list[ProviderCall]:
    query = sa.select(ProviderCall).where(ProviderCall.escrow_id == escrow_id).order_by(ProviderCall.created_at)
    if operation:
        query = query.where(ProviderCall.operation == operation)
    return list(await session.scalars(query.execution_options(populate_existing=True)))


async def balance(session: AsyncSession, spec: ledger.AccountSpec, currency: str = "USD") -> int:
    return await ledger.balance_of(session, spec, currency)


# --- invariants ---------------------------------------------------------------------------------------------------


async def ledger_snapshot(session: AsyncSession) -> dict[UUID, tuple[Any, ...]]:
    """Every transaction with its legs, to prove later that nothing written was changed."""
    txns = {t.id: t for t in await session.scalars(
        sa.select(LedgerTransaction).execution_options(populate_existing=True))}
    legs: dict[UUID, list[tuple[UUID, int, str, bool]]] = defaultdict(list)
    for e in await session.scalars(sa.select(LedgerEntry).execution_options(populate_existing=True)):
        legs[e.transaction_id].append((e.account_id, e.amount, e.currency, e.pending))
    return {
        tid: (t.idempotency_key, t.kind, t.phase, t.pending_id, t.escrow_id, tuple(sorted(legs[tid])))
        for tid, t in txns.items()
    }


async def assert_ledger_invariants(session: AsyncSession, previous: dict[UUID, tuple[Any, ...]] | None = None
                                   ) -> dict[UUID, tuple[Any, ...]]:
    """Each transaction balances; every account sums to zero overall; no holding account is negative (counting
    reservations); released + refunded <= funded per escrow and the escrow's cached sums match the ledger;
    a pending posting is resolved at most once; nothing written before has changed. Returns the new snapshot."""
    assert await ledger.unbalanced_transactions(session) == []
    totals = (await session.execute(
        sa.select(LedgerEntry.currency, sa.func.sum(LedgerEntry.amount))
        .where(LedgerEntry.pending.is_(False)).group_by(LedgerEntry.currency))).all()
    assert all(int(total) == 0 for _, total in totals), totals
    accounts = list(await session.scalars(sa.select(LedgerAccount)))
    for account in accounts:
        if account.holding:
            available = await ledger.available_balance(session, account.id)
            assert available >= 0, f"{account.code} is negative: {available}"
    resolutions = (await session.execute(
        sa.select(LedgerTransaction.pending_id, sa.func.count())
        .where(LedgerTransaction.pending_id.is_not(None)).group_by(LedgerTransaction.pending_id))).all()
    assert all(count == 1 for _, count in resolutions)
    by_code = {(a.code, a.currency): a.id for a in accounts}
    for hold in await session.scalars(sa.select(EscrowHold).execution_options(populate_existing=True)):
        out = hold.released_creator_amount + hold.released_fee_amount + hold.refunded_amount
        assert out + hold.charged_back_amount <= hold.funded_amount, hold.id
        assert hold.reserved_amount >= 0 and hold.held_amount >= hold.reserved_amount
        account_id = by_code.get((f"escrow_held:{hold.id}", hold.currency))
        held = -(await ledger.posted_balance(session, account_id)) if account_id else 0
        reserved = await ledger.reserved_debits(session, account_id) if account_id else 0
        assert held == hold.held_amount, (hold.id, held, hold.held_amount)
        assert reserved == hold.reserved_amount, (hold.id, reserved, hold.reserved_amount)
        unfinished = await session.scalar(sa.select(sa.func.count()).select_from(ProviderCall).where(
            ProviderCall.escrow_id == hold.id, ProviderCall.pending_transaction_id.is_not(None),
            ProviderCall.status.in_([CallStatus.READY, CallStatus.WAITING])))
        pending_open = await session.scalar(sa.select(sa.func.count()).select_from(LedgerTransaction).where(
            LedgerTransaction.escrow_id == hold.id, ledger.unresolved_pending()))
        assert unfinished == pending_open, (hold.id, unfinished, pending_open)
    snapshot = await ledger_snapshot(session)
    if previous is not None:
        for tid, before in previous.items():
            assert snapshot.get(tid) == before, f"ledger transaction {tid} changed after posting"
    return snapshot


__all__ = [
    "Phase",
    "actor_of",
    "assert_ledger_invariants",
    "balance",
    "calls_of",
    "collab_state",
    "executor",
    "fund",
    "funded_deal",
    "hold_of",
    "ledger_snapshot",
    "onboard_creator",
    "pay_checkout",
    "run_jobs",
    "simulated",
    "start_funding",
]
