"""Benchmark: rebuild 100k reliability scores from 1M outcome events on PostgreSQL, and the incremental update rate.

Prints, from one run on one scratch database (dropped afterwards):
- the set-based rebuild (`reputation.rebuild.rebuild_scores`: one pass over the log in SQL into a temporary table,
  then an UPDATE of the rows that differ and an INSERT of missing ones), first run (every row written) and second run
  (nothing to write), and its ratio to a plain SQL GROUP BY aggregate over the same events measured in the same run
  (also one with the decay computed in SQL, for reference); then BENCH_ROUNDS (3) rounds in all of (that aggregate of
  the same formula, a first rebuild, a repeat rebuild), the scores reset to newcomers in between, and the medians:
  one round's ratio moves with the load of a shared machine, so each round also gives the database's CPU time for
  each (its server processes', parallel workers included) and the medians of those; with BENCH_LEGACY=1 also the
  batched Python recompute (`reputation.recompute.recompute_all`: lock a batch, fold its events in Python, write it
  back);
- that the rebuilt evidence equals the SQL decayed aggregate (largest relative difference);
- the incremental rate of `record_outcome` (one transaction per outcome), sequential and 16 at a time;
- the daily ranking refresh over every row (`reputation.recompute.refresh_rankings`, SQL batches of 10,000);
- the ranked creator directory (`search_directory`, sort by reliability, 25 a page, and its single ranked query)
  p50/p99 from a separate process, idle, while a repeat rebuild runs and while a first one runs (which takes the
  table from readers for its writes and the ranking index's build).

Data is bulk-loaded with set-based SQL (generate_series): 90% creators (users, creators, social accounts) and 10%
brands, ten outcome events per subject over two years, kinds and weights from the reputation catalogue.

    .venv/bin/python bench/reputation_recompute.py
    BENCH_SUBJECTS=20000 BENCH_EVENTS=200000 .venv/bin/python bench/reputation_recompute.py
    BENCH_DB_NAME=postpact_bench_mine ...  # another scratch database name (default postpact_bench_reputation)
    BENCH_KEEP=1 ...   # keep the scratch database for a closer look
    BENCH_LEGACY=1 ... # also time the batched Python recompute (minutes at 1M events)
"""

from __future__ import annotations

import asyncio
import math
import multiprocessing as mp
import os
import random
import statistics
import sys
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.procstat import cpu_ticks
from marketplace.migrate import upgrade
from marketplace.settings import normalise_database_url
from reputation.events import CATALOGUE, EventKind
from reputation.rebuild import rebuild_scores
from reputation.recompute import recompute_all, refresh_rankings
from reputation.scoring import DEFAULT_HALF_LIFE_DAYS
from reputation.services import Subject, record_outcome

