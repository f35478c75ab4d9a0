"""``db.insert_rows``: what goes in is what comes out, on both databases, whether a column varies, holds one value in
every row (sent once on PostgreSQL), or every column does."""

from __future__ import annotations

import enum
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import pytest
import sqlalchemy as sa

from marketplace.db import enum_column, insert_rows


class Colour(enum.StrEnum):
    RED = "red"
    BLUE = "blue"


PROBE = sa.Table(
    "insert_rows_probe", sa.MetaData(),
    sa.Column("n", sa.Integer, nullable=False),
    sa.Column("ref", sa.Uuid, nullable=True),
    sa.Column("colour", enum_column(Colour), nullable=True),
    sa.Column("payload", sa.JSON(none_as_null=True), nullable=True),
    sa.Column("note", sa.Text, nullable=True),
    sa.Column("at", sa.DateTime(timezone=True), nullable=True),
)
AT = datetime(2026, 12, 6, 12, 30, tzinfo=UTC)
REF = uuid.UUID("01a196fb-1600-7000-0000-000000000001")


@pytest.fixture
async def probe(runtime: Any) -> AsyncIterator[Any]:
    async with runtime.alchemy.get_engine().begin() as conn:
        await conn.run_sync(PROBE.create)
    try:
        yield runtime
    finally:
        async with runtime.alchemy.get_engine().begin() as conn:
            await conn.run_sync(PROBE.drop)


async def _round_trip(runtime: Any, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    async with runtime.session_maker() as session, session.begin():
        await insert_rows(session, PROBE, rows)
    async with runtime.session_maker() as session:
        found = (await session.execute(sa.select(PROBE).order_by(PROBE.c.n))).mappings().all()
    async with runtime.session_maker() as session, session.begin():
        await session.execute(sa.delete(PROBE))
    return [{k: (v.astimezone(UTC) if isinstance(v, datetime) else v) for k, v in row.items()} for row in found]


@pytest.mark.parametrize("shape", ["varying", "constant", "all constant", "one row"])
async def test_rows_come_back_as_they_went_in(probe: Any, shape: str) -> None:
    if shape == "varying":
        rows = [{"n": i, "ref": uuid.uuid4(), "colour": Colour.RED if i % 2 else Colour.BLUE,
                 "payload": {"i": i, "tags": ["a", str(i)]} if i % 3 else None, "note": f"row {i}" if i else None,
                 "at": AT.replace(minute=i)} for i in range(5)]
    elif shape == "constant":  # every column but n the same in each row, JSON and NULLs included
        rows = [{"n": i, "ref": REF, "colour": Colour.BLUE, "payload": {"same": [1, 2]}, "note": None, "at": AT}
                for i in range(5)]
    elif shape == "all constant":
        rows = [{"n": 7, "ref": None, "colour": Colour.RED, "payload": None, "note": "twice", "at": AT}] * 3
    else:
        rows = [{"n": 1, "ref": REF, "colour": Colour.RED, "payload": {"x": 1}, "note": "one", "at": AT}]
    assert await _round_trip(probe, rows) == rows
