"""Receiving store webhooks: the signature on the raw body, one stored row per delivery id, nothing else inline."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
import time
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID

from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from marketplace.jobs import enqueue
from marketplace.stores.models import StoreConnection, StorePlatform, StoreWebhookDelivery
from marketplace.stores.vault import SecretBox, SecretUnreadable

#: The job that applies a stored delivery (marketplace.stores.jobs.process_delivery).
PROCESS_JOB = "stores.process_delivery"
#: Custom stores sign ``"<unix seconds>.<raw body>"``; a signature older or newer than this is refused.
CUSTOM_TOLERANCE_SECONDS = 300
_WOO_PING = re.compile(rb"^webhook_id=\d{1,20}$")


class Refused(Exception):
    """The delivery is not one we accept; ``status`` is what we answer (nothing is stored)."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


@dataclass(frozen=True)
class Accepted:
    delivery_id: UUID | None
    duplicate: bool
    #: A WooCommerce ping (sent when a hook is created): answered, not stored.
    ping: bool = False


def base64_hmac(body: bytes, secret: str) -> str:
    return base64.b64encode(hmac.new(secret.encode(), body, hashlib.sha256).digest()).decode()


def signature_matches(expected: str, given: str | None) -> bool:
    return bool(given) and hmac.compare_digest(expected.encode(), (given or "").strip().encode())


def custom_signature(secret: str, timestamp: str, body: bytes) -> str:
    return hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()


def parse_object(body: bytes) -> dict[str, Any]:
    try:
        value = json.loads(body)
    except (ValueError, UnicodeDecodeError) as exc:
        raise Refused(400, "The body is not JSON.") from exc
    if not isinstance(value, dict):
        raise Refused(400, "The body must be a JSON object.")
    return value


def verify(store: StoreConnection, box: SecretBox, headers: Any, body: bytes, *,
           now_epoch: float | None = None) -> tuple[str, str] | None:
    """Check the delivery's signature for the store's platform; returns (delivery id, topic), or None for a
    WooCommerce ping. Raises Refused (401 on any signature problem)."""
    if store.webhook_secret_enc is None:
        raise Refused(401, "This store has no webhook secret.")
    try:
        secret = box.open(store.webhook_secret_enc)
    except SecretUnreadable as exc:
        # Our keys changed under the store (STORES_ENCRYPTION_KEYS lost its old key): the store retries later.
        raise Refused(503, "PostPact can't read this store's webhook secret; enter it again.") from exc
    if store.platform is StorePlatform.SHOPIFY:
        if not signature_matches(base64_hmac(body, secret), headers.get("x-shopify-hmac-sha256")):
            raise Refused(401, "The X-Shopify-Hmac-SHA256 signature doesn't match.")
        return _required(headers, "x-shopify-webhook-id"), _required(headers, "x-shopify-topic")
    if store.platform is StorePlatform.WOOCOMMERCE:
        given = headers.get("x-wc-webhook-signature")
        if given is None and _WOO_PING.match(body):
            return None
        if not signature_matches(base64_hmac(body, secret), given):
            raise Refused(401, "The X-WC-Webhook-Signature signature doesn't match.")
        return _required(headers, "x-wc-webhook-delivery-id"), _required(headers, "x-wc-webhook-topic")
    timestamp = (headers.get("x-postpact-timestamp") or "").strip()
    if not timestamp.isdigit() or len(timestamp) > 12:
        raise Refused(401, "X-PostPact-Timestamp (unix seconds) is missing.")
    if abs((now_epoch if now_epoch is not None else time.time()) - int(timestamp)) > CUSTOM_TOLERANCE_SECONDS:
        raise Refused(401, "The signature's timestamp is more than 5 minutes away from now.")
    if not signature_matches(custom_signature(secret, timestamp, body), headers.get("x-postpact-signature")):
        raise Refused(401, "The X-PostPact-Signature signature doesn't match.")
    return _required(headers, "x-postpact-delivery-id"), (headers.get("x-postpact-topic") or "orders/create")


def _required(headers: Any, name: str) -> str:
    value = (headers.get(name) or "").strip()
    if not value or len(value) > 200:
        raise Refused(400, f"The {name} header is missing.")
    return value


async def store_delivery(session: AsyncSession, store_id: UUID, delivery_id: str, topic: str,
                         payload: dict[str, Any], now: datetime) -> Accepted:
    """Insert unless (store, delivery id) exists: the unique constraint decides, so concurrent duplicates are safe."""
    insert = postgresql.insert if session.get_bind().dialect.name == "postgresql" else sqlite.insert
    stmt = (insert(StoreWebhookDelivery)
            .values(store_id=store_id, delivery_id=delivery_id, topic=topic[:80], payload=payload, received_at=now,
                    outcome="")
            .on_conflict_do_nothing(index_elements=["store_id", "delivery_id"])
            .returning(StoreWebhookDelivery.id))
    new_id = (await session.execute(stmt)).scalar_one_or_none()
    return Accepted(new_id, duplicate=new_id is None)


async def receive(session: AsyncSession, store_id: UUID, delivery_id: str, topic: str, payload: dict[str, Any],
                  now: datetime) -> Accepted:
    """Store a verified delivery once and queue its processing (sent after the transaction commits). Every order
    feed comes through here: the webhook endpoints, custom stores' pushes and the simulated shop."""
    accepted = await store_delivery(session, store_id, delivery_id, topic, payload, now)
    if not accepted.duplicate:
        enqueue(session, PROCESS_JOB, str(accepted.delivery_id))
    return accepted
