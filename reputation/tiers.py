"""Reliability tiers, their caps, ghosting sanctions, what the next tier needs, and who may apply to a gig.

Thresholds and caps (`python -m reputation.simulate --sweep` re-runs the comparison quoted below):

| tier   | proven reliability | completed deals | distinct brands | deal value cap | open unposted deals |
|--------|--------------------|-----------------|-----------------|----------------|---------------------|
| New    | -                  | -               | -               | $250           | 1                   |
| Bronze | >= 0.50            | >= 1            | >= 1            | $500           | 2                   |
| Silver | >= 0.70            | >= 5            | >= 3            | $1,500         | 4                   |
| Gold   | >= 0.85            | >= 15           | >= 8            | $5,000         | 8                   |

"Proven reliability" is the ranking score: the Wilson lower bound (z = 1.645) on decayed evidence. A gig's minimum
reliability is compared with it too, so a brand asking for 80% gets creators who have shown it, not guesses.

Why these numbers (simulation figures: seeds 1 and 2, 3 worlds x 104 weeks each, strategy (c)):
- New: $250 and one unposted deal. The average micro-influencer deal is about $198 (field notes), so a newcomer can
  take a typical deal, while a fresh account - all a whitewashing ghoster ever has - holds at most one product it has
  not posted about. Alternatives: a $100 cap cut ghosted dollars by ~40% but left ~20% of gigs unfilled and placed
  fewer newcomers; $500 added ~25% to ghosted dollars; two unposted deals raised ghost rate (6.1% vs 5.8-5.9%) and
  whitewasher ghostings (+10-40%). Dropping all thresholds (only the probation cap) raised the ghost rate to 6.3-6.4%
  and ghosted dollars by ~45%.
- Bronze at 0.50 needs evidence n >= 2.7: two deals of $30+ delivered on time, one of $230+, or three gift-only
  deals; one average deal alone scores 0.49 and a good rating tips it over. 0.40 let more ghosting through in one
  seed (6.1% vs 5.8%) and tied in the other; 0.60 filled ~1 point fewer gigs for no measurable gain. One ghosting
  (weight 3 x deal weight) pulls up to six clean average deals back below 0.50, on top of the probation cap.
- Silver at 0.70 with 5 deals and 3 brands: five on-time average deals score 0.83; a late post among five scores
  0.69, so it takes a sixth good deal, and a ghosting costs the tier. Three brands, because a record built with one
  friendly brand is the cheapest to fake (Upwork likewise shows a score only after 2+ contracts with 2+ clients).
  Neither 0.60 nor 0.80 did better (both within 0.3 points, 0.80 slightly worse in both seeds).
- Gold at 0.85 with 15 deals and 8 brands: 15 clean average deals score 0.94, one late post is absorbed, a ghosting
  leaves Silver (0.73) once the probation ends. In the simulation Gold deals ghost ~1% of the time versus ~16% for New.
  0.90 made no measurable difference, so the lower bar keeps Gold within reach.
- A ghosting within 90 days caps a creator at New/probation (about three campaign cycles; the field marks creators
  ghosted after nudges on days 7, 10 and 14). Two ghostings within 12 months suspend applications until an admin
  reviews the account: one can be bad luck, two is a pattern. An admin's clearance forgives earlier ghostings for
  suspension only; they stay in the evidence.

- A verified audience (a connected account with real history) is worth evidence like 2.5 units of a delivered deal
  to a newcomer in ranking only (`ranking_evidence`): not to tiers or caps, and nothing once the account has a
  record of its own or is linked to a ghosting. With 70% of creators connected, 1.0 placed 49% of honest newcomers
  within 12 weeks, 2.0 58%, 2.5 61-67% (seeds 1-3) at a ghost rate of 4.8-5.3%; 3.0 placed 64-69% but reached
  5.2-5.3%, at the edge of half the star-rating baseline.

Tiers apply to brands too (for display and filtering), but caps, ghost rules and `eligibility` concern creators.
Deal value caps are in the platform's reference currency minor units (USD cents); callers convert other currencies.

Long because the thresholds' reasons (above) and every sentence a refused creator reads stay beside the rules they
explain.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from enum import IntEnum

from reputation.scoring import (
    DEFAULT_HALF_LIFE_DAYS,
    Evidence,
    Outcome,
    apply_outcome,
    decay,
    ranking_score,
    value_weight,
)

GHOST_PROBATION = timedelta(days=90)
SUSPENSION_WINDOW = timedelta(days=365)
SUSPENSION_GHOSTINGS = 2
REFERENCE_CURRENCY = "USD"
# The deal size used to translate a reliability gap into "about k more on-time deliveries": $100.
_TYPICAL_DEAL_WEIGHT = value_weight(10_000, 2)
_MAX_DELIVERIES_ESTIMATE = 50


class Tier(IntEnum):
    """Reliability tier; the database stores the name, comparisons use the order."""

    NEW = 0
    BRONZE = 1
    SILVER = 2
    GOLD = 3

    @property
    def label(self) -> str:
        return "New / probation" if self is Tier.NEW else self.name.capitalize()


@dataclass(frozen=True, slots=True)
class TierRule:
    """What a tier requires and what it allows."""

    tier: Tier
    min_score: float
    min_completed_deals: int
    min_counterparties: int
    max_deal_value_minor: int
    max_open_unposted: int


TIER_RULES: tuple[TierRule, ...] = (
    TierRule(Tier.NEW, 0.0, 0, 0, 25_000, 1),
    TierRule(Tier.BRONZE, 0.50, 1, 1, 50_000, 2),
    TierRule(Tier.SILVER, 0.70, 5, 3, 150_000, 4),
    TierRule(Tier.GOLD, 0.85, 15, 8, 500_000, 8),
)
RULES: dict[Tier, TierRule] = {rule.tier: rule for rule in TIER_RULES}


@dataclass(frozen=True, slots=True)
class TrackRecord:
    """What tier rules look at for one subject: stored evidence and counts the DB layer keeps beside it."""

    evidence: Evidence
    completed_deals: int = 0
    distinct_counterparties: int = 0
    ghosted_at: Sequence[datetime] = ()
    # When an admin last reviewed and lifted a suspension; ghostings up to then no longer count towards another.
    review_cleared_at: datetime | None = None
    # Ghostings on other accounts that took products at the same delivery address. One person behind several
    # accounts answers for all of them, so a new account gains nothing (whitewashing); an admin's clearance of this
    # account (a housemate, say) stops those up to then from counting.
    linked_ghosted_at: Sequence[datetime] = ()


@dataclass(frozen=True, slots=True)
class GigRequirements:
    """A gig's entry bar, set by the brand: a minimum proven reliability (0-1) and a minimum tier."""

    min_score: float = 0.0
    min_tier: Tier = Tier.NEW


