"""A real Celery worker SIGKILLed in the middle of a money-moving task, at the worst moment: the provider has made
the transfer (or the refund) but PostPact has not recorded it yet. Once the task is redelivered to a restarted
worker, the creator has been paid (or the brand refunded) exactly once, the ledger has one posting for the decision,
the escrow is final and no provider call is left in flight.

How the worker is stopped at exactly that moment: the test takes a row lock (``FOR UPDATE``) on the
``platform_cash`` ledger account before the task runs. Nothing before the provider call touches that account
(deciding the release or the refund, recording the attempt, the simulated provider's own objects), and recording the
result must (the ``transfer:<ref>`` / ``refund:<ref>`` posting credits it, and inserting its ledger entry takes a
key-share lock on the account row). So the worker makes the provider call, opens the transaction that records it,
posts the pending release/refund inside it, and then waits on the lock. The test sees the provider's object and
the worker's database connection waiting on the test's lock, kills the worker, and only then lets go of the lock:
the half-written transaction of the dead worker can never commit.

PostgreSQL only: SQLite locks the whole database file, so there is no lock that stops the worker after the
provider's write but before its own.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID

import pytest
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import create_async_engine
from sqlalchemy.pool import NullPool

from escrow.models import CallStatus, LedgerAccount, LedgerTransaction, Phase, ProviderCall, SimulatedObject
from escrow.states import EscrowState
from marketplace.collaborations.models import Collaboration, CollaborationEvent
from marketplace.collaborations.states import CollabState
from marketplace.db import session_scope
from marketplace.payments import hooks
from tests.support.escrow import assert_ledger_invariants, calls_of, collab_state, funded_deal, hold_of
from tests.worker.conftest import VISIBILITY_TIMEOUT, WorkerProcess, wait_for

pytestmark = [pytest.mark.worker, pytest.mark.slow, pytest.mark.xdist_group("celery-worker")]


#: Stopping the worker at that point takes a row lock another connection waits on; SQLite locks the whole file.
ROW_LOCK = "stopping the worker between the provider's write and its own needs row locks (PostgreSQL)"


# --- the lock that stops the worker after the provider call, before its result is recorded ------------------------


@asynccontextmanager
async def recording_blocked(database_url: str) -> AsyncIterator[int]:
    """Hold ``FOR UPDATE`` on the platform_cash ledger account; yields this connection's backend pid."""
    engine = create_async_engine(database_url, poolclass=NullPool)
    try:
        async with engine.connect() as conn:
            transaction = await conn.begin()
            try:
                pid = await conn.scalar(sa.text("SELECT pg_backend_pid()"))
                locked = await conn.scalar(
                    sa.select(LedgerAccount.id).where(LedgerAccount.code == "platform_cash").with_for_update()
                )
                assert locked is not None, "platform_cash has no account yet: the deal was not funded"
                yield int(pid)
            finally:
                await transaction.rollback()
    finally:
        await engine.dispose()


async def backends_waiting_on(db: Any, pid: int) -> list[int]:
    rows = await db.execute(
        sa.text("SELECT pid FROM pg_stat_activity WHERE CAST(:pid AS integer) = ANY(pg_blocking_pids(pid))"),
        {"pid": pid},
    )
    return [row[0] for row in rows]


async def backends_alive(db: Any, pids: list[int]) -> list[int]:
    rows = await db.execute(sa.text("SELECT pid FROM pg_stat_activity"))
    return [row[0] for row in rows if row[0] in pids]


# --- what the provider and the ledger hold ------------------------------------------------------------------------


async def provider_objects(db: Any, kind: str) -> list[SimulatedObject]:
    return list(await db.scalars(sa.select(SimulatedObject).where(SimulatedObject.kind == kind)))


async def resolutions_of(db: Any, pending_id: UUID) -> list[LedgerTransaction]:
    return list(await db.scalars(sa.select(LedgerTransaction).where(LedgerTransaction.pending_id == pending_id)))


async def postings(db: Any, escrow_id: UUID, kind: str) -> list[LedgerTransaction]:
    return list(
        await db.scalars(
            sa.select(LedgerTransaction).where(LedgerTransaction.escrow_id == escrow_id, LedgerTransaction.kind == kind)
        )
    )


async def in_flight(db: Any, escrow_id: UUID) -> list[ProviderCall]:
    return list(
        await db.scalars(
            sa.select(ProviderCall).where(
                ProviderCall.escrow_id == escrow_id, ProviderCall.status.in_([CallStatus.READY, CallStatus.WAITING])
            )
        )
    )


async def actions(db: Any, collaboration_id: UUID) -> list[str]:
    return list(
        await db.scalars(
            sa.select(CollaborationEvent.action)
            .where(CollaborationEvent.collaboration_id == collaboration_id)
            .order_by(CollaborationEvent.seq)
        )
    )


# --- the kill -----------------------------------------------------------------------------------------------------


