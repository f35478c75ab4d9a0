"""TRUSTED_PROXIES: addresses or networks, checked at start-up; only their X-Forwarded-* headers are believed."""

from __future__ import annotations

from typing import Any

import pytest

from marketplace.headers import forwarded, parse_trusted_proxies
from marketplace.settings import ConfigurationError, Settings


def test_the_setting_takes_addresses_and_networks_and_refuses_anything_else() -> None:
    settings = Settings.from_env({"POSTPACT_ENV": "test", "TRUSTED_PROXIES": "10.0.0.0/8, 127.0.0.1 ,::1"})
    assert settings.app.trusted_proxies == ("10.0.0.0/8", "127.0.0.1", "::1")
    assert Settings.from_env({"POSTPACT_ENV": "test"}).app.trusted_proxies == ()
    with pytest.raises(ConfigurationError, match="TRUSTED_PROXIES"):
        Settings.from_env({"POSTPACT_ENV": "test", "TRUSTED_PROXIES": "10.0.0.0/8, the-load-balancer"})


def scope(peer: str, **headers: str) -> Any:
    return {"scheme": "http", "client": (peer, 1234),
            "headers": [(k.replace("_", "-").encode(), v.encode()) for k, v in headers.items()]}


def test_forwarded_headers_count_only_from_a_trusted_peer() -> None:
    proxies = parse_trusted_proxies("10.0.0.0/8,192.0.2.1")
    assert forwarded(scope("10.0.0.2", x_forwarded_proto="https", x_forwarded_for="203.0.113.5"), proxies) == (
        "https", "203.0.113.5")
    # Two proxies in a row: the client is the nearest address that is not ours.
    assert forwarded(scope("10.0.0.2", x_forwarded_for="6.6.6.6, 203.0.113.5, 192.0.2.1"), proxies) == (
        "http", "203.0.113.5")
    assert forwarded(scope("198.51.100.9", x_forwarded_proto="https", x_forwarded_for="1.2.3.4"), proxies) == (
        "http", "198.51.100.9")
    assert forwarded(scope("10.0.0.2", x_forwarded_proto="gopher"), proxies) == ("http", "10.0.0.2")
    assert forwarded(scope("10.0.0.2"), ()) == ("http", "10.0.0.2")
