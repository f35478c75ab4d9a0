"""A thin async client for the WooCommerce REST API v3: basic auth with the consumer key, page/per_page pages."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import datetime, timedelta
from typing import Any

import httpx

from marketplace.stores.catalog import CatalogProduct, CatalogVariant, parse_time, to_minor
from marketplace.stores.errors import StoreError, StoreProblem
from marketplace.stores.netguard import BlockedAddress
from marketplace.stores.shopify import PlacedOrder

Sleep = Callable[[float], Awaitable[None]]
TAG_META_KEY = "_postpact_tag"
VARIATION_CONCURRENCY = 4
WEBHOOK_TOPICS = ("order.created", "order.updated", "order.deleted", "product.created", "product.updated",
                  "product.deleted")


def site_base(site_url: str, *, allow_http: bool) -> str:
    url = site_url.strip().rstrip("/")
    if url.startswith("http://") and not allow_http:
        raise StoreError(StoreProblem.REFUSED, "The site address must use https (keys travel with every call).")
    return url if url.startswith(("http://", "https://")) else f"https://{url}"


class WooCommerceClient:
    def __init__(self, http: httpx.AsyncClient, site_url: str, consumer_key: str, consumer_secret: str, *,
                 allow_http: bool = False, sleep: Sleep = asyncio.sleep, max_attempts: int = 5) -> None:
        self._http = http
        self._api = f"{site_base(site_url, allow_http=allow_http)}/wp-json/wc/v3"
        self._auth = httpx.BasicAuth(consumer_key, consumer_secret)
        self._sleep = sleep
        self._max_attempts = max_attempts

    async def call(self, method: str, path: str, *, params: dict[str, Any] | None = None,
                   json: Any = None) -> httpx.Response:
        for attempt in range(1, self._max_attempts + 1):
            try:
                response = await self._http.request(method, f"{self._api}/{path}", params=params, json=json,
                                                    auth=self._auth)
            except BlockedAddress as exc:
                raise StoreError(StoreProblem.REFUSED, str(exc)) from exc
            except httpx.TimeoutException as exc:
                raise StoreError(StoreProblem.UNREACHABLE, "The shop didn't answer in time.") from exc
            except httpx.HTTPError as exc:
                raise StoreError(StoreProblem.UNREACHABLE, f"The shop can't be reached ({type(exc).__name__}).") \
                    from exc
            if response.status_code != 429:
                return _checked(response)
            try:
                wait = max(0.0, float(response.headers.get("Retry-After", "1")))
            except ValueError:
                wait = 1.0
            if attempt == self._max_attempts:
                raise StoreError(StoreProblem.THROTTLED, "The shop is rate limiting PostPact.", retry_after=wait)
            await self._sleep(wait)
        raise AssertionError("unreachable")

    async def currency(self) -> str:
        response = await self.call("GET", "data/currencies/current")
        return str(response.json().get("code") or "USD")

    async def products(self, per_page: int = 100) -> AsyncIterator[list[CatalogProduct]]:
        currency = await self.currency()
        # One variations call per variable product: a few at a time, as a real site answers each slowly.
        gate = asyncio.Semaphore(VARIATION_CONCURRENCY)
        page = 1
        while True:
            response = await self.call("GET", "products", params={"page": page, "per_page": per_page})
            items = response.json()
            found = await asyncio.gather(*(self._variations_of(item, gate) for item in items))
            yield [product_from_rest(item, variations, currency) for item, variations in zip(items, found,
                                                                                              strict=True)]
            total_pages = int(response.headers.get("X-WP-TotalPages") or 1)
            if page >= total_pages or not items:
                return
            page += 1

    async def product(self, product_id: str) -> CatalogProduct:
        """One product with its variations (a product webhook names a variable product's variations, no more)."""
        currency = await self.currency()
        item = (await self.call("GET", f"products/{product_id}")).json()
        variations = await self._variations(str(item["id"])) if item.get("type") == "variable" else []
        return product_from_rest(item, variations, currency)

    async def _variations_of(self, item: dict[str, Any], gate: asyncio.Semaphore) -> list[dict[str, Any]]:
        if item.get("type") != "variable":
            return []
        async with gate:
            return await self._variations(str(item["id"]))

    async def _variations(self, product_id: str) -> list[dict[str, Any]]:
        found: list[dict[str, Any]] = []
        page = 1
        while True:
            response = await self.call("GET", f"products/{product_id}/variations",
                                       params={"page": page, "per_page": 100})
            found.extend(response.json())
            if page >= int(response.headers.get("X-WP-TotalPages") or 1):
                return found
            page += 1

    async def find_order(self, tag: str, since: datetime) -> PlacedOrder | None:
        """WooCommerce's order list can't filter by meta, so read the orders created since the tag was written
        (minus a minute of clock skew) and look for ours."""
        page = 1
        after = (since - timedelta(minutes=1)).strftime("%Y-%m-%dT%H:%M:%S")
        while True:
            response = await self.call("GET", "orders", params={"after": after, "page": page, "per_page": 100})
            for order in response.json():
                if any(m.get("key") == TAG_META_KEY and m.get("value") == tag for m in order.get("meta_data") or []):
                    return PlacedOrder(str(order["id"]), f"#{order.get('number') or order['id']}")
            if page >= int(response.headers.get("X-WP-TotalPages") or 1):
                return None
            page += 1

    async def create_order(self, body: dict[str, Any]) -> PlacedOrder:
        response = await self.call("POST", "orders", json=body)
        order = response.json()
        return PlacedOrder(str(order["id"]), f"#{order.get('number') or order['id']}")

    async def ensure_webhooks(self, delivery_url: str, secret: str) -> int:
        """Create the hooks this site doesn't have yet for ``delivery_url`` (its list is the record)."""
        response = await self.call("GET", "webhooks", params={"per_page": 100})
        existing = {h.get("topic") for h in response.json() if h.get("delivery_url") == delivery_url}
        created = 0
        for topic in WEBHOOK_TOPICS:
            if topic not in existing:
                await self.call("POST", "webhooks", json={"name": f"PostPact {topic}", "topic": topic,
                                                          "delivery_url": delivery_url, "secret": secret,
                                                          "status": "active"})
                created += 1
        return created


def _checked(response: httpx.Response) -> httpx.Response:
    status = response.status_code
    if status < 300:
        return response
    try:
        body = response.json()
        code, message = str(body.get("code") or ""), str(body.get("message") or "")
    except (ValueError, AttributeError):
        code, message = "", ""
    # A read-only key asked to write gets 401 too, but with a "cannot" code: that is a permission, not the key.
    if status == 403 or code.startswith("woocommerce_rest_cannot"):
        raise StoreError(StoreProblem.MISSING_SCOPE, "The REST API key needs Read/Write permission.")
    if status == 401:
        raise StoreError(StoreProblem.BAD_CREDENTIALS, "WooCommerce refused the consumer key or secret (401): "
                                                       "create a REST API key again and paste both parts.")
    if status == 404:
        raise StoreError(StoreProblem.NOT_FOUND, "No WooCommerce REST API at this address (404): check the site "
                                                 "URL and that WooCommerce and pretty permalinks are on.")
    if status >= 500:
        raise StoreError(StoreProblem.STORE_ERROR, f"The shop had an error ({status}); it will be tried again.")
    raise StoreError(StoreProblem.REFUSED, f"The shop refused the request ({status}): {message or code}"[:500])


def product_from_rest(item: dict[str, Any], variations: list[dict[str, Any]], currency: str) -> CatalogProduct:
    options = [str(a.get("name")) for a in item.get("attributes") or [] if a.get("variation", True)]
    rows = variations or [item]
    variants = [
        CatalogVariant(
            external_id=str(v["id"]),
            title=" / ".join(str(a.get("option")) for a in v.get("attributes") or []) if variations else "Default",
            option_values=[str(a.get("option")) for a in v.get("attributes") or []] if variations else [],
            sku=str(v.get("sku") or ""), price_amount=to_minor(v.get("price") or v.get("regular_price"), currency),
            currency=currency,
            inventory=v.get("stock_quantity") if v.get("manage_stock") else None)
        for v in rows
    ]
    images = item.get("images") or []
    return CatalogProduct(external_id=str(item["id"]), title=str(item.get("name") or ""),
                          image_url=images[0].get("src") if images else None,
                          options=options if variations else [],
                          updated_at=parse_time((item.get("date_modified_gmt") or "") + "+00:00"
                                                if item.get("date_modified_gmt") else None),
                          variants=variants)
