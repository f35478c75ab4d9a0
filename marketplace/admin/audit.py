"""Writing and reading the admin audit log (append-only: entries are inserted, never changed)."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import urlencode
from uuid import UUID

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from marketplace.accounts.auth import Actor
from marketplace.admin.models import AdminAuditEntry

#: Entries per page of the audit log; the CSV export has no limit beyond EXPORT_MAX.
PAGE_SIZE = 50
EXPORT_MAX = 100_000
SYSTEM_EMAIL = "system@postpact"


def _jsonable(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [_jsonable(v) for v in value]
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, UUID):
        return str(value)
    if value is None or isinstance(value, bool | int | float | str):
        return value
    return str(value)


async def record(session: AsyncSession, actor: Actor | None, action: str, *, target_type: str, target_id: Any,
                 summary: str, now: datetime, before: dict[str, Any] | None = None,
                 after: dict[str, Any] | None = None, ip: str | None = None) -> AdminAuditEntry:
    """Write one entry in the caller's transaction (so it exists exactly when the action does).
    ``actor`` None records PostPact itself (a chargeback case opened by a webhook)."""
    entry = AdminAuditEntry(
        at=now,
        admin_id=actor.user_id if actor else None,
        admin_email=actor.email if actor else SYSTEM_EMAIL,
        action=action[:48],
        target_type=target_type[:32],
        target_id=str(target_id)[:64],
        summary=summary[:500],
        before=_jsonable(before or {}),
        after=_jsonable(after or {}),
        ip=ip[:64] if ip else None,
    )
    session.add(entry)
    await session.flush()
    return entry


@dataclass(frozen=True)
class AuditFilters:
    """What the audit page searches by: free text (summary, admin, target id), action prefix, target, period."""

    q: str = ""
    action: str = ""
    target_type: str = ""
    target_id: str = ""
    since: datetime | None = None
    until: datetime | None = None

    def where(self) -> list[sa.ColumnElement[bool]]:
        clauses: list[sa.ColumnElement[bool]] = []
        if self.q:
            like = f"%{_escape_like(self.q.lower())}%"
            clauses.append(sa.or_(
                sa.func.lower(AdminAuditEntry.summary).like(like, escape="\\"),
                sa.func.lower(AdminAuditEntry.admin_email).like(like, escape="\\"),
                AdminAuditEntry.target_id.like(like, escape="\\"),
            ))
        if self.action:
            clauses.append(AdminAuditEntry.action.like(f"{_escape_like(self.action)}%", escape="\\"))
        if self.target_type:
            clauses.append(AdminAuditEntry.target_type == self.target_type)
        if self.target_id:
            clauses.append(AdminAuditEntry.target_id == self.target_id)
        if self.since is not None:
            clauses.append(AdminAuditEntry.at >= self.since)
        if self.until is not None:
            clauses.append(AdminAuditEntry.at < self.until)
        return clauses

    def query_string(self) -> str:
        pairs = {"q": self.q, "action": self.action, "target_type": self.target_type, "target_id": self.target_id,
                 "since": self.since.date().isoformat() if self.since else "",
                 "until": self.until.date().isoformat() if self.until else ""}
        return urlencode({k: v for k, v in pairs.items() if v})


def _escape_like(value: str) -> str:
    return value.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


@dataclass(frozen=True)
class AuditPage:
    entries: list[AdminAuditEntry]
    #: The id to pass as ``before`` for the next (older) page, or None at the end.
    next_before: UUID | None


async def search(session: AsyncSession, filters: AuditFilters, *, before: UUID | None = None,
                 limit: int = PAGE_SIZE) -> AuditPage:
    """Newest first, keyset-paged by id (UUIDv7 ids sort by creation time)."""
    query = sa.select(AdminAuditEntry).where(*filters.where())
    if before is not None:
        query = query.where(AdminAuditEntry.id < before)
    rows = list((await session.scalars(query.order_by(AdminAuditEntry.id.desc()).limit(limit + 1))).all())
    next_before = rows[limit - 1].id if len(rows) > limit else None
    return AuditPage(rows[:limit], next_before)


CSV_COLUMNS = ["at", "admin_email", "admin_id", "action", "target_type", "target_id", "summary", "before", "after",
               "ip", "id"]


def _csv_safe(value: str) -> str:
    """Spreadsheets run cells starting with = + - @ as formulas; audit text must never do that."""
    return "'" + value if value[:1] in ("=", "+", "-", "@", "\t", "\r") else value


async def export_rows(session: AsyncSession, filters: AuditFilters) -> Iterator[str]:
    """The matching entries as CSV lines (header first), oldest first."""

    rows = (await session.scalars(
        sa.select(AdminAuditEntry).where(*filters.where()).order_by(AdminAuditEntry.id).limit(EXPORT_MAX))).all()

    def lines() -> Iterator[str]:
        out = io.StringIO()
        writer = csv.writer(out)
        writer.writerow(CSV_COLUMNS)
        yield out.getvalue()
        for entry in rows:
            out.seek(0)
            out.truncate()
            writer.writerow([
                entry.at.isoformat(), _csv_safe(entry.admin_email), entry.admin_id or "", entry.action,
                entry.target_type, _csv_safe(entry.target_id), _csv_safe(entry.summary),
                _csv_safe(json.dumps(entry.before, sort_keys=True)), _csv_safe(json.dumps(entry.after, sort_keys=True)),
                entry.ip or "", entry.id,
            ])
            yield out.getvalue()

    return lines()
