"""brand team invitations, creator profiles, gigs, discovery and full-text search

Revision ID: 0003
Revises: 0002
"""

from __future__ import annotations

import re
from collections.abc import Sequence

import advanced_alchemy.types
import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Kept in step with marketplace.gigs.search.search_terms (a migration must not import code that may change later).
_WORD = re.compile(r"[^\W_]+")


def _terms(*texts: str) -> set[str]:
    return {w for text in texts for w in _WORD.findall((text or "").lower()) if 2 <= len(w) <= 40}


def upgrade() -> None:
    op.create_table(
        "gig_search_term",
        sa.Column("gig_id", advanced_alchemy.types.guid.GUID(length=16), nullable=False),
        sa.Column("term", sa.String(length=40), nullable=False),
        sa.ForeignKeyConstraint(
            ["gig_id"], ["gig.id"], name=op.f("fk_gig_search_term_gig_id_gig"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("gig_id", "term", name=op.f("pk_gig_search_term")),
    )
    op.create_index("ix_gig_search_term_term", "gig_search_term", ["term", "gig_id"], unique=False)
    bind = op.get_bind()
    with op.batch_alter_table("gig") as batch_op:
        batch_op.add_column(sa.Column(
            "search_vector", postgresql.TSVECTOR().with_variant(sa.Text(), "sqlite"), nullable=True
        ))
    # On SQLite this indexes an always-empty column; it exists so both databases have the same schema.
    op.create_index("ix_gig_search_vector", "gig", ["search_vector"], unique=False, postgresql_using="gin")
    if bind.dialect.name == "postgresql":
        # The stored document follows the title and brief whoever writes them (services, bulk loads, SQL).
        op.execute("""
            CREATE FUNCTION gig_search_vector_update() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN
                NEW.search_vector := to_tsvector('english', (NEW.title || ' ') || NEW.brief);
                RETURN NEW;
            END
            $$
        """)
        op.execute("""
            CREATE TRIGGER gig_search_vector_update BEFORE INSERT OR UPDATE OF title, brief ON gig
            FOR EACH ROW EXECUTE FUNCTION gig_search_vector_update()
        """)
        op.execute("UPDATE gig SET search_vector = to_tsvector('english', (title || ' ') || brief)")
    else:
        # Gigs written before this revision get their words indexed once.
        gig = sa.table("gig", sa.column("id", advanced_alchemy.types.guid.GUID(length=16)),
                       sa.column("title", sa.String), sa.column("brief", sa.Text))
        term_table = sa.table("gig_search_term", sa.column("gig_id", advanced_alchemy.types.guid.GUID(length=16)),
                              sa.column("term", sa.String))
        rows = [
            {"gig_id": gig_id, "term": term}
            for gig_id, title, brief in bind.execute(sa.select(gig.c.id, gig.c.title, gig.c.brief))
            for term in _terms(title, brief)
        ]
        if rows:
            bind.execute(sa.insert(term_table), rows)


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER gig_search_vector_update ON gig")
        op.execute("DROP FUNCTION gig_search_vector_update()")
    op.drop_index("ix_gig_search_vector", table_name="gig", postgresql_using="gin")
    with op.batch_alter_table("gig") as batch_op:
        batch_op.drop_column("search_vector")
    op.drop_index("ix_gig_search_term_term", table_name="gig_search_term")
    op.drop_table("gig_search_term")
