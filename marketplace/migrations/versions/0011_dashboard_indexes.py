"""indexes for the admin dashboard: holds by status, deals by end time, deals held for review

Revision ID: 0011
Revises: 0010
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index("ix_escrow_hold_status", "escrow_hold", ["status"])
    op.create_index("ix_collaboration_ended_at", "collaboration", ["ended_at"])
    # Partial: only the few deals an admin must look at are in the index.
    op.create_index("ix_collaboration_admin_review", "collaboration", ["needs_admin_review"],
                    postgresql_where=sa.text("needs_admin_review"), sqlite_where=sa.text("needs_admin_review"))


def downgrade() -> None:
    op.drop_index("ix_collaboration_admin_review", table_name="collaboration")
    op.drop_index("ix_collaboration_ended_at", table_name="collaboration")
    op.drop_index("ix_escrow_hold_status", table_name="escrow_hold")
