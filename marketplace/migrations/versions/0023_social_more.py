"""social more: gigs that require a verified audience, the verified-audience ranking prior, an account's history

- ``gig.verified_audience_required``: only creators whose numbers a connected account verifies may apply.
- ``reliability_score.verified_audience``: the creator has a connected account with real history and no link to a
  ghosting; the stored ranking then gives a newcomer without a record the small prior of
  ``reputation.tiers.ranking_evidence`` (the marketplace keeps the flag, reputation reads it when ranking).
- ``social_connection.history_since``: the oldest post seen in the account's recent media (real history when it is
  older than the PostPact account).

Revision ID: 0023
Revises: 0022
"""

from __future__ import annotations

from collections.abc import Sequence

import advanced_alchemy.types
import sqlalchemy as sa
from alembic import op

revision: str = "0023"
down_revision: str | None = "0022"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

UTC = advanced_alchemy.types.datetime.DateTimeUTC


def upgrade() -> None:
    # Plain ADD/DROP COLUMN (SQLite 3.35+ has both): a batch copy of reliability_score would lose its triggers.
    op.add_column("gig", sa.Column("verified_audience_required", sa.Boolean(), nullable=False,
                                   server_default=sa.false()))
    op.add_column("reliability_score", sa.Column("verified_audience", sa.Boolean(), nullable=False,
                                                 server_default=sa.false()))
    op.add_column("social_connection", sa.Column("history_since", UTC(timezone=True), nullable=True))


def downgrade() -> None:
    op.drop_column("social_connection", "history_since")
    op.drop_column("reliability_score", "verified_audience")
    op.drop_column("gig", "verified_audience_required")
