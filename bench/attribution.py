"""Sales attribution at scale: a backlog of store orders attributed against many deals by the real service
(``attribute_order``: the rule table, commission base, lifecycle; one row per order), against one set-based join that
only matches codes and refs, in the same run; then the ``/r/{slug}`` redirect against ``/healthz`` in-process.

PostgreSQL, in a throw-away database ``postpact_bench_attribution`` (BENCH_DATABASE_URL points at another server).
The deals are clones of one real deal (inserted with foreign-key triggers off, so 10k deals take a second): every
deal has its code and link and one click; orders carry a code (50%), a ref in the landing URL (30%) or nothing.

Then the brand report (every creator's clicks, orders, GMV, commission, costs) over the attributed orders topped up
to ``--report-orders`` rows (added straight into sale_attribution, then the daily roll-up rebuilt set-based), median
and p99 of 20 runs: reading every order (the baseline) against reading the daily roll-up, in the same run.

    .venv/bin/python bench/attribution.py [--deals 10000] [--orders 100000] [--batch 500] [--requests 2000]
                                          [--report-orders 1000000]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import sqlalchemy as sa
from litestar.testing import AsyncTestClient

from marketplace.app import create_app
from marketplace.collaborations.models import Collaboration
from marketplace.db import session_scope
from marketplace.jobs import RecordingQueue
from marketplace.runtime import build_runtime
from marketplace.sales import rollup
from marketplace.sales.models import SaleAttribution
from marketplace.sales.reports import brand_report
from marketplace.sales.services import attribute_order
from marketplace.settings import Settings
from marketplace.stores.models import StoreOrder
from tests.support import db as dbsupport
from tests.support.deals import insert_offer

SERVER = os.environ.get("BENCH_DATABASE_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/postgres")
DB_NAME = "postpact_bench_attribution"
T0 = datetime(2026, 11, 1, tzinfo=UTC)


async def seed(runtime: object, deals: int, orders: int) -> tuple[object, str]:
    people = dbsupport.PeopleFactory(runtime, "bench-password-123")  # type: ignore[arg-type]
    brand = await people.brand(brand_name="Bench brand")
    creator = await people.creator(name="Bench creator")
    async with session_scope(runtime.session_maker) as session:  # type: ignore[attr-defined]
        rows = await insert_offer(session, brand, creator, now=T0, gig={"commission_bps": 1250})
    cols = [c.name for c in Collaboration.__table__.columns]
    fresh = {"id": "gen_random_uuid()", "application_id": "gen_random_uuid()"}
    select_cols = ", ".join(fresh.get(c, c) for c in cols)
    async with runtime.alchemy.get_engine().begin() as conn:  # type: ignore[attr-defined]
        await conn.execute(sa.text("SET LOCAL session_replication_role = replica"))  # clones skip FK checks
        clone = (f"INSERT INTO collaboration ({', '.join(cols)}) SELECT {select_cols} FROM collaboration, "  # noqa: S608 (our model's column names)
                 "generate_series(2, :n) WHERE id = :id")
        await conn.execute(sa.text(clone), {"n": deals, "id": rows.collaboration_id})
        # Signed when the links went out (the report counts the costs of deals signed in its range).
        await conn.execute(sa.text("UPDATE collaboration SET signed_at = :t"), {"t": T0})
        await conn.execute(sa.text(
            "INSERT INTO deal_tracking (id, collaboration_id, brand_id, creator_id, gig_id, code, code_status, tag, "
            "external_id, message, valid_from, slug, target_url, created_at, updated_at) "
            "SELECT gen_random_uuid(), c.id, c.brand_id, c.creator_id, c.gig_id, 'C' || n || '-GLOW15', 'created', "
            "'postpact-collab-' || c.id || '-code', NULL, '', :t0, 'c' || n || '-bench', "
            "'https://shop.example/?utm_source=postpact&ref=c' || n || '-bench', :t0, :t0 "
            "FROM (SELECT id, brand_id, creator_id, gig_id, row_number() OVER (ORDER BY id) AS n "
            "FROM collaboration) c"), {"t0": T0})
        await conn.execute(sa.text(
            "INSERT INTO link_click (id, tracking_id, clicked_at, visitor, created_at, updated_at) "
            "SELECT gen_random_uuid(), id, :t, md5(id::text), :t, :t FROM deal_tracking"),
            {"t": T0 + timedelta(hours=1)})
        store_id = (await conn.execute(sa.text(
            "INSERT INTO store_connection (id, brand_id, platform, name, shop_url, secret_hints, last_test_message, "
            "created_at, updated_at) VALUES (gen_random_uuid(), :b, 'custom', 'Bench', '', '{}', '', :t, :t) "
            "RETURNING id"), {"b": brand.brand_id, "t": T0})).scalar_one()
        await conn.execute(sa.text(
            "INSERT INTO store_order (id, store_id, external_id, name, email, currency, total_amount, "
            "subtotal_amount, tax_amount, refunded_amount, discount_codes, landing_site, tags, financial_status, "
            "placed_at, refund_ids, created_at, updated_at) "
            "SELECT gen_random_uuid(), :s, n::text, '#' || n, 'fan' || n || '@example.com', 'USD', 6490, 5900, 590, "
            "CASE WHEN n % 10 = 0 THEN 2000 ELSE 0 END, "
            "CASE WHEN n % 10 < 5 THEN json_build_array(json_build_object('code', "
            "'C' || (1 + (n::bigint * 7919) % :d) || '-GLOW15')) ELSE '[]'::json END, "
            "CASE WHEN n % 10 BETWEEN 5 AND 7 THEN "
            "'/products/tee?ref=c' || (1 + (n::bigint * 104729) % :d) || '-bench' "
            "ELSE '/collections/all' END, '', 'paid', CAST(:t AS timestamptz) + (n % 20) * interval '1 day', "
            "'[]', :t, :t "
            "FROM generate_series(1, :o) n"), {"s": store_id, "d": deals, "o": orders, "t": T0 + timedelta(days=1)})
    async with runtime.alchemy.get_engine().connect() as conn:  # type: ignore[attr-defined]
        await conn.execute(sa.text("ANALYZE"))
    return brand, str(store_id)


async def attribute_backlog(runtime: object, brand_id: object, batch: int) -> tuple[float, int]:
    ids = list(await _scalars(runtime, sa.select(StoreOrder.id).order_by(StoreOrder.external_id)))
    began = time.perf_counter()
    now = T0 + timedelta(days=25)
    for start in range(0, len(ids), batch):
        async with session_scope(runtime.session_maker) as session:  # type: ignore[attr-defined]
            orders = (await session.scalars(sa.select(StoreOrder).where(StoreOrder.id.in_(ids[start:start + batch])))
                      ).all()
            for order in orders:
                await attribute_order(session, order, brand_id, now)  # type: ignore[arg-type]
    return time.perf_counter() - began, len(ids)


async def _scalars(runtime: object, query: sa.Select[tuple[object]]) -> list[object]:
    async with runtime.session_maker() as session:  # type: ignore[attr-defined]
        return list((await session.scalars(query)).all())


SET_BASED = """
SELECT o.id, coalesce(bycode.collaboration_id, bylink.collaboration_id) AS collaboration_id
FROM store_order o
LEFT JOIN deal_tracking bycode ON bycode.brand_id = :b AND bycode.code = upper(o.discount_codes::jsonb -> 0 ->> 'code')
LEFT JOIN deal_tracking bylink ON bylink.brand_id = :b
     AND bylink.slug = substring(o.landing_site from '[?&]ref=([A-Za-z0-9_-]+)')
