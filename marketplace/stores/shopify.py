"""A thin async client for Shopify's GraphQL Admin API: pinned version, cost-based throttling, cursor pages.

Our own rather than the ``ShopifyAPI`` package: that one is synchronous (it would block the event loop of the web
process and the jobs) and REST-first, while new apps must use GraphQL; what we need is a dozen queries.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import httpx

from marketplace.stores.catalog import CatalogProduct, CatalogVariant, parse_time, to_minor
from marketplace.stores.errors import StoreError, StoreProblem
from marketplace.stores.netguard import BlockedAddress

Sleep = Callable[[float], Awaitable[None]]

#: Scopes PostPact's calls need from the custom app's Admin API token.
REQUIRED_SCOPES = ("read_products", "write_draft_orders", "read_orders", "read_fulfillments")

PRODUCTS_QUERY = """
query Products($first: Int!, $after: String) {
  shop { currencyCode }
  products(first: $first, after: $after) {
    pageInfo { hasNextPage endCursor }
    nodes {
      id title updatedAt featuredImage { url } options { name }
      variants(first: 100) {
        nodes { id title sku price inventoryQuantity selectedOptions { name value }
                inventoryItem { unitCost { amount currencyCode } } }
      }
    }
  }
}"""

SHOP_QUERY = """
query Shop { shop { name currencyCode myshopifyDomain }
  currentAppInstallation { accessScopes { handle } } }"""

ORDER_BY_TAG = """
query OrderByTag($query: String!) {
  orders(first: 1, query: $query) { nodes { id name } }
  draftOrders(first: 1, query: $query) { nodes { id status order { id name } } }
}"""

DRAFT_ORDER_CREATE = """
mutation DraftOrderCreate($input: DraftOrderInput!) {
  draftOrderCreate(input: $input) { draftOrder { id } userErrors { field message } }
}"""

DRAFT_ORDER_COMPLETE = """
mutation DraftOrderComplete($id: ID!) {
  draftOrderComplete(id: $id) { draftOrder { id order { id name } } userErrors { field message } }
}"""

WEBHOOK_SUBSCRIPTIONS = """
query WebhookSubscriptions($callbackUrl: URL!) {
  webhookSubscriptions(first: 100, callbackUrl: $callbackUrl) { nodes { id topic } }
}"""

WEBHOOK_SUBSCRIPTION_CREATE = """
mutation WebhookSubscriptionCreate($topic: WebhookSubscriptionTopic!,
                                   $webhookSubscription: WebhookSubscriptionInput!) {
  webhookSubscriptionCreate(topic: $topic, webhookSubscription: $webhookSubscription) {
    webhookSubscription { id } userErrors { field message }
  }
}"""

DISCOUNT_BY_CODE = """
query DiscountByCode($code: String!) { codeDiscountNodeByCode(code: $code) { id } }"""

DISCOUNT_CODE_BASIC_CREATE = """
mutation DiscountCodeBasicCreate($basicCodeDiscount: DiscountCodeBasicInput!) {
  discountCodeBasicCreate(basicCodeDiscount: $basicCodeDiscount) {
    codeDiscountNode { id } userErrors { field message }
  }
}"""

#: What PostPact listens to. The privacy topics (customers/data_request, customers/redact, shop/redact) can't be
#: subscribed through the API: they are set in the app's configuration, pointing at the same address.
WEBHOOK_TOPICS = ("ORDERS_CREATE", "ORDERS_UPDATED", "ORDERS_PAID", "ORDERS_CANCELLED", "REFUNDS_CREATE",
                  "FULFILLMENTS_CREATE", "FULFILLMENTS_UPDATE", "PRODUCTS_CREATE", "PRODUCTS_UPDATE",
                  "PRODUCTS_DELETE")


@dataclass(frozen=True)
class ShopInfo:
    name: str
    currency: str
    missing_scopes: tuple[str, ...]


@dataclass(frozen=True)
class PlacedOrder:
    external_id: str
    name: str


def base_url(shop_url: str, *, allow_http: bool) -> str:
    """``glowlab.myshopify.com`` → ``https://glowlab.myshopify.com``; plain http only for local stand-ins."""
    url = shop_url.strip().rstrip("/")
    if url.startswith("http://"):
        if not allow_http:
            raise StoreError(StoreProblem.REFUSED, "The shop address must use https.")
        return url
    return url if url.startswith("https://") else f"https://{url}"


