"""Store connections, their synced catalog, received webhook deliveries, orders seen, and seeding orders."""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Any
from uuid import UUID

import sqlalchemy as sa
from advanced_alchemy.types import DateTimeUTC
from sqlalchemy.orm import Mapped, mapped_column

from marketplace.db import AuditBase, enum_column


class StorePlatform(enum.StrEnum):
    SHOPIFY = "shopify"
    WOOCOMMERCE = "woocommerce"
    #: Any other shop: PostPact issues a signing secret and the shop pushes its orders to our API.
    CUSTOM = "custom"
    #: The built-in simulated shop (development and demos): its catalog, orders and fulfilments live in PostPact's
    #: own database and its order feed goes through the same intake as webhooks (marketplace.stores.simulated).
    SIMULATED = "simulated"


class SeedingStatus(enum.StrEnum):
    #: The tag is written; the store call may or may not have happened (a retry looks the tag up first).
    PENDING = "pending"
    CREATED = "created"
    #: Not created, for a reason people can act on (out of stock, no variant chosen): ``message`` says which.
    BLOCKED = "blocked"


class StoreConnection(AuditBase):
    """A brand's shop. Secrets are Fernet tokens (marketplace.stores.secrets); only their last 4 characters show."""

    __tablename__ = "store_connection"

    brand_id: Mapped[UUID] = mapped_column(sa.ForeignKey("brand.id", ondelete="CASCADE"), index=True)
    platform: Mapped[StorePlatform] = mapped_column(enum_column(StorePlatform, 16))
    name: Mapped[str] = mapped_column(sa.String(120))
    #: Shopify: the shop's myshopify domain; WooCommerce: the site URL; custom: the shop's address (informative).
    shop_url: Mapped[str] = mapped_column(sa.String(300), default="")
    #: Shopify Admin API access token / WooCommerce consumer key.
    access_token_enc: Mapped[str | None] = mapped_column(sa.Text, default=None)
    #: WooCommerce consumer secret.
    api_secret_enc: Mapped[str | None] = mapped_column(sa.Text, default=None)
    #: Shopify app client secret / WooCommerce webhook secret / the signing secret PostPact issued (custom).
    webhook_secret_enc: Mapped[str | None] = mapped_column(sa.Text, default=None)
    #: The last 4 characters of each secret, for "••••abcd" (the only part ever shown again).
    secret_hints: Mapped[dict[str, Any]] = mapped_column(sa.JSON, default=dict)
    currency: Mapped[str | None] = mapped_column(sa.String(3), default=None)
    last_tested_at: Mapped[datetime | None] = mapped_column(DateTimeUTC(timezone=True), default=None)
    last_test_ok: Mapped[bool | None] = mapped_column(default=None)
    last_test_message: Mapped[str] = mapped_column(sa.Text, default="")
    catalog_synced_at: Mapped[datetime | None] = mapped_column(DateTimeUTC(timezone=True), default=None)
    #: Disconnected stores keep their orders (sales attribution reads them) but lose their secrets.
    disconnected_at: Mapped[datetime | None] = mapped_column(DateTimeUTC(timezone=True), default=None)


class StoreProduct(AuditBase):
    __tablename__ = "store_product"

    store_id: Mapped[UUID] = mapped_column(sa.ForeignKey("store_connection.id", ondelete="CASCADE"))
    external_id: Mapped[str] = mapped_column(sa.String(120))
    title: Mapped[str] = mapped_column(sa.String(300))
    image_url: Mapped[str | None] = mapped_column(sa.String(2000), default=None)
    #: Option names in order, e.g. ["Size", "Colour"].
    options: Mapped[list[Any]] = mapped_column(sa.JSON, default=list)
    #: Set when the store deleted the product (gigs that picked it keep their copy of the name).
    deleted_at: Mapped[datetime | None] = mapped_column(DateTimeUTC(timezone=True), default=None)
    #: The store's own updated time of what we hold: an older webhook never overwrites a newer state.
    source_updated_at: Mapped[datetime | None] = mapped_column(DateTimeUTC(timezone=True), default=None)

    #: external_id first: a sync looks a page of ids up with ``external_id IN (...)``, which this index serves
    #: whatever the planner guesses about how many rows a store has.
    __table_args__ = (sa.UniqueConstraint("external_id", "store_id", name="uq_store_product_external"),)


