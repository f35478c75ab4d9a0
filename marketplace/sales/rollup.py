"""The daily roll-up of attributed sales (``sale_daily``): what one order adds to its deal's day, the delta upsert
``attribute_order`` applies when an order's figures change, a set-based rebuild, and the read the brand report
uses (whole days from the roll-up, the partial days at the range's edges from the orders themselves)."""

from __future__ import annotations

import functools
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from uuid import UUID

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from marketplace.clock import as_utc
from marketplace.db import insert_stmt
from marketplace.sales.models import CommissionState, SaleAttribution, SaleDaily

COUNTED = (CommissionState.PENDING, CommissionState.APPROVED, CommissionState.PAID)


@dataclass(frozen=True)
class Contribution:
    """What one attribution row adds to ``sale_daily``."""

    brand_id: UUID
    collaboration_id: UUID
    creator_id: UUID
    gig_id: UUID
    day: date
    currency: str
    orders: int
    gmv: int
    commission: int

    @property
    def key(self) -> tuple[UUID, date, str]:
        return (self.collaboration_id, self.day, self.currency)


def contribution(row: SaleAttribution) -> Contribution | None:
    if row.collaboration_id is None or row.placed_at is None or row.creator_id is None or row.gig_id is None:
        return None
    counted = int(CommissionState(row.state) in COUNTED and row.base_amount > 0)
    return Contribution(row.brand_id, row.collaboration_id, row.creator_id, row.gig_id, as_utc(row.placed_at).date(),
                        row.currency, counted, int(row.base_amount), int(row.commission_amount))


async def apply_change(session: AsyncSession, before: Contribution | None, after: Contribution | None) -> None:
    """Move an order's contribution from ``before`` to ``after``: at most two upserts of deltas, none if equal."""
    if before == after:
        return
    deltas: dict[tuple[UUID, date, str], list[Any]] = {}
    for c, sign in ((before, -1), (after, 1)):
        if c is None:
            continue
        entry = deltas.setdefault(c.key, [c, 0, 0, 0])
        entry[1] += sign * c.orders
        entry[2] += sign * c.gmv
        entry[3] += sign * c.commission
    upsert = _delta_upsert(session.get_bind().dialect.name)
    for c, orders, gmv, commission in deltas.values():
        if orders == gmv == commission == 0:
            continue
        await session.execute(upsert, {
            "brand_id": c.brand_id, "collaboration_id": c.collaboration_id, "creator_id": c.creator_id,
            "gig_id": c.gig_id, "day": c.day, "currency": c.currency, "orders": orders, "gmv": gmv,
            "commission": commission})


@functools.cache
def _delta_upsert(dialect: str) -> Any:
    """The delta upsert, built once per dialect with its values as parameters: building it (and its cache key) per
    order was a quarter of ``attribute_order``'s CPU."""
    table = SaleDaily.__table__
    columns = ("brand_id", "collaboration_id", "creator_id", "gig_id", "day", "currency", "orders", "gmv",
               "commission")
    stmt = insert_stmt(dialect, SaleDaily).values({name: sa.bindparam(name, type_=table.c[name].type)
                                                   for name in columns})
    return stmt.on_conflict_do_update(
        index_elements=["collaboration_id", "day", "currency"],
        set_={"orders": table.c.orders + stmt.excluded.orders, "gmv": table.c.gmv + stmt.excluded.gmv,
              "commission": table.c.commission + stmt.excluded.commission})


def utc_day(session: AsyncSession | sa.Connection, column: Any) -> Any:
    """The UTC calendar day of a timestamp column, in the session's dialect."""
    if session.get_bind().dialect.name == "postgresql":
        return sa.cast(sa.func.timezone("UTC", column), sa.Date)
    return sa.func.date(column)


def _aggregate(session: AsyncSession) -> sa.Select[Any]:
    day = utc_day(session, SaleAttribution.placed_at)
    counted = sa.and_(SaleAttribution.state.in_(COUNTED), SaleAttribution.base_amount > 0)
    return (sa.select(SaleAttribution.brand_id, SaleAttribution.collaboration_id, SaleAttribution.creator_id,
                      SaleAttribution.gig_id, day.label("day"), SaleAttribution.currency,
                      sa.func.count().filter(counted).label("orders"),
                      sa.func.coalesce(sa.func.sum(SaleAttribution.base_amount), 0).label("gmv"),
                      sa.func.coalesce(sa.func.sum(SaleAttribution.commission_amount), 0).label("commission"))
            .where(SaleAttribution.collaboration_id.is_not(None), SaleAttribution.placed_at.is_not(None),
                   SaleAttribution.creator_id.is_not(None), SaleAttribution.gig_id.is_not(None))
            .group_by(SaleAttribution.brand_id, SaleAttribution.collaboration_id, SaleAttribution.creator_id,
                      SaleAttribution.gig_id, day, SaleAttribution.currency))


