"""The attribution rules as one table: which deal (at most one) an order belongs to, why, and the commission base.

Pure functions over plain values — no database, no clock — so the rules read (and are tested) as a table:

==================  =========================================================================================
rule (in order)     when it decides
==================  =========================================================================================
``code``            the order carries one of our codes: the **first of our codes in the order's list** wins
                    (stores list codes in the order they were applied; the other codes are named in the detail)
``self_purchase``   ...but the order's email is the deal's creator's: not attributed
``outside_validity`` ...but the order was placed outside the code's validity: not attributed
``currency_mismatch`` ...but the order's currency isn't the deal's: not attributed (commission would be a guess)
``link``            no code of ours: the deal whose ``ref`` is in the order's landing URL, when one of its link's
                    clicks came at most the gig's window (default 30 days) before the order (last touch: the
                    landing page is the visit that bought)
``link_expired``    the ref is ours but the last click is older than the window
``unknown_code``    the order carries codes, none of them ours, and no link of ours
``no_match``        nothing of ours on the order
==================  =========================================================================================

A self-purchase or expired link never falls through to another deal: the order has one answer.

Commission base (``commission_base``): merchandise after discounts, without tax, shipping or gift cards; refunds
reduce it in proportion to the order's total refunded; a cancelled order has none. A refund larger than the order
counts as a full refund, with the reason kept.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from urllib.parse import unquote
from uuid import UUID

#: ref values are our link slugs: letters, digits, - and _.
_REF = re.compile(r"[?&;]ref=([A-Za-z0-9_-]{4,40})")


@dataclass(frozen=True)
class DealCode:
    """What attribution needs to know about one deal's code and link."""

    collaboration_id: UUID
    code: str
    slug: str
    creator_email: str
    currency: str
    valid_from: datetime
    valid_until: datetime | None
    window: timedelta
    #: The latest click on the deal's link (at or before the order), if any.
    last_click_at: datetime | None = None


@dataclass(frozen=True)
class OrderFacts:
    email: str | None
    currency: str
    placed_at: datetime | None
    #: Codes as the order lists them, in order.
    codes: Sequence[str]
    landing_site: str | None


@dataclass(frozen=True)
class Decision:
    collaboration_id: UUID | None
    reason: str
    detail: str

    @property
    def attributed(self) -> bool:
        return self.collaboration_id is not None


@dataclass(frozen=True)
class Candidates:
    """Our deals, reachable by code (upper case) and by link slug."""

    by_code: Mapping[str, DealCode]
    by_slug: Mapping[str, DealCode]


def ref_in(landing_site: str | None) -> str | None:
    """The ``ref`` of a landing URL, also inside a Shopify ``/discount/CODE?redirect=...`` (encoded once or twice)."""
    if not landing_site:
        return None
    text = landing_site
    for _ in range(3):
        found = _REF.search(text)
        if found:
            return found.group(1)
        decoded = unquote(text)
        if decoded == text:
            return None
        text = decoded
    return None


def _checked(deal: DealCode, order: OrderFacts, won_by: str, detail: str) -> Decision:
    """The checks a matching deal must pass before it gets the order (the rows under ``code`` in the table)."""
    if order.email and deal.creator_email and order.email.strip().lower() == deal.creator_email.strip().lower():
        return Decision(None, "self_purchase", f"{detail}; the buyer is the deal's creator")
    placed = order.placed_at
    if won_by == "code" and placed is not None and (
            placed < deal.valid_from or (deal.valid_until is not None and placed >= deal.valid_until)):
        return Decision(None, "outside_validity", f"{detail}; placed {placed:%Y-%m-%d} outside the code's validity")
    if order.currency.upper() != deal.currency.upper():
        return Decision(None, "currency_mismatch",
                        f"{detail}; order in {order.currency.upper()}, deal in {deal.currency.upper()}")
    return Decision(deal.collaboration_id, won_by, detail)


def _by_code(order: OrderFacts, deals: Candidates) -> Decision | None:
    ours = [c.strip().upper() for c in order.codes if c and c.strip().upper() in deals.by_code]
    if not ours:
        return None
    detail = f"code {ours[0]}"
    if len(set(ours)) > 1:
        detail += f" (first of our codes on the order; also carried {', '.join(sorted(set(ours[1:]) - {ours[0]}))})"
    return _checked(deals.by_code[ours[0]], order, "code", detail)


#: Stores report when an order was placed in whole seconds (Shopify's and WooCommerce's ``created_at``), and clicks are
#: recorded to the microsecond: a click in the same second as the order, before it, must not look like one after it.
ORDER_TIME_PRECISION = timedelta(seconds=1)


def _by_link(order: OrderFacts, deals: Candidates) -> Decision | None:
    slug = ref_in(order.landing_site)
    deal = deals.by_slug.get(slug) if slug else None
    if deal is None:
        return None
    detail = f"link ref={slug}"
    clicked = deal.last_click_at
    if clicked is None or order.placed_at is None or not (
        clicked < order.placed_at + ORDER_TIME_PRECISION and order.placed_at <= clicked + deal.window
    ):
        when = f"last click {clicked:%Y-%m-%d}" if clicked else "no click recorded"
        return Decision(None, "link_expired", f"{detail}; {when}, window {deal.window.days} days")
    return _checked(deal, order, "link", detail)


def _unknown_code(order: OrderFacts, _: Candidates) -> Decision | None:
    codes = [c for c in order.codes if c]
    return Decision(None, "unknown_code", f"codes {', '.join(codes)} aren't PostPact codes") if codes else None


def _no_match(_: OrderFacts, __: Candidates) -> Decision | None:
    return Decision(None, "no_match", "no PostPact code or link on the order")


#: The table, in order: the first rule that answers decides.
RULES: list[tuple[str, Callable[[OrderFacts, Candidates], Decision | None]]] = [
    ("code", _by_code),
    ("link", _by_link),
    ("unknown_code", _unknown_code),
    ("no_match", _no_match),
]


def attribute(order: OrderFacts, deals: Candidates) -> Decision:
    for _, rule in RULES:
        decision = rule(order, deals)
        if decision is not None:
            return decision
    raise AssertionError("the last rule always answers")


@dataclass(frozen=True)
class Base:
    amount: int
    #: Empty, or why the base isn't simply the merchandise (cancelled, refund larger than the order).
    note: str


def commission_base(*, merchandise: int, total: int, refunded: int, cancelled: bool, gift_cards: int = 0) -> Base:
    """Merchandise after discounts (``merchandise``: without tax and shipping), minus gift cards sold, reduced in
    proportion to what was refunded of ``total``; integer arithmetic, rounded down."""
    net = max(merchandise - gift_cards, 0)
    if cancelled:
        return Base(0, "cancelled")
    if refunded <= 0 or net == 0:
        return Base(net, "")
    if total <= 0 or refunded >= total:
        note = "fully refunded" if refunded == total else f"refund {refunded} larger than the order ({total})"
        return Base(0, note)
    return Base(net * (total - refunded) // total, f"refunded {refunded} of {total}")


def commission(base: int, bps: int) -> int:
    """The creator's share of a base in basis points, rounded down to the minor unit (never more than promised)."""
    return base * bps // 10_000 if base > 0 and bps > 0 else 0
