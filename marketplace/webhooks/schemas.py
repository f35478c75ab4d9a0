"""JSON shapes of the outgoing webhooks API."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated
from uuid import UUID

import msgspec

from marketplace.openapi import SPACE, TEXT, documented
from marketplace.webhooks.events import EVENT_KINDS
from marketplace.webhooks.models import OutgoingDelivery, OutgoingEndpoint, OutgoingEvent

_KINDS = [kind for kind in EVENT_KINDS if kind != "webhook.test"]
EventList = Annotated[list[str], documented(items={"type": "string", "enum": _KINDS}, max_items=len(_KINDS))]


#: An address ``services.check_url`` takes: http(s) in any case and a host (after any ``user@``, before any ``:port``).
ENDPOINT_URL = (
    rf"^[hH][tT][tT][pP][sS]?://(?:[^{SPACE}\x00/?#]*@)?[^{SPACE}\x00/?#@:\[\]][^{SPACE}\x00/?#@\[\]]*"
    rf"(?:[/?#][^{SPACE}\x00]*)?$"
)


class EndpointIn(msgspec.Struct, forbid_unknown_fields=True):
    """Register an endpoint. ``events`` empty (or left out) means every event."""

    url: Annotated[str, documented(min_length=1, max_length=2000, pattern=ENDPOINT_URL)]
    events: EventList = []
    description: Annotated[str, documented(max_length=200, pattern=TEXT)] = ""


class EndpointPatch(msgspec.Struct, forbid_unknown_fields=True):
    """Change what is sent; ``active: false`` pauses deliveries (they wait, and fail after 3 days)."""

    url: Annotated[str | None, documented(min_length=1, max_length=2000, pattern=ENDPOINT_URL)] = None
    events: Annotated[list[str] | None,
                      documented(items={"type": "string", "enum": _KINDS}, max_items=len(_KINDS))] = None
    description: Annotated[str | None, documented(max_length=200, pattern=TEXT)] = None
    active: bool | None = None


class EndpointOut(msgspec.Struct):
    id: UUID
    url: str
    description: str
    #: Empty: every event.
    events: list[str]
    active: bool
    #: The secret's last 4 characters.
    secret_hint: str
    created_at: datetime
    #: The signing secret, on the answer that created or rotated it only.
    secret: str | None = None


class EventTypeOut(msgspec.Struct):
    type: str
    description: str


class DeliveryOut(msgspec.Struct):
    id: UUID
    event_id: UUID
    event_type: str
    occurred_at: datetime
    #: pending, delivered or failed.
    status: str
    attempts: int
    last_status_code: int | None
    last_error: str
    next_attempt_at: datetime | None
    delivered_at: datetime | None
    give_up_at: datetime


def endpoint_out(endpoint: OutgoingEndpoint, secret: str | None = None) -> EndpointOut:
    return EndpointOut(id=endpoint.id, url=endpoint.url, description=endpoint.description,
                       events=list(endpoint.events or []), active=endpoint.active, secret_hint=endpoint.secret_hint,
                       created_at=endpoint.created_at, secret=secret)


def delivery_out(delivery: OutgoingDelivery, event: OutgoingEvent) -> DeliveryOut:
    return DeliveryOut(id=delivery.id, event_id=event.id, event_type=event.kind, occurred_at=event.occurred_at,
                       status=delivery.status.value, attempts=delivery.attempts,
                       last_status_code=delivery.last_status_code, last_error=delivery.last_error,
                       next_attempt_at=delivery.next_attempt_at, delivered_at=delivery.delivered_at,
                       give_up_at=delivery.give_up_at)
