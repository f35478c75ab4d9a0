"""Orders from a CSV file, for stores that send no webhooks: checked whole (a message per bad row), then applied
like webhook orders, so uploading the same file twice changes nothing."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from marketplace.clock import Clock
from marketplace.csvfiles import read_csv
from marketplace.errors import InvalidInput
from marketplace.i18n import gettext
from marketplace.settings import Settings
from marketplace.stores.catalog import to_minor
from marketplace.stores.models import StoreConnection, StoreOrder
from marketplace.stores.processing import DeliveryProcessor, order_changed

MAX_ROWS = 10_000
COLUMNS = ("order_id", "order_name", "email", "currency", "total", "subtotal", "tax", "refunded", "discount_codes",
           "landing_site", "placed_at", "cancelled")
REQUIRED = ("order_id", "total")


@dataclass(frozen=True)
class CsvImport:
    orders: int
    created: int


def _row_payload(row: dict[str, str], currency: str, errors: dict[str, str], number: int,
                 now: datetime) -> dict[str, Any] | None:
    """One row in the order shape the webhook processor reads (Shopify's REST order fields)."""
    order_id = row.get("order_id", "").strip()
    if not order_id or len(order_id) > 120:
        errors[f"row {number}"] = gettext('order_id is required (at most 120 characters).')
        return None
    currency = (row.get("currency") or currency).strip().upper()
    amounts: dict[str, str] = {}
    for column in ("total", "subtotal", "tax", "refunded"):
        raw = (row.get(column) or "").strip() or ("0" if column != "total" else "")
        try:
            if to_minor(raw, currency) < 0 or not raw:
                raise ValueError(raw)
        except ValueError:
            errors[f"row {number}"] = gettext("%(column)s must be an amount like 19.90 (got %(raw)s) in %(currency)s.",
                                              column=column, raw=repr(raw), currency=currency)
            return None
        amounts[column] = raw
    placed = (row.get("placed_at") or "").strip()
    if placed:
        try:
            datetime.fromisoformat(placed.replace("Z", "+00:00"))
        except ValueError:
            errors[f"row {number}"] = gettext("placed_at must be a date like 2026-12-01T14:30:00Z (got %(placed)s).",
                                              placed=repr(placed))
            return None
    codes = [c for c in (row.get("discount_codes") or "").replace(";", " ").replace(",", " ").split() if c]
    cancelled = (row.get("cancelled") or "").strip().lower() in ("yes", "true", "1", "cancelled")
    return {
        "id": order_id, "name": (row.get("order_name") or order_id).strip(), "email": row.get("email", "").strip(),
        "currency": currency, "total_price": amounts["total"], "total_tax": amounts["tax"],
        "subtotal_price": amounts["subtotal"] if (row.get("subtotal") or "").strip() else amounts["total"],
        "discount_codes": [{"code": c} for c in codes], "landing_site": (row.get("landing_site") or "").strip(),
        "created_at": placed or None, "cancelled_at": now.isoformat() if cancelled else None,
        "refunded": amounts["refunded"],
    }


async def import_orders(session: AsyncSession, store: StoreConnection, data: bytes, settings: Settings,
                        clock: Clock) -> CsvImport:
    table = read_csv(data, max_rows=MAX_ROWS)
    missing = [c for c in REQUIRED if c not in table.header]
    if missing:
        raise InvalidInput({"file": gettext(
            "The first row must name the columns %(missing)s (and may name %(required)s).",
            missing=", ".join(missing), required=", ".join(c for c in COLUMNS if c not in REQUIRED))})
    errors: dict[str, str] = {}
    payloads = [p for number, row in table.records()
                if (p := _row_payload(row, store.currency or "USD", errors, number, clock.now())) is not None]
    if errors:
        raise InvalidInput(dict(list(errors.items())[:50]), message=gettext(
            "%(errors)s row(s) need attention; nothing was imported.", errors=len(errors)))
    known = set((await session.scalars(sa.select(StoreOrder.external_id).where(
        StoreOrder.store_id == store.id, StoreOrder.external_id.in_([p["id"] for p in payloads])))).all())
    processor = DeliveryProcessor(session, settings, clock)
    for payload in payloads:
        refunded = payload.pop("refunded")
        await processor.apply(store, "orders/updated", payload)
        order = await session.scalar(sa.select(StoreOrder).where(StoreOrder.store_id == store.id,
                                                                 StoreOrder.external_id == payload["id"]))
        if order is not None:
            order.refunded_amount = to_minor(refunded, order.currency)
            await order_changed(session, store, order, clock.now())
    return CsvImport(orders=len(payloads), created=len({p["id"] for p in payloads} - known))
