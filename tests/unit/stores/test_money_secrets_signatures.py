"""Pure pieces of the stores area: money parsing, secret sealing and rotation, signatures, tracking links,
Shopify's throttle arithmetic."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json

import httpx
import pytest
from cryptography.fernet import Fernet

from marketplace.settings import Settings
from marketplace.stores.catalog import to_minor
from marketplace.stores.intake import Refused, base64_hmac, custom_signature, parse_object, signature_matches
from marketplace.stores.shopify import ShopifyClient
from marketplace.stores.tracking import tracking_link
from marketplace.stores.vault import SecretBox, SecretUnreadable, derived_key, hint, masked
from tests.fakes.shopify_server import ShopifyServer


@pytest.mark.parametrize(("raw", "currency", "minor"), [
    ("19.90", "USD", 1990), ("0.00", "USD", 0), ("1500", "JPY", 1500),
    ("0.005", "USD", 1), (None, "USD", 0), ("", "EUR", 0), (7, "EUR", 700),
])
def test_store_prices_become_integer_minor_units(raw: object, currency: str, minor: int) -> None:
    assert to_minor(raw, currency) == minor


@pytest.mark.parametrize("raw", ["abc", "NaN", "Infinity"])
def test_unreadable_prices_are_refused(raw: str) -> None:
    with pytest.raises(ValueError, match="not an amount"):
        to_minor(raw, "USD")


def test_secrets_rotate_to_a_new_key_and_old_tokens_still_open() -> None:
    old_key, new_key = Fernet.generate_key(), Fernet.generate_key()
    old_box = SecretBox([old_key])
    token = old_box.seal("shpat_0123456789")
    both = SecretBox([new_key, old_key])
    assert both.open(token) == "shpat_0123456789"
    rotated = both.rotate(token)
    assert SecretBox([new_key]).open(rotated) == "shpat_0123456789"
    with pytest.raises(SecretUnreadable):
        SecretBox([new_key]).open(token)


def test_without_configured_keys_the_key_is_derived_from_the_secret_key() -> None:
    settings = Settings.from_env({"POSTPACT_ENV": "test", "SECRET_KEY": "s" * 40})
    box = SecretBox.from_settings(settings)
    assert SecretBox([derived_key("s" * 40)]).open(box.seal("x" * 10)) == "x" * 10
    configured = Settings.from_env({"POSTPACT_ENV": "test", "SECRET_KEY": "s" * 40,
                                    "STORES_ENCRYPTION_KEYS": Fernet.generate_key().decode()})
    with pytest.raises(SecretUnreadable):
        SecretBox.from_settings(configured).open(box.seal("x" * 10))


def test_only_the_last_four_characters_are_ever_shown() -> None:
    assert hint("shpat_abcdef1234") == "1234"
    assert hint("short") == ""
    assert masked("1234").endswith("1234") and "shpat" not in masked("1234")


def test_shopify_signature_is_base64_hmac_of_the_raw_body() -> None:
    body = b'{"id": 1}'
    expected = base64.b64encode(hmac.new(b"secret", body, hashlib.sha256).digest()).decode()
    assert base64_hmac(body, "secret") == expected
    assert signature_matches(expected, expected)
    assert not signature_matches(expected, None)
    assert not signature_matches(expected, base64_hmac(body + b" ", "secret"))


def test_custom_signature_covers_timestamp_and_body() -> None:
    assert custom_signature("k", "100", b"{}") != custom_signature("k", "101", b"{}")
    assert custom_signature("k", "100", b"{}") == hmac.new(b"k", b"100.{}", hashlib.sha256).hexdigest()


@pytest.mark.parametrize("body", [b"[1, 2]", b"null", b"\"text\"", b"not json", b"\xff\xfe"])
def test_only_json_objects_are_accepted(body: bytes) -> None:
    with pytest.raises(Refused) as refused:
        parse_object(body)
    assert refused.value.status == 400


def test_tracking_links_prefer_the_store_then_the_carrier() -> None:
    assert tracking_link("UPS", "1Z999", "https://track.example/1") == "https://track.example/1"
    assert tracking_link("UPS", "1Z 999") == "https://www.ups.com/track?tracknum=1Z%20999"
    assert tracking_link("Pigeon Post", "123") is None


def _response(status: int, body: dict[str, object], headers: dict[str, str] | None = None) -> httpx.Response:
    return httpx.Response(status, content=json.dumps(body).encode(), headers=headers or {})


def test_shopify_throttle_waits_for_the_bucket_or_retry_after() -> None:
    throttled = _response(200, {"errors": [{"message": "Throttled", "extensions": {"code": "THROTTLED"}}],
                                "extensions": {"cost": {"requestedQueryCost": 252, "throttleStatus": {
                                    "maximumAvailable": 2000, "currentlyAvailable": 2, "restoreRate": 100}}}})
    assert ShopifyClient._throttle_wait(throttled) == pytest.approx(2.5)
    assert ShopifyClient._throttle_wait(_response(429, {}, {"Retry-After": "4"})) == 4.0
    assert ShopifyClient._throttle_wait(_response(200, {"data": {}})) is None


def test_the_stand_in_sends_a_refused_delivery_again_with_the_same_id_and_payload() -> None:
    shop = ShopifyServer()
    shop.subscribe("orders/create", "http://receiver.local/hook")
    shop.place_order(email="fan@example.com", total="10.00")
    seen: list[tuple[str, bytes]] = []
    answers = iter([500, 200])

    def send(url: str, headers: dict[str, str], body: bytes) -> int:
        seen.append((headers["X-Shopify-Webhook-Id"], body))
        return next(answers)

    assert shop.flush(send) == [500]
    assert shop.flush(send) == [200]
    assert shop.flush(send) == []
    assert seen[0] == seen[1]
    shop._httpd.server_close()
