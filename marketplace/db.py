"""Database engine, sessions and column helpers shared by every model."""

from __future__ import annotations

import enum
import itertools
import json
from collections.abc import AsyncIterator, Mapping, Sequence
from contextlib import asynccontextmanager
from typing import Any

import msgspec
import sqlalchemy as sa
from advanced_alchemy.base import UUIDv7AuditBase, UUIDv7Base, orm_registry
from advanced_alchemy.config import AsyncSessionConfig, EngineConfig
from advanced_alchemy.extensions.litestar import SQLAlchemyAsyncConfig
from sqlalchemy import event
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlalchemy.pool import NullPool

from marketplace.settings import Settings

__all__ = [
    "AuditBase",
    "Base",
    "enum_column",
    "make_alchemy_config",
    "metadata",
    "session_scope",
]

#: Rows with id, created_at and updated_at (UUIDv7 ids sort by creation time, which keyset pagination relies on).
AuditBase = UUIDv7AuditBase
#: Append-only rows (events, ledger entries): an id, and whatever timestamp the row itself defines.
Base = UUIDv7Base
metadata = orm_registry.metadata

SESSION_DEPENDENCY_KEY = "db_session"


def insert_stmt(bind: AsyncSession | sa.Connection | str, model: Any) -> Any:
    """The one dialect-aware INSERT builder: ``insert_stmt(session, Model)`` offers ``on_conflict_do_nothing`` /
    ``on_conflict_do_update`` on PostgreSQL and SQLite alike (``bind`` is a session, a connection or a dialect name)."""
    if isinstance(bind, str):
        name = bind
    elif isinstance(bind, AsyncSession):
        name = bind.get_bind().dialect.name
    else:
        name = bind.dialect.name
    return (postgresql if name == "postgresql" else sqlite).insert(model)


def id_list(dialect: str, name: str | None = None, ids: Sequence[Any] | None = None) -> sa.BindParameter[Any]:
    """A list of ids as one bound parameter (named for a statement built once, or carrying ``ids``): on PostgreSQL one
    ``uuid[]`` array, so the statement has one text however many ids and nothing is built per id; elsewhere an
    expanding IN list. Compare a column with it through ``in_list``."""
    values = {} if ids is None else {"value": list(ids)}
    if dialect == "postgresql":
        return sa.bindparam(name, type_=postgresql.ARRAY(sa.Uuid()), **values)
    # Untyped, so the IN takes the column's own type (a value's inferred type would not store ids as the column does).
    return sa.bindparam(name, expanding=True, type_=sa.types.NULLTYPE, **values)


def in_list(column: Any, ids: sa.BindParameter[Any]) -> sa.ColumnElement[bool]:
    """``column`` among an ``id_list``: ``= ANY(array)`` on PostgreSQL, ``IN (...)`` elsewhere."""
    return column.in_(ids) if ids.expanding else column == sa.any_(ids)  # type: ignore[no-any-return]


async def insert_rows(session: AsyncSession, table: sa.Table, rows: Sequence[Mapping[str, Any]]) -> None:
    """Plain rows (the same keys each) into ``table``: on PostgreSQL one INSERT … SELECT FROM unnest(one array per
    column that varies; one parameter for a column with the same value in every row), executed once however many
    rows (an executemany INSERT is one execution per row on the server); elsewhere the table's INSERT executed with
    every row. Values go through the columns' own types (enums, JSON)."""
    if not rows:
        return
    dialect = session.get_bind().dialect
    if dialect.name != "postgresql":
        await session.execute(sa.insert(table), list(rows))
        return
    quote = dialect.identifier_preparer.quote
    names = list(rows[0])
    # A column with one value in every row (a batch's action, state, time...) is one parameter, not an array: the
    # driver encodes each array element in Python. At least one column stays an array: it gives the row count.
    same = [len(rows) > 1 and all(row[name] == rows[0][name] for row in rows) for name in names]
    if all(same):
        same[0] = False
    arrays: list[str] = []
    unnested: list[str] = []
    selected: list[str] = []
    params: list[sa.BindParameter[Any]] = []
    for n, name in enumerate(names):
        column_type = table.c[name].type
        type_sql = column_type.compile(dialect=dialect)
        values = [row[name] for row in rows[:1]] if same[n] else [row[name] for row in rows]
        if isinstance(column_type, sa.JSON):  # as text, cast per row: JSON travels badly inside an array
            values = [None if value is None and column_type.none_as_null else json.dumps(value) for value in values]
            value_type: Any = sa.Text()
            value_sql, cast_to = "TEXT", f"CAST({{}} AS {type_sql})"
        else:
            value_type, value_sql, cast_to = column_type, type_sql, "{}"
        if same[n]:
            params.append(sa.bindparam(f"v{n}", values[0], type_=value_type))
            selected.append(cast_to.format(f"CAST(:v{n} AS {value_sql})"))
        else:
            params.append(sa.bindparam(f"v{n}", values, type_=postgresql.ARRAY(value_type)))
            arrays.append(f"CAST(:v{n} AS {value_sql}[])")
            unnested.append(quote(name))
            selected.append(cast_to.format(f"v.{quote(name)}"))
    columns = ", ".join(quote(name) for name in names)
    # Only the table's own (quoted) names and types are spliced in; every value is bound.
    sql = (
        f"INSERT INTO {quote(table.name)} ({columns}) SELECT {', '.join(selected)} "  # noqa: S608
        f"FROM unnest({', '.join(arrays)}) AS v({', '.join(unnested)})"
    )
    await session.execute(sa.text(sql).bindparams(*params))


