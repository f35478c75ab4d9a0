"""The built-in simulated shop: a store that lives inside PostPact, for development, demos and `make run`.

It plays the shop's side, in-process (no outside calls): its products, orders and fulfilments are rows of
``simulated_shop_record`` in Shopify's REST webhook shapes. Everything it does is announced through the same intake
as a real shop's webhooks (``intake.receive``: one stored delivery, then the ``stores.process_delivery`` job), so
PostPact's catalog, seeding orders, shipping and sales attribution run the same code for it as for Shopify.
Offered only when ``settings.stores.simulated`` is on (development and test; production only with
STORES_SIMULATED=1).

What a real shop's staff or customers would do, people (and the demo) do here:
- ``fulfil``: ship an order with a carrier and tracking number (a ``fulfillments/create`` delivery ships the deal);
- ``place_order``: a customer buys, optionally with a creator's discount code or landing page (``orders/create``:
  sales attribution reads it); ``refund`` and ``cancel`` follow up on it.
"""

from __future__ import annotations

import copy
import hashlib
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any
from uuid import UUID, uuid4

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from escrow.money import exponent
from marketplace.stores.catalog import CatalogProduct, to_minor
from marketplace.stores.errors import StoreError, StoreProblem
from marketplace.stores.intake import receive
from marketplace.stores.models import SimulatedShopRecord, StoreConnection, StorePlatform
from marketplace.stores.shopify import PlacedOrder, product_from_webhook

PRODUCT, ORDER, FULFILLMENT, DISCOUNT = "product", "order", "fulfillment", "discount"
#: Order numbers start here, like a new Shopify shop's (#1001).
FIRST_ORDER_NUMBER = 1001
CURRENCY = "USD"

#: What a newly connected simulated shop sells: one product with sizes (one size sold out), one with two sizes,
#: one without options. Prices and unit costs are decimal strings, as shops report them.
DEMO_CATALOG: list[dict[str, Any]] = [
    {"title": "GlowLab crewneck", "options": ["Size"], "image": None,
     "variants": [{"options": ["S"], "price": "48.00", "cost": "14.20", "inventory": 6},
                  {"options": ["M"], "price": "48.00", "cost": "14.20", "inventory": 5},
                  {"options": ["L"], "price": "48.00", "cost": "14.20", "inventory": 4},
                  {"options": ["XL"], "price": "52.00", "cost": "15.10", "inventory": 0}]},
    {"title": "Vitamin C serum", "options": ["Size"], "image": None,
     "variants": [{"options": ["30 ml"], "price": "38.00", "cost": "7.40", "inventory": 40},
                  {"options": ["50 ml"], "price": "54.00", "cost": "10.90", "inventory": 25}]},
    {"title": "Lip balm trio", "options": [], "image": None,
     "variants": [{"options": [], "price": "18.00", "cost": "3.10", "inventory": None}]},
]


@dataclass(frozen=True)
class ShopOrder:
    external_id: str
    name: str
    tag: str | None
    fulfilled: bool
    data: dict[str, Any]


def _major(amount: int, currency: str) -> str:
    """Integer minor units as the decimal string shops send ("19.90"); never through float."""
    return str(Decimal(amount).scaleb(-exponent(currency)).quantize(Decimal(1).scaleb(-exponent(currency))))


def demo_tracking_number(order_external_id: str, store_id: UUID) -> str:
    """A UPS-looking tracking number, the same for the same order (a repeated fulfil adds nothing)."""
    digest = hashlib.sha256(f"{store_id}:{order_external_id}".encode()).hexdigest().upper()
    return "1ZSIM" + digest[:13]


