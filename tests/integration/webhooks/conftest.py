"""Webhook tests send to a receiver on 127.0.0.1, a private address only tests and development allow."""

from __future__ import annotations

import pytest


@pytest.fixture
def test_env(test_env: dict[str, str]) -> dict[str, str]:
    test_env["STORES_ALLOW_PRIVATE_HOSTS"] = "1"
    return test_env