@dataclass(frozen=True, slots=True)
class Eligibility:
    """Whether a creator may apply, and if not, every reason in words they can act on."""

    allowed: bool
    reasons: tuple[str, ...] = ()


def as_person(record: TrackRecord) -> TrackRecord:
    """The record with the linked accounts' ghostings (after this account's last clearance) counted as its own."""
    if not record.linked_ghosted_at:
        return record
    cleared = record.review_cleared_at
    linked = [t for t in record.linked_ghosted_at if cleared is None or t > cleared]
    return replace(record, ghosted_at=tuple(sorted([*record.ghosted_at, *linked])), linked_ghosted_at=())


def _own(record: TrackRecord) -> TrackRecord:
    return replace(record, linked_ghosted_at=()) if record.linked_ghosted_at else record


def is_suspended(record: TrackRecord, at: datetime) -> bool:
    """Two ghostings within 12 months (not yet cleared by an admin) suspend applications until reviewed; ghostings
    at the account's delivery address under other accounts count too."""
    record = as_person(record)
    counted = sorted(
        t for t in record.ghosted_at if t <= at and (record.review_cleared_at is None or t > record.review_cleared_at)
    )
    span = SUSPENSION_GHOSTINGS - 1
    return any(later - earlier <= SUSPENSION_WINDOW for earlier, later in zip(counted, counted[span:], strict=False))


def on_ghost_probation_until(record: TrackRecord, at: datetime) -> datetime | None:
    """End of the probation cap when a ghosting happened within the last 90 days (here or at the account's delivery
    address under another account), else None."""
    record = as_person(record)
    recent = [t for t in record.ghosted_at if t <= at and at - t < GHOST_PROBATION]
    return max(recent) + GHOST_PROBATION if recent else None