class ShopifyClient:
    def __init__(self, http: httpx.AsyncClient, shop_url: str, access_token: str, api_version: str, *,
                 allow_http: bool = False, sleep: Sleep = asyncio.sleep, max_attempts: int = 5) -> None:
        self._http = http
        self._endpoint = f"{base_url(shop_url, allow_http=allow_http)}/admin/api/{api_version}/graphql.json"
        self._token = access_token
        self._sleep = sleep
        self._max_attempts = max_attempts

    async def query(self, document: str, variables: dict[str, Any] | None = None) -> dict[str, Any]:
        """Run one GraphQL document, waiting out throttling (429 Retry-After, THROTTLED by the cost bucket)."""
        for attempt in range(1, self._max_attempts + 1):
            try:
                response = await self._http.post(
                    self._endpoint, json={"query": document, "variables": variables or {}},
                    headers={"X-Shopify-Access-Token": self._token, "Accept": "application/json"})
            except BlockedAddress as exc:
                raise StoreError(StoreProblem.REFUSED, str(exc)) from exc
            except httpx.TimeoutException as exc:
                raise StoreError(StoreProblem.UNREACHABLE, "The shop didn't answer in time.") from exc
            except httpx.HTTPError as exc:
                raise StoreError(StoreProblem.UNREACHABLE, f"The shop can't be reached ({type(exc).__name__}).") \
                    from exc
            wait = self._throttle_wait(response)
            if wait is None:
                return self._data(response)
            if attempt == self._max_attempts:
                raise StoreError(StoreProblem.THROTTLED, "Shopify is rate limiting PostPact; it will try again.",
                                 retry_after=wait)
            await self._sleep(wait)
        raise AssertionError("unreachable")

    @staticmethod
    def _throttle_wait(response: httpx.Response) -> float | None:
        if response.status_code == 429:
            try:
                return max(0.0, float(response.headers.get("Retry-After", "1")))
            except ValueError:
                return 1.0
        if response.status_code != 200:
            return None
        body = response.json()
        errors = body.get("errors") if isinstance(body, dict) else None
        if not errors or not any((e.get("extensions") or {}).get("code") == "THROTTLED" for e in errors
                                 if isinstance(e, dict)):
            return None
        # Wait until the bucket holds what the query costs: (cost - available) / restore rate.
        cost = (body.get("extensions") or {}).get("cost") or {}
        status = cost.get("throttleStatus") or {}
        needed = float(cost.get("requestedQueryCost") or 50) - float(status.get("currentlyAvailable") or 0)
        rate = float(status.get("restoreRate") or 50) or 50.0
        return max(0.05, needed / rate)

    @staticmethod
    def _data(response: httpx.Response) -> dict[str, Any]:
        status = response.status_code
        if status == 401:
            raise StoreError(StoreProblem.BAD_CREDENTIALS,
                             "Shopify refused the Admin API access token (401): copy it again from the app's "
                             "API credentials.")
        if status == 402:
            raise StoreError(StoreProblem.REFUSED, "The shop is frozen or unpaid (402).")
        if status == 403:
            raise StoreError(StoreProblem.MISSING_SCOPE, "The token may not do this (403): check the app's scopes.")
        if status == 404:
            raise StoreError(StoreProblem.NOT_FOUND, "No Shopify shop at this address (404): check the "
                                                     "myshopify.com domain.")
        if status >= 500:
            raise StoreError(StoreProblem.STORE_ERROR, f"Shopify had an error ({status}); it will be tried again.")
        if status != 200:
            raise StoreError(StoreProblem.STORE_ERROR, f"Shopify answered {status}.")
        try:
            body = response.json()
        except ValueError as exc:
            raise StoreError(StoreProblem.STORE_ERROR, "Shopify answered with something that isn't JSON.") from exc
        errors = body.get("errors") if isinstance(body, dict) else None
        if errors:
            codes = {(e.get("extensions") or {}).get("code") for e in errors if isinstance(e, dict)}
            message = "; ".join(str(e.get("message")) for e in errors if isinstance(e, dict))[:300]
            if "ACCESS_DENIED" in codes:
                raise StoreError(StoreProblem.MISSING_SCOPE, f"The app lacks a scope: {message}")
            raise StoreError(StoreProblem.STORE_ERROR, f"Shopify refused the query: {message}")
        return body.get("data") or {}

    async def shop(self) -> ShopInfo:
        data = await self.query(SHOP_QUERY)
        shop = data.get("shop") or {}
        granted = {s.get("handle") for s in ((data.get("currentAppInstallation") or {}).get("accessScopes") or [])}
        # write_X implies read_X on Shopify.
        granted |= {h.replace("write_", "read_", 1) for h in granted if h and h.startswith("write_")}
        return ShopInfo(name=str(shop.get("name") or ""), currency=str(shop.get("currencyCode") or "USD"),
                        missing_scopes=tuple(s for s in REQUIRED_SCOPES if s not in granted))

    async def products(self, page_size: int = 50) -> AsyncIterator[list[CatalogProduct]]:
        """Every product, a page at a time (cursor pagination)."""
        cursor: str | None = None
        while True:
            data = await self.query(PRODUCTS_QUERY, {"first": page_size, "after": cursor})
            currency = str((data.get("shop") or {}).get("currencyCode") or "USD")
            connection = data.get("products") or {}
            yield [product_from_graphql(node, currency) for node in connection.get("nodes") or []]
            page = connection.get("pageInfo") or {}
            if not page.get("hasNextPage"):
                return
            cursor = page.get("endCursor")

    async def find_order(self, tag: str) -> tuple[PlacedOrder | None, str | None]:
        """The order carrying ``tag``, else the id of an uncompleted draft order carrying it (a crash between
        create and complete), else nothing."""
        data = await self.query(ORDER_BY_TAG, {"query": f"tag:'{tag}'"})
        orders = (data.get("orders") or {}).get("nodes") or []
        if orders:
            return PlacedOrder(orders[0]["id"], orders[0].get("name") or ""), None
        drafts = (data.get("draftOrders") or {}).get("nodes") or []
        for draft in drafts:
            if draft.get("order"):
                return PlacedOrder(draft["order"]["id"], draft["order"].get("name") or ""), None
            return None, draft["id"]
        return None, None

    async def create_draft_order(self, variables: dict[str, Any]) -> str:
        data = await self.query(DRAFT_ORDER_CREATE, {"input": variables})
        result = data.get("draftOrderCreate") or {}
        _raise_user_errors(result)
        return str(result["draftOrder"]["id"])

    async def complete_draft_order(self, draft_id: str) -> PlacedOrder:
        data = await self.query(DRAFT_ORDER_COMPLETE, {"id": draft_id})
        result = data.get("draftOrderComplete") or {}
        _raise_user_errors(result)
        order = (result.get("draftOrder") or {}).get("order") or {}
        return PlacedOrder(str(order["id"]), str(order.get("name") or ""))

    async def ensure_webhooks(self, callback_url: str) -> int:
        """Subscribe ``callback_url`` to every topic it isn't subscribed to yet (the shop's own list is the
        record, so running this twice creates nothing twice). Returns how many were created."""
        data = await self.query(WEBHOOK_SUBSCRIPTIONS, {"callbackUrl": callback_url})
        existing = {n.get("topic") for n in (data.get("webhookSubscriptions") or {}).get("nodes") or []}
        created = 0
        for topic in WEBHOOK_TOPICS:
            if topic in existing:
                continue
            result = (await self.query(WEBHOOK_SUBSCRIPTION_CREATE, {
                "topic": topic, "webhookSubscription": {"callbackUrl": callback_url, "format": "JSON"}}))
            _raise_user_errors(result.get("webhookSubscriptionCreate") or {})
            created += 1
        return created

    async def ensure_discount_code(self, code: str, basic_code_discount: dict[str, Any]) -> str:
        """The discount's id, creating it (``discountCodeBasicCreate``) only when the shop has no discount with
        this code: the code is the deterministic key, so a retried job never makes two."""
        found = (await self.query(DISCOUNT_BY_CODE, {"code": code})).get("codeDiscountNodeByCode")
        if found:
            return str(found["id"])
        data = await self.query(DISCOUNT_CODE_BASIC_CREATE, {"basicCodeDiscount": {**basic_code_discount,
                                                                                  "code": code}})
        result = data.get("discountCodeBasicCreate") or {}
        _raise_user_errors(result)
        return str(result["codeDiscountNode"]["id"])


