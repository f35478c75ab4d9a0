"""What the money state machines share (escrow's ledger, sales commission): a runtime over the test's database on a
loop of their own, the ledger checked after every step, injected provider faults cleared between sequences, and how
many sequences to run (a fixed modest set locally, fresh and longer ones in CI or with ESCROW_HYPOTHESIS=heavy)."""

from __future__ import annotations

import asyncio
import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import sqlalchemy as sa
from hypothesis import HealthCheck, settings
from hypothesis.stateful import RuleBasedStateMachine, invariant
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker, create_async_engine

from escrow.models import SimulatedFault
from marketplace.clock import FrozenClock
from marketplace.db import session_scope
from marketplace.jobs import RecordingQueue
from marketplace.runtime import Runtime, build_runtime
from marketplace.security import Passwords
from marketplace.settings import Settings
from tests.conftest import FAST_HASHER, START, TEST_SECRET, FreshSession
from tests.support.db import PeopleFactory
from tests.support.escrow import assert_ledger_invariants

HEAVY = os.environ.get("ESCROW_HYPOTHESIS", "").lower() == "heavy"
IN_CI = os.environ.get("CI", "").lower() in {"1", "true", "yes"}


def machine_settings(*, local: tuple[int, int], ci: tuple[int, int], heavy: tuple[int, int]) -> settings:
    """(sequences, steps each) locally, in CI and heavy; derandomized locally so the suite stays repeatable."""
    examples, steps = heavy if HEAVY else ci if IN_CI else local
    return settings(max_examples=examples, stateful_step_count=steps, deadline=None,
                    suppress_health_check=list(HealthCheck), derandomize=not (HEAVY or IN_CI), print_blob=True)


@dataclass
class MachineEnv:
    loop: asyncio.AbstractEventLoop
    clock: FrozenClock
    runtime: Runtime
    #: Autocommit session for checking (sees every commit, refreshes what it loaded).
    db: AsyncSession
    people: PeopleFactory

    def run(self, coro: Any) -> Any:
        return self.loop.run_until_complete(coro)


@contextmanager
def machine_env(database_url: str, tmp_path: Path) -> Iterator[MachineEnv]:
    """A runtime (frozen clock at START, jobs recorded) over ``database_url`` on an event loop of its own: Hypothesis
    drives the machine synchronously, so each step runs its coroutines to completion on this loop."""
    var_dir = tmp_path / "var"
    var_dir.mkdir()
    app_settings = Settings.from_env({
        "POSTPACT_ENV": "test", "SECRET_KEY": TEST_SECRET, "DATABASE_URL": database_url,
        "POSTPACT_VAR_DIR": str(var_dir), "DATABASE_POOL_SIZE": "0",
    })
    loop = asyncio.new_event_loop()
    clock = FrozenClock(START)
    runtime = build_runtime(app_settings, clock=clock, queue=RecordingQueue(), passwords=Passwords(FAST_HASHER))
    engine = create_async_engine(database_url, isolation_level="AUTOCOMMIT")
    db = async_sessionmaker(engine, class_=FreshSession, expire_on_commit=False)()
    try:
        yield MachineEnv(loop, clock, runtime, db, PeopleFactory(runtime, "correct-horse-battery"))
    finally:
        loop.run_until_complete(db.close())
        loop.run_until_complete(engine.dispose())
        loop.run_until_complete(runtime.alchemy.get_engine().dispose())
        loop.close()


class LedgerMachine(RuleBasedStateMachine):
    """Base of a money state machine: ``env`` holds the MachineEnv's parts (``loop``, ``runtime``, ``db``...) and
    what the test adds; after every step the ledger holds together (balanced, no holding account below zero,
    nothing posted rewritten: ``assert_ledger_invariants`` against the previous step's snapshot)."""

    env: ClassVar[dict[str, Any]] = {}

    def __init__(self) -> None:
        super().__init__()
        self.snapshot: dict[Any, Any] | None = None

    def run(self, coro: Any) -> Any:
        return self.env["loop"].run_until_complete(coro)

    def ledger_in_use(self) -> bool:
        """Whether there is a ledger to check yet (a machine that makes its deals first says when)."""
        return True

    @invariant()
    def ledger_holds_together(self) -> None:
        if self.ledger_in_use():
            self.snapshot = self.run(assert_ledger_invariants(self.env["db"], self.snapshot))

    def teardown(self) -> None:
        """The next sequence starts without the faults this one injected at the simulated provider."""

        async def clear() -> None:
            async with session_scope(self.env["runtime"].session_maker) as session:
                await session.execute(sa.delete(SimulatedFault))

        self.run(clear())
