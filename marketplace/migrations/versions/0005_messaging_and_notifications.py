"""message threads and in-app notifications

Inbox and notification-list indexes, per-user email preferences, and triggers that make ``message`` rows
immutable on both databases (they are dispute evidence): UPDATE and DELETE are refused, except an UPDATE that only
clears ``sender_user_id`` (the foreign key's ON DELETE SET NULL when a user is erased).

Revision ID: 0005
Revises: 0003
"""

from __future__ import annotations

from collections.abc import Sequence

import advanced_alchemy.types
import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

IMMUTABLE = "messages are immutable (dispute evidence)"

POSTGRES_FUNCTION = f"""
CREATE FUNCTION message_immutable() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'UPDATE' AND NEW.sender_user_id IS NULL
       AND (NEW.id, NEW.thread_id, NEW.seq, NEW.sender_party, NEW.body, NEW.created_at)
           IS NOT DISTINCT FROM (OLD.id, OLD.thread_id, OLD.seq, OLD.sender_party, OLD.body, OLD.created_at) THEN
        RETURN NEW;
    END IF;
    RAISE EXCEPTION '{IMMUTABLE}: % refused on message %', TG_OP, OLD.id
        USING ERRCODE = 'integrity_constraint_violation';
END
$$
"""

SQLITE_UPDATE_TRIGGER = f"""
CREATE TRIGGER message_immutable_update BEFORE UPDATE ON message
WHEN NOT (NEW.sender_user_id IS NULL AND NEW.id = OLD.id AND NEW.thread_id = OLD.thread_id AND NEW.seq = OLD.seq
          AND NEW.sender_party = OLD.sender_party AND NEW.body = OLD.body AND NEW.created_at = OLD.created_at)
BEGIN
    SELECT RAISE(ABORT, '{IMMUTABLE}: UPDATE refused');
END
"""

SQLITE_DELETE_TRIGGER = f"""
CREATE TRIGGER message_immutable_delete BEFORE DELETE ON message
BEGIN
    SELECT RAISE(ABORT, '{IMMUTABLE}: DELETE refused');
END
"""


def upgrade() -> None:
    op.create_table(
        "notification_preference",
        sa.Column("id", advanced_alchemy.types.guid.GUID(length=16), nullable=False),
        sa.Column("user_id", advanced_alchemy.types.guid.GUID(length=16), nullable=False),
        sa.Column("kind_group", sa.String(length=32), nullable=False),
        sa.Column("email", sa.Boolean(), nullable=False),
        sa.Column("sa_orm_sentinel", sa.Integer(), nullable=True),
        sa.Column("created_at", advanced_alchemy.types.datetime.DateTimeUTC(timezone=True), nullable=False),
        sa.Column("updated_at", advanced_alchemy.types.datetime.DateTimeUTC(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["user_account.id"],
            name=op.f("fk_notification_preference_user_id_user_account"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_notification_preference")),
        sa.UniqueConstraint("user_id", "kind_group", name=op.f("uq_notification_preference_user_id")),
    )
    op.create_index("ix_notification_user_recent", "notification", ["user_id", "id"], unique=False)
    op.create_index(
        "ix_message_thread_brand_recent", "message_thread", ["brand_id", "last_message_at", "id"], unique=False
    )
    op.create_index(
        "ix_message_thread_creator_recent", "message_thread", ["creator_id", "last_message_at", "id"], unique=False
    )
    op.create_index("ix_message_thread_last_message_at", "message_thread", ["last_message_at"], unique=False)

    if op.get_bind().dialect.name == "postgresql":
        op.execute(POSTGRES_FUNCTION)
        op.execute(
            "CREATE TRIGGER message_immutable BEFORE UPDATE OR DELETE ON message"
            " FOR EACH ROW EXECUTE FUNCTION message_immutable()"
        )
    else:
        op.execute(SQLITE_UPDATE_TRIGGER)
        op.execute(SQLITE_DELETE_TRIGGER)


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER IF EXISTS message_immutable ON message")
        op.execute("DROP FUNCTION IF EXISTS message_immutable()")
    else:
        op.execute("DROP TRIGGER IF EXISTS message_immutable_update")
        op.execute("DROP TRIGGER IF EXISTS message_immutable_delete")
    op.drop_index("ix_message_thread_last_message_at", table_name="message_thread")
    op.drop_index("ix_message_thread_creator_recent", table_name="message_thread")
    op.drop_index("ix_message_thread_brand_recent", table_name="message_thread")
    op.drop_index("ix_notification_user_recent", table_name="notification")
    op.drop_table("notification_preference")
