"""Sales tests use the stores' stand-ins and fixtures (Shopify server, a brand with an API token, the deliverer)."""

from __future__ import annotations

from tests.integration.stores.conftest import brand_api, deliverer, shopify, test_env, woo

__all__ = ["brand_api", "deliverer", "shopify", "test_env", "woo"]
