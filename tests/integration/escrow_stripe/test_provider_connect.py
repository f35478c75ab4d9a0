"""StripeProvider against the stateful stand-in: Express accounts, account links, transfers, reversals, errors."""

from __future__ import annotations

import asyncio

import pytest

from escrow.providers.base import (
    DefinitiveProviderError,
    Funding,
    InsufficientBalance,
    Transfer,
    TransferStatus,
    TransientProviderError,
)
from escrow.providers.stripe import StripeProvider
from tests.fakes.stripe_stack import StripeStack
from tests.support.stripe import make_provider, pay

RETURN_URL = "http://testserver.local/creator/payments/onboarding/done"
REFRESH_URL = "http://testserver.local/creator/payments/onboarding/refresh"


async def paid_funding(provider: StripeProvider, stack: StripeStack, amount: int = 10_800,
                       group: str = "collab_c1") -> Funding:
    funding = await provider.create_funding(
        amount=amount, currency="EUR", idempotency_key=f"{group}:fund", transfer_group=group,
        description="Escrow", metadata={"collaboration_id": group}, return_url="http://testserver.local/")
    pay(stack, funding.ref)
    return await provider.retrieve_funding(funding.ref)


async def onboarded_creator(provider: StripeProvider, stack: StripeStack, key: str = "creator:k1:account") -> str:
    account = await provider.create_payout_account(email="maya@example.com", country="FR", idempotency_key=key,
                                                   metadata={"creator_id": "k1"})
    link = await provider.onboarding_link(account_ref=account.ref, refresh_url=REFRESH_URL, return_url=RETURN_URL)
    assert stack.visit_link(link) == RETURN_URL
    return account.ref


def creator_balance(stack: StripeStack, account: str) -> int:
    balance = stack.client().v1.balance.retrieve(options={"stripe_account": account})
    return sum(entry.amount for entry in balance.available if entry.currency == "eur")


async def release(provider: StripeProvider, funding: Funding, account: str, amount: int = 10_000,
                  key: str = "collab:c1:release:1") -> Transfer:
    return await provider.transfer(destination=account, amount=amount, currency="EUR",
                                   source_charge_ref=funding.charge_ref, transfer_group="collab_c1",
                                   idempotency_key=key, metadata={"collaboration_id": "c1"})


# -- payout accounts ----------------------------------------------------------------------------------------------


async def test_express_account_is_not_ready_until_onboarded(provider: StripeProvider, stack: StripeStack) -> None:
    account = await provider.create_payout_account(email="maya@example.com", country="FR",
                                                   idempotency_key="creator:k1:account", metadata={"creator_id": "k1"})
    again = await provider.create_payout_account(email="maya@example.com", country="FR",
                                                 idempotency_key="creator:k1:account", metadata={"creator_id": "k1"})

    assert account.ref.startswith("acct_") and again.ref == account.ref
    assert (account.transfers_active, account.details_submitted, account.payouts_enabled) == (False, False, False)
    assert "external_account" in account.requirements_due
    stored = stack.client().v1.accounts.retrieve(account.ref)
    assert stored.type == "express"
    assert stored.capabilities.to_dict() == {"transfers": "inactive"}
    assert stored.metadata["creator_id"] == "k1"

    link = await provider.onboarding_link(account_ref=account.ref, refresh_url=REFRESH_URL, return_url=RETURN_URL)
    assert stack.visit_link(link) == RETURN_URL

    ready = await provider.retrieve_payout_account(account.ref)
    assert (ready.transfers_active, ready.details_submitted, ready.payouts_enabled) == (True, True, True)
    assert ready.requirements_due == ()


async def test_used_or_expired_links_send_the_creator_to_refresh_which_mints_a_new_one(
        provider: StripeProvider, stack: StripeStack) -> None:
    account = await provider.create_payout_account(email="maya@example.com", country="FR",
                                                   idempotency_key="creator:k1:account", metadata={})
    abandoned = await provider.onboarding_link(account_ref=account.ref, refresh_url=REFRESH_URL,
                                               return_url=RETURN_URL)
    assert stack.visit_link(abandoned, complete=False) == RETURN_URL
    assert stack.visit_link(abandoned) == REFRESH_URL
    expired = await provider.onboarding_link(account_ref=account.ref, refresh_url=REFRESH_URL, return_url=RETURN_URL)
    stack.advance_clock(301)
    assert stack.visit_link(expired) == REFRESH_URL
    assert not (await provider.retrieve_payout_account(account.ref)).transfers_active

    fresh = await provider.onboarding_link(account_ref=account.ref, refresh_url=REFRESH_URL, return_url=RETURN_URL)

    assert fresh != expired
    assert stack.visit_link(fresh) == RETURN_URL
    assert (await provider.retrieve_payout_account(account.ref)).transfers_active


