"""the admin audit log refuses TRUNCATE too (PostgreSQL; SQLite has no TRUNCATE and its DELETE trigger covers it)

Row triggers (0010) refuse UPDATE and DELETE; a statement-level trigger closes TRUNCATE. Emptying the table now needs
a superuser disabling triggers on purpose, which the application's database role should not be.

Revision ID: 0012
Revises: 0011
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

FUNCTION = """
CREATE FUNCTION admin_audit_log_no_truncate() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'the admin audit log is append-only: TRUNCATE refused on admin_audit_log'
        USING ERRCODE = 'integrity_constraint_violation';
END
$$
"""


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(FUNCTION)
        op.execute("CREATE TRIGGER admin_audit_log_no_truncate BEFORE TRUNCATE ON admin_audit_log"
                   " FOR EACH STATEMENT EXECUTE FUNCTION admin_audit_log_no_truncate()")


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER IF EXISTS admin_audit_log_no_truncate ON admin_audit_log")
        op.execute("DROP FUNCTION IF EXISTS admin_audit_log_no_truncate()")
