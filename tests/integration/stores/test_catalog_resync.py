"""Catalogs stay fresh without the brand asking: an hourly job re-reads WooCommerce catalogs older than 6 hours
(product webhooks don't carry variations) and Shopify's older than a day; a WooCommerce product webhook for a
variable product re-reads that product's variations instead of inventing a default variant."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import sqlalchemy as sa

from marketplace.jobs import REGISTRY
from marketplace.stores.catalog import variants_to_offer
from marketplace.stores.jobs import RESYNC_JOB, SYNC_JOB
from marketplace.stores.models import StoreProduct, StoreVariant
from marketplace.stores.processing import SYNC_PRODUCT_JOB
from tests.fakes.shopify_server import ShopifyServer
from tests.fakes.woocommerce_server import WooCommerceServer
from tests.integration.stores.conftest import shopify_body, woo_body


async def _connect(client: Any, brand_api: Any, body: dict[str, Any], queue: Any, runtime: Any) -> str:
    response = await client.post("/api/v1/stores", json=body, headers=brand_api.headers)
    assert response.status_code == 201, response.text
    await queue.run_all(runtime.job_context())
    return str(response.json()["id"])


async def test_stale_catalogs_are_queued_by_platform(client: Any, brand_api: Any, woo: WooCommerceServer,
                                                     shopify: ShopifyServer, queue: Any, runtime: Any,
                                                     db: Any) -> None:
    woo.add_product("Linen tee", price="25.00", attributes={"Size": ["S", "M"]},
                    variations=[{"options": ["S"], "stock": 2}, {"options": ["M"], "stock": 5}])
    shopify.add_product("Serum", variants=[{"options": ["Default Title"], "price": "30.00", "inventory": 4}])
    woo_id = await _connect(client, brand_api, woo_body(woo), queue, runtime)
    shop_id = await _connect(client, brand_api, shopify_body(shopify), queue, runtime)
    gone_id = await _connect(client, brand_api, woo_body(woo, name="Old site"), queue, runtime)
    await client.delete(f"/api/v1/stores/{gone_id}", headers=brand_api.headers)
    await _connect(client, brand_api, {"platform": "simulated", "name": "Demo"}, queue, runtime)

    async def due() -> list[tuple[str, ...]]:
        queue.jobs.clear()
        await REGISTRY[RESYNC_JOB].function(runtime.job_context())
        return sorted(tuple(j.args) for j in queue.jobs if j.name == SYNC_JOB)

    assert await due() == []
    runtime.clock.advance(hours=7)
    assert await due() == [(woo_id,)]

    # The variation changed in the shop without a webhook reaching us: the scheduled sync brings it in.
    [medium] = [vid for vid, v in woo.variations.items() if v["attributes"][0]["option"] == "M"]
    woo.variations[medium]["stock_quantity"] = 1
    await queue.run_all(runtime.job_context())
    variant = await db.scalar(sa.select(StoreVariant).where(StoreVariant.external_id == str(medium)))
    assert variant.inventory == 1

    runtime.clock.advance(hours=3)
    assert await due() == []  # WooCommerce synced 3 h ago, Shopify 10 h ago
    runtime.clock.advance(timedelta(hours=15))
    assert await due() == sorted([(woo_id,), (shop_id,)])  # 18 h and 25 h


async def test_a_variable_product_webhook_rereads_its_variations(client: Any, brand_api: Any,
                                                                 woo: WooCommerceServer, deliverer: Any,
                                                                 queue: Any, runtime: Any, db: Any) -> None:
    pid = woo.add_product("Linen tee", price="25.00", attributes={"Size": ["S", "M"]},
                          variations=[{"options": ["S"], "stock": 2}, {"options": ["M"], "stock": 5}])
    await _connect(client, brand_api, woo_body(woo), queue, runtime)
    product_id = (await db.scalar(sa.select(StoreProduct))).id
    assert [v.title for v in await variants_to_offer(db, product_id)] == ["S", "M"]

    [small] = [vid for vid, v in woo.variations.items() if v["attributes"][0]["option"] == "S"]
    woo.update_variation(small, stock_quantity=0)
    queue.jobs.clear()
    statuses = await deliverer.deliver(woo)
    assert statuses and set(statuses) == {200}
    await queue.run_all(runtime.job_context())
    assert any(r.endswith(f"GET /wp-json/wc/v3/products/{pid}") for r in woo.requests)
    db.expire_all()
    variants = (await db.scalars(sa.select(StoreVariant).where(StoreVariant.product_id == product_id)
                                 .order_by(StoreVariant.created_at))).all()
    # No "Default" variant made up from the webhook's parent product; the sold-out size is no longer offered.
    assert [(v.title, v.inventory) for v in variants] == [("S", 0), ("M", 5)]
    assert [v.title for v in await variants_to_offer(db, product_id)] == ["M"]
    assert SYNC_PRODUCT_JOB in REGISTRY


def test_the_resync_is_on_the_beat_schedule() -> None:
    from marketplace.jobs import periodic_jobs

    assert {spec.name: spec.every for spec in periodic_jobs()}[RESYNC_JOB] == 3600
