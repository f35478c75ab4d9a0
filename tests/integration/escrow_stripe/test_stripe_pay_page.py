"""The brand pays a deal on Stripe through our page hosting Stripe's Payment Element, and comes back funded."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from escrow.models import EscrowHold
from escrow.states import EscrowState
from marketplace.collaborations.models import Collaboration
from marketplace.collaborations.states import CollabState
from tests.support.deals import make_deal
from tests.support.escrow import start_funding
from tests.support.stripe import funding_ref_of, pay, run_jobs_allowing_retries


@pytest.fixture
def test_env(test_env: dict[str, str]) -> dict[str, str]:
    return {**test_env, "STRIPE_PUBLISHABLE_KEY": "pk_test_postpact_stand_in"}


async def test_brand_pays_with_the_payment_element_and_returns_funded(on_stripe, stack, make_web, people, db) -> None:
    runtime = on_stripe
    deal = await make_deal(runtime, CollabState.SIGNED)
    await start_funding(runtime, deal)
    assert await run_jobs_allowing_retries(runtime) == []
    ref = await funding_ref_of(runtime, deal.id)

    brand = await make_web()
    await brand.sign_in(deal.brand.email, deal.brand.password)
    checkout = await brand.get(f"/brand/payments/checkout?c={deal.id}")
    assert f'href="/brand/payments/pay/{deal.id}"' in checkout.text
    page = await brand.get(f"/brand/payments/pay/{deal.id}")
    assert page.status_code == 200
    assert 'data-publishable-key="pk_test_postpact_stand_in"' in page.text
    assert f"data-client-secret=\"{ref}_secret" in page.text
    assert "https://js.stripe.com/v3/" in page.text
    assert f"http://testserver.local/brand/payments/return/{deal.id}" in page.text

    # Another brand can neither see the payment page nor complete someone else's payment.
    other = await people.brand()
    outsider = await make_web()
    await outsider.sign_in(other.email, other.password)
    assert (await outsider.get(f"/brand/payments/pay/{deal.id}")).status_code == 404
    assert (await outsider.get(f"/brand/payments/return/{deal.id}")).status_code == 404

    pay(stack, ref)  # what Stripe.js does in the brand's browser
    back = await brand.get(f"/brand/payments/return/{deal.id}")
    assert back.status_code == 303 and back.headers["location"] == f"/brand/payments/checkout?c={deal.id}"
    hold = await db.scalar(sa.select(EscrowHold).where(EscrowHold.collaboration_id == deal.id))
    assert hold.state is EscrowState.FUNDED
    assert (await db.get(Collaboration, deal.id)).status is CollabState.FUNDED
    # Coming back twice (reload) books nothing twice.
    await brand.get(f"/brand/payments/return/{deal.id}")
    assert (await db.scalar(sa.select(EscrowHold).where(EscrowHold.collaboration_id == deal.id))).funded_amount \
        == hold.funded_amount
    again = await brand.get(f"/brand/payments/pay/{deal.id}")
    assert again.status_code == 303
