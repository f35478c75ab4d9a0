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
The timed runs carry no instrumentation: statements and round trips are counted on a run of their own (``--count``
releases), which also takes the first use of each ledger account out of the timed runs.

``--paired`` releases are each followed by one plain insert+commit, their CPU summed apart: the ratio of the two holds
while other work on the machine comes and goes (the timed runs' figures don't).

``--against DIR`` runs the same measurement first on another checkout (``git archive HEAD | tar -x -C DIR``: its
escrow, marketplace and tests, driven by this script) in a process of its own, then on this one, ``--rounds`` times
alternately, and prints both side by side. ``--waits`` samples PostgreSQL's wait events and ungranted locks of the
bench database while the concurrent run goes (from another process, every 10 ms). ``--py-spy FILE`` records the
sequential run's on-CPU samples (py-spy, raw format) and prints where they fall.

    .venv/bin/python bench/escrow_release.py [--deals 400] [--workers 16] [--job-path] [--against DIR [--rounds 2]]
        [--waits] [--py-spy FILE] [--database NAME]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import cProfile
import json
import os
import pstats
import re
import signal
import statistics
import subprocess
import sys
import time
import uuid
from collections import Counter
from pathlib import Path
from typing import Any

# The checkout whose escrow is measured: this one, or ``--against``'s (its child process is given it).
sys.path.insert(0, os.environ.get("BENCH_ESCROW_TREE") or str(Path(__file__).resolve().parent.parent))

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
TREE = sys.path[0]
#: The bench's creators: deal n goes to creator n % CREATORS.
CREATORS = 20
SERVER = os.environ.get("BENCH_DATABASE_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/postgres")
DATABASE = "postpact_bench_escrow"


def escrow(session: Any, clock: Any, listener: Any, *, attempt_calls: bool = False) -> EscrowService:
    return EscrowService(session, now=clock.now(), listener=listener, platform_fee_bps=FEE_BPS,
                         attempt_calls=attempt_calls)


async def prepare(runtime: Any, deals: int) -> list[uuid.UUID]:
    """Funded deals with onboarded creators, made fast with the model layer (one brand, ``CREATORS`` creators)."""
    from argon2 import PasswordHasher, Type

    from marketplace.security import Passwords
    from tests.support.deals import make_deal

    runtime.passwords = Passwords(PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1, type=Type.ID))
    people = dbsupport.PeopleFactory(runtime, "bench-password-123")
    brand = await people.brand()
    creators = [await people.creator() for _ in range(CREATORS)]
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


def releaser(runtime: Any, *, job_path: bool = False) -> Any:
    """An async function releasing one deal: the decision, the provider call and the result."""
    provider = SimulatedProvider(runtime.session_maker)
    listener = NullListener()
    clock = SystemClock()
    executor = ProviderCallExecutor(runtime.session_maker, provider, lambda _s: listener, clock,
                                    platform_fee_bps=runtime.settings.app.platform_fee_bps)

    async def release(collaboration_id: uuid.UUID) -> None:
        async with runtime.session_maker() as s, s.begin():
            call = await escrow(s, clock, listener, attempt_calls=not job_path).request_release(collaboration_id)
            call_id = call.id
            attempt = None if job_path else Attempt.of(call, collaboration_id=collaboration_id)
        outcome = await executor.execute(call_id, attempt=attempt)
        assert outcome == "done", outcome

    return release


async def release_all(runtime: Any, ids: list[uuid.UUID], workers: int, *,
                      job_path: bool = False) -> tuple[float, float]:
    """(wall seconds, this process's CPU seconds) for releasing ``ids`` with ``workers`` concurrent workers."""
    release = releaser(runtime, job_path=job_path)
    queue: asyncio.Queue[uuid.UUID] = asyncio.Queue()
    for collaboration_id in ids:
        queue.put_nowait(collaboration_id)

    async def worker() -> None:
        while not queue.empty():
            await release(queue.get_nowait())

    started, cpu = time.perf_counter(), time.process_time()
    await asyncio.gather(*(worker() for _ in range(workers)))
    return time.perf_counter() - started, time.process_time() - cpu


async def paired(runtime: Any, url: str, ids: list[uuid.UUID], *, job_path: bool = False) -> tuple[float, float]:
    """(CPU seconds of the releases, of as many plain insert+commits), each release followed by one plain insert:
    the two see the same machine, so their ratio holds when other work on it comes and goes."""
    engine = create_async_engine(url, pool_size=1, max_overflow=0)
    async with engine.begin() as conn:
        await conn.execute(sa.text("CREATE TABLE IF NOT EXISTS bench_plain (id uuid PRIMARY KEY, n int)"))
    maker = async_sessionmaker(engine)
    release = releaser(runtime, job_path=job_path)
    release_cpu = plain_cpu = 0.0
    for n, collaboration_id in enumerate(ids):
        cpu = time.process_time()
        await release(collaboration_id)
        release_cpu += time.process_time() - cpu
        cpu = time.process_time()
        async with maker() as s, s.begin():
            await s.execute(sa.text("INSERT INTO bench_plain VALUES (:id, :n)"), {"id": uuid.uuid4(), "n": -n})
        plain_cpu += time.process_time() - cpu
    await engine.dispose()
    return release_cpu, plain_cpu


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


