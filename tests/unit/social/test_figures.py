"""Engagement figures: one function each, shared by the deal page, the report, its CSV and the API."""

from __future__ import annotations

from marketplace.social.figures import (
    cost_per_1000_views,
    cost_per_engagement,
    engagement_rate_bps,
    engagements_of,
    median_bps,
)


def test_figures() -> None:
    assert engagements_of(100, 10, 5, None) == 115
    assert engagement_rate_bps(115, 1_000) == 1150 and engagement_rate_bps(5, 0) is None
    assert engagement_rate_bps(5, None) is None
    assert cost_per_1000_views(15_000, 1_000) == 15_000 and cost_per_1000_views(15_000, 3) == 5_000_000
    assert cost_per_1000_views(15_000, None) is None
    assert cost_per_engagement(15_000, 115) == 130 and cost_per_engagement(15_000, 0) is None


def test_median_of_recent_rates() -> None:
    assert median_bps([]) is None
    assert median_bps([300]) == 300
    assert median_bps([900, 100, 300]) == 300
    assert median_bps([100, 300, 900, 1000]) == 600
    assert median_bps([100, 101]) == 100  # rounds half to even, like every figure
