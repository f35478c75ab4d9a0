"""Store webhooks: signature on the raw body, stored once per delivery id, acknowledged, processed by a job in any
order; custom stores' signed pushes."""

from __future__ import annotations

import json
import time
import uuid
from typing import Any

import sqlalchemy as sa

from marketplace.stores.intake import base64_hmac, custom_signature
from marketplace.stores.models import StoreOrder, StoreProduct, StoreVariant, StoreWebhookDelivery
from marketplace.stores.processing import install_order_listeners
from tests.fakes.shopify_server import ShopifyServer
from tests.fakes.woocommerce_server import WooCommerceServer
from tests.integration.stores.conftest import shopify_body, woo_body


async def _connect(client: Any, brand_api: Any, body: dict[str, Any]) -> dict[str, Any]:
    response = await client.post("/api/v1/stores", json=body, headers=brand_api.headers)
    assert response.status_code == 201, response.text
    return response.json()  # type: ignore[no-any-return]


def _shopify_headers(shop: ShopifyServer, body: bytes, topic: str, webhook_id: str | None = None) -> dict[str, str]:
    return {"Content-Type": "application/json", "X-Shopify-Topic": topic,
            "X-Shopify-Hmac-SHA256": base64_hmac(body, shop.client_secret), "X-Shopify-Shop-Domain": shop.domain,
            "X-Shopify-Webhook-Id": webhook_id or str(uuid.uuid4()), "X-Shopify-API-Version": "2025-10"}


async def _count(db: Any, model: Any = StoreWebhookDelivery) -> int:
    return await db.scalar(sa.select(sa.func.count()).select_from(model))  # type: ignore[no-any-return]


async def test_signed_order_is_stored_acknowledged_and_applied_by_a_job(client: Any, brand_api: Any, db: Any,
                                                                        shopify: ShopifyServer, deliverer: Any,
                                                                        queue: Any, runtime: Any) -> None:
    store = await _connect(client, brand_api, shopify_body(shopify))
    queue.jobs.clear()
    shopify.subscribe("orders/create", store["webhook_url"])
    shopify.place_order(email="fan@example.com", total="59.90", discount_codes=[{"code": "AVA-GLOW15",
                                                                                 "amount": "9.00"}],
                        landing_site="/products/tee?ref=ava")
    assert await deliverer.deliver(shopify) == [200]
    assert queue.names() == ["stores.process_delivery"]
    await queue.run_all(runtime.job_context())
    order = await db.scalar(sa.select(StoreOrder))
    assert (order.total_amount, order.currency, order.email) == (5990, "USD", "fan@example.com")
    assert order.discount_codes[0]["code"] == "AVA-GLOW15" and order.landing_site == "/products/tee?ref=ava"
    delivery = await db.scalar(sa.select(StoreWebhookDelivery))
    assert delivery.processed_at is not None and delivery.outcome.startswith("order")
    assert delivery.payload == {}  # applied: the customer's details aren't kept twice


async def test_bad_or_missing_signature_is_401_and_nothing_is_stored(client: Any, brand_api: Any, db: Any,
                                                                     shopify: ShopifyServer, deliverer: Any,
                                                                     queue: Any) -> None:
    store = await _connect(client, brand_api, shopify_body(shopify))
    queue.jobs.clear()
    shopify.subscribe("orders/create", store["webhook_url"])
    shopify.place_order(email="fan@example.com", total="10.00")
    assert await deliverer.deliver(shopify, bad_signature=True) == [401]
    body = b'{"id": 1}'
    headers = _shopify_headers(shopify, body, "orders/create")
    del headers["X-Shopify-Hmac-SHA256"]
    missing = await client.post(f"/webhooks/shopify/{store['id']}", content=body, headers=headers)
    assert missing.status_code == 401 and missing.headers["content-type"].startswith("application/problem+json")
    assert await _count(db) == 0 and queue.jobs == []


