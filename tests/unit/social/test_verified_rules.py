"""Pure rules for verified numbers: a gig's verified-audience bar judges connected accounts only, and the stored
ranking gives a newcomer with a verified audience the prior of ``ranking_evidence`` (order only, never the proven
score or the tier)."""

from __future__ import annotations

from datetime import UTC, datetime

from marketplace.gigs.rules import CreatorFacts, GigRequirements, check_eligibility
from reputation.scoring import Evidence, ranking_key
from reputation.services import rank_order, ranking_values
from reputation.tiers import TrackRecord, ranking_evidence

NOW = datetime(2026, 12, 1, tzinfo=UTC)
BAR = GigRequirements(platforms=("tiktok",), min_followers=10_000, verified_audience=True)


def facts(typed: int = 50_000, verified: tuple[tuple[str, int], ...] = ()) -> CreatorFacts:
    return CreatorFacts(country="US", niches=frozenset(), accounts=(("tiktok", typed),), verified_accounts=verified)


def test_typed_followers_never_meet_a_verified_bar() -> None:
    judged = check_eligibility(facts(), BAR)
    assert not judged.eligible
    # (The platform's name is spelled by the gig rules; compared without case.)
    assert [r.lower() for r in judged.reasons] == [
        "this gig needs a verified audience: connect your tiktok account (connected accounts) so your numbers come "
        "from tiktok itself."]
    # Without the bar the same typed numbers qualify.
    assert check_eligibility(facts(), GigRequirements(platforms=("tiktok",), min_followers=10_000)).eligible


def test_the_verified_numbers_are_the_ones_compared() -> None:
    short = check_eligibility(facts(verified=(("tiktok", 8_000),)), BAR)
    assert short.reasons == ("This gig needs at least 10,000 verified followers; your largest matching connected "
                             "account has 8,000.",)
    assert check_eligibility(facts(typed=100, verified=(("tiktok", 12_000),)), BAR).eligible
    other_platform = check_eligibility(facts(verified=(("instagram", 90_000),)), BAR)
    assert "connect your tiktok account" in other_platform.reason.lower()
    anywhere = GigRequirements(platforms=(), verified_audience=True)
    assert "connect one of your accounts" in check_eligibility(facts(), anywhere).reason
    assert check_eligibility(facts(verified=(("youtube", 10),)), anywhere).eligible


def test_stored_ranking_uses_the_prior_for_a_newcomer_only() -> None:
    blank = ranking_values(TrackRecord(Evidence()), NOW)
    verified = ranking_values(TrackRecord(Evidence()), NOW, verified_audience=True)
    prior = ranking_evidence(Evidence(), verified_audience=True)
    assert verified["rank_order"] == rank_order(*ranking_key(prior, NOW)) > blank["rank_order"]
    assert verified["ranking_score"] == blank["ranking_score"] == 0.0
    assert verified["tier"] == blank["tier"] == "NEW"
    record = TrackRecord(Evidence(1.8, 0.2, NOW), completed_deals=1, distinct_counterparties=1)
    assert ranking_values(record, NOW, verified_audience=True) == ranking_values(record, NOW)
