"""Roster on PostgreSQL: CSV import of N creators against COPY + one upsert of the same file, and the roster page over
M entries with filters.

Loads a throw-away database (``postpact_bench_roster`` on BENCH_DATABASE_URL's server, default
postgresql://postgres@127.0.0.1:5432/), then:

1. Import: the same CSV of ``--rows`` new people goes through ``RosterImporter`` (checks every row, links PostPact
   creators, matches existing entries, upserts in chunks, tags) for one brand, and — for a second brand, in the same
   run — through the floor: ``COPY`` into a temporary staging table, one ``INSERT ... SELECT ... ON CONFLICT DO
   UPDATE`` of the entries and two set-based inserts of its tags and tag links. Prints both and the ratio, then the
   time of re-importing the file (every row unchanged).
2. Page: a brand with ``--entries`` roster entries (set-based load, a third tagged) is signed in and ``/brand/roster``
   is requested ``--requests`` times per filter mix, in-process over ASGI (no network, no uvicorn: the figure is the
   app's own time: SQL, Python, Jinja). Prints median and p99 per mix.

    .venv/bin/python bench/roster.py [--rows 10000] [--entries 50000] [--requests 60]
"""

from __future__ import annotations

import argparse
import asyncio
import io
import logging
import os
import re
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import httpx  # noqa: E402
import sqlalchemy as sa  # noqa: E402

from marketplace.accounts.models import UserKind  # noqa: E402
from marketplace.accounts.services import AccountService, SignUp  # noqa: E402
from marketplace.app import create_app  # noqa: E402
from marketplace.brands.models import BrandMember  # noqa: E402
from marketplace.csvfiles import csv_text, read_csv  # noqa: E402
from marketplace.db import session_scope  # noqa: E402
from marketplace.roster.csvio import RosterImporter  # noqa: E402
from marketplace.roster.services import RosterService  # noqa: E402
from marketplace.runtime import build_runtime  # noqa: E402
from marketplace.settings import Settings  # noqa: E402
from tests.support import db as dbsupport  # noqa: E402

logging.getLogger("httpx").setLevel(logging.WARNING)
SERVER = os.environ.get("BENCH_DATABASE_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/postgres")
DB_NAME = "postpact_bench_roster"
PASSWORD = "bench-password-2026"
HEADER = ["name", "email", "country", "tiktok", "instagram", "youtube", "followers", "tags"]
TAGS = ["vip", "spring", "skincare", "fitness", "ugc"]


def bench_csv(rows: int) -> str:
    return csv_text(HEADER, ([f"Person {i}", f"person{i}@bench.test", ("US", "DE", "FR", "GB")[i % 4],
                              f"tt_person_{i}", f"ig.person.{i}" if i % 3 == 0 else "", "", 1000 + i * 7 % 90000,
                              f"{TAGS[i % 5]}, {TAGS[(i + 2) % 5]}"] for i in range(rows)))


async def make_brand(runtime, email: str) -> tuple[uuid.UUID, uuid.UUID]:
    async with session_scope(runtime.session_maker) as session:
        user = await AccountService(session, runtime).sign_up(
            SignUp(UserKind.BRAND, email, PASSWORD, "Bench Owner", brand_name="Bench " + email), ip=None)
        brand_id = await session.scalar(sa.select(BrandMember.brand_id).where(BrandMember.user_id == user.id))
    return user.id, brand_id


async def import_through_app(runtime, brand_id: uuid.UUID, text: str) -> tuple[float, dict]:
    start = time.perf_counter()
    async with session_scope(runtime.session_maker) as session:
        report = await RosterImporter(RosterService(session, runtime)).run(brand_id, read_csv(text), dry_run=False)
    return time.perf_counter() - start, report.as_dict()