"""


async def set_based(runtime: object, brand_id: object) -> tuple[float, int, int]:
    async with runtime.alchemy.get_engine().connect() as conn:  # type: ignore[attr-defined]
        began = time.perf_counter()
        rows = (await conn.execute(sa.text(SET_BASED), {"b": brand_id})).all()
        elapsed = time.perf_counter() - began
    return elapsed, len(rows), sum(1 for r in rows if r.collaboration_id is not None)


async def report_bench(runtime: object, brand_id: object, total: int) -> None:
    async with runtime.alchemy.get_engine().begin() as conn:  # type: ignore[attr-defined]
        have = (await conn.execute(sa.text("SELECT count(*) FROM sale_attribution"))).scalar_one()
        await conn.execute(sa.text("SET LOCAL session_replication_role = replica"))  # no store_order rows behind them
        await conn.execute(sa.text(
            "INSERT INTO sale_attribution (id, store_order_id, brand_id, collaboration_id, creator_id, gig_id, reason, "
            "detail, placed_at, currency, base_amount, commission_bps, commission_amount, state, payable_at, "
            "paid_amount, created_at, updated_at) "
            "SELECT gen_random_uuid(), gen_random_uuid(), brand_id, collaboration_id, creator_id, gig_id, reason, "
            "'bench', placed_at + (n % 60) * interval '1 day', currency, base_amount, commission_bps, "
            "commission_amount, state, payable_at, 0, created_at, updated_at "
            "FROM (SELECT *, row_number() OVER () AS n FROM sale_attribution WHERE collaboration_id IS NOT NULL) a, "
            "generate_series(1, GREATEST(1, (CAST(:total AS bigint) - CAST(:have AS bigint)) "
            "/ GREATEST(1, (SELECT count(*) FROM sale_attribution WHERE collaboration_id IS NOT NULL))))"),
            {"total": total, "have": have})
    async with runtime.alchemy.get_engine().connect() as conn:  # type: ignore[attr-defined]
        await conn.execute(sa.text("ANALYZE sale_attribution"))
        rows = (await conn.execute(sa.text("SELECT count(*) FROM sale_attribution"))).scalar_one()
    # The top-up bypassed attribute_order, so the roll-up is rebuilt from the orders (set-based), timed.
    async with session_scope(runtime.session_maker) as session:  # type: ignore[attr-defined]
        began = time.perf_counter()
        await rollup.rebuild(session, brand_id)  # type: ignore[arg-type]
        rebuilt = time.perf_counter() - began
    async with runtime.alchemy.get_engine().connect() as conn:  # type: ignore[attr-defined]
        await conn.execute(sa.text("ANALYZE sale_daily"))
        days = (await conn.execute(sa.text("SELECT count(*) FROM sale_daily"))).scalar_one()
    print(f"roll-up rebuilt set-based from {rows:,} orders in {rebuilt:.1f} s ({days:,} deal-days)", flush=True)
    # Whole days (the page's ranges) and a range with partial edge days (read from the orders).
    ranges = {"whole days": (T0, T0 + timedelta(days=90)),
              "partial edges": (T0 + timedelta(hours=7), T0 + timedelta(days=89, hours=5))}
    results: dict[tuple[str, bool], list[float]] = {}
    reports = {}
    for label, (start, end) in ranges.items():
        for use_rollup in (False, True):
            times = []
            for _ in range(20):
                async with runtime.session_maker() as session:  # type: ignore[attr-defined]
                    began = time.perf_counter()
                    report = await brand_report(session, brand_id, start, end, fee_bps=800,  # type: ignore[arg-type]
                                                use_rollup=use_rollup)
                    times.append(time.perf_counter() - began)
            results[(label, use_rollup)] = sorted(t * 1000 for t in times)
            reports[(label, use_rollup)] = report
        slow, fast = reports[(label, False)].totals[0], reports[(label, True)].totals[0]
        assert (slow.orders, slow.gmv, slow.commission) == (fast.orders, fast.gmv, fast.commission), label
    for label in ranges:
        before, after = results[(label, False)], results[(label, True)]
        total_row = reports[(label, True)].totals[0]
        print(f"brand report over {rows:,} attributed orders, {label}: every order (4 statements) median "
              f"{statistics.median(before):.0f} ms, p99 {before[-1]:.0f} ms; roll-up (3 statements) median "
              f"{statistics.median(after):.0f} ms, p99 {after[-1]:.0f} ms; "
              f"{statistics.median(before) / statistics.median(after):.1f}x faster "
              f"(same GMV {total_row.gmv:,}, {total_row.deals:,} deals)", flush=True)


async def http_bench(runtime: object, requests: int, slugs: list[str]) -> None:
    app = create_app(runtime=runtime, run_scheduler=False)  # type: ignore[arg-type]
    async with AsyncTestClient(app=app) as client:
        for label, path_of in (("/healthz", lambda i: "/healthz"),
                               ("/r/{slug}", lambda i: f"/r/{slugs[i % len(slugs)]}")):
            latencies = []
            for i in range(50):  # warm up
                await client.get(path_of(i), headers={"User-Agent": f"Mozilla/5.0 warm {i}"}, follow_redirects=False)
            began = time.perf_counter()
            for i in range(requests):
                t = time.perf_counter()
                # A different browser string per request: each is a new visitor for the rate limit and the hash.
                response = await client.get(path_of(i), headers={"User-Agent": f"Mozilla/5.0 bench {i}"},
                                            follow_redirects=False)
                latencies.append(time.perf_counter() - t)
                assert response.status_code in (200, 302), response.status_code
            wall = time.perf_counter() - began
            ms = sorted(x * 1000 for x in latencies)
            print(f"{label:<12} {requests / wall:8.0f} req/s sequential in-process   p50 {statistics.median(ms):.2f} ms"
                  f"   p99 {ms[int(len(ms) * 0.99)]:.2f} ms", flush=True)


async def main_async(url: str, deals: int, orders: int, batch: int, requests: int, report_orders: int) -> None:
    settings = Settings.from_env({
        "POSTPACT_ENV": "test", "SECRET_KEY": "bench-secret-key-long-enough-0123456789", "DATABASE_URL": url,
        "POSTPACT_VAR_DIR": tempfile.mkdtemp(prefix="postpact-bench-"),
    })
    runtime = build_runtime(settings, queue=RecordingQueue())
    began = time.perf_counter()
    brand, _ = await seed(runtime, deals, orders)
    print(f"seeded {deals:,} deals (code, link, one click each) and {orders:,} orders in "
          f"{time.perf_counter() - began:.1f} s", flush=True)
    elapsed, rows, matched = await set_based(runtime, brand.brand_id)  # type: ignore[attr-defined]
    print(f"set-based join (codes and refs only):   {rows / elapsed:10,.0f} orders/s   {elapsed * 1000:.0f} ms, "
          f"{matched:,} matched", flush=True)
    elapsed, count = await attribute_backlog(runtime, brand.brand_id, batch)  # type: ignore[attr-defined]
    async with runtime.session_maker() as session:
        by_reason = dict((await session.execute(sa.select(SaleAttribution.reason, sa.func.count())
                                                .group_by(SaleAttribution.reason))).all())
    print(f"attribute_order, {batch} per transaction: {count / elapsed:10,.0f} orders/s   {elapsed:.1f} s   "
          f"reasons {by_reason}", flush=True)
    await report_bench(runtime, brand.brand_id, report_orders)  # type: ignore[attr-defined]
    slugs = [str(s) for s in await _scalars(runtime, sa.text("SELECT slug FROM deal_tracking LIMIT 1000")
                                           .columns(sa.column("slug")))]  # type: ignore[arg-type]
    # The in-process client runs the app on its own event loop: no pooled connection may outlive this one.
    await runtime.alchemy.get_engine().dispose()
    await http_bench(runtime, requests, slugs)
    await runtime.alchemy.get_engine().dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--deals", type=int, default=10_000)
    parser.add_argument("--orders", type=int, default=100_000)
    parser.add_argument("--batch", type=int, default=500)
    parser.add_argument("--requests", type=int, default=2_000)
    parser.add_argument("--report-orders", type=int, default=1_000_000)
    args = parser.parse_args()
    url = dbsupport.recreate_postgres_database(SERVER, DB_NAME)
    dbsupport.migrate(url)
    print(f"PostgreSQL ({DB_NAME})", flush=True)
    try:
        asyncio.run(main_async(url, args.deals, args.orders, args.batch, args.requests, args.report_orders))
    finally:
        dbsupport.drop_postgres_database(SERVER, DB_NAME)


if __name__ == "__main__":
    main()
