"""Brand funding through the stand-in: PaymentIntents and refunds proxied to localstripe, shaped like Stripe's."""

from __future__ import annotations

from collections.abc import Callable

import httpx
import pytest
import stripe

from tests.fakes.stripe_stack import StripeStack

PaymentMaker = Callable[..., stripe.PaymentIntent]


def test_funding_payment_keeps_transfer_group_and_metadata(client: stripe.StripeClient) -> None:
    intent = client.v1.payment_intents.create(params={
        "amount": 12_500, "currency": "eur", "payment_method": "pm_card_visa", "payment_method_types": ["card"],
        "confirm": True, "transfer_group": "collab_42", "description": "Escrow for collaboration 42",
        "metadata": {"collaboration_id": "42", "brand_id": "b7"}})

    assert intent.id.startswith("pi_")
    assert intent.status == "succeeded"
    assert intent.amount_received == 12_500
    assert intent.transfer_group == "collab_42"
    assert intent.description == "Escrow for collaboration 42"
    assert intent.metadata.to_dict() == {"collaboration_id": "42", "brand_id": "b7"}
    assert intent.livemode is False
    # As on Stripe since 2022-11-15: an id, not an embedded charge, and no `charges` list.
    assert isinstance(intent.latest_charge, str) and intent.latest_charge.startswith("ch_")
    assert "charges" not in intent

    charge = client.v1.charges.retrieve(intent.latest_charge)
    assert (charge.amount, charge.currency, charge.status, charge.paid) == (12_500, "eur", "succeeded", True)
    assert charge.payment_intent == intent.id
    assert charge.transfer_group == "collab_42"

    again = client.v1.payment_intents.retrieve(intent.id)
    assert again.transfer_group == "collab_42"
    expanded = client.v1.payment_intents.retrieve(intent.id, params={"expand": ["latest_charge"]})
    assert expanded.latest_charge.id == charge.id
    assert expanded.latest_charge.transfer_group == "collab_42"


def test_lists_and_search_carry_transfer_group(client: stripe.StripeClient, make_payment: PaymentMaker) -> None:
    first = make_payment(transfer_group="collab_a")
    second = make_payment(transfer_group="collab_b")

    listed = {pi.id: pi.transfer_group for pi in client.v1.payment_intents.list(params={"limit": 100}).data}
    assert listed == {first.id: "collab_a", second.id: "collab_b"}

    found = client.v1.payment_intents.search(params={"query": "metadata['collaboration_id']:'collab_b'"})
    assert [pi.id for pi in found.data] == [second.id]
    assert found.data[0].transfer_group == "collab_b"
    assert client.v1.payment_intents.search(params={
        "query": "status:'succeeded' AND amount>=10000 AND -metadata['collaboration_id']:'collab_b'"}).data[0].id \
        == first.id

    charges = client.v1.charges.list(params={"transfer_group": "collab_a"}).data
    assert [c.id for c in charges] == [first.latest_charge]
    assert charges[0].transfer_group == "collab_a"
    by_intent = client.v1.charges.list(params={"payment_intent": second.id}).data
    assert [c.id for c in by_intent] == [second.latest_charge]


def test_confirm_in_a_second_step_with_a_payment_method(client: stripe.StripeClient) -> None:
    intent = client.v1.payment_intents.create(params={
        "amount": 5_000, "currency": "eur", "transfer_group": "collab_7",
        "automatic_payment_methods": {"enabled": True, "allow_redirects": "never"}})
    assert intent.status == "requires_payment_method"
    assert intent.automatic_payment_methods.enabled is True

    confirmed = client.v1.payment_intents.confirm(intent.id, params={
        "payment_method": "pm_card_visa", "return_url": "http://127.0.0.1/paid"})

    assert confirmed.status == "succeeded"
    assert confirmed.transfer_group == "collab_7"
    assert client.v1.charges.retrieve(confirmed.latest_charge).transfer_group == "collab_7"


def test_setting_transfer_group_later_by_update(client: stripe.StripeClient) -> None:
    intent = client.v1.payment_intents.create(params={"amount": 3_000, "currency": "eur"})
    assert intent.transfer_group is None

    updated = client.v1.payment_intents.update(intent.id, params={"transfer_group": "collab_9",
                                                                  "metadata": {"collaboration_id": "9"}})

    assert updated.transfer_group == "collab_9"
    assert updated.metadata["collaboration_id"] == "9"