async def test_duplicates_are_stored_and_processed_once(client: Any, brand_api: Any, db: Any,
                                                        shopify: ShopifyServer, deliverer: Any, queue: Any,
                                                        runtime: Any) -> None:
    store = await _connect(client, brand_api, shopify_body(shopify))
    queue.jobs.clear()
    shopify.subscribe("refunds/create", store["webhook_url"])
    order = shopify.place_order(email="fan@example.com", total="40.00")
    shopify.outbox.clear()
    shopify.refund(order, "15.00")
    assert await deliverer.deliver(shopify, duplicate=True) == [200, 200]
    assert await _count(db) == 1 and queue.names() == ["stores.process_delivery"]
    await queue.run_all(runtime.job_context())
    row = await db.scalar(sa.select(StoreOrder))
    # The refund arrived before its order: it is kept on a placeholder the order fills in later.
    assert row.refunded_amount == 1500


async def test_an_older_update_never_overwrites_a_newer_one(client: Any, brand_api: Any, db: Any,
                                                            shopify: ShopifyServer, queue: Any,
                                                            runtime: Any) -> None:
    store = await _connect(client, brand_api, shopify_body(shopify))
    url = f"/webhooks/shopify/{store['id']}"
    newer = json.dumps({"id": 77, "total_price": "30.00", "currency": "USD", "financial_status": "refunded",
                        "updated_at": "2026-11-21T12:05:00+00:00"}).encode()
    older = json.dumps({"id": 77, "total_price": "30.00", "currency": "USD", "financial_status": "paid",
                        "updated_at": "2026-11-21T12:00:00+00:00"}).encode()
    for body in (newer, older):
        assert (await client.post(url, content=body,
                                  headers=_shopify_headers(shopify, body, "orders/updated"))).status_code == 200
    await queue.run_all(runtime.job_context())
    assert (await db.scalar(sa.select(StoreOrder))).financial_status == "refunded"


async def test_unknown_topic_is_acknowledged_and_ignored(client: Any, brand_api: Any, db: Any,
                                                         shopify: ShopifyServer, queue: Any, runtime: Any) -> None:
    store = await _connect(client, brand_api, shopify_body(shopify))
    body = b'{"id": 5}'
    response = await client.post(f"/webhooks/shopify/{store['id']}", content=body,
                                 headers=_shopify_headers(shopify, body, "app/uninstalled"))
    assert response.status_code == 200
    await queue.run_all(runtime.job_context())
    assert (await db.scalar(sa.select(StoreWebhookDelivery))).outcome.startswith("ignored")


async def test_oversized_and_non_object_bodies_are_refused(client: Any, brand_api: Any, db: Any,
                                                           shopify: ShopifyServer) -> None:
    store = await _connect(client, brand_api, shopify_body(shopify))
    url = f"/webhooks/shopify/{store['id']}"
    huge = b'{"a": "' + b"x" * (10 * 1024 * 1024) + b'"}'
    too_big = await client.post(url, content=huge, headers=_shopify_headers(shopify, huge, "orders/create"))
    assert too_big.status_code == 413
    for body in (b"[1, 2, 3]", b"null", b"{not json"):
        response = await client.post(url, content=body, headers=_shopify_headers(shopify, body, "orders/create"))
        assert response.status_code == 400, body
    unknown = await client.post(f"/webhooks/shopify/{uuid.uuid4()}", content=b"{}",
                                headers=_shopify_headers(shopify, b"{}", "orders/create"))
    assert unknown.status_code == 404
    assert await _count(db) == 0


