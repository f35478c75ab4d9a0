"""deadline sweep speed: reserved (no schema change yet)

Revision ID: 0034
Revises: 0033
"""

from __future__ import annotations

from collections.abc import Sequence

revision: str = "0034"
down_revision: str | None = "0033"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
