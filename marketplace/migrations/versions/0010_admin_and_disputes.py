"""admin and disputes: dispute cases, statements, attachments, decisions, and the append-only admin audit log

``uq_dispute_open_per_collaboration`` (partial, both databases) allows one open case per collaboration;
``dispute_decision.dispute_id`` is unique, so a case is decided once whatever races. ``admin_audit_log`` refuses
UPDATE and DELETE through triggers on both databases.

Revision ID: 0010
Revises: 0009
"""

from __future__ import annotations

from collections.abc import Sequence

import advanced_alchemy.types
import sqlalchemy as sa
from alembic import op

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

APPEND_ONLY = "the admin audit log is append-only"

POSTGRES_FUNCTION = f"""
CREATE FUNCTION admin_audit_log_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION '{APPEND_ONLY}: % refused on admin_audit_log %', TG_OP, OLD.id
        USING ERRCODE = 'integrity_constraint_violation';
END
$$
"""

SQLITE_TRIGGERS = [
    f"""
CREATE TRIGGER admin_audit_log_append_only_update BEFORE UPDATE ON admin_audit_log
BEGIN
    SELECT RAISE(ABORT, '{APPEND_ONLY}: UPDATE refused');
END
""",
    f"""
CREATE TRIGGER admin_audit_log_append_only_delete BEFORE DELETE ON admin_audit_log
BEGIN
    SELECT RAISE(ABORT, '{APPEND_ONLY}: DELETE refused');
END
""",
]


