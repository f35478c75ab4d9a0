"""The demo's connected store (`make run`): GlowLab's simulated shop, its catalog, and deals seeded through it.

``seed_demo_store`` is called once from ``marketplace.seed`` with the demo's seeder. Everything goes through the real
services, as a brand and creators would: the brand connects the simulated shop (stocked with a crewneck in sizes, a
serum and a lip balm) and the catalog is synced; a gig picks the crewneck; creators choose their size while signing;
funding queues $0 seeding orders that the shop creates; the shop's warehouse ships one of them, and its fulfilment
delivery moves that deal to *shipped* with a tracking number, through the same intake as a Shopify webhook.

``place_demo_order`` is how other areas (sales attribution's demo) put a customer order into a simulated shop: the
order reaches PostPact as an ``orders/create`` delivery through the intake, exactly like a real shop's webhook.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any, Protocol
from uuid import UUID

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from marketplace.accounts.auth import Actor
from marketplace.clock import Clock
from marketplace.db import session_scope
from marketplace.jobs import REGISTRY, PendingJob, RetryLater
from marketplace.settings import Settings
from marketplace.stores.models import (
    SeedingOrder,
    StoreConnection,
    StorePlatform,
    StoreProduct,
    StoreVariant,
    StoreWebhookDelivery,
)
from marketplace.stores.processing import DeliveryProcessor
from marketplace.stores.seeding import CREATE_JOB
from marketplace.stores.services import StoreService, pick_gig_product
from marketplace.stores.simulated import SimulatedShop

DEMO_STORE_NAME = "GlowLab shop (simulated)"
DEMO_PRODUCT = "GlowLab crewneck"


class DemoSeeder(Protocol):
    """What ``marketplace.seed.Seeder`` offers (the demo's people, clock and job queue); named here so this module
    doesn't import the seed (which imports it)."""

    runtime: Any
    clock: Any
    queue: Any

    async def actor(self, email: str) -> Actor: ...
    async def gig(self, brand_email: str, values: dict[str, Any], *, publish: bool = True) -> UUID: ...
    async def deal(self, brand: str, creator: str, gig_id: UUID, pitch: str) -> UUID: ...
    async def step(self, email: str, collab_id: UUID, name: str, **kwargs: Any) -> None: ...
    async def fund(self, brand: str, collab_id: UUID) -> None: ...
    def at(self, when: datetime) -> None: ...


async def connect_demo_store(session: AsyncSession, actor: Actor, settings: Settings, now: datetime
                             ) -> StoreConnection:
    """Connect the brand's simulated shop (stocked) and sync its catalog, in this transaction."""
    service = StoreService(session, settings, now)
    connected = await service.connect(actor, {"platform": StorePlatform.SIMULATED.value, "name": DEMO_STORE_NAME})
    await service.sync_catalog(connected.store)
    return connected.store


async def place_demo_order(session: AsyncSession, store_id: UUID, *, settings: Settings, clock: Clock,
                           variant_ids: list[tuple[UUID, int]], discount_code: str | None = None,
                           discount_amount: int = 0, landing_site: str | None = None, email: str | None = None,
                           placed_at: datetime | None = None, process_now: bool = False) -> str:
    """A customer's order in a simulated shop, announced to PostPact through the intake (``orders/create``).

    ``variant_ids``: (our ``StoreVariant.id``, quantity) pairs; amounts in minor units of USD; ``discount_code``: a
    creator's code (sales attribution matches it), ``landing_site``: the page the customer came to (a ``ref``
    link). The delivery is processed by the ``stores.process_delivery`` job after the transaction commits, or at
    once with ``process_now`` (seeds and tests whose job queue doesn't run store jobs): the same processing either
    way, and a later run of the job finds it done. Returns the order's external id (the shop's number).
    """
    store = await session.get(StoreConnection, store_id)
    if store is None or store.platform is not StorePlatform.SIMULATED:
        raise ValueError(f"store {store_id} is not a simulated store")
    variants = {v.id: v for v in (await session.scalars(sa.select(StoreVariant).where(
        StoreVariant.store_id == store_id, StoreVariant.id.in_([vid for vid, _ in variant_ids])))).all()}
    missing = [vid for vid, _ in variant_ids if vid not in variants]
    if missing:
        raise ValueError(f"no such variants in store {store_id}: {missing}")
    shop = SimulatedShop(session, store, clock.now())
    before = set(await _pending_deliveries(session, store_id))
    placed = await shop.place_order([(variants[vid].external_id, quantity) for vid, quantity in variant_ids],
                                    discount_code=discount_code, discount_amount=discount_amount,
                                    landing_site=landing_site, email=email, placed_at=placed_at)
    if process_now:
        processor = DeliveryProcessor(session, settings, clock)
        for delivery_id in await _pending_deliveries(session, store_id):
            if delivery_id not in before:
                await processor.process(delivery_id)
    return placed.external_id.rsplit("/", 1)[-1]


async def _pending_deliveries(session: AsyncSession, store_id: UUID) -> list[UUID]:
    return list((await session.scalars(sa.select(StoreWebhookDelivery.id).where(
        StoreWebhookDelivery.store_id == store_id, StoreWebhookDelivery.processed_at.is_(None))
        .order_by(StoreWebhookDelivery.received_at, StoreWebhookDelivery.id))).all())


async def run_store_jobs(seeder: DemoSeeder) -> int:
    """Run the store jobs waiting in the seeder's queue (and those they queue), leaving the others for the seeder
    (its ``run_jobs`` runs only money and mail jobs). Returns how many ran."""
    ran = 0
    while True:
        waiting: list[PendingJob] = [j for j in seeder.queue.jobs if j.name.startswith("stores.")]
        if not waiting:
            return ran
        for pending in waiting:
            seeder.queue.jobs.remove(pending)
            try:
                await REGISTRY[pending.name].function(seeder.runtime.job_context(), *pending.args)
            except RetryLater:
                continue
            ran += 1


async def seed_demo_store(seeder: DemoSeeder, brand_email: str, creators: list[str], today: datetime) -> UUID:
    """GlowLab's connected simulated shop and a crewneck gig seeded through it (see the module docstring):
    ``creators[0]`` signs for size M, is funded and shipped by the shop with tracking; ``creators[1]`` signs for
    size L and is funded, the seeding order waiting to ship (the brand ships it from the store page);
    ``creators[2]`` (if given) is offered the deal and picks a size when signing. Returns the store's id."""
    runtime = seeder.runtime
    seeder.at(today - timedelta(days=5))
    owner = await seeder.actor(brand_email)
    async with session_scope(runtime.session_maker) as session:
        store = await connect_demo_store(session, owner, runtime.settings, seeder.clock.now())
        store_id = store.id
        product = await session.scalar(sa.select(StoreProduct).where(StoreProduct.store_id == store_id,
                                                                     StoreProduct.title == DEMO_PRODUCT))
        assert product is not None
        sizes = {v.option_values[0]: v.id for v in (await session.scalars(sa.select(StoreVariant).where(
            StoreVariant.product_id == product.id))).all()}
        product_id = product.id
    gig_id = await seeder.gig(brand_email, _crewneck_gig())
    async with session_scope(runtime.session_maker) as session:
        await pick_gig_product(session, owner, gig_id, product_id)

    pitches = ["Cosy-season try-ons are my most saved videos; I'd style it three ways.",
               "I film a weekly what-I-wore; the crewneck fits right in.",
               "My followers ask where my sweaters are from every week."]
    deals: list[UUID] = []
    for creator, pitch in zip(creators[:3], pitches, strict=False):
        seeder.clock.advance(hours=3)
        deals.append(await seeder.deal(brand_email, creator, gig_id, pitch))
    for creator, deal_id, size in zip(creators[:2], deals, ("M", "L"), strict=False):
        seeder.clock.advance(hours=5)
        await seeder.step(creator, deal_id, "sign", store_variant_id=sizes[size])
        seeder.clock.advance(hours=4)
        await seeder.fund(brand_email, deal_id)
        # The seeder's own job runner skipped the seeding order the funding queued: create it as the worker would.
        async with session_scope(runtime.session_maker) as session:
            pending = await session.scalar(sa.select(SeedingOrder.id).where(SeedingOrder.collaboration_id == deal_id))
        if pending is not None:
            await REGISTRY[CREATE_JOB].function(runtime.job_context(), str(deal_id))
        await run_store_jobs(seeder)
    if deals:
        seeder.clock.advance(days=1)
        async with session_scope(runtime.session_maker) as session:
            shop_store = await session.get(StoreConnection, store_id)
            assert shop_store is not None
            order_id = await session.scalar(sa.select(SeedingOrder.external_order_id).where(
                SeedingOrder.collaboration_id == deals[0]))
            if order_id:
                await SimulatedShop(session, shop_store, seeder.clock.now()).fulfil(order_id, carrier="UPS")
        await run_store_jobs(seeder)
    seeder.at(today)
    return store_id


def _crewneck_gig() -> dict[str, Any]:
    return {
        "title": "Cosy crewneck try-on",
        "brief": "Try on our crewneck in your size and style it three ways for autumn. Natural light, real outfits.",
        "currency": "USD", "base_fee_amount": 9_000, "product_name": DEMO_PRODUCT, "product_retail_value": 4_800,
        "product_included": True, "slots": 3, "niches": [], "apply_in_days": 14,
        "deliverables": [{"platform": "tiktok", "kind": "video", "count": 1, "required_hashtags": ["#glowlab"],
                          "required_mentions": ["@glowlab"], "disclosure_required": True,
                          "disclosure_text": "#ad"}],
    }

