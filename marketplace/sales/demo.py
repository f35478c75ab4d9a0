"""The demo's sales (`make run`): GlowLab's serum gigs with a 10% commission, sold through its simulated shop.

``seed_demo_sales`` is called once from ``marketplace.seed`` after the demo store exists. Everything goes through the
real paths: two new creators sign up, sign and post (their codes are created in the simulated shop by the sales
job); people click their links; customers order in the shop with the codes or through a link (``orders/create``
through the store intake, as a real shop's webhook); one order is partly refunded inside the hold and one after its
commission was paid; the brand funds a commission budget (simulated checkout), the hold passes, commission is
approved and paid out through escrow (a weekly charge covers what the budget lacks), and recent orders are still
pending. GlowLab's sales page then shows GMV, costs and ROI per creator; Mia's and Noah's show their codes, sales
and commission.
"""

from __future__ import annotations

import contextlib
from datetime import datetime, timedelta
from typing import Any
from uuid import UUID

import sqlalchemy as sa

from escrow.commission_models import CommissionFunding, MoneyStatus
from marketplace.accounts.models import UserKind
from marketplace.accounts.services import AccountService, SignUp
from marketplace.creators.services import CreatorProfileService
from marketplace.db import session_scope
from marketplace.jobs import REGISTRY, RetryLater
from marketplace.payments import gateway
from marketplace.sales import payouts
from marketplace.sales.links import visitor_hash
from marketplace.sales.models import DealTracking, LinkClick
from marketplace.sales.services import CREATE_CODE_JOB, approve_due
from marketplace.stores.demo import place_demo_order
from marketplace.stores.models import StoreConnection, StorePlatform, StoreProduct, StoreVariant, StoreWebhookDelivery
from marketplace.stores.processing import DeliveryProcessor
from marketplace.stores.simulated import SimulatedShop

#: Two creators of the sales story, signed up like everyone (the demo's published password): new accounts, so the
#: probation cap (one unposted deal at a time) never collides with the rest of the demo's deals.
DEMO_PASSWORD = "postpact-demo-2026"  # noqa: S105 - the demo's published password (marketplace.seed)
SALES_CREATORS = [
    # email, name, country, platform, handle, followers, address (line1, city, region, postal code)
    ("mia@creators.test", "Mia Santos", "US", "tiktok", "miasantos", 24_600, ("5 Bay Street", "Miami", "FL", "33101")),
    ("noah@creators.test", "Noah Kim", "US", "instagram", "noah.kim", 18_900,
     ("77 Lake Drive", "Chicago", "IL", "60601")),
]
SERUM = "Vitamin C serum"
COMMISSION_BPS = 1_000

#: (days before today, creator index, quantity, via: "code" or "link", refund: None, ("hold", amount) or
#: ("after_payout", amount)). Serum price comes from the shop's catalog.
ORDERS: list[tuple[int, int, int, str, tuple[str, int] | None]] = [
    (70, 0, 1, "code", None), (68, 0, 2, "code", ("hold", 1)), (66, 1, 1, "code", None),
    (64, 0, 1, "link", None), (61, 1, 2, "link", None), (58, 0, 1, "code", ("after_payout", 1)),
    (50, 1, 1, "code", None), (45, 0, 1, "code", None), (12, 0, 1, "code", None), (6, 1, 1, "code", None),
    (2, 0, 3, "link", None),
]
#: The payout run: orders from 57 days ago and earlier are past their 30-day hold and paid; later ones wait.
PAY_DAYS_AGO = 27


def _serum_gig(platform: str) -> dict[str, Any]:
    return {
        "title": f"Vitamin C serum drop ({platform})",
        "brief": "Show your morning routine with our Vitamin C serum. Your code gives followers 15% off; you earn 10% "
                 "of every sale it brings, on top of the fee.",
        "currency": "USD", "base_fee_amount": 8_000, "product_name": SERUM, "product_retail_value": 3_200,
        "product_included": True, "slots": 5, "niches": ["beauty"], "apply_in_days": 21,
        "commission_bps": COMMISSION_BPS,
        "deliverables": [{"platform": platform, "kind": "video" if platform == "tiktok" else "post", "count": 1,
                          "required_hashtags": ["#glowlab"], "required_mentions": [], "disclosure_required": True,
                          "disclosure_text": "#ad"}],
    }


