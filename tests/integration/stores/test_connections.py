"""Store connections through the API and the pages: encrypted, masked, rotatable, tested, scoped to the brand."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import sqlalchemy as sa
from cryptography.fernet import Fernet

from marketplace.brands.models import BrandRole
from marketplace.jobs import REGISTRY
from marketplace.stores.models import StoreConnection
from marketplace.stores.vault import SecretBox, derived_key
from tests.fakes.shopify_server import ShopifyServer
from tests.fakes.woocommerce_server import WooCommerceServer
from tests.integration.stores.conftest import shopify_body, woo_body
from tests.support.deals import bearer


async def test_connect_shopify_stores_secrets_encrypted_and_shows_only_last4(client: Any, brand_api: Any,
                                                                           shopify: ShopifyServer, db: Any) -> None:
    response = await client.post("/api/v1/stores", json=shopify_body(shopify), headers=brand_api.headers)
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["secrets"]["access_token"].endswith(shopify.access_token[-4:])
    assert shopify.access_token not in response.text and shopify.client_secret not in response.text
    assert body["webhook_url"] == f"http://testserver.local/webhooks/shopify/{body['id']}"
    row = await db.scalar(sa.select(StoreConnection))
    assert row.access_token_enc and shopify.access_token not in row.access_token_enc
    assert row.webhook_secret_enc and shopify.client_secret not in row.webhook_secret_enc
    listed = (await client.get("/api/v1/stores", headers=brand_api.headers)).json()
    assert [s["id"] for s in listed] == [body["id"]]


async def test_bad_input_is_422_with_a_message_per_field_and_nothing_written(client: Any, brand_api: Any,
                                                                             db: Any) -> None:
    response = await client.post("/api/v1/stores", json={"platform": "shopify", "name": "",
                                                         "shop_url": "not a shop", "access_token": "x"},
                                 headers=brand_api.headers)
    assert response.status_code == 422
    fields = {e["field"] for e in response.json()["errors"]}
    assert fields == {"name", "shop_url", "access_token", "webhook_secret"}
    bad_platform = await client.post("/api/v1/stores", json={"platform": "magento", "name": "M"},
                                     headers=brand_api.headers)
    assert bad_platform.status_code == 422
    assert await db.scalar(sa.select(sa.func.count()).select_from(StoreConnection)) == 0


async def test_test_connection_says_plainly_what_is_wrong(client: Any, brand_api: Any, shopify: ShopifyServer,
                                                          woo: WooCommerceServer) -> None:
    created = (await client.post("/api/v1/stores", json=shopify_body(shopify), headers=brand_api.headers)).json()
    test = f"/api/v1/stores/{created['id']}/test"
    ok = (await client.post(test, headers=brand_api.headers)).json()
    assert ok == {"ok": True, "message": "Connected to Stand-in Shop (USD)."}

    shopify.scopes = ("read_products",)
    scopes = (await client.post(test, headers=brand_api.headers)).json()
    assert not scopes["ok"] and "write_draft_orders" in scopes["message"] and "read_orders" in scopes["message"]

    shopify.access_token = "shpat_changed"
    bad = (await client.post(test, headers=brand_api.headers)).json()
    assert not bad["ok"] and bad["message"].startswith("Bad credentials") and "401" in bad["message"]

    shopify.exists = False
    missing = (await client.post(test, headers=brand_api.headers)).json()
    assert missing["message"].startswith("Shop not found")

    down = (await client.post("/api/v1/stores", json=shopify_body(shopify, shop_url="http://127.0.0.1:9"),
                              headers=brand_api.headers)).json()
    unreachable = (await client.post(f"/api/v1/stores/{down['id']}/test", headers=brand_api.headers)).json()
    assert unreachable["message"].startswith("Unreachable")

    wc = (await client.post("/api/v1/stores", json=woo_body(woo), headers=brand_api.headers)).json()
    assert (await client.post(f"/api/v1/stores/{wc['id']}/test", headers=brand_api.headers)).json()["ok"]
    woo.consumer_secret = "cs_rotated"
    wrong = (await client.post(f"/api/v1/stores/{wc['id']}/test", headers=brand_api.headers)).json()
    assert wrong["message"].startswith("Bad credentials")
    # Rotating the secret (PATCH) makes it work again; the answer shows the new last 4 only.
    patched = await client.patch(f"/api/v1/stores/{wc['id']}", json={"api_secret": "cs_rotated"},
                                 headers=brand_api.headers)
    assert patched.status_code == 200 and patched.json()["secrets"]["api_secret"].endswith("ated")
    assert (await client.post(f"/api/v1/stores/{wc['id']}/test", headers=brand_api.headers)).json()["ok"]


async def test_custom_store_gets_a_signing_secret_once_and_can_rotate_it(client: Any, brand_api: Any) -> None:
    created = (await client.post("/api/v1/stores", json={"platform": "custom", "name": "My shop"},
                                 headers=brand_api.headers)).json()
    first = created["signing_secret"]
    assert first.startswith("pps_") and created["webhook_url"].endswith(f"/api/v1/stores/{created['id']}/orders")
    again = (await client.get(f"/api/v1/stores/{created['id']}", headers=brand_api.headers)).json()
    assert again["signing_secret"] is None and first not in str(again)
    rotated = (await client.patch(f"/api/v1/stores/{created['id']}", json={"rotate_signing_secret": True},
                                  headers=brand_api.headers)).json()
    assert rotated["signing_secret"] not in (None, first)


async def test_another_brand_gets_404_and_finance_gets_403(client: Any, brand_api: Any, people: Any,
                                                           runtime: Any, shopify: ShopifyServer) -> None:
    store_id = (await client.post("/api/v1/stores", json=shopify_body(shopify), headers=brand_api.headers)).json()["id"]
    other = await bearer(runtime, await people.brand(brand_name="Other"))
    for method, path in [("GET", ""), ("PATCH", ""), ("DELETE", ""), ("POST", "/test"), ("GET", "/products")]:
        response = await client.request(method, f"/api/v1/stores/{store_id}{path}", headers=other,
                                        json={} if method == "PATCH" else None)
        assert response.status_code == 404, (method, path, response.text)
    assert (await client.get("/api/v1/stores", headers=other)).json() == []
    finance = await people.brand(brand_id=brand_api.person.brand_id, role=BrandRole.FINANCE)
    finance_headers = await bearer(runtime, finance)
    assert (await client.get(f"/api/v1/stores/{store_id}", headers=finance_headers)).status_code == 200
    assert (await client.delete(f"/api/v1/stores/{store_id}", headers=finance_headers)).status_code == 403
    creator = await bearer(runtime, await people.creator())
    assert (await client.get("/api/v1/stores", headers=creator)).status_code == 403


async def test_disconnect_wipes_secrets(client: Any, brand_api: Any, shopify: ShopifyServer, db: Any) -> None:
    store_id = (await client.post("/api/v1/stores", json=shopify_body(shopify), headers=brand_api.headers)).json()["id"]
    assert (await client.delete(f"/api/v1/stores/{store_id}", headers=brand_api.headers)).status_code == 204
    row = await db.scalar(sa.select(StoreConnection))
    assert row.disconnected_at is not None and row.access_token_enc is None and row.webhook_secret_enc is None
    assert (await client.get(f"/api/v1/stores/{store_id}", headers=brand_api.headers)).status_code == 404


async def test_pages_connect_test_and_show_masked(web: Any, people: Any, shopify: ShopifyServer) -> None:
    brand = await people.brand()
    await web.sign_in(brand.email, brand.password)
    page = await web.get("/brand/stores")
    assert page.status_code == 200 and "Connect a store" in page.text
    refused = await web.post("/brand/stores", {"platform": "shopify", "name": "Shop", "shop_url": "nope"},
                             htmx=True)
    assert refused.status_code == 422 and "myshopify.com" in refused.text and "<html" not in refused.text
    no_csrf = await web.post("/brand/stores", shopify_body(shopify), csrf=False)
    assert no_csrf.status_code == 403
    created = await web.post("/brand/stores", shopify_body(shopify))
    assert created.status_code == 303
    detail = await web.get(created.headers["location"])
    assert shopify.access_token not in detail.text and shopify.access_token[-4:] in detail.text
    tested = await web.post(created.headers["location"] + "/test", {}, htmx=True)
    assert tested.status_code == 200 and "Connected to Stand-in Shop" in tested.text


async def test_openapi_lists_the_store_routes_with_their_errors(client: Any) -> None:
    schema = (await client.get("/schema/openapi.json")).json()
    paths = schema["paths"]
    for path in ("/api/v1/stores", "/api/v1/stores/{store_id}", "/api/v1/stores/{store_id}/test",
                 "/api/v1/stores/{store_id}/products", "/api/v1/gigs/{gig_id}/seeding-orders",
                 "/api/v1/stores/{store_id}/orders"):
        assert path in paths, path
    assert {"401", "403", "404", "422"} <= set(paths["/api/v1/stores/{store_id}"]["patch"]["responses"])
    assert "422" in paths["/api/v1/stores"]["post"]["responses"]
    assert not any(p.startswith("/webhooks/") or p.startswith("/brand/") for p in paths)


async def test_a_woocommerce_address_inside_our_network_is_refused(client: Any, brand_api: Any,
                                                                   woo: WooCommerceServer) -> None:
    for url in ("https://10.0.0.5", "https://169.254.169.254/latest", "https://localhost:8443", "https://db.internal"):
        response = await client.post("/api/v1/stores", json=woo_body(woo, shop_url=url), headers=brand_api.headers)
        assert response.status_code == 422 and response.json()["errors"][0]["field"] == "shop_url", url


async def test_secrets_are_resealed_under_a_new_key(client: Any, brand_api: Any, shopify: ShopifyServer, db: Any,
                                                    runtime: Any) -> None:
    await client.post("/api/v1/stores", json=shopify_body(shopify), headers=brand_api.headers)
    new_key = Fernet.generate_key().decode()
    old_key = derived_key(runtime.settings.app.secret_key).decode()
    settings = replace(runtime.settings, stores=replace(runtime.settings.stores, encryption_keys=(new_key, old_key)))
    context = runtime.job_context()
    context.settings = settings
    await REGISTRY["stores.reencrypt_secrets"].function(context)
    row = await db.scalar(sa.select(StoreConnection))
    only_new = SecretBox([new_key.encode()])
    assert only_new.open(row.access_token_enc) == shopify.access_token
    assert only_new.open(row.webhook_secret_enc) == shopify.client_secret


async def test_variant_cost_is_editable_and_kept_by_syncs(client: Any, brand_api: Any, shopify: ShopifyServer,
                                                          queue: Any, runtime: Any, people: Any) -> None:
    shopify.add_product("Serum", variants=[{"options": ["Default Title"], "price": "30.00", "cost": "7.00"}])
    store_id = (await client.post("/api/v1/stores", json=shopify_body(shopify), headers=brand_api.headers)).json()["id"]
    await queue.run_all(runtime.job_context())
    [product] = (await client.get(f"/api/v1/stores/{store_id}/products", headers=brand_api.headers)).json()["products"]
    variant = product["variants"][0]
    assert variant["cost"] == {"amount": 700, "currency": "USD"}
    url = f"/api/v1/stores/{store_id}/variants/{variant['id']}"
    changed = await client.patch(url, json={"cost_amount": 650}, headers=brand_api.headers)
    assert changed.status_code == 200 and changed.json()["cost"]["amount"] == 650
    assert (await client.patch(url, json={"cost_amount": -1}, headers=brand_api.headers)).status_code == 422
    await client.post(f"/api/v1/stores/{store_id}/sync", headers=brand_api.headers)
    await queue.run_all(runtime.job_context())
    [product] = (await client.get(f"/api/v1/stores/{store_id}/products", headers=brand_api.headers)).json()["products"]
    assert product["variants"][0]["cost"]["amount"] == 650
    other = await bearer(runtime, await people.brand(brand_name="Other"))
    assert (await client.patch(url, json={"cost_amount": 1}, headers=other)).status_code == 404