async def test_products_webhooks_update_the_catalog(client: Any, brand_api: Any, db: Any, shopify: ShopifyServer,
                                                    deliverer: Any, queue: Any, runtime: Any) -> None:
    store = await _connect(client, brand_api, shopify_body(shopify))
    for topic in ("products/create", "products/update", "products/delete"):
        shopify.subscribe(topic, store["webhook_url"])
    product = shopify.add_product("Linen tee", options=["Size"], notify=True,
                                  variants=[{"options": ["S"], "price": "25.00"}, {"options": ["M"], "price": "25.00"}])
    shopify.update_product(product, title="Linen tee v2")
    # Delivered newest first: the create must not undo the update.
    assert await deliverer.deliver(shopify, reverse=True) == [200, 200]
    await queue.run_all(runtime.job_context())
    saved = await db.scalar(sa.select(StoreProduct))
    assert saved.title == "Linen tee v2"
    assert sorted(v.option_values[0] for v in (await db.scalars(sa.select(StoreVariant))).all()) == ["M", "S"]
    body = json.dumps({"id": int(product.rsplit("/", 1)[-1])}).encode()
    await client.post(f"/webhooks/shopify/{store['id']}", content=body,
                      headers=_shopify_headers(shopify, body, "products/delete"))
    await queue.run_all(runtime.job_context())
    assert (await db.scalar(sa.select(StoreProduct))).deleted_at is not None


async def test_privacy_topics_redact_what_we_keep(client: Any, brand_api: Any, db: Any, shopify: ShopifyServer,
                                                  deliverer: Any, queue: Any, runtime: Any) -> None:
    store = await _connect(client, brand_api, shopify_body(shopify))
    shopify.subscribe("orders/create", store["webhook_url"])
    shopify.place_order(email="Fan@Example.com", total="10.00")
    shopify.place_order(email="other@example.com", total="12.00")
    await deliverer.deliver(shopify)
    url = f"/webhooks/shopify/{store['id']}"
    request = json.dumps({"shop_domain": shopify.domain, "customer": {"id": 9, "email": "fan@example.com"},
                          "orders_requested": []}).encode()
    await client.post(url, content=request, headers=_shopify_headers(shopify, request, "customers/data_request"))
    redact = json.dumps({"shop_domain": shopify.domain, "customer": {"id": 9, "email": "fan@example.com"},
                         "orders_to_redact": []}).encode()
    await client.post(url, content=redact, headers=_shopify_headers(shopify, redact, "customers/redact"))
    await queue.run_all(runtime.job_context())
    emails = sorted(str(o.email) for o in (await db.scalars(sa.select(StoreOrder))).all())
    assert emails == ["None", "other@example.com"]
    outcomes = [d.outcome for d in (await db.scalars(sa.select(StoreWebhookDelivery))).all()]
    assert any(o.startswith("data request: 1 order(s)") for o in outcomes)
    shop_redact = json.dumps({"shop_domain": shopify.domain}).encode()
    await client.post(url, content=shop_redact, headers=_shopify_headers(shopify, shop_redact, "shop/redact"))
    await queue.run_all(runtime.job_context())
    assert all(o.email is None for o in (await db.scalars(sa.select(StoreOrder))).all())


async def test_woocommerce_ping_and_signed_deliveries(client: Any, brand_api: Any, db: Any,
                                                      woo: WooCommerceServer, deliverer: Any, queue: Any,
                                                      runtime: Any) -> None:
    store = await _connect(client, brand_api, woo_body(woo))
    woo.subscribe("order.created", store["webhook_url"])
    assert await deliverer.deliver(woo) == [200]  # the ping: answered, nothing stored
    assert await _count(db) == 0
    pid = woo.add_product("Serum", price="24.00")
    woo._create_order({"status": "processing", "line_items": [{"product_id": pid, "quantity": 1}],
                       "billing": {"email": "fan@example.com"}})
    assert await deliverer.deliver(woo, duplicate=True) == [200, 200]
    woo._create_order({"status": "processing", "line_items": [{"product_id": pid, "quantity": 1}]})
    assert await deliverer.deliver(woo, bad_signature=True) == [401]
    await queue.run_all(runtime.job_context())
    order = await db.scalar(sa.select(StoreOrder))
    assert (order.total_amount, order.email, await _count(db)) == (2400, "fan@example.com", 1)


