"""Signed webhook delivery (ours and localstripe's), retries, duplicates, and chargebacks as disputes."""

from __future__ import annotations

import json
import time
from collections.abc import Callable

import httpx
import pytest
import stripe

from tests.fakes.stripe_server import sign_payload
from tests.fakes.stripe_stack import StripeStack, WebhookReceiver

PaymentMaker = Callable[..., stripe.PaymentIntent]
CreatorMaker = Callable[..., stripe.Account]


def test_localstripe_events_arrive_signed_with_transfer_group(webhooks: WebhookReceiver,
                                                              make_payment: PaymentMaker) -> None:
    intent = make_payment(transfer_group="collab_77")

    # localstripe waits a second before it sends; the stand-in relays, reshapes and signs it.
    [event] = webhooks.wait_for("payment_intent.succeeded", intent.id, timeout=10)

    assert event.id.startswith("evt_")
    assert event.api_version == stripe.api_version
    assert event.livemode is False
    payload = event.data.object
    assert payload["transfer_group"] == "collab_77"
    assert payload["latest_charge"] == intent.latest_charge
    assert payload["metadata"]["collaboration_id"] == "collab_77"
    assert webhooks.rejected == []


def test_signatures_are_real(stack: StripeStack, webhooks: WebhookReceiver, make_creator: CreatorMaker) -> None:
    creator = make_creator()
    [record] = [r for r in stack.event_records("account.updated")
                if r["event"]["data"]["object"]["id"] == creator.id]
    payload = json.dumps(record["event"], indent=2).encode()

    with pytest.raises(stripe.SignatureVerificationError):
        stripe.Webhook.construct_event(payload, sign_payload(payload, "whsec_wrong", int(time.time())),
                                       webhooks.secret)
    with pytest.raises(stripe.SignatureVerificationError):
        stripe.Webhook.construct_event(payload, sign_payload(payload, webhooks.secret, int(time.time()) - 600),
                                       webhooks.secret)
    event = stripe.Webhook.construct_event(payload, sign_payload(payload, webhooks.secret, int(time.time())),
                                           webhooks.secret)
    assert event.account == creator.id
    assert webhooks.wait_for("account.updated", creator.id)[0].id == event.id


def test_failed_deliveries_are_retried(stack: StripeStack, webhooks: WebhookReceiver,
                                       make_creator: CreatorMaker) -> None:
    webhooks.answer_with(500, 503, event_type="account.updated")

    creator = make_creator()

    [event] = webhooks.wait_for("account.updated", creator.id)
    assert webhooks.attempts[event.id] == 3
    # The receiver can see the third attempt before the stand-in has read its answer: poll the record.
    deadline = time.monotonic() + 2
    while True:
        [record] = [r for r in stack.event_records("account.updated") if r["event"]["id"] == event.id]
        statuses = [attempt["status"] for attempt in record["deliveries"]]
        if len(statuses) == 3 or time.monotonic() > deadline:
            break
        time.sleep(0.02)
    assert statuses == [500, 503, 200]


def test_resend_delivers_a_duplicate(stack: StripeStack, webhooks: WebhookReceiver, make_creator: CreatorMaker) -> None:
    creator = make_creator()
    [event] = webhooks.wait_for("account.updated", creator.id)

    stack.resend_event(event.id)

    first, duplicate = webhooks.wait_for("account.updated", creator.id, count=2)
    assert duplicate.id == first.id
    assert duplicate.to_dict() == first.to_dict()


def test_endpoints_can_subscribe_to_some_event_types(client: stripe.StripeClient, stack: StripeStack,
                                                     make_payment: PaymentMaker, make_creator: CreatorMaker) -> None:
    only_transfers = WebhookReceiver("whsec_transfers_only").start()
    try:
        # Form fields, as localstripe's own /_config/webhooks takes them (the stack helper sends JSON).
        registered = httpx.post(f"{stack.api_base}/_config/webhooks/transfers", data={
            "url": only_transfers.url, "secret": only_transfers.secret, "events[]": ["transfer.created"]})
        assert registered.status_code == 200
        assert registered.json()["events"] == ["transfer.created"]
        intent, creator = make_payment(), make_creator()
        transfer = client.v1.transfers.create(params={
            "amount": 1_000, "currency": "eur", "destination": creator.id,
            "source_transaction": intent.latest_charge})

        only_transfers.wait_for("transfer.created", transfer.id)
        assert {e.type for e in only_transfers.events} == {"transfer.created"}
    finally:
        stack.unregister_webhook("transfers")
        only_transfers.stop()


