"""Alembic migrations: an empty database goes to head and back to base, and the models match the migrations."""

from __future__ import annotations

from pathlib import Path

import pytest
import sqlalchemy as sa
from advanced_alchemy.types import GUID, DateTimeUTC
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy.ext.asyncio import create_async_engine

from marketplace.all_models import metadata
from tests.conftest import postgres_server_url
from tests.support import db as dbsupport


def _backends() -> list:
    params = [pytest.param("sqlite", id="sqlite")]
    if postgres_server_url():
        params.append(pytest.param("postgres", id="postgres", marks=pytest.mark.postgres))
    return params


@pytest.fixture(params=_backends())
def empty_database(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite+aiosqlite:///{tmp_path / 'empty.db'}"
    server = postgres_server_url()
    assert server is not None
    name = "postpact_migrations_" + str(abs(hash(request.node.nodeid)) % 10**8)
    url = dbsupport.recreate_postgres_database(server, name)
    request.addfinalizer(lambda: dbsupport.drop_postgres_database(server, name))
    return url


def _tables(url: str) -> set[str]:
    async def go() -> set[str]:
        engine = create_async_engine(url)
        try:
            async with engine.connect() as conn:
                return set(await conn.run_sync(lambda c: sa.inspect(c).get_table_names()))
        finally:
            await engine.dispose()

    return dbsupport.run_in_thread(go)


def _compare_type(context, inspected_column, metadata_column, inspected_type, metadata_type):
    # SQLite reflects advanced-alchemy's GUID (BINARY(16)) and UTC datetimes by affinity; only PostgreSQL
    # reflects them faithfully enough to compare.
    if context.dialect.name == "sqlite" and isinstance(metadata_type, (GUID, DateTimeUTC)):
        return False
    return None


def _diff(url: str) -> list:
    async def go() -> list:
        engine = create_async_engine(url)
        try:
            async with engine.connect() as conn:
                return await conn.run_sync(
                    lambda c: compare_metadata(
                        MigrationContext.configure(c, opts={"compare_type": _compare_type}), metadata
                    )
                )
        finally:
            await engine.dispose()

    return dbsupport.run_in_thread(go)


def test_upgrade_to_head_and_down_to_base(empty_database: str) -> None:
    dbsupport.migrate(empty_database)
    tables = _tables(empty_database)
    assert {"user_account", "brand", "brand_member", "creator", "api_token", "password_reset", "outbox_email"} <= tables
    assert set(metadata.tables) <= tables
    dbsupport.unmigrate(empty_database)
    assert _tables(empty_database) <= {"alembic_version"}
    # And up again: downgrades leave nothing behind that would break a second upgrade.
    dbsupport.migrate(empty_database)
    assert set(metadata.tables) <= _tables(empty_database)


def test_models_and_migrations_agree(empty_database: str) -> None:
    dbsupport.migrate(empty_database)
    differences = _diff(empty_database)
    assert differences == [], f"models differ from migrations; write a migration for: {differences}"
