"""Concurrent money decisions on PostgreSQL: real parallel sessions on separate engines, fired together, end with
exactly one money movement (row locks in one order: collaboration, escrow, ledger)."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from functools import partial
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker, create_async_engine

from escrow.models import CallStatus, ProviderCall
from escrow.states import EscrowState
from marketplace.collaborations.models import Collaboration
from marketplace.collaborations.states import CollabState
from marketplace.payments import hooks
from tests.support.escrow import assert_ledger_invariants, executor, funded_deal, hold_of, simulated

Decision = Callable[[AsyncSession, Collaboration], Awaitable[None]]


async def _release(session: AsyncSession, collab: Collaboration, now: Any, *, settings: Any) -> None:
    await hooks.release_to_creator(session, collab, now=now, reason="post_approved", settings=settings)


async def _refund(session: AsyncSession, collab: Collaboration, now: Any, *, settings: Any) -> None:
    await hooks.refund_to_brand(session, collab, now=now, reason="cancel", settings=settings)


async def _race(database_url: str, collaboration_id: Any, now: Any, *decisions: Any) -> list[Any]:
    """Each decision in its own engine and transaction; all have begun before any decides."""
    engines = [create_async_engine(database_url) for _ in decisions]
    started = asyncio.Barrier(len(decisions))

    async def one(engine: Any, decide: Any) -> str:
        async with async_sessionmaker(engine, expire_on_commit=False)() as session, session.begin():
            collab = await session.get(Collaboration, collaboration_id)
            await started.wait()
            await decide(session, collab, now)
        return "ok"

    try:
        return await asyncio.gather(*(one(e, d) for e, d in zip(engines, decisions, strict=True)),
                                    return_exceptions=True)
    finally:
        for engine in engines:
            await engine.dispose()


async def _run_ready_calls(runtime: Any, db: Any) -> None:
    ids = list(await db.scalars(sa.select(ProviderCall.id).where(ProviderCall.status == CallStatus.READY)))
    for call_id in ids:
        await executor(runtime).execute(call_id)


ROW_LOCKS = "concurrent row locks across connections are a PostgreSQL property (SQLite serialises writers)"


@pytest.mark.postgres_only(ROW_LOCKS)
async def test_release_and_refund_at_the_same_moment_move_money_once(runtime, db, database_url) -> None:
    deal = await funded_deal(runtime, CollabState.VERIFIED, onboarded=True)
    results = await _race(database_url, deal.id, runtime.clock.now(), partial(_release, settings=runtime.settings),
                            partial(_refund, settings=runtime.settings))
    assert sorted(type(r).__name__ for r in results) == ["EscrowRefused", "str"], results
    await _run_ready_calls(runtime, db)
    provider = simulated(runtime)
    moved = len(await provider.objects("transfer")) + len(await provider.objects("refund"))
    assert moved == 1
    hold = await hold_of(db, deal.id)
    assert hold.state in (EscrowState.RELEASED, EscrowState.REFUNDED) and hold.held_amount == 0
    await assert_ledger_invariants(db)


@pytest.mark.postgres_only(ROW_LOCKS)
async def test_two_releases_at_once_pay_once(runtime, db, database_url) -> None:
    deal = await funded_deal(runtime, CollabState.VERIFIED, onboarded=True, fee_amount=20_000)
    results = await _race(database_url, deal.id, runtime.clock.now(), partial(_release, settings=runtime.settings),
                            partial(_release, settings=runtime.settings))
    assert sorted(type(r).__name__ for r in results) == ["EscrowRefused", "str"], results
    await _run_ready_calls(runtime, db)
    transfers = await simulated(runtime).objects("transfer")
    assert [t.data["amount"] for t in transfers] == [20_000]
    assert (await hold_of(db, deal.id)).state is EscrowState.RELEASED
    await assert_ledger_invariants(db)


@pytest.mark.postgres_only(ROW_LOCKS)
async def test_the_same_provider_call_executed_twice_at_once_applies_once(runtime, db) -> None:
    deal = await funded_deal(runtime, CollabState.VERIFIED, onboarded=True)
    from marketplace.db import session_scope

    async with session_scope(runtime.session_maker) as session:
        await _release(session, await session.get(Collaboration, deal.id), runtime.clock.now(),
                       settings=runtime.settings)
    runtime.queue.jobs.clear()
    [call_id] = list(await db.scalars(sa.select(ProviderCall.id).where(ProviderCall.operation == "transfer")))
    outcomes = await asyncio.gather(executor(runtime).execute(call_id), executor(runtime).execute(call_id),
                                    return_exceptions=True)
    assert "done" in outcomes, outcomes
    assert len(await simulated(runtime).objects("transfer")) == 1
    assert (await hold_of(db, deal.id)).state is EscrowState.RELEASED
    await assert_ledger_invariants(db)


@pytest.mark.postgres_only(ROW_LOCKS)
async def test_the_database_refuses_to_change_or_unbalance_the_ledger(runtime, db) -> None:
    await funded_deal(runtime)
    from sqlalchemy.exc import DBAPIError

    with pytest.raises(DBAPIError, match="append-only"):
        await db.execute(sa.text("UPDATE ledger_entry SET amount = amount + 1"))
    with pytest.raises(DBAPIError, match="append-only"):
        await db.execute(sa.text("DELETE FROM ledger_transaction"))
    engine = create_async_engine(str(db.bind.url.render_as_string(hide_password=False)))
    try:
        # An extra leg in an otherwise valid transaction: refused at commit by the deferred constraint trigger.
        with pytest.raises(DBAPIError, match="does not balance"):
            async with engine.begin() as conn:
                txn_id, account_id = (await conn.execute(sa.text(
                    "SELECT transaction_id, account_id FROM ledger_entry LIMIT 1"))).one()
                await conn.execute(sa.text(
                    "INSERT INTO ledger_entry (id, transaction_id, account_id, amount, currency, pending) "
                    "VALUES (gen_random_uuid(), :t, :a, 1, 'USD', false)"), {"t": txn_id, "a": account_id})
    finally:
        await engine.dispose()
