"""shipping addresses get a normalised key, so accounts receiving products at one door can be linked

Revision ID: 0013
Revises: 0012
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from marketplace.creators.addresses import address_key

revision: str = "0013"
down_revision: str | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("shipping_address", schema=None) as batch_op:
        batch_op.add_column(sa.Column("address_key", sa.String(length=64), nullable=False, server_default=""))
    table = sa.table("shipping_address", sa.column("id"), sa.column("line1"), sa.column("line2"),
                     sa.column("postal_code"), sa.column("country"), sa.column("address_key"))
    bind = op.get_bind()
    rows = bind.execute(sa.select(table.c.id, table.c.line1, table.c.line2, table.c.postal_code, table.c.country))
    for row in rows.all():
        key = address_key(line1=row.line1, line2=row.line2 or "", postal_code=row.postal_code, country=row.country)
        bind.execute(table.update().where(table.c.id == row.id).values(address_key=key))
    with op.batch_alter_table("shipping_address", schema=None) as batch_op:
        batch_op.create_index("ix_shipping_address_address_key", ["address_key"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("shipping_address", schema=None) as batch_op:
        batch_op.drop_index("ix_shipping_address_address_key")
        batch_op.drop_column("address_key")
