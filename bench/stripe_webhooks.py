"""How fast POST /webhooks/stripe acknowledges Stripe: signature check on the raw body, insert under the unique event
id, processing job queued, 200 — sequentially and with concurrent deliveries, new events and duplicates.

Runs the app under uvicorn on a local port (one worker, as ``postpact run``) and posts over HTTP with keep-alive. The
job queue only records (jobs are not run: this measures the acknowledgement Stripe waits for). PostgreSQL by default,
in a throw-away database ``postpact_bench_webhooks`` (BENCH_DATABASE_URL points at another server); ``--sqlite``
uses a temporary SQLite file instead.

    .venv/bin/python bench/stripe_webhooks.py [--events 1000] [--concurrency 16] [--sqlite]
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
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import httpx
import sqlalchemy as sa

from marketplace.app import freeze_startup_heap
from marketplace.jobs import RecordingQueue
from marketplace.runtime import build_runtime
from marketplace.settings import Settings
from tests.fakes.stripe_server import sign_payload
from tests.support import db as dbsupport
from tests.support.live import start_live_server

SERVER = os.environ.get("BENCH_DATABASE_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/postgres")
SECRET = "whsec_bench_webhooks"


def event(n: int) -> bytes:
    """A payment_intent.succeeded of the size Stripe sends (~3 kB)."""
    intent = {"id": f"pi_bench{n:08d}", "object": "payment_intent", "amount": 16_200, "currency": "usd",
              "status": "succeeded", "transfer_group": f"collab:{n}", "latest_charge": f"ch_bench{n:08d}",
              "metadata": {"collaboration_id": str(n), "escrow_id": str(n), "call_key": f"collab:{n}:fund:1"},
              "payment_method_types": ["card"], "description": "PostPact escrow: bench " + "x" * 2_000}
    return json.dumps({"id": f"evt_bench{n:08d}", "object": "event", "api_version": "2025-01-01",
                       "created": int(time.time()), "livemode": False, "type": "payment_intent.succeeded",
                       "data": {"object": intent}}, indent=2).encode()


async def deliver(client: httpx.AsyncClient, body: bytes) -> float:
    headers = {"Stripe-Signature": sign_payload(body, SECRET, int(time.time())),
               "Content-Type": "application/json; charset=utf-8"}
    began = time.perf_counter()
    response = await client.post("/webhooks/stripe", content=body, headers=headers)
    elapsed = time.perf_counter() - began
    if response.status_code != 200:
        raise RuntimeError(f"{response.status_code}: {response.text[:200]}")
    return elapsed


async def deliveries(url: str, bodies: list[bytes], concurrency: int) -> tuple[list[float], float]:
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(base_url=url, limits=limits, timeout=30) as client:
        await deliver(client, event(10**7 + concurrency))  # open the connection(s) first
        pending = iter(bodies)
        latencies: list[float] = []

        async def worker() -> None:
            for body in pending:
                latencies.append(await deliver(client, body))

        began = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        return latencies, time.perf_counter() - began


def client_process(url: str, bodies: list[bytes], concurrency: int) -> tuple[list[float], float]:
    """The sender runs in its own process, so it doesn't compete with the server for the GIL."""
    return asyncio.run(deliveries(url, bodies, concurrency))


def report(label: str, latencies: list[float], wall: float) -> None:
    ms = sorted(x * 1000 for x in latencies)
    p99 = ms[min(len(ms) - 1, int(len(ms) * 0.99))]
    print(f"{label:<34} {len(ms) / wall:8.0f} events/s   p50 {statistics.median(ms):6.2f} ms   "
          f"p99 {p99:6.2f} ms   ({len(ms)} deliveries)", flush=True)


async def baseline(database_url: str, n: int = 300) -> float:
    """Milliseconds per single-row insert + commit on this database, the floor under every stored event."""
    from sqlalchemy.ext.asyncio import create_async_engine

    engine = create_async_engine(database_url)
    try:
        async with engine.begin() as conn:
            await conn.execute(sa.text("CREATE TABLE IF NOT EXISTS bench_commit (n integer)"))
        began = time.perf_counter()
        for i in range(n):
            async with engine.begin() as conn:
                await conn.execute(sa.text("INSERT INTO bench_commit (n) VALUES (:n)"), {"n": i})
        return (time.perf_counter() - began) / n * 1000
    finally:
        await engine.dispose()


def run(database_url: str, events: int, concurrency: int) -> None:
    print(f"{'baseline: insert one row + commit':<34} {asyncio.run(baseline(database_url)):8.2f} ms", flush=True)
    settings = Settings.from_env({
        "POSTPACT_ENV": "test", "SECRET_KEY": "bench-secret-key-long-enough-0123456789",
        "DATABASE_URL": database_url, "DATABASE_POOL_SIZE": str(max(concurrency, 5)),
        "POSTPACT_VAR_DIR": tempfile.mkdtemp(prefix="postpact-bench-"),
        "STRIPE_SECRET_KEY": "sk_test_bench", "STRIPE_WEBHOOK_SECRET": SECRET,
    })
    queue = RecordingQueue()
    server = start_live_server(build_runtime(settings, queue=queue))
    # As a production web process does once started (its settings here are the test ones, which don't): without it
    # each full collection walks the whole start-up heap again and stalls every delivery in flight (p99).
    freeze_startup_heap()
    bodies = [event(n) for n in range(2 * events)]
    try:
        with ProcessPoolExecutor(max_workers=1, mp_context=multiprocessing.get_context("spawn")) as pool:
            for label, batch, workers in (("new events, one at a time", bodies[:events], 1),
                                          (f"new events, {concurrency} concurrent", bodies[events:], concurrency),
                                          (f"duplicates, {concurrency} concurrent", bodies[:events], concurrency)):
                latencies, wall = pool.submit(client_process, server.url, batch, workers).result()
                report(label, latencies, wall)
    finally:
        server.stop()
    print(f"processing jobs queued: {len(queue.jobs)}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--events", type=int, default=1_000)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--sqlite", action="store_true")
    args = parser.parse_args()
    if args.sqlite:
        url = f"sqlite+aiosqlite:///{Path(tempfile.mkdtemp(prefix='postpact-bench-')) / 'bench.db'}"
        dbsupport.migrate(url)
        print(f"SQLite ({url})")
        run(url, args.events, args.concurrency)
        return
    url = dbsupport.recreate_postgres_database(SERVER, "postpact_bench_webhooks")
    dbsupport.migrate(url)
    print("PostgreSQL (postpact_bench_webhooks)")
    try:
        run(url, args.events, args.concurrency)
    finally:
        dbsupport.drop_postgres_database(SERVER, "postpact_bench_webhooks")


if __name__ == "__main__":
    main()
