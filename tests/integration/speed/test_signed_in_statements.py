"""Statements a signed-in /gigs page and a creator's standing cost, counted on the engine (bench/web.py measures the
throughput; these keep the round trips from creeping back)."""

from __future__ import annotations

from contextlib import contextmanager
from typing import Any
from uuid import uuid4

import pytest
import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session

from marketplace.accounts.auth import ReadOnlyRouteWrote, read_only_engine
from marketplace.accounts.models import User
from marketplace.db import make_alchemy_config
from marketplace.gigs.services import page_lookup_statement
from marketplace.notifications.models import Notification
from marketplace.notifications.services import notify
from marketplace.reputation.services import creator_standing
from marketplace.settings import Settings
from tests.support.marketplace import make_collaboration, make_creator_with_account, make_gig

#: Sign-in (the actor), the page's gigs, one UNION for everything about them and the creator's profile, and the
#: creator's standing in one statement (score, open deals and linked ghostings: ``creator_standing_at_once``).
#: Transaction control is not counted.
MAX_GIGS_PAGE_STATEMENTS = 4


#: The nav badge poll signed in: the badge's one statement, not inside a transaction on PostgreSQL; the actor comes
#: from the cache while it is current (``accounts.auth``: checked against the Redis session's generations).
BADGE_STATEMENTS = 1


@contextmanager
def count_statements(runtime: Any, *, transactions: list[str] | None = None):
    """Statements run on the engine; ``transactions`` also collects how each ran: "autocommit" or "transaction"."""
    engine = runtime.alchemy.get_engine().sync_engine
    statements: list[str] = []

    def listener(conn, cursor, statement, parameters, context, executemany) -> None:
        if not statement.lstrip().upper().startswith(("BEGIN", "COMMIT", "ROLLBACK")):
            statements.append(statement)
            if transactions is not None:
                level = context.execution_options.get("isolation_level")
                transactions.append("autocommit" if level == "AUTOCOMMIT" else "transaction")

    event.listen(engine, "before_cursor_execute", listener)
    try:
        yield statements
    finally:
        event.remove(engine, "before_cursor_execute", listener)


async def test_signed_in_gigs_page_statements(web, runtime, people, database_url) -> None:
    brand = await people.brand()
    for i in range(6):
        await make_gig(runtime, brand, title=f"Serum gig {i}", niches=["skincare"],
                       deliverables=[{"platform": "tiktok", "kind": "video", "count": 1}])
    creator = await make_creator_with_account(runtime, people, niches=["skincare"])
    await web.sign_in(creator.person.email, creator.person.password)
    await web.get("/gigs")  # warm-up: template compile and statement caches are first-request work
    expected = "autocommit" if database_url.startswith("postgresql") else "transaction"
    for path in ("/gigs", "/gigs?q=serum&niche=skincare&sort=fee", "/gigs?platform=tiktok&sort=deadline"):
        transactions: list[str] = []
        with count_statements(runtime, transactions=transactions) as statements:
            response = await web.get(path)
        assert response.status_code == 200
        assert response.text.count('class="card gig-card"') == 6, path
        assert len(statements) <= MAX_GIGS_PAGE_STATEMENTS + (1 if "deadline" in path else 0), (path, statements)
        # A read-only page: no BEGIN and COMMIT round trips on PostgreSQL.
        assert set(transactions) == {expected}, (path, transactions)


async def test_creator_standing_is_two_statements(runtime, people) -> None:
    creator = await make_creator_with_account(runtime, people)
    async with runtime.session_maker() as session:
        with count_statements(runtime) as statements:
            view, open_deals = await creator_standing(session, creator.creator_id, runtime.clock.now())
    assert open_deals == 0 and view.is_newcomer
    assert len(statements) == 2, statements


def test_page_lookups_are_built_once() -> None:
    first = page_lookup_statement(full=False, creator=True, facts=True, dialect="postgresql")
    assert page_lookup_statement(full=False, creator=True, facts=True, dialect="postgresql") is first
    assert page_lookup_statement(full=True, creator=True, facts=False, dialect="postgresql") is not first


def test_page_lookups_on_postgres_have_one_text_whatever_the_ids() -> None:
    """Array parameters, not an IN list expanded per request: every page's lookups are one prepared statement."""
    from sqlalchemy.dialects.postgresql import asyncpg

    compiled = page_lookup_statement(full=False, creator=True, facts=True, dialect="postgresql").compile(
        dialect=asyncpg.dialect())
    assert "POSTCOMPILE" not in str(compiled) and str(compiled).count("ANY") == 5
    sqlite = str(page_lookup_statement(full=False, creator=True, facts=True, dialect="sqlite").compile())
    assert "POSTCOMPILE_ids" in sqlite


def test_postgres_pool_does_not_ping_every_checkout() -> None:
    settings = Settings.from_env({"POSTPACT_ENV": "test", "SECRET_KEY": "s" * 40,
                                  "DATABASE_URL": "postgresql://postgres@127.0.0.1:5432/test"})
    pool = make_alchemy_config(settings).get_engine().pool
    assert pool._pre_ping is False
    assert pool._recycle == 1800


async def test_badge_poll_is_one_statement(web, runtime, people, database_url) -> None:
    """A signed-in fragment costs its own statement (the actor is cached while current); on PostgreSQL without BEGIN
    and COMMIT (the route is read-only: its session runs in autocommit). The badge shows the user's own unread count."""
    creator = await make_creator_with_account(runtime, people)
    async with runtime.session_maker() as session, session.begin():
        await notify(session, [creator.person.user_id], kind="application.accepted", title="Accepted",
                     body="Congratulations.", link="/creator/applications")
    await web.sign_in(creator.person.email, creator.person.password)
    await web.get("/notifications/badge", htmx=True)  # warm-up (statement caches, the actor's cache)
    transactions: list[str] = []
    with count_statements(runtime, transactions=transactions) as statements:
        response = await web.get("/notifications/badge", htmx=True)
    assert response.status_code == 200 and ">1<" in response.text.replace(" ", ""), response.text
    assert len(statements) == BADGE_STATEMENTS, statements
    assert "notification" in statements[0] and "user_account" not in statements[0], statements
    expected = "autocommit" if database_url.startswith("postgresql") else "transaction"
    assert transactions == [expected] * BADGE_STATEMENTS, transactions


