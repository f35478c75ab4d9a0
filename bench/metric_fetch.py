"""Benchmark: metric-fetch scheduling for 10k live posts, on PostgreSQL.

Loads BENCH_TOTAL collaborations (the deadline-sweep benchmark's loader) with a submitted post each and its 18
scheduled metric fetches (1 h, 24 h, 72 h, 7 d after posting and 14 keep-live days), posts spread over the last 14
days. Fetches due more than BENCH_BACKLOG_HOURS ago are done; the rest of the due ones wait (a backlog after an
outage). Then, in the same run: ``social.metrics.queue_due_fetches`` (select due rows, mark them queued, enqueue one
job each, dispatched after commit) until nothing is due — due fetches found and queued per second — against one
indexed SELECT of the due rows (no marking, no queueing), with its plan. A scratch database is created and dropped.

    .venv/bin/python bench/metric_fetch.py
    BENCH_TOTAL=10000 BENCH_BACKLOG_HOURS=6 .venv/bin/python bench/metric_fetch.py
"""

from __future__ import annotations

import asyncio
import os
import sys
import time
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import async_sessionmaker, create_async_engine

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

os.environ.setdefault("BENCH_TOTAL", "10000")
import deadline_sweep as base  # the same bulk loader: users, brands, creators, gigs, deals

from marketplace.jobs import QUEUE_KEY, RecordingQueue, load_jobs
from marketplace.migrate import upgrade
from marketplace.settings import normalise_database_url
from marketplace.social.metrics import due_rows, queue_due_fetches

DB_NAME = "postpact_bench_metric_fetch"
BACKLOG_HOURS = int(os.environ.get("BENCH_BACKLOG_HOURS", "6"))
BATCH = int(os.environ.get("BENCH_BATCH", "1000"))

OFFSETS = [("1h", "1 hour"), ("24h", "24 hours"), ("72h", "72 hours"), ("7d", "7 days")] + [
    (f"keep-live-{n}", f"{7 + n} days") for n in range(1, 15)]

EXTRA = [
    """INSERT INTO post_submission (id, collaboration_id, url, platform, post_ref, verification_status, is_current,
                                    created_at, updated_at)
       SELECT gen_random_uuid(), id, 'https://www.tiktok.com/@bench/video/' || (7300000000000000000 + i), 'tiktok',
              CAST(7300000000000000000 + i AS text), 'verified', true, :now, :now
       FROM bench_collab""",
    """CREATE TEMP TABLE bench_post AS
       SELECT s.id AS submission_id, s.collaboration_id, :now - (b.i % 504) * interval '1 hour' AS posted_at
       FROM post_submission s JOIN bench_collab b ON b.id = s.collaboration_id""",
    """CREATE TEMP TABLE bench_offset (label text, offset_by interval)""",
    "INSERT INTO bench_offset VALUES "  # noqa: S608 (constants of this script)
    + ", ".join(f"('{label}', interval '{span}')" for label, span in OFFSETS),
    """INSERT INTO social_metric_fetch (id, collaboration_id, submission_id, platform, label, due_at, done_at,
                                        outcome, attempts, created_at, updated_at)
       SELECT gen_random_uuid(), p.collaboration_id, p.submission_id, 'tiktok', o.label, p.posted_at + o.offset_by,
              CASE WHEN p.posted_at + o.offset_by < :now - :backlog * interval '1 hour'
                   THEN p.posted_at + o.offset_by + interval '1 minute' END,
              CASE WHEN p.posted_at + o.offset_by < :now - :backlog * interval '1 hour' THEN 'fetched' ELSE '' END,
              0, :now, :now
       FROM bench_post p CROSS JOIN bench_offset o""",
    "ANALYZE",
]


async def main() -> None:
    load_jobs()
    admin = create_async_engine(normalise_database_url(base.SERVER), isolation_level="AUTOCOMMIT")
    async with admin.connect() as conn:
        await conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{DB_NAME}" WITH (FORCE)'))
        await conn.execute(sa.text(f'CREATE DATABASE "{DB_NAME}"'))
    url = sa.engine.make_url(normalise_database_url(base.SERVER)).set(database=DB_NAME).render_as_string(False)
    try:
        await asyncio.to_thread(upgrade, url)
        engine = create_async_engine(url)
        params: dict[str, Any] = {
            "now": base.NOW, "brands": base.BRANDS, "creators": base.CREATORS, "gigs": base.GIGS,
            "total": base.TOTAL, "due": base.DUE, "terms": base.terms_json(), "backlog": BACKLOG_HOURS,
        }
        started = time.perf_counter()
        async with engine.begin() as conn:
            for statement in [*base.LOAD[:-1], *EXTRA]:
                text = sa.text(statement.replace(":now", "CAST(:now AS timestamptz)"))
                await conn.execute(text, {k: v for k, v in params.items() if f":{k}" in statement})
        load_seconds = time.perf_counter() - started
        async with engine.connect() as conn:
            total_rows = await conn.scalar(sa.text("SELECT count(*) FROM social_metric_fetch"))
            open_rows = await conn.scalar(sa.text("SELECT count(*) FROM social_metric_fetch WHERE done_at IS NULL"))

        # One indexed SELECT of the due rows (median of 5), and its plan.
        query = due_rows(base.NOW, 1_000_000)
        timings = []
        for _ in range(5):
            async with engine.connect() as conn:
                t0 = time.perf_counter()
                due_ids = (await conn.execute(query)).all()
                timings.append(time.perf_counter() - t0)
        select_seconds = sorted(timings)[2]
        async with engine.connect() as conn:
            compiled = query.compile(engine.sync_engine, compile_kwargs={"literal_binds": True})
            plan = [row[0] for row in await conn.execute(sa.text(f"EXPLAIN {compiled}"))]

        # The scheduler job: find, mark queued, enqueue (dispatched on commit), batch after batch until none is due.
        queue = RecordingQueue()
        session_maker = async_sessionmaker(engine, expire_on_commit=False, info={QUEUE_KEY: queue})
        runs = []
        for _ in range(3):
            async with engine.begin() as conn:
                await conn.execute(sa.text("UPDATE social_metric_fetch SET queued_at = NULL WHERE done_at IS NULL"))
            queue.jobs.clear()
            t0 = time.perf_counter()
            batches = 0
            while await queue_due_fetches(session_maker, base.NOW, limit=BATCH):
                batches += 1
            runs.append((time.perf_counter() - t0, len(queue.jobs), batches))
        queue_seconds, queued, batches = sorted(runs)[1]

        print(f"PostgreSQL metric-fetch scheduling: {base.TOTAL:,} live posts, {total_rows:,} scheduled fetches "
              f"({open_rows:,} open), bulk-loaded in {load_seconds:.1f} s")
        print(f"  due now (backlog of {BACKLOG_HOURS} h): {len(due_ids):,} fetches")
        print(f"  one indexed SELECT of the due rows: {select_seconds * 1000:.1f} ms "
              f"({len(due_ids) / select_seconds:,.0f} rows/s), median of 5")
        print(f"  queue_due_fetches (select + mark queued + enqueue, batches of {BATCH:,}): {queued:,} queued in "
              f"{batches} batch(es), {queue_seconds * 1000:.0f} ms ({queued / queue_seconds:,.0f} fetches/s), "
              "median of 3")
        print("  plan of the due-rows SELECT:")
        for line in plan:
            print(f"    {line}")
        await engine.dispose()
    finally:
        async with admin.connect() as conn:
            await conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{DB_NAME}" WITH (FORCE)'))
        await admin.dispose()


if __name__ == "__main__":
    asyncio.run(main())
