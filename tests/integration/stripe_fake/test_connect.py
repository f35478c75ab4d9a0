"""Creators' Express accounts and their onboarding through single-use, expiring account links."""

from __future__ import annotations

import time
from collections.abc import Callable

import pytest
import stripe

from tests.fakes.stripe_stack import StripeStack, WebhookReceiver

CreatorMaker = Callable[..., stripe.Account]
RETURN_URL = "http://127.0.0.1/creators/onboarding/done"
REFRESH_URL = "http://127.0.0.1/creators/onboarding/refresh"


def onboarding_link(client: stripe.StripeClient, account_id: str) -> stripe.AccountLink:
    return client.v1.account_links.create(params={"account": account_id, "type": "account_onboarding",
                                                  "refresh_url": REFRESH_URL, "return_url": RETURN_URL})


def test_new_express_account_cannot_receive_money_yet(client: stripe.StripeClient) -> None:
    account = client.v1.accounts.create(params={
        "type": "express", "country": "FR", "email": "maya@example.com", "business_type": "individual",
        "capabilities": {"transfers": {"requested": True}}, "metadata": {"creator_id": "c_17"}})

    assert account.id.startswith("acct_")
    assert account.object == "account"
    assert (account.type, account.country, account.default_currency) == ("express", "FR", "eur")
    assert account.details_submitted is False
    assert account.charges_enabled is False
    assert account.payouts_enabled is False
    assert account.capabilities.to_dict() == {"transfers": "inactive"}
    assert account.requirements.currently_due
    assert account.requirements.disabled_reason == "requirements.past_due"
    assert account.metadata["creator_id"] == "c_17"
    assert account.created <= int(time.time()) + 1


def test_express_account_needs_a_capability_and_known_params(client: stripe.StripeClient) -> None:
    with pytest.raises(stripe.InvalidRequestError) as no_capability:
        client.v1.accounts.create(params={"type": "express", "country": "FR"})
    assert no_capability.value.param == "capabilities"

    with pytest.raises(stripe.InvalidRequestError) as typo:
        client.v1.accounts.create(params={"type": "express", "capabilites": {"transfers": {"requested": True}}})
    assert (typo.value.code, typo.value.param) == ("parameter_unknown", "capabilites")

    with pytest.raises(stripe.InvalidRequestError) as missing:
        client.v1.accounts.retrieve("acct_1nothere")
    assert (missing.value.http_status, missing.value.code) == (404, "resource_missing")


def test_update_merges_metadata_and_list_paginates(client: stripe.StripeClient, make_creator: CreatorMaker) -> None:
    accounts = [make_creator(onboarded=False) for _ in range(3)]

    updated = client.v1.accounts.update(accounts[0].id, params={
        "email": "new@example.com", "metadata": {"tier": "gold", "creator_id": ""}})
    assert updated.email == "new@example.com"
    assert updated.metadata.to_dict() == {"tier": "gold"}

    page = client.v1.accounts.list(params={"limit": 2})
    assert page.object == "list" and page.url == "/v1/accounts"
    assert page.has_more is True
    assert [a.id for a in page.data] == [accounts[2].id, accounts[1].id]
    rest = client.v1.accounts.list(params={"limit": 2, "starting_after": page.data[-1].id})
    assert [a.id for a in rest.data] == [accounts[0].id]
    assert rest.has_more is False
    assert [a.id for a in page.auto_paging_iter()] == [a.id for a in reversed(accounts)]


