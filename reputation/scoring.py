"""Beta reputation scoring: pure functions over (r, s, updated_at) evidence, with decay, Wilson ranking and ratings."""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from reputation.events import EventKind

DEFAULT_HALF_LIFE_DAYS = 180.0
# One-sided 95%: a creator ranks by the reliability we are 95% sure they have at least.
RANKING_Z = 1.645
RATING_REVEAL_WINDOW = timedelta(days=14)
# Extreme raters approach this weight but never reach it: even an all-5-stars brand withholding a 5 says something.
MIN_RATER_WEIGHT = 0.25
# Below this much evidence (decades of decay) a subject is treated as having none; avoids 0/0 in the bound.
_NO_EVIDENCE = 1e-9
_SECONDS_PER_DAY = 86_400.0


def _require_aware(when: datetime, name: str) -> None:
    if when.tzinfo is None or when.utcoffset() is None:
        raise ValueError(f"{name} must be a timezone-aware datetime, got naive {when!r}")


@dataclass(frozen=True, slots=True)
class Evidence:
    """Decayed positive (r) and negative (s) evidence about one subject, as of `updated_at`.

    `updated_at` is None for a subject nothing has happened to yet (or for undated test evidence, taken as current).
    """

    r: float = 0.0
    s: float = 0.0
    updated_at: datetime | None = None

    def __post_init__(self) -> None:
        if not (math.isfinite(self.r) and math.isfinite(self.s)) or self.r < 0 or self.s < 0:
            raise ValueError(f"evidence must be finite and non-negative, got r={self.r}, s={self.s}")
        if self.updated_at is not None:
            _require_aware(self.updated_at, "updated_at")

    @property
    def n(self) -> float:
        """Amount of evidence; 0 for a newcomer."""
        return self.r + self.s


@dataclass(frozen=True, slots=True)
class Outcome:
    """One observed outcome: value v in [-1, 1], a non-negative weight, and when it happened."""

    value: float
    weight: float
    at: datetime

    def __post_init__(self) -> None:
        if not -1.0 <= self.value <= 1.0:
            raise ValueError(f"outcome value must be in [-1, 1], got {self.value}")
        if not (math.isfinite(self.weight) and self.weight >= 0):
            raise ValueError(f"outcome weight must be finite and non-negative, got {self.weight}")
        _require_aware(self.at, "at")


def decay_factor(elapsed: timedelta, half_life_days: float = DEFAULT_HALF_LIFE_DAYS) -> float:
    """How much evidence of age `elapsed` still counts: 0.5 per half-life, never more than 1."""
    if half_life_days <= 0:
        raise ValueError(f"half_life_days must be positive, got {half_life_days}")
    days = elapsed.total_seconds() / _SECONDS_PER_DAY
    return 1.0 if days <= 0 else 0.5 ** (days / half_life_days)


def decay(evidence: Evidence, to: datetime, half_life_days: float = DEFAULT_HALF_LIFE_DAYS) -> Evidence:
    """Evidence as it stands at `to`; a `to` before `updated_at` returns it unchanged (evidence never grows back)."""
    _require_aware(to, "to")
    if evidence.updated_at is None:
        return Evidence(evidence.r, evidence.s, to)  # undated evidence is taken as current
    if to <= evidence.updated_at:
        return evidence
    f = decay_factor(to - evidence.updated_at, half_life_days)
    return Evidence(evidence.r * f, evidence.s * f, to)


def apply_outcome(evidence: Evidence, outcome: Outcome, half_life_days: float = DEFAULT_HALF_LIFE_DAYS) -> Evidence:
    """Add one outcome in O(1): decay the stored evidence to the outcome's time, then add w(1+v)/2 and w(1-v)/2.

    An outcome recorded after a later one (a webhook arriving late) is decayed to `updated_at` instead, which gives
    the same totals as if events had arrived in time order, because decay is linear.
    """
    if evidence.updated_at is not None and outcome.at < evidence.updated_at:
        w = outcome.weight * decay_factor(evidence.updated_at - outcome.at, half_life_days)
        base = evidence
    else:
        w = outcome.weight
        base = decay(evidence, outcome.at, half_life_days)
    return replace(base, r=base.r + w * (1 + outcome.value) / 2, s=base.s + w * (1 - outcome.value) / 2)


def fold_outcomes(
    outcomes: Iterable[Outcome],
    at: datetime | None = None,
    start: Evidence | None = None,
    half_life_days: float = DEFAULT_HALF_LIFE_DAYS,
) -> Evidence:
    """Fold outcomes into evidence, optionally decayed to `at`; the result does not depend on the input order.

    Outcomes are applied in a canonical order (time, then value, then weight) so that floating-point sums come out
    bit-identical however the event log was read; this is what the DB layer uses to rebuild a stored row.
    """
    evidence = start if start is not None else Evidence()
    for outcome in sorted(outcomes, key=lambda o: (o.at, o.value, o.weight)):
        evidence = apply_outcome(evidence, outcome, half_life_days)
    return evidence if at is None else decay(evidence, at, half_life_days)


def expected_reliability(evidence: Evidence) -> float:
    """Beta-model expectation E = (r+1)/(r+s+2): 0.5 with no evidence, towards 1 or 0 as evidence accumulates."""
    return (evidence.r + 1.0) / (evidence.n + 2.0)