def upgrade() -> None:
    op.create_table(
        "admin_audit_log",
        sa.Column("id", advanced_alchemy.types.guid.GUID(length=16), nullable=False),
        sa.Column("at", advanced_alchemy.types.datetime.DateTimeUTC(timezone=True), nullable=False),
        sa.Column("admin_id", advanced_alchemy.types.guid.GUID(length=16), nullable=True),
        sa.Column("admin_email", sa.String(length=320), nullable=False),
        sa.Column("action", sa.String(length=48), nullable=False),
        sa.Column("target_type", sa.String(length=32), nullable=False),
        sa.Column("target_id", sa.String(length=64), nullable=False),
        sa.Column("summary", sa.String(length=500), nullable=False),
        sa.Column("before", sa.JSON(), nullable=False),
        sa.Column("after", sa.JSON(), nullable=False),
        sa.Column("ip", sa.String(length=64), nullable=True),
        sa.Column("sa_orm_sentinel", sa.Integer(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_admin_audit_log")),
    )
    op.create_index("ix_admin_audit_log_action", "admin_audit_log", ["action", "at"], unique=False)
    op.create_index("ix_admin_audit_log_at", "admin_audit_log", ["at"], unique=False)
    op.create_index("ix_admin_audit_log_target", "admin_audit_log", ["target_type", "target_id"], unique=False)
    op.create_table(
        "dispute",
        sa.Column("id", advanced_alchemy.types.guid.GUID(length=16), nullable=False),
        sa.Column("collaboration_id", advanced_alchemy.types.guid.GUID(length=16), nullable=False),
        sa.Column(
            "kind", sa.Enum("dispute", "chargeback", "review", name="disputekind", native_enum=False, length=16), nullable=False
        ),
        sa.Column(
            "status", sa.Enum("open", "decided", name="disputestatus", native_enum=False, length=16), nullable=False
        ),
        sa.Column(
            "reason",
            sa.Enum(
                "not_posted",
                "brief_mismatch",
                "post_removed_early",
                "product_not_received",
                "payment_withheld",
                "other",
                "chargeback",
                "money_moved_outside",
                name="disputereason",
                native_enum=False,
                length=32,
            ),
            nullable=False,
        ),
        sa.Column("opened_by_party", sa.String(length=16), nullable=False),
        sa.Column("opened_by_id", advanced_alchemy.types.guid.GUID(length=16), nullable=True),
        sa.Column("opened_at", advanced_alchemy.types.datetime.DateTimeUTC(timezone=True), nullable=False),
        sa.Column("respondent_party", sa.String(length=16), nullable=True),
        sa.Column("response_due_at", advanced_alchemy.types.datetime.DateTimeUTC(timezone=True), nullable=True),
        sa.Column("responded_at", advanced_alchemy.types.datetime.DateTimeUTC(timezone=True), nullable=True),
        sa.Column("response_missed_at", advanced_alchemy.types.datetime.DateTimeUTC(timezone=True), nullable=True),
        sa.Column("chargeback_id", advanced_alchemy.types.guid.GUID(length=16), nullable=True),
        sa.Column("decided_at", advanced_alchemy.types.datetime.DateTimeUTC(timezone=True), nullable=True),
        sa.Column("sa_orm_sentinel", sa.Integer(), nullable=True),
        sa.Column("created_at", advanced_alchemy.types.datetime.DateTimeUTC(timezone=True), nullable=False),
        sa.Column("updated_at", advanced_alchemy.types.datetime.DateTimeUTC(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["chargeback_id"], ["chargeback.id"], name=op.f("fk_dispute_chargeback_id_chargeback"), ondelete="RESTRICT"
        ),
        sa.ForeignKeyConstraint(
            ["collaboration_id"],
            ["collaboration.id"],
            name=op.f("fk_dispute_collaboration_id_collaboration"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["opened_by_id"],
            ["user_account.id"],
            name=op.f("fk_dispute_opened_by_id_user_account"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_dispute")),
        sa.UniqueConstraint("chargeback_id", name=op.f("uq_dispute_chargeback_id")),
    )
    op.create_index("ix_dispute_collaboration", "dispute", ["collaboration_id", "opened_at"], unique=False)
    op.create_index("ix_dispute_status_opened", "dispute", ["status", "opened_at"], unique=False)
    op.create_index(
        "uq_dispute_open_per_collaboration",
        "dispute",
        ["collaboration_id"],
        unique=True,
        postgresql_where=sa.text("status = 'open'"),
        sqlite_where=sa.text("status = 'open'"),
    )
    op.create_table(
        "dispute_decision",
        sa.Column("id", advanced_alchemy.types.guid.GUID(length=16), nullable=False),
        sa.Column("dispute_id", advanced_alchemy.types.guid.GUID(length=16), nullable=False),
        sa.Column("collaboration_id", advanced_alchemy.types.guid.GUID(length=16), nullable=False),
        sa.Column(
            "outcome",
            sa.Enum("release", "refund", "split", name="outcome", native_enum=False, length=16),
            nullable=False,
        ),
        sa.Column("creator_amount", sa.BigInteger(), nullable=False),
        sa.Column("brand_amount", sa.BigInteger(), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("at_fault", sa.String(length=16), nullable=False),
        sa.Column("rationale", sa.Text(), nullable=False),
        sa.Column("decided_by_id", advanced_alchemy.types.guid.GUID(length=16), nullable=True),
        sa.Column("decided_at", advanced_alchemy.types.datetime.DateTimeUTC(timezone=True), nullable=False),
        sa.Column("sa_orm_sentinel", sa.Integer(), nullable=True),
        sa.Column("created_at", advanced_alchemy.types.datetime.DateTimeUTC(timezone=True), nullable=False),
        sa.Column("updated_at", advanced_alchemy.types.datetime.DateTimeUTC(timezone=True), nullable=False),
        sa.CheckConstraint(
            "creator_amount >= 0 AND brand_amount >= 0", name=op.f("ck_dispute_decision_amounts_not_negative")
        ),
        sa.ForeignKeyConstraint(
            ["collaboration_id"],
            ["collaboration.id"],
            name=op.f("fk_dispute_decision_collaboration_id_collaboration"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["decided_by_id"],
            ["user_account.id"],
            name=op.f("fk_dispute_decision_decided_by_id_user_account"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["dispute_id"], ["dispute.id"], name=op.f("fk_dispute_decision_dispute_id_dispute"), ondelete="RESTRICT"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_dispute_decision")),
        sa.UniqueConstraint("dispute_id", name=op.f("uq_dispute_decision_dispute_id")),
    )
    op.create_table(
        "dispute_statement",
        sa.Column("id", advanced_alchemy.types.guid.GUID(length=16), nullable=False),
        sa.Column("dispute_id", advanced_alchemy.types.guid.GUID(length=16), nullable=False),
        sa.Column("party", sa.String(length=16), nullable=False),
        sa.Column("author_id", advanced_alchemy.types.guid.GUID(length=16), nullable=True),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("sa_orm_sentinel", sa.Integer(), nullable=True),
        sa.Column("created_at", advanced_alchemy.types.datetime.DateTimeUTC(timezone=True), nullable=False),
        sa.Column("updated_at", advanced_alchemy.types.datetime.DateTimeUTC(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["author_id"],
            ["user_account.id"],
            name=op.f("fk_dispute_statement_author_id_user_account"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["dispute_id"], ["dispute.id"], name=op.f("fk_dispute_statement_dispute_id_dispute"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_dispute_statement")),
    )
    op.create_index("ix_dispute_statement_dispute", "dispute_statement", ["dispute_id", "created_at"], unique=False)
    op.create_table(
        "dispute_attachment",
        sa.Column("id", advanced_alchemy.types.guid.GUID(length=16), nullable=False),
        sa.Column("dispute_id", advanced_alchemy.types.guid.GUID(length=16), nullable=False),
        sa.Column("statement_id", advanced_alchemy.types.guid.GUID(length=16), nullable=False),
        sa.Column("filename", sa.String(length=200), nullable=False),
        sa.Column("path", sa.String(length=500), nullable=False),
        sa.Column("content_type", sa.String(length=100), nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("sa_orm_sentinel", sa.Integer(), nullable=True),
        sa.Column("created_at", advanced_alchemy.types.datetime.DateTimeUTC(timezone=True), nullable=False),
        sa.Column("updated_at", advanced_alchemy.types.datetime.DateTimeUTC(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["dispute_id"], ["dispute.id"], name=op.f("fk_dispute_attachment_dispute_id_dispute"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["statement_id"],
            ["dispute_statement.id"],
            name=op.f("fk_dispute_attachment_statement_id_dispute_statement"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_dispute_attachment")),
    )
    op.create_index(op.f("ix_dispute_attachment_dispute_id"), "dispute_attachment", ["dispute_id"], unique=False)

    if op.get_bind().dialect.name == "postgresql":
        op.execute(POSTGRES_FUNCTION)
        op.execute(
            "CREATE TRIGGER admin_audit_log_append_only BEFORE UPDATE OR DELETE ON admin_audit_log"
            " FOR EACH ROW EXECUTE FUNCTION admin_audit_log_append_only()"
        )
    else:
        for trigger in SQLITE_TRIGGERS:
            op.execute(trigger)


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER IF EXISTS admin_audit_log_append_only ON admin_audit_log")
        op.execute("DROP FUNCTION IF EXISTS admin_audit_log_append_only()")
    else:
        op.execute("DROP TRIGGER IF EXISTS admin_audit_log_append_only_update")
        op.execute("DROP TRIGGER IF EXISTS admin_audit_log_append_only_delete")
    op.drop_index(op.f("ix_dispute_attachment_dispute_id"), table_name="dispute_attachment")
    op.drop_table("dispute_attachment")
    op.drop_index("ix_dispute_statement_dispute", table_name="dispute_statement")
    op.drop_table("dispute_statement")
    op.drop_table("dispute_decision")
    op.drop_index(
        "uq_dispute_open_per_collaboration",
        table_name="dispute",
        postgresql_where=sa.text("status = 'open'"),
        sqlite_where=sa.text("status = 'open'"),
    )
    op.drop_index("ix_dispute_status_opened", table_name="dispute")
    op.drop_index("ix_dispute_collaboration", table_name="dispute")
    op.drop_table("dispute")
    op.drop_index("ix_admin_audit_log_target", table_name="admin_audit_log")
    op.drop_index("ix_admin_audit_log_at", table_name="admin_audit_log")
    op.drop_index("ix_admin_audit_log_action", table_name="admin_audit_log")
    op.drop_table("admin_audit_log")
