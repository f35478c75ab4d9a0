"""Deliveries from stores: Shopify and WooCommerce webhooks and custom stores' signed pushes, verified on the raw
body, stored once per delivery id and acknowledged; a job applies them."""

from __future__ import annotations

from typing import Any
from uuid import UUID

import sqlalchemy as sa
from litestar import Controller, Request, Response, post
from litestar.di import NamedDependency
from litestar.params import FromPath
from sqlalchemy.ext.asyncio import AsyncSession

from marketplace.stores import intake
from marketplace.stores.models import StoreConnection, StorePlatform
from marketplace.stores.schemas import PushAccepted, problem_specs
from marketplace.stores.vault import SecretBox
from marketplace.web import Problem, problem_response, runtime_of


async def _receive(request: Request[Any, Any, Any], session: AsyncSession, store_id: UUID,
                   platform: StorePlatform) -> Response[Any]:
    runtime = runtime_of(request)
    limit = runtime.settings.stores.webhook_max_bytes
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        return _refuse(request, 413, f"The body is larger than {limit} bytes.")
    body = await request.body()
    if len(body) > limit:
        return _refuse(request, 413, f"The body is larger than {limit} bytes.")
    store = await session.scalar(sa.select(StoreConnection).where(
        StoreConnection.id == store_id, StoreConnection.platform == platform,
        StoreConnection.disconnected_at.is_(None)))
    if store is None:
        return _refuse(request, 404, "No such store.")
    try:
        verified = intake.verify(store, SecretBox.from_settings(runtime.settings), request.headers, body)
        if verified is None:
            return Response({"received": True, "ping": True}, status_code=200)
        payload = intake.parse_object(body)
    except intake.Refused as exc:
        return _refuse(request, exc.status, exc.message)
    delivery_id, topic = verified
    accepted = await intake.receive(session, store.id, delivery_id, topic, payload, runtime.clock.now())
    return Response({"received": True, "duplicate": accepted.duplicate}, status_code=200)


def _refuse(request: Request[Any, Any, Any], status: int, detail: str) -> Response[Any]:
    title = {400: "Invalid webhook", 401: "Bad signature", 404: "Not found", 413: "Too large",
             503: "Try again later"}.get(status, "Refused")
    return problem_response(request, Problem(status, title, detail, "invalid-webhook"))


class StoreWebhooks(Controller):
    path = "/webhooks"
    include_in_schema = False

    @post("/shopify/{store_id:uuid}", status_code=200)
    async def shopify(self, request: Request[Any, Any, Any], store_id: FromPath[UUID],
                      db_session: NamedDependency[AsyncSession]) -> Response[Any]:
        return await _receive(request, db_session, store_id, StorePlatform.SHOPIFY)

    @post("/woocommerce/{store_id:uuid}", status_code=200)
    async def woocommerce(self, request: Request[Any, Any, Any], store_id: FromPath[UUID],
                          db_session: NamedDependency[AsyncSession]) -> Response[Any]:
        return await _receive(request, db_session, store_id, StorePlatform.WOOCOMMERCE)


class CustomStorePush(Controller):
    """A custom store pushes its orders and refunds (Shopify's REST order/refund shape), signed with the secret
    PostPact issued: ``X-PostPact-Signature`` = hex HMAC-SHA256 of ``"<X-PostPact-Timestamp>.<raw body>"``,
    ``X-PostPact-Delivery-Id`` unique per push, ``X-PostPact-Topic`` ``orders/create`` (default),
    ``orders/updated``, ``orders/cancelled`` or ``refunds/create``. No bearer token: the signature authorises it."""

    path = "/api/v1/stores"
    tags = ["stores"]
    security = [{}]

    @post("/{store_id:uuid}/orders", summary="A custom store pushes an order or refund (signed)", status_code=200,
          responses=problem_specs(400, 401, 404, 413))
    async def push(self, request: Request[Any, Any, Any], store_id: FromPath[UUID],
                   db_session: NamedDependency[AsyncSession]) -> Response[PushAccepted]:
        return await _receive(request, db_session, store_id, StorePlatform.CUSTOM)