async def test_a_page_after_the_badge_still_runs_in_a_transaction(web, runtime, people) -> None:
    """Only read-only routes' sessions are in autocommit: the next page's statements share one transaction."""
    creator = await make_creator_with_account(runtime, people)
    await web.sign_in(creator.person.email, creator.person.password)
    await web.get("/notifications/badge", htmx=True)
    transactions: list[str] = []
    with count_statements(runtime, transactions=transactions) as statements:
        response = await web.get("/notifications/settings")
    assert response.status_code == 200
    assert statements and set(transactions) == {"transaction"}, transactions


async def test_badge_session_is_closed_without_a_commit(web, runtime, people, database_url) -> None:
    """A read-only route's autocommit session has nothing to commit: it is closed (its connection back in the pool)
    with no commit run; an ordinary page still commits."""
    creator = await make_creator_with_account(runtime, people)
    await web.sign_in(creator.person.email, creator.person.password)
    await web.get("/notifications/badge", htmx=True)
    pool = runtime.alchemy.get_engine().sync_engine.pool
    seen: list[str] = []
    listeners = [(Session, "after_commit", lambda *_: seen.append("commit")),
                 (pool, "checkout", lambda *_: seen.append("checkout")),
                 (pool, "checkin", lambda *_: seen.append("checkin"))]
    for target, name, listener in listeners:
        event.listen(target, name, listener)
    try:
        assert (await web.get("/notifications/badge", htmx=True)).status_code == 200
        badge, seen[:] = list(seen), []
        assert (await web.get("/notifications/settings")).status_code == 200
        page = list(seen)
    finally:
        for target, name, listener in listeners:
            event.remove(target, name, listener)
    assert badge.count("checkout") == badge.count("checkin") >= 1, badge
    assert ("commit" in badge) is (not database_url.startswith("postgresql")), badge
    assert "commit" in page, page


#: Pages that only read, in autocommit on PostgreSQL (``auth.READ_ONLY``): no BEGIN and COMMIT around their statements;
#: each says whether it shows the deal's gig title.
READ_ONLY_PAGES = {
    "creator": {"/creator": True, "/creator/collaborations": True, "/collaborations/{deal}": True,
                "/messages": False, "/notifications": False, "/creator/sales": False},
    "brand": {"/brand": False, "/brand/collaborations": True, "/collaborations/{deal}": True, "/brand/sales": False},
}


async def test_read_only_pages_run_without_a_transaction(web, runtime, people, database_url) -> None:
    """Dashboards, deal lists, the deal page, inbox, notifications and sales pages only read: on PostgreSQL each runs
    its statements in autocommit (SQLite keeps its own transactions), for the creator and for the brand."""
    deal = await make_collaboration(runtime, people)
    expected = "autocommit" if database_url.startswith("postgresql") else "transaction"
    for side, person in (("creator", deal.creator), ("brand", deal.brand)):
        await web.sign_in(person.email, person.password)
        for path, shows_title in READ_ONLY_PAGES[side].items():
            transactions: list[str] = []
            with count_statements(runtime, transactions=transactions) as statements:
                response = await web.get(path.format(deal=deal.collaboration.id))
            assert response.status_code == 200, (side, path, response.status_code)
            assert not shows_title or deal.gig.title in response.text, (side, path)
            assert statements and set(transactions) == {expected}, (side, path, transactions)
        await web.sign_out()


async def test_a_read_only_session_refuses_to_write(runtime, database_url) -> None:
    """A route marked read-only that wrote would commit statement by statement: its engine refuses every write
    (ORM or Core, INSERT/UPDATE/DELETE, row locks, a write inside WITH) before it reaches the database."""
    if not database_url.startswith("postgresql"):
        pytest.skip("read-only routes run in autocommit only on PostgreSQL (SQLite keeps its own transactions)")
    engine = read_only_engine(runtime.alchemy.get_engine())
    assert read_only_engine(runtime.alchemy.get_engine()) is engine
    writes = [
        sa.insert(Notification).values(id=uuid4(), user_id=uuid4(), kind="x", title="x", body="x", link="/"),
        sa.update(User).values(full_name="x"),
        sa.delete(User),
        sa.select(User.id).with_for_update(),
        sa.text("WITH gone AS (DELETE FROM notification RETURNING id) SELECT count(*) FROM gone"),
        sa.text("update user_account set display_name = 'x'"),
    ]
    async with AsyncSession(engine) as session:
        for statement in writes:
            with pytest.raises(ReadOnlyRouteWrote):
                await session.execute(statement)
        # Reading is what it is for, words like "updated_at" or "creator_id" included.
        assert (await session.execute(sa.select(sa.func.count(User.id), sa.literal("updated_at")))).one()
    async with runtime.session_maker() as session:  # nothing was written, in any of them
        assert await session.scalar(sa.select(sa.func.count()).select_from(Notification)) == 0
        assert await session.scalar(sa.select(sa.func.count()).where(User.full_name == "x")) == 0
    # The ordinary engine (the one every other route's transaction uses) is not affected.
    async with runtime.session_maker() as session, session.begin():
        await session.execute(sa.update(User).where(User.id == uuid4()).values(full_name="y"))
