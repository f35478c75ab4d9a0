"""Sales tracking: a gig's sales settings, each deal's discount code and tracking link, link clicks, and one
attribution record (with its commission) per store order."""

from __future__ import annotations

import enum
from datetime import date, datetime
from uuid import UUID

import sqlalchemy as sa
from advanced_alchemy.types import DateTimeUTC
from sqlalchemy.orm import Mapped, mapped_column

from marketplace.db import AuditBase, Base, enum_column


class DiscountKind(enum.StrEnum):
    #: ``discount_value`` is a whole percentage (15 = 15% off).
    PERCENT = "percent"
    #: ``discount_value`` is an amount in minor units of the gig's currency.
    FIXED = "fixed"


class CodeStatus(enum.StrEnum):
    #: The tag is written; the job creates the code in the store (looking it up first).
    PENDING = "pending"
    CREATED = "created"
    #: The brand created it in their store by hand and typed it here.
    MANUAL = "manual"
    #: No connected store could take it (or the store refused): ``message`` says why; the brand can enter one.
    BLOCKED = "blocked"


class CommissionState(enum.StrEnum):
    #: Not attributed to any deal (the reason says why): no commission.
    NONE = "none"
    #: Inside the hold period: refunds still change it.
    PENDING = "pending"
    #: The hold passed: owed to the creator.
    APPROVED = "approved"
    #: Paid through escrow (``paid_amount``); a later refund leaves commission below paid: a negative balance.
    PAID = "paid"
    #: Cancelled or fully refunded before payment.
    CANCELLED = "cancelled"


class GigSalesSettings(AuditBase):
    """How a gig's deals sell: the discount creators hand out, where the link lands, and the commission's rules.
    A gig without a row uses the defaults (15% off, 30-day window, 30-day hold)."""

    __tablename__ = "gig_sales_settings"

    gig_id: Mapped[UUID] = mapped_column(sa.ForeignKey("gig.id", ondelete="CASCADE"), unique=True)
    discount_kind: Mapped[DiscountKind] = mapped_column(enum_column(DiscountKind, 16), default=DiscountKind.PERCENT)
    discount_value: Mapped[int] = mapped_column(default=15)
    #: Most redemptions of one deal's code in the store; None: unlimited.
    usage_limit: Mapped[int | None] = mapped_column(default=None)
    #: Where the tracking link lands (the store's home page when empty).
    landing_url: Mapped[str] = mapped_column(sa.String(2000), default="")
    attribution_window_days: Mapped[int] = mapped_column(default=30)
    #: Days after the order before commission is approved (the return window): 0-90.
    hold_days: Mapped[int] = mapped_column(default=30)

    __table_args__ = (
        sa.CheckConstraint("hold_days BETWEEN 0 AND 90", name="hold_days_range"),
        sa.CheckConstraint("attribution_window_days BETWEEN 1 AND 365", name="window_range"),
        sa.CheckConstraint("discount_value >= 0", name="discount_not_negative"),
    )


class DealTracking(AuditBase):
    """A signed deal's discount code and tracking link (``/r/{slug}``)."""

    __tablename__ = "deal_tracking"

    collaboration_id: Mapped[UUID] = mapped_column(sa.ForeignKey("collaboration.id", ondelete="CASCADE"),
                                                   unique=True)
    brand_id: Mapped[UUID] = mapped_column(sa.ForeignKey("brand.id", ondelete="CASCADE"))
    creator_id: Mapped[UUID] = mapped_column(sa.ForeignKey("creator.id", ondelete="CASCADE"), index=True)
    gig_id: Mapped[UUID] = mapped_column(sa.ForeignKey("gig.id", ondelete="CASCADE"), index=True)
    store_id: Mapped[UUID | None] = mapped_column(sa.ForeignKey("store_connection.id", ondelete="SET NULL"),
                                                  default=None)
    #: Upper case, e.g. AVA-GLOW15; unique per brand (orders are matched on it case-insensitively).
    code: Mapped[str] = mapped_column(sa.String(60))
    code_status: Mapped[CodeStatus] = mapped_column(enum_column(CodeStatus, 16), default=CodeStatus.PENDING)
    #: ``postpact-collab-<id>-code``: written before the store call and kept on the store's discount.
    tag: Mapped[str] = mapped_column(sa.String(120), unique=True)
    external_id: Mapped[str | None] = mapped_column(sa.String(200), default=None)
    message: Mapped[str] = mapped_column(sa.Text, default="")
    #: The code counts for orders placed in [valid_from, valid_until) (None: open-ended).
    valid_from: Mapped[datetime] = mapped_column(DateTimeUTC(timezone=True))
    valid_until: Mapped[datetime | None] = mapped_column(DateTimeUTC(timezone=True), default=None)
    slug: Mapped[str] = mapped_column(sa.String(40), unique=True)
    #: The redirect's full target, computed once at signing (the redirect reads one row and writes one).
    target_url: Mapped[str] = mapped_column(sa.String(4000))

    __table_args__ = (sa.UniqueConstraint("brand_id", "code", name="uq_deal_tracking_brand_code"),)


