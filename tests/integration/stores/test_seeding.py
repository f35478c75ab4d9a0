"""Catalog sync, a gig's product from the store, $0 seeding orders in bulk (idempotent, crash-safe), and
fulfillment webhooks shipping the deals through the normal ship step."""

from __future__ import annotations

from typing import Any

import pytest
import sqlalchemy as sa

from marketplace.collaborations.models import Collaboration, Shipment
from marketplace.collaborations.states import CollabState
from marketplace.jobs import REGISTRY, RetryLater
from marketplace.stores.catalog import variants_to_offer
from marketplace.stores.jobs import AFTER_STORE_CALL, SLEEP, WEBHOOKS_JOB
from marketplace.stores.models import SeedingOrder, SeedingStatus, StoreProduct, StoreVariant
from marketplace.stores.seeding import CREATE_JOB
from marketplace.stores.shopify import WEBHOOK_TOPICS
from marketplace.stores.woocommerce import WEBHOOK_TOPICS as WOO_TOPICS
from tests.fakes.shopify_server import ShopifyServer
from tests.fakes.woocommerce_server import WooCommerceServer
from tests.integration.stores.conftest import shopify_body, woo_body
from tests.support.deals import advance_deal, bearer, make_deal


async def _funded_deals_on_one_gig(runtime: Any, db: Any, brand: Any, count: int) -> tuple[Any, list[Any]]:
    deals = [await make_deal(runtime, CollabState.FUNDED, brand=brand) for _ in range(count)]
    # The deal factory makes a gig per deal; put them all on the first one (only the gig link matters here).
    await db.execute(sa.update(Collaboration).where(Collaboration.id.in_([d.id for d in deals]))
                     .values(gig_id=deals[0].gig_id))
    return deals[0].gig_id, deals


async def _connect_and_sync(client: Any, brand_api: Any, body: dict[str, Any], queue: Any, runtime: Any) -> str:
    response = await client.post("/api/v1/stores", json=body, headers=brand_api.headers)
    assert response.status_code == 201, response.text
    await queue.run_all(runtime.job_context())  # the catalog sync queued by connecting
    return str(response.json()["id"])


async def _variant(db: Any, option: str) -> StoreVariant:
    variants = (await db.scalars(sa.select(StoreVariant))).all()
    return next(v for v in variants if v.option_values == [option])


