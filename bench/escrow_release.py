"""Escrow releases per second on PostgreSQL with the simulated provider, sequential and with 16 concurrent workers,
against a plain single-row insert+commit measured in the same run.

One release = the decision transaction (lock, pending posting, provider call row with its first attempt) + the
provider call (the simulated provider's statements, each committed on its own) + the result transaction (post,
transfer posting, state change). ``--job-path`` times the path a queued job takes instead: the decision schedules the
call and the executor records the attempt in a transaction of its own. Deals are funded and creators onboarded
beforehand (not timed). Needs PostgreSQL: BENCH_DATABASE_URL or postgresql://postgres@127.0.0.1/ in a throw-away
database ``postpact_bench_escrow``.

The money rules make two durable commits per release the floor (the decision with its idempotency key before the
provider is called, the result after), so the ratio to two plain insert+commits is printed too. Round trips are
the requests written to PostgreSQL's sockets (statements, BEGIN, COMMIT, prepares); wait = wall - this process's CPU.

    .venv/bin/python bench/escrow_release.py [--deals 400] [--workers 16] [--job-path]
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import os
import pstats
import re
import sys
import time
import uuid
from collections import Counter
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import async_sessionmaker, create_async_engine

from escrow.events import NullListener
from escrow.executor import Attempt, ProviderCallExecutor
from escrow.models import EscrowHold
from escrow.providers.simulated import SimulatedProvider
from escrow.services import EscrowService, FundingRequest
from marketplace.clock import SystemClock
from marketplace.collaborations.states import CollabState
from marketplace.jobs import RecordingQueue
from marketplace.runtime import build_runtime
from marketplace.settings import Settings
from tests.support import db as dbsupport

#: PostPact's fee, as the default settings have it (escrow takes it explicitly).
FEE_BPS = 800
SERVER = os.environ.get("BENCH_DATABASE_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/postgres")
DATABASE = "postpact_bench_escrow"


def escrow(session: Any, clock: Any, listener: Any, *, attempt_calls: bool = False) -> EscrowService:
    return EscrowService(session, now=clock.now(), listener=listener, platform_fee_bps=FEE_BPS,
                         attempt_calls=attempt_calls)


async def prepare(runtime: Any, deals: int) -> list[uuid.UUID]:
    """Funded deals with onboarded creators, made fast with the model layer (one brand, 20 creators)."""
    from argon2 import PasswordHasher, Type

    from marketplace.security import Passwords
    from tests.support.deals import make_deal

    runtime.passwords = Passwords(PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1, type=Type.ID))
    people = dbsupport.PeopleFactory(runtime, "bench-password-123")
    brand = await people.brand()
    creators = [await people.creator() for _ in range(20)]
    provider = SimulatedProvider(runtime.session_maker)
    listener = NullListener()
    clock = SystemClock()
    executor = ProviderCallExecutor(runtime.session_maker, provider, lambda _s: listener, clock,
                                    platform_fee_bps=runtime.settings.app.platform_fee_bps)
    ids = []
    for creator in creators:
        async with runtime.session_maker() as s, s.begin():
            svc = escrow(s, clock, listener)
            _account, call = await svc.request_payout_account(creator.creator_id, email=creator.email, country=None,
                                                             provider="simulated")
        await executor.execute(call.id)
        async with runtime.session_maker() as s, s.begin():
            ref = await s.scalar(sa.text("SELECT account_ref FROM payout_account WHERE creator_id = :c"),
                                 {"c": creator.creator_id})
            update = await provider.complete_onboarding(s, ref)
            await escrow(s, clock, listener).apply_payout_account(update)
    for n in range(deals):
        deal = await make_deal(runtime, CollabState.SIGNED, brand=brand, creator=creators[n % len(creators)],
                               fee_amount=10_000 + n)
        async with runtime.session_maker() as s, s.begin():
            call = await escrow(s, clock, listener).start_funding(
                FundingRequest(deal.id, brand.brand_id, deal.creator.creator_id, 10_000 + n, "USD"), return_url="/")
        await executor.execute(call.id)
        async with runtime.session_maker() as s, s.begin():
            hold = await s.scalar(sa.select(EscrowHold).where(EscrowHold.collaboration_id == deal.id))
            funding = await provider.settle_funding(s, hold.funding_ref, succeed=True)
            await escrow(s, clock, listener).apply_funding(funding)
        ids.append(deal.id)
    return ids


class RoundTrips:
    """Counts requests written to the database's sockets (asyncpg writes one per statement, BEGIN or COMMIT)."""

    def __init__(self) -> None:
        self.count = 0
        self._write: Any = None

    def __enter__(self) -> RoundTrips:
        from asyncio import selector_events

        transport = selector_events._SelectorSocketTransport
        self._write = original = transport.write

        def write(this: Any, data: Any) -> None:
            self.count += 1
            original(this, data)

        transport.write = write  # type: ignore[method-assign]
        return self

    def __exit__(self, *_exc: object) -> None:
        from asyncio import selector_events

        selector_events._SelectorSocketTransport.write = self._write  # type: ignore[method-assign]