def test_onboarding_link_activates_the_account_once(client: stripe.StripeClient, stack: StripeStack,
                                                    webhooks: WebhookReceiver, make_creator: CreatorMaker) -> None:
    account = make_creator(onboarded=False)
    link = onboarding_link(client, account.id)
    assert link.object == "account_link"
    assert link.url.startswith(f"{stack.api_base}/_fake/onboarding/")
    assert link.expires_at == link.created + 300

    assert stack.visit_link(link.url) == RETURN_URL

    active = client.v1.accounts.retrieve(account.id)
    assert active.details_submitted is True
    assert active.payouts_enabled is True
    assert active.capabilities["transfers"] == "active"
    assert active.requirements.currently_due == []
    assert active.requirements.disabled_reason is None
    [event] = webhooks.wait_for("account.updated", account.id)
    assert event.account == account.id
    assert event.data.object["capabilities"]["transfers"] == "active"
    assert event.data.previous_attributes["capabilities"]["transfers"] == "inactive"

    # Single use: the second visit goes to refresh_url and changes nothing.
    assert stack.visit_link(link.url) == REFRESH_URL
    assert client.v1.accounts.retrieve(account.id).to_dict() == active.to_dict()


def test_expired_link_goes_to_refresh_url_and_a_new_one_works(client: stripe.StripeClient, stack: StripeStack,
                                                               make_creator: CreatorMaker) -> None:
    account = make_creator(onboarded=False)
    stale = onboarding_link(client, account.id)

    stack.advance_clock(301)

    assert stack.visit_link(stale.url) == REFRESH_URL
    assert client.v1.accounts.retrieve(account.id).details_submitted is False
    fresh = onboarding_link(client, account.id)
    assert fresh.created >= stale.created + 300
    assert stack.visit_link(fresh.url) == RETURN_URL
    assert client.v1.accounts.retrieve(account.id).capabilities["transfers"] == "active"


def test_leaving_onboarding_early_returns_without_activating(client: stripe.StripeClient, stack: StripeStack,
                                                             make_creator: CreatorMaker) -> None:
    account = make_creator(onboarded=False)
    link = onboarding_link(client, account.id)

    # Stripe sends the creator to return_url even when they did not finish: the app must re-read the account.
    assert stack.visit_link(link.url, complete=False) == RETURN_URL

    assert client.v1.accounts.retrieve(account.id).capabilities["transfers"] == "inactive"
    assert stack.visit_link(link.url) == REFRESH_URL


def test_account_link_validation(client: stripe.StripeClient, make_creator: CreatorMaker) -> None:
    account = make_creator(onboarded=False)
    with pytest.raises(stripe.InvalidRequestError) as unknown_account:
        onboarding_link(client, "acct_1nothere")
    assert unknown_account.value.param == "account"
    with pytest.raises(stripe.InvalidRequestError) as no_return:
        client.v1.account_links.create(params={"account": account.id, "type": "account_onboarding",
                                               "refresh_url": REFRESH_URL})
    assert (no_return.value.code, no_return.value.param) == ("parameter_missing", "return_url")


def test_restricted_account_loses_its_transfers_capability(client: stripe.StripeClient, stack: StripeStack,
                                                           webhooks: WebhookReceiver,
                                                           make_creator: CreatorMaker) -> None:
    account = make_creator()
    assert account.capabilities["transfers"] == "active"

    stack.restrict_account(account.id)

    restricted = client.v1.accounts.retrieve(account.id)
    assert restricted.capabilities["transfers"] == "inactive"
    assert restricted.requirements.past_due == ["individual.verification.document"]
    events = webhooks.wait_for("account.updated", account.id, count=2)
    assert events[-1].data.object["capabilities"]["transfers"] == "inactive"


def test_stripe_account_header_is_checked(client: stripe.StripeClient, make_creator: CreatorMaker) -> None:
    creator = make_creator()

    balance = client.v1.balance.retrieve(options={"stripe_account": creator.id})
    assert [(b.currency, b.amount) for b in balance.available] == [("eur", 0)]
    with pytest.raises(stripe.PermissionError) as unknown:
        client.v1.balance.retrieve(options={"stripe_account": "acct_1nothere"})
    assert unknown.value.http_status == 403
    assert unknown.value.json_body["error"]["code"] == "account_invalid"
    # Acting as the creator on localstripe's endpoints would silently hit the platform: refused instead.
    with pytest.raises(stripe.InvalidRequestError) as unsupported:
        client.v1.payment_intents.list(options={"stripe_account": creator.id})
    assert "Stripe-Account" in str(unsupported.value.user_message)