async def test_shopify_end_to_end_three_deals_seeded_in_one_action_and_shipped_by_webhooks(
        client: Any, brand_api: Any, db: Any, shopify: ShopifyServer, deliverer: Any, queue: Any,
        runtime: Any) -> None:
    shopify.add_product("Linen tee", options=["Size"], image="https://cdn.example/tee.jpg", variants=[
        {"options": ["S"], "price": "25.00", "inventory": 5, "cost": "6.10"},
        {"options": ["M"], "price": "25.00", "inventory": 3, "cost": "6.10"},
        {"options": ["L"], "price": "27.50", "inventory": 0}])
    store_id = await _connect_and_sync(client, brand_api, shopify_body(shopify), queue, runtime)
    catalog = (await client.get(f"/api/v1/stores/{store_id}/products", headers=brand_api.headers)).json()
    [product] = catalog["products"]
    assert product["options"] == ["Size"] and [v["option_values"] for v in product["variants"]] == [["S"], ["M"],
                                                                                                  ["L"]]
    assert product["variants"][2]["price"] == {"amount": 2750, "currency": "USD"}
    assert product["variants"][0]["cost"] == {"amount": 610, "currency": "USD"}

    gig_id, deals = await _funded_deals_on_one_gig(runtime, db, brand_api.person, 3)
    picked = await client.post(f"/api/v1/gigs/{gig_id}/store-product", json={"store_product_id": product["id"]},
                               headers=brand_api.headers)
    assert picked.status_code == 200, picked.text
    # Connecting subscribed our address to every topic; asking again adds nothing.
    webhook = f"http://testserver.local/webhooks/shopify/{store_id}"
    assert sorted(s["topic"] for s in shopify.state.subscriptions if s["url"] == webhook) == sorted(
        t.lower().replace("_", "/", 1) for t in WEBHOOK_TOPICS)
    await REGISTRY[WEBHOOKS_JOB].function(runtime.job_context(), store_id)
    assert len(shopify.state.subscriptions) == len(WEBHOOK_TOPICS)

    size_m = await _variant(db, "M")
    first = await client.post(f"/api/v1/gigs/{gig_id}/seeding-orders", json={}, headers=brand_api.headers)
    assert first.json()["blocked"] == 3 and "Choose which variant" in first.json()["results"][0]["message"]
    queue.jobs.clear()
    seeded = await client.post(f"/api/v1/gigs/{gig_id}/seeding-orders",
                               json={"variants": {str(d.id): str(size_m.id) for d in deals}},
                               headers=brand_api.headers)
    assert seeded.status_code == 202 and seeded.json()["queued"] == 3, seeded.text
    await queue.run_all(runtime.job_context())

    orders = list(shopify.state.orders.values())
    assert len(orders) == 3 and all(o["total_price"] == "0.00" for o in orders)
    assert {o["shipping_address"]["address1"] for o in orders} == {"12 Orchard Lane"}
    assert shopify.state.variants[int(size_m.external_id.rsplit("/", 1)[-1])]["inventory"] == 0
    # Asking again creates nothing more.
    again = await client.post(f"/api/v1/gigs/{gig_id}/seeding-orders", json={}, headers=brand_api.headers)
    assert again.json()["queued"] == 0 and len(shopify.state.orders) == 3

    for n, order in enumerate(orders):
        shopify.fulfill(f"gid://shopify/Order/{order['id']}", "UPS", f"1Z999AA1012345678{n}")
    # orders/create of the seeding orders, then fulfillments/create and orders/updated for each.
    assert await deliverer.deliver(shopify) == [200] * 9
    await queue.run_all(runtime.job_context())
    collabs = (await db.scalars(sa.select(Collaboration).where(Collaboration.id.in_([d.id for d in deals])))).all()
    assert {c.status for c in collabs} == {CollabState.SHIPPED}
    shipments = (await db.scalars(sa.select(Shipment))).all()
    assert sorted(s.tracking_number for s in shipments) == [f"1Z999AA1012345678{n}" for n in range(3)]
    assert all(s.tracking_url and s.tracking_url.startswith("https://www.ups.com/track") for s in shipments)


async def test_out_of_stock_is_reported_per_deal_in_words(client: Any, brand_api: Any, db: Any,
                                                          shopify: ShopifyServer, queue: Any, runtime: Any) -> None:
    shopify.add_product("Serum", variants=[{"options": ["Default Title"], "price": "30.00", "inventory": 1}])
    await _connect_and_sync(client, brand_api, shopify_body(shopify), queue, runtime)
    product = await db.scalar(sa.select(StoreProduct))
    gig_id, _ = await _funded_deals_on_one_gig(runtime, db, brand_api.person, 2)
    await client.post(f"/api/v1/gigs/{gig_id}/store-product", json={"store_product_id": str(product.id)},
                      headers=brand_api.headers)
    result = (await client.post(f"/api/v1/gigs/{gig_id}/seeding-orders", headers=brand_api.headers)).json()
    assert result["queued"] == 1 and result["blocked"] == 1
    blocked = next(r for r in result["results"] if r["outcome"] == "blocked")
    assert blocked["message"] == ("Out of stock: Serum \N{EN DASH} Default Title has 0 left in the store after the 1 "
                                  "other order(s) in this request.")


