"""trust review: a post that needs the brand's review has a start time and a due time (the "check" stage)

Revision ID: 0025
Revises: 0024
"""

from __future__ import annotations

from collections.abc import Sequence

import advanced_alchemy.types
import sqlalchemy as sa
from alembic import op

revision: str = "0025"
down_revision: str | None = "0024"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

UTC = advanced_alchemy.types.datetime.DateTimeUTC


def upgrade() -> None:
    op.add_column("collaboration", sa.Column("post_review_requested_at", UTC(timezone=True), nullable=True))
    op.add_column("collaboration", sa.Column("due_check", UTC(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("collaboration") as batch:
        batch.drop_column("due_check")
        batch.drop_column("post_review_requested_at")
