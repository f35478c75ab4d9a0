"""The one way a deal changes state: lock the row, check the table, move, record the event, tell the listeners.

What a transition *causes* (a reputation outcome, a refund, a verification job, a notice, a watch for the deadline
sweeper...) never follows a call to ``transition()`` in the caller's code: it is a listener registered once at
start-up in ``marketplace/listeners.py``, run here in the same transaction, in the order registered. A listener that
raises rolls the whole step back, so a refused refund leaves the deal where it was.

``transition_many()`` is the same step for a batch of deals (bulk actions over hundreds of deals): the rows are
locked in one statement, each is checked against the same table in Python, and the batch moves in one UPDATE and one
multi-row INSERT of events; a deal the table refuses is reported and the others move. Listeners see the batch through
their optional ``after_transitions`` hook (one call per item of ``after_transition`` when they have none).
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol
from uuid import UUID

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession
from uuid_utils.compat import uuid7

from marketplace.collaborations.due_dates import DUE_COLUMNS, due_columns, recompute_due_dates
from marketplace.collaborations.models import Collaboration, CollaborationEvent, status_change
from marketplace.collaborations.states import (
    Action,
    CollabState,
    Rule,
    TransitionActor,
    check_transition,
    record_milestones,
)
from marketplace.collaborations.terms import parsing_once
from marketplace.db import id_list, in_list, insert_rows
from marketplace.deadlines.rules import earliest_check_at
from marketplace.deadlines.watch import upsert_watch
from marketplace.errors import NotFound, PostPactError
from marketplace.i18n import gettext


@dataclass(frozen=True, slots=True)
class RecordedEvent:
    """An event row ``transition_many`` wrote, as listeners see it: ``CollaborationEvent``'s columns, without an ORM
    object per deal."""

    id: UUID
    collaboration_id: UUID
    seq: int
    action: str
    from_state: str
    to_state: str
    actor_party: str
    actor_user_id: UUID | None
    payload: dict[str, Any]
    created_at: datetime


@dataclass(frozen=True)
class Change:
    """What one transition did, as listeners see it."""

    collaboration: Collaboration
    event: CollaborationEvent | RecordedEvent
    action: Action
    from_state: CollabState
    to_state: CollabState
    actor: TransitionActor
    now: datetime
    payload: Mapping[str, Any]

    @property
    def changed(self) -> bool:
        """Whether the state moved (notes and re-submissions keep it)."""
        return self.to_state is not self.from_state


class TransitionListener(Protocol):
    """A consequence of deal transitions; runs inside the transition's transaction, after the event is recorded.

    A listener may also define ``async def after_transitions(self, session, changes)`` for a batch moved by
    ``transition_many()`` (to read what it needs for every deal in one query); without it, ``after_transition``
    is called once per change of the batch (see ``tell_listeners``).
    """

    async def after_transition(self, session: AsyncSession, change: Change) -> None: ...


async def tell_listeners(session: AsyncSession, changes: Sequence[Change]) -> None:
    """Run every registered listener on a batch of changes, in the order registered: its batch hook if it has one,
    else ``after_transition`` per change."""
    if not changes:
        return
    for listener in _listeners:
        batch_hook = getattr(listener, "after_transitions", None)
        if batch_hook is not None:
            await batch_hook(session, changes)
        else:
            for change in changes:
                await listener.after_transition(session, change)


_listeners: list[TransitionListener] = []


def install(listeners: Iterable[TransitionListener]) -> None:
    """Replace the registered listeners (``marketplace.listeners.install_listeners`` calls this once per process)."""
    _listeners[:] = list(listeners)


def installed() -> tuple[TransitionListener, ...]:
    return tuple(_listeners)


async def lock_collaboration(session: AsyncSession, collaboration_id: UUID) -> Collaboration:
    """The deal's row, locked for this transaction: the first lock of the fixed order (see ``marketplace.locks``)."""
    collab = await session.scalar(
        sa.select(Collaboration)
        .where(Collaboration.id == collaboration_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    if collab is None:
        raise NotFound(gettext('No such collaboration.'))
    return collab


async def transition(
    session: AsyncSession,
    collaboration_id: UUID,
    action: Action,
    actor: TransitionActor,
    *,
    now: datetime,
    payload: dict[str, Any] | None = None,
    collab: Collaboration | None = None,
) -> Change:
    """Lock, check, move, record, then run every listener. Raises NotFound (outsider, 404), IllegalTransition (409)
    or RoleNotAllowed (403) before anything changes; a listener's error rolls the caller's transaction back.

    Pass ``collab`` only if this transaction already locked it with ``lock_collaboration``.
    """
    if collab is None:
        collab = await lock_collaboration(session, collaboration_id)
    rule = check_transition(collab, action, actor, now)
    event, source, target = _apply(collab, rule, action, actor, now, payload)
    session.add(event)
    await session.flush()
    change = Change(collab, event, action, source, target, actor, now, dict(payload or {}))
    for listener in _listeners:
        await listener.after_transition(session, change)
    return change


def _apply(collab: Collaboration, rule: Rule, action: Action, actor: TransitionActor, now: datetime,
           payload: Mapping[str, Any] | None) -> tuple[CollaborationEvent, CollabState, CollabState]:
    """Move one checked deal in memory (state, milestones, due dates) and build its event row."""
    source, target = _move(collab, rule, action, now)
    recompute_due_dates(collab, now)
    event = CollaborationEvent(
        collaboration_id=collab.id,
        seq=collab.event_count,
        action=action.value,
        from_state=source.value,
        to_state=target.value,
        actor_party=actor.party.value,
        actor_user_id=actor.user_id,
        payload=dict(payload or {}),
        created_at=now,
    )
    return event, source, target


def _move(collab: Collaboration, rule: Rule, action: Action, now: datetime) -> tuple[CollabState, CollabState]:
    """The state, the milestones and the event count of one checked deal, in memory."""
    source = CollabState(collab.status)
    target = rule.target or source
    with status_change():
        collab.status = target
    if target != source:
        collab.state_changed_at = now
    record_milestones(collab, action, source, target, now)
    collab.event_count += 1
    return source, target


# --- a batch of deals -----------------------------------------------------------------------------------------------

@dataclass
class BatchResult:
    """What ``transition_many`` did: the changes (in the order asked) and, per refused deal, why."""

    changes: list[Change]
    refused: dict[UUID, PostPactError]


def among(session: AsyncSession, column: Any, ids: Sequence[UUID]) -> sa.ColumnElement[bool]:
    """``column IN ids`` for a batch's ids: on PostgreSQL ``= ANY(one array)`` (one parameter however many ids,
    nothing built per id), elsewhere an ordinary IN."""
    return in_list(column, id_list(session.get_bind().dialect.name, ids=ids))


async def lock_collaborations(session: AsyncSession, collaboration_ids: Sequence[UUID]) -> dict[UUID, Collaboration]:
    """The deals' rows, locked for this transaction in one statement (in id order, so two batches never wait on
    each other in a circle); ids that don't exist are missing from the result."""
    if not collaboration_ids:
        return {}
    rows = await session.scalars(
        sa.select(Collaboration)
        .where(among(session, Collaboration.id, list(dict.fromkeys(collaboration_ids))))
        .order_by(Collaboration.id)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    return {collab.id: collab for collab in rows}


async def transition_many(
    session: AsyncSession,
    collaboration_ids: Sequence[UUID],
    action: Action,
    actor: TransitionActor,
    *,
    now: datetime,
    payloads: Mapping[UUID, Mapping[str, Any]] | None = None,
    locked: Mapping[UUID, Collaboration] | None = None,
    refused: Mapping[UUID, PostPactError] | None = None,
) -> BatchResult:
    """``transition()`` for a batch: lock the rows in one statement, check each against the table (a refused deal
    gets the error ``transition()`` would raise, and nothing is written for it), move the others with one UPDATE,
    record their events with one multi-row INSERT, refresh their deadline watches in one statement, then tell the
    listeners once for the batch. A listener's error rolls the caller's transaction (the whole batch) back.

    ``locked``: rows this transaction already locked with ``lock_collaborations``. ``refused``: deals the caller
    already refused (its own checks); they are skipped and reported with the rest.
    """
    with parsing_once():  # each deal's terms parsed once (due dates, deadline watch, listeners)
        return await _transition_many(session, collaboration_ids, action, actor, now=now, payloads=payloads,
                                      locked=locked, refused=refused)


async def _transition_many(
    session: AsyncSession,
    collaboration_ids: Sequence[UUID],
    action: Action,
    actor: TransitionActor,
    *,
    now: datetime,
    payloads: Mapping[UUID, Mapping[str, Any]] | None,
    locked: Mapping[UUID, Collaboration] | None,
    refused: Mapping[UUID, PostPactError] | None,
) -> BatchResult:
    rows = locked if locked is not None else await lock_collaborations(session, collaboration_ids)
    result = BatchResult([], dict(refused or {}))
    moved: list[tuple[Collaboration, RecordedEvent, CollabState, CollabState]] = []
    for collab_id in dict.fromkeys(collaboration_ids):
        if collab_id in result.refused:
            continue
        collab = rows.get(collab_id)
        try:
            if collab is None:
                raise NotFound(gettext('No such collaboration.'))
            rule = check_transition(collab, action, actor, now)
        except PostPactError as exc:
            result.refused[collab_id] = exc
            continue
        source, target = _move(collab, rule, action, now)
        # The due dates straight into the row's dict, not through thirteen ORM attribute events a deal:
        # ``_write_batch`` writes every due column and marks the rows saved.
        vars(collab).update(due_columns(collab))
        event = RecordedEvent(uuid7(), collab.id, collab.event_count, action.value, source.value, target.value,
                              actor.party.value, actor.user_id, dict((payloads or {}).get(collab_id) or {}), now)
        moved.append((collab, event, source, target))
    if not moved:
        return result
    await _write_batch(session, [collab for collab, *_ in moved], now)
    # The events in one INSERT of plain rows (no ORM object each).
    await insert_rows(session, CollaborationEvent.__table__, [
        {name: getattr(event, name) for name in _EVENT_COLUMNS} for _, event, _, _ in moved
    ])
    result.changes = [
        Change(collab, event, action, source, target, actor, now, dict(event.payload))
        for collab, event, source, target in moved
    ]
    await tell_listeners(session, result.changes)
    return result


_EVENT_COLUMNS = ("id", "collaboration_id", "seq", "action", "from_state", "to_state", "actor_party", "actor_user_id",
                  "payload", "created_at")


async def _write_batch(session: AsyncSession, collabs: list[Collaboration], now: datetime) -> None:
    """One UPDATE (a single statement, executed with every row's values) of the columns the moves changed, and one
    upsert of the deadline watches; the in-memory rows are then marked as saved, so the session's flush writes
    nothing more for them."""
    columns = {attr.key: attr.columns[0].name for attr in sa.inspect(Collaboration).column_attrs}
    # The due columns always: the batch put them in the rows' dicts without the ORM seeing (``_apply``).
    changed: set[str] = {"updated_at", *DUE_COLUMNS}
    for collab in collabs:
        vars(collab)["updated_at"] = now
        # What the ORM saw set on the row (its committed_state holds the value before each change): the same as
        # "every attribute but the unmodified ones", without going over every attribute of every row.
        changed.update(sa.inspect(collab).committed_state)
    changed &= set(columns)
    names = sorted(changed)
    table = Collaboration.__table__
    dialect = session.get_bind().dialect
    # Without autoflush: the rows' pending changes must reach the database through this one UPDATE, not row by
    # row through the session's flush (which would also upsert each deadline watch on its own).
    with session.sync_session.no_autoflush:
        # The loaded rows hold every column in their own dict (read there, not through the ORM's attributes).
        rows = [vars(collab) for collab in collabs]
        unnested = _unnest_update(dialect, table, [columns[name] for name in names], names, rows)
        if unnested is not None:
            await session.execute(*unnested)
        else:
            update = (
                sa.update(table)
                .where(table.c.id == sa.bindparam("row_id"))
                .values({columns[name]: sa.bindparam(f"new_{name}") for name in names})
            )
            keys = [(name, f"new_{name}") for name in names]
            await session.execute(update, [
                {"row_id": values["id"], **{key: values[name] for name, key in keys}} for values in rows
            ])
        # What a flush does to the rows it saved: their current values become the committed ones and they are no
        # longer dirty, so the flush hooks (deadline watch, updated_at) have nothing more to do for them.
        states = [sa.inspect(collab) for collab in collabs]
        states[0]._commit_all_states([(state, state.dict) for state in states], session.sync_session.identity_map)
        watches = [(collab.id, earliest_check_at(collab)) for collab in collabs]
        if dialect.name == "postgresql":
            await session.execute(_WATCH_UPSERT, {"ids": [uuid7() for _ in watches], "deals": [d for d, _ in watches],
                                                  "ats": [at for _, at in watches]})
        else:
            await session.execute(upsert_watch(dialect.name, [
                {"collaboration_id": deal_id, "check_at": at} for deal_id, at in watches
            ]))


#: PostgreSQL: the batch's deadline watches in one statement whatever its size (arrays, not one VALUES row each).
_WATCH_UPSERT = sa.text(
    "INSERT INTO deadline_watch (id, collaboration_id, check_at) "
    "SELECT * FROM unnest(CAST(:ids AS UUID[]), CAST(:deals AS UUID[]), CAST(:ats AS TIMESTAMP WITH TIME ZONE[])) "
    "ON CONFLICT (collaboration_id) DO UPDATE SET check_at = excluded.check_at"
)


def _unnest_update(dialect: sa.Dialect, table: sa.Table, column_names: list[str], keys: list[str],
                   rows: list[dict[str, Any]]) -> tuple[sa.TextClause, dict[str, Any]] | None:
    """PostgreSQL: the rows' new values as one UPDATE … FROM unnest(one array per column) — one statement and one
    round trip for the batch, instead of the same UPDATE executed once per row. A column with the same value in
    every row (the new state, the milestone, updated_at, a due date nobody has yet) is one parameter, not an array:
    the driver encodes each array element in Python (about 0.3 µs each), and a batch's move sets many such columns.
    None elsewhere (SQLite), or for a column whose values don't travel as a plain array (JSON): the caller then
    executes the UPDATE per row."""
    if dialect.name != "postgresql":
        return None
    quote = dialect.identifier_preparer.quote
    types = []
    for name in column_names:
        column = table.c[name]
        if isinstance(column.type, sa.JSON):
            return None
        types.append(column.type.compile(dialect=dialect))
    params: dict[str, Any] = {"row_ids": [row["id"] for row in rows]}
    arrays = ["CAST(:row_ids AS UUID[])"]
    unnested: list[str] = []
    assignments: list[str] = []
    for n, (key, sql_type, name) in enumerate(zip(keys, types, column_names, strict=True)):
        if isinstance(table.c[name].type, sa.Enum):  # the enums' values (only these columns hold enum members)
            values = [value.value if isinstance(value, enum.Enum) else value for value in (row[key] for row in rows)]
        else:
            values = [row[key] for row in rows]
        quoted = quote(name)
        if values.count(values[0]) == len(values):
            params[f"c{n}"] = values[0]
            assignments.append(f"{quoted} = CAST(:c{n} AS {sql_type})")
        else:
            params[f"v{n}"] = values
            arrays.append(f"CAST(:v{n} AS {sql_type}[])")
            unnested.append(quoted)
            assignments.append(f"{quoted} = v.{quoted}")
    # Only the table's own (quoted) names and types are spliced in; every value is a bound parameter.
    sql = (f"UPDATE {quote(table.name)} AS t SET {', '.join(assignments)} "  # noqa: S608
           f"FROM unnest({', '.join(arrays)}) AS v({', '.join(['row_id', *unnested])}) WHERE t.id = v.row_id")
    return sa.text(sql), params