async def copy_and_upsert(runtime, brand_id: uuid.UUID, text: str) -> float:
    """The floor: COPY the file into a staging table, then set-based SQL: one upsert of the entries, one insert of
    the tags and one of the entry-tag links."""
    engine = runtime.alchemy.get_engine()
    start = time.perf_counter()
    async with engine.connect() as conn:
        raw = (await conn.get_raw_connection()).driver_connection
        transaction = raw.transaction()
        await transaction.start()
        await raw.execute("CREATE TEMP TABLE staging (name text, email text, country text, tiktok text, "
                          "instagram text, youtube text, followers text, tags text) ON COMMIT DROP")
        await raw.copy_to_table("staging", source=io.BytesIO(text.removeprefix("\ufeff").encode()), format="csv",
                                header=True)
        await raw.execute("""
            INSERT INTO roster_entry (id, brand_id, name, email, country, followers, tiktok, instagram, youtube,
                                     notes, custom_fields, source, created_at, updated_at)
            SELECT gen_random_uuid(), $1, name, lower(email), upper(nullif(country, '')),
                   coalesce(nullif(followers, '')::bigint, 0), nullif(lower(tiktok), ''), nullif(lower(instagram), ''),
                   nullif(lower(youtube), ''), '', '{}'::json, 'imported', now(), now()
            FROM staging
            ON CONFLICT (brand_id, email) DO UPDATE SET name = excluded.name, country = excluded.country,
                followers = excluded.followers, updated_at = excluded.updated_at""", brand_id)
        # The file's tags too, set-based: the same work the import does, so the ratio compares like with like.
        await raw.execute("""
            INSERT INTO roster_tag (id, brand_id, name, created_at, updated_at)
            SELECT DISTINCT ON (t) gen_random_uuid(), $1, t, now(), now()
            FROM staging, unnest(string_to_array(lower(replace(tags, ' ', '')), ',')) AS t
            ON CONFLICT DO NOTHING""", brand_id)
        await raw.execute("""
            INSERT INTO roster_entry_tag (id, entry_id, tag_id, created_at, updated_at)
            SELECT gen_random_uuid(), e.id, g.id, now(), now()
            FROM staging s
            CROSS JOIN LATERAL unnest(string_to_array(lower(replace(s.tags, ' ', '')), ',')) AS t
            JOIN roster_tag g ON g.brand_id = $1 AND g.name = t
            JOIN roster_entry e ON e.brand_id = $1 AND e.email = lower(s.email)
            ON CONFLICT DO NOTHING""", brand_id)
        await transaction.commit()
    return time.perf_counter() - start


async def load_entries(runtime, brand_id: uuid.UUID, count: int) -> None:
    """``count`` entries, a third tagged "vip", set-based."""
    async with session_scope(runtime.session_maker) as session:
        await session.execute(sa.text("""
            INSERT INTO roster_entry (id, brand_id, name, email, country, followers, tiktok, instagram, notes,
                                      custom_fields, source, created_at, updated_at)
            SELECT gen_random_uuid(), :brand, 'Creator ' || i, 'c' || i || '@load.test',
                   (ARRAY['US','DE','FR','GB','CA'])[1 + i % 5], 500 + abs(hashtext(i::text)) % 200000,
                   'tt' || i, CASE WHEN i % 2 = 0 THEN 'ig' || i END, '', '{}'::json, 'imported',
                   now() - (i || ' minutes')::interval, now()
            FROM generate_series(1, :n) i"""), {"brand": brand_id, "n": count})
        await session.execute(sa.text("""
            INSERT INTO roster_tag (id, brand_id, name, created_at, updated_at)
            VALUES (gen_random_uuid(), :brand, 'vip', now(), now())"""), {"brand": brand_id})
        await session.execute(sa.text("""
            INSERT INTO roster_entry_tag (id, entry_id, tag_id, created_at, updated_at)
            SELECT gen_random_uuid(), e.id, t.id, now(), now()
            FROM roster_entry e JOIN roster_tag t ON t.brand_id = e.brand_id AND t.name = 'vip'
            WHERE e.brand_id = :brand AND e.followers % 3 = 0"""), {"brand": brand_id})
    async with runtime.alchemy.get_engine().connect() as conn:
        await conn.execute(sa.text("ANALYZE roster_entry"))
        await conn.execute(sa.text("ANALYZE roster_entry_tag"))
        await conn.commit()