class LinkClick(AuditBase):
    """One human click on a tracking link. No IP is kept: ``visitor`` is a salted hash of address, browser and day,
    so the same person clicking twice in a day counts once."""

    __tablename__ = "link_click"

    tracking_id: Mapped[UUID] = mapped_column(sa.ForeignKey("deal_tracking.id", ondelete="CASCADE"))
    clicked_at: Mapped[datetime] = mapped_column(DateTimeUTC(timezone=True))
    visitor: Mapped[str] = mapped_column(sa.String(32))

    __table_args__ = (sa.Index("ix_link_click_tracking_time", "tracking_id", "clicked_at"),)


class SaleAttribution(AuditBase):
    """What one store order means for sales: which deal it belongs to (at most one) and why, its commission base and
    commission, and where that commission is in its lifecycle. Recomputed from the order on every delivery, so
    duplicated or reordered webhooks land on the same row with the same figures."""

    __tablename__ = "sale_attribution"

    store_order_id: Mapped[UUID] = mapped_column(sa.ForeignKey("store_order.id", ondelete="CASCADE"), unique=True)
    brand_id: Mapped[UUID] = mapped_column(sa.ForeignKey("brand.id", ondelete="CASCADE"))
    collaboration_id: Mapped[UUID | None] = mapped_column(
        sa.ForeignKey("collaboration.id", ondelete="SET NULL"), default=None, index=True)
    creator_id: Mapped[UUID | None] = mapped_column(sa.ForeignKey("creator.id", ondelete="SET NULL"), default=None,
                                                    index=True)
    gig_id: Mapped[UUID | None] = mapped_column(sa.ForeignKey("gig.id", ondelete="SET NULL"), default=None)
    #: A rule name from marketplace.sales.attribution (code, link, self_purchase, currency_mismatch, ...).
    reason: Mapped[str] = mapped_column(sa.String(40))
    detail: Mapped[str] = mapped_column(sa.String(500), default="")
    placed_at: Mapped[datetime | None] = mapped_column(DateTimeUTC(timezone=True), default=None)
    currency: Mapped[str] = mapped_column(sa.String(3))
    #: Merchandise after discounts, without tax, shipping or gift cards, after refunds and cancellation.
    base_amount: Mapped[int] = mapped_column(sa.BigInteger, default=0)
    commission_bps: Mapped[int] = mapped_column(default=0)
    commission_amount: Mapped[int] = mapped_column(sa.BigInteger, default=0)
    state: Mapped[CommissionState] = mapped_column(enum_column(CommissionState, 16), default=CommissionState.NONE)
    #: When the commission stops being pending (order time + the gig's hold).
    payable_at: Mapped[datetime | None] = mapped_column(DateTimeUTC(timezone=True), default=None)
    approved_at: Mapped[datetime | None] = mapped_column(DateTimeUTC(timezone=True), default=None)
    #: What escrow paid out for this order; above ``commission_amount`` after a late refund (carried balance).
    paid_amount: Mapped[int] = mapped_column(sa.BigInteger, default=0)
    #: The escrow payout (``commission:<brand>:<creator>:<currency>:payout:<seq>``) carrying this approved
    #: commission while its transfer is in flight; cleared if the transfer is refused.
    payout_key: Mapped[str | None] = mapped_column(sa.String(255), default=None, index=True)

    __table_args__ = (
        sa.Index("ix_sale_attribution_brand_placed", "brand_id", "placed_at"),
        sa.Index("ix_sale_attribution_state_payable", "state", "payable_at"),
    )


class SaleDaily(Base):
    """Attributed sales per deal, day (UTC, by order time) and currency: what the brand report reads instead of
    every order. Kept exact by ``attribute_order``, which applies each order's change as one upsert of deltas; the
    whole table can be rebuilt set-based (``marketplace.sales.rollup.rebuild``)."""

    __tablename__ = "sale_daily"

    brand_id: Mapped[UUID] = mapped_column(sa.ForeignKey("brand.id", ondelete="CASCADE"))
    collaboration_id: Mapped[UUID] = mapped_column(sa.ForeignKey("collaboration.id", ondelete="CASCADE"))
    creator_id: Mapped[UUID] = mapped_column(sa.ForeignKey("creator.id", ondelete="CASCADE"))
    gig_id: Mapped[UUID] = mapped_column(sa.ForeignKey("gig.id", ondelete="CASCADE"))
    day: Mapped[date] = mapped_column(sa.Date)
    currency: Mapped[str] = mapped_column(sa.String(3))
    #: Orders that count (pending, approved or paid commission on a base above zero).
    orders: Mapped[int] = mapped_column(default=0)
    gmv: Mapped[int] = mapped_column(sa.BigInteger, default=0)
    commission: Mapped[int] = mapped_column(sa.BigInteger, default=0)

    __table_args__ = (
        sa.UniqueConstraint("collaboration_id", "day", "currency", name="uq_sale_daily_deal_day_currency"),
        sa.Index("ix_sale_daily_brand_day", "brand_id", "day"),
    )
