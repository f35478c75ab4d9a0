"""batch recompute: a partial index on the ghostings, which the set-based rebuild reads in time order

Revision ID: 0031
Revises: 0029
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0031"
down_revision: str | None = "0029"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_GHOSTED = sa.text("kind = 'creator.ghosted'")


def upgrade() -> None:
    op.create_index(
        "ix_reputation_event_ghosted",
        "reputation_event",
        ["subject_kind", "subject_id", "occurred_at"],
        postgresql_where=_GHOSTED,
        sqlite_where=_GHOSTED,
    )


def downgrade() -> None:
    op.drop_index("ix_reputation_event_ghosted", table_name="reputation_event")
