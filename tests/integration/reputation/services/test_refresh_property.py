"""The daily ranking refresh, in SQL, ranks every stored row as `services.ranking_values` does, on random rows."""

from __future__ import annotations

import random
import uuid
from datetime import timedelta, timezone
from typing import Any

import pytest
import sqlalchemy as sa

from reputation.models import ReliabilityScore, SubjectKind
from reputation.recompute import refresh_rankings
from reputation.services import ranking_values, track_record
from reputation.tiers import GHOST_PROBATION, TIER_RULES
from tests.integration.reputation.services.conftest import FLOAT_COLUMNS, RANKING_COLUMNS

_scores = ReliabilityScore.__table__
PLUS_TWO = timezone(timedelta(hours=2))


def _row(rng: random.Random, now: Any) -> dict[str, Any]:
    """A stored row as any path may have left it: evidence of every size and age (some newer than now, some
    undated), counts around the tier thresholds, ghostings on both sides of the probation's end (to the
    microsecond, in other offsets, some after now), a verified audience with and without evidence."""
    r, s = rng.choice([(0.0, 0.0), (rng.uniform(0, 40), rng.uniform(0, 8)), (rng.uniform(0, 3), rng.uniform(0, 3))])
    evidence_at = rng.choice(
        [None, now, now + timedelta(days=rng.randint(1, 20)), now - timedelta(days=rng.uniform(0, 900))]
    )
    rule = rng.choice(TIER_RULES)
    edge = now - GHOST_PROBATION
    ghostings = [
        rng.choice(
            [
                edge,
                edge + timedelta(microseconds=1),
                edge - timedelta(microseconds=1),
                now - timedelta(days=rng.uniform(0, 400)),
                now + timedelta(days=rng.uniform(0, 5)),
            ]
        )
        for _ in range(rng.choice([0, 0, 1, 2, 3]))
    ]
    ghostings = [t.astimezone(PLUS_TWO) if rng.random() < 0.2 else t for t in ghostings]
    ghostings = [t.replace(microsecond=0) if rng.random() < 0.3 else t for t in ghostings]
    return {
        "subject_kind": rng.choice(list(SubjectKind)),
        "subject_id": uuid.UUID(int=rng.getrandbits(128), version=4),
        "r": r,
        "s": s,
        "evidence_at": evidence_at,
        "completed_deals": rule.min_completed_deals + rng.choice([-1, 0, 3]),
        "distinct_counterparties": rule.min_counterparties + rng.choice([-1, 0, 2]),
        "ghosted_at": [t.isoformat() for t in sorted(ghostings)],
        "verified_audience": rng.random() < 0.4,
        # Stale ranking columns, for the refresh to overwrite.
        "ranking_score": 0.99,
        "expected": 0.01,
        "rank_order": 7,
        "tier": "GOLD",
    }


@pytest.mark.parametrize("seed", [1, 2, 3])
async def test_sql_refresh_ranks_every_row_as_ranking_values_does(runtime, clock, db, seed: int) -> None:
    rng = random.Random(seed)
    now = clock.now()
    await db.execute(sa.insert(ReliabilityScore), [_row(rng, now) for _ in range(80)])
    rows = (await db.execute(sa.select(_scores))).all()
    want = {}
    for row in rows:
        at = max(now, row.evidence_at) if row.evidence_at is not None else now
        want[(row.subject_kind, row.subject_id)] = ranking_values(
            track_record(row),  # type: ignore[arg-type]
            at,
            verified_audience=row.verified_audience,
        )
    # Every branch of the ranking is exercised by these rows.
    assert {values["tier"] for values in want.values()} >= {"NEW", "BRONZE", "SILVER"}

    # Batches smaller than the table, so several key ranges follow each other.
    assert await refresh_rankings(runtime.session_maker, now, batch_size=7) == len(rows)

    got = {(row.subject_kind, row.subject_id): row for row in (await db.execute(sa.select(_scores))).all()}
    assert got.keys() == want.keys()
    mismatches = []
    for key, values in want.items():
        for name in RANKING_COLUMNS:
            expected, actual = values[name], getattr(got[key], name)
            same = (
                actual == pytest.approx(expected, rel=1e-12, abs=1e-12) if name in FLOAT_COLUMNS else actual == expected
            )
            if not same:
                mismatches.append((key, name, actual, expected, got[key].evidence_at, got[key].ghosted_at))
    assert mismatches == []


async def test_refresh_of_an_empty_table_and_a_bad_batch_size(runtime, clock, db) -> None:
    await db.execute(sa.delete(ReliabilityScore))
    assert await refresh_rankings(runtime.session_maker, clock.now()) == 0
    with pytest.raises(ValueError, match="batch_size"):
        await refresh_rankings(runtime.session_maker, clock.now(), batch_size=0)
