"""JSON shapes of the sales API: tracking, a deal's sales, creator and gig reports, commission statements."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated
from uuid import UUID

import msgspec

from escrow.commission_models import CommissionFunding, CommissionPayout
from escrow.money import CURRENCY_EXPONENTS
from marketplace.gigs.schemas import MoneyOut
from marketplace.openapi import documented
from marketplace.sales.models import DealTracking, GigSalesSettings, SaleAttribution
from marketplace.sales.payouts import MAX_DEPOSIT, BudgetView
from marketplace.sales.reports import BrandReport, Figures, Statement


def money(amount: int | None, currency: str) -> MoneyOut | None:
    return MoneyOut(amount, currency) if amount is not None else None


class TrackingOut(msgspec.Struct):
    collaboration_id: UUID
    #: None until the deal is signed.
    code: str | None
    #: pending, created, manual or blocked.
    code_status: str | None
    message: str
    #: The tracking link (302 to the landing page with UTM parameters and the code applied on Shopify).
    link: str | None
    valid_from: datetime | None
    valid_until: datetime | None


def tracking_out(collab_id: UUID, tracking: DealTracking | None, public_url: str) -> TrackingOut:
    if tracking is None:
        return TrackingOut(collab_id, None, None, "The deal gets its code and link when it is signed.", None, None,
                           None)
    return TrackingOut(collab_id, tracking.code, tracking.code_status.value, tracking.message,
                       f"{public_url.rstrip('/')}/r/{tracking.slug}", tracking.valid_from, tracking.valid_until)


class CodeIn(msgspec.Struct, forbid_unknown_fields=True):
    #: The code as the brand created it in its store.
    code: str


class SaleOut(msgspec.Struct):
    order_id: UUID
    order_name: str
    placed_at: datetime | None
    #: The attribution rule that decided (code, link, self_purchase, outside_validity, currency_mismatch, ...).
    reason: str
    detail: str
    commission_base: MoneyOut
    commission: MoneyOut
    #: none, pending, approved, paid or cancelled.
    state: str
    payable_at: datetime | None
    paid: MoneyOut


def sale_out(row: SaleAttribution, order_name: str) -> SaleOut:
    return SaleOut(row.store_order_id, order_name, row.placed_at, row.reason, row.detail,
                   MoneyOut(row.base_amount, row.currency), MoneyOut(row.commission_amount, row.currency),
                   row.state.value, row.payable_at, MoneyOut(row.paid_amount, row.currency))


class SalesTotalOut(msgspec.Struct):
    orders: int
    #: The attributed orders' commission base (merchandise after discounts and refunds).
    gmv: MoneyOut
    commission: MoneyOut


class SalesOut(msgspec.Struct):
    collaboration_id: UUID
    sales: list[SaleOut]
    #: One per currency.
    totals: list[SalesTotalOut]


class FiguresOut(msgspec.Struct):
    id: str
    label: str
    deals: int
    clicks: int
    orders: int
    gmv: MoneyOut
    #: orders / clicks in basis points (1_234 = 12.34 %); null without clicks.
    conversion_bps: int | None
    aov: MoneyOut | None
    commission: MoneyOut
    fee: MoneyOut
    product_cost: MoneyOut
    postpact_fee: MoneyOut
    total_cost: MoneyOut
    #: GMV / total cost in basis points (7_269 = 0.7269 times); null without cost.
    roi_bps: int | None
    #: Posts made by the deals signed in the range, and total cost / posts (null before any post).
    posts: int
    cost_per_post: MoneyOut | None
    #: Posts still live (not deleted).
    posts_live: int
    ghosted: int
    #: Over the deals whose post was decided (posted or ghosted), in basis points; null before any.
    on_time_bps: int | None
    ghost_bps: int | None
    #: Average days from receiving the product to posting.
    days_to_post: float | None


def figures_out(f: Figures) -> FiguresOut:
    c = f.currency
    return FiguresOut(f.key, f.label, f.deals, f.clicks, f.orders, MoneyOut(f.gmv, c), f.conversion_bps,
                      money(f.aov, c), MoneyOut(f.commission, c), MoneyOut(f.fee, c), MoneyOut(f.product_cost, c),
                      MoneyOut(f.postpact_fee, c), MoneyOut(f.total_cost, c), f.roi_bps, f.posts,
                      money(f.cost_per_post, c), f.posts_live, f.ghosted, f.on_time_bps, f.ghost_bps,
                      f.days_to_post)


class SeriesPoint(msgspec.Struct):
    day: date
    gmv: MoneyOut


class ReportOut(msgspec.Struct):
    start: datetime
    end: datetime
    rows: list[FiguresOut]
    totals: list[FiguresOut]
    series: list[SeriesPoint]


def report_out(report: BrandReport, rows: list[Figures]) -> ReportOut:
    return ReportOut(report.start, report.end, [figures_out(f) for f in rows],
                     [figures_out(f) for f in report.totals],
                     [SeriesPoint(d, MoneyOut(g, c)) for d, c, g in report.series])


class StatementOut(msgspec.Struct):
    brand_id: UUID
    creator_id: UUID
    pending: MoneyOut
    approved: MoneyOut
    paid: MoneyOut
    #: Refunds after payout not yet recovered (≤ 0), offset against future commission from the same brand.
    carried: MoneyOut
    #: What the next payout sends.
    payable: MoneyOut
    next_payable_at: datetime | None


def statement_out(s: Statement) -> StatementOut:
    b, c = s.balance, s.currency
    return StatementOut(s.brand_id, s.creator_id, MoneyOut(b.pending, c), MoneyOut(b.approved, c),
                        MoneyOut(b.paid, c), MoneyOut(b.carried, c), MoneyOut(b.payable, c), s.next_payable_at)


class SalesSettingsIn(msgspec.Struct, forbid_unknown_fields=True):
    #: percent or fixed.
    discount_kind: str = "percent"
    #: A whole percentage (percent), or minor units of the gig's currency (fixed).
    discount_value: int = 15
    #: Most redemptions of one deal's code; null: unlimited.
    usage_limit: int | None = None
    #: Where tracking links land (https://); empty: the store's home page.
    landing_url: str = ""
    attribution_window_days: int = 30
    #: Days commission stays pending after the order (0-90).
    hold_days: int = 30


class SalesSettingsOut(msgspec.Struct):
    gig_id: UUID
    discount_kind: str
    discount_value: int
    usage_limit: int | None
    landing_url: str
    attribution_window_days: int
    hold_days: int


def sales_settings_out(s: GigSalesSettings) -> SalesSettingsOut:
    return SalesSettingsOut(s.gig_id, s.discount_kind.value, s.discount_value, s.usage_limit, s.landing_url,
                            s.attribution_window_days, s.hold_days)


class BudgetFundIn(msgspec.Struct, forbid_unknown_fields=True):
    #: Minor units of ``currency`` (an integer): the cap the brand puts into its commission budget.
    amount: Annotated[int, documented(minimum=1, maximum=MAX_DEPOSIT)]
    currency: Annotated[str, documented(enum=sorted(CURRENCY_EXPONENTS))]


class BudgetRefundIn(msgspec.Struct, forbid_unknown_fields=True):
    currency: Annotated[str, documented(enum=sorted(CURRENCY_EXPONENTS))]
    #: Minor units to return; null: everything no approved or pending commission needs.
    amount: Annotated[int | None, documented(minimum=1, maximum=MAX_DEPOSIT)] = None


class FundingOut(msgspec.Struct):
    id: UUID
    #: deposit (the brand funded) or charge (the weekly statement for commission the budget couldn't cover).
    kind: str
    #: The statement's ISO week for a charge.
    period: str | None
    amount: MoneyOut
    #: pending (waiting for the payment), succeeded or failed.
    status: str
    refunded: MoneyOut
    idempotency_key: str
    created_at: datetime


def funding_out(f: CommissionFunding) -> FundingOut:
    return FundingOut(f.id, f.kind.value, f.period, MoneyOut(f.amount, f.currency), f.status.value,
                      MoneyOut(f.refunded_amount, f.currency), f.idempotency_key, f.created_at)


class PayoutOut(msgspec.Struct):
    id: UUID
    creator_id: UUID
    amount: MoneyOut
    #: reserved (transfer in progress or waiting for the creator's payout account), paid, failed or offset.
    status: str
    idempotency_key: str
    paid_at: datetime | None
    message: str


def payout_out(p: CommissionPayout) -> PayoutOut:
    return PayoutOut(p.id, p.creator_id, MoneyOut(p.amount, p.currency), p.status.value, p.idempotency_key,
                     p.paid_at, p.message)


class BudgetOut(msgspec.Struct):
    currency: str
    funded: MoneyOut
    paid_out: MoneyOut
    refunded: MoneyOut
    #: Held now, of which ``available`` is not reserved by payouts or refunds in flight.
    held: MoneyOut
    available: MoneyOut
    #: Approved and pending commission not paid yet.
    committed: MoneyOut
    refund_after: datetime | None
    fundings: list[FundingOut]
    payouts: list[PayoutOut]


def budget_out(view: BudgetView) -> BudgetOut:
    b, c = view.budget, view.currency
    assert b is not None
    return BudgetOut(c, MoneyOut(b.funded_amount, c), MoneyOut(b.released_amount, c), MoneyOut(b.refunded_amount, c),
                     MoneyOut(b.held_amount, c), MoneyOut(b.available_amount, c), MoneyOut(view.committed, c),
                     b.refund_after, [funding_out(f) for f in view.fundings], [payout_out(p) for p in view.payouts])


class RefundOut(msgspec.Struct):
    #: What is being returned to the brand's card.
    refunding: MoneyOut
