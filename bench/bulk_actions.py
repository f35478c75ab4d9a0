"""A bulk action on N deals (default 1,500) run as a job, against one set-based UPDATE of the same rows, same run.

``--action approve_draft`` (default): the job's set-based step (``marketplace.bulk.batch``: 500 deals a
transaction, locked in one statement, checked against the table, one UPDATE, one multi-row INSERT of events, the
drafts' review in one UPDATE, the creators' notifications and emails written together), the items marked done in
that transaction. ``--one-by-one``: the per-item path instead (one transaction per deal through
``DealService.approve_draft``), for comparison. ``--action ship``: recording shipments (a tracking CSV's rows:
carrier and tracking number per deal) through the set-based ship step. ``--action approve_post``: the same
through the approve-post step, whose escrow release (through the gateway, one idempotency key per deal) queues
one transfer per deal; those provider calls (simulated provider) are then run and timed separately.
``--action extend``: the brand offers 3 more days on each deal's next deadline (drafts under review, as for
approve_draft): extension requests and the creators' notices, no move.
The set-based UPDATE changes the same rows in one statement: the floor a job with per-item guarantees is compared
with. Deals are prepared beforehand (not timed); the prepared heap is then frozen (``gc.freeze()``) so the
collector's passes over the preparation's objects are not charged to the job, as a worker's start-up objects
aren't. Besides the goal's reference (one set-based UPDATE of the same rows) the bench writes, for approve_draft,
every row the action must write to every table set-based in one transaction (the second reference), each several
times after the job (the median counts), and prints the CPU each used besides its wall time: this process's and the
database's (read from /proc for the database's server processes, on this machine), steadier than wall time while
the machine is shared. ``--phases`` times the job's steps (with batches at once their times overlap).
``--batches-at-once N`` overrides the action's (``--batches-at-once 1``: one batch after another).
Needs PostgreSQL: BENCH_DATABASE_URL or postgresql://postgres@127.0.0.1/ in a throw-away database
``postpact_bench_bulk``. Prints the statements the job sent, by kind, with the milliseconds it waited for each kind.

    .venv/bin/python bench/bulk_actions.py [--deals 1500] [--action approve_draft|approve_post|ship|extend]
                                           [--one-by-one]
                                           [--repeat 3] [--batches-at-once N] [--phases] [--profile N]
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import dataclasses
import gc
import os
import pstats
import sys
import time
import uuid
from collections import Counter
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import sqlalchemy as sa

from bench.escrow_release import StatementCounter
from bench.procstat import cpu_ticks
from marketplace.accounts.auth import load_actor
from marketplace.bulk.actions import ACTIONS
from marketplace.bulk.models import BulkJob
from marketplace.bulk.services import SET_BATCH, BulkService, NewItem, Selection, run_job
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


async def prepare(runtime: Any, deals: int, *, ship: bool = False) -> tuple[Any, list[uuid.UUID]]:
    """Deals with a draft waiting for review (``ship``: funded, the product to ship): made as offers with the
    factory, then moved on set-based (untimed)."""
    from argon2 import PasswordHasher, Type

    from marketplace.security import Passwords
    from tests.support.deals import make_deal

    runtime.passwords = Passwords(PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1, type=Type.ID))
    people = dbsupport.PeopleFactory(runtime, "bench-password-123")
    brand = await people.brand()
    creators = [await people.creator() for _ in range(20)]
    ids = []
    for n in range(deals):
        deal = await make_deal(
            runtime,
            CollabState.OFFERED,
            brand=brand,
            creator=creators[n % len(creators)],
            product_included=ship,
            with_address=ship,
        )
        ids.append(deal.id)
    if ship:
        async with session_scope(runtime.session_maker) as session:
            await session.execute(
                sa.text(
                    "UPDATE collaboration SET status = 'funded', signed_at = now(), funded_at = now(), "
                    "state_changed_at = now() WHERE id = ANY(:ids)"
                ),
                {"ids": ids},
            )
        return await _brand_actor(runtime, brand), ids
    async with session_scope(runtime.session_maker) as session:
        await session.execute(
            sa.text(
                "UPDATE collaboration SET status = 'draft_submitted', signed_at = now(), funded_at = now(), "
                "draft_submitted_at = now(), state_changed_at = now() WHERE id = ANY(:ids)"
            ),
            {"ids": ids},
        )
        await session.execute(
            sa.text(
                "INSERT INTO content_draft (id, collaboration_id, round, caption, media_url, review, created_at, "
                "updated_at) SELECT gen_random_uuid(), id, 1, 'Morning glow with @glowlab #ad #glowlab', "
                "'https://drive.example.com/d.mp4', "
                "'pending', now(), now() FROM collaboration WHERE id = ANY(:ids)"
            ),
            {"ids": ids},
        )
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
    ids = [
        (
            await make_deal(
                runtime,
                CollabState.OFFERED,
                brand=brand,
                creator=creators[n % len(creators)],
                product_included=False,
                with_address=False,
            )
        ).id
        for n in range(deals)
    ]
    async with session_scope(runtime.session_maker) as session:
        await session.execute(
            sa.text("UPDATE collaboration SET status = 'signed', signed_at = now() WHERE id = ANY(:ids)"), {"ids": ids}
        )
    async with runtime.session_maker() as session:
        loaded = await load_actor(session, brand.user_id)
        assert loaded is not None
    actor = loaded[0]
    for start in range(0, deals, 500):
        await bulk_job(runtime, actor, ids[start : start + 500], "fund")
    await provider_calls(runtime)
    provider = simulated(runtime)
    for start in range(0, deals, 100):
        async with session_scope(runtime.session_maker) as session:
            refs = list(
                await session.scalars(
                    sa.text("SELECT funding_ref FROM escrow_hold WHERE collaboration_id = ANY(:ids)"),
                    {"ids": ids[start : start + 100]},
                )
            )
            service = payments.escrow_service(session, runtime.clock.now(), settings=runtime.settings)
            for ref in refs:
                await service.apply_funding(await provider.settle_funding(session, ref, succeed=True))
    runtime.queue.jobs.clear()
    async with session_scope(runtime.session_maker) as session:
        await session.execute(
            sa.text(
                "UPDATE collaboration SET status = 'verified', posted_at = now(), "
                "verified_at = now() WHERE id = ANY(:ids)"
            ),
            {"ids": ids},
        )
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
    """``StatementCounter`` (statements by kind, and the time each kind waited: sent until its result came back, the
    database's work and the round trip), in milliseconds."""

    @property
    def ms(self) -> Counter[str]:
        return Counter({kind: seconds * 1000 for kind, seconds in self.seconds.items()})


async def _brand_actor(runtime: Any, brand: Any) -> Any:
    async with runtime.session_maker() as session:
        loaded = await load_actor(session, brand.user_id)
        assert loaded is not None
    return loaded[0]


async def bulk_job(runtime: Any, actor: Any, ids: list[uuid.UUID], action: str) -> tuple[float, float, BulkJob]:
    cpu_started = time.process_time()
    started = time.perf_counter()
    # Shipments come as a tracking CSV's rows: each item carries its carrier and tracking number.
    items = (
        [
            NewItem(deal_id, f"row {n}", {"carrier": "UPS", "tracking_number": f"1Z{n:012d}"})
            for n, deal_id in enumerate(ids)
        ]
        if action == "ship"
        else None
    )
    async with session_scope(runtime.session_maker) as session:
        parameters = {"days": "3"} if action == "extend" else {}
        job = await BulkService(session, SystemClock()).start(actor, action, parameters, Selection(ids=ids),
                                                              items=items)
    created = time.perf_counter()
    await run_job(runtime.job_context(), str(job.id))
    finished = time.perf_counter()
    JOB_CPU[:] = [time.process_time() - cpu_started]
    async with runtime.session_maker() as session:
        row = await session.get(BulkJob, job.id)
        assert row is not None
    return created - started, finished - started, row


async def set_based(runtime: Any, ids: list[uuid.UUID]) -> float:
    """The goal's reference: one set-based UPDATE of the same rows."""
    started = time.perf_counter()
    async with session_scope(runtime.session_maker) as session:
        await session.execute(
            sa.text(
                "UPDATE collaboration SET draft_approved_at = now(), state_changed_at = now(), updated_at = now() "
                "WHERE id = ANY(:ids)"
            ),
            {"ids": ids},
        )
    return time.perf_counter() - started


#: The second reference for approve_draft: every row the action must write, to every table, written set-based in
#: one transaction (values made by the database, no per-row work anywhere): the deals, an event each, the drafts'
#: review, the deadline watches, the creators' notifications and emails, the job's items.
_EVERY_TABLE = [
    "UPDATE collaboration SET status = status, draft_approved_at = now(), state_changed_at = now(), "
    "next_due_stage = next_due_stage, next_due_party = next_due_party, next_due_at = next_due_at, "
    "event_count = event_count, updated_at = now() WHERE id = ANY(:ids)",
    "INSERT INTO collaboration_event (id, collaboration_id, seq, action, from_state, to_state, actor_party, "
    "actor_user_id, payload, created_at) SELECT gen_random_uuid(), id, event_count + :rep, 'approve_draft', "
    "'draft_submitted', 'draft_approved', 'brand', NULL, CAST('{\"comment\": \"\"}' AS JSON), now() "
    "FROM collaboration WHERE id = ANY(:ids)",
    "UPDATE content_draft SET review = 'approved', reviewed_at = now(), updated_at = now() "
    "WHERE collaboration_id = ANY(:ids)",
    "INSERT INTO deadline_watch (id, collaboration_id, check_at) SELECT gen_random_uuid(), id, now() "
    "FROM collaboration WHERE id = ANY(:ids) ON CONFLICT (collaboration_id) DO UPDATE SET check_at = excluded.check_at",
    "INSERT INTO notification (id, user_id, kind, title, body, link, created_at, updated_at) "
    "SELECT gen_random_uuid(), cr.user_id, 'deal.draft_approved', 'The brand approved your draft', "
    "'Publish it and submit the live post''s link.', '/collaborations/' || c.id, now(), now() "
    "FROM collaboration c JOIN creator cr ON cr.id = c.creator_id WHERE c.id = ANY(:ids)",
    "INSERT INTO outbox_email (id, to_address, subject, body_text, template, context, user_id, category, status, "
    "attempts, created_at, updated_at) SELECT gen_random_uuid(), u.email, '', '', 'notification', "
    "json_build_object('title', 'The brand approved your draft', 'link', '/collaborations/' || c.id), u.id, "
    "'deal.draft_approved', 'queued', 0, now(), now() "
    "FROM collaboration c JOIN creator cr ON cr.id = c.creator_id JOIN user_account u ON u.id = cr.user_id "
    "WHERE c.id = ANY(:ids)",
    "UPDATE bulk_job_item SET state = 'done', attempts = attempts + 1, finished_at = now(), updated_at = now() "
    "WHERE job_id = :job",
]


#: Each table's part of the second reference, per run (wall seconds, in ``_EVERY_TABLE``'s order; the commit last).
TABLE_PARTS: dict[str, list[float]] = {}


def _table_of(statement: str) -> str:
    words = statement.split()
    return f"{words[0]} {words[2] if words[0] == 'INSERT' else words[1]}"


async def every_table(runtime: Any, ids: list[uuid.UUID], job_id: uuid.UUID, rep: int) -> float:
    started = time.perf_counter()
    async with session_scope(runtime.session_maker) as session:
        for statement in _EVERY_TABLE:
            part_started = time.perf_counter()
            await session.execute(
                sa.text(statement).bindparams(
                    *(
                        sa.bindparam(name, value)
                        for name, value in (("ids", ids), ("rep", 1000 * rep), ("job", job_id))
                        if f":{name}" in statement
                    )
                )
            )
            TABLE_PARTS.setdefault(_table_of(statement), []).append(time.perf_counter() - part_started)
        commit_started = time.perf_counter()
    TABLE_PARTS.setdefault("COMMIT", []).append(time.perf_counter() - commit_started)
    return time.perf_counter() - started


async def server_cpu(runtime: Any) -> dict[int, int]:
    """CPU clock ticks (user + system) each server process of the bench's database has used so far (the database
    runs on this machine): the database's own work, which wall time under a shared machine's load can't show."""
    async with runtime.session_maker() as session:
        pids = list(
            await session.scalars(sa.text("SELECT pid FROM pg_stat_activity WHERE datname = current_database()"))
        )
    return cpu_ticks(pids)


def cpu_ms(before: dict[int, int], after: dict[int, int]) -> float:
    return sum(ticks - before.get(pid, 0) for pid, ticks in after.items()) * 1000 / os.sysconf("SC_CLK_TCK")


async def measured(runtime: Any, call: Any) -> tuple[float, float]:
    """(wall seconds, this process's CPU ms + the database's CPU ms) of one call."""
    before, cpu_started = await server_cpu(runtime), time.process_time()
    wall = await call()
    cpu = (time.process_time() - cpu_started) * 1000
    return wall, cpu + cpu_ms(before, await server_cpu(runtime))


def median(values: list[float]) -> float:
    return sorted(values)[len(values) // 2]


#: ``--phases``: the job's steps timed (wall and this process's CPU), to see where its time goes.
PHASES = [
    ("marketplace.bulk.services", "BulkService.start", "creating the job and its items"),
    ("marketplace.bulk.services", "process_batch", "running the batches (everything below, and the rest)"),
    ("marketplace.collaborations.transition", "lock_collaborations", "  locking the deals"),
    ("marketplace.collaborations.transition", "_transition_many", "  transition_many (moves, events, listeners)"),
    ("marketplace.collaborations.transition", "_write_batch", "    the deals' UPDATE and deadline watches"),
    ("marketplace.collaborations.transition", "tell_listeners", "    the listeners"),
    ("marketplace.notifications.services", "notify_many", "      notifications and emails"),
    ("marketplace.bulk.services", "_finish_items", "  marking the items done"),
]
PHASE_TIMES: dict[str, list[float]] = {}


def time_phases() -> None:
    import functools
    import importlib

    for module_name, path, label in PHASES:
        owner: Any = importlib.import_module(module_name)
        *outer, name = path.split(".")
        for part in outer:
            owner = getattr(owner, part)
        original = getattr(owner, name)

        @functools.wraps(original)
        async def timed(*args: Any, _original: Any = original, _label: str = label, **kwargs: Any) -> Any:
            wall, cpu = time.perf_counter(), time.process_time()
            try:
                return await _original(*args, **kwargs)
            finally:
                totals = PHASE_TIMES.setdefault(_label, [0.0, 0.0])
                totals[0] += time.perf_counter() - wall
                totals[1] += time.process_time() - cpu

        setattr(owner, name, timed)
        for module in list(sys.modules.values()):  # those that imported the function by name
            if (
                module is not None
                and module.__name__.startswith("marketplace.")
                and getattr(module, name, None) is original
            ):
                setattr(module, name, timed)


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--deals", type=int, default=1500, help="deals the bulk action takes")
    parser.add_argument("--action", choices=["approve_draft", "approve_post", "ship", "extend"],
                        default="approve_draft")
    parser.add_argument("--one-by-one", action="store_true", help="the per-item path, not the set-based step")
    parser.add_argument("--repeat", type=int, default=3, help="runs of each reference (the median is used)")
    parser.add_argument(
        "--batches-at-once",
        type=int,
        default=0,
        metavar="N",
        help="set-based batches run at once (default: the action's own batches_at_once)",
    )
    parser.add_argument("--phases", action="store_true", help="also print the job's steps, timed")
    parser.add_argument(
        "--profile",
        type=int,
        default=0,
        metavar="N",
        help="also print the job's N costliest functions (cProfile on CPU time, by own time and cumulative)",
    )
    args = parser.parse_args()
    if args.one_by_one:
        ACTIONS[args.action] = dataclasses.replace(ACTIONS[args.action], apply_batch=None)
    if args.batches_at_once:
        ACTIONS[args.action] = dataclasses.replace(ACTIONS[args.action], batches_at_once=args.batches_at_once)
    if args.phases:
        time_phases()
    url = dbsupport.recreate_postgres_database(SERVER, NAME)
    dbsupport.migrate(url)
    settings = Settings.from_env(
        {"POSTPACT_ENV": "test", "SECRET_KEY": "b" * 40, "DATABASE_URL": url, "DATABASE_POOL_SIZE": "4"}
    )
    runtime = build_runtime(settings, queue=RecordingQueue())
    updates: list[tuple[float, float]] = []
    writes: list[tuple[float, float]] = []
    try:
        print(f"preparing {args.deals} deals for {args.action} (not timed)...", flush=True)
        if args.action == "approve_post":
            actor, ids = await prepare_posts(runtime, args.deals)
        else:
            actor, ids = await prepare(runtime, args.deals, ship=args.action == "ship")
        gc.collect()
        gc.freeze()
        profiler = cProfile.Profile(time.process_time) if args.profile else None  # CPU, not waits
        server_before = await server_cpu(runtime)
        with StatementTimer(runtime.alchemy.get_engine()) as counter:
            if profiler is not None:
                profiler.enable()
            create_s, job_s, job = await bulk_job(runtime, actor, ids, args.action)
            if profiler is not None:
                profiler.disable()
        job_server_ms = cpu_ms(server_before, await server_cpu(runtime))
        calls_started = time.perf_counter()
        calls = await provider_calls(runtime) if args.action == "approve_post" else 0
        calls_s = time.perf_counter() - calls_started
        # The references after the job, alternating, several times (the median counts): the machine's load moves.
        for rep in range(1, args.repeat + 1):
            updates.append(await measured(runtime, lambda: set_based(runtime, ids)))
            if args.action == "approve_draft":
                writes.append(await measured(runtime, lambda rep=rep: every_table(runtime, ids, job.id, rep)))
    finally:
        await runtime.alchemy.get_engine().dispose()
        dbsupport.drop_postgres_database(SERVER, NAME)
    n = args.deals
    assert (job.done, job.failed) == (n, 0), (job.done, job.failed)
    job_cpu = JOB_CPU[0] * 1000 + job_server_ms
    update_s, update_cpu = median([w for w, _ in updates]), median([c for _, c in updates])
    print(f"batches of {SET_BATCH}, {ACTIONS[args.action].batches_at_once} at once")
    print(
        f"bulk {args.action} job, {n} deals: {job_s * 1000:9.0f} ms  ({n / job_s:7.1f} deals/s; "
        f"creating the job and its items: {create_s * 1000:.0f} ms); CPU: {job_cpu:.0f} ms "
        f"(this process {JOB_CPU[0] * 1000:.0f}, the database {job_server_ms:.0f})"
    )
    if calls:
        print(f"then {calls} provider calls (simulated transfers), one by one: {calls_s * 1000:.0f} ms")
    print(
        f"one set-based UPDATE of the same rows (median of {len(updates)}): {update_s * 1000:6.0f} ms; "
        f"CPU {update_cpu:.0f} ms"
    )
    print(
        f"ratio job / UPDATE (the goal's reference, goal <= 2x): {job_s / update_s:.1f}x wall, "
        f"{job_cpu / max(update_cpu, 1):.1f}x CPU (running the items only, without creating the job: "
        f"{(job_s - create_s) / update_s:.1f}x wall)"
    )
    if calls:
        # The floor for a release is the UPDATE plus the provider calls themselves (made one by one either way).
        print(
            f"ratio (job + provider calls) / (UPDATE + provider calls): {(job_s + calls_s) / (update_s + calls_s):.1f}x"
        )
    else:
        print("ratio (job + provider calls) / (UPDATE + provider calls): the same (this action calls no provider)")
    if writes:
        write_s, write_cpu = median([w for w, _ in writes]), median([c for _, c in writes])
        print(
            f"every row the action writes, to every table, set-based in one transaction (median of {len(writes)}): "
            f"{write_s * 1000:.0f} ms; CPU {write_cpu:.0f} ms (that is {write_s / update_s:.1f}x the UPDATE)"
        )
        print(f"ratio job / that write: {job_s / write_s:.1f}x wall, {job_cpu / max(write_cpu, 1):.1f}x CPU")
        print("  its parts (median wall ms, share of the UPDATE's): "
              + ", ".join(f"{part} {median(times) * 1000:.0f} ({median(times) / update_s:.1f}x)"
                          for part, times in TABLE_PARTS.items()))
    print("load average (1, 5, 15 min): {:.2f} {:.2f} {:.2f}".format(*os.getloadavg()))
    print(f"statements per deal in the job: {counter.total / n:.2f}")
    print(f"statements: {counter.total}, {sum(counter.ms.values()):.0f} ms waiting for them; by kind (count, ms):")
    for kind, ms in counter.ms.most_common(16):
        print(f"  {counter.by_kind[kind]:5d} {ms:7.1f} ms  {kind}")
    if PHASE_TIMES:
        print(f"the job's steps (wall ms, this process's CPU ms; share of the job's {job_s * 1000:.0f} ms wall):")
        for _module, _path, label in PHASES:
            if label in PHASE_TIMES:
                wall, cpu = PHASE_TIMES[label]
                print(f"  {label:55s} {wall * 1000:7.1f} {cpu * 1000:7.1f}  {wall / job_s:4.0%}")
    if profiler is not None:
        for order in ("tottime", "cumulative"):
            pstats.Stats(profiler).sort_stats(order).print_stats(args.profile)


if __name__ == "__main__":
    asyncio.run(main())
