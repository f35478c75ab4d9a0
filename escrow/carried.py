"""Escrow's own unflushed rows (hold, event, provider call) written inside the ledger's statement on PostgreSQL.

A money decision changes the hold, adds its event and a provider call, and posts to the ledger. Flushed by the ORM
that is one round trip per row before the ledger's own statement; here they ride along as data-modifying CTEs of that
one statement (``ledger.write``), and the session is then told they are written, as if it had flushed them. Only
when the session holds nothing but these rows: anything else (a listener's notification, a deletion) and the caller
flushes as usual. PostgreSQL checks the foreign keys between them (call → pending transaction, event → hold) at the
end of the statement.
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
    """The session's pending rows as Core statements, and how to mark them written afterwards."""

    statements: list[Any] = field(default_factory=list)
    new: list[Any] = field(default_factory=list)
    changed: list[tuple[Any, dict[str, Any]]] = field(default_factory=list)

    def mark_written(self, session: AsyncSession) -> None:
        sync = session.sync_session
        for obj in self.new:
            sync.expunge(obj)
            make_transient_to_detached(obj)
            sync.add(obj)
        for obj, values in self.changed:
            for key, value in values.items():
                set_committed_value(obj, key, value)


def carried_rows(session: AsyncSession) -> Carried | None:
    """What the session would flush, as statements to carry, or None when it can't all be carried (then flush)."""
    sync = session.sync_session
    if sync.deleted:
        return None
    new, dirty = list(sync.new), [o for o in sync.dirty if sync.is_modified(o, include_collections=False)]
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
        carried.statements.append(sa.insert(type(obj).__table__).values(values))
        carried.new.append(obj)
    for obj in dirty:
        mapper = sa.inspect(type(obj))
        state = sa.inspect(obj)
        values = {}
        for attr in mapper.column_attrs:
            history = state.attrs[attr.key].history
            if history.added:
                values[attr.key] = history.added[0]
        if "updated_at" in mapper.columns and "updated_at" not in values:
            values["updated_at"] = now
        table = type(obj).__table__
        columns = {mapper.get_property(key).columns[0].name: value for key, value in values.items()}
        carried.statements.append(sa.update(table).where(table.c.id == obj.id).values(columns))
        carried.changed.append((obj, values))
    return carried


def _new_values(obj: Any) -> dict[str, Any] | None:
    """Every column of a new row, defaults applied and set on the object too (so nothing is left to load)."""
    mapper = sa.inspect(type(obj))
    state = sa.inspect(obj)
    values = {}
    for attr in mapper.column_attrs:
        column = attr.columns[0]
        if attr.key in state.dict:
            value = state.dict[attr.key]
        elif column.default is not None and column.default.is_scalar:
            value = column.default.arg
        elif column.default is not None and column.default.is_callable:
            value = column.default.arg(None)
        elif column.server_default is not None:
            return None  # the database would fill it: let the ORM flush and read it back
        else:
            value = None
        if attr.key not in state.dict:
            setattr(obj, attr.key, value)
        values[column.name] = value
    return values
