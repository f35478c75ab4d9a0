"""bulk item updates: a job's items leave ``pending`` without touching an index (heap-only updates)

The index on (job_id, state, position) put the state, which every item changes once, in an index: marking a batch's
items done wrote a new entry in each of the table's three indexes per item. The unique (job_id, position) index
serves the same reads (a job's pending items in order, its failures, its counts: at most 5,000 rows a job, the state
checked on the rows), and free space on each page (fillfactor 50, PostgreSQL) lets every item's one update stay on
its page, so marking a batch done writes no index entry at all.

Revision ID: 0037
Revises: 0035
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0037"
down_revision: str | None = "0035"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.drop_index("ix_bulk_job_item_job_state", table_name="bulk_job_item")
    if op.get_bind().dialect.name == "postgresql":
        # Applies to pages written from now on; existing items are a few finished jobs.
        op.execute("ALTER TABLE bulk_job_item SET (fillfactor = 50)")


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("ALTER TABLE bulk_job_item RESET (fillfactor)")
    op.create_index("ix_bulk_job_item_job_state", "bulk_job_item", ["job_id", "state", "position"], unique=False)
