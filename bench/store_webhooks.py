"""How fast POST /webhooks/shopify/{store_id} acknowledges a shop: HMAC on the raw body (constant-time compare),
the store's secret decrypted, one row under the unique (store, webhook id), processing job queued, 200 — one at a
time and with concurrent deliveries, new deliveries and duplicates, against a plain insert + commit in the same run.

Runs the app under uvicorn on a local port (one worker) and posts over HTTP with keep-alive from another process.
Jobs are only recorded (this measures the acknowledgement Shopify waits for: it gives up after 5 s). PostgreSQL by
default, in a throw-away database ``postpact_bench_store_webhooks`` (BENCH_DATABASE_URL points at another server).

    .venv/bin/python bench/store_webhooks.py [--deliveries 1000] [--concurrency 16] [--sqlite]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing
import os
import statistics
import sys
import tempfile
import time
import uuid
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import httpx
import sqlalchemy as sa

from marketplace.accounts.auth import load_actor
from marketplace.app import freeze_startup_heap
from marketplace.db import session_scope
from marketplace.jobs import RecordingQueue
from marketplace.runtime import build_runtime
from marketplace.settings import Settings
from marketplace.stores.services import StoreService
from tests.fakes.shopify_server import sign
from tests.support import db as dbsupport
from tests.support.live import start_live_server

SERVER = os.environ.get("BENCH_DATABASE_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/postgres")
CLIENT_SECRET = "shpss_bench_client_secret"
DB_NAME = "postpact_bench_store_webhooks"


def order(n: int) -> bytes:
    """An orders/create body of the size Shopify sends for a small order (~3 kB)."""
    return json.dumps({
        "id": 5_000_000 + n, "admin_graphql_api_id": f"gid://shopify/Order/{5_000_000 + n}", "name": f"#{1000 + n}",
        "email": f"fan{n}@example.com", "currency": "USD", "total_price": "59.90", "subtotal_price": "54.00",
        "total_tax": "5.90", "financial_status": "paid", "created_at": "2026-12-06T10:00:00+00:00",
        "updated_at": "2026-12-06T10:00:00+00:00", "landing_site": f"/products/tee?ref=creator{n % 50}",
        "discount_codes": [{"code": f"AVA-GLOW{n % 20}", "amount": "6.00", "type": "percentage"}],
        "line_items": [{"id": n * 10 + i, "title": "Linen tee", "variant_title": "M", "quantity": 1, "price": "27.00",
                        "sku": f"TEE-M-{i}", "properties": [], "tax_lines": [{"title": "VAT", "price": "2.95"}]}
                       for i in range(2)],
        "customer": {"id": 9_000_000 + n, "email": f"fan{n}@example.com", "first_name": "Fan", "last_name": str(n)},
        "note": "x" * 1_200,
    }, indent=2).encode()


async def deliver(client: httpx.AsyncClient, path: str, body: bytes, webhook_id: str) -> float:
    headers = {"Content-Type": "application/json", "X-Shopify-Topic": "orders/create",
               "X-Shopify-Hmac-SHA256": sign(body, CLIENT_SECRET), "X-Shopify-Shop-Domain": "bench.myshopify.com",
               "X-Shopify-Webhook-Id": webhook_id, "X-Shopify-API-Version": "2025-10",
               "X-Shopify-Triggered-At": "2026-12-06T10:00:00Z"}
    began = time.perf_counter()
    response = await client.post(path, content=body, headers=headers)
    elapsed = time.perf_counter() - began
    if response.status_code != 200:
        raise RuntimeError(f"{response.status_code}: {response.text[:200]}")
    return elapsed


async def deliveries(url: str, path: str, batch: list[tuple[bytes, str]],
                     concurrency: int) -> tuple[list[float], float]:
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(base_url=url, limits=limits, timeout=30) as client:
        await deliver(client, path, order(10**6 + concurrency), str(uuid.uuid4()))  # open the connection first
        pending = iter(batch)
        latencies: list[float] = []

        async def worker() -> None:
            for body, webhook_id in pending:
                latencies.append(await deliver(client, path, body, webhook_id))

        began = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        return latencies, time.perf_counter() - began


def client_process(url: str, path: str, batch: list[tuple[bytes, str]],
                   concurrency: int) -> tuple[list[float], float]:
    return asyncio.run(deliveries(url, path, batch, concurrency))


def report(label: str, latencies: list[float], wall: float) -> None:
    ms = sorted(x * 1000 for x in latencies)
    p99 = ms[min(len(ms) - 1, int(len(ms) * 0.99))]
    print(f"{label:<38} {len(ms) / wall:8.0f} /s   p50 {statistics.median(ms):6.2f} ms   p99 {p99:6.2f} ms   "
          f"({len(ms)} deliveries)", flush=True)


async def baseline(database_url: str, n: int = 300, concurrency: int = 16) -> tuple[float, float]:
    """Single-row insert + commit on this database, sequential and concurrent: rows per second."""
    from sqlalchemy.ext.asyncio import create_async_engine

    engine = create_async_engine(database_url, pool_size=concurrency)
    try:
        async with engine.begin() as conn:
            await conn.execute(sa.text("CREATE TABLE IF NOT EXISTS bench_commit (n integer)"))

        async def insert(i: int) -> None:
            async with engine.begin() as conn:
                await conn.execute(sa.text("INSERT INTO bench_commit (n) VALUES (:n)"), {"n": i})

        began = time.perf_counter()
        for i in range(n):
            await insert(i)
        sequential = n / (time.perf_counter() - began)
        numbers = iter(range(n * concurrency))

        async def worker() -> None:
            for i in numbers:
                await insert(i)

        began = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        return sequential, n * concurrency / (time.perf_counter() - began)
    finally:
        await engine.dispose()


async def connect_store(runtime: object) -> str:
    people = dbsupport.PeopleFactory(runtime, "bench-password-123")
    brand = await people.brand(brand_name="Bench brand")
    async with session_scope(runtime.session_maker) as session:  # type: ignore[attr-defined]
        actor, *_ = await load_actor(session, brand.user_id)
        connected = await StoreService(session, runtime.settings, runtime.clock.now()).connect(  # type: ignore
            actor, {"platform": "shopify", "name": "Bench", "shop_url": "bench.myshopify.com",
                    "access_token": "shpat_bench_token_0001", "webhook_secret": CLIENT_SECRET})
        store_id = str(connected.store.id)
    # The live server runs on its own event loop: no pooled connection may outlive this one.
    await runtime.alchemy.get_engine().dispose()  # type: ignore[attr-defined]
    return store_id


def run(database_url: str, count: int, concurrency: int) -> None:
    sequential, concurrent = asyncio.run(baseline(database_url, concurrency=concurrency))
    print(f"{'baseline: insert one row + commit':<38} {sequential:8.0f} /s sequential, {concurrent:.0f} /s "
          f"{concurrency} concurrent", flush=True)
    settings = Settings.from_env({
        "POSTPACT_ENV": "test", "SECRET_KEY": "bench-secret-key-long-enough-0123456789",
        "DATABASE_URL": database_url, "DATABASE_POOL_SIZE": str(max(concurrency, 5)),
        "POSTPACT_VAR_DIR": tempfile.mkdtemp(prefix="postpact-bench-"),
    })
    queue = RecordingQueue()
    runtime = build_runtime(settings, queue=queue)
    path = f"/webhooks/shopify/{asyncio.run(connect_store(runtime))}"
    server = start_live_server(runtime)
    # As a production web process does once started (its settings here are the test ones, which don't): without it
    # each full collection walks the whole start-up heap again and stalls every delivery in flight (p99).
    freeze_startup_heap()
    batch = [(order(n), str(uuid.uuid4())) for n in range(2 * count)]
    try:
        with ProcessPoolExecutor(max_workers=1, mp_context=multiprocessing.get_context("spawn")) as pool:
            for label, items, workers in (("new deliveries, one at a time", batch[:count], 1),
                                          (f"new deliveries, {concurrency} concurrent", batch[count:], concurrency),
                                          (f"duplicates, {concurrency} concurrent", batch[:count], concurrency)):
                latencies, wall = pool.submit(client_process, server.url, path, items, workers).result()
                report(label, latencies, wall)
    finally:
        server.stop()
    print(f"processing jobs queued: {len(queue.jobs)} (one per new delivery, none for duplicates)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--deliveries", type=int, default=1_000)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--sqlite", action="store_true")
    args = parser.parse_args()
    if args.sqlite:
        url = f"sqlite+aiosqlite:///{Path(tempfile.mkdtemp(prefix='postpact-bench-')) / 'bench.db'}"
        dbsupport.migrate(url)
        print(f"SQLite ({url})")
        run(url, args.deliveries, args.concurrency)
        return
    url = dbsupport.recreate_postgres_database(SERVER, DB_NAME)
    dbsupport.migrate(url)
    print(f"PostgreSQL ({DB_NAME})")
    try:
        run(url, args.deliveries, args.concurrency)
    finally:
        dbsupport.drop_postgres_database(SERVER, DB_NAME)


if __name__ == "__main__":
    main()
