"""The escrow core's crash recovery, proven on Stripe: a lost answer, a 500 and a timeout are finished with the same
idempotency key (the creator is paid exactly once); a definitive refusal voids the pending posting with a clear
message."""

from __future__ import annotations

import asyncio

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from escrow.models import CallStatus, EscrowHold
from escrow.states import EscrowState
from marketplace.collaborations.states import CollabState
from marketplace.jobs import REGISTRY
from marketplace.runtime import Runtime
from tests.fakes.stripe_stack import StripeStack
from tests.support.deals import make_deal
from tests.support.escrow import assert_ledger_invariants, calls_of, collab_state, hold_of, start_funding
from tests.support.stripe import (
    Forwarder,
    approve_post,
    creator_balance,
    make_provider,
    run_jobs_allowing_retries,
    use_provider,
    verified_deal_on_stripe,
)

FEE = 15_000
TRANSFERS = r"^/v1/transfers$"


async def recover(runtime: Runtime) -> list[str]:
    """The periodic recovery job, after the retry is due (the executor waits at least five minutes)."""
    runtime.clock.advance(minutes=11)
    await REGISTRY["escrow.recover_provider_calls"].function(runtime.job_context())
    return await run_jobs_allowing_retries(runtime)


async def paid_once(db: AsyncSession, stack: StripeStack, deal_id: object) -> str:
    """Exactly one transfer at Stripe, the creator's balance holds the fee once, the ledger agrees."""
    transfers = stack.client().v1.transfers.list().data
    assert len(transfers) == 1, [t.id for t in transfers]
    [transfer] = transfers
    assert creator_balance(stack, transfer.destination) == FEE
    hold = await hold_of(db, deal_id)
    assert hold.state is EscrowState.RELEASED
    assert hold.released_creator_amount == FEE and hold.reserved_amount == 0
    [call] = await calls_of(db, hold.id, "transfer")
    assert (call.status, call.result_ref) == (CallStatus.SUCCEEDED, transfer.id)
    assert transfer.metadata["call_key"] == call.idempotency_key
    assert await collab_state(db, deal_id) is CollabState.RELEASED
    await assert_ledger_invariants(db)
    return call.idempotency_key


async def test_stripe_did_it_but_the_answer_was_lost(on_stripe: Runtime, stack: StripeStack, forwarder: Forwarder,
                                                     db: AsyncSession) -> None:
    deal = await verified_deal_on_stripe(on_stripe, stack, forwarder, fee_amount=FEE)
    await approve_post(on_stripe, deal)
    stack.inject_fault(TRANSFERS, status=500, after_effect=True)

    assert await run_jobs_allowing_retries(on_stripe) == ["escrow.execute_provider_call"]

    # Stripe moved the money; PostPact still has the release pending.
    assert len(stack.client().v1.transfers.list().data) == 1
    hold = await hold_of(db, deal.id)
    assert hold.state is EscrowState.RELEASE_PENDING and hold.released_creator_amount == 0
    [call] = await calls_of(db, hold.id, "transfer")
    assert call.status is CallStatus.READY and call.attempts == 1 and "500" in (call.last_error or "")

    assert await recover(on_stripe) == []

    key = await paid_once(db, stack, deal.id)
    [call] = await calls_of(db, hold.id, "transfer")
    assert call.attempts == 2
    # The second attempt was Stripe replaying the first answer for the same key.
    assert [e["request"]["idempotency_key"] for e in stack.events("transfer.created")] == [key]


async def test_a_500_before_anything_happened_is_retried_with_the_same_key(
        on_stripe: Runtime, stack: StripeStack, forwarder: Forwarder, db: AsyncSession) -> None:
    deal = await verified_deal_on_stripe(on_stripe, stack, forwarder, fee_amount=FEE)
    await approve_post(on_stripe, deal)
    stack.inject_fault(TRANSFERS, status=503)

    assert await run_jobs_allowing_retries(on_stripe) == ["escrow.execute_provider_call"]
    assert stack.client().v1.transfers.list().data == []

    assert await recover(on_stripe) == []
    await paid_once(db, stack, deal.id)


async def test_a_timeout_whose_request_still_lands_is_paid_once(
        on_stripe: Runtime, stack: StripeStack, forwarder: Forwarder, db: AsyncSession) -> None:
    deal = await verified_deal_on_stripe(on_stripe, stack, forwarder, fee_amount=FEE)
    impatient = make_provider(stack, timeout=0.3)
    use_provider(on_stripe, impatient)
    try:
        await approve_post(on_stripe, deal)
        stack.inject_fault(TRANSFERS, status=None, delay=1.0)

        assert await run_jobs_allowing_retries(on_stripe) == ["escrow.execute_provider_call"]
        [call] = await calls_of(db, (await hold_of(db, deal.id)).id, "transfer")
        assert "reach Stripe" in (call.last_error or "")
        await asyncio.sleep(1.1)  # the hung request completes at Stripe meanwhile

        assert await recover(on_stripe) == []
        await paid_once(db, stack, deal.id)
    finally:
        await impatient.aclose()


async def test_a_definitive_refusal_voids_the_release_and_says_why(
        on_stripe: Runtime, stack: StripeStack, forwarder: Forwarder, db: AsyncSession) -> None:
    deal = await verified_deal_on_stripe(on_stripe, stack, forwarder, fee_amount=FEE)
    account = (await db.execute(sa.text("SELECT account_ref FROM payout_account"))).scalar_one()
    await approve_post(on_stripe, deal)
    # Stripe restricted the account after PostPact last heard from it: the transfer is refused for good.
    stack.restrict_account(account)

    assert await run_jobs_allowing_retries(on_stripe) == []

    assert stack.client().v1.transfers.list().data == []
    hold = await hold_of(db, deal.id)
    assert hold.state is EscrowState.FUNDED
    assert (hold.reserved_amount, hold.released_creator_amount, hold.held_amount) == (0, 0, 16_200)
    assert hold.last_message and "payout account can't receive money yet" in hold.last_message
    assert "individual.verification.document" in hold.last_message
    [call] = await calls_of(db, hold.id, "transfer")
    assert call.status is CallStatus.FAILED
    assert await collab_state(db, deal.id) is CollabState.VERIFIED
    await assert_ledger_invariants(db)


async def test_funding_created_but_unheard_reuses_the_same_payment_intent(
        on_stripe: Runtime, stack: StripeStack, db: AsyncSession) -> None:
    deal = await make_deal(on_stripe, CollabState.SIGNED, fee_amount=FEE)
    await start_funding(on_stripe, deal)
    stack.inject_fault(r"^/v1/payment_intents$", status=502, after_effect=True)

    assert await run_jobs_allowing_retries(on_stripe) == ["escrow.execute_provider_call"]
    [created] = stack.client().v1.payment_intents.list().data
    hold = await db.scalar(sa.select(EscrowHold).where(EscrowHold.collaboration_id == deal.id))
    assert hold is not None and hold.funding_ref is None

    assert await recover(on_stripe) == []

    hold = await hold_of(db, deal.id)
    assert hold.funding_ref == created.id
    assert [pi.id for pi in stack.client().v1.payment_intents.list().data] == [created.id]
    assert hold.state is EscrowState.FUNDING
