"""The creator's choice of variant (size, colour) while signing, when the deal's product comes from a connected store
and has options: only in-stock variants are offered, and the choice joins the signed terms."""

from __future__ import annotations

from typing import Any
from uuid import UUID

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from marketplace.errors import InvalidInput
from marketplace.gigs.models import Gig
from marketplace.i18n import gettext
from marketplace.stores.catalog import variants_to_offer
from marketplace.stores.models import StoreConnection, StoreProduct, StoreVariant

#: The sign form's and the API's field name (and the terms key the seeding listener reads).
FIELD = "store_variant_id"


def variant_label(product: StoreProduct, variant: StoreVariant) -> str:
    """What the terms and pages show of the choice, e.g. "GlowLab crewneck, Size M" (with an en dash)."""
    names = list(product.options or [])
    values = [str(v) for v in variant.option_values or []]
    parts = [f"{n} {v}" if n else v for n, v in zip(names, values, strict=False)] or [variant.title]
    return f"{product.title} \N{EN DASH} {', '.join(parts)}"


async def _product_with_options(session: AsyncSession, gig_id: UUID) -> StoreProduct | None:
    """The gig's store product when it has more than one variant (else there is nothing to choose)."""
    # A product gone from the store, or a store disconnected, leaves nothing to choose from: the deal is signed
    # without a variant (the brand ships by hand), never blocked.
    product = await session.scalar(sa.select(StoreProduct).join(Gig, Gig.store_product_id == StoreProduct.id)
                                   .join(StoreConnection, StoreConnection.id == StoreProduct.store_id)
                                   .where(Gig.id == gig_id, StoreProduct.deleted_at.is_(None),
                                          StoreConnection.disconnected_at.is_(None)))
    if product is None:
        return None
    count = await session.scalar(sa.select(sa.func.count()).select_from(StoreVariant)
                                 .where(StoreVariant.product_id == product.id))
    return product if (count or 0) > 1 else None


async def signing_choices(session: AsyncSession, gig_id: UUID, product_included: bool
                          ) -> tuple[StoreProduct | None, list[StoreVariant]]:
    """For the sign form: the product the creator picks a variant of, and its in-stock variants; (None, []) when
    there is nothing to choose."""
    product = await _product_with_options(session, gig_id) if product_included else None
    if product is None:
        return None, []
    return product, await variants_to_offer(session, product.id)


async def chosen_variant_terms(session: AsyncSession, gig_id: UUID, product_included: bool,
                               raw: Any) -> dict[str, str]:
    """The terms keys the creator's choice adds (``store_variant_id``, ``product_variant``), or {} when the product
    has no options. Raises InvalidInput (field ``store_variant_id``) for a missing, unknown or sold-out choice."""
    product, offered = await signing_choices(session, gig_id, product_included)
    if product is None:
        return {}
    option = " or ".join(str(o).lower() for o in product.options or []) or "variant"
    if not offered:
        raise InvalidInput({FIELD: gettext("Every %(option)s of %(title)s is out of stock right now: message the "
                                           "brand, who can restock or change the product.", option=option,
                                           title=product.title)})
    try:
        wanted = UUID(str(raw)) if raw else None
    except ValueError:
        wanted = None
    chosen = next((v for v in offered if v.id == wanted), None)
    if chosen is None:
        names = ", ".join(v.title for v in offered)
        raise InvalidInput({FIELD: gettext("Choose your %(option)s (%(names)s).", option=option, names=names)
                            if wanted is None else
                            gettext("That %(option)s is no longer in stock: choose one of %(names)s.", option=option,
                                    names=names)})
    return {FIELD: str(chosen.id), "product_variant": variant_label(product, chosen)}
