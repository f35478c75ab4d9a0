"""reputation: reliability scores, the outcome event log and double-blind ratings

``reliability_score`` is keyed by (subject_kind, subject_id) and sorted through ``ix_reliability_score_ranking``;
``reputation_event`` is append-only (``uq_reputation_event_outcome`` records an outcome once, and triggers on both
databases refuse UPDATE and DELETE, so every score can always be rebuilt from it); ``rating`` holds one rating per
side of a collaboration. No foreign keys to marketplace tables: the reputation package stands on its own. Insert
triggers on ``creator`` and ``brand`` give every subject a (newcomer) score row, so ranked lists walk an index.

Revision ID: 0009
Revises: 0008
"""

from __future__ import annotations

from collections.abc import Sequence

import advanced_alchemy.types
import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

APPEND_ONLY = "reputation events are append-only (scores are rebuilt from them)"

POSTGRES_FUNCTION = f"""
CREATE FUNCTION reputation_event_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION '{APPEND_ONLY}: % refused on reputation_event %', TG_OP, OLD.id
        USING ERRCODE = 'integrity_constraint_violation';
END
$$
"""

SQLITE_TRIGGERS = [
    f"""
CREATE TRIGGER reputation_event_append_only_update BEFORE UPDATE ON reputation_event
BEGIN
    SELECT RAISE(ABORT, '{APPEND_ONLY}: UPDATE refused');
END
""",
    f"""
CREATE TRIGGER reputation_event_append_only_delete BEFORE DELETE ON reputation_event
BEGIN
    SELECT RAISE(ABORT, '{APPEND_ONLY}: DELETE refused');
END
""",
]


#: Every creator and brand gets a score row the moment it exists (a newcomer's: no evidence, rank 500), so ranked
#: lists can inner-join the scores and walk ix_reliability_score_ranking instead of sorting every creator.
POSTGRES_SUBJECT_FUNCTION = """
CREATE FUNCTION reliability_score_for_new_subject() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO reliability_score (subject_kind, subject_id) VALUES (TG_ARGV[0], NEW.id) ON CONFLICT DO NOTHING;
    RETURN NEW;
END
$$
"""
POSTGRES_SUBJECT_STATEMENTS = [
    "CREATE TRIGGER creator_reliability_score AFTER INSERT ON creator"
    " FOR EACH ROW EXECUTE FUNCTION reliability_score_for_new_subject('creator')",
    "CREATE TRIGGER brand_reliability_score AFTER INSERT ON brand"
    " FOR EACH ROW EXECUTE FUNCTION reliability_score_for_new_subject('brand')",
    "INSERT INTO reliability_score (subject_kind, subject_id) SELECT 'creator', id FROM creator ON CONFLICT DO NOTHING",
    "INSERT INTO reliability_score (subject_kind, subject_id) SELECT 'brand', id FROM brand ON CONFLICT DO NOTHING",
]
SQLITE_SUBJECT_STATEMENTS = [
    "CREATE TRIGGER creator_reliability_score AFTER INSERT ON creator BEGIN"
    " INSERT OR IGNORE INTO reliability_score (subject_kind, subject_id) VALUES ('creator', NEW.id); END",
    "CREATE TRIGGER brand_reliability_score AFTER INSERT ON brand BEGIN"
    " INSERT OR IGNORE INTO reliability_score (subject_kind, subject_id) VALUES ('brand', NEW.id); END",
    "INSERT OR IGNORE INTO reliability_score (subject_kind, subject_id) SELECT 'creator', id FROM creator",
    "INSERT OR IGNORE INTO reliability_score (subject_kind, subject_id) SELECT 'brand', id FROM brand",
]


def _subject_rows() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(POSTGRES_SUBJECT_FUNCTION)
        statements = POSTGRES_SUBJECT_STATEMENTS
    else:
        statements = SQLITE_SUBJECT_STATEMENTS
    for statement in statements:
        op.execute(statement)


def _count(name: str) -> sa.Column:
    return sa.Column(name, sa.Integer(), server_default="0", nullable=False)


