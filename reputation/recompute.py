"""Rebuild every reliability score from the event log in batches, and refresh the stored (decaying) rankings.

`recompute_all` is the repair tool (`postpact reputation recompute`): after a change to the scoring rules, or to
prove the incremental updates right. Each batch locks its score rows (in the usual lock order), reads their events,
folds them with the same `Tally` the incremental path uses, writes the rows back and commits, so outcomes recorded
while it runs wait for at most one batch and are never lost.

`refresh_rankings` only re-ranks stored evidence at a new time (the daily job): decay lowers what old evidence
proves, and probation ends, without any new event.
"""

from __future__ import annotations

import json
import math
import time
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession, async_sessionmaker

from reputation.events import EventKind
from reputation.models import Rating, ReliabilityScore, ReputationEvent, SubjectKind
from reputation.rebuild import bound_now, refresh_statement
from reputation.scoring import DEFAULT_HALF_LIFE_DAYS, Evidence
from reputation.services import COMPLETED_KINDS, COUNT_COLUMNS, Tally, dialect_insert, ranking_values

DEFAULT_BATCH_SIZE = 2_000
#: Rows re-ranked per transaction by the daily refresh (one UPDATE each; their row locks last a fraction of a second).
REFRESH_BATCH_SIZE = 10_000
_score_key = sa.tuple_(ReliabilityScore.subject_kind, ReliabilityScore.subject_id)
_event_key = sa.tuple_(ReputationEvent.subject_kind, ReputationEvent.subject_id)


@dataclass(frozen=True, slots=True)
class RecomputeReport:
    subjects: int
    events: int
    batches: int
    seconds: float
    #: Rows whose stored values differed from the rebuild (and were rewritten); 0 means the incremental updates and
    #: the rankings were right.
    changed: int = 0


#: Kind value -> (counter column, completes a deal, is a ghosting): string keys, so the loop never builds enums.
_KIND_FACTS: dict[str, tuple[str, bool, bool]] = {
    kind.value: (COUNT_COLUMNS[kind], kind in COMPLETED_KINDS, kind is EventKind.CREATOR_GHOSTED) for kind in EventKind
}
_SECONDS_PER_DAY = 86_400.0


def fold_events(rows: list[tuple[Any, ...]], half_life_days: float = DEFAULT_HALF_LIFE_DAYS) -> Tally:
    """Fold one subject's events (kind, value, weight, occurred_at, counterparty_id) into a fresh Tally.

    The same arithmetic as `scoring.fold_outcomes` (canonical order: time, value, weight; decay to each event's time,
    then add w(1+v)/2 and w(1-v)/2), written out without building an Outcome and an Evidence per event: a rebuild
    folds a million events, and the result must stay bit-identical to the pure fold (a property test checks it).
    """
    tally = Tally()
    counts = tally.counts
    r = s = 0.0
    last: datetime | None = None
    seen: set[UUID] = set()
    for kind, value, weight, occurred_at, counterparty_id in sorted(rows, key=lambda e: (e[3], e[1], e[2])):
        if last is not None and occurred_at > last:
            factor = 0.5 ** (((occurred_at - last).total_seconds() / _SECONDS_PER_DAY) / half_life_days)
            r, s = r * factor, s * factor
        last = occurred_at
        r = r + weight * (1 + value) / 2
        s = s + weight * (1 - value) / 2
        column, completes, ghosting = _KIND_FACTS[kind.value if isinstance(kind, EventKind) else kind]
        counts[column] += 1
        if completes:
            tally.completed_deals += 1
            if counterparty_id is not None and counterparty_id not in seen:
                seen.add(counterparty_id)
                tally.distinct_counterparties += 1
        if ghosting:
            tally.ghosted_at.append(occurred_at)
    tally.events_count = len(rows)
    if last is not None:
        tally.evidence = Evidence(r, s, last)
    return tally


