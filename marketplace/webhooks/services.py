"""Endpoints a brand or a creator manages, events recorded for them, and the delivery log with replay and test."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlsplit
from uuid import UUID

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from marketplace.accounts.auth import Actor
from marketplace.errors import Forbidden, InvalidInput, NotFound
from marketplace.i18n import gettext
from marketplace.jobs import enqueue
from marketplace.settings import Settings
from marketplace.stores.vault import SecretBox, hint
from marketplace.webhooks.events import EVENT_KINDS
from marketplace.webhooks.models import DeliveryStatus, OutgoingDelivery, OutgoingEndpoint, OutgoingEvent
from marketplace.webhooks.signing import new_secret

#: Deliveries are retried with growing delays for this long after they were queued (or replayed).
RETRY_WINDOW = timedelta(days=3)
MAX_ENDPOINTS = 20
FLUSH_JOB = "webhooks.flush_endpoint"
SUBSCRIBABLE = [kind for kind in EVENT_KINDS if kind != "webhook.test"]


@dataclass(frozen=True)
class Owner:
    """Whose endpoints: exactly one of a brand or a creator."""

    brand_id: UUID | None = None
    creator_id: UUID | None = None

    @classmethod
    def of(cls, actor: Actor) -> Owner:
        if actor.is_brand:
            return cls(brand_id=actor.brand_id)
        if actor.is_creator:
            return cls(creator_id=actor.creator_id)
        raise Forbidden(gettext('Webhooks are for brand teams and creators.'))

    def clause(self) -> sa.ColumnElement[bool]:
        if self.brand_id is not None:
            return OutgoingEndpoint.brand_id == self.brand_id
        return OutgoingEndpoint.creator_id == self.creator_id


@dataclass(frozen=True)
class Registered:
    endpoint: OutgoingEndpoint
    #: Shown once, on the answer that created it.
    secret: str


def check_url(raw: Any, settings: Settings) -> str:
    url = str(raw or "").strip()
    if not url:
        raise InvalidInput({"url": gettext('Give the address PostPact should send events to.')})
    try:
        parts = urlsplit(url)
        host = parts.hostname
    except ValueError:  # an unclosed IPv6 bracket, say
        host = None
    if len(url) > 2000 or not host or parts.scheme not in ("http", "https"):
        raise InvalidInput({"url": gettext('Use a full http(s) address, like https://example.com/postpact.')})
    if settings.app.is_production and parts.scheme != "https":
        raise InvalidInput({"url": gettext('Use an https address: events carry deal details.')})
    return url


def check_events(raw: Any) -> list[str]:
    if raw is None or raw == "":
        return []
    events = [raw] if isinstance(raw, str) else list(raw)
    unknown = [str(e) for e in events if e not in SUBSCRIBABLE]
    if unknown:
        names = ", ".join(sorted(unknown))[:200]
        raise InvalidInput({"events": gettext("Unknown event(s): %(unknown)s.", unknown=names)})
    return sorted(set(events))


class WebhookService:
    def __init__(self, session: AsyncSession, settings: Settings, now: datetime) -> None:
        self.session = session
        self.settings = settings
        self.now = now
        self.box = SecretBox.from_settings(settings)

    async def list(self, actor: Actor) -> list[OutgoingEndpoint]:
        owner = Owner.of(actor)
        return list(await self.session.scalars(
            sa.select(OutgoingEndpoint).where(owner.clause()).order_by(OutgoingEndpoint.created_at)))

    async def get(self, actor: Actor, endpoint_id: UUID) -> OutgoingEndpoint:
        owner = Owner.of(actor)
        endpoint = await self.session.scalar(
            sa.select(OutgoingEndpoint).where(OutgoingEndpoint.id == endpoint_id, owner.clause()))
        if endpoint is None:
            raise NotFound(gettext('No such webhook endpoint.'))
        return endpoint

    async def create(self, actor: Actor, *, url: Any, events: Any, description: Any = "") -> Registered:
        owner = Owner.of(actor)
        errors: dict[str, str] = {}
        checked: dict[str, Any] = {}
        for name, check in (("url", lambda: check_url(url, self.settings)), ("events", lambda: check_events(events))):
            try:
                checked[name] = check()
            except InvalidInput as exc:
                errors.update(exc.errors)
        text = str(description or "").strip()
        if len(text) > 200:
            errors["description"] = gettext('Keep the description under 200 characters.')
        if errors:
            raise InvalidInput(errors)
        count = await self.session.scalar(sa.select(sa.func.count()).select_from(OutgoingEndpoint)
                                          .where(owner.clause()))
        if (count or 0) >= MAX_ENDPOINTS:
            raise InvalidInput({"url": gettext("You can register at most %(max_endpoints)s endpoints.",
                                               max_endpoints=MAX_ENDPOINTS)})
        secret = new_secret()
        endpoint = OutgoingEndpoint(brand_id=owner.brand_id, creator_id=owner.creator_id, url=checked["url"],
                                    events=checked["events"], description=text, secret_enc=self.box.seal(secret),
                                    secret_hint=hint(secret), active=True)
        self.session.add(endpoint)
        await self.session.flush()
        return Registered(endpoint, secret)

    async def update(self, actor: Actor, endpoint_id: UUID, **changes: Any) -> OutgoingEndpoint:
        endpoint = await self.get(actor, endpoint_id)
        errors: dict[str, str] = {}
        if changes.get("url") is not None:
            try:
                endpoint.url = check_url(changes["url"], self.settings)
            except InvalidInput as exc:
                errors.update(exc.errors)
        if changes.get("events") is not None:
            try:
                endpoint.events = check_events(changes["events"])
            except InvalidInput as exc:
                errors.update(exc.errors)
        if changes.get("description") is not None:
            text = str(changes["description"]).strip()
            if len(text) > 200:
                errors["description"] = gettext('Keep the description under 200 characters.')
            endpoint.description = text
        if changes.get("active") is not None:
            endpoint.active = bool(changes["active"])
        if errors:
            raise InvalidInput(errors)
        await self.session.flush()
        return endpoint

    async def rotate_secret(self, actor: Actor, endpoint_id: UUID) -> Registered:
        endpoint = await self.get(actor, endpoint_id)
        secret = new_secret()
        endpoint.secret_enc, endpoint.secret_hint = self.box.seal(secret), hint(secret)
        await self.session.flush()
        return Registered(endpoint, secret)

    async def delete(self, actor: Actor, endpoint_id: UUID) -> None:
        endpoint = await self.get(actor, endpoint_id)
        await self.session.delete(endpoint)
        await self.session.flush()

    async def deliveries(self, actor: Actor, endpoint_id: UUID, *, limit: int = 50
                         ) -> list[tuple[OutgoingDelivery, OutgoingEvent]]:
        endpoint = await self.get(actor, endpoint_id)
        rows = await self.session.execute(
            sa.select(OutgoingDelivery, OutgoingEvent).join(OutgoingEvent)
            .where(OutgoingDelivery.endpoint_id == endpoint.id)
            .order_by(OutgoingEvent.occurred_at.desc(), OutgoingEvent.id.desc()).limit(limit))
        return [(d, e) for d, e in rows.all()]

    async def replay(self, actor: Actor, delivery_id: UUID) -> OutgoingDelivery:
        """Send a delivery again (whatever its status): a new retry window starts now."""
        owner = Owner.of(actor)
        delivery = await self.session.scalar(
            sa.select(OutgoingDelivery).join(OutgoingEndpoint)
            .where(OutgoingDelivery.id == delivery_id, owner.clause()).with_for_update(of=OutgoingDelivery))
        if delivery is None:
            raise NotFound(gettext('No such delivery.'))
        delivery.status = DeliveryStatus.PENDING
        delivery.next_attempt_at = self.now
        delivery.give_up_at = self.now + RETRY_WINDOW
        await self.session.flush()
        enqueue(self.session, FLUSH_JOB, str(delivery.endpoint_id))
        return delivery

    async def send_test(self, actor: Actor, endpoint_id: UUID) -> OutgoingDelivery:
        """A ``webhook.test`` event for this endpoint only (whatever it subscribes to)."""
        endpoint = await self.get(actor, endpoint_id)
        event = OutgoingEvent(kind="webhook.test", source_key=f"test:{endpoint.id}:{self.now.isoformat()}:"
                              f"{await self._count_tests(endpoint.id)}", occurred_at=self.now,
                              brand_id=endpoint.brand_id, creator_id=endpoint.creator_id,
                              data={"message": "A test event from PostPact; nothing happened."})
        self.session.add(event)
        await self.session.flush()
        delivery = queue_delivery(self.session, endpoint, event, self.now)
        await self.session.flush()
        return delivery

    async def _count_tests(self, endpoint_id: UUID) -> int:
        return int(await self.session.scalar(
            sa.select(sa.func.count()).select_from(OutgoingDelivery).join(OutgoingEvent)
            .where(OutgoingDelivery.endpoint_id == endpoint_id, OutgoingEvent.kind == "webhook.test")) or 0)


def pending_delivery(endpoint: OutgoingEndpoint, event: OutgoingEvent, now: datetime) -> OutgoingDelivery:
    """The event's delivery to the endpoint, due now and given up after RETRY_WINDOW."""
    return OutgoingDelivery(endpoint_id=endpoint.id, event_id=event.id, status=DeliveryStatus.PENDING,
                            attempts=0, next_attempt_at=now, give_up_at=now + RETRY_WINDOW)


