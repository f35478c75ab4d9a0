"""The built-in simulated store: connected without secrets where settings offer it, stocked with a catalog, its $0
seeding orders, fulfilments and customer orders announced through the same intake as real webhooks."""

from __future__ import annotations

from typing import Any

import pytest
import sqlalchemy as sa

from marketplace.collaborations.models import Collaboration, Shipment
from marketplace.db import session_scope
from marketplace.settings import Settings
from marketplace.stores.intake import PROCESS_JOB
from marketplace.stores.models import (
    SeedingOrder,
    SeedingStatus,
    SimulatedShopRecord,
    StoreConnection,
    StoreOrder,
    StoreVariant,
    StoreWebhookDelivery,
)
from marketplace.stores.processing import install_order_listeners
from marketplace.stores.simulated import SimulatedShop
from tests.integration.stores.test_seeding import _funded_deals_on_one_gig


async def _connect(client: Any, brand_api: Any, queue: Any, runtime: Any) -> dict[str, Any]:
    response = await client.post("/api/v1/stores", json={"platform": "simulated", "name": "Demo shop"},
                                 headers=brand_api.headers)
    assert response.status_code == 201, response.text
    assert [n for n in queue.names() if n.startswith("stores.")] == ["stores.sync_catalog"]  # no subscription
    await queue.run_all(runtime.job_context())
    return dict(response.json())


async def test_simulated_store_seeds_and_ships_through_the_normal_path(client: Any, brand_api: Any, db: Any,
                                                                       queue: Any, runtime: Any) -> None:
    store = await _connect(client, brand_api, queue, runtime)
    assert store["webhook_url"] == "" and store["secrets"] == {} and store["last_test_ok"] is True
    tested = await client.post(f"/api/v1/stores/{store['id']}/test", headers=brand_api.headers)
    assert tested.json()["ok"] is True and "Simulated" in tested.json()["message"]
    catalog = (await client.get(f"/api/v1/stores/{store['id']}/products", headers=brand_api.headers)).json()
    crewneck = next(p for p in catalog["products"] if p["title"] == "GlowLab crewneck")
    assert crewneck["options"] == ["Size"]
    assert [(v["option_values"], v["inventory"]) for v in crewneck["variants"]] == [
        (["S"], 6), (["M"], 5), (["L"], 4), (["XL"], 0)]
    assert crewneck["variants"][0]["price"] == {"amount": 4800, "currency": "USD"}
    assert crewneck["variants"][0]["cost"] == {"amount": 1420, "currency": "USD"}

    gig_id, deals = await _funded_deals_on_one_gig(runtime, db, brand_api.person, 3)
    await client.post(f"/api/v1/gigs/{gig_id}/store-product", json={"store_product_id": crewneck["id"]},
                      headers=brand_api.headers)
    size_m = crewneck["variants"][1]["id"]
    queue.jobs.clear()
    seeded = await client.post(f"/api/v1/gigs/{gig_id}/seeding-orders",
                               json={"variants": {str(d.id): size_m for d in deals}}, headers=brand_api.headers)
    assert seeded.json()["queued"] == 3, seeded.text
    await queue.run_all(runtime.job_context())
    rows = (await db.scalars(sa.select(SeedingOrder))).all()
    assert {r.status for r in rows} == {SeedingStatus.CREATED}
    assert sorted(r.order_name for r in rows) == ["#1001", "#1002", "#1003"]
    # The shop's own stock went down, and its products/update told PostPact's catalog.
    assert (await db.scalar(sa.select(StoreVariant).where(StoreVariant.id == size_m))).inventory == 2
    orders = (await db.scalars(sa.select(StoreOrder).order_by(StoreOrder.external_id))).all()
    assert [(o.name, o.total_amount) for o in orders] == [("#1001", 0), ("#1002", 0), ("#1003", 0)]

    # A retried seeding job finds the order by its tag in the shop: nothing twice.
    async with session_scope(runtime.session_maker) as session:
        connection = await session.get(StoreConnection, store["id"])
        shop = SimulatedShop(session, connection, runtime.clock.now())
        again = await shop.create_seeding_order(rows[0].tag, "gid://simulated/ProductVariant/102", {})
        assert again.name == rows[0].order_name
        assert len(await shop.orders()) == 3
        # The warehouse ships two orders (the second twice: nothing more happens).
        numbers = [await shop.fulfil(o.external_id) for o in (await shop.orders())[:2]]
        assert await shop.fulfil("1002") == numbers[1]
    await queue.run_all(runtime.job_context())
    collabs = (await db.scalars(sa.select(Collaboration).where(Collaboration.id.in_([d.id for d in deals])))).all()
    assert sorted(c.status.value for c in collabs) == ["funded", "shipped", "shipped"]
    shipments = (await db.scalars(sa.select(Shipment))).all()
    assert sorted(s.tracking_number for s in shipments) == sorted(numbers)
    assert all(s.carrier == "UPS" and s.tracking_url.startswith("https://www.ups.com/track") for s in shipments)
    deliveries = (await db.scalars(sa.select(StoreWebhookDelivery.topic))).all()
    assert sorted(set(deliveries)) == ["fulfillments/create", "orders/create", "products/update"]