_TABLE = re.compile(r"\b(?:FROM|INTO|UPDATE)\s+\"?(\w+)", re.IGNORECASE)


class StatementCounter:
    """Counts statements sent through the engine (one per execute; an executemany counts once), by verb and table,
    with the time each kind waited for its answer (cursor execute to its return)."""

    def __init__(self, engine: Any) -> None:
        self.engine = engine.sync_engine
        self.by_kind: Counter[str] = Counter()
        self.seconds: Counter[str] = Counter()

    @staticmethod
    def kind(statement: str) -> str:
        verb = statement.lstrip().split(None, 1)[0].upper()
        table = _TABLE.search(statement)
        return f"{verb} {table.group(1) if table else ''}".strip()

    def _before(self, _conn: Any, _cursor: Any, statement: str, _params: Any, context: Any, *_args: Any) -> None:
        context._bench_started = time.perf_counter()

    def _after(self, _conn: Any, _cursor: Any, statement: str, _params: Any, context: Any, *_args: Any) -> None:
        kind = self.kind(statement)
        self.by_kind[kind] += 1
        self.seconds[kind] += time.perf_counter() - context._bench_started

    def __enter__(self) -> StatementCounter:
        sa.event.listen(self.engine, "before_cursor_execute", self._before)
        sa.event.listen(self.engine, "after_cursor_execute", self._after)
        return self

    def __exit__(self, *_exc: object) -> None:
        sa.event.remove(self.engine, "before_cursor_execute", self._before)
        sa.event.remove(self.engine, "after_cursor_execute", self._after)

    @property
    def total(self) -> int:
        return sum(self.by_kind.values())


async def release_all(runtime: Any, ids: list[uuid.UUID], workers: int, *,
                      job_path: bool = False) -> tuple[float, float]:
    """(wall seconds, this process's CPU seconds) for releasing ``ids`` with ``workers`` concurrent workers."""
    provider = SimulatedProvider(runtime.session_maker)
    listener = NullListener()
    clock = SystemClock()
    executor = ProviderCallExecutor(runtime.session_maker, provider, lambda _s: listener, clock,
                                    platform_fee_bps=runtime.settings.app.platform_fee_bps)
    queue: asyncio.Queue[uuid.UUID] = asyncio.Queue()
    for collaboration_id in ids:
        queue.put_nowait(collaboration_id)

    async def worker() -> None:
        while not queue.empty():
            collaboration_id = queue.get_nowait()
            async with runtime.session_maker() as s, s.begin():
                call = await escrow(s, clock, listener, attempt_calls=not job_path).request_release(collaboration_id)
                call_id = call.id
                attempt = None if job_path else Attempt.of(call, collaboration_id=collaboration_id)
            outcome = await executor.execute(call_id, attempt=attempt)
            assert outcome == "done", outcome

    started, cpu = time.perf_counter(), time.process_time()
    await asyncio.gather(*(worker() for _ in range(workers)))
    return time.perf_counter() - started, time.process_time() - cpu