async def kill_after_the_provider_call(
    db: Any, database_url: str, worker: WorkerProcess, kind: str, send: Any
) -> tuple[SimulatedObject, Any]:
    """Run ``send()`` (which makes the worker start a money-moving task), let the worker make the provider call,
    SIGKILL it while it is recording the result; returns the provider's object and what ``send()`` returned."""
    async with recording_blocked(database_url) as lock_pid:
        sent = send()

        async def paid_and_recording() -> list[int] | None:
            if not await provider_objects(db, kind):
                return None
            return await backends_waiting_on(db, lock_pid) or None

        try:
            waiting = await wait_for(
                paid_and_recording, within=30, what=f"the provider's {kind} and the worker recording it"
            )
        except AssertionError as exc:
            raise AssertionError(f"{exc}\n--- worker log ---\n{worker.log()[-6000:]}") from None
        [made] = await provider_objects(db, kind)
        worker.kill()  # the provider did it; the transaction recording it is open and waiting on our lock
        assert worker.process is not None and worker.process.poll() is not None
    # The lock is gone: the dead worker's connection finds its client gone and rolls back.

    async def gone() -> bool:
        return not await backends_alive(db, waiting)

    await wait_for(gone, within=20, what="the killed worker's database connections to end")
    return made, sent


async def restart_and_wait(start_worker: Any, db: Any, call_id: UUID) -> WorkerProcess:
    # Until the visibility timeout passes, Redis still counts the task as in flight with the dead worker.
    await asyncio.sleep(VISIBILITY_TIMEOUT + 0.5)
    restarted = start_worker()

    async def finished() -> bool:
        call = await db.get(ProviderCall, call_id)
        return call is not None and call.status not in (CallStatus.READY, CallStatus.WAITING)

    try:
        await wait_for(finished, within=60, what="the redelivered task to finish the provider call")
    except AssertionError as exc:
        raise AssertionError(f"{exc}\n--- worker log ---\n{restarted.log()[-6000:]}") from None
    return restarted


async def run_again_changes_nothing(worker: WorkerProcess, celery_client: Any, call_id: UUID) -> None:
    """The job delivered once more and the recovery sweep: neither sends anything."""
    celery_client.send_task("escrow.execute_provider_call", args=[str(call_id)], queue="default")
    celery_client.send_task("escrow.recover_provider_calls", queue="default")

    async def both_done() -> bool:
        log = worker.log()
        # The repeated job says it skipped the call; the recovery is logged as received, then as succeeded.
        return f"provider call {call_id}: skipped" in log and log.count("Task escrow.recover_provider_calls[") >= 2

    try:
        await wait_for(both_done, within=30, what="the repeated job and the recovery")
    except AssertionError as exc:
        raise AssertionError(f"{exc}\n--- worker log ---\n{worker.log()[-6000:]}") from None


# --- the tests ----------------------------------------------------------------------------------------------------


@pytest.mark.postgres_only(ROW_LOCK)
async def test_worker_killed_after_the_transfer_to_the_creator_pays_once(
    runtime: Any,
    clock: Any,
    db: Any,
    database_url: str,
    start_worker: Any,
    celery_client: Any,
) -> None:
    clock.set(datetime.now(UTC) - timedelta(hours=2))
    deal = await funded_deal(runtime, CollabState.VERIFIED, onboarded=True, fee_amount=15_000)
    runtime.queue.jobs.clear()  # what setting the deal up queued (emails, its own provider calls, all done)
    # The brand approves the post (in the web process): the release is decided and its provider call queued.
    async with session_scope(runtime.session_maker) as session:
        collab = await session.get(Collaboration, deal.id)
        await hooks.release_to_creator(session, collab, now=runtime.clock.now(), reason="post_approved",
                                       settings=runtime.settings)
    [queued] = [job for job in runtime.queue.jobs if job.name == "escrow.execute_provider_call"]
    runtime.queue.jobs.clear()  # sent to the real worker below, as the web's Celery queue would
    hold = await hold_of(db, deal.id)
    [call] = await calls_of(db, hold.id, "transfer")
    assert hold.state is EscrowState.RELEASE_PENDING and call.status is CallStatus.READY and call.attempts == 0
    assert list(queued.args) == [str(call.id)]
    before = await assert_ledger_invariants(db)
    # Decided a moment ago on the worker's (real) clock: the start-up recovery a worker runs leaves such a call to its
    # own task, which is what this test is about (the deal itself was arranged two hours back).
    async with session_scope(runtime.session_maker) as session:
        await session.execute(sa.update(ProviderCall).where(ProviderCall.id == call.id)
                              .values(next_attempt_at=datetime.now(UTC)))

    worker = start_worker()
    transfer, task = await kill_after_the_provider_call(
        db,
        database_url,
        worker,
        "transfer",
        lambda: celery_client.send_task("escrow.execute_provider_call", args=[str(call.id)], queue="default"),
    )

    # The creator has the money at the provider, but PostPact recorded nothing: the worst moment.
    assert transfer.idempotency_key == call.idempotency_key and transfer.data["amount"] == call.amount
    [call] = await calls_of(db, hold.id, "transfer")
    assert call.status is CallStatus.READY and call.attempts == 1 and call.result_ref is None
    assert (await hold_of(db, deal.id)).state is EscrowState.RELEASE_PENDING
    assert await resolutions_of(db, call.pending_transaction_id) == []
    assert await postings(db, hold.id, "transfer") == []
    assert await collab_state(db, deal.id) is CollabState.VERIFIED

    restarted = await restart_and_wait(start_worker, db, call.id)
    # The same Celery task, redelivered because it was never acknowledged (not the 5-minute recovery sweep).
    succeeded = f"Task escrow.execute_provider_call[{task.id}] succeeded"

    async def logged() -> bool:  # the worker logs it just after the task's last commit
        return succeeded in restarted.log()

    await wait_for(logged, within=10, what="the redelivered task to be logged as succeeded")
    log = restarted.log()
    assert log.count(f"Task escrow.execute_provider_call[{task.id}] received") == 2, log
    assert log.count(succeeded) == 1, log

    # Paid exactly once at the provider: the redelivered task reused the call's idempotency key.
    transfers = await provider_objects(db, "transfer")
    assert [t.ref for t in transfers] == [transfer.ref], "the creator was paid twice"
    [call] = await calls_of(db, hold.id, "transfer")
    assert call.status is CallStatus.SUCCEEDED and call.attempts == 2 and call.result_ref == transfer.ref
    # One posted release for the decision, one booked transfer.
    [resolution] = await resolutions_of(db, call.pending_transaction_id)
    assert resolution.phase is Phase.POST and resolution.provider_ref == transfer.ref
    [booked] = await postings(db, hold.id, "transfer")
    assert booked.provider_ref == transfer.ref and booked.idempotency_key == f"transfer:{transfer.ref}"
    hold = await hold_of(db, deal.id)
    assert hold.state is EscrowState.RELEASED
    assert hold.released_creator_amount == 15_000 and hold.reserved_amount == 0
    assert await in_flight(db, hold.id) == []
    assert await collab_state(db, deal.id) is CollabState.RELEASED
    assert (await actions(db, deal.id)).count("mark_released") == 1
    after = await assert_ledger_invariants(db, before)

    await run_again_changes_nothing(restarted, celery_client, call.id)
    assert [t.ref for t in await provider_objects(db, "transfer")] == [transfer.ref]
    assert await assert_ledger_invariants(db, after) == after  # nothing new was written
    assert (await calls_of(db, hold.id, "transfer"))[0].attempts == 2


