"""Gig search for creators over 100k gigs and 20k creators on PostgreSQL, against a bare /healthz in the same run.

Loads a throw-away database (``postpact_bench_gigs`` on BENCH_DATABASE_URL's server, default
postgresql://postgres@127.0.0.1:5432/) with set-based ``INSERT ... SELECT generate_series`` statements, starts the
app with uvicorn in a subprocess (one worker, PostgreSQL pool, production settings), signs a creator in, and drives
``/gigs`` with a mix of filters, sorts, full-text queries and a deep keyset page from ``--concurrency`` httpx
connections for ``--seconds``; then the same for ``/healthz``. Prints median and p99 latency, requests/s, and the
ratios to /healthz. The client runs on the same machine (2 vCPU here), so it competes with the server for CPU.

    .venv/bin/python bench/gig_search.py [--gigs 100000] [--creators 20000] [--seconds 10] [--concurrency 16]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import httpx  # noqa: E402
import sqlalchemy as sa  # noqa: E402
from sqlalchemy.engine import make_url  # noqa: E402
from sqlalchemy.ext.asyncio import create_async_engine  # noqa: E402

from tests.support import db as dbsupport  # noqa: E402

SERVER = os.environ.get("BENCH_DATABASE_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/postgres")
DB_NAME = "postpact_bench_gigs"
PASSWORD = "bench-password-2026"
SECRET = "bench-secret-key-" + "x" * 40

ADJECTIVES = ["organic", "vegan", "matte", "glow", "citrus", "herbal", "minimal", "bold", "daily", "travel",
              "sleek", "pocket", "eco", "spicy", "cozy", "bright", "silky", "crisp", "rugged", "gentle"]
PRODUCTS = ["serum", "protein bar", "sneakers", "lipstick", "coffee", "backpack", "candle", "yoga mat", "hot sauce",
            "headphones", "shampoo", "granola", "sunscreen", "water bottle", "hoodie", "tea", "moisturiser",
            "dog treats", "phone case", "notebook"]
NICHES = ["skincare", "beauty", "fitness", "food", "travel", "tech", "fashion", "pets", "home", "wellness"]
COUNTRIES = ["US", "GB", "DE", "FR", "CA", "AU", "ES", "IT", "NL", "SE"]
PLATFORMS = ["tiktok", "instagram", "youtube"]
KINDS = ["video", "post", "story"]


def sql_array(values: list[str]) -> str:
    return "ARRAY[" + ", ".join("'" + v.replace("'", "''") + "'" for v in values) + "]"


def load_statements(gigs: int, creators: int, brands: int) -> list[str]:
    """Everything set-based: one INSERT ... SELECT per table, pseudo-random but repeatable (hash of the row number)."""
    adj, prod, niche, country = sql_array(ADJECTIVES), sql_array(PRODUCTS), sql_array(NICHES), sql_array(COUNTRIES)
    plat, kind = sql_array(PLATFORMS), sql_array(KINDS)
    h = "abs(hashtext(i::text || '{salt}'))"  # a repeatable pseudo-random number per row
    return [
        *(f"CREATE TEMP TABLE bench_{name} AS SELECT i, gen_random_uuid() AS id, gen_random_uuid() AS user_id FROM generate_series(1, {count:d}) i"  # noqa: E501, S608 - numbers only
          for name, count in (("brand", brands), ("creator", creators), ("gig", gigs))),
        f"""INSERT INTO brand (id, name, website, country, description, created_at, updated_at)
            SELECT id, 'Brand ' || i, 'https://brand' || i || '.example', ({country})[1 + i % 10], '', now(), now()
            FROM bench_brand""",  # noqa: S608
        """INSERT INTO user_account (id, email, password_hash, kind, full_name, is_active, created_at, updated_at)
            SELECT user_id, 'creator' || i || '@bench.test', 'not-a-login', 'creator', 'Creator ' || i, true,
                   now(), now() FROM bench_creator""",
        f"""INSERT INTO creator (id, user_id, display_name, bio, country, languages, total_followers,
                                 best_engagement_bps, created_at, updated_at)
            SELECT id, user_id, 'Creator ' || i, '', ({country})[1 + {h.format(salt='c')} % 10], '["en"]'::json,
                   1000 + {h.format(salt='f')} % 99000, 100 + {h.format(salt='e')} % 900, now(), now()
            FROM bench_creator""",  # noqa: S608
        f"""INSERT INTO social_account (id, creator_id, platform, handle, profile_url, followers, average_views,
                                        engagement_bps, created_at, updated_at)
            SELECT gen_random_uuid(), c.id, ({plat})[1 + i % 3], 'creator' || i,
                   'https://example.com/@creator' || i, cr.total_followers, cr.total_followers / 3,
                   cr.best_engagement_bps, now(), now()
            FROM bench_creator c JOIN creator cr ON cr.id = c.id""",  # noqa: S608
        f"""INSERT INTO creator_niche (id, creator_id, niche, created_at, updated_at)
            SELECT gen_random_uuid(), id, ({niche})[1 + {h.format(salt='n')} % 10], now(), now()
            FROM bench_creator""",  # noqa: S608
        f"""INSERT INTO gig (id, brand_id, status, title, brief, product_name, product_retail_value, product_included,
                             currency, base_fee_amount, commission_bps, apply_by, ship_within_days,
                             post_within_days, revision_rounds, review_window_hours, keep_live_days,
                             ghost_grace_hours, reminder_offsets_hours, slots, eligible_platforms, eligible_countries,
                             published_at, created_at, updated_at)
            SELECT g.id, g.brand_id,
                   CASE WHEN {h.format(salt='s')} % 20 < 16 THEN 'open' WHEN {h.format(salt='s')} % 20 < 18
                        THEN 'closed' WHEN {h.format(salt='s')} % 20 < 19 THEN 'draft' ELSE 'archived' END,
                   initcap(({adj})[1 + {h.format(salt='a')} % 20] || ' ' || ({prod})[1 + {h.format(salt='p')} % 20])
                     || ' ' || ({kind})[1 + i % 3],
                   'Show our ' || ({adj})[1 + {h.format(salt='a2')} % 20] || ' ' || ({prod})[1 + {h.format(salt='p')}
                     % 20] || ' in your ' || ({niche})[1 + {h.format(salt='n')} % 10] || ' routine. Keep it '
                     || ({adj})[1 + {h.format(salt='a3')} % 20] || ' and honest; tag us and disclose the partnership.',
                   ({prod})[1 + {h.format(salt='p')} % 20], 500 + {h.format(salt='v')} % 15000, true,
                   CASE WHEN i % 10 = 0 THEN 'EUR' ELSE 'USD' END, 2000 + ({h.format(salt='fee')} % 480) * 100,
                   NULL,
                   CASE WHEN {h.format(salt='d')} % 100 < 70 THEN now() + ((1 + {h.format(salt='dd')} % 60)
                        || ' days')::interval
                        WHEN {h.format(salt='d')} % 100 < 85 THEN NULL
                        ELSE now() - ((1 + {h.format(salt='dd')} % 30) || ' days')::interval END,
                   7, 14, 1, 72, 14, 72, '[-72, -24, 24, 72]'::json, 1 + i % 20, '[]'::json,
                   (CASE WHEN {h.format(salt='c')} % 10 < 6 THEN '[]'
                         ELSE '["' || ({country})[1 + {h.format(salt='cc')} % 10] || '"]' END)::json,
                   now() - (({h.format(salt='pub')} % 129600) || ' minutes')::interval, now(), now()
            FROM (SELECT bg.i, bg.id, bb.id AS brand_id FROM bench_gig bg
                  JOIN bench_brand bb ON bb.i = 1 + bg.i % {brands}) g""",  # noqa: S608
        "UPDATE gig SET published_at = NULL WHERE status = 'draft'",
        f"""INSERT INTO gig_deliverable (id, gig_id, platform, kind, count, required_hashtags, required_mentions,
                                         disclosure_required, disclosure_text, created_at, updated_at)
            SELECT gen_random_uuid(), id, ({plat})[1 + {h.format(salt='pl')} % 3], ({kind})[1 + i % 3], 1,
                   '[]'::json, '[]'::json, true, '#ad', now(), now() FROM bench_gig
            UNION ALL
            SELECT gen_random_uuid(), id, ({plat})[1 + ({h.format(salt='pl')} + 1) % 3], 'story', 2, '[]'::json,
                   '[]'::json, true, '#ad', now(), now() FROM bench_gig WHERE i % 4 = 0""",  # noqa: S608
        f"""INSERT INTO gig_niche (id, gig_id, niche, created_at, updated_at)
            SELECT gen_random_uuid(), id, ({niche})[1 + {h.format(salt='n')} % 10], now(), now() FROM bench_gig
            UNION ALL
            SELECT gen_random_uuid(), id, ({niche})[1 + ({h.format(salt='n')} + 3) % 10], now(), now()
            FROM bench_gig WHERE i % 3 = 0""",  # noqa: S608
        "ANALYZE",
    ]


async def load(url: str, gigs: int, creators: int) -> None:
    engine = create_async_engine(url)
    try:
        async with engine.begin() as conn:
            for statement in load_statements(gigs, creators, brands=max(1, gigs // 200)):
                await conn.execute(sa.text(statement))
        async with engine.connect() as conn:
            await conn.execution_options(isolation_level="AUTOCOMMIT")
            await conn.execute(sa.text("VACUUM ANALYZE"))
    finally:
        await engine.dispose()


async def explain(url: str) -> None:
    """PostgreSQL's plan and time for a few searches, straight from the query the page runs."""
    import enum

    from marketplace.gigs.search import open_gigs_statements, parse_gig_filters

    engine = create_async_engine(url)
    try:
        async with engine.connect() as conn:
            for name, params in (("full text", {"q": "serum"}), ("everything", {
                    "q": "matte", "niche": "beauty", "country": "DE", "fee_min": "2000", "sort": "fee"}),
                    ("deadline", {"sort": "deadline"})):
                query, values_by_name = open_gigs_statements(parse_gig_filters(params, major_units=False),
                                                             now=datetime.now(UTC), dialect="postgresql")[0]
                state = query.compile(dialect=conn.dialect).construct_expanded_state(values_by_name)
                values = tuple(v.value if isinstance(v, enum.Enum) else v
                               for v in (state.parameters[k] for k in state.positiontup or []))
                rows = await conn.exec_driver_sql("EXPLAIN (ANALYZE, COSTS OFF) " + state.statement, values)
                plan = [r[0] for r in rows]
                scans = sorted({m.group(0) for line in plan for m in [re.search(
                    r"(Index Only Scan|Index Scan|Bitmap Index Scan|Seq Scan)( Backward)? (using|on) \S+", line)]
                    if m})
                print(f"  {name:<12} {plan[-1].strip():<28} {'; '.join(scans)}")
    finally:
        await engine.dispose()


