"""Test database plumbing: migrating, creating and emptying databases, and making people quickly."""

from __future__ import annotations

import asyncio
import threading
import uuid
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import sqlalchemy as sa
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import create_async_engine

from marketplace.accounts.models import UserKind
from marketplace.accounts.services import AccountService, SignUp
from marketplace.brands.models import BrandMember, BrandRole
from marketplace.db import session_scope
from marketplace.migrate import downgrade, upgrade
from marketplace.runtime import Runtime
from marketplace.settings import normalise_database_url

T = TypeVar("T")


def run_in_thread(fn: Callable[[], Awaitable[T]]) -> T:
    """Run a coroutine to completion on a private loop, whatever loop the caller has (fixtures, tests)."""
    result: dict[str, Any] = {}

    def target() -> None:
        try:
            result["value"] = asyncio.run(fn())
        except BaseException as exc:  # re-raised in the caller's thread
            result["error"] = exc

    thread = threading.Thread(target=target)
    thread.start()
    thread.join()
    if "error" in result:
        raise result["error"]
    return result["value"]  # type: ignore[no-any-return]


def migrate(url: str, revision: str = "head") -> None:
    # Alembic's env calls asyncio.run itself, so it gets a thread of its own.
    def target() -> None:
        upgrade(url, revision)

    _in_thread(target)


def unmigrate(url: str, revision: str = "base") -> None:
    def target() -> None:
        downgrade(url, revision)

    _in_thread(target)


def _in_thread(fn: Callable[[], None]) -> None:
    errors: list[BaseException] = []

    def target() -> None:
        try:
            fn()
        except BaseException as exc:
            errors.append(exc)

    thread = threading.Thread(target=target)
    thread.start()
    thread.join()
    if errors:
        raise errors[0]


def _admin_url(server_url: str) -> str:
    return make_url(server_url).set(database="postgres").render_as_string(hide_password=False)


def recreate_postgres_database(server_url: str, name: str) -> str:
    _close_emptier(name)

    async def go() -> None:
        engine = create_async_engine(_admin_url(server_url), isolation_level="AUTOCOMMIT")
        try:
            async with engine.connect() as conn:
                await conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
                await conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
        finally:
            await engine.dispose()

    run_in_thread(go)
    return make_url(server_url).set(database=name).render_as_string(hide_password=False)


def drop_postgres_database(server_url: str, name: str) -> None:
    _close_emptier(name)

    async def go() -> None:
        engine = create_async_engine(_admin_url(server_url), isolation_level="AUTOCOMMIT")
        try:
            async with engine.connect() as conn:
                await conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        finally:
            await engine.dispose()

    run_in_thread(go)


#: A loop of its own in a daemon thread, holding one connection per test database for ``truncate_all``.
_EMPTIER_LOOP: asyncio.AbstractEventLoop | None = None
_EMPTIER_CONNECTIONS: dict[str, Any] = {}


def _on_emptier_loop(fn: Callable[[], Awaitable[T]]) -> T:
    global _EMPTIER_LOOP
    if _EMPTIER_LOOP is None:
        loop = asyncio.new_event_loop()
        threading.Thread(target=loop.run_forever, name="test-database-emptier", daemon=True).start()
        _EMPTIER_LOOP = loop
    return asyncio.run_coroutine_threadsafe(fn(), _EMPTIER_LOOP).result()


def truncate_all(url: str) -> None:
    """Empty every table (but alembic_version) between tests. Only the tables a test wrote to are emptied, with
    DELETE: one query finds them, and truncating all ninety-odd tables each time (new files for each) cost ~10x more.
    The connection stays open between tests: a new one (a new server process reading the catalog of every table for
    the query again) made this ~0.15 s per test, a warm one a few milliseconds."""
    import asyncpg

    async def empty(conn: Any) -> None:
        async with conn.transaction():
            names = [
                row[0]
                for row in await conn.fetch(
                    "SELECT tablename FROM pg_tables WHERE schemaname = 'public' AND tablename <> 'alembic_version'"
                )
            ]
            if not names:
                return
            # (Table names from the catalog, not from input.)
            probe = " UNION ALL ".join(f"SELECT '{n}' WHERE EXISTS (SELECT FROM \"{n}\")" for n in names)  # noqa: S608
            filled = [row[0] for row in await conn.fetch(probe)]
            if filled:
                # Between tests only: triggers (foreign keys, the append-only audit log and ledger) are off for
                # this transaction, so the order does not matter.
                await conn.execute("SET LOCAL session_replication_role = replica")
                for name in filled:
                    await conn.execute(f'DELETE FROM "{name}"')  # noqa: S608

    async def go() -> None:
        conn = _EMPTIER_CONNECTIONS.get(url)
        if conn is not None and not conn.is_closed():
            try:
                await empty(conn)
                return
            except (asyncpg.InterfaceError, asyncpg.PostgresConnectionError, OSError):
                pass  # the server dropped it (a database recreated, a restart): once more on a new one
        dsn = make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)
        conn = _EMPTIER_CONNECTIONS[url] = await asyncpg.connect(dsn)
        await empty(conn)

    _on_emptier_loop(go)


