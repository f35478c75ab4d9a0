"""sales commission: commission budgets in escrow, payments into them, commission payouts; the payout carrying
an order's commission

Revision ID: 0019
Revises: 0018
"""

from __future__ import annotations

from collections.abc import Sequence

import advanced_alchemy.types
import sqlalchemy as sa
from alembic import op

revision: str = "0019"
down_revision: str | None = "0018"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

GUID = advanced_alchemy.types.guid.GUID
UTC = advanced_alchemy.types.datetime.DateTimeUTC


def _audit() -> list[sa.Column[object]]:
    return [
        sa.Column("sa_orm_sentinel", sa.Integer(), nullable=True),
        sa.Column("created_at", UTC(timezone=True), nullable=False),
        sa.Column("updated_at", UTC(timezone=True), nullable=False),
    ]


def upgrade() -> None:
    op.create_table(
        "commission_budget",
        sa.Column("id", GUID(length=16), nullable=False),
        sa.Column("brand_id", GUID(length=16), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("funded_amount", sa.BigInteger(), nullable=False),
        sa.Column("released_amount", sa.BigInteger(), nullable=False),
        sa.Column("refunded_amount", sa.BigInteger(), nullable=False),
        sa.Column("reserved_amount", sa.BigInteger(), nullable=False),
        sa.Column("deposit_seq", sa.Integer(), nullable=False),
        sa.Column("refund_seq", sa.Integer(), nullable=False),
        sa.Column("refund_after", UTC(timezone=True), nullable=True),
        sa.Column("last_message", sa.String(length=500), nullable=True),
        *_audit(),
        sa.CheckConstraint("reserved_amount >= 0", name=op.f("ck_commission_budget_budget_reserved_not_negative")),
        sa.CheckConstraint("released_amount + refunded_amount + reserved_amount <= funded_amount",
                           name=op.f("ck_commission_budget_budget_never_more_out_than_in")),
        sa.ForeignKeyConstraint(["brand_id"], ["brand.id"], name=op.f("fk_commission_budget_brand_id_brand"),
                                ondelete="RESTRICT"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_commission_budget")),
        sa.UniqueConstraint("brand_id", "currency", name="uq_commission_budget_brand_currency"),
    )
    op.create_table(
        "commission_funding",
        sa.Column("id", GUID(length=16), nullable=False),
        sa.Column("budget_id", GUID(length=16), nullable=False),
        sa.Column("kind", sa.Enum("deposit", "charge", name="fundingkind", native_enum=False, length=16),
                  nullable=False),
        sa.Column("idempotency_key", sa.String(length=255), nullable=False),
        sa.Column("period", sa.String(length=10), nullable=True),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("status", sa.Enum("pending", "succeeded", "failed", name="moneystatus", native_enum=False,
                                    length=16), nullable=False),
        sa.Column("funding_ref", sa.String(length=255), nullable=True),
        sa.Column("checkout_url", sa.String(length=2000), nullable=True),
        sa.Column("refunded_amount", sa.BigInteger(), nullable=False),
        sa.Column("refunding_amount", sa.BigInteger(), nullable=False),
        sa.Column("message", sa.String(length=500), nullable=False),
        *_audit(),
        sa.CheckConstraint("amount > 0", name=op.f("ck_commission_funding_commission_funding_positive")),
        sa.ForeignKeyConstraint(["budget_id"], ["commission_budget.id"],
                                name=op.f("fk_commission_funding_budget_id_commission_budget"), ondelete="RESTRICT"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_commission_funding")),
        sa.UniqueConstraint("idempotency_key", name=op.f("uq_commission_funding_idempotency_key")),
        sa.UniqueConstraint("funding_ref", name=op.f("uq_commission_funding_funding_ref")),
    )
    op.create_index(op.f("ix_commission_funding_budget_id"), "commission_funding", ["budget_id"])
    op.create_table(
        "commission_payout",
        sa.Column("id", GUID(length=16), nullable=False),
        sa.Column("budget_id", GUID(length=16), nullable=False),
        sa.Column("brand_id", GUID(length=16), nullable=False),
        sa.Column("creator_id", GUID(length=16), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("idempotency_key", sa.String(length=255), nullable=False),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.Column("status", sa.Enum("reserved", "paid", "failed", "offset", name="payoutstatus", native_enum=False,
                                    length=16), nullable=False),
        sa.Column("transfer_ref", sa.String(length=255), nullable=True),
        sa.Column("paid_at", UTC(timezone=True), nullable=True),
        sa.Column("message", sa.String(length=500), nullable=False),
        *_audit(),
        sa.CheckConstraint("amount >= 0", name=op.f("ck_commission_payout_commission_payout_not_negative")),
        sa.ForeignKeyConstraint(["budget_id"], ["commission_budget.id"],
                                name=op.f("fk_commission_payout_budget_id_commission_budget"), ondelete="RESTRICT"),
        sa.ForeignKeyConstraint(["brand_id"], ["brand.id"], name=op.f("fk_commission_payout_brand_id_brand"),
                                ondelete="RESTRICT"),
        sa.ForeignKeyConstraint(["creator_id"], ["creator.id"], name=op.f("fk_commission_payout_creator_id_creator"),
                                ondelete="RESTRICT"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_commission_payout")),
        sa.UniqueConstraint("idempotency_key", name=op.f("uq_commission_payout_idempotency_key")),
        sa.UniqueConstraint("brand_id", "creator_id", "currency", "seq", name="uq_commission_payout_seq"),
    )
    op.create_index(op.f("ix_commission_payout_budget_id"), "commission_payout", ["budget_id"])
    op.create_index(op.f("ix_commission_payout_creator_id"), "commission_payout", ["creator_id"])
    with op.batch_alter_table("sale_attribution") as batch:
        batch.add_column(sa.Column("payout_key", sa.String(length=255), nullable=True))
        batch.create_index(batch.f("ix_sale_attribution_payout_key"), ["payout_key"])


def downgrade() -> None:
    with op.batch_alter_table("sale_attribution") as batch:
        batch.drop_index(batch.f("ix_sale_attribution_payout_key"))
        batch.drop_column("payout_key")
    op.drop_table("commission_payout")
    op.drop_table("commission_funding")
    op.drop_table("commission_budget")
