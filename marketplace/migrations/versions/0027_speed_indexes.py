"""speed indexes for /gigs (plans in bench/explain_gigs.py):

* gig deliverables by (gig_id, platform): the platform filter's semi-join answers from the index alone instead of
  fetching every deliverable row of every candidate gig ("full text + platform" visited ~2,000 deliverable buffers
  for 490 candidates);
* PostgreSQL: each gig's niches copied onto the gig row (``gig.niches``, kept by a trigger on gig_niche) and one GIN
  index over the full-text document and the niches, so a search word with a niche is one bitmap scan of the matches
  of both instead of a nested semi-join per full-text match ("everything" probed gig_niche 5,545 times, 48 ms).
  SQLite keeps the column empty and filters through gig_niche.

Revision ID: 0027
Revises: 0026
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0027"
down_revision: str | None = "0026"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index("ix_gig_deliverable_gig_platform", "gig_deliverable", ["gig_id", "platform"])
    op.add_column("gig", sa.Column("niches", postgresql.ARRAY(sa.String(40)).with_variant(sa.JSON(), "sqlite"),
                                   nullable=True))
    op.create_index("ix_gig_search_niches", "gig", ["search_vector", "niches"], postgresql_using="gin")
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute(
        """
        CREATE FUNCTION gig_niches_sync() RETURNS trigger LANGUAGE plpgsql AS $$
        DECLARE
            target uuid := CASE WHEN TG_OP = 'DELETE' THEN OLD.gig_id ELSE NEW.gig_id END;
        BEGIN
            UPDATE gig SET niches = ARRAY(SELECT niche FROM gig_niche WHERE gig_id = target ORDER BY niche)
            WHERE id = target;
            IF TG_OP = 'UPDATE' AND OLD.gig_id <> NEW.gig_id THEN
                UPDATE gig SET niches = ARRAY(SELECT niche FROM gig_niche WHERE gig_id = OLD.gig_id ORDER BY niche)
                WHERE id = OLD.gig_id;
            END IF;
            RETURN NULL;
        END
        $$
        """
    )
    op.execute(
        "CREATE TRIGGER gig_niches_sync AFTER INSERT OR UPDATE OR DELETE ON gig_niche "
        "FOR EACH ROW EXECUTE FUNCTION gig_niches_sync()"
    )
    op.execute(
        """
        UPDATE gig SET niches = n.niches
        FROM (SELECT gig_id, array_agg(niche ORDER BY niche) AS niches FROM gig_niche GROUP BY gig_id) n
        WHERE gig.id = n.gig_id
        """
    )


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER IF EXISTS gig_niches_sync ON gig_niche")
        op.execute("DROP FUNCTION IF EXISTS gig_niches_sync()")
    op.drop_index("ix_gig_search_niches", table_name="gig")
    op.drop_column("gig", "niches")
    op.drop_index("ix_gig_deliverable_gig_platform", table_name="gig_deliverable")