async def test_customer_orders_reach_order_listeners_through_the_intake(client: Any, brand_api: Any, db: Any,
                                                                        queue: Any, runtime: Any) -> None:
    store = await _connect(client, brand_api, queue, runtime)
    seen: list[tuple[str, int, list[Any], int]] = []

    class Recorder:
        async def order_changed(self, session: Any, store: Any, order: StoreOrder, now: Any) -> None:
            seen.append((order.name, order.subtotal_amount, order.discount_codes, order.refunded_amount))

    install_order_listeners([Recorder()])
    try:
        async with session_scope(runtime.session_maker) as session:
            connection = await session.get(StoreConnection, store["id"])
            shop = SimulatedShop(session, connection, runtime.clock.now())
            placed = await shop.place_order([("gid://simulated/ProductVariant/201", 2)], discount_code="AVA-GLOW15",
                                            discount_amount=1140, landing_site="/products/serum?ref=ava",
                                            email="buyer@example.com")
            assert placed.name == "#1001"
        assert queue.names().count(PROCESS_JOB) == 2  # orders/create and the stock's products/update
        await queue.run_all(runtime.job_context())
        async with session_scope(runtime.session_maker) as session:
            connection = await session.get(StoreConnection, store["id"])
            await SimulatedShop(session, connection, runtime.clock.now()).refund("1001", 3800)
        await queue.run_all(runtime.job_context())
    finally:
        install_order_listeners([])
    assert seen[0] == ("#1001", 7600 - 1140, [{"code": "AVA-GLOW15", "amount": "11.40", "type": "fixed_amount"}], 0)
    assert seen[-1][3] == 3800
    order = await db.scalar(sa.select(StoreOrder))
    assert order.landing_site == "/products/serum?ref=ava" and order.email == "buyer@example.com"


async def test_an_out_of_stock_variant_is_refused_by_the_shop(client: Any, brand_api: Any, db: Any, queue: Any,
                                                              runtime: Any) -> None:
    store = await _connect(client, brand_api, queue, runtime)
    async with session_scope(runtime.session_maker) as session:
        connection = await session.get(StoreConnection, store["id"])
        with pytest.raises(Exception, match="out of stock"):
            await SimulatedShop(session, connection, runtime.clock.now()).place_order(
                [("gid://simulated/ProductVariant/104", 1)])
    assert await db.scalar(sa.select(sa.func.count()).select_from(SimulatedShopRecord).where(
        SimulatedShopRecord.kind == "order")) == 0


async def test_the_simulated_store_is_not_offered_in_production(client: Any, brand_api: Any, runtime: Any) -> None:
    production = Settings.from_env({"POSTPACT_ENV": "production", "SECRET_KEY": "x" * 40,
                                    "DATABASE_URL": "postgresql://u@h/db"})
    assert production.stores.simulated is False
    assert Settings.from_env({"POSTPACT_ENV": "production", "SECRET_KEY": "x" * 40, "STORES_SIMULATED": "1",
                              "DATABASE_URL": "postgresql://u@h/db"}).stores.simulated is True
    assert Settings.from_env({"POSTPACT_ENV": "development"}).stores.simulated is True