class SimulatedShop:
    """The shop's side of one simulated store, in the caller's transaction (the deliveries it announces are
    processed by jobs sent after that transaction commits)."""

    def __init__(self, session: AsyncSession, store: StoreConnection, now: datetime) -> None:
        if store.platform is not StorePlatform.SIMULATED:
            raise ValueError(f"store {store.id} is not a simulated store")
        self.session = session
        self.store = store
        self.now = now

    # -- records

    async def _records(self, kind: str) -> list[SimulatedShopRecord]:
        return list((await self.session.scalars(sa.select(SimulatedShopRecord).where(
            SimulatedShopRecord.store_id == self.store.id, SimulatedShopRecord.kind == kind)
            .order_by(SimulatedShopRecord.created_at, SimulatedShopRecord.external_id))).all())

    async def _record(self, kind: str, external_id: str, *, for_update: bool = False) -> SimulatedShopRecord | None:
        query = sa.select(SimulatedShopRecord).where(SimulatedShopRecord.store_id == self.store.id,
                                                     SimulatedShopRecord.kind == kind,
                                                     SimulatedShopRecord.external_id == external_id)
        return await self.session.scalar(query.with_for_update() if for_update else query)

    async def _lock_shop(self) -> None:
        """One writer at a time per shop: order numbers and stock are counted from what is there."""
        await self.session.execute(sa.select(StoreConnection.id).where(StoreConnection.id == self.store.id)
                                   .with_for_update())

    async def _next_number(self, kind: str, first: int) -> int:
        ids = (await self.session.scalars(sa.select(SimulatedShopRecord.external_id).where(
            SimulatedShopRecord.store_id == self.store.id, SimulatedShopRecord.kind == kind))).all()
        return max([int(i) for i in ids if i.isdigit()], default=first - 1) + 1

    def _add(self, kind: str, external_id: str, data: dict[str, Any], tag: str | None = None) -> SimulatedShopRecord:
        record = SimulatedShopRecord(store_id=self.store.id, kind=kind, external_id=external_id, tag=tag, data=data,
                                     created_at=self.now, updated_at=self.now)
        self.session.add(record)
        return record

    async def _announce(self, topic: str, payload: dict[str, Any]) -> UUID | None:
        accepted = await receive(self.session, self.store.id, f"sim-{uuid4()}", topic, payload, self.now)
        return accepted.delivery_id

    # -- catalog

    async def install_catalog(self, catalog: list[dict[str, Any]] | None = None) -> int:
        """Stock an empty shop (``DEMO_CATALOG`` unless given); a shop that has products keeps them."""
        await self._lock_shop()
        if await self._records(PRODUCT):
            return 0
        for n, item in enumerate(catalog if catalog is not None else DEMO_CATALOG, start=1):
            variants = []
            for i, v in enumerate(item["variants"], start=1):
                vid = n * 100 + i
                values = list(v["options"])
                variants.append({
                    "id": vid, "admin_graphql_api_id": f"gid://simulated/ProductVariant/{vid}",
                    "title": " / ".join(values) or "Default Title", "sku": f"SIM-{vid}", "price": v["price"],
                    "cost": v.get("cost"), "inventory_quantity": v.get("inventory"),
                    **{f"option{k}": value for k, value in enumerate(values, start=1)}})
            self._add(PRODUCT, str(n), {
                "id": n, "admin_graphql_api_id": f"gid://simulated/Product/{n}", "title": item["title"],
                "options": [{"name": name} for name in item["options"]],
                "image": {"src": item["image"]} if item.get("image") else None,
                "updated_at": self.now.isoformat(), "variants": variants})
        await self.session.flush()
        return len(catalog if catalog is not None else DEMO_CATALOG)

    async def products(self, page_size: int = 50) -> AsyncIterator[list[CatalogProduct]]:
        """The catalog a page at a time, as a sync reads it from a real shop."""
        records = await self._records(PRODUCT)
        for start in range(0, len(records), page_size):
            page = []
            for record in records[start:start + page_size]:
                product = product_from_webhook(record.data, CURRENCY)
                for variant, raw in zip(product.variants, record.data.get("variants") or [], strict=True):
                    variant.cost_amount = to_minor(raw["cost"], CURRENCY) if raw.get("cost") else None
                page.append(product)
            yield page

    async def _variant(self, variant_external_id: str) -> tuple[SimulatedShopRecord, int]:
        """The product holding the variant, and the variant's place in it."""
        for record in await self._records(PRODUCT):
            for index, variant in enumerate(record.data.get("variants") or []):
                if variant_external_id in (variant["admin_graphql_api_id"], str(variant["id"])):
                    return record, index
        raise StoreError(StoreProblem.REFUSED, f"The shop has no variant {variant_external_id}.")

    async def _take_stock(self, record: SimulatedShopRecord, index: int, quantity: int) -> dict[str, Any]:
        """Take ``quantity`` from the variant's stock (when tracked); returns the variant as it is now."""
        data = copy.deepcopy(record.data)  # a new value, so the JSON column is written (never mutated in place)
        variant = data["variants"][index]
        if variant.get("inventory_quantity") is None:
            return dict(variant)
        if variant["inventory_quantity"] < quantity:
            raise StoreError(StoreProblem.REFUSED, f"{data['title']} \N{EN DASH} {variant['title']} is out of "
                                                   f"stock ({variant['inventory_quantity']} left).")
        variant["inventory_quantity"] -= quantity
        data["updated_at"] = self.now.isoformat()
        record.data, record.updated_at = data, self.now
        # Shopify tells apps about stock changes through products/update: so does the simulated shop.
        await self._announce("products/update", data)
        return dict(variant)

    # -- orders

    async def find_order(self, tag: str) -> PlacedOrder | None:
        record = await self.session.scalar(sa.select(SimulatedShopRecord).where(
            SimulatedShopRecord.store_id == self.store.id, SimulatedShopRecord.kind == ORDER,
            SimulatedShopRecord.tag == tag))
        return PlacedOrder(record.data["admin_graphql_api_id"], record.data["name"]) if record else None

    async def create_seeding_order(self, tag: str, variant_external_id: str, shipping_address: dict[str, Any],
                                   email: str | None = None) -> PlacedOrder:
        """A $0 order (the line fully discounted) carrying ``tag``; the order already carrying it when there is one."""
        await self._lock_shop()
        found = await self.find_order(tag)
        if found is not None:
            return found
        record, index = await self._variant(variant_external_id)
        variant = await self._take_stock(record, index, 1)
        price = to_minor(variant["price"], CURRENCY)
        return await self._new_order([(record, variant, 1)], tag=tag, email=email, discount=("", price),
                                     shipping_address=shipping_address, note=f"PostPact seeding order ({tag})")

    async def place_order(self, lines: list[tuple[str, int]], *, discount_code: str | None = None,
                          discount_amount: int = 0, landing_site: str | None = None, email: str | None = None,
                          customer_id: str | None = None, tax_amount: int = 0, shipping_amount: int = 0,
                          placed_at: datetime | None = None) -> PlacedOrder:
        """A customer's order: ``lines`` of (variant external id, quantity), in minor units of USD. Stock is taken;
        the ``orders/create`` delivery goes through the intake like any webhook."""
        if not lines or any(quantity < 1 for _, quantity in lines):
            raise ValueError("an order needs at least one line with a quantity of 1 or more")
        await self._lock_shop()
        picked = []
        for variant_external_id, quantity in lines:
            record, index = await self._variant(variant_external_id)
            variant = await self._take_stock(record, index, quantity)
            picked.append((record, variant, quantity))
        return await self._new_order(picked, email=email, discount=(discount_code or "", discount_amount),
                                     landing_site=landing_site, customer_id=customer_id, tax_amount=tax_amount,
                                     shipping_amount=shipping_amount, placed_at=placed_at)

    async def _new_order(self, lines: list[tuple[SimulatedShopRecord, dict[str, Any], int]], *,
                         tag: str | None = None, email: str | None = None, discount: tuple[str, int] = ("", 0),
                         shipping_address: dict[str, Any] | None = None, landing_site: str | None = None,
                         customer_id: str | None = None, note: str = "", tax_amount: int = 0,
                         shipping_amount: int = 0, placed_at: datetime | None = None) -> PlacedOrder:
        number = await self._next_number(ORDER, FIRST_ORDER_NUMBER)
        gross = sum(to_minor(v["price"], CURRENCY) * q for _, v, q in lines)
        code, off = discount
        off = min(max(off, 0), gross)
        subtotal = gross - off
        when = (placed_at or self.now).isoformat()
        data = {
            "id": number, "admin_graphql_api_id": f"gid://simulated/Order/{number}", "name": f"#{number}",
            "email": email or "", "currency": CURRENCY, "created_at": when, "updated_at": self.now.isoformat(),
            "total_price": _major(subtotal + tax_amount + shipping_amount, CURRENCY),
            "subtotal_price": _major(subtotal, CURRENCY), "total_tax": _major(tax_amount, CURRENCY),
            "total_discounts": _major(off, CURRENCY), "financial_status": "paid", "fulfillment_status": None,
            "discount_codes": [{"code": code, "amount": _major(off, CURRENCY), "type": "fixed_amount"}] if code else [],
            "landing_site": landing_site or "", "tags": tag or "", "note": note, "cancelled_at": None,
            "customer": {"id": int(customer_id)} if customer_id and customer_id.isdigit() else None,
            "line_items": [{"variant_id": v["id"], "product_id": r.data["id"], "title": r.data["title"],
                            "variant_title": v["title"], "quantity": q, "price": v["price"]} for r, v, q in lines],
            "shipping_address": shipping_address, "refunds": [],
        }
        self._add(ORDER, str(number), data, tag=tag)
        await self.session.flush()
        await self._announce("orders/create", data)
        return PlacedOrder(data["admin_graphql_api_id"], data["name"])

    async def orders(self, *, open_only: bool = False) -> list[ShopOrder]:
        found = [ShopOrder(r.external_id, r.data["name"], r.tag, bool(r.data.get("fulfillment_status")), r.data)
                 for r in await self._records(ORDER)]
        return [o for o in found if not (open_only and (o.fulfilled or o.data.get("cancelled_at")))]

    async def fulfil(self, order_external_id: str, *, carrier: str = "UPS",
                     tracking_number: str | None = None) -> str:
        """Ship the order (the warehouse's job in a real shop): a ``fulfillments/create`` delivery with the carrier
        and tracking number. Fulfilling an order again changes nothing. Returns the tracking number."""
        await self._lock_shop()
        order = await self._record(ORDER, order_external_id.rsplit("/", 1)[-1], for_update=True)
        if order is None:
            raise StoreError(StoreProblem.NOT_FOUND, f"The shop has no order {order_external_id}.")
        existing = await self._record(FULFILLMENT, order.external_id)
        if existing is not None:
            return str(existing.data["tracking_number"])
        number = tracking_number or demo_tracking_number(order.external_id, self.store.id)
        fulfillment = {
            "id": int(order.external_id) * 10 + 1, "order_id": int(order.external_id), "status": "success",
            "tracking_company": carrier, "tracking_number": number, "tracking_numbers": [number],
            "tracking_urls": [], "created_at": self.now.isoformat(), "updated_at": self.now.isoformat()}
        self._add(FULFILLMENT, order.external_id, fulfillment)
        order.data = {**order.data, "fulfillment_status": "fulfilled", "updated_at": self.now.isoformat()}
        order.updated_at = self.now
        await self.session.flush()
        await self._announce("fulfillments/create", fulfillment)
        return number

    async def refund(self, order_external_id: str, amount: int) -> None:
        """Refund part or all of a customer's order (``refunds/create``; commission follows it)."""
        await self._lock_shop()
        order = await self._record(ORDER, order_external_id.rsplit("/", 1)[-1], for_update=True)
        if order is None:
            raise StoreError(StoreProblem.NOT_FOUND, f"The shop has no order {order_external_id}.")
        refund_id = int(order.external_id) * 100 + len(order.data.get("refunds") or []) + 1
        refund = {"id": refund_id, "order_id": int(order.external_id), "created_at": self.now.isoformat(),
                  "transactions": [{"kind": "refund", "status": "success", "amount": _major(amount, CURRENCY)}]}
        order.data = {**order.data, "refunds": [*(order.data.get("refunds") or []), refund]}
        order.updated_at = self.now
        await self.session.flush()
        await self._announce("refunds/create", refund)

    async def cancel(self, order_external_id: str) -> None:
        await self._lock_shop()
        order = await self._record(ORDER, order_external_id.rsplit("/", 1)[-1], for_update=True)
        if order is None:
            raise StoreError(StoreProblem.NOT_FOUND, f"The shop has no order {order_external_id}.")
        order.data = {**order.data, "cancelled_at": self.now.isoformat(), "updated_at": self.now.isoformat()}
        order.updated_at = self.now
        await self.session.flush()
        await self._announce("orders/cancelled", order.data)

    # -- discount codes (sales attribution creates one per signed deal)

    async def ensure_discount_code(self, code: str, tag: str) -> str:
        """The shop's id of ``code``, created only when the shop has no such code (the code is the key)."""
        await self._lock_shop()
        key = code.upper()
        found = await self._record(DISCOUNT, key)
        if found is not None:
            return str(found.data["admin_graphql_api_id"])
        number = len(await self._records(DISCOUNT)) + 1
        data = {"admin_graphql_api_id": f"gid://simulated/DiscountCodeNode/{number}", "code": key, "tag": tag}
        self._add(DISCOUNT, key, data, tag=tag)
        await self.session.flush()
        return str(data["admin_graphql_api_id"])
