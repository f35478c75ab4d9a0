"""The store clients against the stand-ins' faults: timeouts, 5xx, 429 with Retry-After, THROTTLED, bad scopes."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from marketplace.stores.errors import StoreError, StoreProblem
from marketplace.stores.shopify import ShopifyClient
from marketplace.stores.woocommerce import WooCommerceClient
from tests.fakes.shopify_server import ShopifyServer
from tests.fakes.woocommerce_server import WooCommerceServer


@pytest.fixture
def shop() -> Iterator[ShopifyServer]:
    with ShopifyServer() as server:
        server.add_product("Tee", variants=[{"options": ["M"], "price": "25.00"}])
        yield server


class Waits:
    def __init__(self) -> None:
        self.seconds: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.seconds.append(seconds)


def shopify_client(shop: ShopifyServer, http: httpx.AsyncClient, waits: Waits, **kw: object) -> ShopifyClient:
    return ShopifyClient(http, shop.url, shop.access_token, "2025-10", allow_http=True, sleep=waits, **kw)  # type: ignore[arg-type]


async def test_timeouts_and_server_errors_are_transient(shop: ShopifyServer) -> None:
    waits = Waits()
    async with httpx.AsyncClient(timeout=0.2) as http:
        shop.timeout_next(0.6)
        with pytest.raises(StoreError) as timed_out:
            await shopify_client(shop, http, waits).shop()
        assert timed_out.value.problem is StoreProblem.UNREACHABLE and timed_out.value.transient
        shop.fail_next(503)
        with pytest.raises(StoreError) as failed:
            await shopify_client(shop, http, waits).shop()
        assert failed.value.problem is StoreProblem.STORE_ERROR and failed.value.transient


async def test_rate_limits_are_waited_out_then_given_up_with_retry_after(shop: ShopifyServer) -> None:
    waits = Waits()
    async with httpx.AsyncClient(timeout=5) as http:
        shop.fail_next(429, retry_after=3)
        shop.throttle_next()
        info = await shopify_client(shop, http, waits).shop()
        assert info.name == "Stand-in Shop" and waits.seconds == [3.0, pytest.approx(0.1)]
        shop.fail_next(429, times=3, retry_after=7)
        with pytest.raises(StoreError) as throttled:
            await shopify_client(shop, http, waits, max_attempts=3).shop()
        assert throttled.value.problem is StoreProblem.THROTTLED and throttled.value.retry_after == 7.0


async def test_missing_scope_on_a_query_is_named(shop: ShopifyServer) -> None:
    shop.scopes = ("write_draft_orders",)
    async with httpx.AsyncClient(timeout=5) as http:
        with pytest.raises(StoreError) as denied:
            [batch async for batch in shopify_client(shop, http, Waits()).products()]
    assert denied.value.problem is StoreProblem.MISSING_SCOPE and "read_products" in denied.value.message


async def test_woocommerce_read_only_key_and_retry_after() -> None:
    waits = Waits()
    with WooCommerceServer(read_only=True) as site:
        async with httpx.AsyncClient(timeout=5) as http:
            client = WooCommerceClient(http, site.url, site.consumer_key, site.consumer_secret, allow_http=True,
                                       sleep=waits)
            site.fail_next(429, retry_after=2)
            assert await client.currency() == "USD" and waits.seconds == [2.0]
            with pytest.raises(StoreError) as refused:
                await client.create_order({"line_items": []})
            assert refused.value.problem is StoreProblem.MISSING_SCOPE
            with pytest.raises(StoreError) as https_only:
                WooCommerceClient(http, site.url, "ck", "cs")
            assert https_only.value.problem is StoreProblem.REFUSED


async def test_a_discount_code_is_created_once_even_when_asked_twice(shop: ShopifyServer) -> None:
    discount = {"title": "Ava x GlowLab", "startsAt": "2026-12-01T00:00:00Z", "usageLimit": 500,
                "customerGets": {"value": {"percentage": 0.15}, "items": {"all": True}},
                "context": {"all": "ALL"}}
    async with httpx.AsyncClient(timeout=5) as http:
        client = shopify_client(shop, http, Waits())
        first = await client.ensure_discount_code("AVA-GLOW15", discount)
        again = await client.ensure_discount_code("AVA-GLOW15", discount)
    assert first == again and list(shop.state.discounts) == ["AVA-GLOW15"]
    assert shop.state.discounts["AVA-GLOW15"]["usageLimit"] == 500
