"""Benchmark: the admin console's dashboard and open-disputes list at marketplace scale, on PostgreSQL.

Loads 100k collaborations (the deadline-sweep benchmark's set-based loader), an escrow hold for each (a fifth of
them paid out this month), and 2,000 open disputes, then times ``admin.services.dashboard`` (every figure on
/admin, one query each) and the first page of ``disputes.services.list_cases`` — median of 5 — with the SQL
statement count. A scratch database is created and dropped.

    .venv/bin/python bench/admin_dashboard.py
    BENCH_TOTAL=20000 .venv/bin/python bench/admin_dashboard.py
"""

from __future__ import annotations

import asyncio
import os
import sys
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.ext.asyncio import async_sessionmaker, create_async_engine

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import deadline_sweep as base  # the same bulk loader: users, brands, creators, gigs, deals

from marketplace.admin.services import dashboard
from marketplace.disputes.services import list_cases
from marketplace.migrate import upgrade
from marketplace.settings import normalise_database_url

DB_NAME = "postpact_bench_admin_dashboard"
DISPUTES = int(os.environ.get("BENCH_DISPUTES", "2000"))

EXTRA = [
    """INSERT INTO escrow_hold (id, collaboration_id, brand_id, creator_id, currency, creator_amount,
                               platform_fee_amount, status, status_changed_at, event_count, funded_amount,
                               released_creator_amount, released_fee_amount, refunded_amount, charged_back_amount,
                               reserved_amount, provider_fee_amount, funding_seq, release_seq, refund_seq, split_seq,
                               created_at, updated_at)
       SELECT gen_random_uuid(), id, brand_id, creator_id, 'USD', 15000, 1200,
              CASE WHEN i % 5 = 0 THEN 'released' ELSE 'funded' END, :now, 2, 16200,
              CASE WHEN i % 5 = 0 THEN 15000 ELSE 0 END, CASE WHEN i % 5 = 0 THEN 1200 ELSE 0 END, 0, 0, 0, 0,
              1, CASE WHEN i % 5 = 0 THEN 1 ELSE 0 END, 0, 0, :now, :now
       FROM bench_collab""",
    """INSERT INTO provider_call (id, idempotency_key, operation, escrow_id, creator_id, amount, currency, params,
                                 status, attempts, completed_at, created_at, updated_at)
       SELECT gen_random_uuid(), 'bench:' || h.id, 'transfer', h.id, h.creator_id, 15000, 'USD', '{}', 'succeeded',
              1, :now - interval '1 day', :now, :now
       FROM escrow_hold h WHERE h.status = 'released'""",
    """INSERT INTO dispute (id, collaboration_id, kind, status, reason, opened_by_party, opened_at, respondent_party,
                           response_due_at, created_at, updated_at)
       SELECT gen_random_uuid(), c.id, 'dispute', 'open', 'brief_mismatch', 'brand',
              :now - (i % 10) * interval '1 day', 'creator',
              :now - (i % 10) * interval '1 day' + interval '5 days',
              :now, :now
       FROM bench_collab c WHERE c.i % (CAST(:total AS integer) / CAST(:disputes AS integer)) = 1""",
    "ANALYZE",
]


async def timed(fn: Any, runs: int = 5) -> tuple[float, Any]:
    timings, result = [], None
    for _ in range(runs):
        t0 = time.perf_counter()
        result = await fn()
        timings.append(time.perf_counter() - t0)
    return sorted(timings)[len(timings) // 2], result


async def main() -> None:
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
            "total": base.TOTAL, "due": base.DUE, "terms": base.terms_json(), "disputes": DISPUTES,
        }
        started = time.perf_counter()
        async with engine.begin() as conn:
            for statement in [*base.LOAD[:-1], *EXTRA]:
                text = sa.text(statement.replace(":now", "CAST(:now AS timestamptz)"))
                await conn.execute(text, {k: v for k, v in params.items() if f":{k}" in statement})
        load_seconds = time.perf_counter() - started

        statements = {"count": 0}

        timings: list[tuple[float, str]] = []

        @event.listens_for(engine.sync_engine, "before_cursor_execute")
        def count(conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
            statements["count"] += 1
            conn.info["bench_t0"] = time.perf_counter()

        @event.listens_for(engine.sync_engine, "after_cursor_execute")
        def took(conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
            timings.append((time.perf_counter() - conn.info.pop("bench_t0"), " ".join(statement.split())[:90]))

        session_maker = async_sessionmaker(engine, expire_on_commit=False)
        at = base.NOW + timedelta(days=2)  # the first BENCH_DUE deals' draft deadlines have passed: "at risk"

        async def board() -> Any:
            async with session_maker() as session:
                return await dashboard(session, at)

        async def cases() -> Any:
            async with session_maker() as session:
                return await list_cases(session)

        statements["count"] = 0
        await board()
        board_statements = statements["count"]
        slowest = sorted(timings, reverse=True)[:3]
        board_seconds, figures = await timed(board)
        statements["count"] = 0
        await cases()
        list_statements = statements["count"]
        list_seconds, (rows, _) = await timed(cases)

        print(f"PostgreSQL admin console: {base.TOTAL:,} collaborations with escrow, {DISPUTES:,} open disputes "
              f"(bulk-loaded in {load_seconds:.1f} s)")
        print(f"  dashboard: {board_seconds * 1000:.0f} ms (median of 5), {board_statements} SQL statements; "
              f"held {figures.held}, released this month {figures.released_this_month}, "
              f"{figures.open_disputes:,} open disputes, overdue {figures.overdue_by_stage}")
        print(f"  open-disputes list, first page of {len(rows)}: {list_seconds * 1000:.1f} ms, "
              f"{list_statements} SQL statement(s)")
        print("  slowest dashboard statements (first run):")
        for seconds, text in slowest:
            print(f"    {seconds * 1000:6.1f} ms  {text}")
        await engine.dispose()
    finally:
        async with admin.connect() as conn:
            await conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{DB_NAME}" WITH (FORCE)'))
        await admin.dispose()


if __name__ == "__main__":
    asyncio.run(main())
