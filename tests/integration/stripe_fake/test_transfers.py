"""Releasing escrow to creators: transfers tied to the funding charge, their limits, reversals and balances."""

from __future__ import annotations

from collections.abc import Callable

import pytest
import stripe

from tests.fakes.stripe_stack import StripeStack, WebhookReceiver

PaymentMaker = Callable[..., stripe.PaymentIntent]
CreatorMaker = Callable[..., stripe.Account]
BalanceOf = Callable[..., int]


def release(client: stripe.StripeClient, intent: stripe.PaymentIntent, account_id: str, amount: int,
            **extra: object) -> stripe.Transfer:
    return client.v1.transfers.create(params={
        "amount": amount, "currency": intent.currency, "destination": account_id,
        "source_transaction": intent.latest_charge, "transfer_group": intent.transfer_group, **extra})


def test_transfer_from_the_funding_charge(client: stripe.StripeClient, webhooks: WebhookReceiver,
                                          make_payment: PaymentMaker, make_creator: CreatorMaker,
                                          balance_of: BalanceOf) -> None:
    intent = make_payment(amount=10_000, transfer_group="collab_5")
    creator = make_creator()
    assert balance_of(creator.id) == 0

    transfer = release(client, intent, creator.id, 8_500, metadata={"collaboration_id": "collab_5"},
                       description="Payout for collaboration 5")

    assert transfer.id.startswith("tr_")
    assert (transfer.object, transfer.amount, transfer.currency) == ("transfer", 8_500, "eur")
    assert transfer.destination == creator.id
    assert transfer.source_transaction == intent.latest_charge
    assert transfer.transfer_group == "collab_5"
    assert transfer.metadata["collaboration_id"] == "collab_5"
    assert (transfer.amount_reversed, transfer.reversed) == (0, False)
    assert transfer.reversals.total_count == 0
    assert balance_of(creator.id) == 8_500

    [event] = webhooks.wait_for("transfer.created", transfer.id)
    assert event.data.object["amount"] == 8_500
    assert client.v1.transfers.retrieve(transfer.id).to_dict() == transfer.to_dict()


def test_list_transfers_by_destination_and_group(client: stripe.StripeClient, make_payment: PaymentMaker,
                                                 make_creator: CreatorMaker) -> None:
    first, second = make_payment(transfer_group="collab_a"), make_payment(transfer_group="collab_b")
    maya, leo = make_creator(), make_creator()
    to_maya = release(client, first, maya.id, 5_000)
    to_leo = release(client, second, leo.id, 5_000)
    also_maya = release(client, second, maya.id, 1_000)

    by_destination = client.v1.transfers.list(params={"destination": maya.id})
    assert [t.id for t in by_destination.data] == [also_maya.id, to_maya.id]
    by_group = client.v1.transfers.list(params={"transfer_group": "collab_b"})
    assert {t.id for t in by_group.data} == {to_leo.id, also_maya.id}
    assert [t.id for t in client.v1.transfers.list(params={"limit": 1}).data] == [also_maya.id]


def test_transfer_to_an_account_not_onboarded_is_refused(client: stripe.StripeClient, make_payment: PaymentMaker,
                                                         make_creator: CreatorMaker, balance_of: BalanceOf) -> None:
    intent = make_payment()
    creator = make_creator(onboarded=False)

    with pytest.raises(stripe.InvalidRequestError) as refused:
        release(client, intent, creator.id, 5_000)

    assert refused.value.http_status == 400
    assert (refused.value.code, refused.value.param) == ("insufficient_capabilities_for_transfer", "destination")
    assert client.v1.transfers.list().data == []
    assert balance_of(creator.id) == 0


def test_transfers_cannot_exceed_the_source_charge(client: stripe.StripeClient, make_payment: PaymentMaker,
                                                   make_creator: CreatorMaker) -> None:
    intent = make_payment(amount=10_000)
    creator = make_creator()
    release(client, intent, creator.id, 7_000)

    with pytest.raises(stripe.InvalidRequestError) as over:
        release(client, intent, creator.id, 3_001)
    assert over.value.code == "balance_insufficient"

    release(client, intent, creator.id, 3_000)
    assert sum(t.amount for t in client.v1.transfers.list().data) == 10_000


def test_refunds_shrink_what_can_still_be_transferred(client: stripe.StripeClient, make_payment: PaymentMaker,
                                                      make_creator: CreatorMaker) -> None:
    intent = make_payment(amount=10_000)
    creator = make_creator()
    client.v1.refunds.create(params={"payment_intent": intent.id, "amount": 4_000})

    with pytest.raises(stripe.InvalidRequestError) as over:
        release(client, intent, creator.id, 6_001)
    assert over.value.code == "balance_insufficient"
    assert release(client, intent, creator.id, 6_000).amount == 6_000


