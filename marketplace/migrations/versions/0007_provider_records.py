"""provider records: webhook events and reconciliation results

Revision ID: 0007
Revises: 0006
"""

from __future__ import annotations

from collections.abc import Sequence

import advanced_alchemy.types
import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _audit_columns() -> list[sa.Column]:  # type: ignore[type-arg]
    return [
        sa.Column("sa_orm_sentinel", sa.Integer(), nullable=True),
        sa.Column("created_at", advanced_alchemy.types.datetime.DateTimeUTC(timezone=True), nullable=False),
        sa.Column("updated_at", advanced_alchemy.types.datetime.DateTimeUTC(timezone=True), nullable=False),
    ]


def upgrade() -> None:
    op.create_table(
        "webhook_event",
        sa.Column("id", advanced_alchemy.types.guid.GUID(length=16), nullable=False),
        sa.Column("provider", sa.String(length=16), nullable=False),
        sa.Column("event_id", sa.String(length=255), nullable=False),
        sa.Column("type", sa.String(length=100), nullable=False),
        sa.Column("object_id", sa.String(length=255), nullable=True),
        sa.Column("account", sa.String(length=255), nullable=True),
        sa.Column("provider_created", sa.BigInteger(), nullable=False),
        sa.Column("payload", sa.JSON(), nullable=False),
        sa.Column("received_at", advanced_alchemy.types.datetime.DateTimeUTC(timezone=True), nullable=False),
        sa.Column("processed_at", advanced_alchemy.types.datetime.DateTimeUTC(timezone=True), nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("last_error", sa.String(length=1000), nullable=True),
        sa.Column("outcome", sa.String(length=300), nullable=True),
        *_audit_columns(),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_webhook_event")),
        sa.UniqueConstraint("provider", "event_id", name="uq_webhook_event_provider_event_id"),
    )
    op.create_index(op.f("ix_webhook_event_object_id"), "webhook_event", ["object_id"], unique=False)
    op.create_index("ix_webhook_event_unprocessed", "webhook_event", ["processed_at", "received_at"], unique=False)

    op.create_table(
        "reconciliation_run",
        sa.Column("id", advanced_alchemy.types.guid.GUID(length=16), nullable=False),
        sa.Column("provider", sa.String(length=16), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("triggered_by", sa.String(length=120), nullable=False),
        sa.Column("started_at", advanced_alchemy.types.datetime.DateTimeUTC(timezone=True), nullable=False),
        sa.Column("finished_at", advanced_alchemy.types.datetime.DateTimeUTC(timezone=True), nullable=True),
        sa.Column("collaborations_checked", sa.Integer(), nullable=False),
        sa.Column("mismatch_count", sa.Integer(), nullable=False),
        sa.Column("errors", sa.Integer(), nullable=False),
        sa.Column("error", sa.String(length=1000), nullable=True),
        *_audit_columns(),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_reconciliation_run")),
    )
    op.create_index(op.f("ix_reconciliation_run_started_at"), "reconciliation_run", ["started_at"], unique=False)

    op.create_table(
        "reconciliation_mismatch",
        sa.Column("id", advanced_alchemy.types.guid.GUID(length=16), nullable=False),
        sa.Column("run_id", advanced_alchemy.types.guid.GUID(length=16), nullable=False),
        sa.Column("collaboration_id", advanced_alchemy.types.guid.GUID(length=16), nullable=True),
        sa.Column("escrow_id", advanced_alchemy.types.guid.GUID(length=16), nullable=True),
        sa.Column("kind", sa.String(length=48), nullable=False),
        sa.Column("provider_ref", sa.String(length=255), nullable=True),
        sa.Column("currency", sa.String(length=3), nullable=True),
        sa.Column("expected", sa.JSON(), nullable=False),
        sa.Column("actual", sa.JSON(), nullable=False),
        sa.Column("detail", sa.String(length=1000), nullable=False),
        *_audit_columns(),
        sa.ForeignKeyConstraint(
            ["run_id"],
            ["reconciliation_run.id"],
            name=op.f("fk_reconciliation_mismatch_run_id_reconciliation_run"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_reconciliation_mismatch")),
    )
    op.create_index(
        op.f("ix_reconciliation_mismatch_collaboration_id"), "reconciliation_mismatch", ["collaboration_id"],
        unique=False,
    )
    op.create_index(op.f("ix_reconciliation_mismatch_run_id"), "reconciliation_mismatch", ["run_id"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_reconciliation_mismatch_run_id"), table_name="reconciliation_mismatch")
    op.drop_index(op.f("ix_reconciliation_mismatch_collaboration_id"), table_name="reconciliation_mismatch")
    op.drop_table("reconciliation_mismatch")
    op.drop_index(op.f("ix_reconciliation_run_started_at"), table_name="reconciliation_run")
    op.drop_table("reconciliation_run")
    op.drop_index("ix_webhook_event_unprocessed", table_name="webhook_event")
    op.drop_index(op.f("ix_webhook_event_object_id"), table_name="webhook_event")
    op.drop_table("webhook_event")