async def test_link_for_an_unknown_account_is_definitive(provider: StripeProvider) -> None:
    with pytest.raises(DefinitiveProviderError) as unknown:
        await provider.onboarding_link(account_ref="acct_1nothere", refresh_url=REFRESH_URL, return_url=RETURN_URL)
    assert unknown.value.code == "resource_missing"


# -- transfers ----------------------------------------------------------------------------------------------------


async def test_release_is_a_transfer_tied_to_the_funding_charge(provider: StripeProvider, stack: StripeStack) -> None:
    funding = await paid_funding(provider, stack)
    account = await onboarded_creator(provider, stack)

    transfer = await release(provider, funding, account)

    assert transfer.ref.startswith("tr_")
    assert transfer.status is TransferStatus.PAID
    assert (transfer.amount, transfer.currency, transfer.destination) == (10_000, "EUR", account)
    stored = stack.client().v1.transfers.retrieve(transfer.ref)
    assert stored.source_transaction == funding.charge_ref
    assert stored.transfer_group == "collab_c1"
    assert stored.metadata["idempotency_key"] == "collab:c1:release:1"
    assert creator_balance(stack, account) == 10_000
    # The 800 platform fee stays on the platform: nothing else was transferred.
    assert [t.ref for t in await provider.list_transfers(transfer_group="collab_c1")] == [transfer.ref]


async def test_same_key_same_params_pays_once_other_params_are_refused(provider: StripeProvider,
                                                                      stack: StripeStack) -> None:
    funding = await paid_funding(provider, stack)
    account = await onboarded_creator(provider, stack)

    first = await release(provider, funding, account)
    replay = await release(provider, funding, account)
    with pytest.raises(DefinitiveProviderError) as mismatch:
        await release(provider, funding, account, amount=9_000)

    assert replay.ref == first.ref
    assert mismatch.value.code == "idempotency_error"
    assert len(await provider.list_transfers(transfer_group="collab_c1")) == 1
    assert creator_balance(stack, account) == 10_000


async def test_no_transfer_to_an_account_that_cannot_receive(provider: StripeProvider, stack: StripeStack) -> None:
    funding = await paid_funding(provider, stack)
    pending = await provider.create_payout_account(email="maya@example.com", country="FR",
                                                   idempotency_key="creator:k1:account", metadata={})

    with pytest.raises(DefinitiveProviderError) as not_ready:
        await release(provider, funding, pending.ref)

    assert not_ready.value.code == "account_not_ready"
    assert "external_account" in not_ready.value.message
    assert await provider.list_transfers(transfer_group="collab_c1") == []


async def test_a_restricted_account_still_finds_the_transfer_made_before(provider: StripeProvider,
                                                                         stack: StripeStack) -> None:
    funding = await paid_funding(provider, stack)
    account = await onboarded_creator(provider, stack)
    first = await release(provider, funding, account)
    stack.restrict_account(account)

    replay = await release(provider, funding, account)

    assert replay.ref == first.ref
    with pytest.raises(DefinitiveProviderError):
        await release(provider, funding, account, key="collab:c1:release:2")


async def test_transfer_beyond_the_source_charge_is_insufficient_balance(provider: StripeProvider,
                                                                         stack: StripeStack) -> None:
    funding = await paid_funding(provider, stack)
    account = await onboarded_creator(provider, stack)

    with pytest.raises(InsufficientBalance) as short:
        await release(provider, funding, account, amount=10_801)

    assert short.value.code == "balance_insufficient"
    assert not short.value.transient
    assert await provider.list_transfers(transfer_group="collab_c1") == []


async def test_refund_after_a_transfer_is_paired_with_a_reversal(provider: StripeProvider,
                                                                 stack: StripeStack) -> None:
    funding = await paid_funding(provider, stack)
    account = await onboarded_creator(provider, stack)
    transfer = await release(provider, funding, account)

    reversal = await provider.reverse_transfer(transfer_ref=transfer.ref, amount=10_000,
                                               idempotency_key="collab:c1:reverse:1", metadata={"reason": "chargeback"})
    replay = await provider.reverse_transfer(transfer_ref=transfer.ref, amount=10_000,
                                             idempotency_key="collab:c1:reverse:1", metadata={"reason": "chargeback"})
    refund = await provider.refund(funding_ref=funding.ref, amount=10_800, currency="EUR",
                                   idempotency_key="collab:c1:refund:1", metadata={})

    assert replay.ref == reversal.ref
    assert (reversal.amount, reversal.currency, reversal.transfer_ref) == (10_000, "EUR", transfer.ref)
    assert creator_balance(stack, account) == 0
    after = await provider.retrieve_transfer(transfer.ref)
    assert (after.status, after.amount_reversed) == (TransferStatus.REVERSED, 10_000)
    assert refund.amount == 10_800
    assert (await provider.retrieve_funding(funding.ref)).amount_refunded == 10_800