async def _create_missing_rows(session: AsyncSession) -> None:
    # The WHERE is for SQLite, whose parser can't tell "SELECT ... ON CONFLICT" from a join constraint without one.
    subjects = sa.select(ReputationEvent.subject_kind, ReputationEvent.subject_id).where(sa.true()).distinct()
    await session.execute(
        dialect_insert(session, ReliabilityScore)
        .from_select(["subject_kind", "subject_id"], subjects, include_defaults=False)
        .on_conflict_do_nothing(index_elements=["subject_kind", "subject_id"])
    )


_scores = ReliabilityScore.__table__
#: One UPDATE per batch, executed for every row of it (the driver pipelines them); keys not named b_* are SET.
_UPDATE_SCORE = (
    sa.update(_scores)
    .where(_scores.c.subject_kind == sa.bindparam("b_subject_kind"))
    .where(_scores.c.subject_id == sa.bindparam("b_subject_id"))
)


#: PostgreSQL element type of every column a rebuild writes, for the set-based UPDATE ... FROM unnest(arrays).
_PG_TYPES = {
    "b_subject_kind": "text",
    "b_subject_id": "uuid",
    "r": "float8",
    "s": "float8",
    "evidence_at": "timestamptz",
    "ghosted_at": "text",
    "suspended_at": "timestamptz",
    "ranking_score": "float8",
    "expected": "float8",
    "rank_order": "int8",
    "tier": "text",
    "ranked_at": "timestamptz",
}


async def _write_batch(conn: AsyncConnection, updates: list[dict[str, Any]]) -> None:
    """Write a batch of rebuilt rows: on PostgreSQL one UPDATE joined to unnest()ed arrays (set-based, a few times
    faster than a row per statement), elsewhere one statement executed per row."""
    if conn.dialect.name != "postgresql":
        await conn.execute(_UPDATE_SCORE, updates)
        return
    names = list(updates[0])
    arrays = {name: [row[name] for row in updates] for name in names}
    arrays["ghosted_at"] = [json.dumps(value) for value in arrays["ghosted_at"]]
    columns = [name for name in names if not name.startswith("b_")]
    sets = ", ".join(
        f"{name} = CAST(u.{name} AS json)" if name == "ghosted_at" else f"{name} = u.{name}" for name in columns
    )
    unnest = ", ".join(f"CAST(:{name} AS {_PG_TYPES.get(name, 'int4')}[])" for name in names)
    statement = (
        f"UPDATE reliability_score AS s SET {sets} FROM unnest({unnest}) AS u({', '.join(names)})"  # noqa: S608
        " WHERE s.subject_kind = u.b_subject_kind AND s.subject_id = u.b_subject_id"
    )
    await conn.execute(sa.text(statement), arrays)


#: Columns a rebuild does not derive: the key, an admin's clearance, the marketplace's verified audience (an input
#: it keeps), and ranked_at (rewriting only to move that timestamp would churn the ranking index for nothing).
_NOT_DERIVED = frozenset(
    {"subject_kind", "subject_id", "review_cleared_at", "review_cleared_by_id", "ranked_at", "verified_audience"}
)
#: What a rebuild derives, compared with what is stored so unchanged rows are not rewritten.
_DERIVED = [column for column in ReliabilityScore.__table__.columns if column.name not in _NOT_DERIVED]
_FLOATS = frozenset({"r", "s", "ranking_score", "expected"})


def _differs(stored: Any, values: dict[str, Any]) -> bool:
    for column in _DERIVED:
        old, new = stored[column.name], values[column.name]
        if column.name in _FLOATS:
            # Incremental and rebuilt sums may differ in the last bits (arrival order); that is not a difference.
            if not math.isclose(old, new, rel_tol=1e-9, abs_tol=1e-12):
                return True
        elif old != new:
            return True
    return False


def _plain_id(column: Any, postgres: bool) -> Any:
    # asyncpg hands back UUIDs itself; skipping the portable GUID conversion saves a call per id on a million rows.
    return sa.type_coerce(column, sa.Uuid()) if postgres else column


