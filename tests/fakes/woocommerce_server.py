"""A local, stateful stand-in for a WooCommerce site's REST API v3 that also sends signed webhooks."""

# Usage:
#
#     with WooCommerceServer(webhook_secret="wc_secret") as site:
#         pid = site.add_product("Tee", attributes={"Size": ["S", "M"]}, variations=[{"options": ["M"], ...}])
#         site.subscribe("order.updated", "http://127.0.0.1:8000/webhooks/woocommerce/<store id>")
#         site.ship(order_id, "UPS", "1Z999AA10123456784")  # Shipment Tracking meta + status completed
#         site.flush(send)
#
# Endpoints under /wp-json/wc/v3 with HTTP basic auth (consumer key/secret), lists paged by page/per_page with
# X-WP-Total and X-WP-TotalPages, errors as {"code", "message", "data": {"status"}}. Webhooks carry
# X-WC-Webhook-Signature (base64 HMAC-SHA256 of the raw body), -Topic, -Resource, -Event, -Source, -ID and
# -Delivery-ID; creating one sends the form-encoded ``webhook_id=<id>`` ping first, as WooCommerce does.

from __future__ import annotations

import base64
import itertools
import json
import math
import re
import threading
import time
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any
from urllib.parse import parse_qs, urlsplit

from tests.fakes.shopify_server import Delivery, Fault, Send, _reply, _Server, http_post, sign

API = "/wp-json/wc/v3"


def now_gmt() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S")


