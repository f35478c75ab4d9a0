"""worker: deadline watch, reminders and notices; post checks and engagement snapshots

The sweeper reads ``deadline_watch`` through ``ix_deadline_watch_check_at``; ``uq_deadline_reminder_once`` makes
every reminder (collaboration, stage, due time, offset) go out once. Collaborations that exist before this revision
get their watch rows from the periodic ``deadlines.reconcile_watches`` job.

Revision ID: 0008
Revises: 0007
"""

from __future__ import annotations

from collections.abc import Sequence

import advanced_alchemy.types
import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "deadline_notice",
        sa.Column("id", advanced_alchemy.types.guid.GUID(length=16), nullable=False),
        sa.Column("collaboration_id", advanced_alchemy.types.guid.GUID(length=16), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("due_at", advanced_alchemy.types.datetime.DateTimeUTC(timezone=True), nullable=False),
        sa.Column("sent_at", advanced_alchemy.types.datetime.DateTimeUTC(timezone=True), nullable=False),
        sa.Column("sa_orm_sentinel", sa.Integer(), nullable=True),
        sa.Column("created_at", advanced_alchemy.types.datetime.DateTimeUTC(timezone=True), nullable=False),
        sa.Column("updated_at", advanced_alchemy.types.datetime.DateTimeUTC(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["collaboration_id"],
            ["collaboration.id"],
            name=op.f("fk_deadline_notice_collaboration_id_collaboration"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_deadline_notice")),
        sa.UniqueConstraint("collaboration_id", "kind", "due_at", name="uq_deadline_notice_once"),
    )
    op.create_table(
        "deadline_reminder",
        sa.Column("id", advanced_alchemy.types.guid.GUID(length=16), nullable=False),
        sa.Column("collaboration_id", advanced_alchemy.types.guid.GUID(length=16), nullable=False),
        sa.Column("stage", sa.String(length=16), nullable=False),
        sa.Column("due_at", advanced_alchemy.types.datetime.DateTimeUTC(timezone=True), nullable=False),
        sa.Column("offset_hours", sa.Integer(), nullable=False),
        sa.Column("party", sa.String(length=16), nullable=False),
        sa.Column("sent_at", advanced_alchemy.types.datetime.DateTimeUTC(timezone=True), nullable=False),
        sa.Column("sa_orm_sentinel", sa.Integer(), nullable=True),
        sa.Column("created_at", advanced_alchemy.types.datetime.DateTimeUTC(timezone=True), nullable=False),
        sa.Column("updated_at", advanced_alchemy.types.datetime.DateTimeUTC(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["collaboration_id"],
            ["collaboration.id"],
            name=op.f("fk_deadline_reminder_collaboration_id_collaboration"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_deadline_reminder")),
        sa.UniqueConstraint("collaboration_id", "stage", "due_at", "offset_hours", name="uq_deadline_reminder_once"),
    )
    op.create_table(
        "deadline_watch",
        sa.Column("id", advanced_alchemy.types.guid.GUID(length=16), nullable=False),
        sa.Column("collaboration_id", advanced_alchemy.types.guid.GUID(length=16), nullable=False),
        sa.Column("check_at", advanced_alchemy.types.datetime.DateTimeUTC(timezone=True), nullable=True),
        sa.Column("sa_orm_sentinel", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["collaboration_id"],
            ["collaboration.id"],
            name=op.f("fk_deadline_watch_collaboration_id_collaboration"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_deadline_watch")),
        sa.UniqueConstraint("collaboration_id", name=op.f("uq_deadline_watch_collaboration_id")),
    )
    op.create_index("ix_deadline_watch_check_at", "deadline_watch", ["check_at"], unique=False)
    op.create_table(
        "engagement_snapshot",
        sa.Column("id", advanced_alchemy.types.guid.GUID(length=16), nullable=False),
        sa.Column("collaboration_id", advanced_alchemy.types.guid.GUID(length=16), nullable=False),
        sa.Column("submission_id", advanced_alchemy.types.guid.GUID(length=16), nullable=False),
        sa.Column("taken_at", advanced_alchemy.types.datetime.DateTimeUTC(timezone=True), nullable=False),
        sa.Column("views", sa.BigInteger(), nullable=True),
        sa.Column("likes", sa.BigInteger(), nullable=True),
        sa.Column("comments", sa.BigInteger(), nullable=True),
        sa.Column("shares", sa.BigInteger(), nullable=True),
        sa.Column("sa_orm_sentinel", sa.Integer(), nullable=True),
        sa.Column("created_at", advanced_alchemy.types.datetime.DateTimeUTC(timezone=True), nullable=False),
        sa.Column("updated_at", advanced_alchemy.types.datetime.DateTimeUTC(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["collaboration_id"],
            ["collaboration.id"],
            name=op.f("fk_engagement_snapshot_collaboration_id_collaboration"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["submission_id"],
            ["post_submission.id"],
            name=op.f("fk_engagement_snapshot_submission_id_post_submission"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_engagement_snapshot")),
    )
    op.create_index(
        "ix_engagement_snapshot_collaboration", "engagement_snapshot", ["collaboration_id", "taken_at"], unique=False
    )
    op.create_table(
        "post_check",
        sa.Column("id", advanced_alchemy.types.guid.GUID(length=16), nullable=False),
        sa.Column("collaboration_id", advanced_alchemy.types.guid.GUID(length=16), nullable=False),
        sa.Column("submission_id", advanced_alchemy.types.guid.GUID(length=16), nullable=False),
        sa.Column("purpose", sa.String(length=24), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("platform", sa.String(length=16), nullable=False),
        sa.Column("requested_url", sa.String(length=2000), nullable=False),
        sa.Column("outcome_kind", sa.String(length=24), nullable=True),
        sa.Column("summary", sa.Text(), nullable=False),
        sa.Column("checks", sa.JSON(), nullable=False),
        sa.Column("http_status", sa.Integer(), nullable=True),
        sa.Column("payload_text", sa.Text(), nullable=False),
        sa.Column("payload_sha256", sa.String(length=64), nullable=True),
        sa.Column("content_sha256", sa.String(length=64), nullable=True),
        sa.Column("author_handle", sa.String(length=100), nullable=True),
        sa.Column("caption", sa.Text(), nullable=True),
        sa.Column("published_at", advanced_alchemy.types.datetime.DateTimeUTC(timezone=True), nullable=True),
        sa.Column("fetched_at", advanced_alchemy.types.datetime.DateTimeUTC(timezone=True), nullable=True),
        sa.Column("decided_at", advanced_alchemy.types.datetime.DateTimeUTC(timezone=True), nullable=True),
        sa.Column("last_error", sa.String(length=1000), nullable=True),
        sa.Column("sa_orm_sentinel", sa.Integer(), nullable=True),
        sa.Column("created_at", advanced_alchemy.types.datetime.DateTimeUTC(timezone=True), nullable=False),
        sa.Column("updated_at", advanced_alchemy.types.datetime.DateTimeUTC(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["collaboration_id"],
            ["collaboration.id"],
            name=op.f("fk_post_check_collaboration_id_collaboration"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["submission_id"],
            ["post_submission.id"],
            name=op.f("fk_post_check_submission_id_post_submission"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_post_check")),
        sa.UniqueConstraint("submission_id", "purpose", name="uq_post_check_submission_purpose"),
    )
    op.create_index("ix_post_check_collaboration", "post_check", ["collaboration_id", "created_at"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_post_check_collaboration", table_name="post_check")
    op.drop_table("post_check")
    op.drop_index("ix_engagement_snapshot_collaboration", table_name="engagement_snapshot")
    op.drop_table("engagement_snapshot")
    op.drop_index("ix_deadline_watch_check_at", table_name="deadline_watch")
    op.drop_table("deadline_watch")
    op.drop_table("deadline_reminder")
    op.drop_table("deadline_notice")