async def test_reversal_after_the_creator_was_paid_out_is_insufficient_balance(provider: StripeProvider,
                                                                              stack: StripeStack) -> None:
    funding = await paid_funding(provider, stack)
    account = await onboarded_creator(provider, stack)
    transfer = await release(provider, funding, account)
    stack.drain_balance(account, 6_000)

    with pytest.raises(InsufficientBalance):
        await provider.reverse_transfer(transfer_ref=transfer.ref, amount=10_000,
                                        idempotency_key="collab:c1:reverse:1", metadata={})
    partial = await provider.reverse_transfer(transfer_ref=transfer.ref, amount=4_000,
                                              idempotency_key="collab:c1:reverse:2", metadata={})

    assert partial.amount == 4_000
    assert (await provider.retrieve_transfer(transfer.ref)).amount_reversed == 4_000


# -- errors: transient vs definitive ------------------------------------------------------------------------------


@pytest.mark.parametrize("status", [500, 502, 503, 429, 409])
async def test_server_errors_rate_limits_and_conflicts_are_transient(provider: StripeProvider, stack: StripeStack,
                                                                     status: int) -> None:
    funding = await paid_funding(provider, stack)
    account = await onboarded_creator(provider, stack)
    stack.inject_fault(r"^/v1/transfers$", status=status)

    with pytest.raises(TransientProviderError) as failed:
        await release(provider, funding, account)

    assert failed.value.transient and failed.value.http_status == status
    assert await provider.list_transfers(transfer_group="collab_c1") == []
    # The retry with the same key goes through, once.
    assert (await release(provider, funding, account)).amount == 10_000
    assert len(await provider.list_transfers(transfer_group="collab_c1")) == 1


async def test_done_but_unheard_is_transient_and_the_same_key_replays(provider: StripeProvider,
                                                                      stack: StripeStack) -> None:
    funding = await paid_funding(provider, stack)
    account = await onboarded_creator(provider, stack)
    stack.inject_fault(r"^/v1/transfers$", status=500, after_effect=True)

    with pytest.raises(TransientProviderError):
        await release(provider, funding, account)
    [made] = await provider.list_transfers(transfer_group="collab_c1")
    retried = await release(provider, funding, account)

    assert retried.ref == made.ref
    assert creator_balance(stack, account) == 10_000


async def test_timeouts_are_transient_and_the_late_request_takes_effect_once(stack: StripeStack) -> None:
    impatient = make_provider(stack, timeout=0.3)
    try:
        funding = await paid_funding(impatient, stack)
        account = await onboarded_creator(impatient, stack)
        stack.inject_fault(r"^/v1/transfers$", status=None, delay=1.0)

        with pytest.raises(TransientProviderError) as timed_out:
            await release(impatient, funding, account)
        assert timed_out.value.code == "connection_error"
        retried = await release(impatient, funding, account)

        await asyncio.sleep(1.1)
        assert [t.ref for t in await impatient.list_transfers(transfer_group="collab_c1")] == [retried.ref]
        assert creator_balance(stack, account) == 10_000
    finally:
        await impatient.aclose()


async def test_sdk_retries_reuse_our_key(stack: StripeStack) -> None:
    """The client's own retries (2, deliberately) carry the caller's key: a 500 after the effect costs nothing."""
    patient = make_provider(stack, retries=2)
    try:
        funding = await paid_funding(patient, stack)
        account = await onboarded_creator(patient, stack)
        stack.inject_fault(r"^/v1/transfers$", status=503, after_effect=True)

        transfer = await release(patient, funding, account)

        assert [t.ref for t in await patient.list_transfers(transfer_group="collab_c1")] == [transfer.ref]
        assert creator_balance(stack, account) == 10_000
    finally:
        await patient.aclose()


async def test_unreachable_stripe_is_transient(stack: StripeStack) -> None:
    nowhere = StripeProvider(stack.api_key, api_base="http://127.0.0.1:9", max_network_retries=0)
    with pytest.raises(TransientProviderError) as unreachable:
        await nowhere.retrieve_payout_account("acct_1x")
    assert unreachable.value.code == "connection_error"


async def test_a_wrong_key_pauses_instead_of_voiding(stack: StripeStack) -> None:
    wrong = StripeProvider("sk_live_not_for_tests", api_base=stack.api_base, max_network_retries=0)
    try:
        with pytest.raises(TransientProviderError) as rejected:
            await wrong.retrieve_payout_account("acct_1x")
        assert rejected.value.code == "authentication_error"
    finally:
        await wrong.aclose()


async def test_invalid_requests_are_definitive(provider: StripeProvider, stack: StripeStack) -> None:
    funding = await paid_funding(provider, stack)
    with pytest.raises(DefinitiveProviderError) as unknown:
        await provider.retrieve_funding("pi_1nothere")
    assert unknown.value.code == "resource_missing" and not unknown.value.transient
    stack.inject_fault(r"^/v1/refunds$", status=400)
    with pytest.raises(DefinitiveProviderError):
        await provider.refund(funding_ref=funding.ref, amount=100, currency="EUR", idempotency_key="r", metadata={})
