"""gig search speed: reserved (no schema change yet)

Revision ID: 0032
Revises: 0031
"""

from __future__ import annotations

from collections.abc import Sequence

revision: str = "0032"
down_revision: str | None = "0031"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