@pytest.mark.postgres_only(ROW_LOCK)
async def test_worker_killed_after_the_ghosting_refund_refunds_once(
    runtime: Any,
    clock: Any,
    db: Any,
    database_url: str,
    start_worker: Any,
    celery_client: Any,
) -> None:
    # Arranged 40 days ago (the worker runs on the real clock): funded, product received, never posted.
    clock.set(datetime.now(UTC) - timedelta(days=40))
    deal = await funded_deal(runtime, CollabState.RECEIVED)
    funded = await hold_of(db, deal.id)
    assert funded.state is EscrowState.FUNDED
    before = await assert_ledger_invariants(db)

    worker = start_worker()
    # The deadline sweep (in the worker) ghosts the deal and decides the refund; its provider call runs next.
    refund, _ = await kill_after_the_provider_call(
        db,
        database_url,
        worker,
        "refund",
        lambda: celery_client.send_task("deadlines.sweep", queue="default"),
    )

    hold = await hold_of(db, deal.id)
    [call] = await calls_of(db, hold.id, "refund")
    assert refund.idempotency_key == call.idempotency_key and refund.data["amount"] == funded.funded_amount
    # The brand has the money back at the provider, but PostPact recorded nothing.
    assert call.status is CallStatus.READY and call.attempts == 1 and call.result_ref is None
    assert hold.state is EscrowState.REFUND_PENDING and hold.refunded_amount == 0
    assert await resolutions_of(db, call.pending_transaction_id) == []
    assert await postings(db, hold.id, "refund_paid") == []
    assert await collab_state(db, deal.id) is CollabState.GHOSTED  # the sweep's own task had finished

    restarted = await restart_and_wait(start_worker, db, call.id)

    refunds = await provider_objects(db, "refund")
    assert [r.ref for r in refunds] == [refund.ref], "the brand was refunded twice"
    [call] = await calls_of(db, hold.id, "refund")
    assert call.status is CallStatus.SUCCEEDED and call.attempts == 2 and call.result_ref == refund.ref
    [resolution] = await resolutions_of(db, call.pending_transaction_id)
    assert resolution.phase is Phase.POST and resolution.provider_ref == refund.ref
    [booked] = await postings(db, hold.id, "refund_paid")
    assert booked.provider_ref == refund.ref
    hold = await hold_of(db, deal.id)
    assert hold.state is EscrowState.REFUNDED
    assert hold.refunded_amount == hold.funded_amount and hold.held_amount == 0 and hold.reserved_amount == 0
    assert await in_flight(db, hold.id) == []
    assert (await actions(db, deal.id)).count("ghost") == 1
    after = await assert_ledger_invariants(db, before)

    await run_again_changes_nothing(restarted, celery_client, call.id)
    assert [r.ref for r in await provider_objects(db, "refund")] == [refund.ref]
    assert await assert_ledger_invariants(db, after) == after
