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


def test_every_engagement_row_shares_one_definition_of_the_figures() -> None:
    """The report's deal and gig rows and the deal page's metrics get the three figures from one mixin, so they
    cannot drift apart; the divisions are exact, rounded once (half to even)."""
    from datetime import UTC, datetime
    from uuid import uuid4

    from marketplace.social.figures import EngagementFigures
    from marketplace.social.metrics import DealMetrics, MetricPoint
    from marketplace.social.reports import DealEngagement, GigEngagement

    now = datetime(2026, 12, 1, tzinfo=UTC)
    deal = DealEngagement(uuid4(), uuid4(), "Gig", uuid4(), "Ava", "USD", 15_000, now, views=2_000, likes=90,
                          comments=8, shares=2, saves=None)
    gig = GigEngagement(deal.gig_id, "Gig", "USD")
    gig.add(deal)
    page = DealMetrics(deal.collaboration_id, "USD", 15_000,
                       [MetricPoint("24h", now, 2_000, 90, 8, 2, None, None)], pending=0)
    for row in (deal, gig, page):
        assert isinstance(row, EngagementFigures)
        assert (row.engagements, row.engagement_rate_bps, row.cost_per_1000_views, row.cost_per_engagement) == \
            (100, 500, 7_500, 150)
    empty = DealMetrics(deal.collaboration_id, "USD", 15_000, [], pending=0)
    assert (empty.engagement_rate_bps, empty.cost_per_1000_views, empty.cost_per_engagement) == (None, None, None)
    # Exact halves round to even, as before: 5 / 2 -> 2, 7 / 2 -> 4.
    assert GigEngagement(deal.gig_id, "G", "USD", fee_amount=5, engagements=2).cost_per_engagement == 2
    assert GigEngagement(deal.gig_id, "G", "USD", fee_amount=7, engagements=2).cost_per_engagement == 4
