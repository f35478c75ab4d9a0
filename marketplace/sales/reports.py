"""Sales figures: each number people see is computed by one function here, for pages, CSV and the API alike.

The brand report reads three statements whatever its size (deals with their costs and delivery; sales per deal and
day from the daily roll-up ``sale_daily``, with the range's partial edge days from the orders; clicks) and adds up in
Python per creator, per gig and for the whole brand.

Definitions: GMV = attributed merchandise after discounts, refunds and cancellations, without tax, shipping and gift
cards (the commission base); orders = attributed orders not cancelled or fully refunded; clicks = distinct visitors
per day on the deals' links; costs count the deals signed in the range (fee + product cost + commission + PostPact
fee); ROI = GMV / total cost.

Ratios (conversion, ROI, on-time and ghost rates) are whole basis points, rounded once here (half up): 1 bp = 0.01 %,
so a conversion of 12.34 % is ``1_234`` and an ROI of 0.7269 times is ``7_269``, integers end to end: the page
(``marketplace.i18n.format_basis_points``), the CSV (``bps_text``) and the API (``*_bps``) show these same integers.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from typing import Any
from uuid import UUID

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from escrow.commission import sent_to_creators
from escrow.money import basis_points
from marketplace.clock import as_utc
from marketplace.collaborations.models import Collaboration
from marketplace.collaborations.states import CollabState
from marketplace.creators.models import Creator
from marketplace.gigs.models import Gig
from marketplace.sales import rollup
from marketplace.sales.commission import Balance, Line, balance
from marketplace.sales.models import CommissionState, DealTracking, LinkClick, SaleAttribution
from marketplace.stores.models import SeedingOrder, StoreVariant

_COUNTED = (CommissionState.PENDING, CommissionState.APPROVED, CommissionState.PAID)


# -- one function per figure ----------------------------------------------------------------------------------------

#: Basis points in a whole: a ratio of 1 is 10_000 bp.
BPS = 10_000


def ratio_bps(part: int, whole: int) -> int | None:
    """``part / whole`` in whole basis points, rounded half up with integers only; None when ``whole`` is 0."""
    if not whole:
        return None
    if whole < 0:
        part, whole = -part, -whole
    return (2 * part * BPS + whole) // (2 * whole)


def bps_text(bps: int | None) -> str:
    """The exact decimal ratio for a CSV cell (``7_269`` -> ``"0.7269"``); empty when there is none."""
    return "" if bps is None else str(Decimal(bps).scaleb(-4))


def platform_fee(fee: int, fee_bps: int) -> int:
    return basis_points(fee, fee_bps)


def total_cost(*, fee: int, product_cost: int, commission: int, postpact_fee: int) -> int:
    return fee + product_cost + commission + postpact_fee


def conversion_rate(orders: int, clicks: int) -> int | None:
    """Orders over clicks, in basis points; None without clicks."""
    return ratio_bps(orders, clicks)


def average_order_value(gmv: int, orders: int) -> int | None:
    return gmv // orders if orders else None


def roi(gmv: int, cost: int) -> int | None:
    """GMV over total cost (both minor units of one currency), in basis points; None without cost."""
    return ratio_bps(gmv, cost)


def cost_per_post(cost: int, posts: int) -> int | None:
    """Total cost over the posts that went live (integer minor units, rounded down); None before any post."""
    return cost // posts if posts else None


def on_time_rate(on_time: int, decided: int) -> int | None:
    """Posts made by their deadline, over the deals whose post was due and got decided (posted or ghosted), in
    basis points."""
    return ratio_bps(on_time, decided)


def ghost_rate(ghosted: int, decided: int) -> int | None:
    """Deals ghosted, over the deals whose post was due and got decided (posted or ghosted), in basis points."""
    return ratio_bps(ghosted, decided)


def days_to_post(total_seconds: float, posts: int) -> float | None:
    """Average days from receiving the product to posting, over the posts with both dates."""
    return total_seconds / posts / 86_400 if posts else None


@dataclass(slots=True)
class Figures:
    key: str
    label: str
    currency: str
    deals: int = 0
    clicks: int = 0
    orders: int = 0
    gmv: int = 0
    commission: int = 0
    fee: int = 0
    product_cost: int = 0
    postpact_fee: int = 0
    #: Delivery, over the deals signed in the range: posts made, of which on time and still live; ghosted deals;
    #: receipt-to-post time summed over the posts that have both dates.
    posts: int = 0
    on_time: int = 0
    posts_live: int = 0
    ghosted: int = 0
    receipt_to_post_seconds: float = 0.0
    receipt_to_post_count: int = 0

    @property
    def decided(self) -> int:
        return self.posts + self.ghosted

    @property
    def cost_per_post(self) -> int | None:
        return cost_per_post(self.total_cost, self.posts)

    @property
    def on_time_bps(self) -> int | None:
        return on_time_rate(self.on_time, self.decided)

    @property
    def ghost_bps(self) -> int | None:
        return ghost_rate(self.ghosted, self.decided)

    @property
    def days_to_post(self) -> float | None:
        return days_to_post(self.receipt_to_post_seconds, self.receipt_to_post_count)

    @property
    def total_cost(self) -> int:
        return total_cost(fee=self.fee, product_cost=self.product_cost, commission=self.commission,
                          postpact_fee=self.postpact_fee)

    @property
    def conversion_bps(self) -> int | None:
        return conversion_rate(self.orders, self.clicks)

    @property
    def aov(self) -> int | None:
        return average_order_value(self.gmv, self.orders)

    @property
    def roi_bps(self) -> int | None:
        return roi(self.gmv, self.total_cost)

    def add(self, other: Figures) -> None:
        # Spelled out: this runs three times per deal (creator, gig, brand), 30,000 times for 10,000 deals.
        self.deals += other.deals
        self.clicks += other.clicks
        self.orders += other.orders
        self.gmv += other.gmv
        self.commission += other.commission
        self.fee += other.fee
        self.product_cost += other.product_cost
        self.postpact_fee += other.postpact_fee
        self.posts += other.posts
        self.on_time += other.on_time
        self.posts_live += other.posts_live
        self.ghosted += other.ghosted
        self.receipt_to_post_seconds += other.receipt_to_post_seconds
        self.receipt_to_post_count += other.receipt_to_post_count


@dataclass
class BrandReport:
    start: datetime
    end: datetime
    by_creator: list[Figures]
    by_gig: list[Figures]
    totals: list[Figures]
    #: (day, currency, GMV) in day order, for the chart.
    series: list[tuple[date, str, int]] = field(default_factory=list)


async def brand_report(session: AsyncSession, brand_id: UUID, start: datetime, end: datetime, *, fee_bps: int,
                       gig_id: UUID | None = None, creator_id: UUID | None = None,
                       use_rollup: bool = True) -> BrandReport:
    """Sales and costs of a brand's deals over [start, end), in exactly three statements: deals with their costs
    and delivery, sales per deal and day (from the daily roll-up, edges from the orders), clicks.
    ``use_rollup=False`` reads every order instead (four statements; the benchmark's baseline)."""
    deal_filter = [Collaboration.brand_id == brand_id]
    sale_filter = [SaleAttribution.brand_id == brand_id, SaleAttribution.collaboration_id.is_not(None),
                   SaleAttribution.placed_at >= start, SaleAttribution.placed_at < end]
    if gig_id is not None:
        deal_filter.append(Collaboration.gig_id == gig_id)
        sale_filter.append(SaleAttribution.gig_id == gig_id)
    if creator_id is not None:
        deal_filter.append(Collaboration.creator_id == creator_id)
        sale_filter.append(SaleAttribution.creator_id == creator_id)
    deals = (await session.execute(
        sa.select(Collaboration.id, Collaboration.creator_id, Collaboration.gig_id, Collaboration.currency,
                  Collaboration.fee_amount, Collaboration.signed_at, Collaboration.product_included,
                  Collaboration.status, Collaboration.posted_at, Collaboration.due_post, Collaboration.received_at,
                  Collaboration.post_removed_at,
                  Creator.display_name, Gig.title, Gig.product_retail_value, StoreVariant.cost_amount)
        .join(Creator, Creator.id == Collaboration.creator_id).join(Gig, Gig.id == Collaboration.gig_id)
        .outerjoin(SeedingOrder, SeedingOrder.collaboration_id == Collaboration.id)
        .outerjoin(StoreVariant, StoreVariant.id == SeedingOrder.variant_id)
        .where(*deal_filter, Collaboration.signed_at.is_not(None)))).all()
    clicks = dict((await session.execute(
        sa.select(DealTracking.collaboration_id, sa.func.count(sa.distinct(LinkClick.visitor)))
        .join(LinkClick, LinkClick.tracking_id == DealTracking.id)
        .where(DealTracking.brand_id == brand_id, LinkClick.clicked_at >= start, LinkClick.clicked_at < end,
               *([DealTracking.gig_id == gig_id] if gig_id else []),
               *([DealTracking.creator_id == creator_id] if creator_id else []))
        .group_by(DealTracking.collaboration_id))).all())
    if use_rollup:
        sales, series = await _sales_from_rollup(session, brand_id, start, end, gig_id=gig_id, creator_id=creator_id)
    else:
        sales, series = await _sales_from_orders(session, sale_filter)
    per_deal = []
    for d in deals:
        sale = sales.get(d.id)
        in_range = d.signed_at is not None and start <= as_utc(d.signed_at) < end
        fee = d.fee_amount if in_range else 0
        product = (d.cost_amount if d.cost_amount is not None else d.product_retail_value) \
            if in_range and d.product_included else 0
        figures = Figures("", "", d.currency, deals=1 if in_range else 0, clicks=int(clicks.get(d.id, 0)),
                          orders=sale[0] if sale else 0, gmv=sale[1] if sale else 0,
                          commission=sale[2] if sale else 0, fee=fee, product_cost=product,
                          postpact_fee=platform_fee(fee, fee_bps))
        if in_range:
            _delivery(figures, d)
        per_deal.append((d, figures))
    return BrandReport(start, end, by_creator=_group(per_deal, lambda d: (str(d.creator_id), d.display_name)),
                       by_gig=_group(per_deal, lambda d: (str(d.gig_id), d.title)),
                       totals=_group(per_deal, lambda d: ("brand", "All creators")), series=series)


_Sales = dict[UUID, tuple[int, int, int]]
_Series = list[tuple[date, str, int]]


def _day(value: object) -> date:
    return value if isinstance(value, date) else date.fromisoformat(str(value))


async def _sales_from_rollup(session: AsyncSession, brand_id: UUID, start: datetime, end: datetime, *,
                             gig_id: UUID | None, creator_id: UUID | None) -> tuple[_Sales, _Series]:
    query = rollup.sales_by_deal_and_day(session, brand_id, start, end, gig_id=gig_id, creator_id=creator_id)
    sales: dict[UUID, list[int]] = {}
    by_day: dict[tuple[date, str], int] = defaultdict(int)
    rows = (await session.execute(query)).all() if query is not None else []
    for collab_id, d, currency, orders, gmv, commission in rows:
        total = sales.setdefault(collab_id, [0, 0, 0])
        total[0], total[1], total[2] = total[0] + int(orders), total[1] + int(gmv), total[2] + int(commission)
        by_day[(_day(d), currency)] += int(gmv)
    series = [(d, currency, gmv) for (d, currency), gmv in sorted(by_day.items())]
    return {k: (v[0], v[1], v[2]) for k, v in sales.items()}, series


async def _sales_from_orders(session: AsyncSession, sale_filter: list[Any]) -> tuple[_Sales, _Series]:
    """The same figures from every order (before the roll-up): two statements."""
    sales = {row.collaboration_id: row for row in (await session.execute(
        sa.select(SaleAttribution.collaboration_id,
                  sa.func.count().filter(SaleAttribution.state.in_(_COUNTED), SaleAttribution.base_amount > 0)
                  .label("orders"),
                  sa.func.coalesce(sa.func.sum(SaleAttribution.base_amount), 0).label("gmv"),
                  sa.func.coalesce(sa.func.sum(SaleAttribution.commission_amount), 0).label("commission"))
        .where(*sale_filter).group_by(SaleAttribution.collaboration_id))).all()}
    day = sa.func.date(SaleAttribution.placed_at)
    series = [(d if isinstance(d, date) else date.fromisoformat(str(d)), currency, int(gmv)) for d, currency, gmv in
              (await session.execute(sa.select(day, SaleAttribution.currency, sa.func.sum(SaleAttribution.base_amount))
                                     .where(*sale_filter).group_by(day, SaleAttribution.currency)
                                     .order_by(day))).all()]
    return {k: (int(r.orders), int(r.gmv), int(r.commission)) for k, r in sales.items()}, series


def _delivery(figures: Figures, deal: sa.Row[tuple[object, ...]]) -> None:
    posted = as_utc(deal.posted_at) if deal.posted_at is not None else None  # type: ignore[arg-type]
    if posted is not None:
        figures.posts = 1
        figures.on_time = int(deal.due_post is None or posted <= as_utc(deal.due_post))  # type: ignore[arg-type]
        figures.posts_live = int(deal.post_removed_at is None)
        if deal.received_at is not None:
            figures.receipt_to_post_seconds = max(
                (posted - as_utc(deal.received_at)).total_seconds(), 0.0)  # type: ignore[arg-type]
            figures.receipt_to_post_count = 1
    elif CollabState(deal.status) is CollabState.GHOSTED:
        figures.ghosted = 1


def _group(per_deal: Iterable[tuple[sa.Row[tuple[object, ...]], Figures]], key_of: object) -> list[Figures]:
    groups: dict[tuple[str, str], Figures] = {}
    for deal, figures in per_deal:
        key, label = key_of(deal)  # type: ignore[operator]
        group = groups.setdefault((key, figures.currency), Figures(key, label, figures.currency))
        group.add(figures)
    return sorted(groups.values(), key=lambda f: (-f.gmv, f.label))


# -- commission statements ------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Statement:
    """One creator's commission with one brand in one currency."""

    brand_id: UUID
    creator_id: UUID
    currency: str
    balance: Balance
    #: The next date some pending commission becomes payable.
    next_payable_at: datetime | None


async def statements(session: AsyncSession, *, brand_id: UUID | None = None,
                     creator_id: UUID | None = None) -> list[Statement]:
    """Balances per (brand, creator, currency), scoped to a brand or a creator (two statements: the orders'
    commission, and what escrow sent)."""
    scope = [SaleAttribution.creator_id.is_not(None)]
    if brand_id is not None:
        scope.append(SaleAttribution.brand_id == brand_id)
    if creator_id is not None:
        scope.append(SaleAttribution.creator_id == creator_id)
    rows = (await session.execute(sa.select(
        SaleAttribution.brand_id, SaleAttribution.creator_id, SaleAttribution.currency, SaleAttribution.state,
        SaleAttribution.commission_amount, SaleAttribution.payout_key, SaleAttribution.payable_at).where(*scope)))
    lines: dict[tuple[UUID, UUID, str], list[Line]] = defaultdict(list)
    next_due: dict[tuple[UUID, UUID, str], datetime] = {}
    for b, c, currency, state, amount, payout, payable in rows:
        key = (b, c, currency)
        lines[key].append(Line(CommissionState(state), amount, payout is not None))
        if state == CommissionState.PENDING and payable is not None:
            due = as_utc(payable)
            next_due[key] = min(next_due.get(key, due), due)
    sent = await sent_to_creators(session, brand_id=brand_id, creator_id=creator_id)
    for key in sent:
        lines.setdefault(key, [])
    return [Statement(b, c, cur, balance(ls, sent=sent.get((b, c, cur), (0, 0))[0],
                                         paid=sent.get((b, c, cur), (0, 0))[1]), next_due.get((b, c, cur)))
            for (b, c, cur), ls in sorted(lines.items(), key=lambda item: (str(item[0][0]), str(item[0][1]),
                                                                           item[0][2]))]
