"""notices at delivery: an outbox email may be stored as its template, its parameters and its recipient's account,
and written (subject and body) in the recipient's language and time zone when it is delivered

Revision ID: 0029
Revises: 0027
"""

from __future__ import annotations

from collections.abc import Sequence

import advanced_alchemy.types
import sqlalchemy as sa
from alembic import op

revision: str = "0029"
down_revision: str | None = "0027"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

GUID = advanced_alchemy.types.guid.GUID


def upgrade() -> None:
    with op.batch_alter_table("outbox_email") as batch:
        batch.add_column(sa.Column("template", sa.String(length=60), nullable=True))
        batch.add_column(sa.Column("context", sa.JSON(), nullable=True))
        batch.add_column(sa.Column("user_id", GUID(length=16), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("outbox_email") as batch:
        batch.drop_column("user_id")
        batch.drop_column("context")
        batch.drop_column("template")