def queue_delivery(session: AsyncSession, endpoint: OutgoingEndpoint, event: OutgoingEvent,
                   now: datetime) -> OutgoingDelivery:
    delivery = pending_delivery(endpoint, event, now)
    session.add(delivery)
    enqueue(session, FLUSH_JOB, str(endpoint.id))
    return delivery


async def record_event(session: AsyncSession, *, kind: str, source_key: str, occurred_at: datetime, now: datetime,
                       brand_id: UUID | None, creator_id: UUID | None, collaboration_id: UUID | None = None,
                       data: dict[str, Any]) -> OutgoingEvent | None:
    """Record an event for the brand's and the creator's endpoints that want it, in the caller's transaction
    (so it exists exactly when the change it reports does). Nothing is written when no endpoint wants it;
    recording the same ``source_key`` twice does nothing."""
    owners = []
    if brand_id is not None:
        owners.append(OutgoingEndpoint.brand_id == brand_id)
    if creator_id is not None:
        owners.append(OutgoingEndpoint.creator_id == creator_id)
    if not owners:
        return None
    endpoints = [e for e in await session.scalars(sa.select(OutgoingEndpoint).where(sa.or_(*owners)))
                 if e.wants(kind)]
    if not endpoints:
        return None
    if await session.scalar(sa.select(OutgoingEvent.id).where(OutgoingEvent.source_key == source_key)):
        return None
    event = OutgoingEvent(kind=kind, source_key=source_key, occurred_at=occurred_at, brand_id=brand_id,
                          creator_id=creator_id, collaboration_id=collaboration_id, data=data)
    session.add(event)
    await session.flush()
    for endpoint in endpoints:
        queue_delivery(session, endpoint, event, now)
    await session.flush()
    return event
