"""Builders for sales tests: a connected Shopify stand-in and a signed deal with commission on one of its gigs."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from marketplace.collaborations.states import CollabState
from marketplace.creators.models import Platform, SocialAccount
from marketplace.db import session_scope
from tests.integration.stores.conftest import shopify_body
from tests.support.deals import Deal, advance_deal, insert_offer


async def connect_shopify(client: Any, brand_api: Any, shop: Any, queue: Any, runtime: Any) -> str:
    response = await client.post("/api/v1/stores", json=shopify_body(shop), headers=brand_api.headers)
    assert response.status_code == 201, response.text
    await queue.run_all(runtime.job_context())  # catalog sync and webhook subscriptions
    return str(response.json()["id"])


async def signed_deal(runtime: Any, brand: Any, creator: Any, *, handle: str = "ava", commission_bps: int = 1250,
                      state: CollabState = CollabState.SIGNED) -> Deal:
    async with session_scope(runtime.session_maker) as session:
        has = await session.scalar(sa.select(SocialAccount.id).where(SocialAccount.creator_id == creator.creator_id))
        if has is None:
            session.add(SocialAccount(creator_id=creator.creator_id, platform=Platform.TIKTOK, handle=handle,
                                      profile_url=f"https://www.tiktok.com/@{handle}", followers=12_000))
            await session.flush()
        rows = await insert_offer(session, brand, creator, now=runtime.clock.now(),
                                  gig={"commission_bps": commission_bps})
    deal = Deal(rows.collaboration_id, brand, creator, rows.gig_id, rows.application_id, rows.account_id, "tiktok",
                rows.handle, True)
    await advance_deal(runtime, deal, state)
    return deal


async def pay_budget_funding(runtime: Any, funding_id: str, *, succeed: bool = True) -> None:
    """What the simulated checkout does when the brand pays a commission budget payment (deposit or charge)."""
    from uuid import UUID

    from escrow.commission_models import CommissionFunding
    from marketplace.payments import gateway
    from tests.support.escrow import simulated

    async with session_scope(runtime.session_maker) as session:
        row = await session.get(CommissionFunding, UUID(funding_id))
        assert row is not None and row.funding_ref, "the funding call has not run yet"
        funding = await simulated(runtime).settle_funding(session, row.funding_ref, succeed=succeed)
        await gateway.escrow_service(session, runtime.clock.now(), settings=runtime.settings).apply_funding(funding)
