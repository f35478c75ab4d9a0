"""The job registry's in-process scheduler: when periodic jobs first run after start-up."""

from __future__ import annotations

from marketplace.jobs import InProcessScheduler


def test_frequent_jobs_start_soon_and_daily_jobs_are_spread_over_their_interval() -> None:
    quick = [InProcessScheduler.first_delay(120) for _ in range(200)]
    daily = [InProcessScheduler.first_delay(86_400) for _ in range(200)]
    assert all(2.0 <= d <= 10.0 for d in quick)
    assert all(60.0 <= d <= 86_400 for d in daily)
    # Spread out, not all at start-up.
    assert max(daily) - min(daily) > 3_600
