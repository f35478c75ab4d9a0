"""JSON shapes of the stores API."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any
from uuid import UUID

import msgspec
from litestar.exceptions import HTTPException
from litestar.openapi import ResponseSpec

from marketplace.openapi import SPACE, documented
from marketplace.stores.models import StoreConnection, StorePlatform, StoreProduct, StoreVariant
from marketplace.stores.seeding import SeedingPlan
from marketplace.stores.vault import masked


class ProblemOut(msgspec.Struct):
    """RFC 9457 problem details (``application/problem+json``)."""

    type: str
    title: str
    status: int
    detail: str
    instance: str
    errors: list[dict[str, str]] | None = None


class UnsupportedMediaType(HTTPException):
    status_code = 415


def problem_specs(*statuses: int) -> dict[int, ResponseSpec]:
    """The error answers an API route lists in the OpenAPI schema."""
    words = {400: "Malformed request", 401: "Sign-in required or bad signature", 403: "Your role can't do this",
             404: "Not found (or another brand's)", 413: "Body too large", 415: "Not a CSV",
             422: "A message per invalid field"}
    return {s: ResponseSpec(data_container=ProblemOut, description=words[s], media_type="application/problem+json")
            for s in statuses}


#: A store's name as ``services._text`` takes it: not blank, no control characters, at most 120 characters.
STORE_NAME = documented(min_length=1, max_length=120,
                        pattern=rf"^[^\x00-\x1f]*[^{SPACE}\x00-\x1f][^\x00-\x1f]*$")
#: A secret pasted from the store (``services._secrets``): 8-500 characters, no spaces; empty means "not sent".
SECRET = documented(max_length=500, pattern=r"^[^\s\x00]{8,}$|^$")


class StoreIn(msgspec.Struct, forbid_unknown_fields=True):
    """Which secrets are required and what ``shop_url`` must look like depend on the platform (a 422 names each)."""

    #: shopify, woocommerce or custom (or simulated: the built-in shop, where the server offers it).
    platform: Annotated[str, documented(enum=[p.value for p in StorePlatform])]
    name: Annotated[str, STORE_NAME]
    #: Shopify: glowlab.myshopify.com; WooCommerce: https://shop.example.com; custom: optional.
    shop_url: Annotated[str, documented(max_length=2000, pattern=r"^[^\x00]*$")] = ""
    #: Shopify Admin API access token / WooCommerce consumer key.
    access_token: Annotated[str | None, SECRET] = None
    #: WooCommerce consumer secret.
    api_secret: Annotated[str | None, SECRET] = None
    #: Shopify app client secret / WooCommerce webhook secret (custom stores get one issued).
    webhook_secret: Annotated[str | None, SECRET] = None


class StorePatch(msgspec.Struct, forbid_unknown_fields=True):
    name: Annotated[str | None, STORE_NAME] = None
    shop_url: Annotated[str | None, documented(max_length=2000, pattern=r"^[^\x00]*$")] = None
    #: New secrets replace the old ones (rotation); leave out what doesn't change.
    access_token: Annotated[str | None, SECRET] = None
    api_secret: Annotated[str | None, SECRET] = None
    webhook_secret: Annotated[str | None, SECRET] = None
    #: Custom stores: issue a new signing secret (answered once).
    rotate_signing_secret: bool = False


class StoreOut(msgspec.Struct):
    id: UUID
    platform: str
    name: str
    shop_url: str
    #: Each secret as ••••••••last4: never shown again in full.
    secrets: dict[str, str]
    currency: str | None
    last_tested_at: datetime | None
    last_test_ok: bool | None
    last_test_message: str
    catalog_synced_at: datetime | None
    #: Where the store sends its webhooks (or, for custom stores, pushes orders); empty for the simulated store,
    #: whose order feed is in-process.
    webhook_url: str
    created_at: datetime
    #: Custom stores only, only in the answer that issued it.
    signing_secret: str | None = None


class TestOut(msgspec.Struct):
    ok: bool
    message: str


class VariantOut(msgspec.Struct):
    id: UUID
    external_id: str
    title: str
    option_values: list[str]
    sku: str
    price: dict[str, Any]
    inventory: int | None
    cost: dict[str, Any] | None


class ProductOut(msgspec.Struct):
    id: UUID
    external_id: str
    title: str
    image_url: str | None
    options: list[str]
    variants: list[VariantOut]


class ProductListOut(msgspec.Struct):
    products: list[ProductOut]
    #: Pass as ``after`` for the next page, or None at the end.
    next_after: UUID | None


class SeedingIn(msgspec.Struct, forbid_unknown_fields=True):
    #: The deals to order for; leave out for every funded deal of the gig.
    collaboration_ids: list[UUID] | None = None
    #: The variant to send per deal, when the product has several.
    variants: dict[UUID, UUID] | None = None


class SeedingResultOut(msgspec.Struct):
    collaboration_id: UUID
    #: queued, exists or blocked.
    outcome: str
    message: str


class SeedingListOut(msgspec.Struct):
    results: list[SeedingResultOut]
    queued: int
    blocked: int


class GigProductIn(msgspec.Struct, forbid_unknown_fields=True):
    #: A product of one of the brand's stores, or null to type the product by hand again.
    store_product_id: UUID | None


class VariantCostIn(msgspec.Struct, forbid_unknown_fields=True):
    #: What one unit costs the brand, in minor units of the variant's currency; null clears it (the next catalog
    #: sync fills it from the store again).
    cost_amount: int | None


class OrderImportOut(msgspec.Struct):
    #: Rows applied (a re-uploaded order is updated, not duplicated).
    orders: int
    #: Orders PostPact hadn't seen before.
    created: int


class PushAccepted(msgspec.Struct):
    received: bool
    duplicate: bool


def store_out(store: StoreConnection, public_url: str, signing_secret: str | None = None) -> StoreOut:
    return StoreOut(
        id=store.id, platform=store.platform.value, name=store.name, shop_url=store.shop_url,
        secrets={name: masked(last4) for name, last4 in (store.secret_hints or {}).items()},
        currency=store.currency, last_tested_at=store.last_tested_at, last_test_ok=store.last_test_ok,
        last_test_message=store.last_test_message, catalog_synced_at=store.catalog_synced_at,
        webhook_url=webhook_url(store, public_url), created_at=store.created_at, signing_secret=signing_secret)


def webhook_url(store: StoreConnection, public_url: str) -> str:
    if store.platform.value == "simulated":
        return ""
    if store.platform.value == "custom":
        return f"{public_url}/api/v1/stores/{store.id}/orders"
    return f"{public_url}/webhooks/{store.platform.value}/{store.id}"


def money(amount: int, currency: str) -> dict[str, Any]:
    return {"amount": amount, "currency": currency}


def variant_out(v: StoreVariant) -> VariantOut:
    return VariantOut(id=v.id, external_id=v.external_id, title=v.title, option_values=list(v.option_values or []),
                      sku=v.sku, price=money(v.price_amount, v.currency), inventory=v.inventory,
                      cost=money(v.cost_amount, v.currency) if v.cost_amount is not None else None)


def product_out(product: StoreProduct, variants: list[StoreVariant]) -> ProductOut:
    return ProductOut(id=product.id, external_id=product.external_id, title=product.title,
                      image_url=product.image_url, options=list(product.options or []),
                      variants=[variant_out(v) for v in variants])


def seeding_out(plans: list[SeedingPlan]) -> SeedingListOut:
    return SeedingListOut(
        results=[SeedingResultOut(p.collaboration_id, p.outcome, p.message) for p in plans],
        queued=sum(p.outcome == "queued" for p in plans), blocked=sum(p.outcome == "blocked" for p in plans))

