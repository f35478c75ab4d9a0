"""sales rollup: attributed sales per deal, day and currency (sale_daily), filled from the orders set-based

Revision ID: 0020
Revises: 0019
"""

from __future__ import annotations

from collections.abc import Sequence

import advanced_alchemy.types
import sqlalchemy as sa
from alembic import op

revision: str = "0020"
down_revision: str | None = "0019"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

GUID = advanced_alchemy.types.guid.GUID

_COUNTED = "state IN ('pending', 'approved', 'paid') AND base_amount > 0"


def upgrade() -> None:
    op.create_table(
        "sale_daily",
        sa.Column("id", GUID(length=16), nullable=False),
        sa.Column("brand_id", GUID(length=16), nullable=False),
        sa.Column("collaboration_id", GUID(length=16), nullable=False),
        sa.Column("creator_id", GUID(length=16), nullable=False),
        sa.Column("gig_id", GUID(length=16), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("orders", sa.Integer(), nullable=False),
        sa.Column("gmv", sa.BigInteger(), nullable=False),
        sa.Column("commission", sa.BigInteger(), nullable=False),
        sa.Column("sa_orm_sentinel", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(["brand_id"], ["brand.id"], name=op.f("fk_sale_daily_brand_id_brand"),
                                ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["collaboration_id"], ["collaboration.id"],
                                name=op.f("fk_sale_daily_collaboration_id_collaboration"), ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["creator_id"], ["creator.id"], name=op.f("fk_sale_daily_creator_id_creator"),
                                ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["gig_id"], ["gig.id"], name=op.f("fk_sale_daily_gig_id_gig"), ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sale_daily")),
        sa.UniqueConstraint("collaboration_id", "day", "currency", name="uq_sale_daily_deal_day_currency"),
    )
    op.create_index("ix_sale_daily_brand_day", "sale_daily", ["brand_id", "day"])
    postgres = op.get_bind().dialect.name == "postgresql"
    new_id, day = ("gen_random_uuid()", "CAST(timezone('UTC', placed_at) AS date)") if postgres else \
        ("randomblob(16)", "date(placed_at)")
    op.execute(
        "INSERT INTO sale_daily (id, brand_id, collaboration_id, creator_id, gig_id, day, currency, orders, gmv, "  # noqa: S608 (constants)
        f"commission) SELECT {new_id}, brand_id, collaboration_id, creator_id, gig_id, d, currency, orders, gmv, "
        f"commission FROM (SELECT brand_id, collaboration_id, creator_id, gig_id, {day} AS d, currency, "
        f"count(*) FILTER (WHERE {_COUNTED}) AS orders, coalesce(sum(base_amount), 0) AS gmv, "
        "coalesce(sum(commission_amount), 0) AS commission FROM sale_attribution "
        "WHERE collaboration_id IS NOT NULL AND placed_at IS NOT NULL AND creator_id IS NOT NULL "
        f"AND gig_id IS NOT NULL GROUP BY brand_id, collaboration_id, creator_id, gig_id, {day}, currency) totals"
    )


def downgrade() -> None:
    op.drop_index("ix_sale_daily_brand_day", table_name="sale_daily")
    op.drop_table("sale_daily")