SERVER = os.environ.get("BENCH_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
DB_NAME = os.environ.get("BENCH_DB_NAME", "postpact_bench_reputation")
SUBJECTS = int(os.environ.get("BENCH_SUBJECTS", "100000"))
EVENTS = int(os.environ.get("BENCH_EVENTS", "1000000"))
BATCH = int(os.environ.get("BENCH_BATCH", "2000"))
INCREMENTAL = int(os.environ.get("BENCH_INCREMENTAL", "2000"))
#: Rounds of (same-formula aggregate, first rebuild, repeat rebuild), the scores reset to newcomers in between: on a
#: shared machine one round's ratio moves with the load, the median of several much less.
ROUNDS = int(os.environ.get("BENCH_ROUNDS", "3"))
CREATORS = SUBJECTS * 9 // 10
BRANDS = SUBJECTS - CREATORS
NOW = datetime(2026, 11, 21, 12, 0, tzinfo=UTC)

#: (kind, share) per side: most deals go well, as in the field (about 80% of gifted creators post).
CREATOR_MIX = [
    (EventKind.CREATOR_ON_TIME, 0.70),
    (EventKind.CREATOR_LATE, 0.15),
    (EventKind.CREATOR_GHOSTED, 0.07),
    (EventKind.CREATOR_POST_REMOVED, 0.03),
    (EventKind.CREATOR_CANCELLED_AFTER_SIGNING, 0.03),
    (EventKind.CREATOR_DISPUTE_LOST, 0.02),
]
BRAND_MIX = [
    (EventKind.BRAND_RELEASED_ON_TIME, 0.80),
    (EventKind.BRAND_LATE_RELEASE, 0.15),
    (EventKind.BRAND_DID_NOT_SHIP, 0.03),
    (EventKind.BRAND_DISPUTE_LOST, 0.02),
]


def _case(mix: list[tuple[EventKind, float]], attribute: str) -> str:
    """SQL CASE over the row's random draw `u` giving the kind, its value or its catalogue weight."""
    parts, edge = [], 0.0
    for kind, share in mix:
        edge += share
        spec = CATALOGUE[kind]
        value = {"kind": f"'{kind.value}'", "value": repr(spec.value), "weight": repr(spec.weight)}[attribute]
        parts.append(f"WHEN u < {edge:.6f} THEN {value}")
    last = mix[-1][0]
    fallback = {
        "kind": f"'{last.value}'",
        "value": repr(CATALOGUE[last].value),
        "weight": repr(CATALOGUE[last].weight),
    }[attribute]
    return "CASE " + " ".join(parts) + f" ELSE {fallback} END"


LOAD_PEOPLE = [
    """INSERT INTO user_account (id, email, password_hash, kind, full_name, is_active, created_at, updated_at)
       SELECT gen_random_uuid(), 'owner' || g || '@bench.test', 'x', 'brand', 'Owner ' || g, true, :now, :now
       FROM generate_series(0, :brands - 1) g""",
    """INSERT INTO user_account (id, email, password_hash, kind, full_name, is_active, created_at, updated_at)
       SELECT gen_random_uuid(), 'creator' || g || '@bench.test', 'x', 'creator', 'Creator ' || g, true, :now, :now
       FROM generate_series(0, :creators - 1) g""",
    """CREATE TABLE bench_brand AS SELECT g AS n, gen_random_uuid() AS id FROM generate_series(0, :brands - 1) g""",
    """INSERT INTO brand (id, name, description, created_at, updated_at)
       SELECT id, 'Brand ' || n, '', :now, :now FROM bench_brand""",
    """INSERT INTO brand_member (id, brand_id, user_id, role, created_at, updated_at)
       SELECT gen_random_uuid(), b.id, u.id, 'owner', :now, :now
       FROM bench_brand b JOIN user_account u ON u.email = 'owner' || b.n || '@bench.test'""",
    """CREATE TABLE bench_creator AS
       SELECT g AS n, gen_random_uuid() AS id FROM generate_series(0, :creators - 1) g""",
    """INSERT INTO creator (id, user_id, display_name, bio, languages, total_followers, best_engagement_bps,
                            created_at, updated_at)
       SELECT c.id, u.id, 'Creator ' || c.n, '', '[]', 2000 + (c.n * 7919) % 98000, 100 + (c.n * 31) % 900,
              :now, :now
       FROM bench_creator c JOIN user_account u ON u.email = 'creator' || c.n || '@bench.test'""",
    """INSERT INTO social_account (id, creator_id, platform, handle, profile_url, followers, average_views,
                                   engagement_bps, created_at, updated_at)
       SELECT gen_random_uuid(), id, 'tiktok', 'bench_' || n, 'https://www.tiktok.com/@bench_' || n,
              2000 + (n * 7919) % 98000, 3000, 300, :now, :now
       FROM bench_creator""",
]


def load_events_sql() -> str:
    """Ten events per subject: event g belongs to subject g % SUBJECTS (creators first, then brands)."""
    # Built from the catalogue constants above, never from input.
    return f"""
    INSERT INTO reputation_event (subject_kind, subject_id, kind, value, weight, deal_value_minor, currency_exponent,
                                  collaboration_id, counterparty_id, occurred_at, recorded_at)
    SELECT d.side, d.subject_id,
           CASE WHEN d.side = 'creator' THEN {_case(CREATOR_MIX, "kind")} ELSE {_case(BRAND_MIX, "kind")} END,
           CASE WHEN d.side = 'creator' THEN {_case(CREATOR_MIX, "value")} ELSE {_case(BRAND_MIX, "value")} END,
           (CASE WHEN d.side = 'creator' THEN {_case(CREATOR_MIX, "weight")} ELSE {_case(BRAND_MIX, "weight")} END)
             * (1 + log(2, 1 + d.deal_value_minor / 10000.0)),
           d.deal_value_minor, 2, gen_random_uuid(), d.counterparty_id, d.occurred_at, d.occurred_at
    FROM (
        SELECT CASE WHEN s < :creators THEN 'creator' ELSE 'brand' END AS side,
               CASE WHEN s < :creators THEN c.id ELSE b.id END AS subject_id,
               CASE WHEN s < :creators THEN cb.id ELSE bc.id END AS counterparty_id,
               random() AS u,
               (2000 + floor(random() * 298000))::bigint AS deal_value_minor,
               CAST(:now AS timestamptz) - random() * interval '730 days' AS occurred_at
        FROM generate_series(0, :events - 1) g
        CROSS JOIN LATERAL (SELECT g % :subjects AS s) pick
        LEFT JOIN bench_creator c ON c.n = pick.s
        LEFT JOIN bench_brand b ON b.n = pick.s - :creators
        LEFT JOIN bench_brand cb ON cb.n = (g * 7) % :brands
        LEFT JOIN bench_creator bc ON bc.n = (g * 13) % :creators
    ) d
    """  # noqa: S608


PLAIN_AGGREGATE = """
    CREATE TEMP TABLE bench_plain AS
    SELECT subject_kind, subject_id, count(*) AS n, sum(weight * (1 + value) / 2) AS r,
           sum(weight * (1 - value) / 2) AS s, max(occurred_at) AS last_at
    FROM reputation_event GROUP BY subject_kind, subject_id
"""
#: In double precision, as the rebuild computes it: extract() returns numeric since PostgreSQL 14, and power() on
#: numeric made this reference 8 s instead of 1 s.
DECAYED_AGGREGATE = f"""
    CREATE TEMP TABLE bench_decayed AS
    SELECT e.subject_kind, e.subject_id,
           sum(e.weight * (1 + e.value) / 2
               * power(0.5, date_part('epoch', m.last_at - e.occurred_at) / 86400.0 / {DEFAULT_HALF_LIFE_DAYS})) AS r,
           sum(e.weight * (1 - e.value) / 2
               * power(0.5, date_part('epoch', m.last_at - e.occurred_at) / 86400.0 / {DEFAULT_HALF_LIFE_DAYS})) AS s,
           max(m.last_at) AS last_at
    FROM reputation_event e
    JOIN (SELECT subject_kind, subject_id, max(occurred_at) AS last_at FROM reputation_event
          GROUP BY subject_kind, subject_id) m USING (subject_kind, subject_id)
    GROUP BY e.subject_kind, e.subject_id
"""  # noqa: S608 (constants only)


#: Every derived column back to a newcomer's value (what the creator/brand triggers insert), for another first run.
RESET_SCORES = """
    UPDATE reliability_score SET r = 0, s = 0, evidence_at = NULL, events_count = 0, on_time_count = 0, late_count = 0,
           ghosted_count = 0, removed_count = 0, cancelled_count = 0, disputes_lost_count = 0, did_not_ship_count = 0,
           ratings_received = 0, completed_deals = 0, distinct_counterparties = 0, ghosted_at = '[]',
           suspended_at = NULL, ratings_given = 0, extreme_ratings_given = 0, ranking_score = 0, expected = 0.5,
           rank_order = 500, tier = 'NEW', ranked_at = NULL
"""


async def _vacuum(engine: AsyncEngine, table: str) -> None:
    async with engine.connect() as conn:
        await conn.execution_options(isolation_level="AUTOCOMMIT")
        await conn.execute(sa.text(f"VACUUM ANALYZE {table}"))


class DatabaseCpu:
    """CPU seconds the bench database's server processes (the database runs on this machine) use inside the block,
    parallel workers included: they come and go within a statement, so the processes are sampled every 20 ms from
    pg_stat_activity (the last few ms of a worker before it exits are missed). On a shared machine wall time moves
    with everyone's load; this much less."""

    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine
        self.seconds = 0.0

    async def _sample(self, conn: Any) -> None:
        pids = (await conn.execute(sa.text(self._PIDS))).scalars().all()
        for pid, ticks in cpu_ticks(pids).items():
            self.seen[pid] = ticks

    _PIDS = "SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()"

    async def _poll(self, conn: Any) -> None:
        # Stopped between samples, never cancelled inside one (that would break the connection's transaction).
        while not self.stop.is_set():
            await asyncio.sleep(0.02)
            await self._sample(conn)

    async def __aenter__(self) -> DatabaseCpu:
        self.conn = await self.engine.connect()
        await self.conn.execution_options(isolation_level="AUTOCOMMIT")
        self.seen: dict[int, int] = {}
        await self._sample(self.conn)
        self.base = dict(self.seen)
        self.stop = asyncio.Event()
        self.poller = asyncio.create_task(self._poll(self.conn))
        return self

    async def __aexit__(self, *exc: object) -> None:
        self.stop.set()
        await self.poller
        await self._sample(self.conn)
        await self.conn.close()
        ticks = sum(t - self.base.get(pid, 0) for pid, t in self.seen.items())
        self.seconds = ticks / os.sysconf("SC_CLK_TCK")


async def rounds(
    engine: AsyncEngine,
    maker: async_sessionmaker[AsyncSession],
    first: list[float],
    repeat: list[float],
    tuned: list[float],
) -> None:
    """More rounds of the aggregate of the same formula, a first rebuild (every row written) and a repeat one."""
    cpu: dict[str, list[float]] = {"aggregate": [], "first": [], "repeat": []}
    for n in range(len(first), ROUNDS):
        async with engine.begin() as conn:
            await conn.execute(sa.text(RESET_SCORES))
        await _vacuum(engine, "reliability_score")
        name = f"bench_decayed_{n}"
        async with DatabaseCpu(engine) as aggregate_cpu:
            tuned.append(
                await _timed(
                    engine,
                    DECAYED_AGGREGATE.replace("bench_decayed", name),
                    settings=("jit = off", "work_mem = '256MB'"),
                )
            )
        async with DatabaseCpu(engine) as cold_cpu:
            cold = await rebuild_scores(maker, now=NOW)
        async with DatabaseCpu(engine) as warm_cpu:
            warm = await rebuild_scores(maker, now=NOW)
        assert cold.changed == cold.subjects and warm.changed == 0, (cold, warm)
        first.append(cold.seconds)
        repeat.append(warm.seconds)
        for key, measured in (("aggregate", aggregate_cpu), ("first", cold_cpu), ("repeat", warm_cpu)):
            cpu[key].append(measured.seconds)
        rebuilt = ", ".join(cold.indexes_rebuilt) or "none"
        print(
            f"round {n + 1}: aggregate {tuned[-1]:.2f} s, first rebuild {cold.seconds:.2f} s "
            f"({cold.seconds / tuned[-1]:.2f}x; indexes built after the writes: {rebuilt}), "
            f"repeat {warm.seconds:.2f} s ({warm.seconds / tuned[-1]:.2f}x); database CPU "
            f"{aggregate_cpu.seconds:.2f} / {cold_cpu.seconds:.2f} ({cold_cpu.seconds / aggregate_cpu.seconds:.2f}x) / "
            f"{warm_cpu.seconds:.2f} s ({warm_cpu.seconds / aggregate_cpu.seconds:.2f}x); "
            f"load {' / '.join(f'{x:.1f}' for x in os.getloadavg())}"
        )
    print(
        f"median of {len(first)} rounds: aggregate of the same formula {statistics.median(tuned):.2f} s, first "
        f"rebuild {statistics.median(first):.2f} s = {statistics.median(first) / statistics.median(tuned):.2f}x, "
        f"repeat {statistics.median(repeat):.2f} s = {statistics.median(repeat) / statistics.median(tuned):.2f}x "
        f"(median of the rounds' ratios: {statistics.median(f / t for f, t in zip(first, tuned, strict=True)):.2f}x "
        f"and {statistics.median(r / t for r, t in zip(repeat, tuned, strict=True)):.2f}x)"
    )
    if cpu["aggregate"]:
        aggregate, cold, warm = (statistics.median(cpu[key]) for key in ("aggregate", "first", "repeat"))
        print(
            f"database CPU, median of the {len(cpu['aggregate'])} measured rounds: aggregate {aggregate:.2f} s, first "
            f"rebuild {cold:.2f} s = {cold / aggregate:.2f}x, repeat {warm:.2f} s = {warm / aggregate:.2f}x"
        )


def ranked_query() -> sa.Select[Any]:
    """The directory's "most reliable first" page query, built with the same helpers the directory uses."""
    from marketplace.creators.models import Creator
    from marketplace.reputation.services import creator_rank_order, creator_rank_tie, join_creator_ranking

    query = join_creator_ranking(sa.select(Creator.id, creator_rank_order), Creator.id)
    return query.order_by(creator_rank_order.desc(), creator_rank_tie.desc()).limit(26)


def _admin_url() -> str:
    return normalise_database_url(SERVER)


def _db_url() -> str:
    return _admin_url().rsplit("/", 1)[0] + f"/{DB_NAME}"


async def _recreate(drop_only: bool = False) -> None:
    engine = create_async_engine(_admin_url(), isolation_level="AUTOCOMMIT")
    try:
        async with engine.connect() as conn:
            await conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{DB_NAME}" WITH (FORCE)'))
            if not drop_only:
                await conn.execute(sa.text(f'CREATE DATABASE "{DB_NAME}"'))
    finally:
        await engine.dispose()


async def _timed(engine: AsyncEngine, sql: str, *, settings: tuple[str, ...] = (), **params: Any) -> float:
    started = time.perf_counter()
    async with engine.begin() as conn:
        for setting in settings:
            await conn.execute(sa.text(f"SET LOCAL {setting}"))
        await conn.execute(sa.text(sql), params)
    return time.perf_counter() - started


async def load(engine: AsyncEngine) -> float:
    started = time.perf_counter()
    params = {"now": NOW, "brands": BRANDS, "creators": CREATORS, "subjects": SUBJECTS, "events": EVENTS}
    async with engine.begin() as conn:
        for statement in LOAD_PEOPLE:
            await conn.execute(sa.text(statement), params)
        await conn.execute(sa.text(load_events_sql()), params)
    async with engine.connect() as conn:
        await conn.execution_options(isolation_level="AUTOCOMMIT")
        await conn.execute(sa.text("VACUUM ANALYZE"))
    return time.perf_counter() - started


# --- the directory probe, in its own process so the recompute's Python work can't skew its timings --------------


def _probe(url: str, brand_id: str, stop: Any, results: Any, ready: Any) -> None:
    asyncio.run(_probe_loop(url, uuid.UUID(brand_id), stop, results, ready))


async def _probe_loop(url: str, brand_id: uuid.UUID, stop: Any, results: Any, ready: Any) -> None:
    from marketplace.creators.services import DirectoryFilters, search_directory

    engine = create_async_engine(url, pool_size=2)
    maker = async_sessionmaker(engine, expire_on_commit=False)
    page: list[float] = []
    ranked: list[float] = []
    filters = DirectoryFilters(sort="reliability", limit=25)
    # Warm the connection and the plan cache before timing.
    async with maker() as session:
        await search_directory(session, brand_id, filters, datetime.now(UTC))
    ready.set()
    while not stop.is_set():
        async with maker() as session:
            started = time.perf_counter()
            result = await search_directory(session, brand_id, filters, datetime.now(UTC))
            page.append(time.perf_counter() - started)
            assert len(result.items) == 25
            started = time.perf_counter()
            await session.execute(ranked_query())
            ranked.append(time.perf_counter() - started)
        await asyncio.sleep(0.1)  # about ten directory pages a second: a busy brand team, not a load test
    await engine.dispose()
    results.put((page, ranked))


class Probe:
    def __init__(self, url: str, brand_id: uuid.UUID) -> None:
        ctx = mp.get_context("spawn")
        self.stop, self.ready, self.results = ctx.Event(), ctx.Event(), ctx.Queue()
        self.process = ctx.Process(target=_probe, args=(url, str(brand_id), self.stop, self.results, self.ready))

    def __enter__(self) -> Probe:
        self.process.start()
        self.ready.wait(120)
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        self.page, self.ranked = self.results.get(timeout=120)
        self.process.join(60)

    def summary(self) -> str:
        def ms(values: list[float], q: float) -> float:
            ordered = sorted(values)
            return 1000 * ordered[min(len(ordered) - 1, math.ceil(q * len(ordered)) - 1)]

        return (
            f"page p50 {ms(self.page, 0.5):.1f} ms, p99 {ms(self.page, 0.99):.1f} ms; "
            f"ranked query p50 {ms(self.ranked, 0.5):.1f} ms, p99 {ms(self.ranked, 0.99):.1f} ms "
            f"({len(self.page)} samples)"
        )


# --- incremental updates -------------------------------------------------------------------------------------------


async def incremental(
    maker: async_sessionmaker[AsyncSession], creator_ids: list[uuid.UUID], n: int, workers: int
) -> float:
    rng = random.Random(7)
    jobs = [(rng.choice(creator_ids), rng.random()) for _ in range(n)]
    queue: asyncio.Queue[tuple[uuid.UUID, float]] = asyncio.Queue()
    for item in jobs:
        queue.put_nowait(item)

    async def worker() -> None:
        while not queue.empty():
            creator_id, u = queue.get_nowait()
            kind = EventKind.CREATOR_ON_TIME if u < 0.85 else EventKind.CREATOR_GHOSTED
            async with maker() as session, session.begin():
                await record_outcome(
                    session,
                    subject=Subject.creator(creator_id),
                    kind=kind,
                    collaboration_id=uuid.uuid4(),
                    deal_value_minor=int(2_000 + u * 30_000),
                    currency_exponent=2,
                    occurred_at=NOW + timedelta(seconds=u),
                    counterparty_id=None,
                )

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(workers)))
    return n / (time.perf_counter() - started)


