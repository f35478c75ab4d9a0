"""How fast outgoing webhooks drain: N recorded events to one endpoint, sent by ``flush`` (claim in event order with
a conditional update each, decrypt the secret, sign, POST, log the attempt, mark delivered) against a baseline of the
same signed POSTs sent straight with httpx to the same local receiver, in the same run.

SQLite by default (a temp file); ``--postgres`` uses a throw-away database ``postpact_bench_outgoing`` on
BENCH_DATABASE_URL's server.

    .venv/bin/python bench/outgoing_webhooks.py [--events 500] [--postgres]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import httpx

from marketplace.accounts.auth import load_actor
from marketplace.db import session_scope
from marketplace.jobs import RecordingQueue
from marketplace.runtime import build_runtime
from marketplace.settings import Settings
from marketplace.webhooks.delivery import body_of, flush
from marketplace.webhooks.models import OutgoingEvent
from marketplace.webhooks.services import WebhookService, record_event
from marketplace.webhooks.signing import SIGNATURE_HEADER, signature_header
from tests.fakes.webhooks_receiver import WebhookReceiver
from tests.support import db as dbsupport

SERVER = os.environ.get("BENCH_DATABASE_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/postgres")
DB_NAME = "postpact_bench_outgoing"


async def run(url: str, events: int) -> None:
    settings = Settings.from_env({"POSTPACT_ENV": "test", "SECRET_KEY": "bench-secret-key-long-enough-0123456789",
                                  "DATABASE_URL": url, "PUBLIC_URL": "http://bench.local",
                                  "STORES_ALLOW_PRIVATE_HOSTS": "1",
                                  "POSTPACT_VAR_DIR": tempfile.mkdtemp(prefix="postpact-bench-")})
    runtime = build_runtime(settings, queue=RecordingQueue())
    receiver = WebhookReceiver(now=time.time).start()
    people = dbsupport.PeopleFactory(runtime, "bench-password-123")
    brand = await people.brand(brand_name="Bench")
    async with session_scope(runtime.session_maker) as session:
        loaded = await load_actor(session, brand.user_id)
        assert loaded is not None
        actor = loaded[0]
        service = WebhookService(session, settings, runtime.clock.now())
        registered = await service.create(actor, url=receiver.url, events=[])
    receiver.secret = registered.secret
    began = time.perf_counter()
    async with session_scope(runtime.session_maker) as session:
        for n in range(events):
            now = runtime.clock.now()
            await record_event(session, kind="deal.funded", source_key=f"bench:{n}", occurred_at=now, now=now,
                               brand_id=brand.brand_id, creator_id=None, data={"deal_id": str(n), "n": n})
    recorded = time.perf_counter() - began

    began = time.perf_counter()
    sent = await flush(runtime.job_context())
    flushed = time.perf_counter() - began
    assert sent == events and len(receiver.received) == events and all(r.signature_ok for r in receiver.received)

    # Baseline: the same bodies, signed, POSTed one at a time with one keep-alive client (no database).
    async with session_scope(runtime.session_maker) as session:
        rows = list((await session.execute(OutgoingEvent.__table__.select())).all())
    bodies = [body_of(OutgoingEvent(**dict(row._mapping))) for row in rows]
    async with httpx.AsyncClient(timeout=10) as client:
        began = time.perf_counter()
        for body in bodies:
            stamp = int(time.time())
            response = await client.post(receiver.url, content=body, headers={
                "Content-Type": "application/json",
                SIGNATURE_HEADER: signature_header(registered.secret, stamp, body)})
            assert response.status_code == 204
        baseline = time.perf_counter() - began
    receiver.stop()
    await runtime.alchemy.get_engine().dispose()

    print(f"database: {url.split(':', 1)[0]}; events: {events}")
    print(f"record {events} events (one transaction): {recorded * 1000:.0f} ms ({events / recorded:,.0f}/s)")
    print(f"flush (claim, sign, POST, log, mark):  {events / flushed:,.0f} deliveries/s "
          f"({flushed / events * 1000:.2f} ms each)")
    print(f"baseline (signed POST only):            {events / baseline:,.0f} POSTs/s "
          f"({baseline / events * 1000:.2f} ms each)")
    print(f"ratio flush / baseline throughput:      {baseline / flushed:.2f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=500)
    parser.add_argument("--postgres", action="store_true")
    args = parser.parse_args()
    if args.postgres:
        url = dbsupport.recreate_postgres_database(SERVER, DB_NAME)
        cleanup = lambda: dbsupport.drop_postgres_database(SERVER, DB_NAME)  # noqa: E731
    else:
        url = f"sqlite+aiosqlite:///{tempfile.mkdtemp(prefix='postpact-bench-')}/bench.db"
        cleanup = lambda: None  # noqa: E731
    try:
        dbsupport.migrate(url)
        asyncio.run(run(url, args.events))
    finally:
        cleanup()


if __name__ == "__main__":
    main()