class WooCommerceServer:
    def __init__(self, *, consumer_key: str = "ck_stand_in_0001", consumer_secret: str = "cs_stand_in_0001",  # noqa: S107
                 webhook_secret: str = "wc_webhook_secret", currency: str = "USD",  # noqa: S107 (a stand-in)
                 read_only: bool = False, host: str = "127.0.0.1") -> None:
        self.consumer_key = consumer_key
        self.consumer_secret = consumer_secret
        self.webhook_secret = webhook_secret
        self.currency = currency
        self.read_only = read_only
        self.products: dict[int, dict[str, Any]] = {}
        self.variations: dict[int, dict[str, Any]] = {}
        self.orders: dict[int, dict[str, Any]] = {}
        #: Coupons by id (sales attribution's discount codes), codes kept in lower case as WooCommerce does.
        self.coupons: dict[int, dict[str, Any]] = {}
        self.hooks: list[dict[str, Any]] = []
        self.outbox: list[Delivery] = []
        self.faults: list[Fault] = []
        self.requests: list[str] = []
        self._ids = itertools.count(501)
        self._deliveries = itertools.count(9001)
        self._lock = threading.RLock()
        self._httpd = _Server((host, 0), self)

    def start(self) -> WooCommerceServer:
        threading.Thread(target=self._httpd.serve_forever, name="woocommerce-stand-in", daemon=True).start()
        return self

    def stop(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()

    def __enter__(self) -> WooCommerceServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def url(self) -> str:
        host, port = self._httpd.server_address[:2]
        return f"http://{host}:{port}"

    # -- arranging

    def fail_next(self, status: int, *, times: int = 1, retry_after: float | None = None) -> None:
        self.faults.extend(Fault(status, retry_after) for _ in range(times))

    def timeout_next(self, seconds: float, times: int = 1) -> None:
        self.faults.extend(Fault(200, delay=seconds) for _ in range(times))

    def add_product(self, name: str, *, price: str = "0.00", stock: int | None = 10,
                    attributes: dict[str, list[str]] | None = None,
                    variations: list[dict[str, Any]] | None = None) -> int:
        with self._lock:
            pid = next(self._ids)
            product = {"id": pid, "name": name, "type": "variable" if variations else "simple", "price": price,
                       "regular_price": price, "sku": f"WC-{pid}", "manage_stock": stock is not None,
                       "stock_quantity": stock, "images": [], "date_modified_gmt": now_gmt(),
                       "attributes": [{"name": k, "options": v, "variation": True}
                                      for k, v in (attributes or {}).items()], "variation_ids": []}
            for spec in variations or []:
                vid = next(self._ids)
                names = list((attributes or {}).keys())
                self.variations[vid] = {
                    "id": vid, "product_id": pid, "price": str(spec.get("price", price)),
                    "regular_price": str(spec.get("price", price)), "sku": spec.get("sku", f"WC-{vid}"),
                    "manage_stock": spec.get("stock", 10) is not None, "stock_quantity": spec.get("stock", 10),
                    "attributes": [{"name": n, "option": o} for n, o in zip(names, spec["options"], strict=False)],
                }
                product["variation_ids"].append(vid)
            self.products[pid] = product
            return pid

    def update_variation(self, variation_id: int, **changes: Any) -> None:
        """Change a variation (stock, price) as the shop's staff would; WooCommerce's product.updated webhook
        carries the parent product (its variation ids, not the variations)."""
        with self._lock:
            self.variations[variation_id].update(changes)
            product = self.products[self.variations[variation_id]["product_id"]]
            product["date_modified_gmt"] = now_gmt()
            self.queue_webhook("product.updated", self._product_json(product))

    def subscribe(self, topic: str, url: str) -> int:
        with self._lock:
            hook = {"id": next(self._ids), "topic": topic, "delivery_url": url, "secret": self.webhook_secret,
                    "status": "active"}
            self.hooks.append(hook)
            # WooCommerce pings a new hook's URL with a form body naming it.
            body = f"webhook_id={hook['id']}".encode()
            self.outbox.append(Delivery(url, {"Content-Type": "application/x-www-form-urlencoded",
                                              "X-WC-Webhook-ID": str(hook["id"])}, body))
            return int(hook["id"])

    def ship(self, order_id: int, carrier: str, tracking_number: str, tracking_url: str | None = None) -> None:
        """What the Shipment Tracking extension leaves on an order when the brand ships it."""
        with self._lock:
            order = self.orders[order_id]
            order["status"] = "completed"
            order["meta_data"].append({"id": next(self._ids), "key": "_wc_shipment_tracking_items", "value": [{
                "tracking_id": f"t{next(self._ids)}", "tracking_provider": carrier,
                "tracking_number": tracking_number, "custom_tracking_link": tracking_url or "",
                "date_shipped": str(int(time.time()))}]})
            order["date_modified_gmt"] = now_gmt()
            self.queue_webhook("order.updated", order)

    def queue_webhook(self, topic: str, payload: dict[str, Any]) -> None:
        body = json.dumps(payload).encode()
        resource, event = topic.split(".", 1)
        for hook in [h for h in self.hooks if h["topic"] == topic]:
            self.outbox.append(Delivery(hook["delivery_url"], {
                "Content-Type": "application/json",
                "X-WC-Webhook-Source": self.url + "/",
                "X-WC-Webhook-Topic": topic,
                "X-WC-Webhook-Resource": resource,
                "X-WC-Webhook-Event": event,
                "X-WC-Webhook-Signature": sign(body, hook["secret"]),
                "X-WC-Webhook-ID": str(hook["id"]),
                "X-WC-Webhook-Delivery-ID": str(next(self._deliveries)),
            }, body))

    def flush(self, send: Send | None = None, *, reverse: bool = False, duplicate: bool = False,
              bad_signature: bool = False) -> list[Any]:
        with self._lock:
            batch, self.outbox = self.outbox, []
        if reverse:
            batch.reverse()
        results: list[Any] = []
        failed: list[Delivery] = []
        for delivery in batch:
            headers = dict(delivery.headers)
            if bad_signature and "X-WC-Webhook-Signature" in headers:
                headers["X-WC-Webhook-Signature"] = sign(delivery.body, "not-the-secret")
            for _ in range(2 if duplicate else 1):
                result = (send or http_post)(delivery.url, headers, delivery.body)
                results.append(result)
                if isinstance(result, int) and not 200 <= result < 300:
                    failed.append(delivery)
        with self._lock:
            # Like the platform: a delivery not answered 2xx is sent again later, the same payload and id.
            self.outbox.extend(failed)
        return results

    # -- the API

    def handle(self, method: str, path: str, headers: Any, body: bytes) -> tuple[int, dict[str, str], bytes]:
        with self._lock:
            self.requests.append(f"{method} {path}")
            fault = self.faults.pop(0) if self.faults else None
        if fault and fault.delay:
            time.sleep(fault.delay)
        parts = urlsplit(path)
        if not parts.path.startswith(API + "/"):
            return _reply(404, {"code": "rest_no_route", "message": "No route was found matching the URL and "
                                                                    "request method.", "data": {"status": 404}})
        if fault and fault.status != 200:
            extra = {"Retry-After": str(fault.retry_after)} if fault.retry_after is not None else {}
            return _reply(fault.status, {"code": "stand_in_fault", "message": "fault", "data": {}}, extra)
        if not self._authorised(headers.get("Authorization") or ""):
            return _error(401, "woocommerce_rest_authentication_error", "Consumer key is invalid.")
        route = parts.path[len(API):]
        query = {k: v[-1] for k, v in parse_qs(parts.query).items()}
        with self._lock:
            return self._route(method, route, query, body)

    def _coupons(self, method: str, query: dict[str, str], body: bytes) -> tuple[int, dict[str, str], bytes]:
        if method == "POST":
            return _new_coupon(self, body)
        code = query.get("code", "").lower()
        return _reply(200, [c for c in self.coupons.values() if not code or c["code"] == code])

    def _authorised(self, header: str) -> bool:
        if not header.startswith("Basic "):
            return False
        try:
            key, _, secret = base64.b64decode(header[6:]).decode().partition(":")
        except ValueError:
            return False
        return key == self.consumer_key and secret == self.consumer_secret

    def _route(self, method: str, route: str, query: dict[str, str], body: bytes) -> tuple[int, dict[str, str],
                                                                                            bytes]:
        if route == "/coupons" and method in ("GET", "POST"):
            return self._coupons(method, query, body)
        if method == "GET" and route == "/data/currencies/current":
            return _reply(200, {"code": self.currency, "name": self.currency, "symbol": "$"})
        if method == "GET" and route == "/products":
            return _paged([self._product_json(p) for p in self.products.values()], query)
        if method == "GET" and (m := re.fullmatch(r"/products/(\d+)/variations", route)):
            product = self.products.get(int(m.group(1)))
            if product is None:
                return _error(404, "woocommerce_rest_product_invalid_id", "Invalid ID.")
            return _paged([self.variations[v] for v in product["variation_ids"]], query)
        if method == "GET" and (m := re.fullmatch(r"/products/(\d+)", route)):
            product = self.products.get(int(m.group(1)))
            if product is None:
                return _error(404, "woocommerce_rest_product_invalid_id", "Invalid ID.")
            return _reply(200, self._product_json(product))
        if method == "GET" and route == "/orders":
            after = query.get("after", "")
            rows = [o for o in self.orders.values() if not after or o["date_created_gmt"] >= after[:19]]
            return _paged(rows, query)
        if method == "POST" and route == "/orders":
            if self.read_only:
                return _error(401, "woocommerce_rest_cannot_create", "Sorry, you are not allowed to create "
                                                                     "resources.")
            return self._create_order(json.loads(body or b"{}"))
        if method == "GET" and route == "/webhooks":
            return _paged(self.hooks, query)
        if method == "POST" and route == "/webhooks":
            data = json.loads(body or b"{}")
            hid = self.subscribe(str(data.get("topic")), str(data.get("delivery_url")))
            return _reply(201, {"id": hid, "topic": data.get("topic"), "status": "active"})
        return _error(404, "rest_no_route", "No route was found matching the URL and request method.")

    def _product_json(self, product: dict[str, Any]) -> dict[str, Any]:
        return {k: v for k, v in product.items() if k != "variation_ids"} | {"variations": product["variation_ids"]}

    def _create_order(self, data: dict[str, Any]) -> tuple[int, dict[str, str], bytes]:
        lines = data.get("line_items") or []
        total = Decimal("0")
        for line in lines:
            target = (self.variations.get(int(line.get("variation_id") or 0))
                      or self.products.get(int(line.get("product_id") or 0)))
            if target is None:
                return _error(400, "woocommerce_rest_invalid_product_id", "Invalid product ID.")
            quantity = int(line.get("quantity", 1))
            if target["manage_stock"] and target["stock_quantity"] < quantity:
                return _error(400, "woocommerce_rest_invalid_stock", f"{target['sku']} is out of stock.")
            total += Decimal(str(line.get("total", target["price"])))
        for line in lines:
            target = (self.variations.get(int(line.get("variation_id") or 0))
                      or self.products[int(line["product_id"])])
            if target["manage_stock"]:
                target["stock_quantity"] -= int(line.get("quantity", 1))
        oid = next(self._ids)
        order = {"id": oid, "number": str(oid), "status": data.get("status", "pending"), "currency": self.currency,
                 "total": f"{total:.2f}", "total_tax": "0.00", "discount_total": "0.00", "coupon_lines": [],
                 "billing": data.get("billing") or {}, "shipping": data.get("shipping") or {},
                 "customer_note": data.get("customer_note", ""), "meta_data": list(data.get("meta_data") or []),
                 "line_items": lines, "refunds": [], "date_created_gmt": now_gmt(), "date_modified_gmt": now_gmt()}
        self.orders[oid] = order
        self.queue_webhook("order.created", order)
        return _reply(201, order)


def _new_coupon(fake: Any, body: bytes) -> tuple[int, dict[str, str], bytes]:
    data = json.loads(body or b"{}")
    code = str(data.get("code") or "").strip().lower()
    if not code or any(c["code"] == code for c in fake.coupons.values()):
        return _error(400, "woocommerce_rest_coupon_code_already_exists", "The coupon code already exists")
    cid = next(fake._ids)
    fake.coupons[cid] = {**data, "id": cid, "code": code, "usage_count": 0}
    return _reply(201, fake.coupons[cid])


def _error(status: int, code: str, message: str) -> tuple[int, dict[str, str], bytes]:
    return _reply(status, {"code": code, "message": message, "data": {"status": status}})


def _paged(rows: list[Any], query: dict[str, str]) -> tuple[int, dict[str, str], bytes]:
    per_page = max(1, min(int(query.get("per_page", 10)), 100))
    page = max(1, int(query.get("page", 1)))
    pages = max(1, math.ceil(len(rows) / per_page))
    return _reply(200, rows[(page - 1) * per_page: page * per_page],
                  {"X-WP-Total": str(len(rows)), "X-WP-TotalPages": str(pages)})
