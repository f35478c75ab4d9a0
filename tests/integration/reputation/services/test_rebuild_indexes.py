"""A rebuild that rewrites most score rows builds the ranking index after its writes (PostgreSQL); one that rewrites a
few writes through it; both give the same rows, and the index is the same afterwards."""

from __future__ import annotations

import random
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import create_async_engine

from reputation.events import EventKind
from reputation.models import ReliabilityScore, ReputationEvent, SubjectKind
from reputation.rebuild import REBUILT_INDEXES, rebuild_scores
from reputation.scoring import outcome_for, value_weight
from tests.integration.reputation.services.conftest import EXACT_COLUMNS, FLOAT_COLUMNS

T0 = datetime(2025, 6, 1, 9, 0, tzinfo=UTC)
KINDS = [EventKind.CREATOR_ON_TIME, EventKind.CREATOR_LATE, EventKind.CREATOR_GHOSTED, EventKind.CREATOR_POST_REMOVED]
#: A newcomer's derived columns (what the creator trigger inserts): a row a rebuild has to rewrite.
NEWCOMER = {
    "r": 0.0,
    "s": 0.0,
    "evidence_at": None,
    "events_count": 0,
    "on_time_count": 0,
    "late_count": 0,
    "ghosted_count": 0,
    "removed_count": 0,
    "completed_deals": 0,
    "distinct_counterparties": 0,
    "ghosted_at": [],
    "suspended_at": None,
    "ranking_score": 0.0,
    "expected": 0.5,
    "rank_order": 500,
    "tier": "NEW",
    "ranked_at": None,
}


async def _log(db, n: int) -> list[uuid.UUID]:
    """n creators with a few outcomes each; the first two thirds have a stored newcomer row, the rest none."""
    rng = random.Random(17)
    creators = [uuid.uuid4() for _ in range(n)]
    brands = [uuid.uuid4() for _ in range(4)]
    events = []
    for creator_id in creators:
        at = T0 + timedelta(days=rng.randint(-600, 100))
        for _ in range(rng.randint(1, 6)):
            at += timedelta(days=rng.randint(0, 90), microseconds=rng.randint(0, 999_999))
            kind = rng.choice(KINDS)
            outcome = outcome_for(kind, at, value_weight(rng.choice([999, 15_000, 250_000]), 2))
            events.append(
                {
                    "subject_kind": SubjectKind.CREATOR,
                    "subject_id": creator_id,
                    "kind": kind,
                    "value": outcome.value,
                    "weight": outcome.weight,
                    "deal_value_minor": 0,
                    "currency_exponent": 2,
                    "collaboration_id": uuid.uuid4(),
                    "counterparty_id": rng.choice(brands),
                    "occurred_at": at,
                    "recorded_at": at,
                }
            )
    await db.execute(sa.insert(ReputationEvent), events)
    await db.execute(
        sa.insert(ReliabilityScore),
        [{"subject_kind": SubjectKind.CREATOR, "subject_id": c, "ghosted_at": []} for c in creators[: n * 2 // 3]],
    )
    return creators


async def _rows(db) -> dict[Any, dict[str, Any]]:
    rows = (await db.scalars(sa.select(ReliabilityScore))).all()
    return {row.subject_id: {name: getattr(row, name) for name in (*EXACT_COLUMNS, *FLOAT_COLUMNS, "ghosted_at")}
            for row in rows}


def _approx(rows: dict[Any, dict[str, Any]]) -> dict[Any, dict[str, Any]]:
    """Rows to compare others with: floats to rounding (the paths add in other orders), the rest exactly."""
    return {
        key: {**row, **{name: pytest.approx(row[name], rel=1e-12, abs=1e-12) for name in FLOAT_COLUMNS}}
        for key, row in rows.items()
    }


async def _index_definitions(db, is_postgres: bool) -> dict[str, str]:
    if not is_postgres:
        rows = await db.execute(sa.text("SELECT name, sql FROM sqlite_master WHERE tbl_name = 'reliability_score'"
                                        " AND type = 'index' AND sql IS NOT NULL"))
    else:
        rows = await db.execute(sa.text(
            "SELECT indexname, indexdef FROM pg_indexes WHERE tablename = 'reliability_score'"
            " AND EXISTS (SELECT 1 FROM pg_index i WHERE i.indexrelid = CAST(indexname AS regclass)"
            "             AND i.indisvalid AND i.indisready)"))
    return dict(rows.all())


async def _reset(db, creators: list[uuid.UUID]) -> None:
    await db.execute(sa.update(ReliabilityScore).where(ReliabilityScore.subject_id.in_(creators)).values(**NEWCOMER))


async def test_most_rows_rewritten_build_the_ranking_index_after_the_writes(runtime, clock, db, is_postgres) -> None:
    creators = await _log(db, 60)
    indexes = await _index_definitions(db, is_postgres)
    assert set(REBUILT_INDEXES) <= indexes.keys()
    bulk = REBUILT_INDEXES if is_postgres else ()

    first = await rebuild_scores(runtime.session_maker, now=clock.now())
    assert (first.changed, first.indexes_rebuilt) == (60, bulk)  # 40 newcomer rows rewritten, 20 inserted
    rebuilt = _approx(await _rows(db))
    assert rebuilt.keys() == set(creators)
    assert all(row["events_count"] > 0 and row["ranked_at"] == clock.now() for row in rebuilt.values())
    assert await _index_definitions(db, is_postgres) == indexes

    # A third of the rows wrong: written through the index, to the same values.
    await _reset(db, creators[::3])
    few = await rebuild_scores(runtime.session_maker, now=clock.now())
    assert (few.changed, few.indexes_rebuilt) == (20, ())
    assert await _rows(db) == rebuilt

    # Two thirds wrong: the index is built again, the rows are the same as either way.
    await _reset(db, [c for i, c in enumerate(creators) if i % 3])
    most = await rebuild_scores(runtime.session_maker, now=clock.now())
    assert (most.changed, most.indexes_rebuilt) == (40, bulk)
    assert await _rows(db) == rebuilt
    assert await _index_definitions(db, is_postgres) == indexes

    assert (await rebuild_scores(runtime.session_maker, now=clock.now())).changed == 0


@pytest.mark.postgres_only("table locks: SQLite has no readers' lock to wait for")
async def test_a_reader_holding_the_table_keeps_the_index_and_the_rebuild_writes_through_it(
    database_url, runtime, clock, db, is_postgres
) -> None:
    creators = await _log(db, 30)
    indexes = await _index_definitions(db, is_postgres)
    reader = create_async_engine(database_url)
    try:
        async with reader.connect() as conn, conn.begin():
            # An open transaction that has read the table holds its ACCESS SHARE lock until it ends.
            assert await conn.scalar(sa.text("SELECT count(*) FROM reliability_score")) == 20
            report = await rebuild_scores(runtime.session_maker, now=clock.now())
            # Still in its transaction, it reads the rebuild's rows (the 10 missing ones inserted) without waiting.
            assert await conn.scalar(sa.text("SELECT count(*) FROM reliability_score")) == 30
    finally:
        await reader.dispose()
    assert (report.changed, report.indexes_rebuilt) == (30, ())
    assert (await _rows(db)).keys() == set(creators)
    assert await _index_definitions(db, is_postgres) == indexes
    # The same rows as a rebuild that built the index again.
    written = _approx(await _rows(db))
    await _reset(db, creators)
    again = await rebuild_scores(runtime.session_maker, now=clock.now())
    assert again.indexes_rebuilt == REBUILT_INDEXES
    assert await _rows(db) == written