def test_events_are_readable_through_the_api(client: stripe.StripeClient, make_creator: CreatorMaker) -> None:
    creator = make_creator()

    events = client.v1.events.list(params={"type": "account.updated"})
    assert [e.data.object["id"] for e in events.data] == [creator.id]
    assert client.v1.events.retrieve(events.data[0].id).account == creator.id


def test_chargeback_opens_a_dispute_and_notifies(client: stripe.StripeClient, stack: StripeStack,
                                                 webhooks: WebhookReceiver, make_payment: PaymentMaker) -> None:
    intent = make_payment(amount=10_000)

    opened = stack.open_dispute(intent.latest_charge, reason="product_not_received")

    assert opened["id"].startswith("dp_")
    [created] = webhooks.wait_for("charge.dispute.created", opened["id"])
    dispute = created.data.object
    assert (dispute["object"], dispute["status"], dispute["reason"]) == ("dispute", "needs_response",
                                                                         "product_not_received")
    assert (dispute["amount"], dispute["currency"]) == (10_000, "eur")
    assert dispute["charge"] == intent.latest_charge
    assert dispute["payment_intent"] == intent.id
    assert client.v1.disputes.retrieve(opened["id"]).status == "needs_response"
    assert [d.id for d in client.v1.disputes.list(params={"charge": intent.latest_charge}).data] == [opened["id"]]
    assert client.v1.charges.retrieve(intent.latest_charge).disputed is True

    with pytest.raises(stripe.InvalidRequestError) as refund:
        client.v1.refunds.create(params={"payment_intent": intent.id})
    assert refund.value.code == "charge_disputed"

    stack.close_dispute(opened["id"], "lost")

    [closed] = webhooks.wait_for("charge.dispute.closed", opened["id"])
    assert closed.data.object["status"] == "lost"
    assert closed.data.previous_attributes["status"] == "needs_response"
    assert client.v1.disputes.retrieve(opened["id"]).status == "lost"


def test_partial_dispute_won_after_evidence(client: stripe.StripeClient, stack: StripeStack,
                                            webhooks: WebhookReceiver, make_payment: PaymentMaker) -> None:
    intent = make_payment(amount=10_000)
    opened = stack.open_dispute(intent.latest_charge, amount=4_000)

    updated = client.v1.disputes.update(opened["id"], params={
        "evidence": {"uncategorized_text": "The post went live on the agreed date."},
        "metadata": {"collaboration_id": "collab_1"}})
    assert updated.status == "under_review"
    stack.close_dispute(opened["id"], "won")

    webhooks.wait_for("charge.dispute.funds_reinstated", opened["id"])
    assert client.v1.disputes.retrieve(opened["id"]).status == "won"
    with pytest.raises(RuntimeError):
        stack.close_dispute(opened["id"], "lost")


def test_accepting_a_dispute_through_the_api_loses_it(client: stripe.StripeClient, stack: StripeStack,
                                                      make_payment: PaymentMaker) -> None:
    intent = make_payment()
    opened = stack.open_dispute(intent.latest_charge)

    accepted = client.v1.disputes.close(opened["id"])

    assert accepted.status == "lost"
    assert stack.wait_for_event("charge.dispute.closed")["data"]["object"]["id"] == opened["id"]


def test_disputing_an_unknown_charge_is_refused(stack: StripeStack) -> None:
    response = httpx.post(f"{stack.api_base}/_fake/charges/ch_1nothere/dispute", json={})
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "resource_missing"