def upgrade() -> None:
    op.create_table(
        "reliability_score",
        sa.Column("subject_kind", sa.Enum("creator", "brand", name="subjectkind", native_enum=False, length=8),
                  nullable=False),
        sa.Column("subject_id", advanced_alchemy.types.guid.GUID(length=16), nullable=False),
        sa.Column("r", sa.Float(), server_default="0", nullable=False),
        sa.Column("s", sa.Float(), server_default="0", nullable=False),
        sa.Column("evidence_at", advanced_alchemy.types.datetime.DateTimeUTC(timezone=True), nullable=True),
        _count("events_count"),
        _count("on_time_count"),
        _count("late_count"),
        _count("ghosted_count"),
        _count("removed_count"),
        _count("cancelled_count"),
        _count("disputes_lost_count"),
        _count("did_not_ship_count"),
        _count("ratings_received"),
        _count("completed_deals"),
        _count("distinct_counterparties"),
        sa.Column("ghosted_at", sa.JSON(), server_default=sa.text("'[]'"), nullable=False),
        sa.Column("suspended_at", advanced_alchemy.types.datetime.DateTimeUTC(timezone=True), nullable=True),
        sa.Column("review_cleared_at", advanced_alchemy.types.datetime.DateTimeUTC(timezone=True), nullable=True),
        sa.Column("review_cleared_by_id", advanced_alchemy.types.guid.GUID(length=16), nullable=True),
        _count("ratings_given"),
        _count("extreme_ratings_given"),
        sa.Column("ranking_score", sa.Float(), server_default="0", nullable=False),
        sa.Column("expected", sa.Float(), server_default="0.5", nullable=False),
        sa.Column("rank_order", sa.BigInteger(), server_default="500", nullable=False),
        sa.Column("tier", sa.String(length=16), server_default="NEW", nullable=False),
        sa.Column("ranked_at", advanced_alchemy.types.datetime.DateTimeUTC(timezone=True), nullable=True),
        sa.CheckConstraint("r >= 0 AND s >= 0", name=op.f("ck_reliability_score_evidence_not_negative")),
        sa.PrimaryKeyConstraint("subject_kind", "subject_id", name=op.f("pk_reliability_score")),
    )
    op.create_index(
        "ix_reliability_score_ranking",
        "reliability_score",
        ["subject_kind", "rank_order", "subject_id"],
        unique=False,
    )
    op.create_index("ix_reliability_score_suspended", "reliability_score", ["suspended_at"], unique=False)

    op.create_table(
        "reputation_event",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            sa.Identity(always=False, start=1, increment=1),
            nullable=False,
        ),
        sa.Column("subject_kind", sa.Enum("creator", "brand", name="subjectkind", native_enum=False, length=8),
                  nullable=False),
        sa.Column("subject_id", advanced_alchemy.types.guid.GUID(length=16), nullable=False),
        sa.Column(
            "kind",
            sa.Enum(
                "creator.on_time",
                "creator.late",
                "creator.ghosted",
                "creator.post_removed",
                "creator.cancelled_after_signing",
                "creator.dispute_lost",
                "brand.released_on_time",
                "brand.late_release",
                "brand.did_not_ship",
                "brand.dispute_lost",
                "rating",
                name="eventkind",
                native_enum=False,
                length=40,
            ),
            nullable=False,
        ),
        sa.Column("value", sa.Float(), nullable=False),
        sa.Column("weight", sa.Float(), nullable=False),
        sa.Column("deal_value_minor", sa.BigInteger(), nullable=False),
        sa.Column("currency_exponent", sa.SmallInteger(), nullable=False),
        sa.Column("collaboration_id", advanced_alchemy.types.guid.GUID(length=16), nullable=False),
        sa.Column("counterparty_id", advanced_alchemy.types.guid.GUID(length=16), nullable=True),
        sa.Column("occurred_at", advanced_alchemy.types.datetime.DateTimeUTC(timezone=True), nullable=False),
        sa.Column("recorded_at", advanced_alchemy.types.datetime.DateTimeUTC(timezone=True), nullable=False),
        sa.CheckConstraint("value >= -1 AND value <= 1", name=op.f("ck_reputation_event_value_in_range")),
        sa.CheckConstraint("weight >= 0", name=op.f("ck_reputation_event_weight_not_negative")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_reputation_event")),
        sa.UniqueConstraint(
            "collaboration_id", "subject_kind", "subject_id", "kind", name="uq_reputation_event_outcome"
        ),
    )
    op.create_index(
        "ix_reputation_event_subject_time",
        "reputation_event",
        ["subject_kind", "subject_id", "occurred_at"],
        unique=False,
    )

    op.create_table(
        "rating",
        sa.Column("id", advanced_alchemy.types.guid.GUID(length=16), nullable=False),
        sa.Column("collaboration_id", advanced_alchemy.types.guid.GUID(length=16), nullable=False),
        sa.Column("rater_side", sa.Enum("creator", "brand", name="subjectkind", native_enum=False, length=8),
                  nullable=False),
        sa.Column("rater_id", advanced_alchemy.types.guid.GUID(length=16), nullable=False),
        sa.Column("rater_user_id", advanced_alchemy.types.guid.GUID(length=16), nullable=True),
        sa.Column("ratee_kind", sa.Enum("creator", "brand", name="subjectkind", native_enum=False, length=8),
                  nullable=False),
        sa.Column("ratee_id", advanced_alchemy.types.guid.GUID(length=16), nullable=False),
        sa.Column("stars", sa.SmallInteger(), nullable=False),
        sa.Column("comment", sa.Text(), nullable=False),
        sa.Column("rater_weight", sa.Float(), nullable=False),
        sa.Column("created_at", advanced_alchemy.types.datetime.DateTimeUTC(timezone=True), nullable=False),
        sa.Column("window_closes_at", advanced_alchemy.types.datetime.DateTimeUTC(timezone=True), nullable=False),
        sa.Column("revealed_at", advanced_alchemy.types.datetime.DateTimeUTC(timezone=True), nullable=True),
        sa.Column("sa_orm_sentinel", sa.Integer(), nullable=True),
        sa.CheckConstraint("stars >= 1 AND stars <= 5", name=op.f("ck_rating_stars_in_range")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_rating")),
        sa.UniqueConstraint("collaboration_id", "rater_side", name="uq_rating_once_per_side"),
    )
    op.create_index("ix_rating_ratee", "rating", ["ratee_kind", "ratee_id", "revealed_at"], unique=False)
    op.create_index("ix_rating_reveal_due", "rating", ["revealed_at", "window_closes_at"], unique=False)

    if op.get_bind().dialect.name == "postgresql":
        op.execute(POSTGRES_FUNCTION)
        op.execute(
            "CREATE TRIGGER reputation_event_append_only BEFORE UPDATE OR DELETE ON reputation_event"
            " FOR EACH ROW EXECUTE FUNCTION reputation_event_append_only()"
        )
    else:
        for trigger in SQLITE_TRIGGERS:
            op.execute(trigger)
    _subject_rows()


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER IF EXISTS creator_reliability_score ON creator")
        op.execute("DROP TRIGGER IF EXISTS brand_reliability_score ON brand")
        op.execute("DROP FUNCTION IF EXISTS reliability_score_for_new_subject()")
        op.execute("DROP TRIGGER IF EXISTS reputation_event_append_only ON reputation_event")
        op.execute("DROP FUNCTION IF EXISTS reputation_event_append_only()")
    else:
        op.execute("DROP TRIGGER IF EXISTS creator_reliability_score")
        op.execute("DROP TRIGGER IF EXISTS brand_reliability_score")
        op.execute("DROP TRIGGER IF EXISTS reputation_event_append_only_update")
        op.execute("DROP TRIGGER IF EXISTS reputation_event_append_only_delete")
    op.drop_index("ix_rating_reveal_due", table_name="rating")
    op.drop_index("ix_rating_ratee", table_name="rating")
    op.drop_table("rating")
    op.drop_index("ix_reputation_event_subject_time", table_name="reputation_event")
    op.drop_table("reputation_event")
    op.drop_index("ix_reliability_score_suspended", table_name="reliability_score")
    op.drop_index("ix_reliability_score_ranking", table_name="reliability_score")
    op.drop_table("reliability_score")