async def _recompute_batch(
    session: AsyncSession, after: tuple[SubjectKind, UUID] | None, batch_size: int, now: datetime
) -> tuple[tuple[SubjectKind, UUID] | None, int, int, int]:
    conn = await session.connection()
    postgres = conn.dialect.name == "postgresql"
    query = (
        sa.select(
            sa.type_coerce(ReliabilityScore.subject_kind, sa.String),
            _plain_id(ReliabilityScore.subject_id, postgres),
            ReliabilityScore.review_cleared_at,
            ReliabilityScore.verified_audience,
            *_DERIVED,
        )
        .order_by(ReliabilityScore.subject_kind, ReliabilityScore.subject_id)
        .limit(batch_size)
        .with_for_update()
    )
    if after is not None:
        query = query.where(_after(after))
    locked = (await conn.execute(query)).all()
    if not locked:
        return None, 0, 0, 0
    first = (SubjectKind(locked[0][0]), locked[0][1])
    last = (SubjectKind(locked[-1][0]), locked[-1][1])
    events: dict[tuple[str, UUID], list[tuple[Any, ...]]] = defaultdict(list)
    result = await conn.execute(
        sa.select(
            sa.type_coerce(ReputationEvent.subject_kind, sa.String),
            _plain_id(ReputationEvent.subject_id, postgres),
            sa.type_coerce(ReputationEvent.kind, sa.String),
            ReputationEvent.value,
            ReputationEvent.weight,
            # asyncpg returns aware datetimes already; SQLite needs DateTimeUTC to add the zone.
            sa.type_coerce(ReputationEvent.occurred_at, sa.DateTime(timezone=True))
            if postgres
            else ReputationEvent.occurred_at,
            _plain_id(ReputationEvent.counterparty_id, postgres),
        ).where(_between(_event_key, first, last, ReputationEvent.subject_id.type))
    )
    n_events = 0
    for subject_kind, subject_id, *rest in result.all():
        events[(subject_kind, subject_id)].append(rest)
        n_events += 1
    given = await _ratings_given(session, first, last)
    updates: list[dict[str, Any]] = []
    for stored in locked:
        subject_kind, subject_id, review_cleared_at = stored[0], stored[1], stored[2]
        key = (subject_kind, subject_id)
        tally = fold_events(events.get(key, []))
        values = tally.values(review_cleared_at)
        values["ratings_given"], values["extreme_ratings_given"] = given.get(
            (SubjectKind(subject_kind), subject_id), (0, 0)
        )
        at = max(now, values["evidence_at"]) if values["evidence_at"] is not None else now
        values.update(ranking_values(tally.record(review_cleared_at), at, verified_audience=bool(stored[3])))
        if _differs(stored._mapping, values):
            updates.append({"b_subject_kind": subject_kind, "b_subject_id": subject_id, **values})
    if updates:
        await _write_batch(conn, updates)
    return last, len(locked), n_events, len(updates)


def _after(after: tuple[SubjectKind, UUID]) -> Any:
    return _score_key > sa.tuple_(sa.literal(after[0].value), sa.literal(after[1], ReliabilityScore.subject_id.type))


def _between(key: Any, first: tuple[SubjectKind, UUID], last: tuple[SubjectKind, UUID], id_type: Any) -> Any:
    def row(value: tuple[SubjectKind, UUID]) -> Any:
        return sa.tuple_(sa.literal(value[0].value), sa.literal(value[1], id_type))

    return sa.and_(key >= row(first), key <= row(last))


async def _ratings_given(
    session: AsyncSession, first: tuple[SubjectKind, UUID], last: tuple[SubjectKind, UUID]
) -> dict[tuple[SubjectKind, UUID], tuple[int, int]]:
    key = sa.tuple_(Rating.rater_side, Rating.rater_id)
    result = await session.execute(
        sa.select(
            Rating.rater_side,
            Rating.rater_id,
            sa.func.count(),
            sa.func.sum(sa.case((Rating.stars.in_((1, 5)), 1), else_=0)),
        )
        .where(_between(key, first, last, Rating.rater_id.type))
        .group_by(Rating.rater_side, Rating.rater_id)
    )
    return {(SubjectKind(side), rater_id): (int(n), int(extreme or 0)) for side, rater_id, n, extreme in result}