def test_declined_card_raises_card_error_with_the_payment_intent(client: stripe.StripeClient) -> None:
    with pytest.raises(stripe.CardError) as declined:
        client.v1.payment_intents.create(params={
            "amount": 2_000, "currency": "eur", "payment_method": "pm_card_chargeCustomerFail", "confirm": True,
            "transfer_group": "collab_declined"})

    assert declined.value.http_status == 402
    assert declined.value.code == "card_declined"
    intent = declined.value.json_body["error"]["payment_intent"]
    assert intent["status"] == "requires_payment_method"
    assert intent["transfer_group"] == "collab_declined"


def test_refunds_partial_full_and_over_refund(client: stripe.StripeClient, make_payment: PaymentMaker) -> None:
    intent = make_payment(amount=10_000)

    partial = client.v1.refunds.create(params={"payment_intent": intent.id, "amount": 4_000,
                                               "reason": "requested_by_customer",
                                               "metadata": {"collaboration_id": "collab_1"}})
    assert partial.id.startswith("re_")
    assert (partial.amount, partial.status, partial.reason) == (4_000, "succeeded", "requested_by_customer")
    assert partial.charge == intent.latest_charge
    assert client.v1.charges.retrieve(intent.latest_charge).amount_refunded == 4_000

    with pytest.raises(stripe.InvalidRequestError) as too_much:
        client.v1.refunds.create(params={"charge": intent.latest_charge, "amount": 6_001})
    assert too_much.value.code == "amount_too_large"
    assert too_much.value.param == "amount"

    rest = client.v1.refunds.create(params={"charge": intent.latest_charge})
    assert rest.amount == 6_000
    charge = client.v1.charges.retrieve(intent.latest_charge)
    assert (charge.amount_refunded, charge.refunded) == (10_000, True)

    with pytest.raises(stripe.InvalidRequestError) as again:
        client.v1.refunds.create(params={"payment_intent": intent.id})
    assert again.value.code == "charge_already_refunded"
    assert {r.id for r in client.v1.refunds.list(params={"payment_intent": intent.id}).data} == {partial.id, rest.id}


def test_errors_are_shaped_like_stripes(client: stripe.StripeClient, stack: StripeStack) -> None:
    with pytest.raises(stripe.InvalidRequestError) as unknown:
        client.v1.payment_intents.create(params={"amount": 1_000, "currency": "eur", "on_behalf_of": "acct_1x"})
    assert unknown.value.http_status == 400
    assert (unknown.value.code, unknown.value.param) == ("parameter_unknown", "on_behalf_of")

    with pytest.raises(stripe.InvalidRequestError) as missing:
        client.v1.payment_intents.retrieve("pi_doesnotexist")
    assert missing.value.http_status == 404
    assert missing.value.code == "resource_missing"
    assert "pi_doesnotexist" in str(missing.value.user_message)

    with pytest.raises(stripe.AuthenticationError):
        stripe.StripeClient("sk_live_real_key", base_addresses={"api": stack.api_base}).v1.payment_intents.list()

    raw = httpx.get(f"{stack.api_base}/v1/payment_intents")
    assert raw.status_code == 401
    assert raw.json()["error"]["type"] == "invalid_request_error"
    assert raw.headers["Request-Id"].startswith("req_")

    nowhere = httpx.get(f"{stack.api_base}/v1/no_such_things", headers={"Authorization": f"Bearer {stack.api_key}"})
    assert nowhere.status_code == 404
    assert nowhere.json()["error"]["message"].startswith("Unrecognized request URL (GET: /v1/no_such_things)")


def test_reset_forgets_localstripe_data_too(client: stripe.StripeClient, stack: StripeStack,
                                            make_payment: PaymentMaker) -> None:
    intent = make_payment()
    client.v1.accounts.create(params={"type": "express", "capabilities": {"transfers": {"requested": True}}})

    stack.reset()

    with pytest.raises(stripe.InvalidRequestError):
        client.v1.payment_intents.retrieve(intent.id)
    assert client.v1.accounts.list().data == []


async def test_async_sdk_calls_work_too(client: stripe.StripeClient) -> None:
    intent = await client.v1.payment_intents.create_async(params={
        "amount": 4_200, "currency": "eur", "payment_method": "pm_card_visa", "confirm": True,
        "transfer_group": "collab_async"}, options={"idempotency_key": "fund-collab_async"})
    assert intent.status == "succeeded"

    charge = await client.v1.charges.retrieve_async(intent.latest_charge)
    assert charge.transfer_group == "collab_async"
