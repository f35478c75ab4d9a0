"""The audit log is append-only in the database itself (UPDATE and DELETE refused on both databases), searchable,
and exportable as CSV."""

from __future__ import annotations

import csv
import io

import pytest
import sqlalchemy as sa
from sqlalchemy.exc import DBAPIError, IntegrityError

from marketplace.admin import audit
from marketplace.admin.models import AdminAuditEntry
from marketplace.db import session_scope
from tests.support.disputes import actor_now


async def _entries(runtime, admin, n: int) -> None:
    actor = await actor_now(runtime, admin)
    async with session_scope(runtime.session_maker) as session:
        for i in range(n):
            await audit.record(session, actor, "user.suspend" if i % 2 else "brand.verify", target_type="user",
                               target_id=f"target-{i}", summary=f"=cmd|' /C calc'!A0 entry {i}",
                               now=runtime.clock.now(), before={"n": i}, after={"n": i + 1}, ip="127.0.0.1")


async def test_the_database_refuses_updates_and_deletes(runtime, people, db) -> None:
    admin = await people.admin()
    await _entries(runtime, admin, 2)
    for statement in (sa.update(AdminAuditEntry).values(summary="rewritten"), sa.delete(AdminAuditEntry)):
        with pytest.raises((IntegrityError, DBAPIError)) as exc:
            async with session_scope(runtime.session_maker) as session:
                await session.execute(statement)
        assert "append-only" in str(exc.value)
    summaries = list(await db.scalars(sa.select(AdminAuditEntry.summary)))
    assert len(summaries) == 2 and all("rewritten" not in s for s in summaries)


@pytest.mark.postgres_only("TRUNCATE is PostgreSQL's; SQLite's DELETE trigger covers a whole-table delete")
async def test_postgresql_refuses_truncate_too(runtime, people, db) -> None:
    admin = await people.admin()
    await _entries(runtime, admin, 1)
    with pytest.raises((IntegrityError, DBAPIError)) as exc:
        async with session_scope(runtime.session_maker) as session:
            await session.execute(sa.text("TRUNCATE admin_audit_log"))
    assert "append-only" in str(exc.value)
    assert await db.scalar(sa.select(sa.func.count()).select_from(AdminAuditEntry)) == 1


async def test_search_and_csv_export(make_web, runtime, people, db) -> None:
    admin = await people.admin()
    await _entries(runtime, admin, 5)
    web = await make_web()
    await web.sign_in(admin.email, admin.password)

    page = await web.get("/admin/audit?action=user.")
    assert page.status_code == 200 and page.text.count("<code>user.suspend</code>") == 2
    found = await web.get("/admin/audit?q=target-3", htmx=True)
    assert found.status_code == 200 and "<html" not in found.text and "target-3" in found.text
    assert "target-1" not in found.text
    bad = await web.get("/admin/audit?since=yesterday")
    assert bad.status_code == 422

    export = await web.get("/admin/audit.csv?action=user.")
    assert export.status_code == 200 and export.headers["content-type"].startswith("text/csv")
    rows = list(csv.reader(io.StringIO(export.text)))
    assert rows[0] == audit.CSV_COLUMNS and len(rows) == 3
    assert all(r[6].startswith("'=") for r in rows[1:]), "formula-looking cells are defused"
    exported = list(await db.scalars(sa.select(AdminAuditEntry).where(AdminAuditEntry.action == "audit.export")))
    assert len(exported) == 1 and exported[0].admin_id == admin.user_id


async def test_pages_of_the_log_are_keyset_paged(runtime, people, db) -> None:
    admin = await people.admin()
    await _entries(runtime, admin, 7)
    async with runtime.session_maker() as session:
        first = await audit.search(session, audit.AuditFilters(), limit=3)
        second = await audit.search(session, audit.AuditFilters(), before=first.next_before, limit=3)
        third = await audit.search(session, audit.AuditFilters(), before=second.next_before, limit=3)
    ids = [e.id for e in first.entries + second.entries + third.entries]
    assert len(ids) == len(set(ids)) == 7 and third.next_before is None
    assert ids == sorted(ids, reverse=True)