async def _create_code(seeder: Any, collab_id: UUID) -> None:
    """The discount-code job signing queued (the seeder's own ``run_jobs`` runs money and mail jobs only)."""
    with contextlib.suppress(RetryLater):
        await REGISTRY[CREATE_CODE_JOB].function(seeder.runtime.job_context(), str(collab_id))


async def _process_store_deliveries(seeder: Any, store_id: UUID) -> None:
    runtime = seeder.runtime
    async with session_scope(runtime.session_maker) as session:
        waiting = list(await session.scalars(sa.select(StoreWebhookDelivery.id).where(
            StoreWebhookDelivery.store_id == store_id, StoreWebhookDelivery.processed_at.is_(None))
            .order_by(StoreWebhookDelivery.received_at, StoreWebhookDelivery.id)))
        processor = DeliveryProcessor(session, runtime.settings, seeder.clock)
        for delivery_id in waiting:
            await processor.process(delivery_id)


async def _pay_pending_fundings(seeder: Any, brand_id: UUID) -> None:
    """The brand pays its budget payments at the simulated checkout."""
    runtime = seeder.runtime
    await seeder.run_jobs()  # the funding calls
    provider = gateway.build_provider(runtime.settings, runtime.session_maker)
    async with session_scope(runtime.session_maker) as session:
        rows = list(await session.scalars(sa.select(CommissionFunding).where(
            CommissionFunding.status == MoneyStatus.PENDING, CommissionFunding.funding_ref.is_not(None))))
        for row in rows:
            funding = await provider.settle_funding(session, row.funding_ref, succeed=True)  # type: ignore[attr-defined]
            await gateway.escrow_service(session, seeder.clock.now(), settings=runtime.settings).apply_funding(funding)
    await seeder.run_jobs()


async def _pay(seeder: Any, brand_id: UUID) -> None:
    runtime = seeder.runtime
    async with session_scope(runtime.session_maker) as session:
        await approve_due(session, seeder.clock.now())
        run = await payouts.pay_commissions(session, seeder.clock.now(), runtime.settings, brand_id=brand_id)
    await seeder.run_jobs()
    if run.short:  # this week's statement covers the rest: paid, then the creators are
        await _pay_pending_fundings(seeder, brand_id)
        async with session_scope(runtime.session_maker) as session:
            await payouts.pay_commissions(session, seeder.clock.now(), runtime.settings, brand_id=brand_id)
        await seeder.run_jobs()


