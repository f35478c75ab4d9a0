"""Seeding orders: the $0 order sending a funded deal's product to its creator, created once per deal.

The tag (``postpact-collab-<id>-seeding``) is committed before the store is called; the store keeps it on the
order, and every attempt looks it up in the store first, so a job killed between the store's answer and our
commit finds its order on the retry instead of creating a second one.
"""

from __future__ import annotations

import asyncio
import logging
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from uuid import UUID

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from marketplace.accounts.auth import Actor
from marketplace.collaborations.models import Collaboration
from marketplace.collaborations.states import CollabState
from marketplace.collaborations.transition import Change
from marketplace.creators.models import ShippingAddress
from marketplace.errors import Forbidden, InvalidInput, NotFound
from marketplace.gigs.models import Gig
from marketplace.i18n import gettext
from marketplace.jobs import enqueue
from marketplace.settings import Settings
from marketplace.stores.models import (
    SeedingOrder,
    SeedingStatus,
    StoreConnection,
    StorePlatform,
    StoreProduct,
    StoreVariant,
)
from marketplace.stores.services import MANAGING_ROLES, http_client, shopify_client, woocommerce_client
from marketplace.stores.shopify import PlacedOrder, Sleep
from marketplace.stores.simulated import SimulatedShop
from marketplace.stores.vault import SecretBox
from marketplace.stores.woocommerce import TAG_META_KEY

log = logging.getLogger(__name__)

CREATE_JOB = "stores.create_seeding_order"
#: Most deals one bulk request may name.
MAX_BULK = 500


def seeding_tag(collab_id: UUID) -> str:
    return f"postpact-collab-{collab_id}-seeding"


@dataclass(frozen=True)
class SeedingPlan:
    collaboration_id: UUID
    #: queued, exists, blocked
    outcome: str
    message: str


async def plan_seeding(session: AsyncSession, collab: Collaboration, gig: Gig, now: datetime, *,
                       variant_id: UUID | None = None, reserved: Counter[UUID] | None = None) -> SeedingPlan:
    """Decide for one funded deal: queue its order, or say in words why not. Writes the seeding row (and its tag)
    and queues the job in the caller's transaction."""
    existing = await session.scalar(sa.select(SeedingOrder).where(SeedingOrder.collaboration_id == collab.id))
    if existing is not None and existing.status is not SeedingStatus.BLOCKED:
        return SeedingPlan(collab.id, "exists", f"Seeding order already {existing.status.value}"
                           + (f" ({existing.order_name})" if existing.order_name else "") + ".")
    if collab.status is not CollabState.FUNDED:
        return SeedingPlan(collab.id, "blocked", f"The deal is {collab.status.value}, not funded: nothing to ship.")
    if gig.store_product_id is None:
        return SeedingPlan(collab.id, "blocked", "The gig's product wasn't picked from a connected store.")
    product = await session.get(StoreProduct, gig.store_product_id)
    store = await session.get(StoreConnection, product.store_id) if product else None
    if product is None or store is None or store.disconnected_at is not None or product.deleted_at is not None:
        return SeedingPlan(collab.id, "blocked", "The gig's product is no longer in a connected store.")
    if store.platform is StorePlatform.CUSTOM:
        return SeedingPlan(collab.id, "blocked", "Custom stores can't take orders from PostPact; ship it by hand.")
    variants = list((await session.scalars(sa.select(StoreVariant).where(StoreVariant.product_id == product.id)
                                           .order_by(StoreVariant.created_at))).all())
    chosen_id = variant_id or _variant_in_terms(collab)
    variant = next((v for v in variants if v.id == chosen_id), None) if chosen_id else (
        variants[0] if len(variants) == 1 else None)
    plan = None
    if variant is None:
        plan = ("Choose which variant to send (" + ", ".join(v.title for v in variants[:6]) + ")."
                if variants else f"{product.title} has no variants in the synced catalog: sync the store.")
    elif variant.inventory is not None:
        reserved = reserved if reserved is not None else Counter()
        if variant.inventory - reserved[variant.id] < 1:
            left = max(variant.inventory - reserved[variant.id], 0)
            plan = (f"Out of stock: {product.title} \N{EN DASH} {variant.title} has {left} left in the store"
                    + (f" after the {reserved[variant.id]} other order(s) in this request" if reserved[variant.id]
                       else "") + ".")
        else:
            reserved[variant.id] += 1
    if plan is None:
        address = await session.scalar(sa.select(ShippingAddress.id).where(
            ShippingAddress.creator_id == collab.creator_id))
        if address is None:
            plan = "The creator has no shipping address yet."
    row = existing or SeedingOrder(collaboration_id=collab.id, store_id=store.id, tag=seeding_tag(collab.id),
                                   created_at=now, updated_at=now)
    row.variant_id = variant.id if variant else None
    row.status = SeedingStatus.BLOCKED if plan else SeedingStatus.PENDING
    row.message = plan or "Waiting for the store."
    row.updated_at = now
    if existing is None:
        session.add(row)
    await session.flush()
    if plan:
        return SeedingPlan(collab.id, "blocked", plan)
    enqueue(session, CREATE_JOB, str(collab.id))
    return SeedingPlan(collab.id, "queued", "Seeding order queued.")


def _variant_in_terms(collab: Collaboration) -> UUID | None:
    """The variant the creator chose when signing, once signing offers one (terms key ``store_variant_id``)."""
    raw = (collab.terms or {}).get("store_variant_id")
    try:
        return UUID(str(raw)) if raw else None
    except ValueError:
        return None


