"""Keyset (seek) pagination: an opaque cursor holding the last row's sort value and id, never an OFFSET."""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID

import sqlalchemy as sa
from sqlalchemy.sql.elements import ColumnElement

from marketplace.clock import as_utc
from marketplace.errors import InvalidInput

BAD_CURSOR = "This page link is out of date or damaged; start again from the first page."


@dataclass(frozen=True)
class SortKey:
    """Order by ``column`` (then by id in the same direction); ``nullable`` columns sort their NULLs last."""

    column: Any
    id_column: Any
    descending: bool = True
    kind: str = "int"  # int | datetime
    nullable: bool = False

    def order_by(self) -> list[Any]:
        if self.descending:
            first = self.column.desc().nulls_last() if self.nullable else self.column.desc()
            return [first, self.id_column.desc()]
        first = self.column.asc().nulls_last() if self.nullable else self.column.asc()
        return [first, self.id_column.asc()]

    def after(self, value: Any, last_id: UUID) -> ColumnElement[bool]:
        """Rows strictly after (value, last_id) in this order."""
        col, idc = self.column, self.id_column
        v = sa.bindparam(None, value, type_=col.type) if value is not None else None
        i = sa.bindparam(None, last_id, type_=idc.type)
        beyond_id = idc < i if self.descending else idc > i
        if value is None:  # we are inside the NULL tail, ordered by id only
            return sa.and_(col.is_(None), beyond_id)
        beyond = col < v if self.descending else col > v
        condition = sa.or_(beyond, sa.and_(col == v, beyond_id))
        return sa.or_(condition, col.is_(None)) if self.nullable else condition

    def encode(self, value: Any, last_id: UUID) -> str:
        if isinstance(value, datetime):
            value = as_utc(value).isoformat()
        raw = json.dumps([value, str(last_id)], separators=(",", ":")).encode()
        return base64.urlsafe_b64encode(raw).decode().rstrip("=")

    def decode(self, cursor: str) -> tuple[Any, UUID]:
        try:
            padded = cursor + "=" * (-len(cursor) % 4)
            value, raw_id = json.loads(base64.urlsafe_b64decode(padded.encode()))
            last_id = UUID(str(raw_id))
            if value is not None:
                if self.kind == "datetime":
                    value = as_utc(datetime.fromisoformat(str(value)))
                elif isinstance(value, bool) or not isinstance(value, int):
                    raise ValueError("not an int")
            elif not self.nullable:
                raise ValueError("null sort value")
        except (ValueError, TypeError, UnicodeDecodeError) as exc:
            raise InvalidInput({"cursor": BAD_CURSOR}) from exc
        return value, last_id


def page_of(rows: list[Any], limit: int) -> tuple[list[Any], bool]:
    """Queries fetch ``limit + 1`` rows: the extra one only says whether there is a next page."""
    return rows[:limit], len(rows) > limit