def _close_emptier(database: str) -> None:
    async def go() -> None:
        for url in [u for u in _EMPTIER_CONNECTIONS if make_url(u).database == database]:
            conn = _EMPTIER_CONNECTIONS.pop(url)
            if not conn.is_closed():
                await conn.close(timeout=5)

    if _EMPTIER_LOOP is not None:
        _on_emptier_loop(go)


def check_services(postgres_url: str | None, redis_url: str | None) -> list[str]:
    problems: list[str] = []

    async def pg() -> None:
        assert postgres_url
        engine = create_async_engine(_admin_url(postgres_url))
        try:
            async with engine.connect() as conn:
                await conn.execute(sa.text("SELECT 1"))
        finally:
            await engine.dispose()

    async def rd() -> None:
        from redis.asyncio import Redis

        assert redis_url
        client = Redis.from_url(redis_url, socket_connect_timeout=3)
        try:
            await client.ping()
        finally:
            await client.aclose()

    postgres_url = normalise_database_url(postgres_url) if postgres_url else None
    if not postgres_url:
        problems.append("PostgreSQL: no URL (set DATABASE_URL or TEST_POSTGRES_URL)")
    else:
        try:
            run_in_thread(pg)
        except Exception as exc:
            problems.append(f"PostgreSQL at {postgres_url}: {type(exc).__name__}: {exc}")
    if not redis_url:
        problems.append("Redis: no URL (set REDIS_URL or TEST_REDIS_URL)")
    else:
        try:
            run_in_thread(rd)
        except Exception as exc:
            problems.append(f"Redis at {redis_url}: {type(exc).__name__}: {exc}")
    return problems


class PeopleFactory:
    """Creates committed users through the real sign-up service (cheap hashing, no rate limits)."""

    def __init__(self, runtime: Runtime, password: str) -> None:
        self.runtime = runtime
        self.password = password

    @staticmethod
    def _email(prefix: str) -> str:
        return f"{prefix}-{uuid.uuid4().hex[:10]}@example.test"

    async def brand(
        self,
        *,
        email: str | None = None,
        brand_name: str = "Acme Goods",
        name: str = "Brand Owner",
        role: BrandRole = BrandRole.OWNER,
        brand_id: uuid.UUID | None = None,
    ) -> Any:
        from tests.conftest import Person

        email = email or self._email("brand")
        async with session_scope(self.runtime.session_maker) as session:
            accounts = AccountService(session, self.runtime)
            if brand_id is None:
                user = await accounts.sign_up(
                    SignUp(UserKind.BRAND, email, self.password, name, brand_name=brand_name), ip=None
                )
                member = await session.scalar(sa.select(BrandMember).where(BrandMember.user_id == user.id))
                assert member is not None
                member.role = role
                return Person(email, self.password, user.id, brand_id=member.brand_id)
            # A teammate joining an existing brand.
            from marketplace.accounts.models import User

            user = User(
                email=email,
                password_hash=self.runtime.passwords.hash(self.password),
                kind=UserKind.BRAND,
                full_name=name,
            )
            session.add(user)
            await session.flush()
            session.add(BrandMember(brand_id=brand_id, user_id=user.id, role=role))
            return Person(email, self.password, user.id, brand_id=brand_id)

    async def creator(self, *, email: str | None = None, name: str = "Casey Creator") -> Any:
        from marketplace.creators.models import Creator
        from tests.conftest import Person

        email = email or self._email("creator")
        async with session_scope(self.runtime.session_maker) as session:
            user = await AccountService(session, self.runtime).sign_up(
                SignUp(UserKind.CREATOR, email, self.password, name), ip=None
            )
            creator_id = await session.scalar(sa.select(Creator.id).where(Creator.user_id == user.id))
            return Person(email, self.password, user.id, creator_id=creator_id)

    async def admin(self, *, email: str | None = None) -> Any:
        from tests.conftest import Person

        email = email or self._email("admin")
        async with session_scope(self.runtime.session_maker) as session:
            user = await AccountService(session, self.runtime).create_admin(email, self.password)
            return Person(email, self.password, user.id)
