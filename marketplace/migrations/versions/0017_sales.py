"""sales: gig sales settings, per-deal discount codes and tracking links, link clicks, order attribution with
commission

Revision ID: 0017
Revises: 0016
"""

from __future__ import annotations

from collections.abc import Sequence

import advanced_alchemy.types
import sqlalchemy as sa
from alembic import op

revision: str = "0017"
down_revision: str | None = "0016"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

GUID = advanced_alchemy.types.guid.GUID
UTC = advanced_alchemy.types.datetime.DateTimeUTC


def upgrade() -> None:
    op.create_table(
        "gig_sales_settings",
        sa.Column("id", GUID(length=16), nullable=False),
        sa.Column("gig_id", GUID(length=16), nullable=False),
        sa.Column(
            "discount_kind",
            sa.Enum("percent", "fixed", name="discountkind", native_enum=False, length=16),
            nullable=False,
        ),
        sa.Column("discount_value", sa.Integer(), nullable=False),
        sa.Column("usage_limit", sa.Integer(), nullable=True),
        sa.Column("landing_url", sa.String(length=2000), nullable=False),
        sa.Column("attribution_window_days", sa.Integer(), nullable=False),
        sa.Column("hold_days", sa.Integer(), nullable=False),
        sa.Column("sa_orm_sentinel", sa.Integer(), nullable=True),
        sa.Column("created_at", UTC(timezone=True), nullable=False),
        sa.Column("updated_at", UTC(timezone=True), nullable=False),
        sa.CheckConstraint(
            "attribution_window_days BETWEEN 1 AND 365", name=op.f("ck_gig_sales_settings_window_range")
        ),
        sa.CheckConstraint("discount_value >= 0", name=op.f("ck_gig_sales_settings_discount_not_negative")),
        sa.CheckConstraint("hold_days BETWEEN 0 AND 90", name=op.f("ck_gig_sales_settings_hold_days_range")),
        sa.ForeignKeyConstraint(
            ["gig_id"], ["gig.id"], name=op.f("fk_gig_sales_settings_gig_id_gig"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_gig_sales_settings")),
        sa.UniqueConstraint("gig_id", name=op.f("uq_gig_sales_settings_gig_id")),
    )
    op.create_table(
        "deal_tracking",
        sa.Column("id", GUID(length=16), nullable=False),
        sa.Column("collaboration_id", GUID(length=16), nullable=False),
        sa.Column("brand_id", GUID(length=16), nullable=False),
        sa.Column("creator_id", GUID(length=16), nullable=False),
        sa.Column("gig_id", GUID(length=16), nullable=False),
        sa.Column("store_id", GUID(length=16), nullable=True),
        sa.Column("code", sa.String(length=60), nullable=False),
        sa.Column(
            "code_status",
            sa.Enum("pending", "created", "manual", "blocked", name="codestatus", native_enum=False, length=16),
            nullable=False,
        ),
        sa.Column("tag", sa.String(length=120), nullable=False),
        sa.Column("external_id", sa.String(length=200), nullable=True),
        sa.Column("message", sa.Text(), nullable=False),
        sa.Column("valid_from", UTC(timezone=True), nullable=False),
        sa.Column("valid_until", UTC(timezone=True), nullable=True),
        sa.Column("slug", sa.String(length=40), nullable=False),
        sa.Column("target_url", sa.String(length=4000), nullable=False),
        sa.Column("sa_orm_sentinel", sa.Integer(), nullable=True),
        sa.Column("created_at", UTC(timezone=True), nullable=False),
        sa.Column("updated_at", UTC(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["brand_id"], ["brand.id"], name=op.f("fk_deal_tracking_brand_id_brand"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["collaboration_id"],
            ["collaboration.id"],
            name=op.f("fk_deal_tracking_collaboration_id_collaboration"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["creator_id"], ["creator.id"], name=op.f("fk_deal_tracking_creator_id_creator"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(["gig_id"], ["gig.id"], name=op.f("fk_deal_tracking_gig_id_gig"), ondelete="CASCADE"),
        sa.ForeignKeyConstraint(
            ["store_id"],
            ["store_connection.id"],
            name=op.f("fk_deal_tracking_store_id_store_connection"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_deal_tracking")),
        sa.UniqueConstraint("brand_id", "code", name="uq_deal_tracking_brand_code"),
        sa.UniqueConstraint("collaboration_id", name=op.f("uq_deal_tracking_collaboration_id")),
        sa.UniqueConstraint("slug", name=op.f("uq_deal_tracking_slug")),
        sa.UniqueConstraint("tag", name=op.f("uq_deal_tracking_tag")),
    )
    with op.batch_alter_table("deal_tracking", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_deal_tracking_creator_id"), ["creator_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_deal_tracking_gig_id"), ["gig_id"], unique=False)

    op.create_table(
        "sale_attribution",
        sa.Column("id", GUID(length=16), nullable=False),
        sa.Column("store_order_id", GUID(length=16), nullable=False),
        sa.Column("brand_id", GUID(length=16), nullable=False),
        sa.Column("collaboration_id", GUID(length=16), nullable=True),
        sa.Column("creator_id", GUID(length=16), nullable=True),
        sa.Column("gig_id", GUID(length=16), nullable=True),
        sa.Column("reason", sa.String(length=40), nullable=False),
        sa.Column("detail", sa.String(length=500), nullable=False),
        sa.Column("placed_at", UTC(timezone=True), nullable=True),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("base_amount", sa.BigInteger(), nullable=False),
        sa.Column("commission_bps", sa.Integer(), nullable=False),
        sa.Column("commission_amount", sa.BigInteger(), nullable=False),
        sa.Column(
            "state",
            sa.Enum(
                "none", "pending", "approved", "paid", "cancelled", name="commissionstate", native_enum=False, length=16
            ),
            nullable=False,
        ),
        sa.Column("payable_at", UTC(timezone=True), nullable=True),
        sa.Column("approved_at", UTC(timezone=True), nullable=True),
        sa.Column("paid_amount", sa.BigInteger(), nullable=False),
        sa.Column("sa_orm_sentinel", sa.Integer(), nullable=True),
        sa.Column("created_at", UTC(timezone=True), nullable=False),
        sa.Column("updated_at", UTC(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["brand_id"], ["brand.id"], name=op.f("fk_sale_attribution_brand_id_brand"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["collaboration_id"],
            ["collaboration.id"],
            name=op.f("fk_sale_attribution_collaboration_id_collaboration"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["creator_id"], ["creator.id"], name=op.f("fk_sale_attribution_creator_id_creator"), ondelete="SET NULL"
        ),
        sa.ForeignKeyConstraint(
            ["gig_id"], ["gig.id"], name=op.f("fk_sale_attribution_gig_id_gig"), ondelete="SET NULL"
        ),
        sa.ForeignKeyConstraint(
            ["store_order_id"],
            ["store_order.id"],
            name=op.f("fk_sale_attribution_store_order_id_store_order"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sale_attribution")),
        sa.UniqueConstraint("store_order_id", name=op.f("uq_sale_attribution_store_order_id")),
    )
    with op.batch_alter_table("sale_attribution", schema=None) as batch_op:
        batch_op.create_index("ix_sale_attribution_brand_placed", ["brand_id", "placed_at"], unique=False)
        batch_op.create_index(batch_op.f("ix_sale_attribution_collaboration_id"), ["collaboration_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_sale_attribution_creator_id"), ["creator_id"], unique=False)
        batch_op.create_index("ix_sale_attribution_state_payable", ["state", "payable_at"], unique=False)

    op.create_table(
        "link_click",
        sa.Column("id", GUID(length=16), nullable=False),
        sa.Column("tracking_id", GUID(length=16), nullable=False),
        sa.Column("clicked_at", UTC(timezone=True), nullable=False),
        sa.Column("visitor", sa.String(length=32), nullable=False),
        sa.Column("sa_orm_sentinel", sa.Integer(), nullable=True),
        sa.Column("created_at", UTC(timezone=True), nullable=False),
        sa.Column("updated_at", UTC(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["tracking_id"],
            ["deal_tracking.id"],
            name=op.f("fk_link_click_tracking_id_deal_tracking"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_link_click")),
    )
    with op.batch_alter_table("link_click", schema=None) as batch_op:
        batch_op.create_index("ix_link_click_tracking_time", ["tracking_id", "clicked_at"], unique=False)


def downgrade() -> None:
    op.drop_table("link_click")
    op.drop_table("sale_attribution")
    op.drop_table("deal_tracking")
    op.drop_table("gig_sales_settings")
