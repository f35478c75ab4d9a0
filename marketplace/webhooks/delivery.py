"""Sending deliveries: claim the due ones in event-time order, POST each signed, log the attempt, schedule the next.

At least once: a delivery answered 2xx is never sent again by the schedule; one whose answer was lost (a crash
between the POST and the log) is sent again, so receivers de-duplicate on the event ``id``. Order: an endpoint's due
deliveries go out one at a time, oldest event first; a delivery being retried does not hold back newer ones, so
receivers order by ``occurred_at`` (and ignore a deal state older than one they already have).
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from datetime import timedelta
from uuid import UUID

import httpx
import sqlalchemy as sa

from marketplace.db import session_scope
from marketplace.jobs import JobContext, job
from marketplace.stores.netguard import BlockedAddress, PublicOnlyTransport
from marketplace.stores.vault import SecretBox, SecretUnreadable
from marketplace.webhooks.models import (
    DeliveryStatus,
    OutgoingAttempt,
    OutgoingDelivery,
    OutgoingEndpoint,
    OutgoingEvent,
)
from marketplace.webhooks.signing import SIGNATURE_HEADER, signature_header

#: An attempt under way holds its delivery this long, so a second worker never sends it at the same time.
LEASE = timedelta(seconds=60)
TIMEOUT_SECONDS = 10.0
#: First retry after 30 s, then x4 each time (2 min, 8 min, 32 min, ~2 h, ~8.5 h), at most 12 h apart.
FIRST_RETRY_SECONDS = 30
MAX_RETRY_SECONDS = 12 * 3600
BATCH = 100
USER_AGENT = "PostPact-Webhooks/1"


def retry_delay(attempts: int) -> timedelta:
    """Delay after the ``attempts``-th failed attempt."""
    return timedelta(seconds=min(FIRST_RETRY_SECONDS * 4 ** max(attempts - 1, 0), MAX_RETRY_SECONDS))


def body_of(event: OutgoingEvent) -> bytes:
    return json.dumps({
        "id": str(event.id),
        "type": event.kind,
        "occurred_at": event.occurred_at.isoformat(),
        "data": event.data,
    }, separators=(",", ":"), sort_keys=True).encode()


@dataclass(frozen=True)
class Outcome:
    status_code: int | None
    error: str
    duration_ms: int

    @property
    def ok(self) -> bool:
        return self.status_code is not None and 200 <= self.status_code < 300


async def _claim(ctx: JobContext, endpoint_id: UUID | None) -> list[UUID]:
    """Take the due deliveries (oldest event first): each is pushed out by the lease in a conditional update, so
    of two workers only one gets it."""
    now = ctx.clock.now()
    async with session_scope(ctx.session_maker) as session:
        query = (sa.select(OutgoingDelivery.id).join(OutgoingEvent)
                 .where(OutgoingDelivery.status == DeliveryStatus.PENDING, OutgoingDelivery.next_attempt_at <= now)
                 .order_by(OutgoingEvent.occurred_at, OutgoingEvent.id).limit(BATCH))
        if endpoint_id is not None:
            query = query.where(OutgoingDelivery.endpoint_id == endpoint_id)
        claimed: list[UUID] = []
        for delivery_id in (await session.scalars(query)).all():
            result = await session.execute(
                sa.update(OutgoingDelivery)
                .where(OutgoingDelivery.id == delivery_id, OutgoingDelivery.status == DeliveryStatus.PENDING,
                       OutgoingDelivery.next_attempt_at <= now)
                .values(next_attempt_at=now + LEASE, attempts=OutgoingDelivery.attempts + 1)
                .execution_options(synchronize_session=False))
            if result.rowcount == 1:  # type: ignore[attr-defined]
                claimed.append(delivery_id)
        return claimed


async def _post(client: httpx.AsyncClient, url: str, secret: str, event: OutgoingEvent, delivery_id: UUID,
                attempt: int, timestamp: int) -> Outcome:
    body = body_of(event)
    headers = {
        "Content-Type": "application/json",
        "User-Agent": USER_AGENT,
        SIGNATURE_HEADER: signature_header(secret, timestamp, body),
        "PostPact-Event-Id": str(event.id),
        "PostPact-Event-Type": event.kind,
        "PostPact-Delivery-Id": str(delivery_id),
        "PostPact-Attempt": str(attempt),
    }
    started = time.monotonic()
    try:
        response = await client.post(url, content=body, headers=headers)
    except BlockedAddress as exc:
        return Outcome(None, str(exc)[:500], int((time.monotonic() - started) * 1000))
    except httpx.HTTPError as exc:
        return Outcome(None, f"{type(exc).__name__}: {exc}"[:500], int((time.monotonic() - started) * 1000))
    elapsed = int((time.monotonic() - started) * 1000)
    error = "" if 200 <= response.status_code < 300 else f"HTTP {response.status_code}"
    return Outcome(response.status_code, error, elapsed)


async def _attempt(ctx: JobContext, client: httpx.AsyncClient, delivery_id: UUID) -> None:
    async with session_scope(ctx.session_maker) as session:
        row = (await session.execute(
            sa.select(OutgoingDelivery, OutgoingEndpoint, OutgoingEvent)
            .join(OutgoingEndpoint, OutgoingEndpoint.id == OutgoingDelivery.endpoint_id)
            .join(OutgoingEvent, OutgoingEvent.id == OutgoingDelivery.event_id)
            .where(OutgoingDelivery.id == delivery_id))).first()
        if row is None:
            return
        delivery, endpoint, event = row
        url, attempt, active = endpoint.url, delivery.attempts, endpoint.active
        try:
            secret = SecretBox.from_settings(ctx.settings).open(endpoint.secret_enc)
        except SecretUnreadable:
            secret = None
    if not active:
        outcome = Outcome(None, "The endpoint is switched off.", 0)
    elif secret is None:
        outcome = Outcome(None, "The signing secret can't be read with the configured keys; rotate it.", 0)
    else:
        outcome = await _post(client, url, secret, event, delivery_id, attempt, int(ctx.clock.now().timestamp()))
    await _record(ctx, delivery_id, outcome)


async def _record(ctx: JobContext, delivery_id: UUID, outcome: Outcome) -> None:
    now = ctx.clock.now()
    async with session_scope(ctx.session_maker) as session:
        delivery = await session.get(OutgoingDelivery, delivery_id, with_for_update=True)
        if delivery is None:
            return
        session.add(OutgoingAttempt(delivery_id=delivery.id, attempted_at=now, status_code=outcome.status_code,
                                    error=outcome.error, duration_ms=outcome.duration_ms))
        delivery.last_status_code, delivery.last_error = outcome.status_code, outcome.error
        if outcome.ok:
            delivery.status, delivery.delivered_at, delivery.next_attempt_at = DeliveryStatus.DELIVERED, now, None
            return
        following = now + retry_delay(delivery.attempts)
        if following > delivery.give_up_at:
            delivery.status, delivery.next_attempt_at = DeliveryStatus.FAILED, None
        else:
            delivery.next_attempt_at = following


async def flush(ctx: JobContext, endpoint_id: UUID | None = None) -> int:
    """Send what is due (for one endpoint, or all); returns how many attempts were made."""
    sent = 0
    # Public addresses only, checked and pinned per request (as for stores): an endpoint can't reach inside our
    # network; STORES_ALLOW_PRIVATE_HOSTS lets local receivers through in tests and development.
    transport = PublicOnlyTransport(allow_private=ctx.settings.stores.allow_private_hosts)
    async with httpx.AsyncClient(transport=transport, timeout=TIMEOUT_SECONDS, follow_redirects=False) as client:
        while claimed := await _claim(ctx, endpoint_id):
            for delivery_id in claimed:
                await _attempt(ctx, client, delivery_id)
                sent += 1
            if len(claimed) < BATCH:
                break
    return sent


@job("webhooks.flush_endpoint", max_retries=0)
async def flush_endpoint(ctx: JobContext, endpoint_id: str) -> None:
    """Right after an event (or a replay, a test) commits: send the endpoint's due deliveries."""
    await flush(ctx, UUID(endpoint_id))


@job("webhooks.deliver_due", every=15.0, max_retries=0)
async def deliver_due(ctx: JobContext) -> None:
    """The retry schedule: every 15 s, whatever is due on any endpoint."""
    await flush(ctx)