def test_bad_source_transactions_are_refused(client: stripe.StripeClient, make_payment: PaymentMaker,
                                             make_creator: CreatorMaker) -> None:
    intent = make_payment(currency="eur")
    creator = make_creator()
    base = {"amount": 1_000, "destination": creator.id}

    with pytest.raises(stripe.InvalidRequestError) as wrong_currency:
        client.v1.transfers.create(params={**base, "currency": "usd", "source_transaction": intent.latest_charge})
    assert wrong_currency.value.param == "currency"
    with pytest.raises(stripe.InvalidRequestError) as intent_instead_of_charge:
        client.v1.transfers.create(params={**base, "currency": "eur", "source_transaction": intent.id})
    assert (intent_instead_of_charge.value.code, intent_instead_of_charge.value.param) == (
        "resource_missing", "source_transaction")
    with pytest.raises(stripe.InvalidRequestError) as no_such_charge:
        client.v1.transfers.create(params={**base, "currency": "eur", "source_transaction": "ch_1nothere"})
    assert no_such_charge.value.code == "resource_missing"
    with pytest.raises(stripe.InvalidRequestError) as no_such_account:
        client.v1.transfers.create(params={**base, "destination": "acct_1nothere", "currency": "eur"})
    assert no_such_account.value.param == "destination"
    with pytest.raises(stripe.InvalidRequestError) as no_amount:
        client.v1.transfers.create(params={"currency": "eur", "destination": creator.id})
    assert (no_amount.value.code, no_amount.value.param) == ("parameter_missing", "amount")
    assert client.v1.transfers.list().data == []


def test_without_source_transaction_the_platform_balance_must_cover_it(
        client: stripe.StripeClient, stack: StripeStack, make_creator: CreatorMaker, balance_of: BalanceOf) -> None:
    creator = make_creator()
    params = {"amount": 2_000, "currency": "eur", "destination": creator.id}

    with pytest.raises(stripe.InvalidRequestError) as broke:
        client.v1.transfers.create(params=params)
    assert broke.value.code == "balance_insufficient"

    stack.top_up_platform(5_000, "eur")
    client.v1.transfers.create(params=params)
    platform = client.v1.balance.retrieve()
    assert [(b.currency, b.amount) for b in platform.available] == [("eur", 3_000)]
    assert balance_of(creator.id) == 2_000


def test_reversals_take_money_back_from_the_creator(client: stripe.StripeClient, webhooks: WebhookReceiver,
                                                    make_payment: PaymentMaker, make_creator: CreatorMaker,
                                                    balance_of: BalanceOf) -> None:
    intent = make_payment(amount=10_000)
    creator = make_creator()
    transfer = release(client, intent, creator.id, 8_000)

    partial = client.v1.transfers.reversals.create(transfer.id, params={
        "amount": 3_000, "metadata": {"reason": "brand refund"}, "refund_application_fee": False})

    assert partial.id.startswith("trr_")
    assert (partial.object, partial.amount, partial.transfer) == ("transfer_reversal", 3_000, transfer.id)
    assert partial.metadata["reason"] == "brand refund"
    after = client.v1.transfers.retrieve(transfer.id)
    assert (after.amount_reversed, after.reversed) == (3_000, False)
    assert [r.id for r in after.reversals.data] == [partial.id]
    assert balance_of(creator.id) == 5_000
    [event] = webhooks.wait_for("transfer.reversed", transfer.id)
    assert event.data.object["amount_reversed"] == 3_000
    assert event.data.previous_attributes["amount_reversed"] == 0

    rest = client.v1.transfers.reversals.create(transfer.id)
    assert rest.amount == 5_000
    done = client.v1.transfers.retrieve(transfer.id)
    assert (done.amount_reversed, done.reversed) == (8_000, True)
    assert [r.id for r in client.v1.transfers.reversals.list(transfer.id).data] == [rest.id, partial.id]
    assert client.v1.transfers.reversals.retrieve(transfer.id, partial.id).amount == 3_000
    assert balance_of(creator.id) == 0

    with pytest.raises(stripe.InvalidRequestError):
        client.v1.transfers.reversals.create(transfer.id, params={"amount": 1})
    # Reversed funds leave room to transfer from the charge again.
    assert release(client, intent, creator.id, 10_000).amount == 10_000


def test_reversal_fails_once_the_creator_has_paid_out(client: stripe.StripeClient, stack: StripeStack,
                                                      make_payment: PaymentMaker, make_creator: CreatorMaker,
                                                      balance_of: BalanceOf) -> None:
    intent = make_payment(amount=10_000)
    creator = make_creator()
    transfer = release(client, intent, creator.id, 8_000)

    payout = stack.drain_balance(creator.id, amount=6_500)
    assert (payout["object"], payout["amount"], payout["status"]) == ("payout", 6_500, "paid")
    assert balance_of(creator.id) == 1_500

    with pytest.raises(stripe.InvalidRequestError) as short:
        client.v1.transfers.reversals.create(transfer.id, params={"amount": 8_000})
    assert short.value.http_status == 400
    assert short.value.code == "balance_insufficient"
    assert client.v1.transfers.retrieve(transfer.id).amount_reversed == 0
    assert balance_of(creator.id) == 1_500

    # What is left can still be recovered; the shortfall is the platform's to chase.
    assert client.v1.transfers.reversals.create(transfer.id, params={"amount": 1_500}).amount == 1_500
    assert balance_of(creator.id) == 0


def test_refund_after_release_is_paired_with_a_reversal(client: stripe.StripeClient, make_payment: PaymentMaker,
                                                        make_creator: CreatorMaker, balance_of: BalanceOf) -> None:
    intent = make_payment(amount=10_000)
    creator = make_creator()
    transfer = release(client, intent, creator.id, 9_000)

    client.v1.transfers.reversals.create(transfer.id)
    refund = client.v1.refunds.create(params={"payment_intent": intent.id})

    assert refund.amount == 10_000
    assert balance_of(creator.id) == 0
    assert [(b.currency, b.amount) for b in client.v1.balance.retrieve().available] == [("eur", 9_000)]
    with pytest.raises(stripe.InvalidRequestError) as nothing_left:
        release(client, intent, creator.id, 1)
    assert nothing_left.value.code == "balance_insufficient"
