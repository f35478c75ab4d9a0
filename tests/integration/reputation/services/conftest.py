"""What the reputation rebuild and refresh tests compare of a score row: exact columns, and floats."""

from __future__ import annotations

from reputation.services import COUNTERS

#: Derived columns that must come out exactly equal (counts, times, tier and rank order), whichever path wrote them.
EXACT_COLUMNS: tuple[str, ...] = (
    "events_count",
    *COUNTERS,
    "completed_deals",
    "distinct_counterparties",
    "ratings_given",
    "extreme_ratings_given",
    "rank_order",
    "tier",
    "evidence_at",
    "suspended_at",
    "ranked_at",
)
#: Sums of floats, equal to rounding (rel=1e-12): the incremental, batched and set-based paths add in other orders.
FLOAT_COLUMNS: tuple[str, ...] = ("r", "s", "ranking_score", "expected")
#: What the daily refresh writes.
RANKING_COLUMNS: tuple[str, ...] = ("ranking_score", "expected", "rank_order", "tier", "ranked_at")
