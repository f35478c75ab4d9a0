"""speed indexes: gig deliverables by (gig_id, platform), so the /gigs platform filter's semi-join reads the index
alone instead of fetching every deliverable row of every candidate gig (EXPLAIN in bench/explain_gigs.py:
"full text + platform" visited ~2,000 deliverable buffers for 490 candidates).

Revision ID: 0027
Revises: 0026
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0027"
down_revision: str | None = "0026"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index("ix_gig_deliverable_gig_platform", "gig_deliverable", ["gig_id", "platform"])


def downgrade() -> None:
    op.drop_index("ix_gig_deliverable_gig_platform", table_name="gig_deliverable")
