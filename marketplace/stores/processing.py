"""Applying stored store deliveries: orders, refunds, fulfillments, products and the privacy topics, each
idempotent and in any order (a fulfillment may arrive before its order, an old update after a new one)."""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime
from typing import Any, Protocol
from uuid import UUID

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from marketplace.brands.models import BrandRole
from marketplace.clock import Clock
from marketplace.collaborations.models import Collaboration
from marketplace.collaborations.services import DealService
from marketplace.collaborations.states import CollabState, Party, TransitionActor
from marketplace.errors import PostPactError
from marketplace.jobs import enqueue
from marketplace.settings import Settings
from marketplace.stores.catalog import mark_product_deleted, parse_time, to_minor, upsert_products
from marketplace.stores.models import (
    SeedingOrder,
    StoreConnection,
    StoreFulfillment,
    StoreOrder,
    StorePlatform,
    StoreWebhookDelivery,
)
from marketplace.stores.shopify import product_from_webhook
from marketplace.stores.tracking import tracking_link
from marketplace.stores.woocommerce import product_from_rest

log = logging.getLogger(__name__)

ORDER_TOPICS = frozenset({"orders/create", "orders/updated", "orders/paid", "orders/cancelled", "orders/fulfilled",
                          "order.created", "order.updated", "order.restored"})
FULFILLMENT_TOPICS = frozenset({"fulfillments/create", "fulfillments/update"})
PRODUCT_TOPICS = frozenset({"products/create", "products/update", "product.created", "product.updated"})
PRODUCT_DELETE_TOPICS = frozenset({"products/delete", "product.deleted"})
WOO_TRACKING_META = "_wc_shipment_tracking_items"
#: Re-reads one product with its variations (marketplace.stores.jobs.sync_product).
SYNC_PRODUCT_JOB = "stores.sync_product"


def external_id(raw: Any) -> str:
    """Shopify's REST ids in webhooks and GraphQL gids name the same thing: keep the number."""
    return str(raw).rsplit("/", 1)[-1] if raw is not None else ""


class OrderListener(Protocol):
    """Something that follows a store's orders (sales attribution): told after an order or a refund was saved,
    inside the same transaction. Registered once at start-up, so this area never imports its subscribers."""

    async def order_changed(self, session: AsyncSession, store: StoreConnection, order: StoreOrder,
                            now: datetime) -> None: ...


_order_listeners: list[OrderListener] = []


def install_order_listeners(listeners: list[OrderListener]) -> None:
    _order_listeners[:] = listeners


async def order_changed(session: AsyncSession, store: StoreConnection, order: StoreOrder, now: datetime) -> None:
    for listener in _order_listeners:
        await listener.order_changed(session, store, order, now)