async def main() -> None:
    print(
        f"reputation recompute benchmark: {SUBJECTS:,} subjects ({CREATORS:,} creators, {BRANDS:,} brands), "
        f"{EVENTS:,} events, batches of {BATCH:,}; PostgreSQL {SERVER.rsplit('@', 1)[-1]}"
    )
    # Figures from a shared machine mean little without this.
    print(f"{os.cpu_count()} CPUs, load average {' / '.join(f'{x:.1f}' for x in os.getloadavg())} at start")
    await _recreate()
    url = _db_url()
    try:
        await asyncio.to_thread(upgrade, url)
        engine = create_async_engine(url, pool_size=20, max_overflow=0)
        maker = async_sessionmaker(engine, expire_on_commit=False)
        print(f"load (set-based SQL) + VACUUM ANALYZE: {await load(engine):.1f} s")
        async with engine.connect() as conn:
            version = (await conn.execute(sa.text("SHOW server_version"))).scalar()
            brand_id = (await conn.execute(sa.text("SELECT id FROM brand LIMIT 1"))).scalar_one()
            creator_ids = list((await conn.execute(sa.text("SELECT id FROM creator"))).scalars())
            count = (await conn.execute(sa.text("SELECT count(*) FROM reputation_event"))).scalar_one()
        print(f"PostgreSQL {version}; {count:,} events loaded")

        plain = await _timed(engine, PLAIN_AGGREGATE)
        decayed = await _timed(engine, DECAYED_AGGREGATE)
        print(f"plain SQL aggregate (GROUP BY, {SUBJECTS:,} rows into a table): {plain:.2f} s")
        print(f"SQL aggregate with decay (power() per event, for reference):  {decayed:.2f} s")
        # The rebuild switches JIT off and raises work_mem for its transaction; the same formula's aggregate so too.
        tuned = await _timed(
            engine,
            DECAYED_AGGREGATE.replace("bench_decayed", "bench_decayed_tuned"),
            settings=("jit = off", "work_mem = '256MB'"),
        )
        print(f"the same with JIT off and work_mem 256MB (as the rebuild runs): {tuned:.2f} s")

        cold = await rebuild_scores(maker, now=NOW)
        print(
            f"set-based rebuild (reputation.rebuild), first run: {cold.seconds:.2f} s ({cold.subjects:,} subjects, "
            f"{cold.events:,} events; {cold.changed:,} rows written) = {cold.seconds / plain:.1f}x the plain "
            f"aggregate, {cold.seconds / tuned:.1f}x the decayed one (same formula)"
        )

        async with engine.connect() as conn:
            # The SQL decayed aggregate gives every subject's evidence at its newest event: it must agree.
            worst = (
                await conn.execute(
                    sa.text("""
                SELECT max(greatest(abs(s.r - d.r) / greatest(d.r, 1e-9), abs(s.s - d.s) / greatest(d.s, 1e-9)))
                FROM reliability_score s JOIN pg_temp.bench_decayed d USING (subject_kind, subject_id)
            """)
                )
            ).scalar()
        print(f"rebuilt evidence vs the SQL decayed aggregate: largest relative difference {worst:.1e}")
        async with engine.connect() as conn:
            compiled = ranked_query().compile(engine.sync_engine, compile_kwargs={"literal_binds": True})
            plan = (await conn.execute(sa.text(f"EXPLAIN {compiled}"))).scalars().all()
        print("ranked query plan: " + " / ".join(line.strip() for line in plan[:3]))

        with Probe(url, brand_id) as idle:
            await asyncio.sleep(5)
        print(f"ranked directory, idle: {idle.summary()}")

        with Probe(url, brand_id) as busy:
            warm = await rebuild_scores(maker, now=NOW)
        print(
            f"set-based rebuild, second run: {warm.seconds:.2f} s ({warm.changed:,} rows differed and were "
            f"rewritten) = {warm.seconds / plain:.1f}x the plain aggregate, {warm.seconds / tuned:.1f}x the decayed "
            "one"
        )
        print(f"ranked directory during the rebuild: {busy.summary()}")
        again = await _timed(engine, PLAIN_AGGREGATE.replace("bench_plain", "bench_plain_again"))
        print(
            f"plain SQL aggregate again, after the rebuilds: {again:.2f} s; rebuild ratios against it: "
            f"{cold.seconds / again:.1f}x first run, {warm.seconds / again:.1f}x second run"
        )
        await rounds(engine, maker, [cold.seconds], [warm.seconds], [tuned])

        async with engine.begin() as conn:
            await conn.execute(sa.text(RESET_SCORES))
        await _vacuum(engine, "reliability_score")
        with Probe(url, brand_id) as first_run:
            cold = await rebuild_scores(maker, now=NOW)
        rebuilt = ", ".join(cold.indexes_rebuilt) or "none"
        print(
            f"ranked directory during a first rebuild ({cold.seconds:.2f} s; indexes built after the writes: "
            f"{rebuilt}): {first_run.summary()}"
        )

        if os.environ.get("BENCH_LEGACY"):
            legacy = await recompute_all(maker, BATCH, now=NOW)
            print(
                f"batched Python recompute (recompute_all), for comparison: {legacy.seconds:.2f} s "
                f"({legacy.batches} batches; {legacy.changed:,} rows rewritten) = {legacy.seconds / plain:.1f}x "
                "the plain aggregate"
            )

        sequential = await incremental(maker, creator_ids, INCREMENTAL, 1)
        concurrent = await incremental(maker, creator_ids, INCREMENTAL * 2, 16)
        print(
            f"incremental record_outcome: {sequential:,.0f} outcomes/s one at a time, "
            f"{concurrent:,.0f}/s with 16 concurrent transactions"
        )

        started = time.perf_counter()
        refreshed = await refresh_rankings(maker, NOW + timedelta(days=1))
        seconds = time.perf_counter() - started
        print(
            f"daily ranking refresh (SQL, batches of 10,000): {refreshed:,} rows in {seconds:.2f} s "
            f"= {seconds / plain:.1f}x the plain aggregate; load "
            f"{' / '.join(f'{x:.1f}' for x in os.getloadavg())}"
        )
        await engine.dispose()
    finally:
        if not os.environ.get("BENCH_KEEP"):
            await _recreate(drop_only=True)


if __name__ == "__main__":
    asyncio.run(main())
