"""Unit tests for reliability tiers, ghosting sanctions, next-tier explanations and gig eligibility."""

from __future__ import annotations

import re
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from itertools import pairwise

import pytest

from reputation.events import EventKind
from reputation.scoring import Evidence, fold_outcomes, outcome_for, ranking_score, value_weight
from reputation.tiers import (
    RULES,
    TIER_RULES,
    Eligibility,
    GigRequirements,
    Tier,
    TrackRecord,
    eligibility,
    is_suspended,
    next_tier_needs,
    on_ghost_probation_until,
    tier_for,
)

NOW = datetime(2026, 6, 1, tzinfo=UTC)
DAY = timedelta(days=1)
AVERAGE_DEAL = value_weight(19_800, 2)  # the field's average micro-influencer deal, $198


def record(
    on_time: int = 0,
    brands: int | None = None,
    ghosted_days_ago: tuple[int, ...] = (),
    deal_weight: float = AVERAGE_DEAL,
    days_ago: int = 1,
    review_cleared_days_ago: int | None = None,
) -> TrackRecord:
    """A creator with `on_time` recent deliveries and ghostings `ghosted_days_ago` days before NOW."""
    outcomes = [outcome_for(EventKind.CREATOR_ON_TIME, NOW - days_ago * DAY, deal_weight)] * on_time
    ghosted_at = tuple(NOW - d * DAY for d in ghosted_days_ago)
    outcomes += [outcome_for(EventKind.CREATOR_GHOSTED, t, deal_weight) for t in ghosted_at]
    return TrackRecord(
        evidence=fold_outcomes(outcomes),
        completed_deals=on_time,
        distinct_counterparties=on_time if brands is None else brands,
        ghosted_at=ghosted_at,
        review_cleared_at=None if review_cleared_days_ago is None else NOW - review_cleared_days_ago * DAY,
    )


# -- the rules as data -----------------------------------------------------------------------------------------------


def test_rules_rise_with_the_tier() -> None:
    assert [rule.tier for rule in TIER_RULES] == list(Tier)
    for lower, higher in pairwise(TIER_RULES):
        assert higher.min_score > lower.min_score
        assert higher.min_completed_deals > lower.min_completed_deals
        assert higher.min_counterparties > lower.min_counterparties
        assert higher.max_deal_value_minor > lower.max_deal_value_minor
        assert higher.max_open_unposted > lower.max_open_unposted
    assert RULES[Tier.NEW].max_open_unposted == 1
    assert Tier["SILVER"] is Tier.SILVER
    assert Tier.NEW.label == "New / probation"


# -- tier_for --------------------------------------------------------------------------------------------------------


def test_newcomer_is_new() -> None:
    assert tier_for(TrackRecord(Evidence()), NOW) is Tier.NEW


@pytest.mark.parametrize(
    ("on_time", "brands", "deal_weight", "tier"),
    [
        (1, 1, AVERAGE_DEAL, Tier.NEW),  # one average deal alone scores 0.49
        (1, 1, value_weight(23_000, 2), Tier.BRONZE),  # one $230 deal is enough
        (2, 2, AVERAGE_DEAL, Tier.BRONZE),
        (2, 2, 1.0, Tier.NEW),  # gift-only deals carry the least weight
        (3, 3, 1.0, Tier.BRONZE),
        (5, 3, AVERAGE_DEAL, Tier.SILVER),
        (5, 2, AVERAGE_DEAL, Tier.BRONZE),  # enough deals, too few brands
        (15, 8, AVERAGE_DEAL, Tier.GOLD),
        (15, 7, AVERAGE_DEAL, Tier.SILVER),
    ],
)
def test_tier_thresholds(on_time: int, brands: int, deal_weight: float, tier: Tier) -> None:
    assert tier_for(record(on_time, brands, deal_weight=deal_weight), NOW) is tier


def test_decay_lets_an_idle_record_slide() -> None:
    gold = record(15, 8)
    assert tier_for(gold, NOW) is Tier.GOLD
    assert tier_for(gold, NOW + 3 * 365 * DAY) < Tier.GOLD


def test_ghosting_within_90_days_caps_at_probation() -> None:
    gold_with_recent_ghost = record(30, 10, ghosted_days_ago=(30,))
    assert tier_for(gold_with_recent_ghost, NOW) is Tier.NEW
    assert on_ghost_probation_until(gold_with_recent_ghost, NOW) == NOW + 60 * DAY
    # Once the 90 days are over the record speaks for itself again.
    assert tier_for(gold_with_recent_ghost, NOW + 61 * DAY) > Tier.NEW
    assert on_ghost_probation_until(gold_with_recent_ghost, NOW + 61 * DAY) is None


