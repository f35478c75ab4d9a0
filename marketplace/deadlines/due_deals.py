"""What the deadline sweep reads of each due collaboration: the columns the rules look at, the few terms fields the
rules and reminders need, and what was already done about the deal, in one SELECT without Collaboration objects.

Reading whole collaborations (an ORM object each, the terms JSON decoded and parsed into ``Terms``) and their history
in three more queries was about half of a sweep's own CPU time. A ``DueDeal`` has the same attribute names as a
``Collaboration`` for everything ``deadlines.rules`` and ``deadlines.reminders`` read, so the same rules decide on
either.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from marketplace.clock import as_utc
from marketplace.collaborations.models import Collaboration
from marketplace.deadlines.models import DeadlineNotice, DeadlineReminder, DeadlineWatch
from marketplace.deadlines.rules import History
from marketplace.verification.models import CheckPurpose, PostCheck

#: The terms fields the sweep reads: reminder offsets and ghosting grace (rules), names and title (reminder wording).
TERMS_FIELDS: dict[str, sa.types.TypeEngine[Any]] = {
    "reminder_offsets_hours": sa.JSON(),
    "ghost_grace_hours": sa.JSON(),
    "gig_title": sa.Text(),
    "brand_name": sa.Text(),
    "creator_display_name": sa.Text(),
}

#: The collaboration columns the rules read (``due()`` reads the ``due_<stage>`` ones).
COLUMNS = (
    "id", "creator_id", "brand_id", "status", "product_included", "needs_admin_review", "deadlines_paused_at",
    "next_due_stage", "next_due_party", "next_due_at", "approved_at", "posted_at", "post_review_requested_at",
    "due_ship", "due_post", "due_check", "due_approve", "due_keep_live",
)  # fmt: skip


@dataclass(slots=True)
class DueDeal:
    """A due collaboration as the sweep reads it (the same attribute names as ``Collaboration``), with its history."""

    id: UUID
    creator_id: UUID
    brand_id: UUID
    status: str
    product_included: bool
    needs_admin_review: bool
    deadlines_paused_at: datetime | None
    next_due_stage: str | None
    next_due_party: str | None
    next_due_at: datetime | None
    approved_at: datetime | None
    posted_at: datetime | None
    post_review_requested_at: datetime | None
    due_ship: datetime | None
    due_post: datetime | None
    due_check: datetime | None
    due_approve: datetime | None
    due_keep_live: datetime | None
    #: Only the ``TERMS_FIELDS`` the stored terms have (a missing or null one is left out, so ``.get`` defaults).
    terms: dict[str, Any]
    history: History

    def due(self, stage: str) -> datetime | None:
        value = getattr(self, f"due_{stage}")
        return as_utc(value) if value is not None else None


def _history_columns() -> list[sa.ColumnElement[Any]]:
    """Correlated to the deal's row: the latest reminder offset sent for its current stage and due time (all the
    rules compare), whether the brand no-show notice went out for its current ship-by time, and whether the
    keep-live midpoint check of a posted deal ran. Each is one probe of an index that starts with the deal's id."""
    c, r, n, p = Collaboration.__table__, DeadlineReminder.__table__, DeadlineNotice.__table__, PostCheck.__table__
    latest_sent = (
        sa.select(sa.func.max(r.c.offset_hours))
        .where(r.c.collaboration_id == c.c.id, r.c.stage == c.c.next_due_stage, r.c.due_at == c.c.next_due_at)
        .scalar_subquery()
    )
    no_show_told = sa.exists().where(
        n.c.collaboration_id == c.c.id, n.c.kind == "brand_no_show", n.c.due_at == c.c.due_ship
    )
    midpoint = sa.and_(
        c.c.posted_at.is_not(None),
        sa.exists().where(p.c.collaboration_id == c.c.id, p.c.purpose == CheckPurpose.KEEP_LIVE_MIDPOINT.value),
    )
    return [latest_sent.label("latest_sent"), no_show_told.label("no_show_told"), midpoint.label("midpoint")]


def due_deals_query(dialect_name: str, now: datetime, limit: int) -> sa.Select[Any]:
    """The next ``limit`` due deals through ix_deadline_watch_check_at, joined to their collaboration by primary key.

    On PostgreSQL the terms are read with one ``json_to_record`` per row (each ``->>`` would parse the JSON again)
    and the watch rows are locked (FOR UPDATE SKIP LOCKED): two sweepers split the work instead of doing it twice.
    A deal's own lock belongs to ``transition()``, in the consequence's job.
    """
    c, w = Collaboration.__table__, DeadlineWatch.__table__
    source = c.join(w, w.c.collaboration_id == c.c.id)
    if dialect_name == "postgresql":
        record = (
            sa.func.json_to_record(c.c.terms)
            .table_valued(*(sa.column(name, type_) for name, type_ in TERMS_FIELDS.items()))
            .render_derived(name="terms_fields", with_types=True)
        )
        source = source.join(record, sa.true())
        terms = [record.c[name] for name in TERMS_FIELDS]
    else:
        terms = [
            c.c.terms[name] if isinstance(type_, sa.JSON) else c.c.terms[name].as_string()
            for name, type_ in TERMS_FIELDS.items()
        ]
    query = (
        sa.select(*(c.c[name] for name in COLUMNS), *terms, *_history_columns())
        .select_from(source)
        .where(w.c.check_at <= now)
        .order_by(w.c.check_at)
        .limit(limit)
    )
    if dialect_name == "postgresql":
        query = query.with_for_update(skip_locked=True, of=w)
    return query


async def due_deals(session: AsyncSession, now: datetime, limit: int) -> list[DueDeal]:
    """The next batch of due deals, with what was already done about each (one statement)."""
    assert session.bind is not None
    rows = await session.execute(due_deals_query(session.bind.dialect.name, now, limit))
    width = len(COLUMNS)
    names = list(TERMS_FIELDS)
    deals: list[DueDeal] = []
    for row in rows:
        values = tuple(row)
        terms = {
            name: value
            for name, value in zip(names, values[width : width + len(names)], strict=True)
            if value is not None
        }
        latest_sent, no_show_told, midpoint = values[width + len(names) :]
        history = History(
            frozenset() if latest_sent is None else frozenset((latest_sent,)),
            frozenset(("brand_no_show",)) if no_show_told else frozenset(),
            bool(midpoint),
        )
        deals.append(DueDeal(*values[:width], terms=terms, history=history))
    return deals
