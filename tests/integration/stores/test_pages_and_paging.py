"""The seeding page (plain and htmx), other brands' pages 404, and catalogs larger than one page on both clients."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from marketplace.collaborations.states import CollabState
from marketplace.stores.models import StoreProduct, StoreVariant
from tests.fakes.shopify_server import ShopifyServer
from tests.fakes.woocommerce_server import WooCommerceServer
from tests.integration.stores.conftest import shopify_body, woo_body
from tests.support.deals import make_deal


async def test_catalogs_larger_than_a_page_sync_completely(client: Any, brand_api: Any, db: Any,
                                                           shopify: ShopifyServer, woo: WooCommerceServer,
                                                           queue: Any, runtime: Any) -> None:
    for n in range(120):
        shopify.add_product(f"Shopify product {n}", variants=[{"options": ["Default Title"], "price": "1.00"}])
    for n in range(130):
        woo.add_product(f"Woo product {n}", price="2.50", attributes={"Size": ["S", "M"]},
                        variations=[{"options": ["S"]}, {"options": ["M"]}])
    for body in (shopify_body(shopify), woo_body(woo)):
        assert (await client.post("/api/v1/stores", json=body, headers=brand_api.headers)).status_code == 201
    await queue.run_all(runtime.job_context())
    assert await db.scalar(sa.select(sa.func.count()).select_from(StoreProduct)) == 250
    assert await db.scalar(sa.select(sa.func.count()).select_from(StoreVariant)) == 120 + 260
    # Shopify in pages of 50 (3 calls), WooCommerce 2 product pages of 100 plus one variations call per product.
    assert shopify.operations.count("Products") == 3
    assert [r for r in woo.requests if "/products?" in r] == [
        "GET /wp-json/wc/v3/products?page=1&per_page=100", "GET /wp-json/wc/v3/products?page=2&per_page=100"]


async def test_seeding_page_with_and_without_htmx(web: Any, client: Any, brand_api: Any, db: Any,
                                                  shopify: ShopifyServer, queue: Any, runtime: Any,
                                                  people: Any) -> None:
    shopify.add_product("Serum", variants=[{"options": ["Default Title"], "price": "30.00", "inventory": 3}])
    await client.post("/api/v1/stores", json=shopify_body(shopify), headers=brand_api.headers)
    await queue.run_all(runtime.job_context())
    product = await db.scalar(sa.select(StoreProduct))
    deal = await make_deal(runtime, CollabState.FUNDED, brand=brand_api.person)
    await web.sign_in(brand_api.person.email, brand_api.person.password)
    page = await web.get(f"/brand/stores/gigs/{deal.gig_id}")
    assert page.status_code == 200 and "Stand-in" not in page.text and "Serum" in page.text
    picked = await web.post(f"/brand/stores/gigs/{deal.gig_id}/product", {"store_product_id": str(product.id)})
    assert picked.status_code == 303
    queue.jobs.clear()
    fragment = await web.post(f"/brand/stores/gigs/{deal.gig_id}/seeding", {}, htmx=True)
    assert fragment.status_code == 200 and "1 order(s) queued" in fragment.text and "<html" not in fragment.text
    assert queue.names() == ["stores.create_seeding_order"]
    full = await web.get(f"/brand/stores/gigs/{deal.gig_id}")
    assert "<html" in full.text and "pending" in full.text

    other = await people.brand(brand_name="Other")
    other_web = web.__class__(client.__class__(app=client.app, base_url="http://testserver.local"), runtime)
    async with other_web.client:
        await other_web.sign_in(other.email, other.password)
        assert (await other_web.get(f"/brand/stores/gigs/{deal.gig_id}")).status_code == 404
        store_page = (await web.get("/brand/stores")).text
        store_id = store_page.split('href="/brand/stores/', 1)[1].split('"', 1)[0]
        assert (await other_web.get(f"/brand/stores/{store_id}")).status_code == 404
