"""A release whose first provider-call attempt is recorded by the decision's own transaction (the two-transaction
path ``bench/escrow_release.py`` times): a crash on either side of the provider call still pays exactly once, and a
freeze arriving meanwhile waits for the call instead of voiding it under the provider's feet."""

from __future__ import annotations

import pytest

from escrow import ledger
from escrow.events import NullListener
from escrow.executor import Attempt, ProviderCallExecutor
from escrow.models import CallStatus
from escrow.providers.simulated import SimulatedCrash
from escrow.services import EscrowService
from escrow.states import EscrowState
from tests.support.escrow import assert_ledger_invariants, balance, calls_of, funded_deal, hold_of, simulated


def _executor(runtime, listener: NullListener) -> ProviderCallExecutor:
    return ProviderCallExecutor(runtime.session_maker, simulated(runtime), lambda _s: listener, runtime.clock,
                                platform_fee_bps=runtime.settings.app.platform_fee_bps)


async def _decide(runtime, listener: NullListener, collaboration_id) -> tuple[object, Attempt]:
    async with runtime.session_maker() as session, session.begin():
        service = EscrowService(session, now=runtime.clock.now(), listener=listener, attempt_calls=True,
                                platform_fee_bps=runtime.settings.app.platform_fee_bps)
        call = await service.request_release(collaboration_id)
        assert call is not None
        return call.id, Attempt.of(call, collaboration_id=collaboration_id)


async def test_the_decision_records_the_first_attempt_and_schedules_no_job(runtime, db) -> None:
    deal = await funded_deal(runtime, onboarded=True, fee_amount=15_000)
    listener = NullListener()
    call_id, attempt = await _decide(runtime, listener, deal.id)
    [call] = await calls_of(db, (await hold_of(db, deal.id)).id, "transfer")
    assert call.id == call_id and call.status is CallStatus.READY and call.attempts == 1
    assert call.first_attempt_at is not None and listener.scheduled == []

    assert await _executor(runtime, listener).execute(call_id, attempt=attempt) == "done"
    db.expire_all()
    [call] = await calls_of(db, (await hold_of(db, deal.id)).id, "transfer")
    assert call.status is CallStatus.SUCCEEDED and call.attempts == 1
    hold = await hold_of(db, deal.id)
    assert hold.state is EscrowState.RELEASED and hold.released_creator_amount == 15_000
    assert await balance(db, ledger.creator_payable(hold.creator_id)) == 0
    assert await balance(db, ledger.platform_fee_revenue()) == hold.platform_fee_amount
    await assert_ledger_invariants(db)


async def test_a_crash_between_the_decision_and_the_call_is_recovered(runtime, db) -> None:
    deal = await funded_deal(runtime, onboarded=True, fee_amount=15_000)
    listener = NullListener()
    call_id, _attempt = await _decide(runtime, listener, deal.id)  # ...and the process dies before the call
    executor = _executor(runtime, listener)
    assert (await executor.recover())["done"] == 0  # the attempt may still be running
    runtime.clock.advance(seconds=25)
    assert (await executor.recover())["done"] == 1
    assert len(await simulated(runtime).objects("transfer")) == 1
    db.expire_all()
    [call] = await calls_of(db, (await hold_of(db, deal.id)).id, "transfer")
    assert call.id == call_id and call.status is CallStatus.SUCCEEDED and call.attempts == 2
    assert (await hold_of(db, deal.id)).state is EscrowState.RELEASED
    await assert_ledger_invariants(db)


async def test_a_crash_after_the_transfer_pays_once(runtime, db) -> None:
    deal = await funded_deal(runtime, onboarded=True, fee_amount=15_000)
    listener = NullListener()
    call_id, attempt = await _decide(runtime, listener, deal.id)
    await simulated(runtime).inject_fault("transfer", "crash_after")
    executor = _executor(runtime, listener)
    with pytest.raises(SimulatedCrash):
        await executor.execute(call_id, attempt=attempt)
    assert (await hold_of(db, deal.id)).state is EscrowState.RELEASE_PENDING
    runtime.clock.advance(seconds=25)
    assert (await executor.recover())["done"] == 1
    transfers = await simulated(runtime).objects("transfer")
    assert len(transfers) == 1, "the retry reused the idempotency key"
    db.expire_all()
    [call] = await calls_of(db, (await hold_of(db, deal.id)).id, "transfer")
    assert call.status is CallStatus.SUCCEEDED and call.result_ref == transfers[0].ref
    assert await executor.execute(call_id, attempt=attempt) == "done"  # a replayed answer changes nothing
    hold = await hold_of(db, deal.id)
    assert hold.state is EscrowState.RELEASED and hold.released_creator_amount == 15_000
    assert await balance(db, ledger.platform_cash()) == hold.funded_amount - 15_000 - hold.provider_fee_amount
    await assert_ledger_invariants(db)


async def test_a_freeze_after_the_decision_waits_for_the_attempted_call(runtime, db) -> None:
    deal = await funded_deal(runtime, onboarded=True, fee_amount=15_000)
    listener = NullListener()
    call_id, attempt = await _decide(runtime, listener, deal.id)
    async with runtime.session_maker() as session, session.begin():
        service = EscrowService(session, now=runtime.clock.now(), listener=listener,
                                platform_fee_bps=runtime.settings.app.platform_fee_bps)
        await service.freeze(deal.id, reason="chargeback")
    # The call may already be at the provider: not voided; the freeze follows its answer.
    hold = await hold_of(db, deal.id)
    assert hold.state is EscrowState.RELEASE_PENDING and hold.freeze_requested_at is not None
    assert await _executor(runtime, listener).execute(call_id, attempt=attempt) == "done"
    db.expire_all()
    hold = await hold_of(db, deal.id)
    assert hold.state is EscrowState.FROZEN and hold.released_creator_amount == 15_000
    await assert_ledger_invariants(db)