async def test_a_job_killed_after_the_store_created_the_order_creates_no_second_one(
        client: Any, brand_api: Any, db: Any, shopify: ShopifyServer, deliverer: Any, queue: Any,
        runtime: Any) -> None:
    shopify.add_product("Serum", variants=[{"options": ["Default Title"], "price": "30.00", "inventory": 4}])
    await _connect_and_sync(client, brand_api, shopify_body(shopify), queue, runtime)
    product = await db.scalar(sa.select(StoreProduct))
    gig_id, [deal] = await _funded_deals_on_one_gig(runtime, db, brand_api.person, 1)
    await client.post(f"/api/v1/gigs/{gig_id}/store-product", json={"store_product_id": str(product.id)},
                      headers=brand_api.headers)
    queue.jobs.clear()
    await client.post(f"/api/v1/gigs/{gig_id}/seeding-orders", headers=brand_api.headers)

    async def killed(_: Any) -> None:
        raise RuntimeError("worker killed")

    runtime.resources[AFTER_STORE_CALL] = killed
    with pytest.raises(RuntimeError, match="worker killed"):
        await queue.run_all(runtime.job_context())
    assert len(shopify.state.orders) == 1
    row = await db.scalar(sa.select(SeedingOrder))
    assert row.status is SeedingStatus.PENDING and row.external_order_id is None

    # The shop fulfils it before the retry: the fulfillment waits for the order to be known.
    [order] = shopify.state.orders.values()
    shopify.fulfill(f"gid://shopify/Order/{order['id']}", "USPS", "9400111899223197428490")
    await deliverer.deliver(shopify)
    await queue.run_all(runtime.job_context())
    assert (await db.get(Collaboration, deal.id)).status is CollabState.FUNDED

    # The retry comes from the periodic sweep (the crashed job's own retry may be lost with its worker).
    del runtime.resources[AFTER_STORE_CALL]
    queue.jobs.clear()
    await REGISTRY["stores.requeue_stuck_deliveries"].function(runtime.job_context())
    assert queue.names() == []
    runtime.clock.advance(minutes=6)
    await REGISTRY["stores.requeue_stuck_deliveries"].function(runtime.job_context())
    assert queue.names() == [CREATE_JOB]
    await queue.run_all(runtime.job_context())
    assert len(shopify.state.orders) == 1
    row = await db.scalar(sa.select(SeedingOrder))
    assert row.status is SeedingStatus.CREATED and row.order_name == order["name"]
    assert (await db.get(Collaboration, deal.id)).status is CollabState.SHIPPED


async def test_throttling_and_store_errors_retry_without_duplicates(client: Any, brand_api: Any, db: Any,
                                                                    shopify: ShopifyServer, queue: Any,
                                                                    runtime: Any) -> None:
    shopify.add_product("Serum", variants=[{"options": ["Default Title"], "price": "30.00", "inventory": 4}])
    await _connect_and_sync(client, brand_api, shopify_body(shopify), queue, runtime)
    product = await db.scalar(sa.select(StoreProduct))
    gig_id, [deal] = await _funded_deals_on_one_gig(runtime, db, brand_api.person, 1)
    await client.post(f"/api/v1/gigs/{gig_id}/store-product", json={"store_product_id": str(product.id)},
                      headers=brand_api.headers)
    queue.jobs.clear()
    await client.post(f"/api/v1/gigs/{gig_id}/seeding-orders", headers=brand_api.headers)
    shopify.fail_next(500)
    with pytest.raises(RetryLater):
        await queue.run_all(runtime.job_context())
    # A 429's Retry-After and a THROTTLED answer's bucket arithmetic are waited out inside the client.
    waits: list[float] = []

    async def record(seconds: float) -> None:
        waits.append(seconds)

    runtime.resources[SLEEP] = record
    shopify.fail_next(429, retry_after=2)
    shopify.throttle_next()
    await REGISTRY[CREATE_JOB].function(runtime.job_context(), str(deal.id))
    assert waits == [2.0, pytest.approx(0.1)]
    assert len(shopify.state.orders) == 1
    assert (await db.scalar(sa.select(SeedingOrder))).status is SeedingStatus.CREATED


async def test_woocommerce_end_to_end(client: Any, brand_api: Any, db: Any, woo: WooCommerceServer,
                                      deliverer: Any, queue: Any, runtime: Any) -> None:
    woo.add_product("Linen tee", price="25.00", attributes={"Size": ["S", "M"]},
                    variations=[{"options": ["S"], "stock": 2}, {"options": ["M"], "stock": 5}])
    store_id = await _connect_and_sync(client, brand_api, woo_body(woo), queue, runtime)
    product = await db.scalar(sa.select(StoreProduct))
    assert product.options == ["Size"]
    gig_id, deals = await _funded_deals_on_one_gig(runtime, db, brand_api.person, 2)
    await client.post(f"/api/v1/gigs/{gig_id}/store-product", json={"store_product_id": str(product.id)},
                      headers=brand_api.headers)
    size_m = await _variant(db, "M")
    queue.jobs.clear()
    result = (await client.post(f"/api/v1/gigs/{gig_id}/seeding-orders",
                                json={"variants": {str(d.id): str(size_m.id) for d in deals}},
                                headers=brand_api.headers)).json()
    assert result["queued"] == 2
    await queue.run_all(runtime.job_context())
    orders = list(woo.orders.values())
    assert len(orders) == 2 and all(o["total"] == "0.00" for o in orders)
    assert sorted(h["topic"] for h in woo.hooks if h["delivery_url"].endswith(store_id)) == sorted(WOO_TOPICS)
    for n, order in enumerate(orders):
        woo.ship(order["id"], "FedEx", f"77312345678{n}")
    # The pings of the new hooks, order.created for the seeding orders, then the updates carrying tracking:
    # delivered newest first.
    assert await deliverer.deliver(woo, reverse=True) == [200] * (len(WOO_TOPICS) + 4)
    await queue.run_all(runtime.job_context())
    collabs = (await db.scalars(sa.select(Collaboration).where(Collaboration.id.in_([d.id for d in deals])))).all()
    assert {c.status for c in collabs} == {CollabState.SHIPPED}


