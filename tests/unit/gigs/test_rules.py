"""Gig rules without a database: what a valid gig is, and eligibility with its reasons."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from marketplace.errors import InvalidInput
from marketplace.gigs.rules import CreatorFacts, GigRequirements, check_eligibility, check_gig

NOW = datetime(2026, 11, 21, 12, 0, tzinfo=UTC)


def raw(**overrides):
    values = {
        "title": "  Unboxing   video ",
        "brief": "Line one\nLine two",
        "currency": "usd",
        "base_fee_amount": 15_000,
        "product_name": "Serum",
        "product_retail_value": 4_500,
        "apply_by": NOW + timedelta(days=7),
        "deliverables": [{"platform": "TikTok", "kind": "video", "count": 2, "required_hashtags": ["GlowLab", "#ad"],
                          "required_mentions": ["glowlab"]}],
        "niches": ["Skincare", "skincare"],
        "eligible_countries": ["us", "CA"],
        "min_tier": "silver",
    }
    values.update(overrides)
    return values


def errors_of(**overrides) -> dict[str, str]:
    with pytest.raises(InvalidInput) as caught:
        check_gig(raw(**overrides), now=NOW)
    return caught.value.errors


def test_a_valid_gig_is_normalised() -> None:
    gig = check_gig(raw(), now=NOW)
    assert gig.title == "Unboxing video" and gig.brief == "Line one\nLine two" and gig.currency == "USD"
    assert gig.deliverables[0].required_hashtags == ("#GlowLab", "#ad")
    assert gig.deliverables[0].required_mentions == ("@glowlab",)
    assert gig.deliverables[0].disclosure_required and gig.deliverables[0].disclosure_text == "#ad"
    assert gig.niches == ("skincare",) and gig.eligible_countries == ("US", "CA") and gig.min_tier == "SILVER"
    assert gig.reminder_offsets_hours == (-72, -24, 24, 72) and gig.slots == 1


@pytest.mark.parametrize(
    ("overrides", "field", "message"),
    [
        ({"base_fee_amount": None}, "base_fee.amount", "Base fee is required."),
        ({"base_fee_amount": -1}, "base_fee.amount", "Base fee can't be negative."),
        ({"base_fee_amount": 10**12}, "base_fee.amount", "Base fee must be at most 99,999,999."),
        ({"base_fee_amount": "100"}, "base_fee.amount", "Base fee must be a whole number."),
        ({"currency": "BTC"}, "base_fee.currency", "Currency must be one of"),
        ({"apply_by": NOW - timedelta(minutes=1)}, "apply_by", "Apply-by must be in the future."),
        ({"apply_by": NOW + timedelta(days=400)}, "apply_by", "within 366 days"),
        ({"apply_by": datetime(2027, 1, 1)}, "apply_by", "needs a time zone"),
        ({"brief": "x" * 10 * 1024 * 1024}, "brief", "Brief must be at most 20,000 characters."),
        ({"title": ""}, "title", "Title is required."),
        ({"title": "a\x00b"}, "title", "contains a NUL character"),
        ({"brief": "\ud800"}, "brief", "not valid text"),
        ({"product_image_url": "www.example.com/x.png"}, "product_image_url", "full web address"),
        ({"product_included": True, "product_name": ""}, "product_name", "Product name is required."),
        ({"deliverables": []}, "deliverables", "at least one deliverable"),
        ({"deliverables": [{"platform": "vine", "kind": "video"}]}, "deliverables[0].platform", "Platform must be"),
        ({"deliverables": [{"platform": "tiktok", "kind": "video", "count": 0}]}, "deliverables[0].count",
         "Count must be at least 1."),
        ({"deliverables": [{"platform": "tiktok", "kind": "video", "required_hashtags": ["two words"]}]},
         "deliverables[0].required_hashtags", "not a valid hashtag"),
        ({"min_followers": 10, "max_followers": 5}, "max_followers", "at least the minimum"),
        ({"eligible_countries": ["USA"]}, "eligible_countries", "two-letter country code"),
        ({"niches": ["Home Fitness!"]}, "niches", "not a valid niche"),
        ({"min_reliability": 1.5}, "min_reliability", "from 0 to 1"),
        ({"min_tier": "platinum"}, "min_tier", "Minimum tier must be one of"),
        ({"reminder_offsets_hours": [0]}, "reminder_offsets_hours", "non-zero"),
        ({"slots": 0}, "slots", "Slots must be at least 1."),
        ({"commission_bps": 10_001}, "commission_bps", "a percentage from 0 to 100"),
    ],
)
def test_each_rule_names_its_field(overrides, field, message) -> None:
    errors = errors_of(**overrides)
    assert field in errors, errors
    assert message in errors[field]


def test_slots_cannot_drop_below_accepted() -> None:
    with pytest.raises(InvalidInput) as caught:
        check_gig(raw(slots=2), now=NOW, min_slots=3)
    assert "3 application(s) are already accepted" in caught.value.errors["slots"]


def facts(**overrides) -> CreatorFacts:
    values = {"country": "US", "niches": frozenset({"skincare"}), "accounts": (("tiktok", 12_000),)}
    values.update(overrides)
    return CreatorFacts(**values)


def test_eligibility_reasons() -> None:
    gig = GigRequirements(platforms=("tiktok",), min_followers=1_000, max_followers=50_000, countries=("US",),
                          niches=("skincare",))
    assert check_eligibility(facts(), gig).eligible
    assert check_eligibility(facts(accounts=(("instagram", 9_000),)), gig).reasons == (
        "This gig is for TikTok; add your TikTok account to your profile.",)
    assert "at least 1,000 followers" in check_eligibility(facts(accounts=(("tiktok", 500),)), gig).reason
    assert "up to 50,000 followers" in check_eligibility(facts(accounts=(("tiktok", 90_000),)), gig).reason
    assert "Add your country" in check_eligibility(facts(country=None), gig).reason
    assert check_eligibility(facts(niches=frozenset({"gaming"})), gig).reasons == (
        "This gig is for creators in skincare; add a matching niche if it fits you.",)
    several = check_eligibility(facts(country="DE", niches=frozenset()), gig)
    assert not several.eligible and len(several.reasons) == 2


def test_reputation_bars_treat_unknown_creators_as_newcomers() -> None:
    gig = GigRequirements(platforms=("tiktok",), min_reliability=0.7, min_tier="SILVER")
    unknown = check_eligibility(facts(), gig)
    assert unknown.reasons == (
        "This gig is open to Silver creators and above; you are New / probation.",
        "This gig needs a proven reliability of 70%; yours is 0%.",
    )
    assert check_eligibility(facts(reliability=0.8, tier="GOLD"), gig).eligible