async def plain_inserts(url: str, count: int, workers: int) -> tuple[float, float]:
    engine = create_async_engine(url, pool_size=workers, max_overflow=0)
    async with engine.begin() as conn:
        await conn.execute(sa.text("CREATE TABLE IF NOT EXISTS bench_plain (id uuid PRIMARY KEY, n int)"))
    maker = async_sessionmaker(engine)
    remaining = list(range(count))

    async def worker() -> None:
        while remaining:
            n = remaining.pop()
            async with maker() as s, s.begin():
                await s.execute(sa.text("INSERT INTO bench_plain VALUES (:id, :n)"), {"id": uuid.uuid4(), "n": n})

    started, cpu = time.perf_counter(), time.process_time()
    await asyncio.gather(*(worker() for _ in range(workers)))
    elapsed = time.perf_counter() - started, time.process_time() - cpu
    await engine.dispose()
    return elapsed


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--deals", type=int, default=300, help="releases per mode")
    parser.add_argument("--workers", type=int, default=16)
    parser.add_argument("--job-path", action="store_true", help="time the queued job's path (attempt recorded apart)")
    parser.add_argument("--cprofile", action="store_true", help="print the sequential run's top functions (cProfile)")
    args = parser.parse_args()
    url = dbsupport.recreate_postgres_database(SERVER, DATABASE)
    dbsupport.migrate(url)
    settings = Settings.from_env({"POSTPACT_ENV": "test", "SECRET_KEY": "b" * 40, "DATABASE_URL": url,
                                  "DATABASE_POOL_SIZE": str(args.workers + 4)})
    runtime = build_runtime(settings, queue=RecordingQueue())
    try:
        print(f"preparing {2 * args.deals} funded deals (not timed)...", flush=True)
        ids = await prepare(runtime, 2 * args.deals)
        profile = cProfile.Profile() if args.cprofile else None
        with StatementCounter(runtime.alchemy.get_engine()) as counter, RoundTrips() as trips:
            if profile:
                profile.enable()
            sequential = await release_all(runtime, ids[: args.deals], 1, job_path=args.job_path)
            if profile:
                profile.disable()
        concurrent = await release_all(runtime, ids[args.deals :], args.workers, job_path=args.job_path)
        with RoundTrips() as plain_trips:
            plain_seq = await plain_inserts(url, args.deals, 1)
        plain_conc = await plain_inserts(url, args.deals, args.workers)
    finally:
        await runtime.alchemy.get_engine().dispose()
        dbsupport.drop_postgres_database(SERVER, DATABASE)
    n = args.deals
    rows = [
        ("escrow release, sequential", sequential, plain_seq),
        (f"escrow release, {args.workers} workers", concurrent, plain_conc),
    ]
    print(f"{'mode':34} {'releases/s':>11} {'plain insert+commit/s':>22} {'release / plain':>16} "
          f"{'release / 2 plain':>18} {'wall ms/release':>16} {'CPU ms/release':>15} {'CPU ms/insert':>14}")
    for name, (wall, cpu), (plain_wall, plain_cpu) in rows:
        print(f"{name:34} {n / wall:11.1f} {n / plain_wall:22.1f} {plain_wall / wall:15.1%} "
              f"{2 * plain_wall / wall:17.1%} {1000 * wall / n:16.2f} {1000 * cpu / n:15.2f} "
              f"{1000 * plain_cpu / n:14.2f}")
    path = "decision tx + attempt tx (job path)" if args.job_path else "decision tx with the attempt"
    print(f"({n} releases per mode; each = {path} + simulated provider call + result tx)")
    print(f"load average: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    seq_wall, seq_cpu = sequential
    print(f"sequential: {trips.count / n:.1f} round trips per release ({plain_trips.count / n:.1f} per plain "
          f"insert+commit); wait (wall - CPU) {1000 * (seq_wall - seq_cpu) / n:.2f} ms per release")
    print(f"statements per release (sequential run): {counter.total / n:.1f}")
    print("   per release  ms waited  statement")
    for kind, count in counter.by_kind.most_common():
        print(f"  {count / n:11.1f} {1000 * counter.seconds[kind] / n:10.2f}  {kind}")
    if profile:
        pstats.Stats(profile).sort_stats("tottime").print_stats(30)
        pstats.Stats(profile).sort_stats("cumtime").print_stats("escrow|sqlalchemy/(orm|engine)", 40)


if __name__ == "__main__":
    asyncio.run(main())
