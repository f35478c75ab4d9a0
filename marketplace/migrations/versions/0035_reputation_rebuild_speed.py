"""reputation rebuild speed: the suspended-creators index holds only the suspended ones (a rebuild writing every score
row no longer maintains it)

Revision ID: 0035
Revises: 0032
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0035"
down_revision: str | None = "0032"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


_SUSPENDED = sa.text("suspended_at IS NOT NULL")


def upgrade() -> None:
    op.drop_index("ix_reliability_score_suspended", table_name="reliability_score")
    op.create_index("ix_reliability_score_suspended", "reliability_score", ["suspended_at"],
                    postgresql_where=_SUSPENDED, sqlite_where=_SUSPENDED)


def downgrade() -> None:
    op.drop_index("ix_reliability_score_suspended", table_name="reliability_score")
    op.create_index("ix_reliability_score_suspended", "reliability_score", ["suspended_at"])
