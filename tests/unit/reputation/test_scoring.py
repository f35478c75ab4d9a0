"""Unit and property tests for the Beta reputation scoring functions."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from reputation.events import CATALOGUE, EventKind, Side, brand_release_kind, creator_delivery_kind
from reputation.scoring import (
    Evidence,
    Outcome,
    apply_outcome,
    decay,
    decay_factor,
    expected_reliability,
    fold_outcomes,
    outcome_for,
    ranking_key,
    ranking_score,
    rater_weight,
    rater_weight_from_counts,
    rating_outcome,
    rating_revealed,
    rating_window_open,
    value_weight,
    wilson_lower_bound,
)

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
DAY = timedelta(days=1)

# -- acceptance vectors (w = 1, no decay, z = 1.645) ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("r", "s", "expected", "bound"),
    [(0, 0, 0.5000, 0.0), (10, 0, 0.9167, 0.7870), (9, 3, 0.7143, 0.5126), (4, 4, 0.5000, 0.2486)],
)
def test_acceptance_vectors(r: int, s: int, expected: float, bound: float) -> None:
    evidence = Evidence(r, s, T0)
    assert round(expected_reliability(evidence), 4) == expected
    assert round(wilson_lower_bound(r, r + s), 4) == bound
    assert round(ranking_score(evidence, T0), 4) == bound


def test_vectors_built_from_unit_outcomes() -> None:
    # Nine on-time deliveries and three ghostings at weight 1 are exactly the (9, 3) vector.
    outcomes = [Outcome(1.0, 1.0, T0)] * 9 + [Outcome(-1.0, 1.0, T0)] * 3
    evidence = fold_outcomes(outcomes)
    assert (evidence.r, evidence.s) == (9.0, 3.0)
    assert round(expected_reliability(evidence), 4) == 0.7143


def test_ghost_360_days_old_weighs_three_quarters() -> None:
    ghost = outcome_for(EventKind.CREATOR_GHOSTED, T0)
    evidence = fold_outcomes([ghost], at=T0 + 360 * DAY, half_life_days=180)
    assert evidence.r == 0.0
    assert round(evidence.s, 4) == 0.7500


def test_late_outcome_counts_half_each_way() -> None:
    evidence = apply_outcome(Evidence(), outcome_for(EventKind.CREATOR_LATE, T0))
    assert (evidence.r, evidence.s) == (0.5, 0.5)


# -- decay -----------------------------------------------------------------------------------------------------------


def test_decay_halves_per_half_life_and_never_goes_backwards() -> None:
    evidence = Evidence(8.0, 4.0, T0)
    half = decay(evidence, T0 + 180 * DAY)
    assert (half.r, half.s, half.updated_at) == (4.0, 2.0, T0 + 180 * DAY)
    assert decay(evidence, T0 - 10 * DAY) == evidence
    assert decay_factor(timedelta(0)) == 1.0


def test_newcomer_evidence_gets_a_timestamp_but_stays_empty() -> None:
    evidence = decay(Evidence(), T0)
    assert (evidence.r, evidence.s, evidence.updated_at) == (0.0, 0.0, T0)


def test_naive_datetimes_are_rejected() -> None:
    naive = datetime(2026, 3, 1, 12, 0)
    with pytest.raises(ValueError, match="timezone-aware"):
        Evidence(1.0, 0.0, naive)
    with pytest.raises(ValueError, match="timezone-aware"):
        decay(Evidence(), naive)


def test_out_of_order_event_equals_in_order() -> None:
    early, late = Outcome(-1.0, 3.0, T0), Outcome(1.0, 2.0, T0 + 30 * DAY)
    in_order = apply_outcome(apply_outcome(Evidence(), early), late)
    reversed_ = apply_outcome(apply_outcome(Evidence(), late), early)
    assert reversed_.updated_at == in_order.updated_at
    assert reversed_.r == pytest.approx(in_order.r)
    assert reversed_.s == pytest.approx(in_order.s)


# -- value weight, outcomes, ratings ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("amount_minor", "exponent", "weight"),
    [(0, 2, 1.0), (10_000, 2, 2.0), (30_000, 2, 3.0), (100, 0, 2.0), (1_000_000, 2, 7.6582)],
)
def test_value_weight(amount_minor: int, exponent: int, weight: float) -> None:
    assert round(value_weight(amount_minor, exponent), 4) == weight


def test_value_weight_rejects_negative_amounts() -> None:
    with pytest.raises(ValueError, match="non-negative"):
        value_weight(-1, 2)


def test_outcome_for_scales_catalogue_weight_by_deal_weight() -> None:
    outcome = outcome_for(EventKind.CREATOR_POST_REMOVED, T0, deal_weight=2.0)
    assert (outcome.value, outcome.weight, outcome.at) == (-1.0, 4.0, T0)
    with pytest.raises(ValueError, match="rating_outcome"):
        outcome_for(EventKind.RATING, T0)


def test_catalogue_matches_the_issue() -> None:
    expected = {
        "creator.on_time": (1.0, 1.0),
        "creator.late": (0.0, 1.0),
        "creator.ghosted": (-1.0, 3.0),
        "creator.post_removed": (-1.0, 2.0),
        "creator.cancelled_after_signing": (-1.0, 0.5),
        "creator.dispute_lost": (-1.0, 2.0),
        "brand.released_on_time": (1.0, 1.0),
        "brand.late_release": (0.0, 1.0),
        "brand.did_not_ship": (-1.0, 1.0),
        "brand.dispute_lost": (-1.0, 3.0),
        "rating": (0.0, 0.5),
    }
    assert {kind.value: (spec.value, spec.weight) for kind, spec in CATALOGUE.items()} == expected
    assert EventKind("creator.ghosted") is EventKind.CREATOR_GHOSTED
    assert all(kind.spec.side is Side.BRAND for kind in EventKind if kind.value.startswith("brand."))


@pytest.mark.parametrize(("stars", "value"), [(1, -1.0), (2, -0.5), (3, 0.0), (4, 0.5), (5, 1.0)])
def test_rating_outcome(stars: int, value: float) -> None:
    outcome = rating_outcome(stars, T0)
    assert (outcome.value, outcome.weight) == (value, 0.5)
    assert rating_outcome(stars, T0, rater_weight=0.5).weight == 0.25


@pytest.mark.parametrize("stars", [0, 6, True, 4.5])
def test_rating_outcome_rejects_invalid_stars(stars: object) -> None:
    with pytest.raises(ValueError, match="stars"):
        rating_outcome(stars, T0)  # type: ignore[arg-type]


def test_extreme_raters_count_less() -> None:
    assert rater_weight([5]) == 0.75
    assert rater_weight([5] * 10) == pytest.approx(0.375)
    assert rater_weight([5] * 1000) == pytest.approx(0.25, abs=0.002)
    assert rater_weight([1] * 20) == rater_weight([5] * 20)
    assert rater_weight([3, 4, 2, 4]) == 1.0
    assert rater_weight([5, 4, 3, 5, 4]) > rater_weight([5, 5, 5, 5, 5])
    assert rater_weight([5] * 7 + [1] * 3) == rater_weight_from_counts(10, 10)
    with pytest.raises(ValueError, match="extreme"):
        rater_weight_from_counts(3, 2)


def test_double_blind_reveal() -> None:
    assert not rating_revealed(T0, T0 + 13 * DAY, both_rated=False)
    assert rating_revealed(T0, T0 + 13 * DAY, both_rated=True)
    assert rating_revealed(T0, T0 + 14 * DAY, both_rated=False)
    assert rating_window_open(T0, T0 + 13 * DAY)
    assert not rating_window_open(T0, T0 + 14 * DAY)


def test_ranking_key_puts_newcomers_above_accounts_with_only_bad_evidence() -> None:
    newcomer = Evidence()
    ghoster = fold_outcomes([outcome_for(EventKind.CREATOR_GHOSTED, T0)])
    proven = fold_outcomes([outcome_for(EventKind.CREATOR_ON_TIME, T0)] * 3)
    at = T0 + DAY
    assert ranking_score(newcomer, at) == ranking_score(ghoster, at) == 0.0
    assert ranking_key(ghoster, at) < ranking_key(newcomer, at) < ranking_key(proven, at)


# -- which event a delivery earns ------------------------------------------------------------------------------------


def _delivery(**overrides: object) -> EventKind | None:
    args: dict[str, object] = {
        "due_at": T0,
        "brand_shipped": True,
        "posted_at": T0,
        "removed_at": None,
        "keep_live_until": T0 + 30 * DAY,
        "at": T0 + 31 * DAY,
    }
    args.update(overrides)
    return creator_delivery_kind(**args)  # type: ignore[arg-type]


def test_delivery_classification() -> None:
    assert _delivery() is EventKind.CREATOR_ON_TIME
    assert _delivery(posted_at=T0 + 7 * DAY) is EventKind.CREATOR_LATE
    assert _delivery(posted_at=T0 + 8 * DAY) is EventKind.CREATOR_GHOSTED
    assert _delivery(posted_at=None, keep_live_until=None) is EventKind.CREATOR_GHOSTED
    assert _delivery(posted_at=None, keep_live_until=None, at=T0 + 6 * DAY) is None  # still within the grace
    assert _delivery(removed_at=T0 + 3 * DAY) is EventKind.CREATOR_POST_REMOVED
    assert _delivery(removed_at=T0 + 30 * DAY) is EventKind.CREATOR_ON_TIME  # removed after keep-live: fine
    assert _delivery(at=T0 + 29 * DAY) is None  # keep-live not over yet


def test_brand_that_never_shipped_costs_the_creator_nothing() -> None:
    assert _delivery(brand_shipped=False, posted_at=None, keep_live_until=None) is None
    assert (
        brand_release_kind(shipped=False, ship_due_at=T0, review_due_at=None, released_at=None, at=T0 + DAY)
        is EventKind.BRAND_DID_NOT_SHIP
    )


def test_brand_release_classification() -> None:
    due = T0 + 7 * DAY
    on_time = brand_release_kind(shipped=True, ship_due_at=T0, review_due_at=due, released_at=due, at=due)
    late = brand_release_kind(shipped=True, ship_due_at=T0, review_due_at=due, released_at=due + DAY, at=due + DAY)
    open_ = brand_release_kind(shipped=True, ship_due_at=T0, review_due_at=due, released_at=None, at=due)
    assert (on_time, late, open_) == (EventKind.BRAND_RELEASED_ON_TIME, EventKind.BRAND_LATE_RELEASE, None)


# -- properties ------------------------------------------------------------------------------------------------------

CREATOR_KINDS = [kind for kind in EventKind if kind.spec.side is Side.CREATOR]
evidence_st = st.builds(
    Evidence,
    r=st.floats(min_value=0, max_value=1e4, allow_nan=False),
    s=st.floats(min_value=0, max_value=1e4, allow_nan=False),
    updated_at=st.just(T0),
)
deal_weight_st = st.floats(min_value=1.0, max_value=12.0)
later_st = st.timedeltas(min_value=timedelta(0), max_value=timedelta(days=3650))
outcome_st = st.builds(
    outcome_for,
    kind=st.sampled_from(CREATOR_KINDS),
    at=st.builds(lambda d: T0 + d, later_st),
    deal_weight=deal_weight_st,
)


@given(evidence_st, later_st, deal_weight_st)
def test_extra_on_time_delivery_never_lowers_reliability(evidence: Evidence, later: timedelta, w: float) -> None:
    at = T0 + later
    before = expected_reliability(decay(evidence, at))
    after = expected_reliability(apply_outcome(evidence, outcome_for(EventKind.CREATOR_ON_TIME, at, w)))
    assert after >= before - 1e-12
    assert ranking_score(apply_outcome(evidence, outcome_for(EventKind.CREATOR_ON_TIME, at, w)), at) >= (
        ranking_score(evidence, at) - 1e-12
    )


@given(evidence_st, later_st, deal_weight_st)
def test_extra_ghosting_never_raises_reliability(evidence: Evidence, later: timedelta, w: float) -> None:
    at = T0 + later
    before = expected_reliability(decay(evidence, at))
    after = expected_reliability(apply_outcome(evidence, outcome_for(EventKind.CREATOR_GHOSTED, at, w)))
    assert after <= before + 1e-12


@given(evidence_st, later_st)
def test_decay_moves_reliability_towards_one_half(evidence: Evidence, later: timedelta) -> None:
    before = expected_reliability(evidence)
    after = expected_reliability(decay(evidence, T0 + later))
    assert abs(after - 0.5) <= abs(before - 0.5) + 1e-12
    assert (after - 0.5) * (before - 0.5) >= 0  # never crosses to the other side


@given(st.lists(outcome_st, max_size=25), st.randoms(use_true_random=False))
def test_fold_does_not_depend_on_event_order(outcomes: list[Outcome], rnd: random.Random) -> None:
    shuffled = list(outcomes)
    rnd.shuffle(shuffled)
    at = T0 + timedelta(days=4000)
    assert fold_outcomes(shuffled, at=at) == fold_outcomes(outcomes, at=at)


@given(st.lists(st.sampled_from(CREATOR_KINDS), max_size=25), st.randoms(use_true_random=False))
def test_equal_timestamps_give_identical_evidence_in_any_order(kinds: list[EventKind], rnd: random.Random) -> None:
    outcomes = [outcome_for(kind, T0) for kind in kinds]
    shuffled = list(outcomes)
    rnd.shuffle(shuffled)
    assert fold_outcomes(shuffled) == fold_outcomes(outcomes)


@given(st.lists(outcome_st, min_size=1, max_size=25))
def test_incremental_application_matches_fold(outcomes: list[Outcome]) -> None:
    # The DB layer applies events one at a time as they arrive; a rebuild from the log must agree.
    evidence = Evidence()
    for outcome in outcomes:
        evidence = apply_outcome(evidence, outcome)
    rebuilt = fold_outcomes(outcomes)
    assert evidence.updated_at == rebuilt.updated_at
    assert evidence.r == pytest.approx(rebuilt.r, rel=1e-9, abs=1e-9)
    assert evidence.s == pytest.approx(rebuilt.s, rel=1e-9, abs=1e-9)


@given(
    st.floats(min_value=0, max_value=1e4, allow_nan=False),
    st.floats(min_value=0, max_value=1e4, allow_nan=False),
    st.floats(min_value=0.01, max_value=100),
)
def test_wilson_bound_sane_and_monotone_in_r(r: float, s: float, extra: float) -> None:
    bound = wilson_lower_bound(r, r + s)
    assert 0.0 <= bound <= 1.0
    if r + s > 0:
        assert bound <= r / (r + s) + 1e-12  # a lower bound never exceeds the observed share
    assert bound <= expected_reliability(Evidence(r, s)) + 1e-12  # ranking is stricter than the estimate
    assert wilson_lower_bound(r + extra, r + extra + s) >= bound - 1e-12


@given(st.floats(min_value=0, max_value=1e4, allow_nan=False), st.floats(min_value=0.01, max_value=100))
def test_wilson_bound_falls_with_negative_evidence(r: float, extra: float) -> None:
    assert wilson_lower_bound(r, r + extra) <= wilson_lower_bound(r, r) + 1e-12


@given(st.lists(st.integers(min_value=1, max_value=5), max_size=50))
def test_rater_weight_bounds(stars: list[int]) -> None:
    weight = rater_weight(stars)
    assert 0.25 < weight <= 1.0
    assert rater_weight([*stars, 3]) >= weight  # a middle rating never makes a rater count less
