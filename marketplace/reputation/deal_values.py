"""What a deal is worth, for weighting outcomes (in its own currency) and for the tier caps (in rough US cents)."""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal
from typing import TYPE_CHECKING

from escrow.money import CURRENCY_EXPONENTS, normalise_currency

if TYPE_CHECKING:
    from marketplace.collaborations.models import Collaboration
    from marketplace.gigs.models import Gig

#: Rough US dollars per major unit, used only to compare a deal's value with the tier caps (which are set in USD).
#: A cap of $250 does not need the day's rate; replace with a rates feed if caps ever become exact promises.
USD_PER_UNIT: dict[str, Decimal] = {
    "USD": Decimal("1"),
    "EUR": Decimal("1.10"),
    "GBP": Decimal("1.30"),
    "CAD": Decimal("0.72"),
    "AUD": Decimal("0.66"),
    "NZD": Decimal("0.59"),
    "CHF": Decimal("1.20"),
    "SEK": Decimal("0.10"),
    "NOK": Decimal("0.095"),
    "DKK": Decimal("0.15"),
    "PLN": Decimal("0.26"),
    "CZK": Decimal("0.045"),
    "SGD": Decimal("0.77"),
    "HKD": Decimal("0.13"),
    "MXN": Decimal("0.055"),
    "BRL": Decimal("0.18"),
    "INR": Decimal("0.012"),
    "ZAR": Decimal("0.055"),
    "JPY": Decimal("0.0067"),
    "KRW": Decimal("0.00072"),
}


def to_usd_minor(amount_minor: int, currency: str) -> int:
    """An amount in any accepted currency as approximate US cents (for tier caps only)."""
    code = normalise_currency(currency)
    major = Decimal(amount_minor) / (Decimal(10) ** CURRENCY_EXPONENTS[code])
    return int((major * USD_PER_UNIT[code] * 100).to_integral_value(rounding=ROUND_HALF_UP))


def collaboration_value_minor(collab: Collaboration) -> int:
    """What the deal is worth in its currency's minor units: the agreed fee plus the product's retail value."""
    product = int((collab.terms or {}).get("product_retail_value") or 0) if collab.product_included else 0
    return int(collab.fee_amount) + product


def gig_value_minor(gig: Gig, fee_amount: int | None = None) -> int:
    """A gig's deal value as a creator would take it (their counter-offer replaces the base fee when given)."""
    fee = gig.base_fee_amount if fee_amount is None else fee_amount
    return int(fee) + (int(gig.product_retail_value or 0) if gig.product_included else 0)
