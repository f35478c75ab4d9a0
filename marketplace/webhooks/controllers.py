"""Outgoing webhooks: the settings pages (register, test, log, replay) and the same through ``/api/v1/webhooks``."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from litestar import Controller, Request, Response, delete, get, patch, post
from litestar.connection import ASGIConnection
from litestar.di import NamedDependency
from litestar.exceptions import PermissionDeniedException
from litestar.handlers import BaseRouteHandler
from litestar.params import FromPath, JSONBody
from litestar.status_codes import HTTP_201_CREATED, HTTP_202_ACCEPTED, HTTP_204_NO_CONTENT
from sqlalchemy.ext.asyncio import AsyncSession

from marketplace.accounts.guards import current_actor
from marketplace.brands.models import BrandRole
from marketplace.errors import InvalidInput
from marketplace.i18n import gettext
from marketplace.web import PageController, flash, redirect, render, runtime_of
from marketplace.webhooks.events import EVENT_KINDS
from marketplace.webhooks.models import OutgoingEvent
from marketplace.webhooks.schemas import (
    DeliveryOut,
    EndpointIn,
    EndpointOut,
    EndpointPatch,
    EventTypeOut,
    delivery_out,
    endpoint_out,
)
from marketplace.webhooks.services import SUBSCRIBABLE, WebhookService

#: Brand owners and managers run integrations; finance members and other roles only see the deals.
_BRAND_ROLES = frozenset({BrandRole.OWNER, BrandRole.MANAGER})


def webhook_managers(connection: ASGIConnection[Any, Any, Any, Any], _: BaseRouteHandler) -> None:
    actor = current_actor(connection)
    if actor.is_creator:
        return
    if not actor.is_brand:
        raise PermissionDeniedException(gettext('Webhooks are for brand teams and creators.'))
    if actor.brand_role not in _BRAND_ROLES:
        raise PermissionDeniedException(gettext("Your role can't manage webhooks (needs: manager, owner)."))


def _service(request: Request[Any, Any, Any], session: AsyncSession) -> WebhookService:
    runtime = runtime_of(request)
    return WebhookService(session, runtime.settings, runtime.clock.now())


# --- pages ----------------------------------------------------------------------------------------------------------


class WebhookPages(PageController):
    path = "/settings/webhooks"
    guards = [webhook_managers]

    async def _index(self, request: Request[Any, Any, Any], session: AsyncSession, *, form: dict[str, Any],
                     errors: dict[str, str], status_code: int = 200) -> Response[Any]:
        endpoints = await _service(request, session).list(request.user)
        return render(request, "webhooks/index.html", {
            "endpoints": endpoints, "form": form, "errors": errors,
            "kinds": [(k, EVENT_KINDS[k]) for k in SUBSCRIBABLE]}, status_code=status_code)

    @get("/", name="webhooks")
    async def index(self, request: Request[Any, Any, Any], db_session: NamedDependency[AsyncSession]) -> Response[Any]:
        return await self._index(request, db_session, form={}, errors={})

    @post("/")
    async def create(self, request: Request[Any, Any, Any], db_session: NamedDependency[AsyncSession]) -> Response[Any]:
        form = await request.form()
        values = {"url": str(form.get("url") or ""), "description": str(form.get("description") or "")}
        events = [str(e) for e in form.getall("events")] if hasattr(form, "getall") else []
        try:
            registered = await _service(request, db_session).create(request.user, url=values["url"], events=events,
                                                                     description=values["description"])
        except InvalidInput as exc:
            return await self._index(request, db_session, form={**values, "events": events}, errors=exc.errors,
                                     status_code=422)
        return await self._detail(request, db_session, registered.endpoint.id, secret=registered.secret)

    async def _detail(self, request: Request[Any, Any, Any], session: AsyncSession, endpoint_id: UUID, *,
                      secret: str | None = None) -> Response[Any]:
        service = _service(request, session)
        endpoint = await service.get(request.user, endpoint_id)
        deliveries = await service.deliveries(request.user, endpoint_id, limit=100)
        return render(request, "webhooks/detail.html", {
            "endpoint": endpoint, "deliveries": deliveries, "secret": secret, "kinds": EVENT_KINDS})

    @get("/{endpoint_id:uuid}", name="webhook")
    async def detail(self, request: Request[Any, Any, Any], endpoint_id: FromPath[UUID],
                     db_session: NamedDependency[AsyncSession]) -> Response[Any]:
        return await self._detail(request, db_session, endpoint_id)

    @post("/{endpoint_id:uuid}/test")
    async def test(self, request: Request[Any, Any, Any], endpoint_id: FromPath[UUID],
                   db_session: NamedDependency[AsyncSession]) -> Response[Any]:
        await _service(request, db_session).send_test(request.user, endpoint_id)
        flash(request, gettext('Test event queued: it shows in the log below once sent.'))
        return redirect(request, f"/settings/webhooks/{endpoint_id}")

    @post("/{endpoint_id:uuid}/deliveries/{delivery_id:uuid}/replay")
    async def replay(self, request: Request[Any, Any, Any], endpoint_id: FromPath[UUID], delivery_id: FromPath[UUID],
                     db_session: NamedDependency[AsyncSession]) -> Response[Any]:
        service = _service(request, db_session)
        await service.get(request.user, endpoint_id)
        await service.replay(request.user, delivery_id)
        flash(request, gettext('Delivery queued again.'))
        return redirect(request, f"/settings/webhooks/{endpoint_id}")

    @post("/{endpoint_id:uuid}/active")
    async def switch(self, request: Request[Any, Any, Any], endpoint_id: FromPath[UUID],
                     db_session: NamedDependency[AsyncSession]) -> Response[Any]:
        form = await request.form()
        active = str(form.get("active") or "") == "1"
        await _service(request, db_session).update(request.user, endpoint_id, active=active)
        flash(request, gettext("Endpoint switched on.") if active
              else gettext("Endpoint paused: events wait (for up to 3 days)."))
        return redirect(request, f"/settings/webhooks/{endpoint_id}")

    @post("/{endpoint_id:uuid}/rotate")
    async def rotate(self, request: Request[Any, Any, Any], endpoint_id: FromPath[UUID],
                     db_session: NamedDependency[AsyncSession]) -> Response[Any]:
        registered = await _service(request, db_session).rotate_secret(request.user, endpoint_id)
        return await self._detail(request, db_session, endpoint_id, secret=registered.secret)

    @post("/{endpoint_id:uuid}/delete")
    async def remove(self, request: Request[Any, Any, Any], endpoint_id: FromPath[UUID],
                     db_session: NamedDependency[AsyncSession]) -> Response[Any]:
        await _service(request, db_session).delete(request.user, endpoint_id)
        flash(request, gettext('Endpoint removed.'))
        return redirect(request, "/settings/webhooks")


# --- API ------------------------------------------------------------------------------------------------------------


class WebhookApi(Controller):
    path = "/api/v1/webhooks"
    tags = ["webhooks"]
    guards = [webhook_managers]

    @get("/event-types", summary="The events an endpoint can subscribe to")
    async def event_types(self) -> list[EventTypeOut]:
        return [EventTypeOut(kind, EVENT_KINDS[kind]) for kind in SUBSCRIBABLE]

    @get("/endpoints", summary="Your webhook endpoints")
    async def list_endpoints(self, request: Request[Any, Any, Any],
                             db_session: NamedDependency[AsyncSession]) -> list[EndpointOut]:
        return [endpoint_out(e) for e in await _service(request, db_session).list(request.user)]

    @post("/endpoints", status_code=HTTP_201_CREATED,
          summary="Register an endpoint (the answer carries its signing secret, shown this once)")
    async def create_endpoint(self, request: Request[Any, Any, Any], data: JSONBody[EndpointIn],
                              db_session: NamedDependency[AsyncSession]) -> EndpointOut:
        registered = await _service(request, db_session).create(request.user, url=data.url, events=data.events,
                                                                 description=data.description)
        return endpoint_out(registered.endpoint, registered.secret)

    @get("/endpoints/{endpoint_id:uuid}", summary="One endpoint")
    async def get_endpoint(self, request: Request[Any, Any, Any], endpoint_id: FromPath[UUID],
                           db_session: NamedDependency[AsyncSession]) -> EndpointOut:
        return endpoint_out(await _service(request, db_session).get(request.user, endpoint_id))

    @patch("/endpoints/{endpoint_id:uuid}", summary="Change an endpoint's address, events, description or pause it")
    async def update_endpoint(self, request: Request[Any, Any, Any], endpoint_id: FromPath[UUID],
                              data: JSONBody[EndpointPatch],
                              db_session: NamedDependency[AsyncSession]) -> EndpointOut:
        endpoint = await _service(request, db_session).update(
            request.user, endpoint_id, url=data.url, events=data.events, description=data.description,
            active=data.active)
        return endpoint_out(endpoint)

    @delete("/endpoints/{endpoint_id:uuid}", status_code=HTTP_204_NO_CONTENT, summary="Remove an endpoint")
    async def delete_endpoint(self, request: Request[Any, Any, Any], endpoint_id: FromPath[UUID],
                              db_session: NamedDependency[AsyncSession]) -> None:
        await _service(request, db_session).delete(request.user, endpoint_id)

    @post("/endpoints/{endpoint_id:uuid}/rotate-secret", summary="Replace the signing secret (shown this once)")
    async def rotate_secret(self, request: Request[Any, Any, Any], endpoint_id: FromPath[UUID],
                            db_session: NamedDependency[AsyncSession]) -> EndpointOut:
        registered = await _service(request, db_session).rotate_secret(request.user, endpoint_id)
        return endpoint_out(registered.endpoint, registered.secret)

    @post("/endpoints/{endpoint_id:uuid}/test", status_code=HTTP_202_ACCEPTED,
          summary="Send a webhook.test event to this endpoint")
    async def test_endpoint(self, request: Request[Any, Any, Any], endpoint_id: FromPath[UUID],
                            db_session: NamedDependency[AsyncSession]) -> DeliveryOut:
        delivery = await _service(request, db_session).send_test(request.user, endpoint_id)
        return delivery_out(delivery, await db_session.get_one(OutgoingEvent, delivery.event_id))

    @get("/endpoints/{endpoint_id:uuid}/deliveries", summary="The delivery log (newest event first, 100 at most)")
    async def deliveries(self, request: Request[Any, Any, Any], endpoint_id: FromPath[UUID],
                         db_session: NamedDependency[AsyncSession]) -> list[DeliveryOut]:
        rows = await _service(request, db_session).deliveries(request.user, endpoint_id, limit=100)
        return [delivery_out(d, e) for d, e in rows]

    @post("/deliveries/{delivery_id:uuid}/replay", status_code=HTTP_202_ACCEPTED,
          summary="Send a delivery again (a new 3-day retry window starts)")
    async def replay(self, request: Request[Any, Any, Any], delivery_id: FromPath[UUID],
                     db_session: NamedDependency[AsyncSession]) -> DeliveryOut:
        delivery = await _service(request, db_session).replay(request.user, delivery_id)
        return delivery_out(delivery, await db_session.get_one(OutgoingEvent, delivery.event_id))


ROUTES = [WebhookPages, WebhookApi]