async def rebuild(session: AsyncSession, brand_id: UUID | None = None) -> None:
    """Recompute the roll-up from the orders, set-based: one DELETE and one INSERT ... SELECT ... GROUP BY."""
    query = _aggregate(session)
    delete = sa.delete(SaleDaily)
    if brand_id is not None:
        query = query.where(SaleAttribution.brand_id == brand_id)
        delete = delete.where(SaleDaily.brand_id == brand_id)
    await session.execute(delete)
    columns = ["id", "brand_id", "collaboration_id", "creator_id", "gig_id", "day", "currency", "orders", "gmv",
               "commission"]
    # Ids come from Python for ORM inserts; an INSERT ... SELECT makes its own (random, 16 bytes) in SQL.
    postgres = session.get_bind().dialect.name == "postgresql"
    new_id = sa.func.gen_random_uuid() if postgres else sa.func.randomblob(16)
    query = query.add_columns(new_id.label("id"))
    subquery = query.subquery()
    await session.execute(sa.insert(SaleDaily).from_select(columns, sa.select(*(subquery.c[c] for c in columns))))


async def recomputed(session: AsyncSession) -> dict[tuple[UUID, date, str], tuple[int, int, int]]:
    """The roll-up as the orders say it should be (for checks)."""
    rows = (await session.execute(_aggregate(session))).all()
    return {(r.collaboration_id, _as_date(r.day), r.currency): (int(r.orders), int(r.gmv), int(r.commission))
            for r in rows if (r.orders, r.gmv, r.commission) != (0, 0, 0)}


async def stored(session: AsyncSession) -> dict[tuple[UUID, date, str], tuple[int, int, int]]:
    rows = (await session.execute(sa.select(SaleDaily))).scalars()
    return {(r.collaboration_id, _as_date(r.day), r.currency): (r.orders, r.gmv, r.commission) for r in rows
            if (r.orders, r.gmv, r.commission) != (0, 0, 0)}


def _as_date(value: Any) -> date:
    return value if isinstance(value, date) else date.fromisoformat(str(value))


def _midnight(day: date) -> datetime:
    return datetime.combine(day, time.min, UTC)


def split_range(start: datetime, end: datetime) -> tuple[date | None, date | None, list[tuple[datetime, datetime]]]:
    """[start, end) as whole UTC days [first, last) read from the roll-up, and the partial edges read from the
    orders. A range shorter than its days has no whole day: all of it is an edge."""
    start, end = as_utc(start), as_utc(end)
    first = start.date() if start == _midnight(start.date()) else start.date() + timedelta(days=1)
    last = end.date()
    if first >= last:
        return None, None, [(start, end)] if start < end else []
    edges = [(a, b) for a, b in ((start, _midnight(first)), (_midnight(last), end)) if a < b]
    return first, last, edges


def sales_by_deal_and_day(session: AsyncSession, brand_id: UUID, start: datetime, end: datetime, *,
                          gig_id: UUID | None = None, creator_id: UUID | None = None) -> sa.Select[Any] | Any:
    """One statement: (collaboration, day, currency, orders, GMV, commission) over [start, end) — whole days from
    the roll-up, UNION ALL the edges' orders grouped the same way."""
    first, last, edges = split_range(start, end)
    parts = []
    if first is not None:
        parts.append(
            sa.select(SaleDaily.collaboration_id, SaleDaily.day.label("day"), SaleDaily.currency,
                      SaleDaily.orders.label("orders"), SaleDaily.gmv.label("gmv"),
                      SaleDaily.commission.label("commission"))
            .where(SaleDaily.brand_id == brand_id, SaleDaily.day >= first, SaleDaily.day < last,
                   *([SaleDaily.gig_id == gig_id] if gig_id else []),
                   *([SaleDaily.creator_id == creator_id] if creator_id else [])))
    if edges:
        day = utc_day(session, SaleAttribution.placed_at)
        counted = sa.and_(SaleAttribution.state.in_(COUNTED), SaleAttribution.base_amount > 0)
        parts.append(
            sa.select(SaleAttribution.collaboration_id, day.label("day"), SaleAttribution.currency,
                      sa.func.count().filter(counted).label("orders"),
                      sa.func.coalesce(sa.func.sum(SaleAttribution.base_amount), 0).label("gmv"),
                      sa.func.coalesce(sa.func.sum(SaleAttribution.commission_amount), 0).label("commission"))
            .where(SaleAttribution.brand_id == brand_id, SaleAttribution.collaboration_id.is_not(None),
                   sa.or_(*(sa.and_(SaleAttribution.placed_at >= a, SaleAttribution.placed_at < b)
                            for a, b in edges)),
                   *([SaleAttribution.gig_id == gig_id] if gig_id else []),
                   *([SaleAttribution.creator_id == creator_id] if creator_id else []))
            .group_by(SaleAttribution.collaboration_id, day, SaleAttribution.currency))
    if not parts:
        return None
    return parts[0] if len(parts) == 1 else sa.union_all(*parts)