def earned_tier(
    record: TrackRecord,
    at: datetime,
    half_life_days: float = DEFAULT_HALF_LIFE_DAYS,
    rules: Sequence[TierRule] = TIER_RULES,
) -> Tier:
    """The highest tier whose thresholds the record meets, before any ghosting sanction."""
    score = ranking_score(record.evidence, at, half_life_days=half_life_days)
    earned = Tier.NEW
    for rule in rules:
        if (
            score >= rule.min_score
            and record.completed_deals >= rule.min_completed_deals
            and record.distinct_counterparties >= rule.min_counterparties
        ):
            earned = rule.tier
    return earned


def tier_for(
    record: TrackRecord,
    at: datetime,
    half_life_days: float = DEFAULT_HALF_LIFE_DAYS,
    rules: Sequence[TierRule] = TIER_RULES,
) -> Tier:
    """The tier shown and enforced at `at`: the earned tier, capped at New while a ghosting is under 90 days old.

    `rules` exists so the simulation can try other thresholds; the product uses the default.
    """
    if on_ghost_probation_until(record, at) is not None:
        return Tier.NEW
    return earned_tier(record, at, half_life_days, rules)


def next_tier_needs(
    record: TrackRecord,
    at: datetime,
    half_life_days: float = DEFAULT_HALF_LIFE_DAYS,
    rules: Sequence[TierRule] = TIER_RULES,
) -> list[str]:
    """What is missing for the next tier, one plain sentence per gap; empty at Gold with nothing held against it."""
    needs: list[str] = []
    if is_suspended(record, at):
        needs.append(
            "An admin must review the account first: it had two ghostings within 12 months."
            if is_suspended(_own(record), at)
            else "An admin must review the account first. " + _LINKED
        )
    probation_until = on_ghost_probation_until(record, at)
    if probation_until is not None:
        needs.append(f"No ghosting until {probation_until:%Y-%m-%d} (probation after a ghosting lasts 90 days).")
    current = earned_tier(record, at, half_life_days, rules)
    if current is Tier.GOLD:
        return needs
    rule = _rule(rules, Tier(current + 1))
    score = ranking_score(record.evidence, at, half_life_days=half_life_days)
    if score < rule.min_score:
        deliveries = _on_time_deliveries_needed(record.evidence, at, rule.min_score, half_life_days)
        hint = (
            f", about {deliveries} more on-time deliver{'y' if deliveries == 1 else 'ies'} of a $100 deal"
            if deliveries is not None
            else ""
        )
        needs.append(f"Proven reliability of {rule.min_score:.0%} for {rule.tier.label} (now {score:.0%}){hint}.")
    if record.completed_deals < rule.min_completed_deals:
        missing = rule.min_completed_deals - record.completed_deals
        needs.append(
            f"{missing} more completed deal{'s' if missing != 1 else ''} "
            f"({record.completed_deals} of {rule.min_completed_deals})."
        )
    if record.distinct_counterparties < rule.min_counterparties:
        missing = rule.min_counterparties - record.distinct_counterparties
        needs.append(
            f"Deals with {missing} more brand{'s' if missing != 1 else ''} "
            f"({record.distinct_counterparties} of {rule.min_counterparties} different brands)."
        )
    return needs


@dataclass(frozen=True, slots=True)
class CreatorStanding:
    """What `eligibility` reads of one record at one moment, worked out once: the same for every gig judged then
    (a page of gigs judges them all against one standing)."""

    #: Why applications are paused (suspension), or None.
    suspended: str | None
    tier: Tier
    rule: TierRule
    score: float
    #: The probation clause a tier refusal carries ("" when not on probation).
    probation: str


def creator_standing(
    record: TrackRecord,
    at: datetime,
    half_life_days: float = DEFAULT_HALF_LIFE_DAYS,
    rules: Sequence[TierRule] = TIER_RULES,
) -> CreatorStanding:
    """The record's suspension, tier, cap rule, proven reliability and probation at `at`."""
    suspended = None
    if is_suspended(record, at):
        suspended = (
            "Applications are paused until an admin reviews the account (two ghostings within 12 months)."
            if is_suspended(_own(record), at)
            else _LINKED + " Applications are paused until an admin reviews it; if that wasn't you, say so to PostPact."
        )
    tier = tier_for(record, at, half_life_days, rules)
    probation = ""
    probation_until = on_ghost_probation_until(record, at)
    if probation_until is not None and on_ghost_probation_until(_own(record), at) is None:
        probation = f" (on probation until {probation_until:%Y-%m-%d}: {_LINKED[0].lower()}{_LINKED[1:-1]})"
    elif probation_until is not None:
        probation = f" (after a recent ghosting you are on probation until {probation_until:%Y-%m-%d})"
    score = ranking_score(record.evidence, at, half_life_days=half_life_days)
    return CreatorStanding(suspended, tier, _rule(rules, tier), score, probation)


