"""The platform-neutral shape of a store's catalog and orders, money parsing, and the catalog upsert."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any
from uuid import UUID

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from escrow.money import exponent
from marketplace.stores.models import StoreConnection, StoreProduct, StoreVariant


def to_minor(amount: Any, currency: str) -> int:
    """A store's decimal string ("19.90") in integer minor units of ``currency``; never through float."""
    try:
        value = Decimal(str(amount if amount not in (None, "") else "0"))
    except InvalidOperation as exc:
        raise ValueError(f"not an amount: {amount!r}") from exc
    if not value.is_finite():
        raise ValueError(f"not an amount: {amount!r}")
    return int((value * (10 ** exponent(currency))).quantize(Decimal(1), rounding=ROUND_HALF_UP))


def parse_time(raw: Any) -> datetime | None:
    if not raw or not isinstance(raw, str):
        return None
    try:
        return datetime.fromisoformat(raw.replace("Z", "+00:00"))
    except ValueError:
        return None


@dataclass
class CatalogVariant:
    external_id: str
    title: str
    option_values: list[str]
    sku: str
    price_amount: int
    currency: str
    inventory: int | None
    cost_amount: int | None = None


@dataclass
class CatalogProduct:
    external_id: str
    title: str
    image_url: str | None
    options: list[str]
    updated_at: datetime | None
    variants: list[CatalogVariant] = field(default_factory=list)


async def upsert_products(session: AsyncSession, store_id: UUID, products: list[CatalogProduct],
                          now: datetime) -> int:
    """Insert or refresh products and their variants (a brand's typed cost survives); returns how many."""
    if not products:
        return 0
    existing = {
        p.external_id: p for p in (await session.scalars(sa.select(StoreProduct).where(
            StoreProduct.store_id == store_id,
            StoreProduct.external_id.in_([p.external_id for p in products])))).all()
    }
    variant_ids = [v.external_id for p in products for v in p.variants]
    known_variants = {
        v.external_id: v for v in (await session.scalars(sa.select(StoreVariant).where(
            StoreVariant.store_id == store_id, StoreVariant.external_id.in_(variant_ids)))).all()
    } if variant_ids else {}
    fresh: list[tuple[CatalogProduct, StoreProduct]] = []
    for item in products:
        product = existing.get(item.external_id)
        if product is None:
            product = StoreProduct(store_id=store_id, external_id=item.external_id, title=item.title[:300],
                                   created_at=now, updated_at=now)
            session.add(product)
        elif product.source_updated_at and item.updated_at and item.updated_at < product.source_updated_at:
            continue  # an older copy (a late webhook) never overwrites what a newer one said
        product.title = item.title[:300]
        product.image_url = item.image_url
        product.options = list(item.options)
        product.source_updated_at = item.updated_at
        product.deleted_at = None
        fresh.append((item, product))
    await session.flush()  # one round of inserts for the page's new products, so variants can point at them
    for item, product in fresh:
        for v in item.variants:
            variant = known_variants.get(v.external_id)
            if variant is None:
                variant = StoreVariant(store_id=store_id, product_id=product.id, external_id=v.external_id,
                                       created_at=now, updated_at=now)
                session.add(variant)
            variant.product_id = product.id
            variant.title = v.title[:300]
            variant.option_values = list(v.option_values)
            variant.sku = v.sku[:120]
            variant.price_amount = v.price_amount
            variant.currency = v.currency
            variant.inventory = v.inventory
            if not variant.cost_edited:
                variant.cost_amount = v.cost_amount
    await session.flush()
    return len(products)


async def mark_product_deleted(session: AsyncSession, store_id: UUID, external_id: str, now: datetime) -> None:
    await session.execute(sa.update(StoreProduct).where(
        StoreProduct.store_id == store_id, StoreProduct.external_id == external_id).values(deleted_at=now))


async def variants_to_offer(session: AsyncSession, store_product_id: UUID) -> list[StoreVariant]:
    """The variants a creator may pick when signing: in stock (or not tracked), of a live product of a connected
    store, in the store's order. Empty when the product is gone."""
    return list((await session.scalars(
        sa.select(StoreVariant)
        .join(StoreProduct, StoreProduct.id == StoreVariant.product_id)
        .join(StoreConnection, StoreConnection.id == StoreProduct.store_id)
        .where(StoreProduct.id == store_product_id, StoreProduct.deleted_at.is_(None),
               StoreConnection.disconnected_at.is_(None),
               sa.or_(StoreVariant.inventory.is_(None), StoreVariant.inventory > 0))
        .order_by(StoreVariant.created_at, StoreVariant.id))).all())