async def sample_waits(dsn: str, database: str) -> dict[str, Any]:
    """Until SIGTERM: every 10 ms, the state and wait event of each busy backend of the bench database (active, or
    idle in a transaction: waiting for this process) and their ungranted locks, counted."""
    import asyncpg

    stop = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
    conn = await asyncpg.connect(dsn.replace("postgresql+asyncpg://", "postgresql://"))
    print("ready", flush=True)
    waits: Counter[str] = Counter()
    locks: Counter[str] = Counter()
    samples = 0
    while not stop.is_set():
        samples += 1
        for row in await conn.fetch(
            "SELECT state || ', ' || coalesce(wait_event_type || ':' || wait_event, 'on CPU') AS w "
            "FROM pg_stat_activity WHERE datname = $1 AND state <> 'idle' AND pid <> pg_backend_pid()", database):
            waits[row["w"]] += 1
        for row in await conn.fetch(
            "SELECT l.locktype || ' ' || l.mode || coalesce(' ' || c.relname, '') AS k FROM pg_locks l "
            "LEFT JOIN pg_class c ON c.oid = l.relation WHERE NOT l.granted "
            "AND l.pid IN (SELECT pid FROM pg_stat_activity WHERE datname = $1)", database):
            locks[row["k"]] += 1
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), 0.01)
    await conn.close()
    return {"samples": samples, "waits": waits, "locks": locks}


def py_spy_summary(path: str) -> list[tuple[str, float]]:
    """Where a py-spy raw recording's samples fall, by the innermost frame that says."""
    def kind(frames: list[str]) -> str:
        if re.search(r"_SelectorSocketTransport.write|EpollSelector.select|_read_ready", frames[-1]):
            return "syscalls: socket send/recv, epoll"
        for frame in reversed(frames):
            if "asyncpg/" in frame and "dialects" not in frame:
                return "asyncpg protocol"
            if "sqlalchemy/orm/" in frame or "advanced_alchemy/_listeners" in frame:
                return "SQLAlchemy ORM (session, loading, attributes, flush events)"
            if "sqlalchemy/" in frame or "advanced_alchemy/types" in frame:
                return "SQLAlchemy Core (execute, parameters, compiled cache, results)"
            if "escrow/providers/" in frame:
                return "simulated provider (Python)"
            if re.search(r"\(escrow/", frame):
                return "escrow (Python)"
            if "asyncio/" in frame:
                return "asyncio loop"
        return "other"

    counts: Counter[str] = Counter()
    for line in Path(path).read_text().splitlines():
        stack, _, n = line.rpartition(" ")
        if stack:
            counts[kind(stack.split(";"))] += int(n)
    total = sum(counts.values()) or 1
    return [(name, count / total) for name, count in counts.most_common()]


