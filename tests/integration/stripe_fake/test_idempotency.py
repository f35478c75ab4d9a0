"""Idempotency-Key handling: replays without side effects, mismatches refused, concurrent duplicates run once."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import pytest
import stripe

from tests.fakes.stripe_stack import StripeStack

PaymentMaker = Callable[..., stripe.PaymentIntent]
CreatorMaker = Callable[..., stripe.Account]
BalanceOf = Callable[..., int]


def release_params(intent: stripe.PaymentIntent, account_id: str, amount: int = 8_000) -> dict[str, object]:
    return {"amount": amount, "currency": "eur", "destination": account_id,
            "source_transaction": intent.latest_charge, "transfer_group": intent.transfer_group,
            "metadata": {"collaboration_id": intent.transfer_group}}


def test_same_key_and_params_replays_without_a_second_transfer(
        client: stripe.StripeClient, stack: StripeStack, make_payment: PaymentMaker, make_creator: CreatorMaker,
        balance_of: BalanceOf) -> None:
    intent, creator = make_payment(), make_creator()
    options: stripe.RequestOptions = {"idempotency_key": "release:collab_1:v1"}

    first = client.v1.transfers.create(params=release_params(intent, creator.id), options=options)
    second = client.v1.transfers.create(params=release_params(intent, creator.id), options=options)

    assert second.id == first.id
    assert second.to_dict() == first.to_dict()
    assert first.last_response is not None and second.last_response is not None
    assert "Idempotent-Replayed" not in first.last_response.headers
    assert second.last_response.headers["Idempotent-Replayed"] == "true"
    assert second.last_response.headers["Original-Request"] == first.last_response.request_id
    assert second.last_response.idempotency_key == "release:collab_1:v1"
    assert [t.id for t in client.v1.transfers.list().data] == [first.id]
    assert balance_of(creator.id) == 8_000
    assert [e["data"]["object"]["id"] for e in stack.events("transfer.created")] == [first.id]


def test_same_key_with_different_params_is_an_idempotency_error(
        client: stripe.StripeClient, make_payment: PaymentMaker, make_creator: CreatorMaker) -> None:
    intent, creator = make_payment(), make_creator()
    options: stripe.RequestOptions = {"idempotency_key": "release:collab_1:v1"}
    client.v1.transfers.create(params=release_params(intent, creator.id, 8_000), options=options)

    with pytest.raises(stripe.IdempotencyError) as mismatch:
        client.v1.transfers.create(params=release_params(intent, creator.id, 9_000), options=options)

    assert mismatch.value.http_status == 400
    assert mismatch.value.json_body["error"]["type"] == "idempotency_error"
    assert "release:collab_1:v1" in str(mismatch.value.user_message)
    assert "same parameters" in str(mismatch.value.user_message)
    with pytest.raises(stripe.IdempotencyError) as other_endpoint:
        client.v1.refunds.create(params={"payment_intent": intent.id}, options=options)
    assert "same endpoint" in str(other_endpoint.value.user_message)
    assert len(client.v1.transfers.list().data) == 1
    assert client.v1.refunds.list(params={"payment_intent": intent.id}).data == []


def test_keys_are_scoped_per_api_key(client: stripe.StripeClient, stack: StripeStack, make_payment: PaymentMaker,
                                     make_creator: CreatorMaker) -> None:
    intent, creator = make_payment(), make_creator()
    options: stripe.RequestOptions = {"idempotency_key": "release:collab_1:v1"}
    other_platform = stripe.StripeClient("sk_test_another_platform", base_addresses={"api": stack.api_base})

    first = client.v1.transfers.create(params=release_params(intent, creator.id, 4_000), options=options)
    second = other_platform.v1.transfers.create(params=release_params(intent, creator.id, 4_000), options=options)

    assert first.id != second.id


def test_proxied_payment_intent_creation_is_idempotent_too(client: stripe.StripeClient) -> None:
    params = {"amount": 10_000, "currency": "eur", "payment_method": "pm_card_visa", "confirm": True,
              "transfer_group": "collab_3", "metadata": {"collaboration_id": "collab_3"}}
    options: stripe.RequestOptions = {"idempotency_key": "fund:collab_3"}

    first = client.v1.payment_intents.create(params=params, options=options)
    second = client.v1.payment_intents.create(params=params, options=options)

    assert second.id == first.id
    assert second.transfer_group == "collab_3"
    assert second.last_response is not None
    assert second.last_response.headers["Idempotent-Replayed"] == "true"
    assert [pi.id for pi in client.v1.payment_intents.list().data] == [first.id]


def test_validation_failures_are_not_kept_so_a_retry_can_succeed(
        client: stripe.StripeClient, stack: StripeStack, make_payment: PaymentMaker,
        make_creator: CreatorMaker) -> None:
    intent, creator = make_payment(), make_creator(onboarded=False)
    options: stripe.RequestOptions = {"idempotency_key": "release:collab_1:v1"}

    with pytest.raises(stripe.InvalidRequestError):
        client.v1.transfers.create(params=release_params(intent, creator.id), options=options)
    stack.complete_onboarding(creator.id)
    transfer = client.v1.transfers.create(params=release_params(intent, creator.id), options=options)

    assert transfer.amount == 8_000
    assert transfer.last_response is not None
    assert "Idempotent-Replayed" not in transfer.last_response.headers


def test_an_operation_that_began_keeps_its_error(client: stripe.StripeClient, stack: StripeStack,
                                                 make_payment: PaymentMaker, make_creator: CreatorMaker) -> None:
    intent, creator = make_payment(), make_creator()
    transfer = client.v1.transfers.create(params=release_params(intent, creator.id))
    stack.drain_balance(creator.id)
    options: stripe.RequestOptions = {"idempotency_key": f"reverse:{transfer.id}"}

    with pytest.raises(stripe.InvalidRequestError) as short:
        client.v1.transfers.reversals.create(transfer.id, options=options)
    with pytest.raises(stripe.InvalidRequestError) as replayed:
        client.v1.transfers.reversals.create(transfer.id, options=options)

    assert short.value.code == replayed.value.code == "balance_insufficient"
    assert replayed.value.headers is not None
    assert replayed.value.headers["Idempotent-Replayed"] == "true"


async def test_concurrent_requests_with_one_key_take_effect_once(
        client: stripe.StripeClient, stack: StripeStack, make_payment: PaymentMaker, make_creator: CreatorMaker,
        balance_of: BalanceOf) -> None:
    intent, creator = make_payment(amount=50_000), make_creator()
    options: stripe.RequestOptions = {"idempotency_key": "release:collab_1:v1"}
    params = release_params(intent, creator.id, 8_000)

    transfers = await asyncio.gather(*(client.v1.transfers.create_async(params=params, options=options)
                                       for _ in range(8)))

    assert {t.id for t in transfers} == {transfers[0].id}
    replayed = [t.last_response is not None and t.last_response.headers.get("Idempotent-Replayed") == "true"
                for t in transfers]
    assert replayed.count(False) == 1
    assert len(client.v1.transfers.list().data) == 1
    assert balance_of(creator.id) == 8_000
    assert len(stack.events("transfer.created")) == 1


async def test_concurrent_payment_intent_creation_with_one_key(client: stripe.StripeClient) -> None:
    params = {"amount": 10_000, "currency": "eur", "payment_method": "pm_card_visa", "confirm": True,
              "transfer_group": "collab_c"}
    options: stripe.RequestOptions = {"idempotency_key": "fund:collab_c"}

    intents = await asyncio.gather(*(client.v1.payment_intents.create_async(params=params, options=options)
                                     for _ in range(6)))

    assert len({i.id for i in intents}) == 1
    assert len(client.v1.payment_intents.list().data) == 1
