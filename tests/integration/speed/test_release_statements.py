"""Statements per escrow release (issue 17's money path), counted on the engine as ``bench/escrow_release.py`` does.

One release = the decision transaction (recording the call's first attempt) + the simulated provider's statements +
the result transaction, driven through ``EscrowService`` and ``ProviderCallExecutor`` with a listener
that does nothing (the marketplace's listener adds the collaboration lock and its notifications on top).

The issue's goal is 10 in all; what is asserted here is what escrow needs today, as a ceiling that fails on any
statement added back (the provider's own statements are counted apart: they are the stand-in for Stripe). Two
transactions of ours per release are the floor the money rules set: the decision, with the call's idempotency key,
commits before the provider is called, and the answer is recorded after.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

import sqlalchemy as sa

from escrow import ledger
from escrow.events import NullListener
from escrow.executor import Attempt, ProviderCallExecutor
from escrow.models import CallStatus
from escrow.services import EscrowService
from escrow.states import EscrowState
from tests.support.escrow import assert_ledger_invariants, calls_of, funded_deal, hold_of, simulated

#: Escrow's own statements per release with the ledger accounts existing: the decision (lock with the payout
#: account, then one write: the pending posting with the hold's change, its event and the call with its first attempt)
#: and the result (lock hold and call, then one write: post and transfer posting with the hold's change, its event and
#: the call's). On PostgreSQL the writes are one statement each (the ledger's CTE carries the rest, ``escrow.carried``);
#: SQLite flushes them one by one.
ESCROW_STATEMENTS = {"postgresql": 4, "sqlite": 12}
#: The simulated provider's transfer: take an injected fault (none), and one INSERT that checks the destination and
#: the idempotency key itself; on PostgreSQL both in one statement, committed on its own (no BEGIN/COMMIT).
PROVIDER_STATEMENTS = {"postgresql": 1, "sqlite": 2}


class Statements:
    def __init__(self, engine: Any) -> None:
        self.engine = engine.sync_engine
        self.seen: list[str] = []

    def _count(self, _conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        if not statement.startswith("BEGIN"):  # SQLite's BEGIN IMMEDIATE; PostgreSQL's BEGIN is not a statement here
            self.seen.append(" ".join(statement.split()))

    def __enter__(self) -> Statements:
        sa.event.listen(self.engine, "before_cursor_execute", self._count)
        return self

    def __exit__(self, *_exc: object) -> None:
        sa.event.remove(self.engine, "before_cursor_execute", self._count)

    def split(self) -> tuple[list[str], list[str]]:
        provider = [s for s in self.seen if "simulated_" in s]
        return [s for s in self.seen if "simulated_" not in s], provider


async def _release(runtime: Any, collaboration_id: Any, *, job_path: bool = False) -> str:
    """``job_path``: as a queued job runs it, with the attempt recorded in a transaction of its own."""
    listener = NullListener()
    fee_bps = runtime.settings.app.platform_fee_bps
    async with runtime.session_maker() as session, session.begin():
        service = EscrowService(session, now=runtime.clock.now(), listener=listener, platform_fee_bps=fee_bps,
                                attempt_calls=not job_path)
        call = await service.request_release(collaboration_id)
        assert call is not None
        call_id = call.id
        attempt = None if job_path else Attempt.of(call, collaboration_id=collaboration_id)
    executor = ProviderCallExecutor(runtime.session_maker, simulated(runtime), lambda _s: listener, runtime.clock,
                                    platform_fee_bps=fee_bps)
    return await executor.execute(call_id, attempt=attempt)


async def test_a_release_takes_a_bounded_number_of_statements(runtime) -> None:
    first = await funded_deal(runtime, onboarded=True)
    second = await funded_deal(runtime, brand=first.brand, creator=first.creator)
    # The first release creates the creator's payable account; the second is the steady state.
    assert await _release(runtime, first.id) == "done"
    with Statements(runtime.alchemy.get_engine()) as statements:
        assert await _release(runtime, second.id) == "done"
    ours, provider = statements.split()
    kinds = Counter(s.split(" ", 1)[0] for s in ours)
    listing = "\n".join(f"{n:2} {s[:140]}" for n, s in enumerate(ours, 1))
    ceiling = ESCROW_STATEMENTS[runtime.alchemy.get_engine().dialect.name]
    assert len(ours) <= ceiling, f"{len(ours)} statements:\n{listing}"
    assert len(provider) == PROVIDER_STATEMENTS[runtime.alchemy.get_engine().dialect.name], provider
    # The ledger side is batched: the pending posting in the decision, then its post and the transfer together,
    # each with one multi-row entry insert that takes the accounts by code and carries the holding-account check.
    assert sum("INSERT INTO ledger_transaction" in s for s in ours) == 2, listing
    assert sum("INSERT INTO ledger_entry" in s for s in ours) == 2, listing
    assert sum("sum(ledger_entry.amount)" in s for s in ours) == 1, listing  # the decision takes from escrow_held
    assert kinds["UPDATE"] <= 3, listing  # hold twice (decide, settle), the call once (done)
    # Nothing written is read back: the only reads are the two locks (hold with payout account; hold and call).
    assert sum(s.startswith("SELECT") for s in ours) == 2, listing

    async with runtime.session_maker() as session:
        hold = await hold_of(session, second.id)
        assert hold.state is EscrowState.RELEASED
        assert hold.reserved_amount == 0 and hold.available_amount == 0
        (call,) = await calls_of(session, hold.id, "transfer")
        assert call.status is CallStatus.SUCCEEDED and call.attempts == 1
        payable = await ledger.balance_of(session, ledger.creator_payable(hold.creator_id), hold.currency)
        assert payable == 0  # released and transferred: nothing left owed
        await assert_ledger_invariants(session)


async def test_the_job_path_adds_only_the_attempt(runtime) -> None:
    """A job running a decided call records its attempt first: three statements more (find the call's deal, lock
    hold and call, record), no more."""
    first = await funded_deal(runtime, onboarded=True)
    second = await funded_deal(runtime, brand=first.brand, creator=first.creator)
    assert await _release(runtime, first.id, job_path=True) == "done"
    with Statements(runtime.alchemy.get_engine()) as statements:
        assert await _release(runtime, second.id, job_path=True) == "done"
    ours, _provider = statements.split()
    listing = "\n".join(f"{n:2} {s[:140]}" for n, s in enumerate(ours, 1))
    assert len(ours) <= ESCROW_STATEMENTS[runtime.alchemy.get_engine().dialect.name] + 3, listing
    async with runtime.session_maker() as session:
        (call,) = await calls_of(session, (await hold_of(session, second.id)).id, "transfer")
        assert call.status is CallStatus.SUCCEEDED and call.attempts == 1


async def test_the_one_statement_holding_check_still_refuses_an_overdraft(runtime) -> None:
    """The holding-account check now reads every debited account in one statement: it must still see each one."""
    import uuid

    import pytest

    funded = await funded_deal(runtime)
    async with runtime.session_maker() as session, session.begin():
        hold = await hold_of(session, funded.id)
        held = hold.creator_amount + hold.platform_fee_amount
        hold_id, creator_id = hold.id, hold.creator_id
        legs = [ledger.dr(ledger.escrow_held(hold.id), held, "USD"),
                ledger.dr(ledger.brand_funding(hold.brand_id), 1, "USD"),
                ledger.cr(ledger.creator_payable(hold.creator_id), held + 1, "USD")]
        with pytest.raises(ledger.Overdraft, match="brand_funding"):
            await ledger.post(session, key=f"test:{uuid.uuid4()}", kind="test", legs=legs, now=runtime.clock.now(),
                              actor="test")
        await session.rollback()
    async with runtime.session_maker() as session, session.begin():
        # Exactly what is held passes (nothing reserved yet): the check is not refusing everything.
        await ledger.post(session, key=f"test:{uuid.uuid4()}", kind="test", now=runtime.clock.now(), actor="test",
                          legs=[ledger.dr(ledger.escrow_held(hold_id), held, "USD"),
                                ledger.cr(ledger.creator_payable(creator_id), held, "USD")])
