"""Roster test helpers: CSV files with known bad rows, and reading entries straight from the database."""

from __future__ import annotations

from typing import Any
from uuid import UUID

import sqlalchemy as sa

from marketplace.csvfiles import csv_text
from marketplace.roster.models import RosterEntry

HEADER = ["name", "email", "country", "tiktok", "instagram", "youtube", "followers", "tags"]
#: Row index (0-based, among data rows) -> (field, bad value): each breaks exactly one rule.
BAD_CELLS: dict[int, tuple[str, str]] = {
    12: ("email", "not-an-email"),
    40: ("country", "Germany"),
    77: ("followers", "lots"),
    101: ("tiktok", "bad handle!"),
    150: ("name", ""),
    222: ("tags", "way-too-long-a-tag-to-be-accepted-by-anyone-at-all"),
    298: ("instagram", "what?"),
}


def creators_csv(count: int = 300, *, bad: dict[int, tuple[str, str]] | None = None, prefix: str = "p",
                 delimiter: str = ",") -> str:
    rows: list[list[object]] = []
    for i in range(count):
        row: dict[str, object] = {
            "name": f"Person {prefix}{i}", "email": f"{prefix}{i}@example.test", "country": "US" if i % 2 else "DE",
            "tiktok": f"{prefix}_tt_{i}", "instagram": f"{prefix}.ig.{i}" if i % 3 == 0 else "",
            "youtube": "", "followers": 1000 + i, "tags": "beauty, spring" if i % 2 else "fitness",
        }
        if bad and i in bad:
            name, value = bad[i]
            row[name] = value
        rows.append([row[h] for h in HEADER])
    text = csv_text(HEADER, rows)
    return text.replace(",", delimiter) if delimiter != "," else text


def row_number(index: int) -> int:
    """The spreadsheet's row number of data row ``index`` (the header is row 1)."""
    return index + 2


async def entries(db: Any, brand_id: UUID) -> list[RosterEntry]:
    return list(await db.scalars(sa.select(RosterEntry).where(RosterEntry.brand_id == brand_id)
                                 .order_by(RosterEntry.email)))


def snapshot(rows: list[RosterEntry]) -> list[tuple[Any, ...]]:
    return [(e.id, e.name, e.email, e.country, e.followers, e.tiktok, e.instagram, e.youtube, e.updated_at)
            for e in rows]
