"""Escrow through its services with the simulated provider: fund, release, refund, freeze and split, with the
collaboration moved by the bridge and the ledger checked after each story."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from escrow import ledger
from escrow.models import CallStatus, ProviderCall
from escrow.states import EscrowState
from marketplace.collaborations.states import CollabState
from marketplace.db import session_scope
from marketplace.errors import InvalidInput
from marketplace.notifications.models import Notification
from marketplace.payments import gateway, hooks
from marketplace.payments import services as payments
from tests.support.deals import make_deal
from tests.support.escrow import (
    assert_ledger_invariants,
    balance,
    calls_of,
    collab_state,
    fund,
    funded_deal,
    hold_of,
    onboard_creator,
    pay_checkout,
    run_jobs,
    simulated,
    start_funding,
)


async def _approve_and_release(runtime, deal) -> None:
    from marketplace.collaborations.models import Collaboration

    async with session_scope(runtime.session_maker) as session:
        collab = await session.get(Collaboration, deal.id)
        await hooks.release_to_creator(session, collab, now=runtime.clock.now(), reason="post_approved",
                                       settings=runtime.settings)


async def _refund(runtime, deal, reason: str = "creator_ghosted") -> None:
    from marketplace.collaborations.models import Collaboration

    async with session_scope(runtime.session_maker) as session:
        collab = await session.get(Collaboration, deal.id)
        await hooks.refund_to_brand(session, collab, now=runtime.clock.now(), reason=reason, settings=runtime.settings)


async def test_funding_holds_the_fee_plus_platform_fee_and_marks_the_deal_funded(runtime, db) -> None:
    deal = await make_deal(runtime, CollabState.SIGNED, fee_amount=15_000)
    await start_funding(runtime, deal)
    hold = await hold_of(db, deal.id)
    assert hold.state is EscrowState.FUNDING and hold.funding_ref is None
    assert await collab_state(db, deal.id) is CollabState.SIGNED
    await run_jobs(runtime)
    hold = await hold_of(db, deal.id)
    assert hold.funding_ref and hold.checkout_url.startswith("/payments/simulated/checkout")
    await pay_checkout(runtime, deal)

    hold = await hold_of(db, deal.id)
    assert hold.state is EscrowState.FUNDED
    assert (hold.creator_amount, hold.platform_fee_amount, hold.funded_amount) == (15_000, 1_200, 16_200)
    assert await collab_state(db, deal.id) is CollabState.FUNDED
    assert await balance(db, ledger.escrow_held(hold.id)) == 16_200
    # The simulated processing fee (2.9% + 30) is PostPact's expense, paid out of platform cash.
    assert hold.provider_fee_amount == (16_200 * 290 + 5_000) // 10_000 + 30
    assert await balance(db, ledger.provider_fee_expense()) == hold.provider_fee_amount
    assert await balance(db, ledger.platform_cash()) == 16_200 - hold.provider_fee_amount
    kinds = set(await db.scalars(sa.select(Notification.kind)))
    assert "payment.funded" in kinds
    await assert_ledger_invariants(db)


async def test_funding_twice_returns_the_same_payment(runtime, db) -> None:
    deal = await make_deal(runtime, CollabState.SIGNED)
    await start_funding(runtime, deal)
    await start_funding(runtime, deal)
    hold = await hold_of(db, deal.id)
    assert len(await calls_of(db, hold.id, "create_funding")) == 1
    await run_jobs(runtime)
    assert len(await simulated(runtime).objects("funding")) == 1


async def test_release_pays_the_creator_in_full_and_earns_the_fee(runtime, db) -> None:
    deal = await funded_deal(runtime, CollabState.VERIFIED, onboarded=True, fee_amount=15_000)
    await _approve_and_release(runtime, deal)
    hold = await hold_of(db, deal.id)
    assert hold.state is EscrowState.RELEASE_PENDING
    await run_jobs(runtime)

    hold = await hold_of(db, deal.id)
    assert hold.state is EscrowState.RELEASED
    assert (hold.released_creator_amount, hold.released_fee_amount, hold.held_amount) == (15_000, 1_200, 0)
    assert await collab_state(db, deal.id) is CollabState.RELEASED
    transfers = await simulated(runtime).objects("transfer")
    assert [t.data["amount"] for t in transfers] == [15_000]
    assert await balance(db, ledger.platform_fee_revenue()) == 1_200
    assert await balance(db, ledger.creator_payable(deal.creator.creator_id)) == 0
    await assert_ledger_invariants(db)


async def test_release_waits_for_payout_onboarding_then_goes_out(runtime, db) -> None:
    deal = await funded_deal(runtime, CollabState.VERIFIED)
    await _approve_and_release(runtime, deal)
    await run_jobs(runtime)
    hold = await hold_of(db, deal.id)
    assert hold.state is EscrowState.RELEASE_PENDING
    assert "set up payouts" in hold.last_message
    [call] = await calls_of(db, hold.id, "transfer")
    assert call.status is CallStatus.WAITING and call.attempts == 0
    assert await simulated(runtime).objects("transfer") == []

    await onboard_creator(runtime, deal.creator)
    hold = await hold_of(db, deal.id)
    assert hold.state is EscrowState.RELEASED
    assert await collab_state(db, deal.id) is CollabState.RELEASED
    await assert_ledger_invariants(db)


async def test_ghost_refund_returns_everything_the_brand_paid(runtime, db) -> None:
    deal = await funded_deal(runtime, CollabState.GHOSTED, fee_amount=9_999)  # the ghosting asked for the refund
    await run_jobs(runtime)
    hold = await hold_of(db, deal.id)
    assert hold.state is EscrowState.REFUNDED
    assert hold.refunded_amount == hold.funded_amount == 9_999 + 800  # 8% of 99.99 rounds to 8.00
    [refund] = await simulated(runtime).objects("refund")
    assert refund.data["amount"] == hold.funded_amount
    assert await balance(db, ledger.platform_fee_revenue()) == 0
    await assert_ledger_invariants(db)


async def test_a_second_release_or_a_refund_after_release_is_refused(runtime, db) -> None:
    deal = await funded_deal(runtime, CollabState.VERIFIED, onboarded=True)
    await _approve_and_release(runtime, deal)
    with pytest.raises(hooks.EscrowRefused):
        await _approve_and_release(runtime, deal)
    with pytest.raises(hooks.EscrowRefused):
        await _refund(runtime, deal)
    await run_jobs(runtime)
    with pytest.raises(hooks.EscrowRefused):
        await _refund(runtime, deal)
    assert len(await simulated(runtime).objects("transfer")) == 1
    assert await simulated(runtime).objects("refund") == []
    await assert_ledger_invariants(db)


async def test_declined_card_fails_the_funding_and_a_retry_works(runtime, db) -> None:
    deal = await make_deal(runtime, CollabState.SIGNED)
    await start_funding(runtime, deal)
    await run_jobs(runtime)
    await pay_checkout(runtime, deal, succeed=False)
    hold = await hold_of(db, deal.id)
    assert hold.state is EscrowState.FUNDING_FAILED and "declined" in hold.last_message
    assert await collab_state(db, deal.id) is CollabState.SIGNED
    await fund(runtime, deal)
    hold = await hold_of(db, deal.id)
    assert hold.state is EscrowState.FUNDED and hold.funded_amount == hold.gross_amount
    assert len(await calls_of(db, hold.id, "create_funding")) == 2
    await assert_ledger_invariants(db)


async def test_payment_after_the_deal_was_cancelled_is_returned(runtime, db) -> None:
    deal = await make_deal(runtime, CollabState.SIGNED)
    await start_funding(runtime, deal)
    await run_jobs(runtime)
    # The brand cancels while its checkout tab is still open...
    from marketplace.collaborations.services import DealService
    from tests.support.deals import brand_actor

    async with session_scope(runtime.session_maker) as session:
        await DealService.of(session, runtime).end_deal(deal.id, brand_actor(deal.brand), reason="changed plans")
    await _refund(runtime, deal, "cancel")  # a second call changes nothing
    assert (await hold_of(db, deal.id)).state is EscrowState.CANCELLED
    # ...then pays anyway: the money is not held for a dead deal, it goes straight back.
    await pay_checkout(runtime, deal)
    await run_jobs(runtime)
    hold = await hold_of(db, deal.id)
    assert hold.state is EscrowState.CANCELLED and hold.funded_amount == 0
    [refund] = await simulated(runtime).objects("refund")
    assert refund.data["amount"] == hold.gross_amount
    assert await balance(db, ledger.brand_funding(deal.brand.brand_id)) == 0
    assert await balance(db, ledger.refunds(deal.brand.brand_id)) == 0
    await assert_ledger_invariants(db)


async def test_bulk_funding_starts_one_payment_per_deal_with_its_own_key(runtime, db) -> None:
    first = await make_deal(runtime, CollabState.SIGNED)
    deals = [first] + [await make_deal(runtime, CollabState.SIGNED, brand=first.brand) for _ in range(4)]
    from tests.support.escrow import actor_of

    brand = await actor_of(runtime, first.brand)
    async with session_scope(runtime.session_maker) as session:
        await payments.fund_collaborations(session, brand, [d.id for d in deals], now=runtime.clock.now(),
                                           settings=runtime.settings)
    keys = list(await db.scalars(sa.select(ProviderCall.idempotency_key).where(
        ProviderCall.operation == "create_funding")))
    assert sorted(keys) == sorted(f"collab:{d.id}:fund:1" for d in deals)
    await run_jobs(runtime)
    assert len(await simulated(runtime).objects("funding")) == 5


async def test_bulk_funding_is_all_or_nothing(runtime, db) -> None:
    signed = await make_deal(runtime, CollabState.SIGNED)
    offered = await make_deal(runtime, CollabState.OFFERED, brand=signed.brand)
    from tests.support.escrow import actor_of

    brand = await actor_of(runtime, signed.brand)
    with pytest.raises(InvalidInput) as err:
        async with session_scope(runtime.session_maker) as session:
            await payments.fund_collaborations(session, brand, [signed.id, offered.id], now=runtime.clock.now(),
                                               settings=runtime.settings)
    assert "not signed" in err.value.errors["collaboration_id"]
    assert await db.scalar(sa.select(sa.func.count()).select_from(ProviderCall)) == 0


async def test_dispute_freezes_then_an_admin_split_settles(runtime, db) -> None:
    deal = await funded_deal(runtime, CollabState.FUNDED, onboarded=True, fee_amount=10_000)
    from marketplace.collaborations.models import Collaboration

    async with session_scope(runtime.session_maker) as session:
        collab = await session.get(Collaboration, deal.id)
        await hooks.freeze(session, collab, now=runtime.clock.now(), reason="dispute", settings=runtime.settings)
    hold = await hold_of(db, deal.id)
    assert hold.state is EscrowState.FROZEN
    with pytest.raises(hooks.EscrowRefused):
        await _approve_and_release(runtime, deal) if False else await _split(runtime, deal, 20_000)
    await _split(runtime, deal, 6_000)
    await run_jobs(runtime)
    hold = await hold_of(db, deal.id)
    assert hold.state is EscrowState.SETTLED
    # 6,000 to the creator with its fee share (8% of 6,000 = 480); the brand gets the rest of the 10,800.
    assert (hold.released_creator_amount, hold.released_fee_amount) == (6_000, 480)
    assert hold.refunded_amount == 10_800 - 6_000 - 480
    assert hold.held_amount == 0
    await assert_ledger_invariants(db)


async def _split(runtime, deal, creator_amount: int) -> None:
    from marketplace.collaborations.models import Collaboration

    async with session_scope(runtime.session_maker) as session:
        collab = await session.get(Collaboration, deal.id)
        await hooks.split(session, collab, now=runtime.clock.now(), creator_amount=creator_amount, reason="admin",
                          settings=runtime.settings)


async def test_partial_release_then_the_rest(runtime, db) -> None:
    deal = await funded_deal(runtime, CollabState.VERIFIED, onboarded=True, fee_amount=10_001)
    async with session_scope(runtime.session_maker) as session:
        service = gateway.escrow_service(session, runtime.clock.now(), settings=runtime.settings)
        await service.request_release(deal.id, amount=3_333)
    await run_jobs(runtime)
    hold = await hold_of(db, deal.id)
    assert hold.state is EscrowState.FUNDED
    assert await collab_state(db, deal.id) is CollabState.VERIFIED
    assert (hold.released_creator_amount, hold.released_fee_amount) == (3_333, 800 * 3_333 // 10_001)
    await _approve_and_release(runtime, deal)
    await run_jobs(runtime)
    hold = await hold_of(db, deal.id)
    assert hold.state is EscrowState.RELEASED and hold.held_amount == 0
    assert (hold.released_creator_amount, hold.released_fee_amount) == (10_001, 800)
    assert await collab_state(db, deal.id) is CollabState.RELEASED
    await assert_ledger_invariants(db)


async def test_is_funded_follows_the_money(runtime, db) -> None:
    deal = await make_deal(runtime, CollabState.SIGNED)
    from marketplace.collaborations.models import Collaboration

    async def funded() -> bool:
        async with runtime.session_maker() as session:
            return await hooks.is_funded(session, await session.get(Collaboration, deal.id))

    assert not await funded()
    await fund(runtime, deal)
    assert await funded()
    await _refund(runtime, deal, "cancel")
    await run_jobs(runtime)
    assert not await funded()