def test_ghosting_drags_the_score_down_as_well() -> None:
    clean, ghosted = record(5, 5), record(5, 5, ghosted_days_ago=(100,))
    assert ranking_score(ghosted.evidence, NOW) < ranking_score(clean.evidence, NOW)
    assert tier_for(ghosted, NOW) < tier_for(clean, NOW)


# -- suspension ------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("ghosted_days_ago", "cleared_days_ago", "suspended"),
    [
        ((10,), None, False),
        ((10, 200), None, True),
        ((500, 800), None, True),  # stays suspended until reviewed, however long ago
        ((10, 400), None, False),  # more than 12 months apart
        ((10, 200), 5, False),  # an admin cleared it
        ((10, 200), 100, False),  # only one ghosting since the review
        ((10, 50), 100, True),  # two since the review
    ],
)
def test_two_ghostings_within_12_months_suspend(
    ghosted_days_ago: tuple[int, ...], cleared_days_ago: int | None, suspended: bool
) -> None:
    subject = record(10, 5, ghosted_days_ago=ghosted_days_ago, review_cleared_days_ago=cleared_days_ago)
    assert is_suspended(subject, NOW) is suspended


def test_future_ghostings_do_not_count_yet() -> None:
    subject = record(10, 5, ghosted_days_ago=(10, -5))
    assert not is_suspended(subject, NOW)
    assert is_suspended(subject, NOW + 5 * DAY)


# -- eligibility -----------------------------------------------------------------------------------------------------

OPEN_GIG = GigRequirements()


def test_proven_creator_may_apply() -> None:
    verdict = eligibility(record(5, 3), NOW, OPEN_GIG, deal_value_minor=100_000, open_unposted_deals=1)
    assert verdict == Eligibility(allowed=True, reasons=())


def test_newcomer_may_take_one_typical_deal() -> None:
    newcomer = TrackRecord(Evidence())
    assert eligibility(newcomer, NOW, OPEN_GIG, 19_800, 0).allowed
    blocked = eligibility(newcomer, NOW, OPEN_GIG, 19_800, 1)
    assert not blocked.allowed
    assert blocked.reasons == (
        "You have 1 deal not yet posted; New / probation creators can hold 1 at a time. Post before taking another.",
    )


def test_deal_value_above_the_tier_cap() -> None:
    verdict = eligibility(TrackRecord(Evidence()), NOW, OPEN_GIG, 30_000, 0)
    assert not verdict.allowed
    assert verdict.reasons == ("New / probation creators can take deals worth up to $250; this one is worth $300.",)
    assert eligibility(record(2, 2), NOW, OPEN_GIG, 30_000, 0).allowed  # Bronze may


def test_gig_minimum_tier_and_reliability() -> None:
    bronze = record(2, 2)
    gig = GigRequirements(min_score=0.7, min_tier=Tier.SILVER)
    verdict = eligibility(bronze, NOW, gig, 10_000, 0)
    assert not verdict.allowed
    score = ranking_score(bronze.evidence, NOW)
    assert verdict.reasons == (
        "This gig is open to Silver creators and above; you are Bronze.",
        f"This gig needs a proven reliability of 70%; yours is {score:.0%}.",
    )
    assert eligibility(record(5, 3), NOW, gig, 10_000, 0).allowed


def test_suspended_creator_cannot_apply_and_is_told_why() -> None:
    suspended = record(20, 10, ghosted_days_ago=(10, 100))
    verdict = eligibility(suspended, NOW, OPEN_GIG, 10_000, 0)
    assert not verdict.allowed
    assert verdict.reasons[0].startswith("Applications are paused until an admin reviews the account")


def test_probation_is_explained_when_it_blocks_a_gig() -> None:
    recently_ghosted = record(30, 10, ghosted_days_ago=(30,))
    verdict = eligibility(recently_ghosted, NOW, GigRequirements(min_tier=Tier.BRONZE), 10_000, 0)
    assert not verdict.allowed
    assert "on probation until 2026-07-31" in verdict.reasons[0]


# -- next tier -------------------------------------------------------------------------------------------------------


