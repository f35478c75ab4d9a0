"""stores: connections (encrypted secrets), synced catalog, webhook deliveries, orders, fulfillments, seeding
orders, and the gig's pick from a store's catalog

Revision ID: 0016
Revises: 0015
"""

from __future__ import annotations

from collections.abc import Sequence

import advanced_alchemy.types
import sqlalchemy as sa
from alembic import op

revision: str = "0016"
down_revision: str | None = "0015"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

GUID = advanced_alchemy.types.guid.GUID
UTC = advanced_alchemy.types.datetime.DateTimeUTC


def upgrade() -> None:
    op.create_table(
        "store_connection",
        sa.Column("id", GUID(length=16), nullable=False),
        sa.Column("brand_id", GUID(length=16), nullable=False),
        sa.Column(
            "platform",
            sa.Enum("shopify", "woocommerce", "custom", name="storeplatform", native_enum=False, length=16),
            nullable=False,
        ),
        sa.Column("name", sa.String(length=120), nullable=False),
        sa.Column("shop_url", sa.String(length=300), nullable=False),
        sa.Column("access_token_enc", sa.Text(), nullable=True),
        sa.Column("api_secret_enc", sa.Text(), nullable=True),
        sa.Column("webhook_secret_enc", sa.Text(), nullable=True),
        sa.Column("secret_hints", sa.JSON(), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=True),
        sa.Column("last_tested_at", UTC(timezone=True), nullable=True),
        sa.Column("last_test_ok", sa.Boolean(), nullable=True),
        sa.Column("last_test_message", sa.Text(), nullable=False),
        sa.Column("catalog_synced_at", UTC(timezone=True), nullable=True),
        sa.Column("disconnected_at", UTC(timezone=True), nullable=True),
        sa.Column("sa_orm_sentinel", sa.Integer(), nullable=True),
        sa.Column("created_at", UTC(timezone=True), nullable=False),
        sa.Column("updated_at", UTC(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["brand_id"], ["brand.id"], name=op.f("fk_store_connection_brand_id_brand"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_store_connection")),
    )
    with op.batch_alter_table("store_connection", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_store_connection_brand_id"), ["brand_id"], unique=False)

    op.create_table(
        "store_fulfillment",
        sa.Column("id", GUID(length=16), nullable=False),
        sa.Column("store_id", GUID(length=16), nullable=False),
        sa.Column("external_id", sa.String(length=120), nullable=False),
        sa.Column("order_external_id", sa.String(length=120), nullable=False),
        sa.Column("carrier", sa.String(length=60), nullable=False),
        sa.Column("tracking_number", sa.String(length=100), nullable=False),
        sa.Column("tracking_url", sa.String(length=2000), nullable=True),
        sa.Column("applied_at", UTC(timezone=True), nullable=True),
        sa.Column("sa_orm_sentinel", sa.Integer(), nullable=True),
        sa.Column("created_at", UTC(timezone=True), nullable=False),
        sa.Column("updated_at", UTC(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["store_id"],
            ["store_connection.id"],
            name=op.f("fk_store_fulfillment_store_id_store_connection"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_store_fulfillment")),
        sa.UniqueConstraint("store_id", "external_id", name="uq_store_fulfillment_external"),
    )
    with op.batch_alter_table("store_fulfillment", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_store_fulfillment_order_external_id"), ["order_external_id"], unique=False)

    op.create_table(
        "store_order",
        sa.Column("id", GUID(length=16), nullable=False),
        sa.Column("store_id", GUID(length=16), nullable=False),
        sa.Column("external_id", sa.String(length=120), nullable=False),
        sa.Column("name", sa.String(length=120), nullable=False),
        sa.Column("email", sa.String(length=320), nullable=True),
        sa.Column("customer_external_id", sa.String(length=120), nullable=True),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("total_amount", sa.BigInteger(), nullable=False),
        sa.Column("subtotal_amount", sa.BigInteger(), nullable=False),
        sa.Column("tax_amount", sa.BigInteger(), nullable=False),
        sa.Column("refunded_amount", sa.BigInteger(), nullable=False),
        sa.Column("discount_codes", sa.JSON(), nullable=False),
        sa.Column("landing_site", sa.String(length=2000), nullable=True),
        sa.Column("tags", sa.String(length=1000), nullable=False),
        sa.Column("financial_status", sa.String(length=40), nullable=False),
        sa.Column("placed_at", UTC(timezone=True), nullable=True),
        sa.Column("cancelled_at", UTC(timezone=True), nullable=True),
        sa.Column("refund_ids", sa.JSON(), nullable=False),
        sa.Column("source_updated_at", UTC(timezone=True), nullable=True),
        sa.Column("redacted_at", UTC(timezone=True), nullable=True),
        sa.Column("sa_orm_sentinel", sa.Integer(), nullable=True),
        sa.Column("created_at", UTC(timezone=True), nullable=False),
        sa.Column("updated_at", UTC(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["store_id"],
            ["store_connection.id"],
            name=op.f("fk_store_order_store_id_store_connection"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_store_order")),
        sa.UniqueConstraint("store_id", "external_id", name="uq_store_order_external"),
    )
    op.create_table(
        "store_product",
        sa.Column("id", GUID(length=16), nullable=False),
        sa.Column("store_id", GUID(length=16), nullable=False),
        sa.Column("external_id", sa.String(length=120), nullable=False),
        sa.Column("title", sa.String(length=300), nullable=False),
        sa.Column("image_url", sa.String(length=2000), nullable=True),
        sa.Column("options", sa.JSON(), nullable=False),
        sa.Column("deleted_at", UTC(timezone=True), nullable=True),
        sa.Column("source_updated_at", UTC(timezone=True), nullable=True),
        sa.Column("sa_orm_sentinel", sa.Integer(), nullable=True),
        sa.Column("created_at", UTC(timezone=True), nullable=False),
        sa.Column("updated_at", UTC(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["store_id"],
            ["store_connection.id"],
            name=op.f("fk_store_product_store_id_store_connection"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_store_product")),
        sa.UniqueConstraint("external_id", "store_id", name="uq_store_product_external"),
    )
    op.create_table(
        "store_webhook_delivery",
        sa.Column("id", GUID(length=16), nullable=False),
        sa.Column("store_id", GUID(length=16), nullable=False),
        sa.Column("delivery_id", sa.String(length=200), nullable=False),
        sa.Column("topic", sa.String(length=80), nullable=False),
        sa.Column("payload", sa.JSON(), nullable=False),
        sa.Column("received_at", UTC(timezone=True), nullable=False),
        sa.Column("processed_at", UTC(timezone=True), nullable=True),
        sa.Column("outcome", sa.String(length=300), nullable=False),
        sa.Column("sa_orm_sentinel", sa.Integer(), nullable=True),
        sa.Column("created_at", UTC(timezone=True), nullable=False),
        sa.Column("updated_at", UTC(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["store_id"],
            ["store_connection.id"],
            name=op.f("fk_store_webhook_delivery_store_id_store_connection"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_store_webhook_delivery")),
        sa.UniqueConstraint("store_id", "delivery_id", name="uq_store_webhook_delivery"),
    )
    with op.batch_alter_table("store_webhook_delivery", schema=None) as batch_op:
        batch_op.create_index("ix_store_webhook_delivery_unprocessed", ["processed_at", "received_at"], unique=False)

    op.create_table(
        "store_variant",
        sa.Column("id", GUID(length=16), nullable=False),
        sa.Column("store_id", GUID(length=16), nullable=False),
        sa.Column("product_id", GUID(length=16), nullable=False),
        sa.Column("external_id", sa.String(length=120), nullable=False),
        sa.Column("title", sa.String(length=300), nullable=False),
        sa.Column("option_values", sa.JSON(), nullable=False),
        sa.Column("sku", sa.String(length=120), nullable=False),
        sa.Column("price_amount", sa.BigInteger(), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("inventory", sa.Integer(), nullable=True),
        sa.Column("cost_amount", sa.BigInteger(), nullable=True),
        sa.Column("cost_edited", sa.Boolean(), nullable=False),
        sa.Column("sa_orm_sentinel", sa.Integer(), nullable=True),
        sa.Column("created_at", UTC(timezone=True), nullable=False),
        sa.Column("updated_at", UTC(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["product_id"],
            ["store_product.id"],
            name=op.f("fk_store_variant_product_id_store_product"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["store_id"],
            ["store_connection.id"],
            name=op.f("fk_store_variant_store_id_store_connection"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_store_variant")),
        sa.UniqueConstraint("external_id", "store_id", name="uq_store_variant_external"),
    )
    with op.batch_alter_table("store_variant", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_store_variant_product_id"), ["product_id"], unique=False)

    op.create_table(
        "seeding_order",
        sa.Column("id", GUID(length=16), nullable=False),
        sa.Column("collaboration_id", GUID(length=16), nullable=False),
        sa.Column("store_id", GUID(length=16), nullable=False),
        sa.Column("variant_id", GUID(length=16), nullable=True),
        sa.Column("tag", sa.String(length=120), nullable=False),
        sa.Column(
            "status",
            sa.Enum("pending", "created", "blocked", name="seedingstatus", native_enum=False, length=16),
            nullable=False,
        ),
        sa.Column("external_order_id", sa.String(length=120), nullable=True),
        sa.Column("order_name", sa.String(length=120), nullable=False),
        sa.Column("message", sa.Text(), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("sa_orm_sentinel", sa.Integer(), nullable=True),
        sa.Column("created_at", UTC(timezone=True), nullable=False),
        sa.Column("updated_at", UTC(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["collaboration_id"],
            ["collaboration.id"],
            name=op.f("fk_seeding_order_collaboration_id_collaboration"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["store_id"],
            ["store_connection.id"],
            name=op.f("fk_seeding_order_store_id_store_connection"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["variant_id"],
            ["store_variant.id"],
            name=op.f("fk_seeding_order_variant_id_store_variant"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_seeding_order")),
        sa.UniqueConstraint("collaboration_id", name=op.f("uq_seeding_order_collaboration_id")),
        sa.UniqueConstraint("tag", name=op.f("uq_seeding_order_tag")),
    )
    with op.batch_alter_table("seeding_order", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_seeding_order_external_order_id"), ["external_order_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_seeding_order_store_id"), ["store_id"], unique=False)

    with op.batch_alter_table("gig", schema=None) as batch_op:
        batch_op.add_column(sa.Column("store_product_id", GUID(length=16), nullable=True))
        batch_op.create_foreign_key(
            "fk_gig_store_product_id_store_product", "store_product", ["store_product_id"], ["id"], ondelete="SET NULL"
        )


def downgrade() -> None:
    with op.batch_alter_table("gig", schema=None) as batch_op:
        batch_op.drop_constraint("fk_gig_store_product_id_store_product", type_="foreignkey")
        batch_op.drop_column("store_product_id")
    for table in (
        "seeding_order",
        "store_variant",
        "store_webhook_delivery",
        "store_product",
        "store_order",
        "store_fulfillment",
        "store_connection",
    ):
        op.drop_table(table)
