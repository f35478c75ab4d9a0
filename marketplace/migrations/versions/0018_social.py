"""social: connected creator accounts (encrypted tokens, verified audience), scheduled metric fetches, post metrics

Revision ID: 0018
Revises: 0017
"""

from __future__ import annotations

from collections.abc import Sequence

import advanced_alchemy.types
import sqlalchemy as sa
from alembic import op

revision: str = "0018"
down_revision: str | None = "0017"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

GUID = advanced_alchemy.types.guid.GUID
UTC = advanced_alchemy.types.datetime.DateTimeUTC


def _audit() -> list[sa.Column]:
    return [
        sa.Column("sa_orm_sentinel", sa.Integer(), nullable=True),
        sa.Column("created_at", UTC(timezone=True), nullable=False),
        sa.Column("updated_at", UTC(timezone=True), nullable=False),
    ]


def upgrade() -> None:
    op.create_table(
        "social_connection",
        sa.Column("id", GUID(length=16), nullable=False),
        sa.Column("creator_id", GUID(length=16), nullable=False),
        sa.Column("platform", sa.String(length=16), nullable=False),
        sa.Column("external_id", sa.String(length=200), nullable=False),
        sa.Column("handle", sa.String(length=100), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("status_reason", sa.String(length=300), nullable=False),
        sa.Column("access_token_enc", sa.Text(), nullable=False),
        sa.Column("refresh_token_enc", sa.Text(), nullable=True),
        sa.Column("token_expires_at", UTC(timezone=True), nullable=True),
        sa.Column("scope", sa.String(length=500), nullable=False),
        sa.Column("followers", sa.BigInteger(), nullable=True),
        sa.Column("media_count", sa.Integer(), nullable=True),
        sa.Column("engagement_bps", sa.Integer(), nullable=True),
        sa.Column("audience_fetched_at", UTC(timezone=True), nullable=True),
        *_audit(),
        sa.ForeignKeyConstraint(["creator_id"], ["creator.id"], name=op.f("fk_social_connection_creator_id_creator"),
                                ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_social_connection")),
        sa.UniqueConstraint("creator_id", "platform", name="uq_social_connection_creator_platform"),
        sa.UniqueConstraint("platform", "external_id", name="uq_social_connection_external"),
    )
    op.create_index("ix_social_connection_audience", "social_connection", ["status", "audience_fetched_at"])

    op.create_table(
        "social_metric_fetch",
        sa.Column("id", GUID(length=16), nullable=False),
        sa.Column("collaboration_id", GUID(length=16), nullable=False),
        sa.Column("submission_id", GUID(length=16), nullable=False),
        sa.Column("platform", sa.String(length=16), nullable=False),
        sa.Column("label", sa.String(length=24), nullable=False),
        sa.Column("due_at", UTC(timezone=True), nullable=False),
        sa.Column("queued_at", UTC(timezone=True), nullable=True),
        sa.Column("done_at", UTC(timezone=True), nullable=True),
        sa.Column("outcome", sa.String(length=24), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        *_audit(),
        sa.ForeignKeyConstraint(["collaboration_id"], ["collaboration.id"],
                                name=op.f("fk_social_metric_fetch_collaboration_id_collaboration"), ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["submission_id"], ["post_submission.id"],
                                name=op.f("fk_social_metric_fetch_submission_id_post_submission"), ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_social_metric_fetch")),
        sa.UniqueConstraint("submission_id", "label", name="uq_social_metric_fetch_label"),
    )
    op.create_index("ix_social_metric_fetch_due", "social_metric_fetch", ["due_at"],
                    sqlite_where=sa.text("done_at IS NULL"), postgresql_where=sa.text("done_at IS NULL"))

    op.create_table(
        "social_post_metric",
        sa.Column("id", GUID(length=16), nullable=False),
        sa.Column("collaboration_id", GUID(length=16), nullable=False),
        sa.Column("submission_id", GUID(length=16), nullable=False),
        sa.Column("label", sa.String(length=24), nullable=False),
        sa.Column("taken_at", UTC(timezone=True), nullable=False),
        sa.Column("views", sa.BigInteger(), nullable=True),
        sa.Column("likes", sa.BigInteger(), nullable=True),
        sa.Column("comments", sa.BigInteger(), nullable=True),
        sa.Column("shares", sa.BigInteger(), nullable=True),
        sa.Column("saves", sa.BigInteger(), nullable=True),
        sa.Column("reach", sa.BigInteger(), nullable=True),
        *_audit(),
        sa.ForeignKeyConstraint(["collaboration_id"], ["collaboration.id"],
                                name=op.f("fk_social_post_metric_collaboration_id_collaboration"), ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["submission_id"], ["post_submission.id"],
                                name=op.f("fk_social_post_metric_submission_id_post_submission"), ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_social_post_metric")),
    )
    op.create_index("ix_social_post_metric_collaboration", "social_post_metric", ["collaboration_id", "taken_at"])


def downgrade() -> None:
    op.drop_index("ix_social_post_metric_collaboration", table_name="social_post_metric")
    op.drop_table("social_post_metric")
    op.drop_index("ix_social_metric_fetch_due", table_name="social_metric_fetch")
    op.drop_table("social_metric_fetch")
    op.drop_index("ix_social_connection_audience", table_name="social_connection")
    op.drop_table("social_connection")
