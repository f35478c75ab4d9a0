"""Engagement figures, one function each: the deal page, the brand's engagement report, its CSV and the API all
call these (money in minor units of the deal's currency, rates in basis points: 3.45% → 345). Divisions are exact
(``Fraction``), rounded once to a whole number."""

from __future__ import annotations

from collections.abc import Sequence
from fractions import Fraction


def engagements_of(likes: int | None, comments: int | None, shares: int | None, saves: int | None) -> int:
    """Interactions with a post: likes + comments + shares + saves (whatever the platform reports)."""
    return sum(v or 0 for v in (likes, comments, shares, saves))


def engagement_rate_bps(engagements: int, views: int | None) -> int | None:
    """Engagements per view, in basis points; None without views."""
    return round(Fraction(engagements * 10_000, views)) if views else None


def cost_per_1000_views(fee_amount: int, views: int | None) -> int | None:
    """The fee per 1,000 views (CPM), in minor units: one view costs a fraction of a cent."""
    return round(Fraction(fee_amount * 1000, views)) if views else None


def cost_per_engagement(fee_amount: int, engagements: int) -> int | None:
    return round(Fraction(fee_amount, engagements)) if engagements else None


def median_bps(rates: Sequence[int]) -> int | None:
    """The median of engagement rates (the mean of the middle two for an even count, rounded)."""
    if not rates:
        return None
    ordered = sorted(rates)
    middle = len(ordered) // 2
    if len(ordered) % 2:
        return ordered[middle]
    return round(Fraction(ordered[middle - 1] + ordered[middle], 2))


class EngagementFigures:
    """Engagement rate, cost per 1,000 views and cost per engagement for any row with a ``fee_amount``, ``views`` and
    ``engagements`` (a deal's latest reading, a gig's deals added up, the deal page's series): one definition of the
    three properties, each calling its function above."""

    __slots__ = ()
    fee_amount: int
    views: int | None
    engagements: int

    @property
    def engagement_rate_bps(self) -> int | None:
        return engagement_rate_bps(self.engagements, self.views)

    @property
    def cost_per_1000_views(self) -> int | None:
        return cost_per_1000_views(self.fee_amount, self.views)

    @property
    def cost_per_engagement(self) -> int | None:
        return cost_per_engagement(self.fee_amount, self.engagements)
