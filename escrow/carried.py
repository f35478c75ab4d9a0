"""Escrow's own unflushed rows (hold, event, provider call) written inside the ledger's statement on PostgreSQL.

A money decision changes the hold, adds its event and a provider call, and posts to the ledger. Flushed by the ORM
that is one round trip per row before the ledger's own statement; here they ride along as data-modifying CTEs of that
one statement (``ledger.write``), and the session is then told they are written, as if it had flushed them. Only
when the session holds nothing but these rows: anything else (a listener's notification, a deletion) and the caller
flushes as usual (a release decided inside a deal's transition, whose own rows are pending, is flushed; the
executor's result transaction is carried). PostgreSQL checks the foreign keys between them (call → pending
transaction, event → hold) at the end of the statement.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import make_transient_to_detached
from sqlalchemy.orm.attributes import set_committed_value

from escrow.models import EscrowEvent, EscrowHold, ProviderCall

_CARRIED = (EscrowHold, EscrowEvent, ProviderCall)


@dataclass
class Carried:
    """The session's pending rows, as (shape, values) for ``statements``, and how to mark them written afterwards.
    A shape is ("insert" | "update", table name, column names); its statement is built once (bind parameters)."""

    rows: list[tuple[tuple[str, str, tuple[str, ...]], dict[str, Any]]] = field(default_factory=list)
    new: list[Any] = field(default_factory=list)
    changed: list[tuple[Any, dict[str, Any]]] = field(default_factory=list)

    @property
    def shapes(self) -> tuple[tuple[str, str, tuple[str, ...]], ...]:
        return tuple(shape for shape, _values in self.rows)

    def params(self) -> dict[str, Any]:
        return {
            f"r{n}_{column}": value for n, (_shape, values) in enumerate(self.rows) for column, value in values.items()
        }

    def mark_written(self, session: AsyncSession) -> None:
        sync = session.sync_session
        for obj in self.new:
            sync.expunge(obj)
            make_transient_to_detached(obj)
            sync.add(obj)
        for obj, values in self.changed:
            for key, value in values.items():
                set_committed_value(obj, key, value)
            state = sa.inspect(obj)
            if not state.committed_state:
                # All its changes are written: mark the row clean, as a flush does, or the commit would flush it (a
                # unit of work and the before_flush listeners over every column) to find nothing to write.
                state._commit_all(state.dict, sync.identity_map)


def statements(shapes: tuple[tuple[str, str, tuple[str, ...]], ...]) -> list[Any]:
    """The INSERT/UPDATE statements for ``shapes``, row ``n``'s values bound as ``r{n}_{column}`` (an UPDATE's row
    by ``r{n}_id``)."""
    built = []
    for n, (verb, name, columns) in enumerate(shapes):
        table = _TABLES[name]

        def param(column: str, n: int = n, table: Any = table) -> Any:
            return sa.bindparam(f"r{n}_{column}", type_=table.c[column].type)

        if verb == "insert":
            built.append(sa.insert(table).values({column: param(column) for column in columns}))
        else:
            built.append(
                sa.update(table)
                .where(table.c.id == param("id"))
                .values({column: param(column) for column in columns if column != "id"})
            )
    return built


_TABLES = {model.__table__.name: model.__table__ for model in _CARRIED}
_COLUMNS: dict[type, dict[str, str]] = {}


def _columns_of(model: type) -> dict[str, str]:
    """Attribute key -> column name (read once; not at import, which would configure every mapper early)."""
    columns = _COLUMNS.get(model)
    if columns is None:
        columns = _COLUMNS[model] = {attr.key: attr.columns[0].name for attr in sa.inspect(model).column_attrs}
    return columns


def carried_rows(session: AsyncSession) -> Carried | None:
    """What the session would flush, as rows to carry, or None when it can't all be carried (then flush)."""
    sync = session.sync_session
    if sync.deleted:
        return None
    new, dirty = list(sync.new), list(sync.dirty)
    if not new and not dirty:
        return Carried()
    if any(not isinstance(o, _CARRIED) for o in (*new, *dirty)):
        return None
    carried = Carried()
    now = datetime.now(UTC)
    for obj in new:
        values = _new_values(obj)
        if values is None:
            return None
        table = type(obj).__table__
        carried.rows.append((("insert", table.name, tuple(values)), values))
        carried.new.append(obj)
    for obj in dirty:
        # The attributes set since the row was loaded (``committed_state`` keeps their loaded values), as the
        # ORM's flush finds them; an attribute set back to its loaded value is written again, harmlessly.
        state = sa.inspect(obj)
        columns_of = _columns_of(type(obj))
        changed = {key: state.dict[key] for key in state.committed_state if key in columns_of and key in state.dict}
        if not changed:
            continue
        if "updated_at" in columns_of and "updated_at" not in changed:
            changed["updated_at"] = now
        table = type(obj).__table__
        columns = {columns_of[key]: value for key, value in changed.items()}
        columns["id"] = obj.id
        carried.rows.append((("update", table.name, tuple(columns)), columns))
        carried.changed.append((obj, changed))
    return carried


#: Per model, each column's (attribute key, column name, default): ``_SCALAR`` + value, ``_CALLABLE`` + function,
#: ``_SERVER`` (the database fills it) or ``_NONE``. Read once, like ``_COLUMNS``.
_SCALAR, _CALLABLE, _SERVER, _NONE = range(4)
_PLANS: dict[type, tuple[tuple[str, str, int, Any], ...]] = {}


def _plan_of(model: type) -> tuple[tuple[str, str, int, Any], ...]:
    plan = _PLANS.get(model)
    if plan is None:
        steps = []
        for attr in sa.inspect(model).column_attrs:
            column = attr.columns[0]
            default = column.default
            if default is not None and default.is_scalar:
                steps.append((attr.key, column.name, _SCALAR, default.arg))
            elif default is not None and default.is_callable:
                steps.append((attr.key, column.name, _CALLABLE, default.arg))
            elif column.server_default is not None:
                steps.append((attr.key, column.name, _SERVER, None))
            else:
                steps.append((attr.key, column.name, _NONE, None))
        plan = _PLANS[model] = tuple(steps)
    return plan


def _new_values(obj: Any) -> dict[str, Any] | None:
    """Every column of a new row, defaults applied and set on the object too (so nothing is left to load)."""
    given = sa.inspect(obj).dict
    values = {}
    for key, name, kind, default in _plan_of(type(obj)):
        if key in given:
            values[name] = given[key]
            continue
        if kind == _SERVER:
            return None  # the database would fill it: let the ORM flush and read it back
        value = default if kind == _SCALAR else default(None) if kind == _CALLABLE else None
        setattr(obj, key, value)
        values[name] = value
    return values