async def measure(args: argparse.Namespace) -> dict[str, Any]:
    """One tree's figures: sequential and concurrent releases with plain inserts beside them, then the counts."""
    url = dbsupport.recreate_postgres_database(SERVER, args.database)
    dbsupport.migrate(url)
    settings = Settings.from_env({"POSTPACT_ENV": "test", "SECRET_KEY": "b" * 40, "DATABASE_URL": url,
                                  "DATABASE_POOL_SIZE": str(args.workers + 4)})
    runtime = build_runtime(settings, queue=RecordingQueue())
    n, counted = args.deals, args.count
    result: dict[str, Any] = {"tree": TREE, "deals": n}
    try:
        total = 2 * n + counted + CREATORS + args.paired
        print(f"[{TREE}] preparing {total} funded deals (not timed)...", file=sys.stderr, flush=True)
        ids = await prepare(runtime, total)
        ids, paired_ids = ids[: total - args.paired], ids[total - args.paired :]
        engine = runtime.alchemy.get_engine()
        # The first release to each creator creates their payable account: done first, neither timed nor counted.
        await release_all(runtime, ids[2 * n + counted :], 1, job_path=args.job_path)
        with StatementCounter(engine) as counter, RoundTrips() as trips:
            await release_all(runtime, ids[2 * n : 2 * n + counted], 1, job_path=args.job_path)
        with RoundTrips() as plain_trips:
            await plain_inserts(url, counted, 1)
        spy = None
        if args.py_spy:
            spy = await asyncio.create_subprocess_exec(
                os.path.join(os.path.dirname(sys.executable), "py-spy"), "record", "--pid", str(os.getpid()),
                "--rate", "1000", "--format", "raw", "-o", args.py_spy, "--nonblocking",
                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            await asyncio.sleep(1.5)
        profile = cProfile.Profile() if args.cprofile else None
        if profile:
            profile.enable()
        sequential = await release_all(runtime, ids[:n], 1, job_path=args.job_path)
        if profile:
            profile.disable()
        if spy is not None:
            spy.send_signal(signal.SIGINT)
            await spy.wait()
            result["py_spy"] = py_spy_summary(args.py_spy)
        sampler = None
        if args.waits:
            sampler = await asyncio.create_subprocess_exec(
                sys.executable, __file__, "--sample-waits", url, args.database, stdout=subprocess.PIPE,
                env={**os.environ, "BENCH_ESCROW_TREE": TREE})
            assert sampler.stdout is not None
            await sampler.stdout.readline()  # "ready": connected, and SIGTERM now ends it
        concurrent = await release_all(runtime, ids[n : 2 * n], args.workers, job_path=args.job_path)
        if sampler is not None:
            sampler.send_signal(signal.SIGTERM)
            out, _ = await sampler.communicate()
            result["waits"] = json.loads(out)
        plain_seq = await plain_inserts(url, n, 1)
        plain_conc = await plain_inserts(url, n, args.workers)
        result["paired"] = await paired(runtime, url, paired_ids, job_path=args.job_path) if paired_ids else None
    finally:
        await runtime.alchemy.get_engine().dispose()
        dbsupport.drop_postgres_database(SERVER, args.database)
    if profile:
        pstats.Stats(profile).sort_stats("tottime").print_stats(30)
        pstats.Stats(profile).sort_stats("cumtime").print_stats("escrow|sqlalchemy/(orm|engine)", 40)
    result.update(sequential=sequential, concurrent=concurrent, plain_seq=plain_seq, plain_conc=plain_conc,
                  counted=counted, statements=counter.total / counted,
                  by_kind=[(kind, count / counted, 1000 * counter.seconds[kind] / counted)
                           for kind, count in counter.by_kind.most_common()],
                  round_trips=trips.count / counted, plain_round_trips=plain_trips.count / counted,
                  load=os.getloadavg())
    return result


def report(r: dict[str, Any], args: argparse.Namespace) -> None:
    n = r["deals"]
    print(f"== {r['tree']}  (load average after the run: {' '.join(f'{x:.2f}' for x in r['load'])})")
    print(f"{'mode':34} {'releases/s':>11} {'plain insert+commit/s':>22} {'release / plain':>16} "
          f"{'release / 2 plain':>18} {'wall ms/release':>16} {'CPU ms/release':>15} {'CPU ms/insert':>14}")
    for name, (wall, cpu), (plain_wall, plain_cpu) in (
        ("escrow release, sequential", r["sequential"], r["plain_seq"]),
        (f"escrow release, {args.workers} workers", r["concurrent"], r["plain_conc"]),
    ):
        print(f"{name:34} {n / wall:11.1f} {n / plain_wall:22.1f} {plain_wall / wall:15.1%} "
              f"{2 * plain_wall / wall:17.1%} {1000 * wall / n:16.2f} {1000 * cpu / n:15.2f} "
              f"{1000 * plain_cpu / n:14.2f}")
    path = "decision tx + attempt tx (job path)" if args.job_path else "decision tx with the attempt"
    print(f"({n} releases per mode; each = {path} + simulated provider call + result tx)")
    seq_wall, seq_cpu = r["sequential"]
    print(f"sequential: wait (wall - CPU) {1000 * (seq_wall - seq_cpu) / n:.2f} ms per release; CPU per release = "
          f"{seq_cpu / r['plain_seq'][1]:.1f} plain insert+commits")
    if r.get("paired"):
        release_cpu, plain_cpu = r["paired"]
        print(f"paired ({args.paired} releases, each followed by a plain insert+commit): CPU per release = "
              f"{release_cpu / plain_cpu:.2f} plain insert+commits ({1000 * release_cpu / args.paired:.2f} ms / "
              f"{1000 * plain_cpu / args.paired:.2f} ms)")
    print(f"counted apart ({r['counted']} releases): {r['round_trips']:.1f} round trips per release "
          f"({r['plain_round_trips']:.1f} per plain insert+commit), {r['statements']:.1f} statements")
    print("   per release  ms waited  statement")
    for kind, count, waited in r["by_kind"]:
        print(f"  {count:11.1f} {waited:10.2f}  {kind}")
    if "py_spy" in r:
        print("sequential run's on-CPU samples (py-spy):")
        for name, share in r["py_spy"]:
            print(f"  {share:6.1%}  {name}")
    if "waits" in r:
        w = r["waits"]
        print(f"concurrent run, {w['samples']} samples: backends of the bench database not idle, by state and wait "
              "event (average count per sample)")
        for name, count in Counter(w["waits"]).most_common(12):
            print(f"  {count / w['samples']:6.2f}  {name}")
        print("  ungranted locks (per sample):" + ("" if w["locks"] else " none seen"))
        for name, count in Counter(w["locks"]).most_common(8):
            print(f"  {count / w['samples']:6.2f}  {name}")


def compare(rounds: list[tuple[dict[str, Any], dict[str, Any]]]) -> None:
    """Side by side: the other checkout (before) and this one (after), per round and as medians."""
    def per(r: dict[str, Any], mode: str) -> tuple[float, float, float]:
        wall, cpu = r[mode]
        plain_wall, _plain_cpu = r["plain_seq" if mode == "sequential" else "plain_conc"]
        return r["deals"] / wall, plain_wall / wall, 1000 * cpu / r["deals"]

    print(f"\n{'':28} {'before':>34}   {'after':>34}")
    print(f"{'round, mode':28} {'releases/s':>11} {'/ plain':>9} {'CPU ms':>12}   {'releases/s':>11} {'/ plain':>9} "
          f"{'CPU ms':>12}   CPU after/before")
    for mode in ("sequential", "concurrent"):
        ratios = []
        for k, (before, after) in enumerate(rounds, 1):
            b, a = per(before, mode), per(after, mode)
            ratios.append(a[2] / b[2])
            print(f"{k}, {mode:25} {b[0]:11.1f} {b[1]:9.1%} {b[2]:12.2f}   {a[0]:11.1f} {a[1]:9.1%} {a[2]:12.2f}   "
                  f"{a[2] / b[2]:.2f}")
        print(f"   median CPU after/before ({mode}): {statistics.median(ratios):.2f}")
    ratios = [(b["paired"][0] / b["paired"][1], a["paired"][0] / a["paired"][1]) for b, a in rounds if b.get("paired")]
    for k, (b_ratio, a_ratio) in enumerate(ratios, 1):
        print(f"{k}, paired: CPU per release in plain insert+commits {b_ratio:.2f} -> {a_ratio:.2f} "
              f"({a_ratio / b_ratio:.2f})")
    if ratios:
        print(f"   median (paired): {statistics.median(a / b for b, a in ratios):.2f}")
    before, after = rounds[-1]
    print(f"statements per release: {before['statements']:.1f} -> {after['statements']:.1f}; round trips "
          f"{before['round_trips']:.1f} -> {after['round_trips']:.1f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--deals", type=int, default=300, help="releases per mode")
    parser.add_argument("--count", type=int, default=60, help="releases counted (statements, round trips) apart")
    parser.add_argument("--workers", type=int, default=16)
    parser.add_argument("--paired", type=int, default=100,
                        help="releases each followed by a plain insert+commit, for a CPU ratio that holds under load")
    parser.add_argument("--job-path", action="store_true", help="time the queued job's path (attempt recorded apart)")
    parser.add_argument("--cprofile", action="store_true", help="print the sequential run's top functions (cProfile)")
    parser.add_argument("--py-spy", metavar="FILE", help="record the sequential run with py-spy (raw) into FILE")
    parser.add_argument("--waits", action="store_true", help="sample wait events and locks in the concurrent run")
    parser.add_argument("--database", default=DATABASE, help="the throw-away database's name")
    parser.add_argument("--against", metavar="DIR", help="another checkout to measure first, back to back")
    parser.add_argument("--rounds", type=int, default=1, help="with --against: before/after pairs to run")
    parser.add_argument("--json", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if not args.against:
        result = asyncio.run(measure(args))
        if args.json:
            print("BENCH-JSON " + json.dumps(result))
        else:
            report(result, args)
        return
    rounds = []
    for _ in range(args.rounds):
        pair = []
        for tree in (str(Path(args.against).resolve()), TREE):
            command = [sys.executable, __file__, "--json", "--deals", str(args.deals), "--count", str(args.count),
                       "--workers", str(args.workers), "--paired", str(args.paired), "--database",
                       f"{args.database}_ab"]
            command += ["--job-path"] if args.job_path else []
            command += ["--waits"] if args.waits else []
            out = subprocess.run(command, env={**os.environ, "BENCH_ESCROW_TREE": tree}, check=True,
                                 stdout=subprocess.PIPE, text=True).stdout
            result = json.loads(out.split("BENCH-JSON ", 1)[1])
            report(result, args)
            pair.append(result)
        rounds.append((pair[0], pair[1]))
    compare(rounds)


if __name__ == "__main__":
    if len(sys.argv) == 4 and sys.argv[1] == "--sample-waits":
        print(json.dumps(asyncio.run(sample_waits(sys.argv[2], sys.argv[3]))), flush=True)
    else:
        main()
