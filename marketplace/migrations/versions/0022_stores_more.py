"""stores more: the built-in simulated shop's own records (products, orders, fulfilments)

Revision ID: 0022
Revises: 0021
"""

from __future__ import annotations

from collections.abc import Sequence

import advanced_alchemy.types
import sqlalchemy as sa
from alembic import op

revision: str = "0022"
down_revision: str | None = "0021"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

GUID = advanced_alchemy.types.guid.GUID
UTC = advanced_alchemy.types.datetime.DateTimeUTC


def upgrade() -> None:
    op.create_table(
        "simulated_shop_record",
        sa.Column("id", GUID(length=16), nullable=False),
        sa.Column("store_id", GUID(length=16), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("external_id", sa.String(length=120), nullable=False),
        sa.Column("tag", sa.String(length=120), nullable=True),
        sa.Column("data", sa.JSON(), nullable=False),
        sa.Column("sa_orm_sentinel", sa.Integer(), nullable=True),
        sa.Column("created_at", UTC(timezone=True), nullable=False),
        sa.Column("updated_at", UTC(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["store_id"], ["store_connection.id"], name=op.f("fk_simulated_shop_record_store_id_store_connection"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_simulated_shop_record")),
        sa.UniqueConstraint("store_id", "kind", "external_id", name="uq_simulated_shop_record"),
    )
    with op.batch_alter_table("simulated_shop_record", schema=None) as batch_op:
        batch_op.create_index("ix_simulated_shop_record_tag", ["store_id", "tag"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("simulated_shop_record", schema=None) as batch_op:
        batch_op.drop_index("ix_simulated_shop_record_tag")
    op.drop_table("simulated_shop_record")