def enum_column(enum_cls: type[enum.Enum], length: int = 32) -> sa.Enum:
    """Store an enum by value as a short string, portable across SQLite and PostgreSQL."""
    return sa.Enum(
        enum_cls,
        native_enum=False,
        length=length,
        values_callable=lambda members: [m.value for m in members],
        validate_strings=True,
    )


def _install_sqlite_behaviour(sync_engine: sa.Engine) -> None:
    """SQLite needs foreign keys switched on per connection, WAL for concurrent readers, and
    BEGIN IMMEDIATE so two writers queue on the busy timeout instead of deadlocking on a lock upgrade."""

    @event.listens_for(sync_engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.close()

    @event.listens_for(sync_engine, "begin")
    def _on_begin(conn: sa.Connection) -> None:
        conn.exec_driver_sql("BEGIN IMMEDIATE")


#: advanced-alchemy keeps every config's scope and state keys in class-wide registries and finds a free one by
#: probing ``key_1``, ``key_2``... recursively, one frame a taken key: a process's ~930th config (the tests build one
#: per test) would hit the recursion limit. Each config is given keys no other config of this process has had.
_CONFIG_NUMBERS = itertools.count(1)


def make_alchemy_config(settings: Settings, session_info: dict[str, Any] | None = None) -> SQLAlchemyAsyncConfig:
    """One config for the web app, the worker and the command line, so all three behave the same. JSON columns are
    read with msgspec (plain values, as the stdlib would give; a third of advanced-alchemy's default's time)."""
    common: dict[str, Any] = {"echo": settings.db.echo, "json_deserializer": msgspec.json.decode}
    if settings.db.pool_size == 0:
        # No pooling: every session opens its own connection. Tests use this because the test client runs the
        # app on another event loop than the test itself, and pooled async connections belong to one loop.
        engine_config = EngineConfig(**common, poolclass=NullPool)
        if settings.db.is_sqlite:
            engine_config = EngineConfig(**common, poolclass=NullPool, connect_args={"timeout": 30})
    elif settings.db.is_postgres:
        # No pre-ping: on asyncpg it is three round trips (BEGIN, ";", ROLLBACK) on every checkout, a third of a
        # small page's statements. A connection the server dropped fails one request, and SQLAlchemy then discards
        # every pooled connection made before it; pool_recycle retires connections before idle timeouts do.
        engine_config = EngineConfig(
            **common,
            pool_size=settings.db.pool_size,
            max_overflow=settings.db.pool_size,
            pool_recycle=1800,
        )
    else:
        engine_config = EngineConfig(**common, connect_args={"timeout": 30})
    config = SQLAlchemyAsyncConfig(
        connection_string=settings.db.url,
        engine_config=engine_config,
        session_config=AsyncSessionConfig(expire_on_commit=False, info=dict(session_info or {})),
        session_dependency_key=SESSION_DEPENDENCY_KEY,
        before_send_handler="autocommit_include_redirects",
        create_all=False,
        **_unique_keys(next(_CONFIG_NUMBERS)),
    )
    if settings.db.is_sqlite:
        _install_sqlite_behaviour(config.get_engine().sync_engine)
    return config


def _unique_keys(number: int) -> dict[str, str]:
    return {"session_scope_key": f"_postpact_db_session_{number}",
            "engine_app_state_key": f"postpact_db_engine_{number}",
            "session_maker_app_state_key": f"postpact_session_maker_{number}"}


@asynccontextmanager
async def session_scope(session_maker: async_sessionmaker[AsyncSession]) -> AsyncIterator[AsyncSession]:
    """A session with one transaction: committed on success, rolled back on error."""
    async with session_maker() as session, session.begin():
        yield session
