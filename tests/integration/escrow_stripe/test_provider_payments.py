"""StripeProvider over real HTTP with the official SDK: fundings and refunds (localstripe behind the stand-in)."""

from __future__ import annotations

import json

import pytest

from escrow.providers.base import DefinitiveProviderError, FundingStatus, PaymentProvider
from escrow.providers.stripe import StripeProvider, fee_in_charge_currency
from tests.fakes.stripe_stack import StripeStack
from tests.support.stripe import WEBHOOK_SECRET, pay, raw_webhooks

FUNDING = {"amount": 10_800, "currency": "EUR", "transfer_group": "collab_c1", "description": "Escrow for deal c1",
           "metadata": {"collaboration_id": "c1"}, "return_url": "http://testserver.local/collaborations/c1"}


def test_it_is_a_payment_provider(provider: StripeProvider) -> None:
    assert isinstance(provider, PaymentProvider)
    assert provider.name == "stripe"


async def test_funding_is_a_payment_intent_with_transfer_group_and_metadata(
        provider: StripeProvider, stack: StripeStack) -> None:
    funding = await provider.create_funding(idempotency_key="collab:c1:fund:1", **FUNDING)

    assert funding.ref.startswith("pi_")
    assert funding.status is FundingStatus.PENDING
    assert (funding.amount, funding.currency) == (10_800, "EUR")
    assert funding.client_secret and funding.client_secret.startswith(funding.ref)
    assert funding.charge_ref is None
    intent = stack.client().v1.payment_intents.retrieve(funding.ref)
    assert intent.transfer_group == "collab_c1"
    assert intent.metadata["collaboration_id"] == "c1"
    assert intent.metadata["idempotency_key"] == "collab:c1:fund:1"
    assert intent.currency == "eur"
    # Separate charges and transfers: the platform keeps its fee by not transferring it, no application fee.
    assert intent.to_dict().get("application_fee_amount") is None

    confirmed = pay(stack, funding.ref)
    paid = await provider.retrieve_funding(funding.ref)

    assert paid.status is FundingStatus.SUCCEEDED
    assert paid.charge_ref == confirmed.latest_charge
    assert paid.charge_ref is not None and paid.charge_ref.startswith("ch_")
    # localstripe's balance transactions carry a zero fee; real Stripe's carry its processing fee.
    assert paid.provider_fee == 0
    assert paid.amount_refunded == 0
    assert paid.metadata["collaboration_id"] == "c1"


async def test_same_key_same_params_returns_the_same_payment_intent(provider: StripeProvider,
                                                                    stack: StripeStack) -> None:
    first = await provider.create_funding(idempotency_key="collab:c1:fund:1", **FUNDING)
    again = await provider.create_funding(idempotency_key="collab:c1:fund:1", **FUNDING)

    assert again.ref == first.ref
    assert [pi.id for pi in stack.client().v1.payment_intents.list().data] == [first.ref]


async def test_same_key_other_params_is_refused_and_creates_nothing(provider: StripeProvider,
                                                                    stack: StripeStack) -> None:
    first = await provider.create_funding(idempotency_key="collab:c1:fund:1", **FUNDING)

    with pytest.raises(DefinitiveProviderError) as mismatch:
        await provider.create_funding(idempotency_key="collab:c1:fund:1", **{**FUNDING, "amount": 20_000})

    assert mismatch.value.code == "idempotency_error"
    assert not mismatch.value.transient
    assert [pi.id for pi in stack.client().v1.payment_intents.list().data] == [first.ref]


async def test_a_replay_after_payment_reports_the_paid_funding(provider: StripeProvider, stack: StripeStack) -> None:
    first = await provider.create_funding(idempotency_key="collab:c1:fund:1", **FUNDING)
    pay(stack, first.ref)

    # The stored response is the pending one; the provider reads the current state behind it.
    again = await provider.create_funding(idempotency_key="collab:c1:fund:1", **FUNDING)

    assert again.ref == first.ref
    assert again.status is FundingStatus.SUCCEEDED
    assert again.charge_ref is not None and again.provider_fee == 0


async def test_declined_card_reads_back_as_failed_with_the_banks_message(provider: StripeProvider,
                                                                         stack: StripeStack) -> None:
    funding = await provider.create_funding(idempotency_key="collab:c1:fund:1", **FUNDING)

    pay(stack, funding.ref, "pm_card_chargeCustomerFail")
    failed = await provider.retrieve_funding(funding.ref)

    assert failed.status is FundingStatus.FAILED
    assert failed.failure_message == "Your card was declined."
    assert failed.charge_ref is None
    # (Stripe lets the brand retry another card on the same PaymentIntent; localstripe can't re-confirm one.)


