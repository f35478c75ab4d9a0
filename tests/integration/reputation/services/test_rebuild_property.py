"""The set-based SQL rebuild equals the pure scoring functions for every subject of random event histories."""

from __future__ import annotations

import random
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import sqlalchemy as sa

from reputation.events import EventKind
from reputation.models import Rating, ReliabilityScore, ReputationEvent, SubjectKind
from reputation.rebuild import rebuild_scores
from reputation.recompute import fold_events
from reputation.scoring import Outcome, fold_outcomes, outcome_for, rating_outcome, value_weight
from reputation.services import ranking_values
from tests.integration.reputation.services.conftest import EXACT_COLUMNS, FLOAT_COLUMNS

T0 = datetime(2025, 6, 1, 9, 0, tzinfo=UTC)
CREATOR_KINDS = [k for k in EventKind if k.value.startswith("creator.")]
BRAND_KINDS = [k for k in EventKind if k.value.startswith("brand.")]


def _history(rng: random.Random, side: SubjectKind, partners: list[uuid.UUID]) -> list[dict[str, Any]]:
    """One subject's random log: bursts of ghostings (suspensions, probation), ties in time, whole and fractional
    seconds, repeated and missing counterparties, ratings; sometimes empty."""
    kinds = CREATOR_KINDS if side is SubjectKind.CREATOR else BRAND_KINDS
    events = []
    at = T0 + timedelta(days=rng.randint(-900, 300))
    for _ in range(rng.choice([0, 1, 2, 3, 6, 12, 25])):
        at += rng.choice(
            [
                timedelta(0),
                timedelta(microseconds=rng.randint(1, 999_999)),
                timedelta(seconds=rng.randint(1, 9), microseconds=-1),  # .999999: SQLite's strftime rounds it up
                timedelta(days=rng.randint(1, 200)),
                timedelta(hours=rng.randint(1, 48)),
            ]
        )
        if rng.random() < 0.15:
            kind, outcome = EventKind.RATING, rating_outcome(rng.randint(1, 5), at, rng.choice([0.25, 0.6, 1.0]))
        else:
            ghosting = side is SubjectKind.CREATOR and rng.random() < 0.2
            kind = EventKind.CREATOR_GHOSTED if ghosting else rng.choice(kinds)
            outcome = outcome_for(kind, at, value_weight(rng.choice([0, 999, 15_000, 250_000]), 2))
        events.append(
            {
                "subject_kind": side,
                "kind": kind,
                "value": outcome.value,
                "weight": outcome.weight,
                "deal_value_minor": 0,
                "currency_exponent": 2,
                "collaboration_id": uuid.uuid4(),
                "counterparty_id": rng.choice([*partners, None]),
                "occurred_at": at,
                "recorded_at": at,
            }
        )
    return events


def _expected(events: list[dict[str, Any]], row: dict[str, Any], given: tuple[int, int], now: datetime) -> dict:
    """The reference: scoring.fold_outcomes for the evidence, the tally's fold for counts, services.ranking_values."""
    tally = fold_events(
        [(e["kind"].value, e["value"], e["weight"], e["occurred_at"], e["counterparty_id"]) for e in events]
    )
    evidence = fold_outcomes(Outcome(e["value"], e["weight"], e["occurred_at"]) for e in events)
    values = tally.values(row["review_cleared_at"])
    values["r"], values["s"] = evidence.r, evidence.s
    values["ratings_given"], values["extreme_ratings_given"] = given
    at = max(now, values["evidence_at"]) if values["evidence_at"] is not None else now
    values.update(ranking_values(tally.record(row["review_cleared_at"]), at, verified_audience=row["verified"]))
    return values