async def _sign_up_creators(seeder: Any) -> list[str]:
    runtime = seeder.runtime
    emails = []
    for email, name, country, platform, handle, followers, (line1, city, region, postal) in SALES_CREATORS:
        async with session_scope(runtime.session_maker) as session:
            user = await AccountService(session, runtime).sign_up(
                SignUp(UserKind.CREATOR, email, DEMO_PASSWORD, name), ip=None)
            seeder.users[email] = user.id
        actor = await seeder.actor(email)
        async with session_scope(runtime.session_maker) as session:
            profiles = CreatorProfileService(session)
            await profiles.update_details(actor, {"display_name": name, "country": country, "niches": ["beauty"],
                                                  "languages": ["en"], "bio": f"{name.split()[0]} reviews skincare."})
            url = f"https://www.tiktok.com/@{handle}" if platform == "tiktok" else f"https://www.instagram.com/{handle}/"
            account = await profiles.save_social_account(actor, {
                "platform": platform, "handle": handle, "profile_url": url, "followers": followers,
                "average_views": followers // 2, "engagement_bps": 540})
            seeder.accounts[email] = account.id
            await profiles.save_address(actor, {"recipient_name": name, "line1": line1, "city": city,
                                                "region": region, "postal_code": postal, "country": country})
        await seeder.onboard(email)
        emails.append(email)
    return emails


def _post_url(platform: str, handle: str, when: datetime) -> str:
    if platform == "tiktok":  # TikTok ids carry their creation time in the upper 32 bits
        return f"https://www.tiktok.com/@{handle}/video/{(int(when.timestamp()) << 32) | 0x5A1E}"
    return f"https://www.instagram.com/p/Sales{int(when.timestamp())}/"


async def seed_demo_sales(seeder: Any, brand_email: str, today: datetime) -> None:
    """Sales for two creators of the brand's (Mia on TikTok, Noah on Instagram) on its simulated shop."""
    runtime = seeder.runtime
    owner = await seeder.actor(brand_email)
    async with runtime.session_maker() as session:
        store = await session.scalar(sa.select(StoreConnection).where(
            StoreConnection.brand_id == owner.brand_id, StoreConnection.platform == StorePlatform.SIMULATED,
            StoreConnection.disconnected_at.is_(None)))
        assert store is not None, "the demo store comes first"
        store_id = store.id
        variant = await session.scalar(sa.select(StoreVariant).join(
            StoreProduct, StoreProduct.id == StoreVariant.product_id).where(
            StoreProduct.store_id == store_id, StoreProduct.title == SERUM).order_by(StoreVariant.created_at)
            .limit(1))
        assert variant is not None
        variant_id, price = variant.id, int(variant.price_amount or 3_200)

    seeder.at(today - timedelta(days=90))
    creators = await _sign_up_creators(seeder)
    seeder.at(today - timedelta(days=84))
    pitches = ["My morning routine videos are my most saved; a serum with a code fits right in.",
               "Mes abonnées me demandent toujours mes soins du matin."]
    collab_ids: list[UUID] = []
    for (creator, *_, platform, handle, _f, _a), pitch in zip(SALES_CREATORS, pitches, strict=True):
        gig_id = await seeder.gig(brand_email, _serum_gig(platform))
        collab_id = await seeder.deal(brand_email, creator, gig_id, pitch)
        await seeder.through_post(brand_email, creator, collab_id, _post_url(platform, handle, seeder.clock.now()
                                                                              + timedelta(days=11)))
        await _create_code(seeder, collab_id)
        collab_ids.append(collab_id)
        seeder.at(today - timedelta(days=84))
    assert len(creators) == 2
    async with runtime.session_maker() as session:
        found = {t.collaboration_id: t for t in await session.scalars(sa.select(DealTracking).where(
            DealTracking.collaboration_id.in_(collab_ids)))}
    trackings = [found[c] for c in collab_ids]

    # The brand funds a $15 commission budget (less than the commission will come to: a weekly charge follows).
    async with session_scope(runtime.session_maker) as session:
        await payouts.fund_budget(session, owner, {"amount": 1_500, "currency": "USD"}, seeder.clock.now(),
                                  runtime.settings)
    await _pay_pending_fundings(seeder, owner.brand_id)

    # Clicks on the links (salted visitor hashes, as the redirect records them).
    secret = runtime.settings.app.secret_key
    async with session_scope(runtime.session_maker) as session:
        for n, tracking in enumerate(trackings):
            for k in range(14 - 5 * n):
                when = today - timedelta(days=72 - 5 * k)
                session.add(LinkClick(tracking_id=tracking.id, clicked_at=when, created_at=when, updated_at=when,
                                      visitor=visitor_hash(secret, f"198.51.100.{k}", "Mozilla/5.0", when.date())))

    refund_after_payout: list[str] = []
    paid_once = False
    for days_ago, who, quantity, via, refund in ORDERS:
        if days_ago < PAY_DAYS_AGO and not paid_once:
            seeder.at(today - timedelta(days=PAY_DAYS_AGO))
            await _pay(seeder, owner.brand_id)
            paid_once = True
            for order_id in refund_after_payout:  # refunded after its commission was paid: carried, not reclaimed
                await _refund(seeder, store_id, order_id, price // 2)
        tracking = trackings[who % len(trackings)]
        placed = today - timedelta(days=days_ago)
        seeder.at(placed)
        async with session_scope(runtime.session_maker) as session:
            order_id = await place_demo_order(
                session, store_id, settings=runtime.settings, clock=seeder.clock, variant_ids=[(variant_id, quantity)],
                discount_code=tracking.code if via == "code" else None,
                discount_amount=price * quantity * 15 // 100 if via == "code" else 0,
                landing_site=f"/products/vitamin-c-serum?utm_source=postpact&ref={tracking.slug}"
                if via == "link" else None,
                email=f"customer{days_ago}@example.com", placed_at=placed, process_now=True)
        if refund is not None and refund[0] == "hold":
            seeder.at(placed + timedelta(days=4))
            await _refund(seeder, store_id, order_id, price // 2)
        elif refund is not None:
            refund_after_payout.append(order_id)
    seeder.at(today)
    async with session_scope(runtime.session_maker) as session:
        await approve_due(session, today)


async def _refund(seeder: Any, store_id: UUID, order_id: str, amount: int) -> None:
    async with session_scope(seeder.runtime.session_maker) as session:
        store = await session.get(StoreConnection, store_id)
        assert store is not None
        await SimulatedShop(session, store, seeder.clock.now()).refund(order_id, amount)
    await _process_store_deliveries(seeder, store_id)
