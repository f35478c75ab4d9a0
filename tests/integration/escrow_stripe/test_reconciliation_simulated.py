"""Reconciliation works with any provider: the simulated one of the embedded default (refunds listed, no disputes)."""

from __future__ import annotations

from dataclasses import replace

import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from escrow.providers.simulated import SimulatedProvider
from escrow.reconcile import MismatchKind, compare, ledger_view, provider_view, reconcile
from marketplace.collaborations.states import CollabState
from marketplace.runtime import Runtime
from tests.support.escrow import funded_deal, hold_of, run_jobs
from tests.support.stripe import approve_post


@pytest.fixture
def test_env(test_env: dict[str, str]) -> dict[str, str]:
    """This module runs without Stripe: the simulated provider is the configured one."""
    return {key: value for key, value in test_env.items() if not key.startswith("STRIPE_")}


async def test_simulated_books_agree_until_money_moves_behind_escrows_back(runtime: Runtime, db: AsyncSession) -> None:
    assert not runtime.settings.stripe.enabled
    provider = SimulatedProvider(runtime.session_maker)
    deal = await funded_deal(runtime, CollabState.VERIFIED, onboarded=True, fee_amount=15_000)
    await approve_post(runtime, deal)
    await run_jobs(runtime)

    clean = await reconcile(runtime.session_maker, provider, now=runtime.clock.now, triggered_by="test")
    assert (clean.checked, clean.mismatches) == (1, [])

    hold = await hold_of(db, deal.id)
    await provider.refund(funding_ref=hold.funding_ref or "", amount=700, currency="USD",
                          idempotency_key="by-hand", metadata={})
    drifted = await reconcile(runtime.session_maker, provider, now=runtime.clock.now, triggered_by="test")

    [mismatch] = drifted.mismatches
    assert mismatch.kind is MismatchKind.REFUND_NOT_RECORDED
    assert mismatch.provider_ref is not None and mismatch.provider_ref.startswith("sim_re_")
    assert (mismatch.expected, mismatch.actual) == ({"ledger": None}, {"amount": 700, "status": "succeeded"})


async def test_a_provider_that_only_reports_totals_is_compared_by_refunded_total(runtime: Runtime,
                                                                                   db: AsyncSession) -> None:
    provider = SimulatedProvider(runtime.session_maker)
    deal = await funded_deal(runtime, CollabState.VERIFIED, onboarded=True, fee_amount=15_000)
    hold = await hold_of(db, deal.id)
    await provider.refund(funding_ref=hold.funding_ref or "", amount=700, currency="USD",
                          idempotency_key="by-hand", metadata={})

    async with runtime.session_maker() as session:
        ledger = await ledger_view(session, hold.id)
    assert ledger is not None
    listed = await provider_view(provider, ledger.hold, ledger.funding_refs())
    totals_only = replace(listed, refunds=None)

    assert [m.kind for m in compare(ledger, listed, now=runtime.clock.now())] == [MismatchKind.REFUND_NOT_RECORDED]
    [mismatch] = compare(ledger, totals_only, now=runtime.clock.now())
    assert mismatch.kind is MismatchKind.REFUND_TOTAL
    assert (mismatch.expected, mismatch.actual) == ({"refunded": 0}, {"refunded": 700})
