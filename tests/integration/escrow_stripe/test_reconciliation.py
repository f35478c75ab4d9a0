"""Reconciliation against Stripe: every way the ledger and Stripe can drift apart is reported, and stored."""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from click.testing import CliRunner
from sqlalchemy.ext.asyncio import AsyncSession

from escrow.reconcile import MismatchKind, RunResult, reconcile
from escrow.records import ReconciliationMismatch, ReconciliationRun
from marketplace.cli import main
from marketplace.collaborations.states import CollabState
from marketplace.payments.gateway import PROVIDER_RESOURCE
from marketplace.runtime import Runtime
from marketplace.settings import get_settings
from tests.fakes.stripe_stack import StripeStack
from tests.support.db import run_in_thread
from tests.support.deals import make_deal
from tests.support.escrow import start_funding
from tests.support.stripe import (
    Forwarder,
    approve_post,
    fund_on_stripe,
    funding_ref_of,
    pay,
    run_jobs_allowing_retries,
    verified_deal_on_stripe,
)

FEE = 15_000
GROSS = 16_200


async def run(runtime: Runtime, **kwargs: object) -> RunResult:
    return await reconcile(runtime.session_maker, runtime.resources[PROVIDER_RESOURCE], now=runtime.clock.now,
                           triggered_by="test", **kwargs)  # type: ignore[arg-type]


def kinds(result: RunResult) -> list[MismatchKind]:
    return sorted(m.kind for m in result.mismatches)


async def test_agreeing_books_report_nothing_and_the_run_is_stored(
        on_stripe: Runtime, stack: StripeStack, forwarder: Forwarder, db: AsyncSession) -> None:
    deal = await make_deal(on_stripe, CollabState.SIGNED, fee_amount=FEE)
    await fund_on_stripe(on_stripe, stack, forwarder, deal, via_webhook=False)

    result = await run(on_stripe)

    assert (result.checked, result.mismatches, result.errors) == (1, [], 0)
    stored = await db.get(ReconciliationRun, result.run_id)
    assert stored is not None
    assert (stored.status, stored.collaborations_checked, stored.mismatch_count, stored.provider) == (
        "completed", 1, 0, "stripe")
    assert stored.finished_at is not None


async def test_a_payment_whose_webhook_never_came(on_stripe: Runtime, stack: StripeStack, db: AsyncSession) -> None:
    deal = await make_deal(on_stripe, CollabState.SIGNED, fee_amount=FEE)
    await start_funding(on_stripe, deal)
    await run_jobs_allowing_retries(on_stripe)
    ref = await funding_ref_of(on_stripe, deal.id)
    pay(stack, ref)

    result = await run(on_stripe)

    [mismatch] = result.mismatches
    assert mismatch.kind is MismatchKind.FUNDING_NOT_RECORDED
    assert (mismatch.collaboration_id, mismatch.provider_ref, mismatch.actual) == (
        deal.id, ref, {"status": "succeeded", "amount": GROSS})
    [row] = await db.scalars(sa.select(ReconciliationMismatch).where(ReconciliationMismatch.run_id == result.run_id))
    assert (row.kind, row.collaboration_id, row.provider_ref) == ("funding_not_recorded", deal.id, ref)
    assert "paid" in row.detail


async def test_money_moved_in_stripes_dashboard(on_stripe: Runtime, stack: StripeStack, forwarder: Forwarder,
                                                db: AsyncSession) -> None:
    """A partial refund and a stray transfer made by hand, and a chargeback, none of them heard of."""
    deal = await make_deal(on_stripe, CollabState.SIGNED, fee_amount=FEE)
    ref = await fund_on_stripe(on_stripe, stack, forwarder, deal, via_webhook=False)
    client = stack.client()
    charge = client.v1.payment_intents.retrieve(ref).latest_charge
    refund = client.v1.refunds.create(params={"payment_intent": ref, "amount": 1_000})
    account = client.v1.accounts.create(params={"type": "express", "capabilities": {"transfers": {"requested": True}}})
    stack.complete_onboarding(account.id)
    stray = client.v1.transfers.create(params={"amount": 500, "currency": "usd", "destination": account.id,
                                               "source_transaction": charge, "transfer_group": f"collab:{deal.id}"})
    dispute = stack.open_dispute(charge, amount=2_000)

    result = await run(on_stripe)

    by_kind = {m.kind: m for m in result.mismatches}
    assert set(by_kind) == {MismatchKind.REFUND_NOT_RECORDED, MismatchKind.TRANSFER_NOT_RECORDED,
                            MismatchKind.DISPUTE_NOT_RECORDED}
    assert (by_kind[MismatchKind.REFUND_NOT_RECORDED].provider_ref,
            by_kind[MismatchKind.REFUND_NOT_RECORDED].actual["amount"]) == (refund.id, 1_000)
    assert by_kind[MismatchKind.TRANSFER_NOT_RECORDED].provider_ref == stray.id
    assert by_kind[MismatchKind.DISPUTE_NOT_RECORDED].actual == {"status": "needs_response", "amount": 2_000}
    assert by_kind[MismatchKind.DISPUTE_NOT_RECORDED].provider_ref == dispute["id"]
    assert all(m.collaboration_id == deal.id for m in result.mismatches)