def wilson_lower_bound(positive: float, n: float, z: float = RANKING_Z) -> float:
    """Lower bound of the Wilson score interval for a success share `positive`/`n` (fractional counts allowed)."""
    if n <= _NO_EVIDENCE:
        return 0.0
    if not 0 <= positive <= n * (1 + 1e-12):
        raise ValueError(f"need 0 <= positive <= n, got positive={positive}, n={n}")
    p = min(positive / n, 1.0)
    z2 = z * z
    centre = p + z2 / (2 * n)
    spread = z * math.sqrt(p * (1 - p) / n + z2 / (4 * n * n))
    # Clamp: rounding can push an all-negative record a hair below zero.
    return max(0.0, (centre - spread) / (1 + z2 / n))


def ranking_score(
    evidence: Evidence,
    at: datetime,
    z: float = RANKING_Z,
    half_life_days: float = DEFAULT_HALF_LIFE_DAYS,
) -> float:
    """The number search results sort by: the Wilson lower bound of the evidence decayed to `at`.

    A newcomer scores 0, the floor, so a fresh account can never outrank the one it replaces.
    """
    current = decay(evidence, at, half_life_days)
    return wilson_lower_bound(current.r, current.n, z)


def ranking_key(
    evidence: Evidence,
    at: datetime,
    z: float = RANKING_Z,
    half_life_days: float = DEFAULT_HALF_LIFE_DAYS,
) -> tuple[float, float]:
    """Sort key for search results, best last: (ranking score, expected reliability).

    The second part breaks the many ties at a score of 0: a newcomer (E = 0.5) goes above an account whose only
    evidence is bad (E < 0.5).
    """
    current = decay(evidence, at, half_life_days)
    return wilson_lower_bound(current.r, current.n, z), expected_reliability(current)


def value_weight(amount_minor: int, currency_exponent: int) -> float:
    """Weight of a deal by its value: 1 + log2(1 + value/100), value in the gig currency's major units.

    Logarithmic so that one large deal cannot outweigh a track record: a 100-unit deal weighs 2, a 10,000-unit deal
    about 7.7, and an unpaid (gift-only) deal 1.
    """
    if amount_minor < 0:
        raise ValueError(f"amount_minor must be non-negative, got {amount_minor}")
    if currency_exponent < 0:
        raise ValueError(f"currency_exponent must be non-negative, got {currency_exponent}")
    # log2(1 + amount/scale) as a difference of logs of two integers: the amount never becomes a float.
    scale_minor = 100 * 10**currency_exponent  # 100 major units, in minor units
    return 1.0 + math.log2(scale_minor + amount_minor) - math.log2(scale_minor)


def outcome_for(kind: EventKind, at: datetime, deal_weight: float = 1.0) -> Outcome:
    """The Outcome an observed event of `kind` contributes; `deal_weight` is `value_weight()` of the deal."""
    if kind is EventKind.RATING:
        raise ValueError("ratings carry their own value: use rating_outcome()")
    spec = kind.spec
    return Outcome(spec.value, spec.weight * deal_weight, at)


def rater_weight(stars_given: Sequence[int]) -> float:
    """How much a rater's stars count, from every rating they have given (including the current one).

    Rule: weight = 1 - 0.75 * extreme / (n + 2), where `extreme` counts 1- and 5-star ratings among the rater's n
    ratings; it lies in (0.25, 1]. A rater who only ever gives 1s or 5s tells us little about any one counterparty
    (everyone gets the same verdict), so their weight falls towards 0.25 as that habit is confirmed; the +2 keeps one
    or two ratings from condemning a rater who simply met a great or awful partner. A rater who uses the middle of
    the scale keeps a weight near 1.
    """
    for stars in stars_given:
        _check_stars(stars)
    return rater_weight_from_counts(sum(1 for stars in stars_given if stars in (1, 5)), len(stars_given))


def rater_weight_from_counts(extreme: int, total: int) -> float:
    """`rater_weight` from running counts (1- or 5-star ratings given, all ratings given), for storing on the rater."""
    if not 0 <= extreme <= total:
        raise ValueError(f"need 0 <= extreme <= total, got extreme={extreme}, total={total}")
    return 1.0 - (1.0 - MIN_RATER_WEIGHT) * extreme / (total + 2)


def rating_outcome(stars: int, at: datetime, rater_weight: float = 1.0) -> Outcome:
    """A revealed star rating as an outcome: v = (stars-3)/2 with weight 0.5 times the rater's weight."""
    _check_stars(stars)
    if not 0.0 <= rater_weight <= 1.0:
        raise ValueError(f"rater_weight must be in [0, 1], got {rater_weight}")
    return Outcome((stars - 3) / 2, EventKind.RATING.spec.weight * rater_weight, at)


def rating_revealed(completed_at: datetime, at: datetime, both_rated: bool) -> bool:
    """Double-blind rule: a rating is visible (and counts) once both sides rated or the 14-day window has closed."""
    _require_aware(completed_at, "completed_at")
    _require_aware(at, "at")
    return both_rated or at >= completed_at + RATING_REVEAL_WINDOW


def rating_window_open(completed_at: datetime, at: datetime) -> bool:
    """Ratings may be given only within 14 days of completion, so a late rating cannot retaliate after a reveal."""
    _require_aware(completed_at, "completed_at")
    _require_aware(at, "at")
    return completed_at <= at < completed_at + RATING_REVEAL_WINDOW


def _check_stars(stars: int) -> None:
    if isinstance(stars, bool) or not isinstance(stars, int) or not 1 <= stars <= 5:
        raise ValueError(f"stars must be an integer from 1 to 5, got {stars!r}")
