"""Crash safety with the simulated provider: a call that succeeded but was never recorded, 500s and timeouts,
definitive declines, and idempotency keys that behave like Stripe's."""

from __future__ import annotations

from datetime import timedelta

import pytest

from escrow import ledger
from escrow.executor import ProviderCallRetry
from escrow.models import CallStatus
from escrow.providers.base import DefinitiveProviderError
from escrow.providers.simulated import SimulatedCrash
from escrow.states import EscrowState
from marketplace.collaborations.models import Collaboration
from marketplace.collaborations.states import CollabState
from marketplace.db import session_scope
from marketplace.jobs import REGISTRY, load_jobs
from marketplace.payments import hooks
from tests.support.escrow import (
    assert_ledger_invariants,
    balance,
    calls_of,
    collab_state,
    executor,
    funded_deal,
    hold_of,
    simulated,
)


async def _decide_release(runtime, deal) -> None:
    async with session_scope(runtime.session_maker) as session:
        collab = await session.get(Collaboration, deal.id)
        await hooks.release_to_creator(session, collab, now=runtime.clock.now(), reason="post_approved",
                                       settings=runtime.settings)
    runtime.queue.jobs.clear()  # the test drives the provider calls itself


async def test_crash_after_the_transfer_is_recovered_with_the_same_key_and_pays_once(runtime, db) -> None:
    deal = await funded_deal(runtime, CollabState.VERIFIED, onboarded=True, fee_amount=15_000)
    await _decide_release(runtime, deal)
    hold = await hold_of(db, deal.id)
    [call] = await calls_of(db, hold.id, "transfer")
    await simulated(runtime).inject_fault("transfer", "crash_after")

    with pytest.raises(SimulatedCrash):
        await executor(runtime).execute(call.id)
    # The transfer exists at the provider, but PostPact never recorded it: still pending, money still reserved.
    assert len(await simulated(runtime).objects("transfer")) == 1
    [call] = await calls_of(db, hold.id, "transfer")
    assert call.status is CallStatus.READY and call.attempts == 1
    assert (await hold_of(db, deal.id)).state is EscrowState.RELEASE_PENDING

    # Too early for recovery: the attempt might still be running somewhere.
    assert (await executor(runtime).recover())["done"] == 0
    runtime.clock.advance(seconds=25)  # ...but a crash stalls the deal for seconds, not minutes
    counts = await executor(runtime).recover()
    assert counts["done"] == 1

    transfers = await simulated(runtime).objects("transfer")
    assert len(transfers) == 1, "the retry reused the idempotency key"
    [call] = await calls_of(db, hold.id, "transfer")
    assert call.status is CallStatus.SUCCEEDED and call.attempts == 2 and call.result_ref == transfers[0].ref
    hold = await hold_of(db, deal.id)
    assert hold.state is EscrowState.RELEASED and hold.released_creator_amount == 15_000
    assert await collab_state(db, deal.id) is CollabState.RELEASED
    # Running recovery (or the job) again changes nothing.
    assert (await executor(runtime).recover())["done"] == 0
    assert await executor(runtime).execute(call.id) == "skipped"
    assert await balance(db, ledger.platform_fee_revenue()) == 1_200
    await assert_ledger_invariants(db)


async def test_transient_failures_are_retried_with_the_same_key(runtime, db) -> None:
    deal = await funded_deal(runtime, CollabState.VERIFIED, onboarded=True)
    await _decide_release(runtime, deal)
    hold = await hold_of(db, deal.id)
    [call] = await calls_of(db, hold.id, "transfer")
    provider = simulated(runtime)
    await provider.inject_fault("transfer", "transient", times=2)
    await provider.inject_fault("transfer", "timeout")  # happens, but the answer is lost

    for _ in range(3):
        with pytest.raises(ProviderCallRetry):
            await executor(runtime).execute(call.id)
        [call] = await calls_of(db, hold.id, "transfer")
        assert call.status is CallStatus.READY and call.last_error
    assert len(await provider.objects("transfer")) == 1  # only the timed-out attempt reached the provider
    assert await executor(runtime).execute(call.id) == "done"
    assert len(await provider.objects("transfer")) == 1
    [call] = await calls_of(db, hold.id, "transfer")
    assert call.attempts == 4 and call.status is CallStatus.SUCCEEDED
    assert (await hold_of(db, deal.id)).state is EscrowState.RELEASED
    await assert_ledger_invariants(db)