async def make_bench_creator(url: str) -> str:
    """One creator who can sign in (real argon2 hash through the sign-up service), with a TikTok account."""
    from marketplace.accounts.models import UserKind
    from marketplace.accounts.services import AccountService, SignUp
    from marketplace.db import session_scope
    from marketplace.runtime import build_runtime
    from marketplace.settings import Settings
    from tests.support.marketplace import add_social_account, set_creator_profile

    settings = Settings.from_env({"POSTPACT_ENV": "test", "SECRET_KEY": SECRET, "DATABASE_URL": url,
                                  "DATABASE_POOL_SIZE": "0"})
    runtime = build_runtime(settings)
    email = "bench-creator@bench.test"
    try:
        async with session_scope(runtime.session_maker) as session:
            user = await AccountService(session, runtime).sign_up(
                SignUp(UserKind.CREATOR, email, PASSWORD, "Bench Creator"), ip=None)
            person = type("Person", (), {"user_id": user.id})()
        await add_social_account(runtime, person, platform="tiktok", handle="bench_creator", followers=25_000)
        await set_creator_profile(runtime, person, country="US", niches=["skincare", "fitness"])
    finally:
        await runtime.alchemy.get_engine().dispose()
    return email


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start_server(url: str, var_dir: str) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    env = {**os.environ, "POSTPACT_ENV": "production", "SECRET_KEY": SECRET, "DATABASE_URL": url,
           "POSTPACT_VAR_DIR": var_dir, "PUBLIC_URL": f"http://127.0.0.1:{port}", "DATABASE_POOL_SIZE": "10"}
    # Production's shape: sessions (renewed on every request) and jobs in Redis, not files in var/.
    redis_url = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/12")
    try:
        import redis

        redis.Redis.from_url(redis_url, socket_connect_timeout=1).flushdb()
        env["REDIS_URL"] = redis_url
    except Exception:  # no Redis here: measure the embedded default (file sessions) instead, and say so
        env.pop("REDIS_URL", None)
    print(f"sessions and jobs: {env.get('REDIS_URL', 'embedded (file sessions, in-process jobs)')}")
    process = subprocess.Popen(
        [sys.executable, "-m", "uvicorn", "--factory", "marketplace.app:create_app", "--host", "127.0.0.1",
         "--port", str(port), "--workers", "1", "--log-level", "warning", "--no-access-log"],
        cwd=ROOT, env=env, start_new_session=True,
    )
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"uvicorn exited with {process.returncode}")
        try:
            if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                return process, base
        except httpx.HTTPError:
            time.sleep(0.1)
    process.terminate()
    raise RuntimeError("uvicorn did not start")


