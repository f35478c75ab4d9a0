"""The demo's connected store (`make run`): the simulated shop connected for GlowLab with its catalog, creators'
sizes signed, $0 seeding orders created, one shipped by the shop's fulfilment with tracking; and demo customer
orders through the intake."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from marketplace.collaborations.models import Collaboration, Shipment
from marketplace.collaborations.states import CollabState
from marketplace.db import session_scope
from marketplace.seed import CREATORS, Seeder
from marketplace.stores.demo import DEMO_STORE_NAME, place_demo_order, seed_demo_store
from marketplace.stores.models import (
    SeedingOrder,
    SeedingStatus,
    StoreConnection,
    StoreOrder,
    StoreProduct,
    StoreVariant,
    StoreWebhookDelivery,
)
from marketplace.stores.processing import install_order_listeners


async def test_the_demo_connects_a_simulated_store_and_seeds_through_it(runtime: Any, clock: Any, queue: Any,
                                                                        db: Any) -> None:
    seeder = Seeder(runtime, clock, queue)
    await seeder.people()
    finn, dev = CREATORS[5][0], CREATORS[3][0]
    today = clock.now()
    store_id = await seed_demo_store(seeder, "owner@glowlab.test", [finn, dev], today)
    assert clock.now() == today

    store = await db.get(StoreConnection, store_id)
    assert store.name == DEMO_STORE_NAME and store.platform.value == "simulated" and store.catalog_synced_at
    titles = (await db.scalars(sa.select(StoreProduct.title).where(StoreProduct.store_id == store_id))).all()
    assert sorted(titles) == ["GlowLab crewneck", "Lip balm trio", "Vitamin C serum"]
    deals = (await db.scalars(sa.select(Collaboration).where(
        Collaboration.terms["gig_title"].as_string() == "Cosy crewneck try-on")
        .order_by(Collaboration.created_at))).all()
    assert [(d.status, d.terms["product_variant"]) for d in deals] == [
        (CollabState.SHIPPED, "GlowLab crewneck \N{EN DASH} Size M"),
        (CollabState.FUNDED, "GlowLab crewneck \N{EN DASH} Size L")]
    seeding = (await db.scalars(sa.select(SeedingOrder).order_by(SeedingOrder.order_name))).all()
    assert [(s.status, s.order_name) for s in seeding] == [(SeedingStatus.CREATED, "#1001"),
                                                           (SeedingStatus.CREATED, "#1002")]
    shipment = await db.scalar(sa.select(Shipment).where(Shipment.collaboration_id == deals[0].id))
    assert shipment.carrier == "UPS" and shipment.tracking_number.startswith("1ZSIM")
    assert shipment.tracking_url == f"https://www.ups.com/track?tracknum={shipment.tracking_number}"
    # Everything the shop did reached PostPact through the intake and was applied.
    outcomes = (await db.scalars(sa.select(StoreWebhookDelivery.outcome))).all()
    assert outcomes and all(o for o in outcomes)
    assert any("1 deal(s) shipped" in o for o in outcomes)
    # The store jobs ran; none is left waiting in the queue.
    assert not [j for j in queue.jobs if j.name.startswith("stores.")]


async def test_a_demo_customer_order_goes_through_the_intake_to_order_listeners(runtime: Any, clock: Any,
                                                                               queue: Any, db: Any) -> None:
    seeder = Seeder(runtime, clock, queue)
    await seeder.people()
    store_id = await seed_demo_store(seeder, "owner@glowlab.test", [], clock.now())
    serum = await db.scalar(sa.select(StoreVariant).where(StoreVariant.store_id == store_id,
                                                          StoreVariant.title == "30 ml"))
    seen: list[str] = []

    class Recorder:
        async def order_changed(self, session: Any, store: Any, order: StoreOrder, now: Any) -> None:
            seen.append(f"{order.name} {order.subtotal_amount} {order.discount_codes[0]['code']}")

    install_order_listeners([Recorder()])
    try:
        async with session_scope(runtime.session_maker) as session:
            number = await place_demo_order(session, store_id, settings=runtime.settings, clock=clock,
                                            variant_ids=[(serum.id, 1)], discount_code="AVA-GLOW15",
                                            discount_amount=570, landing_site="/?ref=ava", process_now=True)
    finally:
        install_order_listeners([])
    assert number == "1001" and seen == ["#1001 3230 AVA-GLOW15"]
    order = await db.scalar(sa.select(StoreOrder).where(StoreOrder.external_id == "1001"))
    assert order.landing_site == "/?ref=ava" and order.total_amount == 3230
    # The queued job finds the delivery already applied: nothing twice.
    await queue.run_all(runtime.job_context())
    assert seen == ["#1001 3230 AVA-GLOW15"]