class StoreVariant(AuditBase):
    __tablename__ = "store_variant"

    store_id: Mapped[UUID] = mapped_column(sa.ForeignKey("store_connection.id", ondelete="CASCADE"))
    product_id: Mapped[UUID] = mapped_column(sa.ForeignKey("store_product.id", ondelete="CASCADE"), index=True)
    external_id: Mapped[str] = mapped_column(sa.String(120))
    title: Mapped[str] = mapped_column(sa.String(300), default="")
    #: Option values in the product's option order, e.g. ["M", "Blue"].
    option_values: Mapped[list[Any]] = mapped_column(sa.JSON, default=list)
    sku: Mapped[str] = mapped_column(sa.String(120), default="")
    price_amount: Mapped[int] = mapped_column(sa.BigInteger, default=0)
    currency: Mapped[str] = mapped_column(sa.String(3), default="USD")
    #: None when the store doesn't track inventory for it.
    inventory: Mapped[int | None] = mapped_column(default=None)
    #: The brand's cost of one unit (for ROI), in minor units, when the store reports it or the brand enters it.
    cost_amount: Mapped[int | None] = mapped_column(sa.BigInteger, default=None)
    #: The brand typed the cost: catalog syncs keep it.
    cost_edited: Mapped[bool] = mapped_column(default=False)

    #: external_id first: a sync looks a page of ids up with ``external_id IN (...)``, which this index serves
    #: whatever the planner guesses about how many rows a store has.
    __table_args__ = (sa.UniqueConstraint("external_id", "store_id", name="uq_store_variant_external"),)


class StoreWebhookDelivery(AuditBase):
    """One delivery from a store, stored before it is acknowledged; the unique key is the platform's delivery id."""

    __tablename__ = "store_webhook_delivery"

    store_id: Mapped[UUID] = mapped_column(sa.ForeignKey("store_connection.id", ondelete="CASCADE"))
    delivery_id: Mapped[str] = mapped_column(sa.String(200))
    topic: Mapped[str] = mapped_column(sa.String(80))
    payload: Mapped[dict[str, Any]] = mapped_column(sa.JSON)
    received_at: Mapped[datetime] = mapped_column(DateTimeUTC(timezone=True))
    processed_at: Mapped[datetime | None] = mapped_column(DateTimeUTC(timezone=True), default=None)
    outcome: Mapped[str] = mapped_column(sa.String(300), default="")

    __table_args__ = (
        sa.UniqueConstraint("store_id", "delivery_id", name="uq_store_webhook_delivery"),
        sa.Index("ix_store_webhook_delivery_unprocessed", "processed_at", "received_at"),
    )


class StoreOrder(AuditBase):
    """An order as the store last told us (sales attribution reads these); personal data is redactable."""

    __tablename__ = "store_order"

    store_id: Mapped[UUID] = mapped_column(sa.ForeignKey("store_connection.id", ondelete="CASCADE"))
    external_id: Mapped[str] = mapped_column(sa.String(120))
    name: Mapped[str] = mapped_column(sa.String(120), default="")
    email: Mapped[str | None] = mapped_column(sa.String(320), default=None)
    customer_external_id: Mapped[str | None] = mapped_column(sa.String(120), default=None)
    currency: Mapped[str] = mapped_column(sa.String(3), default="USD")
    total_amount: Mapped[int] = mapped_column(sa.BigInteger, default=0)
    subtotal_amount: Mapped[int] = mapped_column(sa.BigInteger, default=0)
    tax_amount: Mapped[int] = mapped_column(sa.BigInteger, default=0)
    refunded_amount: Mapped[int] = mapped_column(sa.BigInteger, default=0)
    discount_codes: Mapped[list[Any]] = mapped_column(sa.JSON, default=list)
    landing_site: Mapped[str | None] = mapped_column(sa.String(2000), default=None)
    tags: Mapped[str] = mapped_column(sa.String(1000), default="")
    financial_status: Mapped[str] = mapped_column(sa.String(40), default="")
    placed_at: Mapped[datetime | None] = mapped_column(DateTimeUTC(timezone=True), default=None)
    cancelled_at: Mapped[datetime | None] = mapped_column(DateTimeUTC(timezone=True), default=None)
    #: Refund ids already counted, so a repeated refunds/create adds nothing.
    refund_ids: Mapped[list[Any]] = mapped_column(sa.JSON, default=list)
    source_updated_at: Mapped[datetime | None] = mapped_column(DateTimeUTC(timezone=True), default=None)
    redacted_at: Mapped[datetime | None] = mapped_column(DateTimeUTC(timezone=True), default=None)

    __table_args__ = (sa.UniqueConstraint("store_id", "external_id", name="uq_store_order_external"),)