async def recompute_all(
    session_maker: async_sessionmaker[AsyncSession],
    batch_size: int = DEFAULT_BATCH_SIZE,
    *,
    now: datetime,
    progress: Callable[[int, int], None] | None = None,
) -> RecomputeReport:
    """Rebuild every score row from the event log (and ratings given), `batch_size` subjects per transaction.

    Rows are ranked as of `now`. Admin decisions (a cleared suspension) are kept; everything else is derived. Rows
    that already hold what the rebuild computes are left alone, and `RecomputeReport.changed` counts the others: a
    rebuild that changes nothing proves the incremental updates right.
    `progress(subjects, events)` is called after each batch.
    """
    if batch_size < 1:
        raise ValueError("batch_size must be at least 1")
    started = time.perf_counter()
    async with session_maker() as session, session.begin():
        await _create_missing_rows(session)
    after: tuple[SubjectKind, UUID] | None = None
    subjects = events = batches = changed = 0
    while True:
        async with session_maker() as session, session.begin():
            last, n_subjects, n_events, n_changed = await _recompute_batch(session, after, batch_size, now)
        if last is None:
            break
        after = (SubjectKind(last[0]), last[1])
        subjects += n_subjects
        events += n_events
        changed += n_changed
        batches += 1
        if progress is not None:
            progress(subjects, events)
    return RecomputeReport(subjects, events, batches, time.perf_counter() - started, changed)


async def refresh_rankings(
    session_maker: async_sessionmaker[AsyncSession], now: datetime, batch_size: int = REFRESH_BATCH_SIZE
) -> int:
    """Re-rank every stored score as of `now` (decay and ended probations); returns how many rows were refreshed.

    In SQL (`rebuild.refresh_statement`: `services.ranking_values` written out as the rebuild computes it), one
    UPDATE per batch of `batch_size` rows, each batch in its own transaction with its rows locked in key order first.
    """
    if batch_size < 1:
        raise ValueError("batch_size must be at least 1")
    after: tuple[SubjectKind, UUID] | None = None
    refreshed = 0
    while True:
        async with session_maker() as session, session.begin():
            conn = await session.connection()
            batch = (
                sa.select(ReliabilityScore.subject_kind, ReliabilityScore.subject_id)
                .order_by(ReliabilityScore.subject_kind, ReliabilityScore.subject_id)
                .limit(batch_size)
                .with_for_update()
            )
            if after is not None:
                batch = batch.where(_after(after))
            keys = batch.subquery()
            last = (
                await conn.execute(
                    sa.select(keys.c.subject_kind, keys.c.subject_id)
                    .order_by(keys.c.subject_kind.desc(), keys.c.subject_id.desc())
                    .limit(1)
                )
            ).one_or_none()
            if last is None:
                return refreshed
            params: dict[str, Any] = {"now": bound_now(conn.dialect.name, now)}
            params["last_kind"], params["last_id"] = last
            statement = sa.text(refresh_statement(conn.dialect.name, first=after is None))
            statement = statement.bindparams(*_key_params(after is None))
            if after is not None:
                params["after_kind"], params["after_id"] = after
            refreshed += (await conn.execute(statement, params)).rowcount
        after = (SubjectKind(last[0]), last[1])


def _key_params(first: bool) -> list[sa.BindParameter[Any]]:
    kind, key = ReliabilityScore.subject_kind.type, ReliabilityScore.subject_id.type
    params = [sa.bindparam("last_kind", type_=kind), sa.bindparam("last_id", type_=key)]
    if not first:
        params += [sa.bindparam("after_kind", type_=kind), sa.bindparam("after_id", type_=key)]
    return params
