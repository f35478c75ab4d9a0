"""Two admins deciding the same dispute at the same moment on PostgreSQL: real parallel transactions on separate
engines, released together. Exactly one decision, one money movement and one audit entry; the other admin is told
it was already decided."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import async_sessionmaker, create_async_engine

from escrow.models import CallStatus, ProviderCall
from escrow.states import EscrowState
from marketplace.collaborations.states import CollabState
from marketplace.disputes import decisions, services
from marketplace.disputes.models import Dispute, DisputeDecision
from tests.support.disputes import RATIONALE, actor_now, audit_entries, disputed_deal
from tests.support.escrow import assert_ledger_invariants, executor, hold_of


@pytest.mark.postgres_only("row-lock races need PostgreSQL (SQLite serialises every writer with BEGIN IMMEDIATE)")
@pytest.mark.parametrize("outcomes", [("release", "refund"), ("split", "split"), ("refund", "release")])
async def test_two_admins_decide_at_once(database_url, runtime, people, db, outcomes) -> None:
    deal, dispute_id = await disputed_deal(runtime, CollabState.VERIFIED)
    admins = [await actor_now(runtime, await people.admin()) for _ in outcomes]
    engines = [create_async_engine(database_url) for _ in outcomes]
    started = asyncio.Barrier(len(outcomes))

    async def one(engine: Any, admin: Any, outcome: str) -> Any:
        async with async_sessionmaker(engine, expire_on_commit=False)() as session, session.begin():
            await session.get(Dispute, dispute_id)  # both transactions are open and have read the case
            await started.wait()
            return await decisions.decide(session, admin, dispute_id,
                                         decisions.DecisionInput(outcome, RATIONALE, 4_000 if outcome == "split"
                                                                else None),
                                         now=runtime.clock.now(), settings=runtime.settings)

    try:
        results = await asyncio.gather(*(one(e, a, o) for e, a, o in zip(engines, admins, outcomes, strict=True)),
                                       return_exceptions=True)
    finally:
        for engine in engines:
            await engine.dispose()

    decided = [r for r in results if isinstance(r, DisputeDecision)]
    refused = [r for r in results if isinstance(r, services.AlreadyDecided)]
    assert len(decided) == 1 and len(refused) == 1, results
    assert "Already decided by" in refused[0].message
    # The racing engines have no job queue: run the decided provider calls as the worker would.
    for call_id in list(await db.scalars(sa.select(ProviderCall.id).where(ProviderCall.status == CallStatus.READY))):
        await executor(runtime).execute(call_id)

    assert await db.scalar(sa.select(sa.func.count()).select_from(DisputeDecision)) == 1
    hold = await hold_of(db, deal.id)
    moves = list(await db.scalars(sa.select(ProviderCall.operation).where(
        ProviderCall.escrow_id == hold.id, ProviderCall.operation.in_(["transfer", "refund"]))))
    winner = decided[0].outcome.value
    expected = {"release": ["transfer"], "refund": ["refund"], "split": ["refund", "transfer"]}[winner]
    assert sorted(moves) == expected
    assert hold.state in (EscrowState.RELEASED, EscrowState.REFUNDED, EscrowState.SETTLED)
    assert len(await audit_entries(db, "dispute.decide")) == 1
    await assert_ledger_invariants(db)
