"""A shop address that resolves inside our network is refused when connecting and on every call (DNS may change
after connecting); only STORES_ALLOW_PRIVATE_HOSTS (tests and development) lets the local stand-ins through."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest

from marketplace.settings import ConfigurationError, Settings
from tests.fakes.shopify_server import ShopifyServer
from tests.fakes.woocommerce_server import WooCommerceServer
from tests.integration.stores.conftest import shopify_body, woo_body


def _no_private_hosts(runtime: Any, monkeypatch: Any) -> None:
    monkeypatch.setattr(runtime, "settings", replace(runtime.settings, stores=replace(
        runtime.settings.stores, allow_private_hosts=False)))


@pytest.mark.parametrize("shop_url", ["https://vm:8443", "https://2130706433",
                                      "https://0x7f.0.0.1", "https://127.1"])
async def test_connecting_a_shop_whose_name_resolves_inside_is_refused(
        client: Any, brand_api: Any, woo: WooCommerceServer, runtime: Any, monkeypatch: Any, shop_url: str) -> None:
    _no_private_hosts(runtime, monkeypatch)
    response = await client.post("/api/v1/stores", json=woo_body(woo, shop_url=shop_url), headers=brand_api.headers)
    assert response.status_code == 422, response.text
    assert "shop_url" in response.text
    assert "private" in response.text
    assert (await client.get("/api/v1/stores", headers=brand_api.headers)).json() == []


async def test_the_local_stand_in_is_refused_without_the_setting(client: Any, brand_api: Any,
                                                                 woo: WooCommerceServer, runtime: Any,
                                                                 monkeypatch: Any) -> None:
    _no_private_hosts(runtime, monkeypatch)
    response = await client.post("/api/v1/stores", json=woo_body(woo), headers=brand_api.headers)
    assert response.status_code == 422 and "private network" in response.text
    assert woo.requests == []


async def test_every_call_checks_again_and_never_reaches_a_private_address(
        client: Any, brand_api: Any, shopify: ShopifyServer, runtime: Any, monkeypatch: Any, queue: Any) -> None:
    # Connected while the address was allowed (as if its DNS answer changed afterwards).
    created = await client.post("/api/v1/stores", json=shopify_body(shopify), headers=brand_api.headers)
    assert created.status_code == 201, created.text
    queue.jobs.clear()
    allowed = (await client.post(f"/api/v1/stores/{created.json()['id']}/test", headers=brand_api.headers)).json()
    assert allowed["ok"] is True and len(shopify.requests) == 1

    _no_private_hosts(runtime, monkeypatch)
    refused = (await client.post(f"/api/v1/stores/{created.json()['id']}/test", headers=brand_api.headers)).json()
    assert refused["ok"] is False
    assert refused["message"] == ("127.0.0.1 points inside a private network (127.0.0.1); PostPact only calls "
                                  "public addresses.")
    assert len(shopify.requests) == 1  # nothing more reached the stand-in


def test_production_refuses_the_setting() -> None:
    with pytest.raises(ConfigurationError, match="STORES_ALLOW_PRIVATE_HOSTS"):
        Settings.from_env({"POSTPACT_ENV": "production", "SECRET_KEY": "x" * 40, "STORES_ALLOW_PRIVATE_HOSTS": "1",
                           "DATABASE_URL": "postgresql://u@h/db"})