async def test_a_server_without_the_simulated_store_refuses_it(client: Any, web: Any, brand_api: Any,
                                                               runtime: Any, monkeypatch: Any) -> None:
    await web.sign_in(brand_api.person.email, brand_api.person.password)
    offered = await web.get("/brand/stores")
    assert offered.status_code == 200 and "Simulated store" in offered.text
    from dataclasses import replace

    monkeypatch.setattr(runtime, "settings", replace(runtime.settings, stores=replace(runtime.settings.stores,
                                                                                      simulated=False)))
    response = await client.post("/api/v1/stores", json={"platform": "simulated", "name": "Demo shop"},
                                 headers=brand_api.headers)
    assert response.status_code == 422
    assert "platform" in response.text
    page = await web.get("/brand/stores")
    assert page.status_code == 200 and "Connect a store" in page.text and "Simulated store" not in page.text


async def test_the_store_page_ships_an_order_and_places_a_customer_order(
        client: Any, web: Any, make_web: Any, people: Any, brand_api: Any, db: Any, queue: Any, runtime: Any) -> None:
    store = await _connect(client, brand_api, queue, runtime)
    catalog = (await client.get(f"/api/v1/stores/{store['id']}/products", headers=brand_api.headers)).json()
    crewneck = next(p for p in catalog["products"] if p["title"] == "GlowLab crewneck")
    gig_id, [deal] = await _funded_deals_on_one_gig(runtime, db, brand_api.person, 1)
    await client.post(f"/api/v1/gigs/{gig_id}/store-product", json={"store_product_id": crewneck["id"]},
                      headers=brand_api.headers)
    await client.post(f"/api/v1/gigs/{gig_id}/seeding-orders",
                      json={"variants": {str(deal.id): crewneck["variants"][0]["id"]}}, headers=brand_api.headers)
    await queue.run_all(runtime.job_context())

    await web.sign_in(brand_api.person.email, brand_api.person.password)
    page = await web.get(f"/brand/stores/{store['id']}")
    assert page.status_code == 200 and "The simulated shop" in page.text and "Order feed" in page.text
    assert 'action="/brand/stores/' + store["id"] + '/simulated/orders/1001/fulfil"' in page.text
    shipped = await web.post(f"/brand/stores/{store['id']}/simulated/orders/1001/fulfil", {"carrier": "USPS"})
    assert shipped.status_code in (302, 303)
    await queue.run_all(runtime.job_context())
    db.expire_all()
    assert (await db.get(Collaboration, deal.id)).status.value == "shipped"
    shipment = await db.scalar(sa.select(Shipment).where(Shipment.collaboration_id == deal.id))
    assert shipment.carrier == "USPS" and shipment.tracking_url.startswith("https://tools.usps.com/")
    after = await web.get(f"/brand/stores/{store['id']}")
    assert 'simulated/orders/1001/fulfil"' not in after.text

    # Bad input re-renders the form with its message; nothing is ordered.
    bad = await web.post(f"/brand/stores/{store['id']}/simulated/orders",
                         {"variant_id": crewneck["variants"][1]["id"], "quantity": "0", "discount_percent": "15"})
    assert bad.status_code == 422 and "Buy between 1 and 20." in bad.text
    sold_out = await web.post(f"/brand/stores/{store['id']}/simulated/orders",
                              {"variant_id": crewneck["variants"][3]["id"], "quantity": "1"})
    assert sold_out.status_code == 422 and "out of stock" in sold_out.text
    placed = await web.post(f"/brand/stores/{store['id']}/simulated/orders",
                            {"variant_id": crewneck["variants"][1]["id"], "quantity": "2",
                             "discount_code": "ava-glow15", "discount_percent": "15",
                             "landing_site": "/products/crewneck?ref=ava"})
    assert placed.status_code in (302, 303)
    await queue.run_all(runtime.job_context())
    order = await db.scalar(sa.select(StoreOrder).where(StoreOrder.name == "#1002"))
    assert (order.subtotal_amount, order.discount_codes[0]["code"]) == (9600 - 1440, "AVA-GLOW15")
    # Another brand can't reach this shop's pages or its warehouse.
    stranger = await people.brand(brand_name="Other brand")
    other = await make_web()
    await other.sign_in(stranger.email, stranger.password)
    assert (await other.get(f"/brand/stores/{store['id']}")).status_code == 404
    assert (await other.post(f"/brand/stores/{store['id']}/simulated/orders/1002/fulfil", {})).status_code == 404
    assert (await db.scalar(sa.select(sa.func.count()).select_from(SimulatedShopRecord).where(
        SimulatedShopRecord.kind == "fulfillment"))) == 1