async def plan_for_gig(session: AsyncSession, actor: Actor, gig_id: UUID, now: datetime, *,
                       collaboration_ids: list[UUID] | None = None,
                       variants: dict[UUID, UUID] | None = None) -> list[SeedingPlan]:
    """The brand's bulk action: seeding orders for the gig's funded deals (or the ones named), one answer each."""
    if not actor.is_brand:
        raise NotFound(gettext('No such gig.'))
    if actor.brand_role not in MANAGING_ROLES:
        raise Forbidden(gettext('Only owners and managers create seeding orders.'))
    gig = await session.scalar(sa.select(Gig).where(Gig.id == gig_id, Gig.brand_id == actor.brand_id))
    if gig is None:
        raise NotFound(gettext('No such gig.'))
    if collaboration_ids is not None and len(collaboration_ids) > MAX_BULK:
        raise InvalidInput({"collaboration_ids": gettext('At most %(max_bulk)s deals at once.', max_bulk=MAX_BULK)})
    query = sa.select(Collaboration).where(Collaboration.gig_id == gig.id).order_by(Collaboration.created_at)
    if collaboration_ids is not None:
        query = query.where(Collaboration.id.in_(collaboration_ids))
    else:
        query = query.where(Collaboration.status == CollabState.FUNDED)
    collabs = list((await session.scalars(query.with_for_update())).all())
    found = {c.id for c in collabs}
    plans = [SeedingPlan(cid, "blocked", "No such deal on this gig.") for cid in collaboration_ids or []
             if cid not in found]
    reserved: Counter[UUID] = Counter()
    for collab in collabs:
        plans.append(await plan_seeding(session, collab, gig, now, variant_id=(variants or {}).get(collab.id),
                                        reserved=reserved))
    return plans


# -- the job's work -------------------------------------------------------------------------------------------------

AfterStoreCall = Callable[[PlacedOrder], Awaitable[None]]


async def place_in_store(session: AsyncSession, store: StoreConnection, seeding: SeedingOrder, variant: StoreVariant,
                         product: StoreProduct, address: ShippingAddress, email: str | None, settings: Settings,
                         since: datetime, sleep: Sleep = asyncio.sleep, now: datetime | None = None) -> PlacedOrder:
    """Find the order by its tag, else create it ($0): Shopify draft order + 100% discount, completed; WooCommerce
    an order with zero totals; the simulated shop a fully discounted order. Raises
    marketplace.stores.errors.StoreError."""
    box = SecretBox.from_settings(settings)
    first, _, last = address.recipient_name.partition(" ")
    if store.platform is StorePlatform.SIMULATED:
        return await SimulatedShop(session, store, now or since).create_seeding_order(
            seeding.tag, variant.external_id,
            {"first_name": first, "last_name": last or first, "address1": address.line1,
             "address2": address.line2, "city": address.city, "province": address.region,
             "zip": address.postal_code, "country_code": address.country}, email)
    async with http_client(settings) as http:
        if store.platform is StorePlatform.SHOPIFY:
            client = shopify_client(store, box, settings, http, sleep=sleep)
            placed, open_draft = await client.find_order(seeding.tag)
            if placed is not None:
                return placed
            if open_draft is None:
                open_draft = await client.create_draft_order({
                    "lineItems": [{"variantId": variant.external_id, "quantity": 1, "appliedDiscount": {
                        "valueType": "PERCENTAGE", "value": 100.0, "title": "PostPact seeding"}}],
                    "shippingAddress": {"firstName": first, "lastName": last or first, "address1": address.line1,
                                        "address2": address.line2, "city": address.city,
                                        "province": address.region, "zip": address.postal_code,
                                        "countryCode": address.country, "phone": address.phone or None},
                    "tags": [seeding.tag], "note": f"PostPact seeding order ({seeding.tag})",
                    **({"email": email} if email else {}),
                })
            return await client.complete_draft_order(open_draft)
        woo = woocommerce_client(store, box, settings, http, sleep=sleep)
        found = await woo.find_order(seeding.tag, since)
        if found is not None:
            return found
        simple = variant.external_id == product.external_id
        line = {"product_id": int(product.external_id), "quantity": 1, "subtotal": "0.00", "total": "0.00"}
        if not simple:
            line["variation_id"] = int(variant.external_id)
        shipping = {"first_name": first, "last_name": last, "address_1": address.line1, "address_2": address.line2,
                    "city": address.city, "state": address.region, "postcode": address.postal_code,
                    "country": address.country, "phone": address.phone}
        return await woo.create_order({
            "status": "processing", "set_paid": True, "line_items": [line], "shipping": shipping,
            "billing": {**shipping, **({"email": email} if email else {})},
            "customer_note": f"PostPact seeding order ({seeding.tag})",
            "meta_data": [{"key": TAG_META_KEY, "value": seeding.tag}],
        })


class SeedingListener:
    """On the move to ``funded``: when the gig's product comes from a connected store, queue the deal's seeding
    order (the job is sent after the transaction commits)."""

    async def after_transition(self, session: AsyncSession, change: Change) -> None:
        if not change.changed or change.to_state is not CollabState.FUNDED:
            return
        collab = change.collaboration
        gig = await session.get(Gig, collab.gig_id)
        if gig is None or gig.store_product_id is None or not collab.product_included:
            return
        plan = await plan_seeding(session, collab, gig, change.now)
        log.info("seeding order for deal %s: %s (%s)", collab.id, plan.outcome, plan.message)
