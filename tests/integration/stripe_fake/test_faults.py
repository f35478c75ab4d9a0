"""Fault injection: Stripe failing before or after doing the work, hanging, and how idempotent retries recover."""

from __future__ import annotations

import time
from collections.abc import Callable

import httpx
import pytest
import stripe

from tests.fakes.stripe_stack import StripeStack

PaymentMaker = Callable[..., stripe.PaymentIntent]
CreatorMaker = Callable[..., stripe.Account]
BalanceOf = Callable[..., int]


@pytest.fixture
def no_retry(stack: StripeStack) -> stripe.StripeClient:
    """A client that surfaces the first failure instead of letting the SDK retry it."""
    return stack.client(max_network_retries=0)


def release_params(intent: stripe.PaymentIntent, account_id: str) -> dict[str, object]:
    return {"amount": 8_000, "currency": "eur", "destination": account_id,
            "source_transaction": intent.latest_charge, "transfer_group": intent.transfer_group}


def test_failure_before_the_effect_changes_nothing(no_retry: stripe.StripeClient, stack: StripeStack,
                                                   make_payment: PaymentMaker, make_creator: CreatorMaker,
                                                   balance_of: BalanceOf) -> None:
    intent, creator = make_payment(), make_creator()
    options: stripe.RequestOptions = {"idempotency_key": "release:collab_1:v1"}
    stack.inject_fault(r"^/v1/transfers$", status=500)

    with pytest.raises(stripe.APIError) as failed:
        no_retry.v1.transfers.create(params=release_params(intent, creator.id), options=options)

    assert failed.value.http_status == 500
    assert no_retry.v1.transfers.list().data == []
    assert balance_of(creator.id) == 0
    retried = no_retry.v1.transfers.create(params=release_params(intent, creator.id), options=options)
    assert retried.last_response is not None
    assert "Idempotent-Replayed" not in retried.last_response.headers
    assert [t.id for t in no_retry.v1.transfers.list().data] == [retried.id]


def test_failure_after_the_effect_is_replayed_on_retry(no_retry: stripe.StripeClient, stack: StripeStack,
                                                       make_payment: PaymentMaker, make_creator: CreatorMaker,
                                                       balance_of: BalanceOf) -> None:
    intent, creator = make_payment(), make_creator()
    options: stripe.RequestOptions = {"idempotency_key": "release:collab_1:v1"}
    stack.inject_fault(r"^/v1/transfers$", status=502, after_effect=True)

    with pytest.raises(stripe.APIError):
        no_retry.v1.transfers.create(params=release_params(intent, creator.id), options=options)

    # Stripe did it; we just never heard back.
    [done] = no_retry.v1.transfers.list().data
    assert balance_of(creator.id) == 8_000
    retried = no_retry.v1.transfers.create(params=release_params(intent, creator.id), options=options)
    assert retried.id == done.id
    assert retried.last_response is not None
    assert retried.last_response.headers["Idempotent-Replayed"] == "true"
    assert len(no_retry.v1.transfers.list().data) == 1
    assert balance_of(creator.id) == 8_000


def test_sdk_retries_transparently_with_its_own_key(client: stripe.StripeClient, stack: StripeStack,
                                                    make_payment: PaymentMaker, make_creator: CreatorMaker) -> None:
    intent, creator = make_payment(), make_creator()
    retrying = stack.client(max_network_retries=2)
    stack.inject_fault(r"^/v1/transfers$", status=500, after_effect=True)

    # No key given: the SDK makes one up per call and reuses it for its own retries, so this still works...
    transfer = retrying.v1.transfers.create(params=release_params(intent, creator.id))

    assert transfer.last_response is not None
    assert transfer.last_response.headers["Idempotent-Replayed"] == "true"
    assert [t.id for t in client.v1.transfers.list().data] == [transfer.id]
    # ...but a second call (a re-run job) gets a new key and would pay twice: hence deterministic keys.
    retrying.v1.transfers.create(params={**release_params(intent, creator.id), "amount": 2_000})
    assert len(client.v1.transfers.list().data) == 2


def test_a_client_built_without_max_network_retries_does_not_retry(
        client: stripe.StripeClient, stack: StripeStack, make_payment: PaymentMaker,
        make_creator: CreatorMaker) -> None:
    intent, creator = make_payment(), make_creator()
    stack.inject_fault(r"^/v1/transfers$", status=500, after_effect=True)

    # SDK 16: StripeClient(max_network_retries=None) means 0 retries; only the global stripe.* API defaults to 2.
    with pytest.raises(stripe.APIError):
        client.v1.transfers.create(params=release_params(intent, creator.id))
    assert len(client.v1.transfers.list().data) == 1


def test_hanging_request_times_out_and_the_retry_takes_effect_once(
        stack: StripeStack, make_payment: PaymentMaker, make_creator: CreatorMaker, balance_of: BalanceOf) -> None:
    intent, creator = make_payment(), make_creator()
    impatient = stack.client(max_network_retries=0, http_client=stripe.RequestsClient(timeout=0.3))
    options: stripe.RequestOptions = {"idempotency_key": "release:collab_1:v1"}
    stack.inject_fault(r"^/v1/transfers$", status=None, delay=1.0)

    with pytest.raises(stripe.APIConnectionError):
        impatient.v1.transfers.create(params=release_params(intent, creator.id), options=options)
    retried = impatient.v1.transfers.create(params=release_params(intent, creator.id), options=options)

    # The timed-out request still runs once its delay is over, and finds the key already used.
    time.sleep(1.2)
    assert [t.id for t in impatient.v1.transfers.list().data] == [retried.id]
    assert balance_of(creator.id) == 8_000
    assert stack.http.get("/_fake/faults").json()["data"] == []


def test_faults_match_method_path_and_count(no_retry: stripe.StripeClient, stack: StripeStack,
                                            make_creator: CreatorMaker) -> None:
    creator = make_creator(onboarded=False)
    stack.inject_fault(r"^/v1/accounts/acct_", method="GET", status=503, times=2)

    no_retry.v1.accounts.update(creator.id, params={"metadata": {"tier": "gold"}})
    for _ in range(2):
        with pytest.raises(stripe.APIError):
            no_retry.v1.accounts.retrieve(creator.id)
    assert no_retry.v1.accounts.retrieve(creator.id).metadata["tier"] == "gold"

    stack.inject_fault(r"^/v1/accounts$", status=429, times=5)
    stack.clear_faults()
    assert no_retry.v1.accounts.list().data


def test_faults_apply_to_proxied_localstripe_calls(no_retry: stripe.StripeClient, stack: StripeStack) -> None:
    params = {"amount": 10_000, "currency": "eur", "payment_method": "pm_card_visa", "confirm": True,
              "transfer_group": "collab_f"}
    options: stripe.RequestOptions = {"idempotency_key": "fund:collab_f"}
    stack.inject_fault(r"^/v1/payment_intents$", status=500, after_effect=True)

    with pytest.raises(stripe.APIError):
        no_retry.v1.payment_intents.create(params=params, options=options)
    [created] = no_retry.v1.payment_intents.list().data

    replayed = no_retry.v1.payment_intents.create(params=params, options=options)
    assert replayed.id == created.id
    assert replayed.transfer_group == "collab_f"
    assert len(no_retry.v1.payment_intents.list().data) == 1


def test_fault_control_rejects_a_fault_without_path(stack: StripeStack) -> None:
    response = httpx.post(f"{stack.api_base}/_fake/faults", json={"method": "POST", "status": 500})
    assert response.status_code == 400
    assert stack.http.get("/_fake/faults").json()["data"] == []
