"""Writing thousands of rows at once: on PostgreSQL COPY into a temporary staging table and one INSERT ... SELECT ...
ON CONFLICT, elsewhere one executemany INSERT ... ON CONFLICT. Same result, same transaction as the session.

Why: a 10k-row import spent most of its time turning Python values into bind parameters row by row; COPY takes
the rows in the binary protocol and PostgreSQL does the upsert set-based.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any
from uuid import uuid4

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from marketplace.db import insert_stmt


def _copy_value(column: sa.Column[Any], value: Any) -> Any:
    if value is not None and isinstance(column.type, sa.JSON):
        return json.dumps(value)
    return value


async def upsert_rows(session: AsyncSession, table: sa.Table, rows: Sequence[Mapping[str, Any]], *,
                      conflict: Sequence[str], update: Sequence[str] = ()) -> None:
    """Insert ``rows`` (dicts with the same keys) into ``table``; on a conflict over ``conflict`` set the ``update``
    columns from the new row, or leave the existing row alone when ``update`` is empty."""
    if not rows:
        return
    columns = list(rows[0])
    if session.get_bind().dialect.name != "postgresql":
        stmt = insert_stmt(session, table)
        stmt = (stmt.on_conflict_do_update(index_elements=list(conflict), set_={c: stmt.excluded[c] for c in update})
                if update else stmt.on_conflict_do_nothing(index_elements=list(conflict)))
        await session.execute(stmt, list(rows))
        return
    connection = await session.connection()
    await connection.execute(sa.text("SELECT 1"))  # the session's transaction is open before the driver is used
    raw = (await connection.get_raw_connection()).driver_connection
    assert raw is not None
    staging = f"staging_{table.name}_{uuid4().hex[:8]}"
    quoted = ", ".join(f'"{c}"' for c in columns)
    await raw.execute(f'CREATE TEMP TABLE "{staging}" AS SELECT {quoted} FROM "{table.name}" WITH NO DATA')  # noqa: S608
    await raw.copy_records_to_table(staging, columns=columns, records=[
        tuple(_copy_value(table.c[c], row[c]) for c in columns) for row in rows
    ])
    target = ", ".join(f'"{c}"' for c in conflict)
    action = ("DO UPDATE SET " + ", ".join(f'"{c}" = excluded."{c}"' for c in update)) if update else "DO NOTHING"
    await raw.execute(f'INSERT INTO "{table.name}" ({quoted}) SELECT {quoted} FROM "{staging}" '  # noqa: S608
                      f"ON CONFLICT ({target}) {action}")
    await raw.execute(f'DROP TABLE "{staging}"')