async def test_custom_store_pushes_signed_orders_within_five_minutes(client: Any, brand_api: Any, db: Any,
                                                                     queue: Any, runtime: Any) -> None:
    store = await _connect(client, brand_api, {"platform": "custom", "name": "My shop"})
    secret, url = store["signing_secret"], f"/api/v1/stores/{store['id']}/orders"
    body = json.dumps({"id": "A-100", "name": "A-100", "currency": "EUR", "total_price": "49.00",
                       "subtotal_price": "41.18", "total_tax": "7.82", "email": "fan@example.com",
                       "discount_codes": [{"code": "AVA10"}]}).encode()

    def signed(at: int, delivery: str, key: str = secret) -> dict[str, str]:
        return {"Content-Type": "application/json", "X-PostPact-Timestamp": str(at),
                "X-PostPact-Signature": custom_signature(key, str(at), body), "X-PostPact-Delivery-Id": delivery}

    now = int(time.time())
    # A minute's margin past the five on either side: the server reads its own clock when each request arrives
    # (a busy machine took over a second between two requests, which let now + 301 in).
    assert (await client.post(url, content=body, headers=signed(now - 360, "d1"))).status_code == 401
    assert (await client.post(url, content=body, headers=signed(int(time.time()) + 360, "d1"))).status_code == 401
    assert (await client.post(url, content=body, headers=signed(now, "d1", "pps_wrong"))).status_code == 401
    assert await _count(db) == 0
    ok = await client.post(url, content=body, headers=signed(now - 200, "d1"))
    assert ok.status_code == 200 and ok.json() == {"received": True, "duplicate": False}
    again = await client.post(url, content=body, headers=signed(now, "d1"))
    assert again.json()["duplicate"] is True
    await queue.run_all(runtime.job_context())
    order = await db.scalar(sa.select(StoreOrder))
    assert (order.total_amount, order.subtotal_amount, order.tax_amount, order.currency) == (4900, 4118, 782, "EUR")


async def test_an_unreadable_body_is_recorded_not_retried_forever(client: Any, brand_api: Any, db: Any,
                                                                  shopify: ShopifyServer, queue: Any,
                                                                  runtime: Any) -> None:
    store = await _connect(client, brand_api, shopify_body(shopify))
    body = json.dumps({"id": 8, "total_price": "twelve", "currency": "USD"}).encode()
    await client.post(f"/webhooks/shopify/{store['id']}", content=body,
                      headers=_shopify_headers(shopify, body, "orders/create"))
    refund = json.dumps({"id": 9, "order_id": 8, "transactions": [{"amount": {"oops": 1}}]}).encode()
    await client.post(f"/webhooks/shopify/{store['id']}", content=refund,
                      headers=_shopify_headers(shopify, refund, "refunds/create"))
    await queue.run_all(runtime.job_context())
    rows = (await db.scalars(sa.select(StoreWebhookDelivery).order_by(StoreWebhookDelivery.id))).all()
    assert all(r.processed_at is not None for r in rows)
    assert rows[0].outcome.startswith("ignored: unreadable order") and rows[1].outcome.startswith("unreadable")


async def test_order_listeners_hear_saved_orders_and_refunds(client: Any, brand_api: Any, shopify: ShopifyServer,
                                                             deliverer: Any, queue: Any, runtime: Any) -> None:
    heard: list[tuple[str, int]] = []

    class Recorder:
        async def order_changed(self, session: Any, store: Any, order: StoreOrder, now: Any) -> None:
            heard.append((order.external_id, order.refunded_amount))

    install_order_listeners([Recorder()])
    try:
        store = await _connect(client, brand_api, shopify_body(shopify))
        shopify.subscribe("orders/create", store["webhook_url"])
        shopify.subscribe("refunds/create", store["webhook_url"])
        order = shopify.place_order(email="fan@example.com", total="40.00")
        shopify.refund(order, "10.00")
        await deliverer.deliver(shopify)
        await queue.run_all(runtime.job_context())
    finally:
        install_order_listeners([])
    number = order.rsplit("/", 1)[-1]
    assert heard == [(number, 0), (number, 1000)]
