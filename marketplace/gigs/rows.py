"""Several small lookups in one round trip: each lookup's rows tagged with its part, in one UNION ALL statement."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa

from marketplace.gigs.models import Deliverable

_UUID = Deliverable.__table__.c.id.type


def tagged(part: str, ref: Any, a: Any = None, b: Any = None, n: Any = None, seq: Any = None) -> sa.Select[Any]:
    """One branch of a tagged lookup: ``part`` names it (a short constant), ``ref`` is the id the row belongs to,
    ``a`` and ``b`` are text, ``n`` a whole number and ``seq`` an id to order by. Missing values are typed NULLs,
    because PostgreSQL settles a UNION's column types pair by pair and an untyped NULL first would become text."""
    if not part.isalpha():
        raise ValueError("a part is a short word")
    return sa.select(
        sa.literal_column(f"'{part}'", sa.String()).label("part"),
        ref.label("ref"),
        (sa.type_coerce(a, sa.String()) if a is not None else sa.cast(sa.null(), sa.String())).label("a"),
        (sa.type_coerce(b, sa.String()) if b is not None else sa.cast(sa.null(), sa.String())).label("b"),
        (sa.type_coerce(n, sa.BigInteger()) if n is not None else sa.cast(sa.null(), sa.BigInteger())).label("n"),
        (seq if seq is not None else sa.cast(sa.null(), _UUID)).label("seq"),
    )


def tagged_lookup(branches: Sequence[sa.Select[Any]]) -> sa.CompoundSelect:
    """The branches as one statement, ordered by part, then the id they belong to, then ``seq`` and ``a``."""
    return sa.union_all(*branches).order_by("part", "ref", "seq", "a")