async def test_another_brand_cannot_seed_or_pick_products(client: Any, brand_api: Any, db: Any,
                                                          shopify: ShopifyServer, queue: Any, runtime: Any,
                                                          people: Any) -> None:
    shopify.add_product("Serum", variants=[{"options": ["Default Title"], "price": "30.00"}])
    await _connect_and_sync(client, brand_api, shopify_body(shopify), queue, runtime)
    product = await db.scalar(sa.select(StoreProduct))
    gig_id, _ = await _funded_deals_on_one_gig(runtime, db, brand_api.person, 1)
    other = await people.brand(brand_name="Other")
    other_headers = await bearer(runtime, other)
    assert (await client.post(f"/api/v1/gigs/{gig_id}/seeding-orders",
                              headers=other_headers)).status_code == 404
    assert (await client.post(f"/api/v1/gigs/{gig_id}/store-product", json={"store_product_id": str(product.id)},
                              headers=other_headers)).status_code == 404
    other_deal = await make_deal(runtime, CollabState.FUNDED, brand=other)
    refused = await client.post(f"/api/v1/gigs/{other_deal.gig_id}/store-product",
                                json={"store_product_id": str(product.id)}, headers=other_headers)
    assert refused.status_code == 422 and refused.json()["errors"][0]["field"] == "store_product_id"


async def test_funding_a_deal_whose_product_comes_from_a_store_queues_its_seeding_order(
        client: Any, brand_api: Any, db: Any, shopify: ShopifyServer, queue: Any, runtime: Any) -> None:
    shopify.add_product("Serum", variants=[{"options": ["Default Title"], "price": "30.00", "inventory": 2}])
    await _connect_and_sync(client, brand_api, shopify_body(shopify), queue, runtime)
    product = await db.scalar(sa.select(StoreProduct))
    deal = await make_deal(runtime, CollabState.SIGNED, brand=brand_api.person)
    await client.post(f"/api/v1/gigs/{deal.gig_id}/store-product", json={"store_product_id": str(product.id)},
                      headers=brand_api.headers)
    queue.jobs.clear()
    await advance_deal(runtime, deal, CollabState.FUNDED)
    assert CREATE_JOB in queue.names()
    await queue.run_all(runtime.job_context())
    assert len(shopify.state.orders) == 1
    assert (await db.scalar(sa.select(SeedingOrder))).status is SeedingStatus.CREATED


async def test_only_in_stock_variants_are_offered_for_signing(client: Any, brand_api: Any, db: Any,
                                                              shopify: ShopifyServer, queue: Any,
                                                              runtime: Any) -> None:
    shopify.add_product("Linen tee", options=["Size"], variants=[
        {"options": ["S"], "price": "25.00", "inventory": 0}, {"options": ["M"], "price": "25.00", "inventory": 2},
        {"options": ["L"], "price": "25.00", "inventory": None}])
    store_id = await _connect_and_sync(client, brand_api, shopify_body(shopify), queue, runtime)
    product = await db.scalar(sa.select(StoreProduct))
    async with runtime.session_maker() as session:
        offered = await variants_to_offer(session, product.id)
        assert [v.option_values for v in offered] == [["M"], ["L"]]
    await client.delete(f"/api/v1/stores/{store_id}", headers=brand_api.headers)
    async with runtime.session_maker() as session:
        assert await variants_to_offer(session, product.id) == []
