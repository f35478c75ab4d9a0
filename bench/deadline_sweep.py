"""Benchmark: one deadline sweep over 100k active collaborations of which 5k are due, on PostgreSQL.

Prints the sweep's wall time and SQL statement count, and the ratio to one indexed SELECT of the due
collaborations measured in the same run. Data is bulk-loaded with set-based SQL (generate_series) into a scratch
database that is dropped afterwards.

    .venv/bin/python bench/deadline_sweep.py                     # 100k / 5k on postgresql://postgres@127.0.0.1/
    BENCH_TOTAL=20000 BENCH_DUE=1000 .venv/bin/python bench/deadline_sweep.py
    BENCH_BATCH=2000 ...                                          # another batch size (default: the sweeper's)
    BENCH_ROUNDS=5 ...                                            # counted rounds on the same data (default 3)
"""

from __future__ import annotations

import asyncio
import json
import os
import statistics
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.ext.asyncio import async_sessionmaker, create_async_engine

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from marketplace.collaborations.terms import DeliverableTerms, Terms
from marketplace.deadlines.due_deals import due_deals_query
from marketplace.deadlines.sweeper import DEFAULT_BATCH_SIZE, sweep_deadlines
from marketplace.jobs import QUEUE_KEY, RecordingQueue
from marketplace.migrate import upgrade
from marketplace.settings import normalise_database_url