async def test_find_funding_by_transfer_group(provider: StripeProvider, stack: StripeStack) -> None:
    other = await provider.create_funding(idempotency_key="collab:c2:fund:1",
                                          **{**FUNDING, "transfer_group": "collab_c2"})
    mine = await provider.create_funding(idempotency_key="collab:c1:fund:1", **FUNDING)
    pay(stack, mine.ref)

    found = await provider.find_funding(transfer_group="collab_c1")

    assert found is not None and found.ref == mine.ref
    assert found.status is FundingStatus.SUCCEEDED
    assert (await provider.find_funding(transfer_group="collab_c2")).ref == other.ref  # type: ignore[union-attr]
    assert await provider.find_funding(transfer_group="collab_nobody") is None


async def test_refund_before_any_transfer(provider: StripeProvider, stack: StripeStack) -> None:
    funding = await provider.create_funding(idempotency_key="collab:c1:fund:1", **FUNDING)
    pay(stack, funding.ref)

    partial = await provider.refund(funding_ref=funding.ref, amount=800, currency="EUR",
                                    idempotency_key="collab:c1:refund:1", metadata={"collaboration_id": "c1"})
    replay = await provider.refund(funding_ref=funding.ref, amount=800, currency="EUR",
                                   idempotency_key="collab:c1:refund:1", metadata={"collaboration_id": "c1"})
    rest = await provider.refund(funding_ref=funding.ref, amount=10_000, currency="EUR",
                                 idempotency_key="collab:c1:refund:2", metadata={"collaboration_id": "c1"})

    assert partial.ref.startswith("re_") and replay.ref == partial.ref
    assert (partial.amount, partial.currency, partial.status, partial.funding_ref) == (800, "EUR", "succeeded",
                                                                                     funding.ref)
    assert rest.amount == 10_000
    after = await provider.retrieve_funding(funding.ref)
    assert after.amount_refunded == 10_800
    assert {r.ref for r in await provider.list_refunds(funding.ref)} == {partial.ref, rest.ref}
    charge = await provider.retrieve_charge(after.charge_ref or "")
    assert (charge.amount_refunded, charge.funding_ref) == (10_800, funding.ref)

    with pytest.raises(DefinitiveProviderError) as nothing_left:
        await provider.refund(funding_ref=funding.ref, amount=1, currency="EUR",
                              idempotency_key="collab:c1:refund:3", metadata={})
    assert nothing_left.value.code == "charge_already_refunded"


async def test_refunding_an_unpaid_funding_is_definitive(provider: StripeProvider) -> None:
    funding = await provider.create_funding(idempotency_key="collab:c1:fund:1", **FUNDING)

    with pytest.raises(DefinitiveProviderError) as unpaid:
        await provider.refund(funding_ref=funding.ref, amount=100, currency="EUR", idempotency_key="r1", metadata={})

    assert unpaid.value.code == "charge_not_refundable"


async def test_cancel_an_unpaid_funding(provider: StripeProvider) -> None:
    funding = await provider.create_funding(idempotency_key="collab:c1:fund:1", **FUNDING)

    canceled = await provider.cancel_funding(funding.ref)

    assert canceled.status is FundingStatus.CANCELED


async def test_localstripe_payment_events_arrive_signed_and_parse(provider: StripeProvider,
                                                                  stack: StripeStack) -> None:
    with raw_webhooks(stack, WEBHOOK_SECRET) as receiver:
        funding = await provider.create_funding(idempotency_key="collab:c1:fund:1", **FUNDING)
        pay(stack, funding.ref)
        delivery = receiver.wait_for("payment_intent.succeeded", funding.ref)

    event = provider.parse_webhook(delivery.body, delivery.signature)

    assert event.id.startswith("evt_")
    assert event.type == "payment_intent.succeeded"
    assert event.object_id == funding.ref
    assert event.object["transfer_group"] == "collab_c1"
    assert json.loads(delivery.body)["id"] == event.id


def test_fee_in_another_settlement_currency_is_converted_exactly() -> None:
    # A EUR charge settled in USD at 1.0825 USD per EUR: a 0.65 USD fee is 0.60 EUR.
    assert fee_in_charge_currency(65, "usd", "eur", 1.0825) == 60
    assert fee_in_charge_currency(65, "eur", "eur", None) == 65
    # Zero-decimal charge currency: 0.30 USD at 0.0066 USD per JPY is 45 JPY.
    assert fee_in_charge_currency(30, "usd", "jpy", 0.0066) == 45