class DeliveryProcessor:
    def __init__(self, session: AsyncSession, settings: Settings, clock: Clock) -> None:
        self.session = session
        self.settings = settings
        self.clock = clock

    async def process(self, delivery_id: UUID) -> str:
        delivery = await self.session.scalar(sa.select(StoreWebhookDelivery).where(
            StoreWebhookDelivery.id == delivery_id).with_for_update())
        if delivery is None or delivery.processed_at is not None:
            return "already processed"
        store = await self.session.get(StoreConnection, delivery.store_id)
        assert store is not None
        try:
            async with self.session.begin_nested():
                outcome = await self.apply(store, delivery.topic, delivery.payload)
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            # A body we can't read never gets better by retrying: record why and move on.
            outcome = f"unreadable {delivery.topic}: {type(exc).__name__}: {exc}"
        delivery.processed_at, delivery.outcome = self.clock.now(), outcome[:300]
        # Applied: what we keep now lives in the order, product and fulfillment rows (which the privacy topics
        # redact), so the raw body with the customer's name and address is not kept beside them.
        delivery.payload = {}
        return outcome

    async def apply(self, store: StoreConnection, topic: str, payload: dict[str, Any]) -> str:
        handlers: dict[frozenset[str], Callable[..., Any]] = {
            ORDER_TOPICS: self._order, FULFILLMENT_TOPICS: self._fulfillment, PRODUCT_TOPICS: self._product,
            PRODUCT_DELETE_TOPICS: self._product_deleted,
            frozenset({"order.deleted"}): self._order_deleted,
            frozenset({"refunds/create"}): self._refund,
            frozenset({"customers/redact"}): self._customer_redact,
            frozenset({"customers/data_request"}): self._data_request,
            frozenset({"shop/redact"}): self._shop_redact,
        }
        for topics, handler in handlers.items():
            if topic in topics:
                return str(await handler(store, payload, topic))
        return f"ignored: PostPact doesn't use {topic}"

    # -- orders

    async def _order_row(self, store: StoreConnection, order_id: str) -> StoreOrder:
        order = await self.session.scalar(sa.select(StoreOrder).where(StoreOrder.store_id == store.id,
                                                                      StoreOrder.external_id == order_id))
        if order is None:
            now = self.clock.now()
            order = StoreOrder(store_id=store.id, external_id=order_id, discount_codes=[], refund_ids=[],
                               created_at=now, updated_at=now)
            self.session.add(order)
        return order

    async def _order(self, store: StoreConnection, payload: dict[str, Any], topic: str) -> str:
        order_id = external_id(payload.get("id"))
        if not order_id:
            return "ignored: order without an id"
        order = await self._order_row(store, order_id)
        woo = store.platform is StorePlatform.WOOCOMMERCE
        updated = parse_time(payload.get("date_modified_gmt") + "+00:00" if woo and payload.get("date_modified_gmt")
                             else payload.get("updated_at"))
        if order.source_updated_at and updated and updated < order.source_updated_at:
            return f"ignored: older than the order {order_id} we hold"
        currency = str(payload.get("currency") or store.currency or "USD").upper()
        try:
            if woo:
                total = to_minor(payload.get("total"), currency)
                tax = to_minor(payload.get("total_tax"), currency)
                order.subtotal_amount = total - tax - to_minor(payload.get("shipping_total"), currency)
                order.email = (payload.get("billing") or {}).get("email") or None
                order.discount_codes = [{"code": c.get("code"), "amount": c.get("discount")}
                                        for c in payload.get("coupon_lines") or []]
                order.tags = ", ".join(str(m.get("value")) for m in payload.get("meta_data") or []
                                       if m.get("key") == "_postpact_tag")
                order.financial_status = str(payload.get("status") or "")
                order.cancelled_at = self.clock.now() if payload.get("status") == "cancelled" else None
                order.placed_at = parse_time((payload.get("date_created_gmt") or "") + "+00:00")
            else:
                total = to_minor(payload.get("total_price"), currency)
                tax = to_minor(payload.get("total_tax"), currency)
                order.subtotal_amount = to_minor(payload.get("subtotal_price"), currency)
                order.email = payload.get("email") or None
                order.customer_external_id = external_id((payload.get("customer") or {}).get("id")) or None
                order.discount_codes = list(payload.get("discount_codes") or [])
                order.landing_site = (payload.get("landing_site") or None)
                order.tags = str(payload.get("tags") or "")[:1000]
                order.financial_status = str(payload.get("financial_status") or "")
                order.cancelled_at = parse_time(payload.get("cancelled_at"))
                order.placed_at = parse_time(payload.get("created_at"))
        except (ValueError, KeyError) as exc:
            return f"ignored: unreadable order ({exc})"
        order.name = str(payload.get("name") or payload.get("number") or "")[:120]
        order.currency, order.total_amount, order.tax_amount = currency, total, tax
        order.source_updated_at = updated
        await self.session.flush()
        await order_changed(self.session, store, order, self.clock.now())
        outcome = f"order {order_id} saved"
        if woo:
            for item in _woo_tracking(payload):
                await self._save_fulfillment(store, f"{order_id}:{item.get('tracking_id') or item['tracking_number']}",
                                             order_id, item.get("tracking_provider") or "",
                                             item.get("tracking_number") or "", item.get("custom_tracking_link"))
        shipped = await self.ship_ready(store.id, order_id)
        return outcome + (f"; {shipped} deal(s) shipped" if shipped else "")

    async def _order_deleted(self, store: StoreConnection, payload: dict[str, Any], _: str) -> str:
        order = await self._order_row(store, external_id(payload.get("id")))
        order.cancelled_at = order.cancelled_at or self.clock.now()
        await self.session.flush()
        await order_changed(self.session, store, order, self.clock.now())
        return f"order {order.external_id} deleted in the store: counted as cancelled"

    async def _refund(self, store: StoreConnection, payload: dict[str, Any], _: str) -> str:
        order = await self._order_row(store, external_id(payload.get("order_id")))
        refund_id = external_id(payload.get("id"))
        if refund_id in (order.refund_ids or []):
            return f"refund {refund_id} already counted"
        currency = order.currency or store.currency or "USD"
        amount = sum(to_minor(t.get("amount"), currency) for t in payload.get("transactions") or []
                     if t.get("kind", "refund") == "refund" and t.get("status", "success") == "success")
        order.refunded_amount = (order.refunded_amount or 0) + amount
        order.refund_ids = [*(order.refund_ids or []), refund_id]
        await self.session.flush()
        await order_changed(self.session, store, order, self.clock.now())
        return f"refund {refund_id} of {amount} on order {order.external_id}"

    # -- fulfillments and shipping

    async def _fulfillment(self, store: StoreConnection, payload: dict[str, Any], _: str) -> str:
        numbers = payload.get("tracking_numbers") or [payload.get("tracking_number")]
        urls = payload.get("tracking_urls") or [payload.get("tracking_url")]
        order_id = external_id(payload.get("order_id"))
        await self._save_fulfillment(store, external_id(payload.get("id")), order_id,
                                     str(payload.get("tracking_company") or ""), str(numbers[0] or ""),
                                     urls[0] if urls else None)
        shipped = await self.ship_ready(store.id, order_id)
        return f"fulfillment of order {order_id} saved" + (f"; {shipped} deal(s) shipped" if shipped else "")

    async def _save_fulfillment(self, store: StoreConnection, fulfillment_id: str, order_id: str, carrier: str,
                                number: str, url: str | None) -> None:
        row = await self.session.scalar(sa.select(StoreFulfillment).where(
            StoreFulfillment.store_id == store.id, StoreFulfillment.external_id == fulfillment_id))
        if row is None:
            now = self.clock.now()
            row = StoreFulfillment(store_id=store.id, external_id=fulfillment_id, order_external_id=order_id,
                                   created_at=now, updated_at=now)
            self.session.add(row)
        row.carrier, row.tracking_number = carrier[:60], number[:100]
        row.tracking_url = tracking_link(carrier, number, url)
        await self.session.flush()

    async def ship_ready(self, store_id: UUID, order_id: str) -> int:
        """Ship the deal whose seeding order is ``order_id`` if a fulfillment with a tracking number arrived for it
        (in either order: the fulfillment may come before we know the order is ours)."""
        rows = (await self.session.execute(
            sa.select(StoreFulfillment, SeedingOrder.collaboration_id)
            .join(SeedingOrder, sa.and_(SeedingOrder.store_id == StoreFulfillment.store_id,
                                        SeedingOrder.external_order_id == StoreFulfillment.order_external_id))
            .where(StoreFulfillment.store_id == store_id, StoreFulfillment.order_external_id == order_id,
                   StoreFulfillment.applied_at.is_(None),
                   StoreFulfillment.tracking_number != ""))).all()
        shipped = 0
        for fulfillment, collab_id in rows:
            shipped += await self._ship(fulfillment, collab_id)
        return shipped

    async def _ship(self, fulfillment: StoreFulfillment, collab_id: UUID) -> int:
        collab = await self.session.get(Collaboration, collab_id)
        fulfillment.applied_at = self.clock.now()
        if collab is None or collab.status is not CollabState.FUNDED:
            return 0  # shipped by hand already, or the deal ended: the fulfillment is kept for the record
        brand = TransitionActor(Party.BRAND, None, brand_id=collab.brand_id, brand_role=BrandRole.OWNER)
        try:
            async with self.session.begin_nested():
                await DealService(self.session, settings=self.settings, clock=self.clock).ship(
                    collab_id, brand, carrier=fulfillment.carrier or "Carrier",
                    tracking_number=fulfillment.tracking_number, tracking_url=fulfillment.tracking_url)
        except PostPactError as exc:
            log.warning("fulfillment %s couldn't ship deal %s: %s", fulfillment.external_id, collab_id, exc.message)
            return 0
        return 1

    # -- products

    async def _product(self, store: StoreConnection, payload: dict[str, Any], _: str) -> str:
        currency = store.currency or "USD"
        try:
            if store.platform is StorePlatform.WOOCOMMERCE and payload.get("type") == "variable":
                # The webhook names the variations but doesn't carry them: keep the ones we hold (no made-up
                # "Default" variant), and re-read this product with its variations from the store.
                product = product_from_rest({**payload, "attributes": payload.get("attributes") or []}, [], currency)
                product.variants, product.options = [], [str(a.get("name")) for a in payload.get("attributes") or []
                                                         if a.get("variation", True)]
                enqueue(self.session, SYNC_PRODUCT_JOB, str(store.id), str(payload.get("id")))
            elif store.platform is StorePlatform.WOOCOMMERCE:
                product = product_from_rest(payload, [], currency)
            else:
                product = product_from_webhook(payload, currency)
        except (ValueError, KeyError) as exc:
            return f"ignored: unreadable product ({exc})"
        await upsert_products(self.session, store.id, [product], self.clock.now())
        return f"product {product.external_id} saved"

    async def _product_deleted(self, store: StoreConnection, payload: dict[str, Any], _: str) -> str:
        pid = payload.get("admin_graphql_api_id") or (
            f"gid://shopify/Product/{payload.get('id')}" if store.platform is StorePlatform.SHOPIFY
            else str(payload.get("id")))
        await mark_product_deleted(self.session, store.id, str(pid), self.clock.now())
        return f"product {pid} deleted"

    # -- privacy (Shopify's mandatory topics)

    async def _customer_redact(self, store: StoreConnection, payload: dict[str, Any], _: str) -> str:
        customer = payload.get("customer") or {}
        conditions = [StoreOrder.external_id.in_([external_id(o) for o in payload.get("orders_to_redact") or []])]
        if customer.get("email"):
            conditions.append(sa.func.lower(StoreOrder.email) == str(customer["email"]).lower())
        if customer.get("id"):
            conditions.append(StoreOrder.customer_external_id == external_id(customer["id"]))
        result = await self.session.execute(
            sa.update(StoreOrder).where(StoreOrder.store_id == store.id, sa.or_(*conditions))
            .values(email=None, customer_external_id=None, landing_site=None, redacted_at=self.clock.now()))
        return f"redacted {result.rowcount} order(s)"  # type: ignore[attr-defined]

    async def _data_request(self, store: StoreConnection, payload: dict[str, Any], _: str) -> str:
        email = str((payload.get("customer") or {}).get("email") or "").lower()
        count = await self.session.scalar(sa.select(sa.func.count()).select_from(StoreOrder).where(
            StoreOrder.store_id == store.id, sa.func.lower(StoreOrder.email) == email)) if email else 0
        # PostPact keeps only order totals, codes, landing page and the email: the brand answers the customer from
        # its own shop, which holds everything we hold.
        return f"data request: {count} order(s) hold this customer's email (order totals, codes, landing page)"

    async def _shop_redact(self, store: StoreConnection, payload: dict[str, Any], _: str) -> str:
        result = await self.session.execute(
            sa.update(StoreOrder).where(StoreOrder.store_id == store.id)
            .values(email=None, customer_external_id=None, landing_site=None, redacted_at=self.clock.now()))
        store.access_token_enc = store.api_secret_enc = None
        await self.session.execute(sa.update(StoreWebhookDelivery).where(StoreWebhookDelivery.store_id == store.id)
                                   .values(payload={}))
        return f"shop redacted: {result.rowcount} order(s)"  # type: ignore[attr-defined]


def _woo_tracking(payload: dict[str, Any]) -> list[dict[str, Any]]:
    for meta in payload.get("meta_data") or []:
        if meta.get("key") == WOO_TRACKING_META and isinstance(meta.get("value"), list):
            return [item for item in meta["value"] if isinstance(item, dict) and item.get("tracking_number")]
    return []