class StoreFulfillment(AuditBase):
    """A shipment the store reported; kept even when its order or seeding order isn't known yet (any order)."""

    __tablename__ = "store_fulfillment"

    store_id: Mapped[UUID] = mapped_column(sa.ForeignKey("store_connection.id", ondelete="CASCADE"))
    external_id: Mapped[str] = mapped_column(sa.String(120))
    order_external_id: Mapped[str] = mapped_column(sa.String(120), index=True)
    carrier: Mapped[str] = mapped_column(sa.String(60), default="")
    tracking_number: Mapped[str] = mapped_column(sa.String(100), default="")
    tracking_url: Mapped[str | None] = mapped_column(sa.String(2000), default=None)
    #: Set once the deal was shipped from it (or found already shipped).
    applied_at: Mapped[datetime | None] = mapped_column(DateTimeUTC(timezone=True), default=None)

    __table_args__ = (sa.UniqueConstraint("store_id", "external_id", name="uq_store_fulfillment_external"),)


class SeedingOrder(AuditBase):
    """The $0 order sending a deal's product to its creator: one per deal, found in the store by ``tag``."""

    __tablename__ = "seeding_order"

    collaboration_id: Mapped[UUID] = mapped_column(
        sa.ForeignKey("collaboration.id", ondelete="CASCADE"), unique=True)
    store_id: Mapped[UUID] = mapped_column(sa.ForeignKey("store_connection.id", ondelete="CASCADE"), index=True)
    variant_id: Mapped[UUID | None] = mapped_column(sa.ForeignKey("store_variant.id", ondelete="SET NULL"),
                                                    default=None)
    #: ``postpact-collab-<id>-seeding``: written before the store call; the store keeps it on the order.
    tag: Mapped[str] = mapped_column(sa.String(120), unique=True)
    status: Mapped[SeedingStatus] = mapped_column(enum_column(SeedingStatus, 16), default=SeedingStatus.PENDING)
    external_order_id: Mapped[str | None] = mapped_column(sa.String(120), default=None, index=True)
    order_name: Mapped[str] = mapped_column(sa.String(120), default="")
    #: Plain words for the brand: why it is blocked, or what happened.
    message: Mapped[str] = mapped_column(sa.Text, default="")
    attempts: Mapped[int] = mapped_column(default=0)


class SimulatedShopRecord(AuditBase):
    """The simulated shop's side of things (what a real shop keeps on its own servers): its products, orders and
    fulfilments, in the shapes Shopify's webhooks use. PostPact's own view lives in the tables above, as for any
    shop."""

    __tablename__ = "simulated_shop_record"

    store_id: Mapped[UUID] = mapped_column(sa.ForeignKey("store_connection.id", ondelete="CASCADE"))
    #: product, order or fulfillment.
    kind: Mapped[str] = mapped_column(sa.String(16))
    external_id: Mapped[str] = mapped_column(sa.String(120))
    #: Seeding orders carry their deterministic tag, so a retried job finds its order (as in a real shop).
    tag: Mapped[str | None] = mapped_column(sa.String(120), default=None)
    data: Mapped[dict[str, Any]] = mapped_column(sa.JSON)

    __table_args__ = (
        sa.UniqueConstraint("store_id", "kind", "external_id", name="uq_simulated_shop_record"),
        sa.Index("ix_simulated_shop_record_tag", "store_id", "tag"),
    )
