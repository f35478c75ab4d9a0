"""Fixtures for store tests: the Shopify and WooCommerce stand-ins, a brand with an API token, a deliverer that
hands the stand-ins' signed webhooks to the app under test."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest

from tests.fakes.shopify_server import ShopifyServer
from tests.fakes.woocommerce_server import WooCommerceServer
from tests.support.deals import bearer


@pytest.fixture
def test_env(test_env: dict[str, str]) -> dict[str, str]:
    # The stand-ins listen on plain http://127.0.0.1: a private address, which only tests and development allow.
    test_env["STORES_ALLOW_HTTP"] = "1"
    test_env["STORES_ALLOW_PRIVATE_HOSTS"] = "1"
    return test_env


@pytest.fixture
def shopify() -> Iterator[ShopifyServer]:
    with ShopifyServer() as server:
        yield server


@pytest.fixture
def woo() -> Iterator[WooCommerceServer]:
    with WooCommerceServer() as server:
        yield server


@dataclass
class BrandApi:
    person: Any
    headers: dict[str, str]


@pytest.fixture
async def brand_api(runtime: Any, people: Any) -> BrandApi:
    person = await people.brand(brand_name="GlowLab")
    return BrandApi(person, await bearer(runtime, person))


def shopify_body(shop: ShopifyServer, **overrides: Any) -> dict[str, Any]:
    return {"platform": "shopify", "name": "GlowLab Shopify", "shop_url": shop.url,
            "access_token": shop.access_token, "webhook_secret": shop.client_secret, **overrides}


def woo_body(site: WooCommerceServer, **overrides: Any) -> dict[str, Any]:
    return {"platform": "woocommerce", "name": "GlowLab Woo", "shop_url": site.url,
            "access_token": site.consumer_key, "api_secret": site.consumer_secret,
            "webhook_secret": site.webhook_secret, **overrides}


class Deliverer:
    """``send(url, headers, body)`` for the stand-ins' ``flush``: posts through the test client, keeps statuses."""

    def __init__(self, client: Any) -> None:
        self.client = client
        self.statuses: list[int] = []

    async def deliver(self, fake: Any, **flush: Any) -> list[int]:
        batch: list[tuple[str, dict[str, str], bytes]] = []
        fake.flush(lambda url, headers, body: batch.append((url, headers, body)), **flush)
        statuses = []
        for url, headers, body in batch:
            path = url.split("testserver.local", 1)[-1]
            response = await self.client.post(path, content=body, headers=headers)
            statuses.append(response.status_code)
        self.statuses.extend(statuses)
        return statuses


@pytest.fixture
def deliverer(client: Any) -> Deliverer:
    return Deliverer(client)