def test_newcomer_is_told_what_bronze_needs() -> None:
    needs = next_tier_needs(TrackRecord(Evidence()), NOW)
    assert needs == [
        "Proven reliability of 50% for Bronze (now 0%), about 2 more on-time deliveries of a $100 deal.",
        "1 more completed deal (0 of 1).",
        "Deals with 1 more brand (0 of 1 different brands).",
    ]


def test_estimated_deliveries_really_reach_the_threshold() -> None:
    bronze = record(2, 2)
    assert tier_for(bronze, NOW) is Tier.BRONZE
    needs = next_tier_needs(bronze, NOW)
    match = re.search(r"about (\d+) more on-time", needs[0])
    assert match is not None
    k = int(match.group(1))
    deal = value_weight(10_000, 2)

    def score_after(extra: int) -> float:
        outcomes = [outcome_for(EventKind.CREATOR_ON_TIME, NOW, deal)] * extra
        return ranking_score(fold_outcomes(outcomes, start=bronze.evidence, at=NOW), NOW)

    assert score_after(k) >= RULES[Tier.SILVER].min_score > score_after(k - 1)


def test_only_missing_requirements_are_listed() -> None:
    # Silver-level score and brands, but only 4 completed deals of the 5 Silver needs.
    subject = TrackRecord(record(6, 3).evidence, completed_deals=4, distinct_counterparties=3)
    assert next_tier_needs(subject, NOW) == ["1 more completed deal (4 of 5)."]


def test_gold_needs_nothing_and_sanctions_are_listed() -> None:
    assert next_tier_needs(record(15, 8), NOW) == []
    needs = next_tier_needs(record(30, 10, ghosted_days_ago=(10, 30)), NOW)
    assert needs[0].startswith("An admin must review the account first")
    assert needs[1] == "No ghosting until 2026-08-20 (probation after a ghosting lasts 90 days)."


# -- one person behind several accounts (linked by delivery address) -------------------------------------------------


def linked(own: TrackRecord, *ghosted_days_ago: int) -> TrackRecord:
    return replace(own, linked_ghosted_at=tuple(NOW - d * DAY for d in ghosted_days_ago))


def test_a_fresh_account_at_a_ghosters_address_is_suspended_like_the_old_one() -> None:
    fresh = record()
    assert eligibility(fresh, NOW, OPEN_GIG, 10_000, 0).allowed
    whitewashed = linked(fresh, 10, 100)  # the old account's two ghostings
    assert is_suspended(whitewashed, NOW) and not is_suspended(fresh, NOW)
    verdict = eligibility(whitewashed, NOW, OPEN_GIG, 10_000, 0)
    assert not verdict.allowed
    assert "Deals shipped to your delivery address under another PostPact account were ghosted" in verdict.reasons[0]
    assert next_tier_needs(whitewashed, NOW)[0].startswith("An admin must review the account first.")


def test_a_linked_ghosting_puts_the_account_on_probation() -> None:
    proven = record(30, 10)
    assert tier_for(proven, NOW) is Tier.GOLD
    one_linked = linked(proven, 30)
    assert tier_for(one_linked, NOW) is Tier.NEW and not is_suspended(one_linked, NOW)
    assert on_ghost_probation_until(one_linked, NOW) == NOW + 60 * DAY
    verdict = eligibility(one_linked, NOW, GigRequirements(min_tier=Tier.BRONZE), 10_000, 0)
    assert not verdict.allowed
    assert "on probation until 2026-07-31: deals shipped to your delivery address" in verdict.reasons[0]


def test_own_and_linked_ghostings_add_up_to_a_suspension() -> None:
    once = record(ghosted_days_ago=(200,))
    assert not is_suspended(once, NOW)
    assert is_suspended(linked(once, 20), NOW)
    # The account's own second ghosting is explained as its own.
    verdict = eligibility(linked(record(ghosted_days_ago=(20, 200))), NOW, OPEN_GIG, 10_000, 0)
    assert "(two ghostings within 12 months)" in verdict.reasons[0]


def test_an_admins_clearance_of_the_account_forgives_linked_ghostings_up_to_then() -> None:
    housemate = linked(record(5, 3, review_cleared_days_ago=5), 10, 100)
    assert not is_suspended(housemate, NOW)
    assert eligibility(housemate, NOW, OPEN_GIG, 10_000, 0).allowed
    assert is_suspended(linked(record(5, 3, review_cleared_days_ago=5), 10, 100, 2), NOW) is False  # one since
    assert is_suspended(linked(record(5, 3, review_cleared_days_ago=5), 3, 2), NOW)  # two since the clearance