def _raise_user_errors(result: dict[str, Any]) -> None:
    errors = result.get("userErrors") or []
    if errors:
        raise StoreError(StoreProblem.REFUSED, "; ".join(str(e.get("message")) for e in errors)[:500])


def product_from_graphql(node: dict[str, Any], currency: str) -> CatalogProduct:
    options = [str(o.get("name")) for o in node.get("options") or []]
    variants = []
    for v in (node.get("variants") or {}).get("nodes") or []:
        cost = ((v.get("inventoryItem") or {}).get("unitCost") or None)
        variants.append(CatalogVariant(
            external_id=str(v["id"]), title=str(v.get("title") or ""),
            option_values=[str(o.get("value")) for o in v.get("selectedOptions") or []],
            sku=str(v.get("sku") or ""), price_amount=to_minor(v.get("price"), currency), currency=currency,
            inventory=v.get("inventoryQuantity"),
            cost_amount=to_minor(cost["amount"], cost.get("currencyCode") or currency) if cost else None))
    return CatalogProduct(external_id=str(node["id"]), title=str(node.get("title") or ""),
                          image_url=(node.get("featuredImage") or {}).get("url"), options=options,
                          updated_at=parse_time(node.get("updatedAt")), variants=variants)


def product_from_webhook(payload: dict[str, Any], currency: str) -> CatalogProduct:
    """A ``products/create|update`` webhook body (REST shape: numeric ids, ``admin_graphql_api_id``)."""
    options = [str(o.get("name")) for o in payload.get("options") or []]
    variants = [
        CatalogVariant(
            external_id=str(v.get("admin_graphql_api_id") or f"gid://shopify/ProductVariant/{v.get('id')}"),
            title=str(v.get("title") or ""),
            option_values=[str(v[k]) for k in ("option1", "option2", "option3") if v.get(k)],
            sku=str(v.get("sku") or ""), price_amount=to_minor(v.get("price"), currency), currency=currency,
            inventory=v.get("inventory_quantity"))
        for v in payload.get("variants") or []
    ]
    image = payload.get("image") or {}
    return CatalogProduct(
        external_id=str(payload.get("admin_graphql_api_id") or f"gid://shopify/Product/{payload.get('id')}"),
        title=str(payload.get("title") or ""), image_url=image.get("src") if isinstance(image, dict) else None,
        options=options, updated_at=parse_time(payload.get("updated_at")), variants=variants)
