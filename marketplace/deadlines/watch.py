"""Keeps ``deadline_watch`` in step with collaborations: whenever a deal's due times or status change, the sweeper's
next look at it moves to the earliest moment anything could be due.

Mapper events rather than a transition listener: besides every transition, a deal's creation and an admin's review
flag move what is due, and listening on the model catches all of them without the deal flow knowing about the
sweeper. ``install()`` registers them; ``marketplace.listeners.install_listeners`` calls it at start-up. Bulk Core
updates of ``collaboration`` would bypass it; ``reconcile_watches`` (a periodic job) repairs rows that drifted.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

import sqlalchemy as sa
from sqlalchemy import event
from uuid_utils.compat import uuid7

from marketplace.collaborations.models import Collaboration
from marketplace.db import insert_stmt
from marketplace.deadlines.models import DeadlineWatch
from marketplace.deadlines.rules import earliest_check_at

#: Attributes whose change can move what is due; other updates (counters, notes) leave the watch alone.
WATCHED_ATTRIBUTES = (
    "status",
    "terms",
    "next_due_stage",
    "next_due_party",
    "next_due_at",
    "due_ship",
    "due_post",
    "due_approve",
    "due_keep_live",
    "due_overrides",
    "deadlines_paused_at",
    "posted_at",
    "approved_at",
    "needs_admin_review",
)


def upsert_watch(dialect_name: str, rows: list[dict[str, Any]]) -> sa.Insert:
    """INSERT … ON CONFLICT (collaboration_id) DO UPDATE check_at: rows are {"collaboration_id", "check_at"}."""
    table = DeadlineWatch.__table__
    values = [{"id": uuid7(), **row} for row in rows]
    stmt = insert_stmt(dialect_name, table).values(values)
    return stmt.on_conflict_do_update(index_elements=["collaboration_id"], set_={"check_at": stmt.excluded.check_at})


def _write(connection: sa.Connection, collaboration_id: UUID, at: datetime | None) -> None:
    connection.execute(upsert_watch(connection.dialect.name, [{"collaboration_id": collaboration_id, "check_at": at}]))


def _watch_new_collaboration(_mapper: Any, connection: sa.Connection, target: Collaboration) -> None:
    _write(connection, target.id, earliest_check_at(target))


def _watch_changed_collaboration(_mapper: Any, connection: sa.Connection, target: Collaboration) -> None:
    state = sa.inspect(target)
    if any(state.attrs[name].history.has_changes() for name in WATCHED_ATTRIBUTES):
        _write(connection, target.id, earliest_check_at(target))


def install() -> None:
    """Keep ``deadline_watch`` in step with every insert and relevant update of a collaboration (idempotent)."""
    for name, handler in (("after_insert", _watch_new_collaboration), ("after_update", _watch_changed_collaboration)):
        if not event.contains(Collaboration, name, handler):
            event.listen(Collaboration, name, handler)
