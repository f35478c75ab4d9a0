"""Set-based rebuild of every reliability score from the event log: a few SQL statements instead of a Python fold.

`rebuild_scores` computes what `recompute.recompute_all` computes (evidence, counts, ghostings, suspension, ratings
given, ranking and tier as of `now`), but in the database: one pass over the event log (per subject and
counterparty, then per subject), joined to the ghostings, the ratings given and the stored rows, into a temporary
table; then one UPDATE of the stored rows that differ and one INSERT of the missing ones. The same SQL runs on
PostgreSQL and SQLite, apart from a few spellings (`_Dialect`).

The decay is summed in closed form: folding outcomes one by one (decay to each event, then add) gives, for the last
event time T, r = sum of w(1+v)/2 * 0.5^((T - t)/half-life), which is what the SQL adds up (relative to a fixed
reference time, so one pass suffices). The floats therefore agree with `scoring.fold_outcomes` to rounding (about
1e-15 relative), not bit for bit; counts, times, tiers and rank order are the same (a property test checks both).

On PostgreSQL the score table is locked against writers (EXCLUSIVE: readers go on) for the transaction, so an outcome
recorded meanwhile waits a moment instead of being overwritten by a rebuild that did not see it. A rebuild that
rewrites most rows (the first one, or after a change to the scoring rules) also takes the table from its readers for
its writes (ACCESS EXCLUSIVE, waiting at most `READERS_WAIT` for them, else it writes as usual): it drops the ranking
index, writes, and builds the index again: one sorted build instead of an index insertion per written row (100k rows:
the writes took 0.6 s of database CPU instead of 0.8 s, the whole first rebuild 1.05-1.12x the CPU of a plain
aggregate of the same formula instead of 1.18-1.24x). Readers then wait for the writes and the build: the directory's
p99 was 1.6-2.8 s during such a rebuild on a loaded 2-core machine (0.2 s when written through the index).

`refresh_statement` ranks stored rows again as of a new time with the same expressions (the daily refresh,
`recompute.refresh_rankings`).

Long because the rebuild's SQL for both dialects and its write paths (through the indexes, or with the ranking
index built again) read best side by side.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession, async_sessionmaker

from reputation.events import EventKind
from reputation.scoring import DEFAULT_HALF_LIFE_DAYS, RANKING_Z, Evidence, expected_reliability, wilson_lower_bound
from reputation.services import COMPLETED_KINDS, COUNT_COLUMNS, COUNTERS, rank_order
from reputation.tiers import GHOST_PROBATION, SUSPENSION_WINDOW, TIER_RULES, VERIFIED_AUDIENCE_EVIDENCE, Tier

#: rank_order of a newcomer with a verified audience (tiers.ranking_evidence's prior), computed by the reference code.
_PRIOR = Evidence(VERIFIED_AUDIENCE_EVIDENCE, 0.0)
VERIFIED_RANK_ORDER = rank_order(wilson_lower_bound(_PRIOR.r, _PRIOR.n), expected_reliability(_PRIOR))
_Z2 = RANKING_Z * RANKING_Z
_HL = repr(DEFAULT_HALF_LIFE_DAYS)
#: Seconds per half-life, one divisor per event instead of two (the exponent moves by an ulp at most).
_HL_SECONDS = repr(86_400.0 * DEFAULT_HALF_LIFE_DAYS)
#: The counters whose kinds are exactly the completed ones: completed deals are their sum, so the pass over the log
#: compares each event's kind with fewer strings (kind comparisons are most of its cost).
_COMPLETED_COUNTERS = tuple(
    column for column in COUNTERS if all(k in COMPLETED_KINDS for k, c in COUNT_COLUMNS.items() if c == column)
)
assert {k for k, c in COUNT_COLUMNS.items() if c in _COMPLETED_COUNTERS} == COMPLETED_KINDS
_MICROS = 1_000_000
#: Enough for the per-subject hash aggregates of a few million events (100k subjects take ~50 MB).
WORK_MEM = "256MB"
#: Indexes a rebuild that rewrites most rows drops and builds again after its writes (PostgreSQL). The partial
#: suspended-creators index stays: it has an entry for the suspended few only, so writing through it costs little
#: and building it again would cost a scan of the table.
REBUILT_INDEXES = ("ix_reliability_score_ranking",)
#: How long such a rebuild waits for readers to let go of the score table (readers arriving meanwhile queue behind
#: it) before it writes through the indexes instead.
READERS_WAIT = "300ms"
_LOCK_NOT_AVAILABLE, _DEADLOCK = "55P03", "40P01"


@dataclass(frozen=True, slots=True)
class RebuildReport:
    subjects: int
    events: int
    seconds: float
    #: Rows written because they differed from the rebuild (inserted rows included); 0: the stored rows were right.
    changed: int
    #: Indexes dropped before the writes and built again after them (most rows rewritten, PostgreSQL); () otherwise.
    indexes_rebuilt: tuple[str, ...] = ()


def _kinds(kinds: object) -> str:
    return ", ".join(f"'{kind.value}'" for kind in kinds)  # type: ignore[attr-defined]


def _sqlite_seconds(t: str) -> str:
    """Whole seconds since 1970 of a time SQLite stores ('YYYY-MM-DD HH:MM:SS.ffffff', UTC): of the first 19 characters,
    since strftime rounds a fraction to milliseconds (.9995 s and up would count as the next second)."""
    return f"CAST(strftime('%s', substr({t}, 1, 19)) AS INTEGER)"


class _Dialect:
    """The few expressions SQLite and PostgreSQL spell differently; everything else is shared SQL."""

    def __init__(self, name: str) -> None:
        self.postgres = name == "postgresql"

    def epoch(self, t: str) -> str:
        """Seconds since 1970 as a float (per event: rounding here only moves the last bits of the sums)."""
        if self.postgres:
            return f"date_part('epoch', {t})"
        return f"({_sqlite_seconds(t)} + CAST(substr({t}, 21, 6) AS INTEGER) / 1000000.0)"

    def seconds_between(self, later: str, earlier: str) -> str:
        """timedelta.total_seconds() of `later - earlier` (floats: rounding here moves only the last bits)."""
        if self.postgres:
            return f"date_part('epoch', {later} - {earlier})"
        return f"CAST({self._micros_between(later, earlier)} AS double precision) / 1000000.0"

    def within(self, later: str, earlier: str, days: int, *, inclusive: bool) -> str:
        """`later - earlier` <= (or <) `days` days, exactly (to the microsecond, as timedelta compares)."""
        op = "<=" if inclusive else "<"
        if self.postgres:
            return f"{later} - {earlier} {op} interval '{days} days'"
        return f"{self._micros_between(later, earlier)} {op} {days * 86_400 * _MICROS}"

    @staticmethod
    def _micros_between(later: str, earlier: str) -> str:
        # SQLite keeps times as 'YYYY-MM-DD HH:MM:SS.ffffff' text: whole seconds, then the microseconds.
        return (
            f"(({_sqlite_seconds(later)} - {_sqlite_seconds(earlier)}) * {_MICROS}"
            f" + CAST(substr({later}, 21, 6) AS INTEGER) - CAST(substr({earlier}, 21, 6) AS INTEGER))"
        )

    def iso(self, t: str) -> str:
        """datetime.isoformat() of a UTC time, as the incremental path stores ghostings."""
        if self.postgres:
            # One to_char with the microseconds, dropped when they are all zeros (as isoformat() does).
            return (
                f"replace(to_char({t} AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US') || '+00:00', '.000000+', '+')"
            )
        return (
            f"substr({t}, 1, 10) || 'T' || substr({t}, 12, 8)"
            f" || CASE WHEN substr({t}, 21, 6) <> '000000' THEN '.' || substr({t}, 21, 6) ELSE '' END || '+00:00'"
        )

    def json_list(self, item: str, order: str) -> str:
        if self.postgres:
            return f"json_agg({item} ORDER BY {order})"
        return f"json_group_array({item})"  # fed in order by the subquery (SQLite 3.40 has no ORDER BY here)

    @property
    def empty_json(self) -> str:
        return "CAST('[]' AS json)" if self.postgres else "'[]'"

    def greatest(self, a: str, b: str) -> str:
        return f"greatest({a}, {b})" if self.postgres else f"max({a}, {b})"

    def least(self, a: str, b: str) -> str:
        return f"least({a}, {b})" if self.postgres else f"min({a}, {b})"

    @property
    def rebuilt(self) -> str:
        return "rebuilt_score" if self.postgres else "temp.rebuilt_score"

    @property
    def fence(self) -> str:
        """A no-op LIMIT/OFFSET that keeps a subquery from being flattened into its parent."""
        return "OFFSET 0" if self.postgres else "LIMIT -1 OFFSET 0"

    @property
    def no_time(self) -> str:
        return "CAST(NULL AS timestamptz)" if self.postgres else "NULL"

    @property
    def now(self) -> str:
        return "CAST(:now AS timestamptz)" if self.postgres else ":now"

    def last_ghosting(self, ghostings: str, at: str) -> str:
        """The newest time in a stored ghosting list (the incremental path's ISO strings, any offset) not after `at`:
        a time on PostgreSQL, microseconds since 1970 on SQLite (whose stored times are another text format)."""
        if self.postgres:
            t = "CAST(g.value AS timestamptz)"
            # Most rows have none: skip the set-returning call for them.
            newest = f"SELECT max({t}) FROM json_array_elements_text({ghostings}) AS g(value) WHERE {t} <= {at}"  # noqa: S608
            return f"CASE WHEN CAST({ghostings} AS text) = '[]' THEN {self.no_time} ELSE ({newest}) END"
        # The whole seconds with the offset (strftime rounds a fraction to milliseconds), then the microseconds.
        fraction = "substr(g.value, 20, 1) = '.'"
        whole = f"substr(g.value, 1, 19) || CASE WHEN {fraction} THEN substr(g.value, 27) ELSE substr(g.value, 20) END"
        t = (
            f"(CAST(strftime('%s', {whole}) AS INTEGER) * {_MICROS}"
            f" + CASE WHEN {fraction} THEN CAST(substr(g.value, 21, 6) AS INTEGER) ELSE 0 END)"
        )
        return f"(SELECT max({t}) FROM json_each({ghostings}) AS g WHERE {t} <= {self._stored_micros(at)})"  # noqa: S608

    def on_probation(self, at: str, last_ghost: str) -> str:
        """tiers.on_ghost_probation_until(...) is not None, given `last_ghosting` of the list as of `at`."""
        if self.postgres:
            return f"{last_ghost} IS NOT NULL AND {self.within(at, last_ghost, GHOST_PROBATION.days, inclusive=False)}"
        window = GHOST_PROBATION.days * 86_400 * _MICROS
        return f"{last_ghost} IS NOT NULL AND {self._stored_micros(at)} - {last_ghost} < {window}"

    @staticmethod
    def _stored_micros(t: str) -> str:
        return f"({_sqlite_seconds(t)} * {_MICROS} + CAST(substr({t}, 21, 6) AS INTEGER))"

    def json_equal(self, a: str, b: str) -> str:
        if self.postgres:
            # The same text first (json_agg and the incremental path's json.dumps write lists alike), so most rows
            # skip parsing both into jsonb.
            return f"(CAST({a} AS text) = CAST({b} AS text) OR CAST({a} AS jsonb) = CAST({b} AS jsonb))"
        return f"json({a}) = json({b})"


def _wilson(d: _Dialect, r: str, n: str) -> str:
    """scoring.wilson_lower_bound(r, n) in SQL, operation for operation (so the floats round alike)."""
    r, n = f"({r})", f"({n})"
    p = d.least(f"{r} / {n}", "1.0")
    centre = f"({p} + {_Z2!r} / (2 * {n}))"
    spread = f"({RANKING_Z!r} * sqrt({p} * (1 - {p}) / {n} + {_Z2!r} / (4 * {n} * {n})))"
    bound = d.greatest("0.0", f"({centre} - {spread}) / (1 + {_Z2!r} / {n})")
    return f"CASE WHEN {n} <= 1e-9 THEN 0.0 ELSE {bound} END"


def _rank_order(score: str, expected: str) -> str:
    """services.rank_order: int() truncates and both parts are non-negative, so floor (a cast alone rounds)."""
    return f"(CAST(floor({score} * 1000000 + 0.5) AS bigint) * 1000 + CAST(floor({expected} * 999 + 0.5) AS bigint))"


def _tier(score: str) -> str:
    """tiers.earned_tier: the last rule met wins, i.e. the highest."""
    whens = " ".join(
        f"WHEN {score} >= {rule.min_score!r} AND completed_deals >= {rule.min_completed_deals}"
        f" AND distinct_counterparties >= {rule.min_counterparties} THEN '{rule.tier.name}'"
        for rule in reversed(TIER_RULES)
    )
    return f"CASE {whens} ELSE '{Tier.NEW.name}' END"


_COLUMNS = (
    "r",
    "s",
    "evidence_at",
    "events_count",
    *COUNTERS,
    "completed_deals",
    "distinct_counterparties",
    "ghosted_at",
    "suspended_at",
    "ratings_given",
    "extreme_ratings_given",
    "ranking_score",
    "expected",
    "rank_order",
    "tier",
    "ranked_at",
)
_FLOATS = ("r", "s", "ranking_score", "expected")


def _rebuilt_rows(d: _Dialect) -> str:
    """SELECT of every subject in the event log or the score table with its rebuilt row (the _COLUMNS), and whether
    a row is stored for it (`stored`)."""
    ghosted = EventKind.CREATOR_GHOSTED.value
    # Counts as integers: their sums per subject stay bigint (sums of bigint are numeric, several times slower).
    counters = ",\n                       ".join(
        f"CAST(count(*) FILTER (WHERE e.kind IN ({_kinds(k for k, c in COUNT_COLUMNS.items() if c == column)}))"
        f" AS integer) AS {column}"
        for column in COUNTERS
    )
    growth = f"power(2.0, ({d.epoch('e.occurred_at')} - :ref) / {_HL_SECONDS})"
    shrink = f"power(2.0, (:ref - {d.epoch('a.last_at')}) / 86400.0 / {_HL})"
    now = d.now
    # scoring.decay_factor: total_seconds() / 86400 / half-life, and 1.0 when no time passed (ranked as of
    # max(now, evidence time)).
    seconds = d.seconds_between(now, "b.last_at")
    factor = f"CASE WHEN {now} > b.last_at THEN power(0.5, {seconds} / 86400.0 / {_HL}) ELSE 1.0 END"
    # Each level is evaluated once per row: without the fence the planner inlines it, and `score` (repeated in the
    # rank order and in every tier rule) would expand into its whole expression tree again each time.
    fence = d.fence
    key = "coalesce(a.subject_kind, sc.subject_kind)", "coalesce(a.subject_id, sc.subject_id)"
    stored_values = ", ".join(f"sc.{c} AS old_{c}" for c in _COLUMNS if c != "ranked_at")
    completed = " + ".join(_COMPLETED_COUNTERS)
    return f"""
    SELECT subject_kind, subject_id, stored, {", ".join(_COLUMNS)},
           NOT stored OR NOT ({_unchanged(d, "old_", "")}) AS changed
    FROM (
    SELECT subject_kind, subject_id, stored, {", ".join(f"old_{c}" for c in _COLUMNS if c != "ranked_at")},
           r, s, last_at AS evidence_at, events_count, {", ".join(COUNTERS)},
           completed_deals, distinct_counterparties, ghosted_at, suspended_at, ratings_given, extreme_ratings_given,
           score AS ranking_score, expected,
           CASE WHEN verified_audience AND r + s = 0 THEN {VERIFIED_RANK_ORDER} ELSE {_rank_order("score", "expected")}
           END AS rank_order,
           CASE WHEN last_ghost IS NOT NULL AND {d.within("at", "last_ghost", GHOST_PROBATION.days, inclusive=False)}
                THEN '{Tier.NEW.name}' ELSE {_tier("score")} END AS tier,
           at AS ranked_at
    FROM (
      SELECT c.*, {_wilson(d, "cr", "cr + cs")} AS score, (cr + 1.0) / (cr + cs + 2.0) AS expected
      FROM (
        SELECT b.*, b.r * f AS cr, b.s * f AS cs
        FROM (
          SELECT b.*, {factor} AS f, {d.greatest(now, f"coalesce(b.last_at, {now})")} AS at
          FROM (
            SELECT {key[0]} AS subject_kind, {key[1]} AS subject_id, sc.subject_id IS NOT NULL AS stored,
                   coalesce(a.events_count, 0) AS events_count, a.last_at,
                   coalesce(a.r_ref * {shrink}, 0.0) AS r, coalesce(a.s_ref * {shrink}, 0.0) AS s,
                   {", ".join(f"coalesce(a.{c}, 0) AS {c}" for c in COUNTERS)},
                   coalesce(a.completed_deals, 0) AS completed_deals,
                   coalesce(a.distinct_counterparties, 0) AS distinct_counterparties,
                   coalesce(gh.list, {d.empty_json}) AS ghosted_at, gh.last_ghost, gh.suspended_at,
                   coalesce(rg.n, 0) AS ratings_given, coalesce(rg.extreme, 0) AS extreme_ratings_given,
                   coalesce(sc.verified_audience, false) AS verified_audience, {stored_values}
            FROM (
              SELECT subject_kind, subject_id, sum(events_count) AS events_count, max(last_at) AS last_at,
                     sum(r_ref) AS r_ref, sum(s_ref) AS s_ref, {", ".join(f"sum({c}) AS {c}" for c in COUNTERS)},
                     sum({completed}) AS completed_deals,
                     count(*) FILTER (WHERE {completed} > 0 AND counterparty_id IS NOT NULL)
                       AS distinct_counterparties
              FROM (  -- one pass over the log, per subject and counterparty (distinct counterparties need them)
                -- Halving the sums instead of each term: exact in binary floating point, and a division fewer.
                SELECT e.subject_kind, e.subject_id, e.counterparty_id, CAST(count(*) AS integer) AS events_count,
                       max(e.occurred_at) AS last_at,
                       sum(e.weight * (1 + e.value) * {growth}) / 2 AS r_ref,
                       sum(e.weight * (1 - e.value) * {growth}) / 2 AS s_ref,
                       {counters}
                FROM reputation_event e
                GROUP BY e.subject_kind, e.subject_id, e.counterparty_id
              ) per_counterparty
              GROUP BY subject_kind, subject_id
            ) a
            FULL JOIN reliability_score sc ON sc.subject_kind = a.subject_kind AND sc.subject_id = a.subject_id
            LEFT JOIN (
              -- Ghostings in time order: the stored list, the newest (probation) and when two within the window
              -- after the last clearance first happened (services.suspension_started). Those counted are the ones
              -- after the clearance, a suffix of the list, so a pair counts when its earlier one does.
              SELECT subject_kind, subject_id, {d.json_list("iso", "occurred_at")} AS list,
                     max(occurred_at) AS last_ghost,
                     min(CASE WHEN prev IS NOT NULL AND (cleared IS NULL OR prev > cleared)
                               AND {d.within("occurred_at", "prev", SUSPENSION_WINDOW.days, inclusive=True)}
                              THEN occurred_at END)
                       AS suspended_at
              FROM (
                SELECT g.subject_kind, g.subject_id, g.occurred_at, {d.iso("g.occurred_at")} AS iso,
                       x.review_cleared_at AS cleared,
                       lag(g.occurred_at) OVER (PARTITION BY g.subject_kind, g.subject_id
                                                ORDER BY g.occurred_at) AS prev
                FROM reputation_event g
                LEFT JOIN (  -- only the rows with a clearance: hashing all of them cost more than the ghostings
                  SELECT subject_kind, subject_id, review_cleared_at FROM reliability_score
                  WHERE review_cleared_at IS NOT NULL
                ) x ON x.subject_kind = g.subject_kind AND x.subject_id = g.subject_id
                WHERE g.kind = '{ghosted}'
                ORDER BY g.subject_kind, g.subject_id, g.occurred_at
              ) ghosting
              GROUP BY subject_kind, subject_id
            ) gh ON gh.subject_kind = a.subject_kind AND gh.subject_id = a.subject_id
            LEFT JOIN ({_ratings_given()}) rg ON rg.subject_kind = {key[0]} AND rg.subject_id = {key[1]}
          {fence}) b
        {fence}) b
      {fence}) c
    ) ranked {fence}
    ) rebuilt
    """  # noqa: S608 (built from constants; values are bound)


def _ratings_given() -> str:
    return """SELECT rater_side AS subject_kind, rater_id AS subject_id, count(*) AS n,
                     sum(CASE WHEN stars IN (1, 5) THEN 1 ELSE 0 END) AS extreme
              FROM rating GROUP BY rater_side, rater_id"""


def _unchanged(d: _Dialect, old: str, new: str) -> str:
    """The stored values (columns `old`<name>) already are the rebuilt ones (`new`<name>): floats within rounding,
    as recompute._differs; ranked_at aside (moving only that would churn the ranking index for nothing)."""
    parts = []
    for c in _FLOATS:
        scale = d.greatest(f"abs({old}{c})", f"abs({new}{c})")
        parts.append(f"abs({old}{c} - {new}{c}) <= {d.greatest(f'1e-9 * {scale}', '1e-12')}")
    parts += [
        f"{old}{c} IS NOT DISTINCT FROM {new}{c}" if d.postgres else f"{old}{c} IS {new}{c}"
        for c in _COLUMNS
        if c not in _FLOATS and c not in ("ghosted_at", "ranked_at")
    ]
    parts.append(d.json_equal(f"{old}ghosted_at", f"{new}ghosted_at"))
    return " AND ".join(parts)


def _update_changed(d: _Dialect) -> str:
    """Rewrite the stored rows that differ from their rebuilt values (`changed`, decided by the rebuild)."""
    return f"""
    UPDATE reliability_score SET {", ".join(f"{c} = new.{c}" for c in _COLUMNS)}
    FROM {d.rebuilt} new
    WHERE new.changed AND new.stored AND reliability_score.subject_kind = new.subject_kind
      AND reliability_score.subject_id = new.subject_id
    """  # noqa: S608 (built from constants)


def _insert_missing(d: _Dialect) -> str:
    """Rows for subjects only in the log. On PostgreSQL the table lock keeps anyone else from adding them meanwhile
    (a plain insert: ON CONFLICT costs a speculative insertion per row); SQLite's writer lock comes later, at the
    first write, so a row added since the rebuild read the table is left as it is."""
    names = ", ".join(_COLUMNS)
    conflict = "" if d.postgres else "ON CONFLICT (subject_kind, subject_id) DO NOTHING"
    return f"""
    INSERT INTO reliability_score (subject_kind, subject_id, {names})
    SELECT subject_kind, subject_id, {names} FROM {d.rebuilt} WHERE NOT stored
    {conflict}
    RETURNING 1
    """  # noqa: S608 (built from constants)


def _write_postgres(d: _Dialect) -> str:
    """The counts, the UPDATE and the INSERT in one statement (one pass over the rebuilt rows for the counts)."""
    return f"""
    WITH updated AS ({_update_changed(d)} RETURNING 1), inserted AS ({_insert_missing(d)})
    SELECT count(*) FILTER (WHERE events_count > 0), coalesce(sum(events_count), 0),
           (SELECT count(*) FROM updated) + (SELECT count(*) FROM inserted)
    FROM {d.rebuilt}
    """  # noqa: S608 (built from constants)


async def _drop_rebuilt_indexes(conn: AsyncConnection) -> list[tuple[str, str]]:
    """Take the score table from its readers too (ACCESS EXCLUSIVE, until the commit) and drop REBUILT_INDEXES;
    returns their (name, definition) to build again after the writes. Nothing is dropped ([]) when readers keep the
    table past READERS_WAIT, or when waiting for them would deadlock."""
    try:
        async with conn.begin_nested():
            await conn.execute(sa.text(f"SET LOCAL lock_timeout = '{READERS_WAIT}'"))
            await conn.execute(sa.text("LOCK TABLE reliability_score IN ACCESS EXCLUSIVE MODE"))
    except DBAPIError as error:
        if getattr(error.orig, "sqlstate", None) not in (_LOCK_NOT_AVAILABLE, _DEADLOCK):
            raise
        return []
    await conn.execute(sa.text("SET LOCAL lock_timeout TO DEFAULT"))
    # The definitions as the database has them (migrations made them), so the rebuilt ones are the same.
    indexes = (
        await conn.execute(
            sa.text(
                "SELECT indexname, indexdef FROM pg_indexes WHERE schemaname = current_schema()"
                " AND tablename = 'reliability_score' AND indexname = ANY(:names) ORDER BY indexname"
            ),
            {"names": list(REBUILT_INDEXES)},
        )
    ).all()
    for name, _ in indexes:
        await conn.execute(sa.text(f'DROP INDEX "{name}"'))
    return [(name, definition) for name, definition in indexes]


async def _write_postgres_rows(conn: AsyncConnection, d: _Dialect) -> tuple[int, int, int, tuple[str, ...]]:
    """Write the rebuilt rows; through the indexes, or, when most rows change, with REBUILT_INDEXES built after."""
    changed, rows = (
        await conn.execute(sa.text(f"SELECT count(*) FILTER (WHERE changed), count(*) FROM {d.rebuilt}"))  # noqa: S608
    ).one()
    # Building the ranking index again (130-240 ms CPU at 100k rows) cost about what inserting its entries for half
    # the rows did (about 320 ms for all of them), so it pays when more than half the rows change.
    indexes = await _drop_rebuilt_indexes(conn) if 2 * changed > rows else []
    subjects, events, written = (await conn.execute(sa.text(_write_postgres(d)))).one()
    for _, definition in indexes:
        await conn.execute(sa.text(definition))
    return int(subjects), int(events), int(written), tuple(name for name, _ in indexes)


def refresh_statement(dialect: str, *, first: bool) -> str:
    """UPDATE of the ranking columns (services.ranking_values as of :now, or the evidence time if later) of the rows
    in a key range: after (:after_kind, :after_id) unless `first`, up to (:last_kind, :last_id)."""
    d = _Dialect(dialect)
    now = d.now
    keys = "(sc.subject_kind, sc.subject_id)"
    where = f"{keys} <= (:last_kind, :last_id)" + ("" if first else f" AND {keys} > (:after_kind, :after_id)")
    seconds = d.seconds_between("at", "evidence_at")
    # As in the rebuild: each level is evaluated once per row (the fence), and decay_factor is 1.0 when no time passed.
    fence = d.fence
    return f"""
    UPDATE reliability_score
    SET ranking_score = x.ranking_score, expected = x.expected, rank_order = x.rank_order, tier = x.tier,
        ranked_at = x.ranked_at
    FROM (
      SELECT subject_kind, subject_id, score AS ranking_score, expected,
             CASE WHEN verified_audience AND r + s = 0 THEN {VERIFIED_RANK_ORDER}
                  ELSE {_rank_order("score", "expected")} END AS rank_order,
             CASE WHEN {d.on_probation("at", "last_ghost")} THEN '{Tier.NEW.name}' ELSE {_tier("score")} END AS tier,
             at AS ranked_at
      FROM (
        SELECT c.*, {_wilson(d, "cr", "cr + cs")} AS score, (cr + 1.0) / (cr + cs + 2.0) AS expected
        FROM (
          SELECT b.*, r * f AS cr, s * f AS cs, {d.last_ghosting("ghosted_at", "at")} AS last_ghost
          FROM (
            SELECT a.*,
                   CASE WHEN at > evidence_at THEN power(0.5, {seconds} / 86400.0 / {_HL}) ELSE 1.0 END AS f
            FROM (
              SELECT sc.subject_kind, sc.subject_id, sc.r, sc.s, sc.evidence_at, sc.completed_deals,
                     sc.distinct_counterparties, sc.verified_audience, sc.ghosted_at,
                     {d.greatest(now, f"coalesce(sc.evidence_at, {now})")} AS at
              FROM reliability_score sc WHERE {where}
            {fence}) a
          {fence}) b
        {fence}) c
      {fence}) ranked
    ) x
    WHERE reliability_score.subject_kind = x.subject_kind AND reliability_score.subject_id = x.subject_id
    """  # noqa: S608 (built from constants; values are bound)


def _sqlite_time(at: datetime) -> str:
    # SQLAlchemy's SQLite DATETIME storage format (what DateTimeUTC columns hold there).
    return at.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S.%f")


def bound_now(dialect: str, now: datetime) -> Any:
    """`now` as the statements here bind it (:now)."""
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    return now if dialect == "postgresql" else _sqlite_time(now)


async def rebuild_in(conn: AsyncConnection, now: datetime) -> tuple[int, int, int, tuple[str, ...]]:
    """Rebuild every score row in the connection's transaction; returns (subjects, events, rows changed, indexes
    dropped and built again)."""
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    d = _Dialect(conn.dialect.name)
    params = {"ref": now.timestamp(), "now": now if d.postgres else _sqlite_time(now)}
    if d.postgres:
        await conn.execute(sa.text("LOCK TABLE reliability_score IN EXCLUSIVE MODE"))
        # JIT compiling this long statement took a minute on a busy 2-core machine (for a query of seconds), and
        # the aggregates over a million events spill to disk with the default work_mem; both for this transaction.
        await conn.execute(sa.text("SET LOCAL jit = off"))
        await conn.execute(sa.text(f"SET LOCAL work_mem = '{WORK_MEM}'"))
        # Don't wait for the commit's WAL flush: a rebuild lost in a crash just has to run again, and any later
        # commit (an outcome recorded after it) flushes the rebuild's WAL first, so nothing can depend on a lost one.
        await conn.execute(sa.text("SET LOCAL synchronous_commit = off"))
        create = f"CREATE TEMP TABLE rebuilt_score ON COMMIT DROP AS {_rebuilt_rows(d)}"
    else:
        await conn.execute(sa.text("DROP TABLE IF EXISTS temp.rebuilt_score"))
        create = f"CREATE TEMP TABLE rebuilt_score AS {_rebuilt_rows(d)}"
    # A table, not a CTE: PostgreSQL runs the SELECT of a CREATE TABLE AS in parallel, never one with writes.
    await conn.execute(sa.text(create), params)
    if d.postgres:
        return await _write_postgres_rows(conn, d)
    try:
        counts = f"""
            SELECT count(*) FILTER (WHERE events_count > 0), coalesce(sum(events_count), 0),
                   count(*) FILTER (WHERE changed AND stored)
            FROM {d.rebuilt}"""  # noqa: S608 (constants)
        subjects, events, changed = (await conn.execute(sa.text(counts))).one()
        if changed:
            await conn.execute(sa.text(_update_changed(d)))
        changed += len((await conn.execute(sa.text(_insert_missing(d)))).all())
    finally:
        if not d.postgres:
            await conn.execute(sa.text("DROP TABLE IF EXISTS temp.rebuilt_score"))
    return int(subjects), int(events), int(changed), ()


async def rebuild_scores(session_maker: async_sessionmaker[AsyncSession], *, now: datetime) -> RebuildReport:
    """Rebuild every reliability score from the event log in one transaction, ranked as of `now`."""
    started = time.perf_counter()
    async with session_maker() as session, session.begin():
        subjects, events, changed, indexes = await rebuild_in(await session.connection(), now)
    return RebuildReport(subjects, events, time.perf_counter() - started, changed, indexes)