@pytest.mark.parametrize("seed", [1, 2, 3])
async def test_sql_rebuild_equals_the_pure_scoring_for_every_subject(runtime, clock, db, seed: int) -> None:
    rng = random.Random(seed)
    now = clock.now()
    creators, brands = [uuid.uuid4() for _ in range(40)], [uuid.uuid4() for _ in range(12)]
    logs: dict[tuple[SubjectKind, uuid.UUID], list[dict[str, Any]]] = {}
    for side, ids, partners in ((SubjectKind.CREATOR, creators, brands), (SubjectKind.BRAND, brands, creators)):
        for subject_id in ids:
            logs[(side, subject_id)] = [{**e, "subject_id": subject_id} for e in _history(rng, side, partners[:5])]
    # Stored rows: some with an admin's clearance or a verified audience, some stale, some missing (only in the log).
    rows: dict[tuple[SubjectKind, uuid.UUID], dict[str, Any]] = {}
    inserted = set()
    for key in logs:
        if rng.random() < 0.8:
            inserted.add(key)
            cleared = T0 + timedelta(days=rng.randint(-400, 200)) if rng.random() < 0.3 else None
            rows[key] = {"review_cleared_at": cleared, "verified": rng.random() < 0.3}
            await db.execute(
                sa.insert(ReliabilityScore).values(
                    subject_kind=key[0],
                    subject_id=key[1],
                    r=rng.choice([0.0, 7.5]),
                    tier="GOLD",
                    ghosted_at=[],
                    review_cleared_at=cleared,
                    verified_audience=rows[key]["verified"],
                )
            )
        else:
            rows[key] = {"review_cleared_at": None, "verified": False}
    events = [e for log in logs.values() for e in log]
    if events:
        await db.execute(sa.insert(ReputationEvent), events)
    given: dict[tuple[SubjectKind, uuid.UUID], tuple[int, int]] = {}
    for side, ids in ((SubjectKind.BRAND, brands), (SubjectKind.CREATOR, creators)):
        for rater in rng.sample(ids, 4):
            stars = [rng.randint(1, 5) for _ in range(rng.randint(1, 3))]
            given[(side, rater)] = (len(stars), sum(s in (1, 5) for s in stars))
            for n in stars:
                await db.execute(
                    sa.insert(Rating).values(
                        collaboration_id=uuid.uuid4(),
                        rater_side=side,
                        rater_id=rater,
                        ratee_kind=side,
                        ratee_id=uuid.uuid4(),
                        stars=n,
                        rater_weight=1.0,
                        created_at=now,
                        window_closes_at=now,
                    )
                )

    report = await rebuild_scores(runtime.session_maker, now=now)
    with_events = {key for key, log in logs.items() if log}
    assert (report.subjects, report.events) == (len(with_events), len(events))

    stored = {(r.subject_kind, r.subject_id): r for r in (await db.scalars(sa.select(ReliabilityScore))).all()}
    assert stored.keys() == with_events | inserted
    mismatches = []
    for key, row in stored.items():
        want = _expected(logs[key], rows[key], given.get(key, (0, 0)), now)
        got = {name: getattr(row, name) for name in want}
        got["ghosted_at"] = [datetime.fromisoformat(t) for t in got["ghosted_at"]]
        want["ghosted_at"] = [datetime.fromisoformat(t) for t in want["ghosted_at"]]
        for name in FLOAT_COLUMNS:
            if got[name] != pytest.approx(want[name], rel=1e-12, abs=1e-12):
                mismatches.append((key, name, got[name], want[name]))
        for name in (*EXACT_COLUMNS, "ghosted_at"):
            if got[name] != want[name]:
                mismatches.append((key, name, got[name], want[name]))
    assert mismatches == []
    # Every derived column was checked, and the stored ghostings are the strings the incremental path writes.
    assert {*EXACT_COLUMNS, *FLOAT_COLUMNS, "ghosted_at"} >= set(want) - {"ranked_at"}
    for key, row in stored.items():
        assert row.ghosted_at == [
            e["occurred_at"].isoformat()
            for e in sorted(logs[key], key=lambda e: e["occurred_at"])
            if e["kind"] is EventKind.CREATOR_GHOSTED
        ]

    # Nothing left to correct: a second rebuild writes no row.
    assert (await rebuild_scores(runtime.session_maker, now=now)).changed == 0
