"""A local, stateful stand-in for a Shopify shop's GraphQL Admin API that also sends signed webhooks."""

# Usage (no pytest needed):
#
#     with ShopifyServer(client_secret="shpss_x") as shop:
#         product = shop.add_product("Tee", options=["Size"], variants=[{"options": ["M"], "price": "25.00",
#                                                                          "inventory": 3, "cost": "6.10"}])
#         shop.subscribe("fulfillments/create", "http://127.0.0.1:8000/webhooks/shopify/<store id>")
#         shop.fail_next(429, retry_after=2)            # the next API call is rate limited
#         shop.fulfill(order_id, "UPS", "1Z999AA10123456784")  # queues signed fulfillments/create deliveries
#         shop.flush(send)                                # hand queued deliveries to `send(url, headers, body)`
#
# The API is one endpoint, POST /admin/api/<version>/graphql.json with X-Shopify-Access-Token, answering
# {"data", "errors", "extensions": {"cost": {..., "throttleStatus": {...}}}} as Shopify does. Documents are
# recognised by their operation name (``query Products``, ``mutation DraftOrderCreate`` ...), which is what our
# client sends; this is a stand-in, not a GraphQL engine. Webhook bodies use Shopify's REST JSON shape and headers.

from __future__ import annotations

import base64
import contextlib
import hashlib
import hmac
import itertools
import json
import re
import socket
import threading
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

API_VERSION = "2025-10"
ALL_SCOPES = ("read_products", "write_draft_orders", "read_orders", "read_fulfillments", "write_discounts",
              "write_webhooks")

Send = Callable[[str, dict[str, str], bytes], Any]


def sign(body: bytes, secret: str) -> str:
    """Shopify's X-Shopify-Hmac-SHA256: base64 of HMAC-SHA256 over the raw body with the app's client secret."""
    return base64.b64encode(hmac.new(secret.encode(), body, hashlib.sha256).digest()).decode()


def now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def legacy(gid: str) -> int:
    return int(str(gid).rsplit("/", 1)[-1])


@dataclass
class Delivery:
    url: str
    headers: dict[str, str]
    body: bytes


@dataclass
class Fault:
    status: int
    retry_after: float | None = None
    delay: float = 0.0
    throttled: bool = False


@dataclass
class ShopState:
    products: dict[int, dict[str, Any]] = field(default_factory=dict)
    variants: dict[int, dict[str, Any]] = field(default_factory=dict)
    drafts: dict[int, dict[str, Any]] = field(default_factory=dict)
    orders: dict[int, dict[str, Any]] = field(default_factory=dict)
    fulfillments: dict[int, dict[str, Any]] = field(default_factory=dict)
    discounts: dict[str, dict[str, Any]] = field(default_factory=dict)
    subscriptions: list[dict[str, Any]] = field(default_factory=list)