def eligibility(
    record: TrackRecord,
    at: datetime,
    gig: GigRequirements,
    deal_value_minor: int,
    open_unposted_deals: int,
    half_life_days: float = DEFAULT_HALF_LIFE_DAYS,
    rules: Sequence[TierRule] = TIER_RULES,
) -> Eligibility:
    """May this creator apply to this gig now? `deal_value_minor` is in USD cents, counting product and fee.

    `open_unposted_deals` counts the creator's signed deals whose post is not made yet; the cap is about products
    a creator holds without having delivered, which is exactly what a ghoster accumulates.
    """
    return judge(creator_standing(record, at, half_life_days, rules), gig, deal_value_minor, open_unposted_deals)


def judge(standing: CreatorStanding, gig: GigRequirements, deal_value_minor: int,
          open_unposted_deals: int) -> Eligibility:
    """`eligibility` from a standing worked out beforehand."""
    reasons: list[str] = []
    if standing.suspended:
        reasons.append(standing.suspended)
    tier, rule = standing.tier, standing.rule
    if tier < gig.min_tier:
        reasons.append(f"This gig is open to {gig.min_tier.label} creators and above; you are {tier.label}"
                       f"{standing.probation}.")
    if standing.score < gig.min_score:
        reasons.append(f"This gig needs a proven reliability of {gig.min_score:.0%}; yours is {standing.score:.0%}.")
    if deal_value_minor > rule.max_deal_value_minor:
        reasons.append(
            f"{tier.label} creators can take deals worth up to {_usd(rule.max_deal_value_minor)}; "
            f"this one is worth {_usd(deal_value_minor)}."
        )
    if open_unposted_deals >= rule.max_open_unposted:
        reasons.append(
            f"You have {open_unposted_deals} deal{'s' if open_unposted_deals != 1 else ''} not yet posted; "
            f"{tier.label} creators can hold {rule.max_open_unposted} at a time. Post before taking another."
        )
    return Eligibility(allowed=not reasons, reasons=tuple(reasons))


_LINKED = "Deals shipped to your delivery address under another PostPact account were ghosted."


def _on_time_deliveries_needed(evidence: Evidence, at: datetime, target: float, half_life_days: float) -> int | None:
    # Simulated forward at `at` (no further decay): an estimate to motivate, not a promise.
    current = decay(evidence, at, half_life_days)
    for k in range(1, _MAX_DELIVERIES_ESTIMATE + 1):
        current = apply_outcome(current, Outcome(1.0, _TYPICAL_DEAL_WEIGHT, at), half_life_days)
        if ranking_score(current, at, half_life_days=half_life_days) >= target:
            return k
    return None


def _rule(rules: Sequence[TierRule], tier: Tier) -> TierRule:
    return next(rule for rule in rules if rule.tier is tier)


def _usd(minor: int) -> str:
    return f"${minor / 100:,.0f}"


#: What a connected account with real history (verified audience, posts older than the PostPact account) is worth
#: to a newcomer in ranking: evidence like one small delivered deal. It only breaks the tie among accounts with no
#: record: any real outcome replaces it, and an account linked to a ghosting (same address, or a handle once named
#: in a ghosted deal) gets nothing.
VERIFIED_AUDIENCE_EVIDENCE = 2.5


def ranking_evidence(evidence: Evidence, *, verified_audience: bool, linked_ghostings: int = 0) -> Evidence:
    """The evidence ranking reads: the record's own, or for a newcomer with a verified audience, a small prior."""
    if not verified_audience or evidence.n > 0 or linked_ghostings:
        return evidence
    return Evidence(r=VERIFIED_AUDIENCE_EVIDENCE, s=0.0, updated_at=evidence.updated_at)