async def sign_in(client: httpx.AsyncClient, email: str) -> None:
    await client.get("/signin")
    token = client.cookies.get("postpact_csrf")
    response = await client.post("/signin", data={"email": email, "password": PASSWORD, "_csrf_token": token})
    assert response.status_code == 303, response.text[:300]


def scenarios() -> dict[str, str]:
    soon = (datetime.now(UTC) + timedelta(days=10)).date().isoformat()
    return {
        "newest": "/gigs",
        "platform": "/gigs?platform=instagram",
        "niche + fee sort": "/gigs?niche=skincare&sort=fee",
        "country + fee range": "/gigs?country=US&fee_min=50&fee_max=300",
        "full text": "/gigs?q=serum",
        "full text + platform": "/gigs?q=vegan+protein&platform=tiktok",
        "deadline sort + closing by": f"/gigs?sort=deadline&apply_before={soon}",
        "product value range": "/gigs?product_value_min=20&product_value_max=80&currency=USD",
        "everything": "/gigs?q=matte&niche=beauty&country=DE&fee_min=20&sort=fee",
    }


async def deep_page(client: httpx.AsyncClient, hops: int) -> str:
    """Follow "Next page" ``hops`` times: keyset pages cost the same however deep they are."""
    path = "/gigs"
    for _ in range(hops):
        page = await client.get(path)
        match = re.search(r'href="(/gigs\?[^"]*cursor=[^"]+)"', page.text)
        assert match, "no next page"
        path = match.group(1).replace("&amp;", "&")
    return path


