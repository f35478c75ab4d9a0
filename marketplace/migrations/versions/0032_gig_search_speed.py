"""gig search speed: a narrow search table for /gigs (``gig_search``, see marketplace.gigs.models).

The "everything" and "full text + platform" mixes read 700-1,700 gig heap blocks per request (28-53 ms in
PostgreSQL): gig rows are ~1.3 KB and the table is larger than shared_buffers. ``gig_search`` holds one narrow row
per open gig with only what the filters and sorts read: sort columns, currency, product value, the full-text document
without word positions (``strip``: search matches words and prefixes, never phrases), and niches, platforms and
countries as tags under one GIN index with the document. PostgreSQL keeps it in step with statement triggers on gig
and gig_deliverable (gig_niche reaches it through the ``gig.niches`` copy of migration 0027), in the same transaction
as every write; deleting a gig cascades. SQLite creates the table and leaves it empty (it searches gig_search_term).

Revision ID: 0032
Revises: 0031
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from advanced_alchemy.types import GUID, DateTimeUTC
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0032"
down_revision: str | None = "0031"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

#: Rewrites the search rows of the given gigs from their current state: open gigs get a fresh row, others none.
#: Countries follow the old filter exactly: an empty JSON list is open to all ("c:*"), a list names its countries.
REFRESH = """
CREATE FUNCTION gig_search_refresh(ids uuid[]) RETURNS void LANGUAGE sql AS $$
    DELETE FROM gig_search s WHERE s.gig_id = ANY(ids)
       AND NOT EXISTS (SELECT 1 FROM gig g WHERE g.id = s.gig_id AND g.status = 'open');
    INSERT INTO gig_search (gig_id, published_at, base_fee_amount, apply_by, currency, product_retail_value, tags,
                            search_vector)
    SELECT g.id, g.published_at, g.base_fee_amount, g.apply_by, g.currency, g.product_retail_value,
           ARRAY(SELECT 'n:' || n FROM unnest(coalesce(g.niches, '{}'::varchar[])) n)::text[]
           || ARRAY(SELECT DISTINCT 'p:' || d.platform FROM gig_deliverable d WHERE d.gig_id = g.id)::text[]
           || CASE WHEN json_typeof(g.eligible_countries) <> 'array' THEN '{}'::text[]
                   WHEN json_array_length(g.eligible_countries) = 0 THEN ARRAY['c:*']::text[]
                   ELSE ARRAY(SELECT 'c:' || c FROM json_array_elements_text(g.eligible_countries) c)::text[] END,
           strip(g.search_vector)
    FROM gig g WHERE g.id = ANY(ids) AND g.status = 'open'
    ON CONFLICT (gig_id) DO UPDATE SET
        published_at = EXCLUDED.published_at, base_fee_amount = EXCLUDED.base_fee_amount,
        apply_by = EXCLUDED.apply_by, currency = EXCLUDED.currency,
        product_retail_value = EXCLUDED.product_retail_value, tags = EXCLUDED.tags,
        search_vector = EXCLUDED.search_vector;
$$
"""
GIG_SYNC = """
CREATE FUNCTION gig_search_sync_gig() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM gig_search_refresh(ARRAY(SELECT id FROM changed));
    RETURN NULL;
END
$$
"""
DELIVERABLE_SYNC = """
CREATE FUNCTION gig_search_sync_deliverable() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM gig_search_refresh(ARRAY(SELECT DISTINCT gig_id FROM changed));
    RETURN NULL;
END
$$
"""
#: 0027 kept the niche copy on the gig row with a row trigger on gig_niche: one UPDATE of gig per niche row, and
#: now each such UPDATE refreshes the search row too (a set-based insert of 200k niche rows ran for minutes). The copy
#: is kept per statement instead: one UPDATE of the gigs a statement touched, hence one refresh.
NICHES_SYNC = """
CREATE FUNCTION gig_niches_sync_statement() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE gig SET niches = ARRAY(SELECT n.niche FROM gig_niche n WHERE n.gig_id = gig.id ORDER BY n.niche)
    WHERE gig.id IN (SELECT DISTINCT gig_id FROM changed);
    RETURN NULL;
