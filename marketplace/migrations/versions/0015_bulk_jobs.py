"""bulk jobs: a brand's bulk action and one row per item (pending, done or failed, with the reason)

Revision ID: 0015
Revises: 0014
"""

from __future__ import annotations

from collections.abc import Sequence

import advanced_alchemy.types
import sqlalchemy as sa
from alembic import op

revision: str = "0015"
down_revision: str | None = "0014"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

GUID = advanced_alchemy.types.guid.GUID
UTC = advanced_alchemy.types.datetime.DateTimeUTC


def upgrade() -> None:
    op.create_table(
        "bulk_job",
        sa.Column("id", GUID(length=16), nullable=False),
        sa.Column("brand_id", GUID(length=16), nullable=False),
        sa.Column("created_by_id", GUID(length=16), nullable=True),
        sa.Column("action", sa.String(length=32), nullable=False),
        sa.Column("parameters", sa.JSON(), nullable=False),
        sa.Column("state", sa.Enum("queued", "running", "finished", name="jobstate", native_enum=False, length=16),
                  nullable=False),
        sa.Column("total", sa.Integer(), nullable=False),
        sa.Column("done", sa.Integer(), nullable=False),
        sa.Column("failed", sa.Integer(), nullable=False),
        sa.Column("started_at", UTC(timezone=True), nullable=True),
        sa.Column("finished_at", UTC(timezone=True), nullable=True),
        sa.Column("sa_orm_sentinel", sa.Integer(), nullable=True),
        sa.Column("created_at", UTC(timezone=True), nullable=False),
        sa.Column("updated_at", UTC(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["brand_id"], ["brand.id"], name=op.f("fk_bulk_job_brand_id_brand"),
                                ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["created_by_id"], ["user_account.id"],
                                name=op.f("fk_bulk_job_created_by_id_user_account"), ondelete="SET NULL"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_bulk_job")),
    )
    op.create_index("ix_bulk_job_brand_created", "bulk_job", ["brand_id", "created_at"], unique=False)
    op.create_table(
        "bulk_job_item",
        sa.Column("id", GUID(length=16), nullable=False),
        sa.Column("job_id", GUID(length=16), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("target_id", GUID(length=16), nullable=True),
        sa.Column("label", sa.String(length=200), nullable=False),
        sa.Column("data", sa.JSON(), nullable=False),
        sa.Column("state", sa.Enum("pending", "done", "failed", name="itemstate", native_enum=False, length=16),
                  nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("finished_at", UTC(timezone=True), nullable=True),
        sa.Column("sa_orm_sentinel", sa.Integer(), nullable=True),
        sa.Column("created_at", UTC(timezone=True), nullable=False),
        sa.Column("updated_at", UTC(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["job_id"], ["bulk_job.id"], name=op.f("fk_bulk_job_item_job_id_bulk_job"),
                                ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_bulk_job_item")),
        sa.UniqueConstraint("job_id", "position", name=op.f("uq_bulk_job_item_job_id")),
    )
    op.create_index("ix_bulk_job_item_job_state", "bulk_job_item", ["job_id", "state", "position"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_bulk_job_item_job_state", table_name="bulk_job_item")
    op.drop_table("bulk_job_item")
    op.drop_index("ix_bulk_job_brand_created", table_name="bulk_job")
    op.drop_table("bulk_job")