async def test_definitive_decline_voids_the_pending_and_says_why(runtime, db) -> None:
    deal = await funded_deal(runtime, CollabState.VERIFIED, onboarded=True, fee_amount=15_000)
    await _decide_release(runtime, deal)
    hold = await hold_of(db, deal.id)
    [call] = await calls_of(db, hold.id, "transfer")
    await simulated(runtime).inject_fault("transfer", "definitive", message="The destination account was closed.")
    before = await assert_ledger_invariants(db)

    assert await executor(runtime).execute(call.id) == "failed"
    hold = await hold_of(db, deal.id)
    assert hold.state is EscrowState.FUNDED
    assert hold.reserved_amount == 0 and hold.held_amount == 16_200
    assert hold.last_message == "The destination account was closed."
    [call] = await calls_of(db, hold.id, "transfer")
    assert call.status is CallStatus.FAILED
    assert await collab_state(db, deal.id) is CollabState.VERIFIED
    assert await simulated(runtime).objects("transfer") == []
    await assert_ledger_invariants(db, before)
    # The brand (or the review window) can approve again: a new release with the next key.
    await _decide_release(runtime, deal)
    [_, second] = await calls_of(db, hold.id, "transfer")
    assert second.idempotency_key == f"collab:{deal.id}:release:2"
    assert await executor(runtime).execute(second.id) == "done"
    assert (await hold_of(db, deal.id)).state is EscrowState.RELEASED


async def test_refund_crash_is_recovered_past_the_key_window_by_looking_first(runtime, db) -> None:
    deal = await funded_deal(runtime, CollabState.GHOSTED)  # the ghosting asked escrow for the refund
    runtime.queue.jobs.clear()
    hold = await hold_of(db, deal.id)
    [call] = await calls_of(db, hold.id, "refund")
    await simulated(runtime).inject_fault("refund", "crash_after")
    with pytest.raises(SimulatedCrash):
        await executor(runtime).execute(call.id)
    # A day later (the provider may have forgotten the key): recovery finds the refund instead of making another.
    runtime.clock.advance(hours=21)
    await simulated(runtime).inject_fault("refund", "definitive", message="would have refunded twice")
    assert (await executor(runtime).recover())["done"] == 1
    [refund] = await simulated(runtime).objects("refund")
    hold = await hold_of(db, deal.id)
    assert hold.state is EscrowState.REFUNDED and hold.refunded_amount == hold.funded_amount
    # Found by its own metadata: the call records the provider's real refund, not a stand-in reference.
    [call] = await calls_of(db, hold.id, "refund")
    assert call.result_ref == refund.ref
    await assert_ledger_invariants(db)


async def test_simulated_idempotency_is_like_stripes(runtime) -> None:
    provider = simulated(runtime)
    args = dict(amount=1_000, currency="USD", transfer_group="collab:x", description="d", metadata={"a": "1"},
                return_url="/r")
    first = await provider.create_funding(idempotency_key="k1", **args)
    again = await provider.create_funding(idempotency_key="k1", **args)
    assert first.ref == again.ref
    with pytest.raises(DefinitiveProviderError) as err:
        await provider.create_funding(idempotency_key="k1", **{**args, "amount": 2_000})
    assert err.value.code == "idempotency_error"
    other = await provider.create_funding(idempotency_key="k2", **args)
    assert other.ref != first.ref
    assert len(await provider.objects("funding")) == 2


async def test_simulated_state_survives_a_new_provider_instance(runtime) -> None:
    from escrow.providers.simulated import SimulatedProvider

    made = await simulated(runtime).create_funding(amount=500, currency="EUR", idempotency_key="persist",
                                                   transfer_group="g", description="", metadata={}, return_url="/")
    fresh = SimulatedProvider(runtime.session_maker)  # a restart, or another process
    found = await fresh.retrieve_funding(made.ref)
    assert (found.ref, found.amount, found.currency) == (made.ref, 500, "EUR")
    assert (await fresh.find_funding(transfer_group="g")).ref == made.ref


async def test_recovery_sends_waiting_releases_once_the_account_is_ready(runtime, db) -> None:
    deal = await funded_deal(runtime, CollabState.VERIFIED)
    await _decide_release(runtime, deal)
    hold = await hold_of(db, deal.id)
    assert (await executor(runtime).recover())["done"] == 0  # nothing to send yet
    from tests.support.escrow import onboard_creator

    await onboard_creator(runtime, deal.creator)  # its own jobs send the transfer...
    runtime.clock.advance(timedelta(minutes=10))
    assert (await executor(runtime).recover())["done"] == 0  # ...so recovery finds nothing left
    assert (await hold_of(db, deal.id)).state is EscrowState.RELEASED
    assert len(await simulated(runtime).objects("transfer")) == 1
    assert hold.id


async def test_a_call_whose_job_was_lost_goes_out_within_half_a_minute(runtime, db) -> None:
    """Killed right after the approval committed (the job that would make the transfer never ran): the deal sat in
    "Paying the creator" for ~8 minutes while recovery waited for calls 5 minutes old, every 5 minutes."""
    deal = await funded_deal(runtime, CollabState.VERIFIED, onboarded=True)
    await _decide_release(runtime, deal)  # the queued job is dropped, as a crash before dispatch would
    hold = await hold_of(db, deal.id)
    [call] = await calls_of(db, hold.id, "transfer")
    assert call.status is CallStatus.READY and call.attempts == 0
    load_jobs()
    assert REGISTRY["escrow.recover_provider_calls"].every <= 15  # how often the recovery job runs
    runtime.clock.advance(seconds=25)
    assert (await executor(runtime).recover())["done"] == 1
    assert (await hold_of(db, deal.id)).state is EscrowState.RELEASED
    assert len(await simulated(runtime).objects("transfer")) == 1