SERVER = os.environ.get("BENCH_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
DB_NAME = "postpact_bench_deadline_sweep"
TOTAL = int(os.environ.get("BENCH_TOTAL", "100000"))
DUE = int(os.environ.get("BENCH_DUE", "5000"))
BATCH = int(os.environ.get("BENCH_BATCH", str(DEFAULT_BATCH_SIZE)))
#: Rounds after the first (which is reported but not counted: the process's first sweep prepares its statements and
#: loads the job registry, once per worker).
ROUNDS = int(os.environ.get("BENCH_ROUNDS", "3"))
CREATORS = max(1, TOTAL // 10)
BRANDS = max(1, TOTAL // 100)
GIGS = BRANDS
NOW = datetime(2026, 11, 21, 12, 0, tzinfo=UTC)


def terms_json() -> str:
    terms = Terms(
        gig_id="bench",
        gig_title="Glow serum launch",
        brief="Show your routine.",
        brand_name="Bench Brand",
        creator_display_name="Bench Creator",
        currency="USD",
        fee_amount=15000,
        commission_bps=None,
        product_included=True,
        product_name="Serum",
        product_retail_value=3900,
        deliverables=(DeliverableTerms("tiktok", "video", 1, ("#glow",), ("@brand",)),),
        platform="tiktok",
        handle="bench",
        revision_rounds=1,
    )
    return json.dumps(terms.to_dict())


LOAD = [
    # Brand owners and creators as users.
    """INSERT INTO user_account (id, email, password_hash, kind, full_name, is_active, created_at, updated_at)
       SELECT gen_random_uuid(), 'owner' || g || '@bench.test', 'x', 'brand', 'Owner ' || g, true, :now, :now
       FROM generate_series(0, :brands - 1) g""",
    """INSERT INTO user_account (id, email, password_hash, kind, full_name, is_active, created_at, updated_at)
       SELECT gen_random_uuid(), 'creator' || g || '@bench.test', 'x', 'creator', 'Creator ' || g, true, :now, :now
       FROM generate_series(0, :creators - 1) g""",
    """CREATE TEMP TABLE bench_brand AS
       SELECT g AS n, gen_random_uuid() AS id FROM generate_series(0, :brands - 1) g""",
    """INSERT INTO brand (id, name, description, created_at, updated_at)
       SELECT id, 'Brand ' || n, '', :now, :now FROM bench_brand""",
    """INSERT INTO brand_member (id, brand_id, user_id, role, created_at, updated_at)
       SELECT gen_random_uuid(), b.id, u.id, 'owner', :now, :now
       FROM bench_brand b JOIN user_account u ON u.email = 'owner' || b.n || '@bench.test'""",
    """CREATE TEMP TABLE bench_creator AS
       SELECT g AS n, gen_random_uuid() AS id, gen_random_uuid() AS account_id
       FROM generate_series(0, :creators - 1) g""",
    """INSERT INTO creator (id, user_id, display_name, bio, languages, total_followers, best_engagement_bps,
                            created_at, updated_at)
       SELECT c.id, u.id, 'Creator ' || c.n, '', '[]', 12000, 300, :now, :now
       FROM bench_creator c JOIN user_account u ON u.email = 'creator' || c.n || '@bench.test'""",
    """INSERT INTO social_account (id, creator_id, platform, handle, profile_url, followers, average_views,
                                   engagement_bps, created_at, updated_at)
       SELECT account_id, id, 'tiktok', 'bench_' || n, 'https://www.tiktok.com/@bench_' || n, 12000, 3000, 300,
              :now, :now
       FROM bench_creator""",
    """CREATE TEMP TABLE bench_gig AS SELECT n, gen_random_uuid() AS id, id AS brand_id FROM bench_brand""",
    """INSERT INTO gig (id, brand_id, status, title, brief, product_name, product_retail_value, product_included,
                        currency, base_fee_amount, ship_within_days, post_within_days, revision_rounds,
                        review_window_hours, keep_live_days, ghost_grace_hours, reminder_offsets_hours, slots,
                        eligible_platforms, eligible_countries, created_at, updated_at)
       SELECT id, brand_id, 'open', 'Gig ' || n, 'Brief', 'Serum', 3900, true, 'USD', 15000, 7, 14, 1, 72, 14, 72,
              '[-72, -24, 24, 72]', 1000, '[]', '[]', :now, :now
       FROM bench_gig""",
    # Collaboration i: creator i % creators, gig chosen so (gig, creator) pairs are unique.
    """CREATE TEMP TABLE bench_collab AS
       SELECT i, gen_random_uuid() AS id, gen_random_uuid() AS application_id,
              c.id AS creator_id, c.account_id, gg.id AS gig_id, gg.brand_id
       FROM generate_series(0, :total - 1) i
       JOIN bench_creator c ON c.n = i % :creators
       JOIN bench_gig gg ON gg.n = ((i / :creators) * 7 + i) % :gigs""",
    """INSERT INTO application (id, gig_id, creator_id, brand_id, social_account_id, pitch, status,
                                created_at, updated_at)
       SELECT application_id, gig_id, creator_id, brand_id, account_id, 'pitch', 'accepted', :now, :now
       FROM bench_collab""",
    # Every collaboration is RECEIVED (creator must submit a draft). The first DUE are 20 h from their draft
    # deadline, so their 24-hours-before reminder is due; the rest are 4 to 12 days away.
    """INSERT INTO collaboration (id, gig_id, application_id, brand_id, creator_id, social_account_id, status,
                                  state_changed_at, event_count, terms, terms_hash, fee_amount, currency,
                                  product_included, revision_rounds_allowed, revision_rounds_used,
                                  signed_at, funded_at, shipped_at, received_at, due_draft, due_post,
                                  due_overrides, next_due_stage, next_due_party, next_due_at, needs_admin_review,
                                  created_at, updated_at)
       SELECT id, gig_id, application_id, brand_id, creator_id, account_id, 'received', :now, 5,
              CAST(:terms AS json), 'bench', 15000, 'USD', true, 1, 0,
              :now - interval '10 days', :now - interval '9 days', :now - interval '5 days', :now - interval '4 days',
              due, due + interval '2 days', '{}', 'draft', 'creator', due, false, :now, :now
       FROM (SELECT *, CASE WHEN i < :due THEN :now + interval '20 hours'
                            ELSE :now + interval '4 days' + (i % 8) * interval '1 day' END AS due
             FROM bench_collab) s""",
    """INSERT INTO deadline_watch (id, collaboration_id, check_at)
       SELECT gen_random_uuid(), id, next_due_at - interval '72 hours' FROM collaboration""",
    "ANALYZE",
]

BASELINE = sa.text(
    "SELECT c.* FROM collaboration c JOIN deadline_watch w ON w.collaboration_id = c.id WHERE w.check_at <= :now"
)


#: Tables a sweep writes rows to (every row in them after a sweep of a fresh or reset database is the sweep's).
WRITTEN_TABLES = ("deadline_reminder", "deadline_notice", "notification", "outbox_email")

#: Back to the state the load left (no reminders, notices or emails; every watch where the load put it), so each
#: round sweeps the same 5,000 due deals.
RESET = [
    *(f"DELETE FROM {t}" for t in WRITTEN_TABLES),  # noqa: S608
    """UPDATE deadline_watch w SET check_at = c.next_due_at - interval '72 hours' FROM collaboration c
       WHERE c.id = w.collaboration_id AND w.check_at IS DISTINCT FROM c.next_due_at - interval '72 hours'""",
]


async def floor_of_writes(engine: Any) -> tuple[float, dict[str, int]]:
    """Time writing, set-based, what the sweep wrote: one INSERT ... SELECT copy of each table's rows into a table
    made LIKE it with its indexes, defaults and checks (logged, as the real ones; no foreign keys), and one UPDATE of
    the due watches; rolled back. The copies are dropped afterwards."""
    async with engine.connect() as conn:
        tables = [t for t in WRITTEN_TABLES if await conn.scalar(sa.text("SELECT to_regclass(:t)"), {"t": t})]
        counts = {t: int(await conn.scalar(sa.text(f"SELECT count(*) FROM {t}"))) for t in tables}  # noqa: S608
        for t in tables:
            await conn.execute(sa.text(f"CREATE TABLE bench_copy_{t} (LIKE {t} INCLUDING ALL)"))
        await conn.commit()
        try:
            t0 = time.perf_counter()
            async with conn.begin() as tx:
                for t in tables:
                    await conn.execute(sa.text(f"INSERT INTO bench_copy_{t} SELECT * FROM {t}"))  # noqa: S608
                watches = await conn.execute(
                    sa.text(
                        "UPDATE deadline_watch SET check_at = check_at + interval '1 hour' WHERE collaboration_id IN "
                        "(SELECT collaboration_id FROM deadline_reminder)"
                    )
                )
                counts["watch updates"] = watches.rowcount
                await tx.rollback()
            return time.perf_counter() - t0, counts
        finally:
            for t in tables:
                await conn.execute(sa.text(f"DROP TABLE bench_copy_{t}"))
            await conn.commit()


async def vacuum(url: str) -> None:
    """VACUUM ANALYZE (outside a transaction), so every round starts from tidy tables and fresh statistics."""
    engine = create_async_engine(url, isolation_level="AUTOCOMMIT")
    async with engine.connect() as conn:
        await conn.execute(sa.text("VACUUM ANALYZE"))
    await engine.dispose()


async def main() -> None:
    admin = create_async_engine(normalise_database_url(SERVER), isolation_level="AUTOCOMMIT")
    async with admin.connect() as conn:
        await conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{DB_NAME}" WITH (FORCE)'))
        await conn.execute(sa.text(f'CREATE DATABASE "{DB_NAME}"'))
    url = sa.engine.make_url(normalise_database_url(SERVER)).set(database=DB_NAME).render_as_string(False)
    try:
        await asyncio.to_thread(upgrade, url)
        engine = create_async_engine(url)
        params: dict[str, Any] = {
            "now": NOW,
            "brands": BRANDS,
            "creators": CREATORS,
            "gigs": GIGS,
            "total": TOTAL,
            "due": DUE,
            "terms": terms_json(),
        }
        started = time.perf_counter()
        async with engine.begin() as conn:
            for statement in LOAD:
                # asyncpg infers a parameter's type from its first use; "$1 - interval" would make it an interval.
                text = sa.text(statement.replace(":now", "CAST(:now AS timestamptz)"))
                await conn.execute(text, {k: v for k, v in params.items() if f":{k}" in statement})
        load_seconds = time.perf_counter() - started
        async with engine.connect() as conn:
            plan = "\n".join(row[0] for row in await conn.execute(sa.text("EXPLAIN " + str(BASELINE)), {"now": NOW}))

        statements = {"count": 0}
        spent: dict[str, list[float]] = {}

        @event.listens_for(engine.sync_engine, "before_cursor_execute")
        def count(conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
            statements["count"] += 1
            conn.info["bench_started"] = time.perf_counter()

        @event.listens_for(engine.sync_engine, "after_cursor_execute")
        def timed(conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
            key = " ".join(statement.split())[:70]
            spent.setdefault(key, []).append(time.perf_counter() - conn.info.pop("bench_started"))

        print(
            f"PostgreSQL deadline sweep: {TOTAL:,} active collaborations, {DUE:,} due "
            f"(bulk-loaded in {load_seconds:.1f} s); batches of {BATCH:,}; {ROUNDS} rounds on the same data (each: "
            "one sweep, the same writes set-based, reset, VACUUM ANALYZE, the baseline SELECT 5 times)"
        )

        async def reset_and_time_baseline(first: bool) -> tuple[list[float], list[float], int]:
            if not first:
                async with engine.begin() as conn:
                    for statement in RESET:
                        await conn.execute(sa.text(statement))
            await vacuum(url)
            async with engine.connect() as conn:
                timings = []
                for _ in range(5):
                    t0 = time.perf_counter()
                    rows = (await conn.execute(BASELINE, {"now": NOW})).all()
                    timings.append(time.perf_counter() - t0)
                # For scale, not the goal's baseline: the sweep's own narrow read of every due deal in one statement.
                narrow_timings = []
                for _ in range(3):
                    t0 = time.perf_counter()
                    (await conn.execute(due_deals_query("postgresql", NOW, DUE))).all()
                    narrow_timings.append(time.perf_counter() - t0)
                    await conn.rollback()
            return timings, narrow_timings, len(rows)

        # The baseline is timed before each round and once more after the last; a round is compared with the
        # median of the timings on either side of it (the machine's load moves between rounds).
        before, narrow_before, due_rows = await reset_and_time_baseline(True)
        rounds: list[dict[str, float]] = []
        for number in range(ROUNDS + 1):
            statements["count"] = 0
            spent.clear()
            queue = RecordingQueue()
            session_maker = async_sessionmaker(engine, expire_on_commit=False, info={QUEUE_KEY: queue})
            t0, cpu0 = time.perf_counter(), time.process_time()
            report = await sweep_deadlines(session_maker, NOW, public_url="https://postpact.example", batch_size=BATCH)
            sweep_seconds, sweep_cpu = time.perf_counter() - t0, time.process_time() - cpu0
            sweep_statements = statements["count"]
            driver = sum(sum(v) for v in spent.values())
            largest = sorted(spent.items(), key=lambda kv: -sum(kv[1]))[:6]
            load = os.getloadavg()
            if number == 0:
                statements["count"] = 0
                t0 = time.perf_counter()
                idle = await sweep_deadlines(session_maker, NOW + timedelta(minutes=5))
                idle_seconds, idle_statements = time.perf_counter() - t0, statements["count"]

            # The floor: the indexed SELECT plus the writes the sweep made, each written set-based once
            # (copies of the rows it inserted, its watch updates), in one transaction that is rolled back.
            writes_seconds, written = await floor_of_writes(engine)
            after, narrow_after, _ = await reset_and_time_baseline(False)
            narrow = statistics.median(narrow_before + narrow_after)
            narrow_before = narrow_after
            baseline = statistics.median(before + after)
            before = after
            if number:
                rounds.append(
                    {
                        "baseline": baseline,
                        "sweep": sweep_seconds,
                        "writes": writes_seconds,
                        "cpu": sweep_cpu,
                        "vs_select": sweep_seconds / baseline,
                        "vs_floor": sweep_seconds / (baseline + writes_seconds),
                        "narrow": narrow,
                        "vs_narrow": sweep_seconds / narrow,
                    }
                )
            name = f"round {number}" if number else "warm-up round (the process's first sweep; not counted)"
            print(f"{name}: load average {' / '.join(f'{x:.1f}' for x in load)}")
            print(
                f"  baseline: one indexed SELECT of the {due_rows:,} due collaborations: {baseline * 1000:.1f} ms "
                "(median of 10: 5 before the round, 5 after)"
            )
            print(
                f"  sweep: {sweep_seconds * 1000:.0f} ms, {sweep_statements} SQL statements, {report.batches} "
                f"batches; {report.reminders:,} reminders, {report.notifications:,} notifications, "
                f"{report.emails:,} emails, {len(queue.jobs):,} jobs queued; this process's CPU "
                f"{sweep_cpu * 1000:.0f} ms (steadier while the machine is shared)"
            )
            print(
                f"  the same writes set-based ({', '.join(f'{n:,} {t}' for t, n in written.items())}): "
                f"{writes_seconds * 1000:.0f} ms"
            )
            print(
                f"  ratio sweep / baseline SELECT: {sweep_seconds / baseline:.2f}x; "
                f"sweep / (SELECT + writes): {sweep_seconds / (baseline + writes_seconds):.2f}x"
            )
            print(f"  time inside the driver (statement sent to rows fetched): {driver * 1000:.0f} ms; largest:")
            for key, values in largest:
                print(f"    {sum(values) * 1000:7.0f} ms  x{len(values):<3} {key}")

        def median(key: str) -> float:
            return statistics.median(r[key] for r in rounds)

        print(
            f"median of {ROUNDS} rounds: baseline SELECT {median('baseline') * 1000:.0f} ms, sweep "
            f"{median('sweep') * 1000:.0f} ms (CPU {median('cpu') * 1000:.0f} ms), writes set-based "
            f"{median('writes') * 1000:.0f} ms"
        )

        def each(key: str) -> str:
            return ", ".join(f"{r[key]:.2f}" for r in rounds)

        print(f"  ratio sweep / baseline SELECT: {median('vs_select'):.2f}x (rounds: {each('vs_select')})")
        print(f"  ratio sweep / (SELECT + writes): {median('vs_floor'):.2f}x (rounds: {each('vs_floor')})")
        print(
            f"  for scale, not the goal's baseline: the sweep's own narrow due SELECT (its columns, five terms fields "
            f"and history probes, every due deal in one statement) {median('narrow') * 1000:.0f} ms; ratio sweep / it: "
            f"{median('vs_narrow'):.2f}x (rounds: {each('vs_narrow')})"
        )
        print(f"  per due collaboration: {median('sweep') / max(1, DUE) * 1000:.3f} ms")

        print(
            f"  a sweep with nothing due: {idle_seconds * 1000:.1f} ms, {idle_statements} SQL statements "
            f"({idle.examined} examined)"
        )
        print(f"  load average at the end {' / '.join(f'{x:.1f}' for x in os.getloadavg())}")
        print("  baseline plan:\n    " + plan.replace("\n", "\n    "))
        await engine.dispose()
    finally:
        async with admin.connect() as conn:
            await conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{DB_NAME}" WITH (FORCE)'))
        await admin.dispose()


if __name__ == "__main__":
    asyncio.run(main())