SCENARIOS = {
    "everyone, by name": "/brand/roster",
    "country + most followers": "/brand/roster?country=DE&sort=-followers",
    "tag": "/brand/roster?tag=vip",
    "search q": "/brand/roster?q=creator+4711",
    "has a handle on instagram + no deals": "/brand/roster?platform=instagram&has_deals=no",
    "page 150 of 200": "/brand/roster?page=150",
    "100 per page, most reliable": "/brand/roster?per_page=100&sort=-reliability",
}


async def measure_pages(app, email: str, requests: int) -> None:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1") as client:
        form = await client.get("/signin")
        token = re.search(r'name="_csrf_token" value="([^"]+)"', form.text)
        data = {"email": email, "password": PASSWORD, "_csrf_token": token.group(1) if token else ""}
        signed = await client.post("/signin", data=data)
        assert signed.status_code == 303, signed.text[:300]
        print(f"\n/brand/roster, {requests} requests each (median / p99 ms):")
        for label, path in SCENARIOS.items():
            await client.get(path)  # warm-up
            times = []
            for _ in range(requests):
                start = time.perf_counter()
                response = await client.get(path)
                times.append((time.perf_counter() - start) * 1000)
                assert response.status_code == 200, response.text[:300]
            times.sort()
            p99 = times[min(len(times) - 1, int(len(times) * 0.99))]
            print(f"  {label:<40} {statistics.median(times):7.1f}  {p99:7.1f}")


async def main(rows: int, entries: int, requests: int) -> None:
    url = dbsupport.recreate_postgres_database(SERVER, DB_NAME)
    dbsupport.migrate(url)
    var_dir = tempfile.mkdtemp(prefix="postpact-bench-roster-")
    settings = Settings.from_env({"POSTPACT_ENV": "test", "DATABASE_URL": url, "DATABASE_POOL_SIZE": "5",
                                  "SECRET_KEY": "bench-secret-key-" + "x" * 40, "POSTPACT_VAR_DIR": var_dir})
    runtime = build_runtime(settings)
    try:
        text = bench_csv(rows)
        _, app_brand = await make_brand(runtime, "import@bench.test")
        _, floor_brand = await make_brand(runtime, "copy@bench.test")
        took, report = await import_through_app(runtime, app_brand, text)
        floor = await copy_and_upsert(runtime, floor_brand, text)
        print(f"import of {rows:,} new creators: {took * 1000:.0f} ms through RosterImporter "
              f"(created {report['created']:,}); COPY + set-based upserts of the same file {floor * 1000:.0f} ms; "
              f"ratio {took / floor:.1f}x")
        again, report = await import_through_app(runtime, app_brand, text)
        print(f"same file again: {again * 1000:.0f} ms, {report['unchanged']:,} unchanged, "
              f"{report['created'] + report['updated']} written")

        _, page_brand = await make_brand(runtime, "page@bench.test")
        await load_entries(runtime, page_brand, entries)
        app = create_app(runtime=runtime, run_scheduler=False)
        print(f"roster of {entries:,} entries loaded")
        async with app.lifespan():  # httpx's ASGI transport doesn't run the lifespan; the app needs its startup
            await measure_pages(app, "page@bench.test", requests)
    finally:
        await runtime.alchemy.get_engine().dispose()
        dbsupport.drop_postgres_database(SERVER, DB_NAME)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=10_000, help="creators in the imported CSV")
    parser.add_argument("--entries", type=int, default=50_000, help="roster entries behind the page")
    parser.add_argument("--requests", type=int, default=60, help="requests per filter mix")
    args = parser.parse_args()
    asyncio.run(main(args.rows, args.entries, args.requests))