async def test_a_reversal_nobody_told_us_about(on_stripe: Runtime, stack: StripeStack, forwarder: Forwarder) -> None:
    deal = await verified_deal_on_stripe(on_stripe, stack, forwarder, fee_amount=FEE)
    await approve_post(on_stripe, deal)
    assert await run_jobs_allowing_retries(on_stripe) == []
    [transfer] = stack.client().v1.transfers.list().data
    assert (await run(on_stripe)).mismatches == []

    stack.client().v1.transfers.reversals.create(transfer.id, params={"amount": 3_000})

    result = await run(on_stripe)
    [mismatch] = result.mismatches
    assert mismatch.kind is MismatchKind.REVERSAL_TOTAL
    assert (mismatch.expected, mismatch.actual) == ({"reversed": 0}, {"reversed": 3_000})


async def test_a_call_lost_in_flight_is_quiet_at_first_then_reported(
        on_stripe: Runtime, stack: StripeStack, forwarder: Forwarder) -> None:
    deal = await verified_deal_on_stripe(on_stripe, stack, forwarder, fee_amount=FEE)
    await approve_post(on_stripe, deal)
    stack.inject_fault(r"^/v1/transfers$", status=500, after_effect=True)
    assert await run_jobs_allowing_retries(on_stripe) == ["escrow.execute_provider_call"]

    # Right after the attempt, the recovery job may still finish it: not a mismatch yet.
    assert (await run(on_stripe)).mismatches == []

    on_stripe.clock.advance(hours=2)
    result = await run(on_stripe)
    assert kinds(result) == sorted([MismatchKind.TRANSFER_NOT_RECORDED, MismatchKind.CALL_STUCK])


async def test_stripe_unreadable_for_one_deal_does_not_stop_the_run(
        on_stripe: Runtime, stack: StripeStack, forwarder: Forwarder, db: AsyncSession) -> None:
    first = await make_deal(on_stripe, CollabState.SIGNED, fee_amount=FEE)
    first_ref = await fund_on_stripe(on_stripe, stack, forwarder, first, via_webhook=False)
    second = await make_deal(on_stripe, CollabState.SIGNED, fee_amount=FEE)
    await fund_on_stripe(on_stripe, stack, forwarder, second, via_webhook=False)
    stack.inject_fault(rf"^/v1/payment_intents/{first_ref}$", method="GET", status=500)

    result = await run(on_stripe)

    assert (result.checked, result.errors) == (2, 1)
    [mismatch] = result.mismatches
    assert (mismatch.kind, mismatch.collaboration_id) == (MismatchKind.PROVIDER_UNAVAILABLE, first.id)
    stored = await db.get(ReconciliationRun, result.run_id)
    assert stored is not None and (stored.status, stored.errors, stored.mismatch_count) == ("completed", 1, 1)


async def test_only_the_given_collaborations(on_stripe: Runtime, stack: StripeStack, forwarder: Forwarder) -> None:
    checked = await make_deal(on_stripe, CollabState.SIGNED, fee_amount=FEE)
    await fund_on_stripe(on_stripe, stack, forwarder, checked, via_webhook=False)
    other = await make_deal(on_stripe, CollabState.SIGNED, fee_amount=FEE)
    await start_funding(on_stripe, other)
    await run_jobs_allowing_retries(on_stripe)
    pay(stack, await funding_ref_of(on_stripe, other.id))  # a mismatch, but not in the requested set

    result = await run(on_stripe, collaboration_ids=[checked.id])

    assert (result.checked, result.mismatches) == (1, [])


# -- the command -------------------------------------------------------------------------------------------------


@pytest.fixture
def cli_env(on_stripe: Runtime, test_env: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    for key, value in test_env.items():
        monkeypatch.setenv(key, value)
    monkeypatch.delenv("REDIS_URL", raising=False)
    get_settings.cache_clear()
    yield test_env
    get_settings.cache_clear()


def test_the_reconcile_command_prints_mismatches_and_fails(on_stripe: Runtime, stack: StripeStack,
                                                           cli_env: dict[str, str]) -> None:
    async def arrange() -> str:
        deal = await make_deal(on_stripe, CollabState.SIGNED, fee_amount=FEE)
        await start_funding(on_stripe, deal)
        await run_jobs_allowing_retries(on_stripe)
        ref = await funding_ref_of(on_stripe, deal.id)
        await on_stripe.resources[PROVIDER_RESOURCE].aclose()
        return ref

    runner = CliRunner()
    clean = runner.invoke(main, ["reconcile"])
    assert clean.exit_code == 0, clean.output
    assert "0 escrow(s) checked, 0 mismatch(es)" in clean.output

    ref = run_in_thread(arrange)
    pay(stack, ref)
    drifted = runner.invoke(main, ["reconcile", "--all"])

    assert drifted.exit_code == 1, drifted.output
    assert "1 escrow(s) checked, 1 mismatch(es)" in drifted.output
    assert "[Paid at the provider, not in the ledger] collaboration" in drifted.output
    assert ref in drifted.output