async def hammer(client: httpx.AsyncClient, paths: list[str], seconds: float, concurrency: int) -> list[float]:
    latencies: list[float] = []
    failures = 0
    stop = time.perf_counter() + seconds

    async def worker(offset: int) -> None:
        nonlocal failures
        i = offset
        while time.perf_counter() < stop:
            path = paths[i % len(paths)]
            i += 1
            started = time.perf_counter()
            response = await client.get(path)
            latencies.append(time.perf_counter() - started)
            if response.status_code != 200:
                failures += 1

    await asyncio.gather(*(worker(k) for k in range(concurrency)))
    if failures:
        raise RuntimeError(f"{failures} requests failed")
    return latencies


def summary(latencies: list[float], seconds: float) -> tuple[float, float, float]:
    ordered = sorted(latencies)
    p99 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]
    return statistics.median(ordered) * 1000, p99 * 1000, len(ordered) / seconds


async def run(args: argparse.Namespace) -> None:
    print(f"load average before: {' '.join(f'{x:.1f}' for x in os.getloadavg())} ({os.cpu_count()} CPUs)")
    url = dbsupport.recreate_postgres_database(SERVER, DB_NAME)
    print(f"database {make_url(url).database}: migrating, loading {args.gigs:,} gigs and {args.creators:,} creators")
    dbsupport.migrate(url)
    started = time.perf_counter()
    await load(url, args.gigs, args.creators)
    print(f"bulk load (set-based INSERT ... SELECT) + VACUUM ANALYZE: {time.perf_counter() - started:.1f} s")
    print("plans (EXPLAIN ANALYZE of the page's own query):")
    await explain(url)
    email = await make_bench_creator(url)
    with tempfile.TemporaryDirectory() as var_dir:
        process, base = start_server(url, var_dir)
        try:
            limits = httpx.Limits(max_connections=args.concurrency, max_keepalive_connections=args.concurrency)
            async with httpx.AsyncClient(base_url=base, limits=limits, timeout=30) as client:
                await sign_in(client, email)
                paths = list(scenarios().values())
                paths.append(await deep_page(client, 10))
                shown = (await client.get(paths[0])).text.count('class="card gig-card"')
                print(f"server: uvicorn subprocess, 1 worker; client: httpx, {args.concurrency} connections, "
                      f"{args.seconds:.0f} s per run; a page shows {shown} gigs")
                print("\nper scenario (sequential, 30 requests each):")
                for name, path in [*scenarios().items(), ("page 11 via keyset cursor", paths[-1])]:
                    times = []
                    for _ in range(30):
                        t0 = time.perf_counter()
                        response = await client.get(path)
                        times.append(time.perf_counter() - t0)
                        assert response.status_code == 200, (path, response.status_code)
                    print(f"  {name:<28} median {statistics.median(times) * 1000:6.1f} ms")
                await hammer(client, paths, 2, args.concurrency)  # warm-up
                search = await hammer(client, paths, args.seconds, args.concurrency)
                health = await hammer(client, ["/healthz"], args.seconds, args.concurrency)
        finally:
            process.terminate()
            process.wait(timeout=15)
    s_med, s_p99, s_rps = summary(search, args.seconds)
    h_med, h_p99, h_rps = summary(health, args.seconds)
    print(f"\n{'':<22}{'median':>10}{'p99':>10}{'req/s':>10}")
    print(f"{'/gigs (mixed filters)':<22}{s_med:>8.1f}ms{s_p99:>8.1f}ms{s_rps:>10.0f}")
    print(f"{'/healthz':<22}{h_med:>8.1f}ms{h_p99:>8.1f}ms{h_rps:>10.0f}")
    print(f"search / healthz: median x{s_med / h_med:.1f}, p99 x{s_p99 / h_p99:.1f}, "
          f"throughput {s_rps / h_rps:.2f} of /healthz")
    print(f"load average after: {' '.join(f'{x:.1f}' for x in os.getloadavg())} (other work on the machine skews "
          "absolute figures; the ratio to /healthz is the steadier number)")
    if not args.keep:
        dbsupport.drop_postgres_database(SERVER, DB_NAME)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--gigs", type=int, default=100_000)
    parser.add_argument("--creators", type=int, default=20_000)
    parser.add_argument("--seconds", type=float, default=10)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--keep", action="store_true", help="keep the database afterwards")
    asyncio.run(run(parser.parse_args()))


if __name__ == "__main__":
    main()
