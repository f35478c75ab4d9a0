"""reputation rebuild speed: reserved (no schema change yet)

Revision ID: 0035
Revises: 0034
"""

from __future__ import annotations

from collections.abc import Sequence

revision: str = "0035"
down_revision: str | None = "0034"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