class ShopifyServer:
    def __init__(self, *, access_token: str = "shpat_stand_in_token_0001", client_secret: str = "shpss_secret_01",  # noqa: S107 (a stand-in)
                 shop_name: str = "Stand-in Shop", currency: str = "USD", scopes: tuple[str, ...] = ALL_SCOPES,
                 host: str = "127.0.0.1") -> None:
        self.access_token = access_token
        self.client_secret = client_secret
        self.shop_name = shop_name
        self.currency = currency
        self.scopes = scopes
        self.state = ShopState()
        self.outbox: list[Delivery] = []
        self.requests: list[str] = []
        #: The GraphQL operation name of every call that reached a handler.
        self.operations: list[str] = []
        self.faults: list[Fault] = []
        #: Every API call answers 404 while False, like a domain with no shop behind it.
        self.exists = True
        self._ids = itertools.count(1001)
        self._order_numbers = itertools.count(1001)
        self._lock = threading.RLock()
        self._httpd = _Server((host, 0), self)
        self._thread: threading.Thread | None = None

    # -- lifecycle

    def start(self) -> ShopifyServer:
        self._thread = threading.Thread(target=self._httpd.serve_forever, name="shopify-stand-in", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()

    def __enter__(self) -> ShopifyServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def url(self) -> str:
        host, port = self._httpd.server_address[:2]
        return f"http://{host}:{port}"

    @property
    def domain(self) -> str:
        return "stand-in.myshopify.com"

    # -- arranging

    def fail_next(self, status: int, *, times: int = 1, retry_after: float | None = None) -> None:
        self.faults.extend(Fault(status, retry_after) for _ in range(times))

    def throttle_next(self, times: int = 1) -> None:
        self.faults.extend(Fault(200, throttled=True) for _ in range(times))

    def timeout_next(self, seconds: float, times: int = 1) -> None:
        self.faults.extend(Fault(200, delay=seconds) for _ in range(times))

    def add_product(self, title: str, *, options: list[str] | None = None, variants: list[dict[str, Any]],
                    image: str | None = None, notify: bool = False) -> str:
        with self._lock:
            pid = next(self._ids)
            product = {"id": pid, "title": title, "options": options or ["Title"], "image": image,
                       "updated_at": now_iso(), "variant_ids": []}
            for spec in variants:
                vid = next(self._ids)
                self.state.variants[vid] = {
                    "id": vid, "product_id": pid, "options": list(spec.get("options") or ["Default Title"]),
                    "price": str(spec.get("price", "0.00")), "sku": spec.get("sku", f"SKU-{vid}"),
                    "inventory": spec.get("inventory", 10), "cost": spec.get("cost"),
                }
                product["variant_ids"].append(vid)
            self.state.products[pid] = product
            if notify:
                self.queue_webhook("products/create", self.product_rest(pid))
            return f"gid://shopify/Product/{pid}"

    def update_product(self, gid: str, **changes: Any) -> None:
        with self._lock:
            product = self.state.products[legacy(gid)]
            # Shopify's timestamps have whole seconds: a change is always at least a second after the last one.
            previous = datetime.fromisoformat(product["updated_at"])
            stamp = max(datetime.now(UTC).replace(microsecond=0), previous + timedelta(seconds=1))
            product.update(changes, updated_at=stamp.isoformat(timespec="seconds"))
            self.queue_webhook("products/update", self.product_rest(product["id"]))

    def variant_gid(self, product_gid: str, index: int = 0) -> str:
        return f"gid://shopify/ProductVariant/{self.state.products[legacy(product_gid)]['variant_ids'][index]}"

    def subscribe(self, topic: str, url: str) -> None:
        with self._lock:
            self.state.subscriptions.append({"id": next(self._ids), "topic": topic, "url": url})

    # -- webhooks out

    def queue_webhook(self, topic: str, payload: dict[str, Any], *, webhook_id: str | None = None) -> list[Delivery]:
        body = json.dumps(payload).encode()
        made = []
        for sub in [s for s in self.state.subscriptions if s["topic"] == topic]:
            headers = {
                "Content-Type": "application/json",
                "X-Shopify-Topic": topic,
                "X-Shopify-Hmac-SHA256": sign(body, self.client_secret),
                "X-Shopify-Shop-Domain": self.domain,
                "X-Shopify-Webhook-Id": webhook_id or str(uuid.uuid4()),
                "X-Shopify-Triggered-At": now_iso(),
                "X-Shopify-API-Version": API_VERSION,
                "X-Shopify-Event-Id": str(uuid.uuid4()),
            }
            made.append(Delivery(sub["url"], headers, body))
        self.outbox.extend(made)
        return made

    def flush(self, send: Send | None = None, *, reverse: bool = False, duplicate: bool = False,
              bad_signature: bool = False) -> list[Any]:
        """Deliver queued webhooks (oldest first, or newest first with ``reverse``), each twice with
        ``duplicate`` (same webhook id, as Shopify's retries are), or with a wrong HMAC. Returns what ``send``
        returned (default: a real HTTP POST, answering the status code)."""
        with self._lock:
            batch, self.outbox = self.outbox, []
        if reverse:
            batch.reverse()
        results: list[Any] = []
        failed: list[Delivery] = []
        for delivery in batch:
            headers = dict(delivery.headers)
            if bad_signature:
                headers["X-Shopify-Hmac-SHA256"] = sign(delivery.body, "not-the-secret")
            for _ in range(2 if duplicate else 1):
                result = (send or http_post)(delivery.url, headers, delivery.body)
                results.append(result)
                if isinstance(result, int) and not 200 <= result < 300:
                    failed.append(delivery)
        with self._lock:
            # Like the platform: a delivery not answered 2xx is sent again later, the same payload and id.
            self.outbox.extend(failed)
        return results

    # -- what the shop does on its own

    def fulfill(self, order_gid: str, carrier: str, tracking_number: str, tracking_url: str | None = None) -> int:
        with self._lock:
            order = self.state.orders[legacy(order_gid)]
            fid = next(self._ids)
            fulfillment = {
                "id": fid, "order_id": order["id"], "status": "success", "tracking_company": carrier,
                "tracking_number": tracking_number, "tracking_numbers": [tracking_number],
                "tracking_url": tracking_url, "tracking_urls": [tracking_url] if tracking_url else [],
                "created_at": now_iso(), "updated_at": now_iso(),
                "admin_graphql_api_id": f"gid://shopify/Fulfillment/{fid}",
            }
            self.state.fulfillments[fid] = fulfillment
            order["fulfillment_status"] = "fulfilled"
            order["updated_at"] = now_iso()
            self.queue_webhook("fulfillments/create", fulfillment)
            self.queue_webhook("orders/updated", self.order_rest(order["id"]))
            return fid

    def place_order(self, *, email: str, total: str, discount_codes: list[dict[str, Any]] | None = None,
                    landing_site: str | None = None, tags: str = "") -> str:
        """A customer's order (issue 12's sales): queues orders/create."""
        with self._lock:
            oid = next(self._ids)
            self.state.orders[oid] = {
                "id": oid, "name": f"#{next(self._order_numbers)}", "email": email, "total_price": total,
                "subtotal_price": total, "total_tax": "0.00", "discount_codes": discount_codes or [],
                "landing_site": landing_site, "tags": tags, "note": "", "financial_status": "paid",
                "created_at": now_iso(), "updated_at": now_iso(), "line_items": [], "cancelled_at": None,
            }
            self.queue_webhook("orders/create", self.order_rest(oid))
            return f"gid://shopify/Order/{oid}"

    def refund(self, order_gid: str, amount: str) -> None:
        with self._lock:
            order = self.state.orders[legacy(order_gid)]
            rid = next(self._ids)
            self.queue_webhook("refunds/create", {"id": rid, "order_id": order["id"], "created_at": now_iso(),
                                                  "transactions": [{"kind": "refund", "amount": amount,
                                                                    "status": "success"}]})

    # -- REST shapes for webhook bodies

    def product_rest(self, pid: int) -> dict[str, Any]:
        p = self.state.products[pid]
        variants = []
        for vid in p["variant_ids"]:
            v = self.state.variants[vid]
            row = {"id": vid, "product_id": pid, "title": " / ".join(v["options"]), "price": v["price"],
                   "sku": v["sku"], "inventory_quantity": v["inventory"],
                   "admin_graphql_api_id": f"gid://shopify/ProductVariant/{vid}"}
            row.update({f"option{i + 1}": value for i, value in enumerate(v["options"][:3])})
            variants.append(row)
        return {"id": pid, "admin_graphql_api_id": f"gid://shopify/Product/{pid}", "title": p["title"],
                "updated_at": p["updated_at"], "options": [{"name": n} for n in p["options"]],
                "variants": variants, "image": {"src": p["image"]} if p["image"] else None}

    def order_rest(self, oid: int) -> dict[str, Any]:
        order = dict(self.state.orders[oid])
        order["admin_graphql_api_id"] = f"gid://shopify/Order/{oid}"
        order["currency"] = self.currency
        return order

    # -- the API

    def handle(self, method: str, path: str, headers: Any, body: bytes) -> tuple[int, dict[str, str], bytes]:
        with self._lock:
            self.requests.append(path)
            fault = self.faults.pop(0) if self.faults else None
        if fault and fault.delay:
            time.sleep(fault.delay)
        if not self.exists:
            return _reply(404, {"errors": "Not Found"})
        if not re.fullmatch(r"/admin/api/[0-9]{4}-[0-9]{2}/graphql\.json", path):
            return _reply(404, {"errors": "Not Found"})
        if fault and fault.status != 200:
            extra = {"Retry-After": str(fault.retry_after)} if fault.retry_after is not None else {}
            return _reply(fault.status, {"errors": "stand-in fault"}, extra)
        if headers.get("X-Shopify-Access-Token") != self.access_token:
            return _reply(401, {"errors": "[API] Invalid API key or access token (unrecognized login or wrong "
                                          "password)"})
        cost = {"requestedQueryCost": 12, "actualQueryCost": 12,
                "throttleStatus": {"maximumAvailable": 2000.0, "currentlyAvailable": 1988.0, "restoreRate": 100.0}}
        if fault and fault.throttled:
            cost["throttleStatus"]["currentlyAvailable"] = 2.0
            return _reply(200, {"errors": [{"message": "Throttled", "extensions": {"code": "THROTTLED"}}],
                                "extensions": {"cost": cost}})
        try:
            request = json.loads(body)
            document, variables = request["query"], request.get("variables") or {}
        except (ValueError, KeyError, TypeError):
            return _reply(400, {"errors": [{"message": "Parse error"}]})
        match = re.search(r"\b(query|mutation)\s+(\w+)", document)
        operation = match.group(2) if match else ""
        self.operations.append(operation)
        handler = getattr(self, f"_op_{operation}", None)
        if handler is None:
            return _reply(200, {"errors": [{"message": f"Unknown operation {operation}"}]})
        with self._lock:
            data, errors = handler(variables)
        result: dict[str, Any] = {"data": data, "extensions": {"cost": cost}}
        if errors:
            result["errors"] = errors
        return _reply(200, result)

    def _denied(self, scope: str) -> list[dict[str, Any]] | None:
        if scope in self.scopes:
            return None
        return [{"message": f"Access denied. Required access: `{scope}` access scope.",
                 "extensions": {"code": "ACCESS_DENIED"}}]

    def _op_Shop(self, _: dict[str, Any]) -> tuple[Any, Any]:
        return {"shop": {"name": self.shop_name, "currencyCode": self.currency, "myshopifyDomain": self.domain},
                "currentAppInstallation": {"accessScopes": [{"handle": s} for s in self.scopes]}}, None

    def _op_Products(self, variables: dict[str, Any]) -> tuple[Any, Any]:
        if denied := self._denied("read_products"):
            return None, denied
        ids = sorted(self.state.products)
        start = int(variables.get("after") or 0)
        first = min(int(variables.get("first") or 50), 250)
        page = ids[start:start + first]
        nodes = []
        for pid in page:
            p = self.state.products[pid]
            nodes.append({
                "id": f"gid://shopify/Product/{pid}", "title": p["title"], "updatedAt": p["updated_at"],
                "featuredImage": {"url": p["image"]} if p["image"] else None,
                "options": [{"name": n} for n in p["options"]],
                "variants": {"nodes": [self._variant_node(vid) for vid in p["variant_ids"]]},
            })
        end = start + len(page)
        return {"shop": {"currencyCode": self.currency},
                "products": {"nodes": nodes, "pageInfo": {"hasNextPage": end < len(ids), "endCursor": str(end)}}}, None

    def _variant_node(self, vid: int) -> dict[str, Any]:
        v = self.state.variants[vid]
        product = self.state.products[v["product_id"]]
        return {
            "id": f"gid://shopify/ProductVariant/{vid}", "title": " / ".join(v["options"]), "sku": v["sku"],
            "price": v["price"], "inventoryQuantity": v["inventory"],
            "selectedOptions": [{"name": n, "value": val} for n, val in zip(product["options"], v["options"],
                                                                            strict=False)],
            "inventoryItem": {"unitCost": {"amount": v["cost"], "currencyCode": self.currency} if v["cost"] else None},
        }

    def _op_OrderByTag(self, variables: dict[str, Any]) -> tuple[Any, Any]:
        if denied := self._denied("read_orders"):
            return None, denied
        match = re.search(r"tag:'([^']*)'", str(variables.get("query") or ""))
        tag = match.group(1) if match else ""
        orders = [o for o in self.state.orders.values() if tag in [t.strip() for t in o["tags"].split(",")]]
        drafts = [d for d in self.state.drafts.values() if tag in d["tags"]]
        return {
            "orders": {"nodes": [{"id": f"gid://shopify/Order/{o['id']}", "name": o["name"]} for o in orders[:1]]},
            "draftOrders": {"nodes": [{
                "id": f"gid://shopify/DraftOrder/{d['id']}", "status": d["status"],
                "order": ({"id": f"gid://shopify/Order/{d['order_id']}",
                           "name": self.state.orders[d["order_id"]]["name"]} if d.get("order_id") else None),
            } for d in drafts[:1]]},
        }, None

    def _op_DraftOrderCreate(self, variables: dict[str, Any]) -> tuple[Any, Any]:
        if denied := self._denied("write_draft_orders"):
            return None, denied
        data = variables.get("input") or {}
        errors = []
        lines = data.get("lineItems") or []
        if not lines or len(lines) > 499:
            errors.append({"field": ["lineItems"], "message": "Add 1 to 499 line items"})
        for line in lines:
            if legacy(line.get("variantId", "0")) not in self.state.variants:
                errors.append({"field": ["lineItems", "variantId"], "message": "Product variant does not exist"})
        if errors:
            return {"draftOrderCreate": {"draftOrder": None, "userErrors": errors}}, None
        did = next(self._ids)
        self.state.drafts[did] = {"id": did, "status": "OPEN", "lines": lines, "tags": list(data.get("tags") or []),
                                  "note": data.get("note") or "", "shipping": data.get("shippingAddress"),
                                  "email": data.get("email"), "order_id": None}
        return {"draftOrderCreate": {"draftOrder": {"id": f"gid://shopify/DraftOrder/{did}"}, "userErrors": []}}, None

    def _op_DraftOrderComplete(self, variables: dict[str, Any]) -> tuple[Any, Any]:
        draft = self.state.drafts.get(legacy(variables.get("id", "0")))
        if draft is None:
            return {"draftOrderComplete": {"draftOrder": None,
                                           "userErrors": [{"field": ["id"], "message": "Draft order not found"}]}}, None
        if draft["order_id"] is None:
            total = Decimal("0")
            for line in draft["lines"]:
                variant = self.state.variants[legacy(line["variantId"])]
                if variant["inventory"] is not None and variant["inventory"] < int(line.get("quantity", 1)):
                    return {"draftOrderComplete": {"draftOrder": None, "userErrors": [
                        {"field": ["id"], "message": f"{variant['sku']} is out of stock"}]}}, None
                discount = line.get("appliedDiscount") or {}
                price = Decimal(variant["price"]) * int(line.get("quantity", 1))
                if discount.get("valueType") == "PERCENTAGE":
                    price -= price * Decimal(str(discount.get("value", 0))) / 100
                total += price
            for line in draft["lines"]:
                variant = self.state.variants[legacy(line["variantId"])]
                if variant["inventory"] is not None:
                    variant["inventory"] -= int(line.get("quantity", 1))
            oid = next(self._ids)
            self.state.orders[oid] = {
                "id": oid, "name": f"#{next(self._order_numbers)}", "email": draft["email"],
                "total_price": f"{total:.2f}", "subtotal_price": f"{total:.2f}", "total_tax": "0.00",
                "discount_codes": [], "landing_site": None, "tags": ", ".join(draft["tags"]), "note": draft["note"],
                "financial_status": "paid", "created_at": now_iso(), "updated_at": now_iso(),
                "shipping_address": draft["shipping"], "cancelled_at": None,
                "line_items": [{"variant_id": legacy(line["variantId"]), "quantity": line.get("quantity", 1)}
                               for line in draft["lines"]],
            }
            draft["order_id"], draft["status"] = oid, "COMPLETED"
            self.queue_webhook("orders/create", self.order_rest(oid))
        order = self.state.orders[draft["order_id"]]
        return {"draftOrderComplete": {"draftOrder": {
            "id": f"gid://shopify/DraftOrder/{draft['id']}",
            "order": {"id": f"gid://shopify/Order/{order['id']}", "name": order["name"]}}, "userErrors": []}}, None

    def _op_DiscountByCode(self, variables: dict[str, Any]) -> tuple[Any, Any]:
        found = self.state.discounts.get(str(variables.get("code") or ""))
        return {"codeDiscountNodeByCode": {"id": f"gid://shopify/DiscountCodeNode/{found['id']}"} if found
                else None}, None

    def _op_DiscountCodeBasicCreate(self, variables: dict[str, Any]) -> tuple[Any, Any]:
        if denied := self._denied("write_discounts"):
            return None, denied
        data = variables.get("basicCodeDiscount") or {}
        code = str(data.get("code") or "")
        if not code or code in self.state.discounts:
            return {"discountCodeBasicCreate": {"codeDiscountNode": None, "userErrors": [
                {"field": ["basicCodeDiscount", "code"], "message": "Code must be unique"}]}}, None
        did = next(self._ids)
        self.state.discounts[code] = {"id": did, **data}
        return {"discountCodeBasicCreate": {"codeDiscountNode": {"id": f"gid://shopify/DiscountCodeNode/{did}"},
                                            "userErrors": []}}, None

    def _op_WebhookSubscriptions(self, variables: dict[str, Any]) -> tuple[Any, Any]:
        url = variables.get("callbackUrl")
        return {"webhookSubscriptions": {"nodes": [
            {"id": f"gid://shopify/WebhookSubscription/{s['id']}", "topic": s["topic"].upper().replace("/", "_")}
            for s in self.state.subscriptions if s["url"] == url]}}, None

    def _op_WebhookSubscriptionCreate(self, variables: dict[str, Any]) -> tuple[Any, Any]:
        if denied := self._denied("write_webhooks"):
            return None, denied
        topic = str(variables.get("topic") or "").lower().replace("_", "/", 1)
        url = str((variables.get("webhookSubscription") or {}).get("callbackUrl") or "")
        if any(s["topic"] == topic and s["url"] == url for s in self.state.subscriptions):
            return {"webhookSubscriptionCreate": {"webhookSubscription": None, "userErrors": [
                {"field": ["webhookSubscription", "callbackUrl"],
                 "message": "Address for this topic has already been taken"}]}}, None
        self.subscribe(topic, url)
        sid = self.state.subscriptions[-1]["id"]
        return {"webhookSubscriptionCreate": {"webhookSubscription": {"id": f"gid://shopify/WebhookSubscription/{sid}"},
                                              "userErrors": []}}, None


def http_post(url: str, headers: dict[str, str], body: bytes) -> int:
    request = urllib.request.Request(url, data=body, headers=headers, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return int(response.status)
    except urllib.error.HTTPError as exc:
        return int(exc.code)


def _reply(status: int, value: Any, headers: dict[str, str] | None = None) -> tuple[int, dict[str, str], bytes]:
    return status, {"Content-Type": "application/json", **(headers or {})}, json.dumps(value).encode()


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, address: tuple[str, int], fake: Any) -> None:
        super().__init__(address, _Handler)
        self.fake = fake


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def setup(self) -> None:
        super().setup()
        # Headers and body go out in two writes: without this, Nagle plus the client's delayed ACK add ~40 ms.
        self.request.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def _serve(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        status, headers, payload = self.server.fake.handle(self.command, self.path, self.headers, body)
        self.send_response(status)
        for key, value in headers.items():
            self.send_header(key, value)
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):
            self.wfile.write(payload)

    do_GET = _serve
    do_POST = _serve
    do_PUT = _serve
    do_DELETE = _serve


if __name__ == "__main__":
    # A stand-in shop for trying the pages by hand: run PostPact with STORES_ALLOW_HTTP=1 and connect it with the
    # address and credentials printed here; `fulfil <order id>` in this terminal ships an order (webhooks go out).
    demo = ShopifyServer().start()
    demo.add_product("Linen tee", options=["Size"], variants=[
        {"options": [size], "price": "25.00", "inventory": 5, "cost": "6.10"} for size in ("S", "M", "L")])
    demo.add_product("Vitamin C serum", variants=[{"options": ["Default Title"], "price": "45.00", "inventory": 20}])
    print(f"shop address {demo.url}\naccess token {demo.access_token}\nclient secret {demo.client_secret}")
    try:
        while True:
            words = input("> ").split()
            if words[:1] == ["fulfil"] and len(words) == 2:
                demo.fulfill(f"gid://shopify/Order/{words[1]}", "UPS", f"1Z999AA1{words[1]:0>10}")
            print("orders:", ", ".join(f"{o['id']} {o['name']}" for o in demo.state.orders.values()) or "none")
            print("webhooks sent:", demo.flush())
    except (EOFError, KeyboardInterrupt):
        demo.stop()
