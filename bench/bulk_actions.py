"""A bulk action on N deals (default 1,500) run as a job, against one set-based UPDATE of the same rows, same run.

``--action approve_draft`` (default): the job's set-based step (``marketplace.bulk.batch``: 500 deals a
transaction, locked in one statement, checked against the table, one UPDATE, one multi-row INSERT of events, the
drafts' review in one UPDATE, the creators' notifications and emails written together), the items marked done in
that transaction. ``--one-by-one``: the per-item path instead (one transaction per deal through
``DealService.approve_draft``), for comparison. ``--action approve_post``: the same through the approve-post step,
whose escrow release (through the gateway, one idempotency key per deal) queues one transfer per deal; those
provider calls (simulated provider) are then run and timed separately.
The set-based UPDATE changes the same rows in one statement: the floor a job with per-item guarantees is compared
with. Deals are prepared beforehand (not timed); the prepared heap is then frozen (``gc.freeze()``) so the
collector's passes over the preparation's objects are not charged to the job, as a worker's start-up objects
aren't. Needs PostgreSQL: BENCH_DATABASE_URL or postgresql://postgres@127.0.0.1/ in a throw-away database
``postpact_bench_bulk``. Prints the statements the job sent, by kind, with the milliseconds it waited for each kind.

    .venv/bin/python bench/bulk_actions.py [--deals 1500] [--action approve_draft|approve_post] [--one-by-one]
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import gc
import os
import sys
import time
import uuid
from collections import Counter
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import sqlalchemy as sa

from bench.escrow_release import _TABLE, StatementCounter
from marketplace.accounts.auth import load_actor
from marketplace.bulk.actions import ACTIONS
from marketplace.bulk.models import BulkJob
from marketplace.bulk.services import BulkService, Selection, run_job
from marketplace.clock import SystemClock
from marketplace.collaborations.states import CollabState
from marketplace.db import session_scope
from marketplace.jobs import REGISTRY, RecordingQueue
from marketplace.payments import services as payments
from marketplace.payments.bridge import EXECUTE_JOB
from marketplace.runtime import build_runtime
from marketplace.settings import Settings
from tests.support import db as dbsupport

SERVER = os.environ.get("BENCH_DATABASE_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/postgres")
NAME = "postpact_bench_bulk"


async def prepare(runtime: Any, deals: int) -> tuple[Any, list[uuid.UUID]]:
    """Deals with a draft waiting for review: made as offers with the factory, then moved on set-based (untimed)."""
    from argon2 import PasswordHasher, Type

    from marketplace.security import Passwords
    from tests.support.deals import make_deal

    runtime.passwords = Passwords(PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1, type=Type.ID))
    people = dbsupport.PeopleFactory(runtime, "bench-password-123")
    brand = await people.brand()
    creators = [await people.creator() for _ in range(20)]
    ids = []
    for n in range(deals):
        deal = await make_deal(runtime, CollabState.OFFERED, brand=brand, creator=creators[n % len(creators)],
                               product_included=False, with_address=False)
        ids.append(deal.id)
    async with session_scope(runtime.session_maker) as session:
        await session.execute(sa.text(
            "UPDATE collaboration SET status = 'draft_submitted', signed_at = now(), funded_at = now(), "
            "draft_submitted_at = now(), state_changed_at = now() WHERE id = ANY(:ids)"), {"ids": ids})
        await session.execute(sa.text(
            "INSERT INTO content_draft (id, collaboration_id, round, caption, media_url, review, created_at, "
            "updated_at) SELECT gen_random_uuid(), id, 1, 'Morning glow with @glowlab #ad #glowlab', "
            "'https://drive.example.com/d.mp4', "
            "'pending', now(), now() FROM collaboration WHERE id = ANY(:ids)"), {"ids": ids})
    async with runtime.session_maker() as session:
        loaded = await load_actor(session, brand.user_id)
        assert loaded is not None
    return loaded[0], ids


async def prepare_posts(runtime: Any, deals: int) -> tuple[Any, list[uuid.UUID]]:
    """Verified posts of funded deals (creators onboarded): offers from the factory, signed set-based, funded through
    a bulk fund job and the simulated checkout, then moved to ``verified`` set-based (all untimed)."""
    from argon2 import PasswordHasher, Type

    from marketplace.security import Passwords
    from tests.support.deals import make_deal
    from tests.support.escrow import onboard_creator, simulated

    runtime.passwords = Passwords(PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1, type=Type.ID))
    people = dbsupport.PeopleFactory(runtime, "bench-password-123")
    brand = await people.brand()
    creators = [await people.creator() for _ in range(20)]
    for creator in creators:
        await onboard_creator(runtime, creator)
    ids = [(await make_deal(runtime, CollabState.OFFERED, brand=brand, creator=creators[n % len(creators)],
                            product_included=False, with_address=False)).id for n in range(deals)]
    async with session_scope(runtime.session_maker) as session:
        await session.execute(sa.text("UPDATE collaboration SET status = 'signed', signed_at = now() "
                                      "WHERE id = ANY(:ids)"), {"ids": ids})
    async with runtime.session_maker() as session:
        loaded = await load_actor(session, brand.user_id)
        assert loaded is not None
    actor = loaded[0]
    for start in range(0, deals, 500):
        await bulk_job(runtime, actor, ids[start:start + 500], "fund")
    await provider_calls(runtime)
    provider = simulated(runtime)
    for start in range(0, deals, 100):
        async with session_scope(runtime.session_maker) as session:
            refs = list(await session.scalars(sa.text(
                "SELECT funding_ref FROM escrow_hold WHERE collaboration_id = ANY(:ids)"),
                {"ids": ids[start:start + 100]}))
            service = payments.escrow_service(session, runtime.clock.now(), settings=runtime.settings)
            for ref in refs:
                await service.apply_funding(await provider.settle_funding(session, ref, succeed=True))
    runtime.queue.jobs.clear()
    async with session_scope(runtime.session_maker) as session:
        await session.execute(sa.text("UPDATE collaboration SET status = 'verified', posted_at = now(), "
                                      "verified_at = now() WHERE id = ANY(:ids)"), {"ids": ids})
    return actor, ids


async def provider_calls(runtime: Any) -> int:
    """Run the provider calls the job queued (what the worker does next), one after another; returns how many."""
    queue: RecordingQueue = runtime.queue
    calls = [job for job in queue.jobs if job.name == EXECUTE_JOB]
    queue.jobs.clear()
    context = runtime.job_context()
    for pending in calls:
        await REGISTRY[EXECUTE_JOB].function(context, *pending.args)
    return len(calls)


#: This process's CPU seconds in the last bulk job (steadier than wall time while the machine is shared).
JOB_CPU: list[float] = []


class StatementTimer(StatementCounter):
    """``StatementCounter`` plus the wall milliseconds each kind of statement took (sent until its result came back:
    the database's work and the round trip, as the job waited for them)."""

    def __init__(self, engine: Any) -> None:
        super().__init__(engine)
        self.ms: Counter[str] = Counter()
        self._started: list[tuple[str, float]] = []

    def _count(self, _conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        super()._count(_conn, _cursor, statement, *_args)
        verb = statement.lstrip().split(None, 1)[0].upper()
        table = _TABLE.search(statement)
        self._started.append((f"{verb} {table.group(1) if table else ''}".strip(), time.perf_counter()))

    def _done(self, *_args: Any) -> None:
        if self._started:
            kind, started = self._started.pop()
            self.ms[kind] += (time.perf_counter() - started) * 1000

    def __enter__(self) -> StatementTimer:
        super().__enter__()
        sa.event.listen(self.engine, "after_cursor_execute", self._done)
        return self

    def __exit__(self, *_exc: object) -> None:
        super().__exit__()
        sa.event.remove(self.engine, "after_cursor_execute", self._done)


async def bulk_job(runtime: Any, actor: Any, ids: list[uuid.UUID], action: str) -> tuple[float, float, BulkJob]:
    cpu_started = time.process_time()
    started = time.perf_counter()
    async with session_scope(runtime.session_maker) as session:
        job = await BulkService(session, SystemClock()).start(actor, action, {}, Selection(ids=ids))
    created = time.perf_counter()
    await run_job(runtime.job_context(), str(job.id))
    finished = time.perf_counter()
    JOB_CPU[:] = [time.process_time() - cpu_started]
    async with runtime.session_maker() as session:
        row = await session.get(BulkJob, job.id)
        assert row is not None
    return created - started, finished - started, row


async def set_based(runtime: Any, ids: list[uuid.UUID]) -> float:
    started = time.perf_counter()
    async with session_scope(runtime.session_maker) as session:
        await session.execute(sa.text(
            "UPDATE collaboration SET draft_approved_at = now(), state_changed_at = now(), updated_at = now() "
            "WHERE id = ANY(:ids)"), {"ids": ids})
    return time.perf_counter() - started


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--deals", type=int, default=1500, help="deals the bulk action takes")
    parser.add_argument("--action", choices=["approve_draft", "approve_post"], default="approve_draft")
    parser.add_argument("--one-by-one", action="store_true", help="the per-item path, not the set-based step")
    args = parser.parse_args()
    if args.one_by_one:
        ACTIONS[args.action] = dataclasses.replace(ACTIONS[args.action], apply_batch=None)
    url = dbsupport.recreate_postgres_database(SERVER, NAME)
    dbsupport.migrate(url)
    settings = Settings.from_env({"POSTPACT_ENV": "test", "SECRET_KEY": "b" * 40, "DATABASE_URL": url,
                                  "DATABASE_POOL_SIZE": "4"})
    runtime = build_runtime(settings, queue=RecordingQueue())
    try:
        print(f"preparing {args.deals} deals for {args.action} (not timed)...", flush=True)
        prepared = prepare_posts if args.action == "approve_post" else prepare
        actor, ids = await prepared(runtime, args.deals)
        gc.collect()
        gc.freeze()
        with StatementTimer(runtime.alchemy.get_engine()) as counter:
            create_s, job_s, job = await bulk_job(runtime, actor, ids, args.action)
        calls_started = time.perf_counter()
        calls = await provider_calls(runtime) if args.action == "approve_post" else 0
        calls_s = time.perf_counter() - calls_started
        update_s = await set_based(runtime, ids)
    finally:
        await runtime.alchemy.get_engine().dispose()
        dbsupport.drop_postgres_database(SERVER, NAME)
    n = args.deals
    assert (job.done, job.failed) == (n, 0), (job.done, job.failed)
    print(f"bulk {args.action} job, {n} deals: {job_s * 1000:9.0f} ms  ({n / job_s:7.1f} deals/s; "
          f"creating the job and its items: {create_s * 1000:.0f} ms; this process's CPU: "
          f"{JOB_CPU[0] * 1000:.0f} ms)")
    if calls:
        print(f"then {calls} provider calls (simulated transfers), one by one: {calls_s * 1000:.0f} ms")
    print(f"one set-based UPDATE of the same rows: {update_s * 1000:6.0f} ms")
    print(f"ratio job / UPDATE: {job_s / update_s:.1f}x (running the items only, without creating the job: "
          f"{(job_s - create_s) / update_s:.1f}x)")
    if calls:
        # The floor for a release is the UPDATE plus the provider calls themselves (made one by one either way).
        print(f"ratio (job + provider calls) / (UPDATE + provider calls): "
              f"{(job_s + calls_s) / (update_s + calls_s):.1f}x")
    print("load average (1, 5, 15 min): {:.2f} {:.2f} {:.2f}".format(*os.getloadavg()))
    print(f"statements per deal in the job: {counter.total / n:.1f}")
    print(f"statements: {counter.total}, {sum(counter.ms.values()):.0f} ms waiting for them; by kind (count, ms):")
    for kind, ms in counter.ms.most_common(14):
        print(f"  {counter.by_kind[kind]:5d} {ms:7.1f} ms  {kind}")


if __name__ == "__main__":
    asyncio.run(main())
