"""One dialect-aware INSERT builder for escrow's "insert unless it exists" writes (PostgreSQL and SQLite)."""

from __future__ import annotations

from typing import Any

from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession


def insert_stmt(session: AsyncSession | str, model: Any) -> Any:
    """An INSERT for ``model`` in the session's dialect (or the dialect named), which offers
    ``on_conflict_do_nothing``: concurrent writers of the same row are settled by the unique constraint, not by a
    read-then-write."""
    name = session if isinstance(session, str) else session.get_bind().dialect.name
    return (postgresql if name == "postgresql" else sqlite).insert(model)