END
$$
"""
TRIGGERS = [
    ("gig_niches_insert", "gig_niche", "INSERT", "NEW", "gig_niches_sync_statement"),
    ("gig_niches_update_new", "gig_niche", "UPDATE", "NEW", "gig_niches_sync_statement"),
    ("gig_niches_update_old", "gig_niche", "UPDATE", "OLD", "gig_niches_sync_statement"),
    ("gig_niches_delete", "gig_niche", "DELETE", "OLD", "gig_niches_sync_statement"),
    ("gig_search_gig_insert", "gig", "INSERT", "NEW", "gig_search_sync_gig"),
    ("gig_search_gig_update", "gig", "UPDATE", "NEW", "gig_search_sync_gig"),
    ("gig_search_deliverable_insert", "gig_deliverable", "INSERT", "NEW", "gig_search_sync_deliverable"),
    ("gig_search_deliverable_update_new", "gig_deliverable", "UPDATE", "NEW", "gig_search_sync_deliverable"),
    ("gig_search_deliverable_update_old", "gig_deliverable", "UPDATE", "OLD", "gig_search_sync_deliverable"),
    ("gig_search_deliverable_delete", "gig_deliverable", "DELETE", "OLD", "gig_search_sync_deliverable"),
]


def upgrade() -> None:
    op.create_table(
        "gig_search",
        sa.Column("gig_id", GUID(length=16), nullable=False),
        sa.Column("published_at", DateTimeUTC(timezone=True), nullable=True),
        sa.Column("base_fee_amount", sa.BigInteger(), nullable=False),
        sa.Column("apply_by", DateTimeUTC(timezone=True), nullable=True),
        sa.Column("currency", sa.String(3), nullable=False),
        sa.Column("product_retail_value", sa.BigInteger(), nullable=False),
        sa.Column("tags", postgresql.ARRAY(sa.Text()).with_variant(sa.JSON(), "sqlite"), nullable=False),
        sa.Column("search_vector", postgresql.TSVECTOR().with_variant(sa.Text(), "sqlite"), nullable=True),
        sa.ForeignKeyConstraint(["gig_id"], ["gig.id"], name=op.f("fk_gig_search_gig_id_gig"), ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("gig_id", name=op.f("pk_gig_search")),
    )
    op.create_index("ix_gig_search_published", "gig_search", ["published_at", "gig_id"])
    op.create_index("ix_gig_search_fee", "gig_search", ["base_fee_amount", "gig_id"])
    op.create_index("ix_gig_search_apply_by", "gig_search", ["apply_by", "gig_id"])
    op.create_index("ix_gig_search_match", "gig_search", ["search_vector", "tags"], postgresql_using="gin")
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute(REFRESH)
    op.execute(GIG_SYNC)
    op.execute(DELIVERABLE_SYNC)
    op.execute("DROP TRIGGER IF EXISTS gig_niches_sync ON gig_niche")  # 0027's row trigger (its function stays)
    op.execute(NICHES_SYNC)
    for name, table, event, which, function in TRIGGERS:
        op.execute(
            f"CREATE TRIGGER {name} AFTER {event} ON {table} REFERENCING {which} TABLE AS changed "
            f"FOR EACH STATEMENT EXECUTE FUNCTION {function}()"
        )
    # Backfill: every open gig as it is now.
    op.execute("SELECT gig_search_refresh(ARRAY(SELECT id FROM gig WHERE status = 'open'))")


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        for name, table, *_ in TRIGGERS:
            op.execute(f"DROP TRIGGER IF EXISTS {name} ON {table}")
        op.execute("DROP FUNCTION IF EXISTS gig_search_sync_gig()")
        op.execute("DROP FUNCTION IF EXISTS gig_search_sync_deliverable()")
        op.execute("DROP FUNCTION IF EXISTS gig_search_refresh(uuid[])")
        op.execute("DROP FUNCTION IF EXISTS gig_niches_sync_statement()")
        op.execute(
            "CREATE TRIGGER gig_niches_sync AFTER INSERT OR UPDATE OR DELETE ON gig_niche "
            "FOR EACH ROW EXECUTE FUNCTION gig_niches_sync()"
        )
    op.drop_table("gig_search")
