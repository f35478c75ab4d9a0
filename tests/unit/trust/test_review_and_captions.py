"""Pure rules of the trust work: the "check" stage of a post that needs review (owner, due time, the automatic
acceptance and what stops it) and a draft caption's gaps against the terms. No database, no clock."""

from __future__ import annotations

from typing import Any

from marketplace.collaborations.due_dates import recompute_due_dates
from marketplace.collaborations.models import Collaboration
from marketplace.collaborations.states import CollabState
from marketplace.collaborations.terms import DeliverableTerms, Terms
from marketplace.deadlines.rules import (
    Consequence,
    auto_accept_at,
    earliest_check_at,
    follow_up,
    reminder_schedule,
)
from marketplace.verification.checks import check_label, checks_in_words
from marketplace.verification.drafts import caption_gaps, gaps_in_words
from tests.unit.deadlines.test_rules import T0, D, H, deal


def posted(**fields: Any) -> Collaboration:
    return deal(CollabState.POSTED, funded_at=T0 - 8 * D, shipped_at=T0 - 6 * D, received_at=T0 - 5 * D,
                draft_submitted_at=T0 - 4 * D, draft_approved_at=T0 - 3 * D, posted_at=T0, **fields)


def test_a_post_waiting_for_its_check_is_nobodys_step_until_the_check_asks_the_brand() -> None:
    c = posted()
    assert c.next_due_stage is None and auto_accept_at(c) is None
    asked = posted(post_review_requested_at=T0 + 2 * H, review_window_hours=72)
    assert (asked.next_due_stage, asked.next_due_party) == ("check", "brand")
    assert asked.due("check") == T0 + 2 * H + 72 * H
    assert auto_accept_at(asked) == T0 + 74 * H


def test_reminders_come_before_the_check_is_due_never_after() -> None:
    c = posted(post_review_requested_at=T0, review_window_hours=96)
    assert [r.offset_hours for r in reminder_schedule(c)] == [-72, -24]


def test_the_review_window_passing_accepts_the_post_and_a_dispute_or_new_post_stops_it() -> None:
    c = posted(post_review_requested_at=T0, review_window_hours=72)
    assert earliest_check_at(c) is not None
    assert Consequence.AUTO_ACCEPT not in follow_up(c, T0 + 71 * H).consequences
    assert Consequence.AUTO_ACCEPT in follow_up(c, T0 + 72 * H).consequences
    paused = posted(post_review_requested_at=T0, deadlines_paused_at=T0 + H)
    assert auto_accept_at(paused) is None
    c.post_review_requested_at = None  # what a newly submitted post does
    recompute_due_dates(c, T0 + 80 * H)
    assert auto_accept_at(c) is None and c.next_due_stage is None


def test_verified_deals_keep_their_own_approve_stage() -> None:
    c = deal(CollabState.VERIFIED, verified_at=T0, posted_at=T0 - H, post_review_requested_at=T0 - 10 * H)
    assert c.next_due_stage == "approve" and auto_accept_at(c) is None


def test_checks_read_in_words() -> None:
    assert check_label("hashtags_present:#glowlab") == "Hashtag #glowlab in the caption"
    assert check_label("mentions_present:@glowlab") == "Mention of @glowlab in the caption"
    assert check_label("author_matches") == "Posted from the creator's linked account"
    assert checks_in_words(["post_exists", "hashtags_present:#x"]) == "the post exists, hashtag #x in the caption"


def _terms(*deliverables: DeliverableTerms) -> Terms:
    return Terms(gig_id="g", gig_title="t", brief="b", brand_name="GlowLab", creator_display_name="Ava",
                 currency="USD", fee_amount=100, commission_bps=None, product_included=False, product_name="",
                 product_retail_value=0, deliverables=deliverables, platform="tiktok", handle="ava",
                 revision_rounds=1)


def test_caption_gaps_name_the_disclosure_hashtags_and_mentions_missing() -> None:
    terms = _terms(DeliverableTerms("tiktok", "video", 1, ("#glowlab", "spf"), ("@glowlab",)))
    gaps = caption_gaps(terms, "Loving it #adventure #glowlabs @glowlab_fan")
    assert [g.text for g in gaps] == ["#ad", "#glowlab", "#spf", "@glowlab"]
    assert gaps_in_words(gaps[:2]) == "the disclosure #ad and the hashtag #glowlab"
    assert caption_gaps(terms, "Morning \uff03ad #GlowLab #SPF with @GlowLab.") == []  # full-width # folds


def test_only_the_deals_platform_counts_and_a_phrase_disclosure_matches_as_a_phrase() -> None:
    terms = _terms(DeliverableTerms("tiktok", "video", 1, disclosure_text="Paid partnership"),
                   DeliverableTerms("youtube", "video", 1, ("#yt",)))
    assert caption_gaps(terms, "A paid partnership with GlowLab") == []
    assert [g.kind for g in caption_gaps(terms, "Paid partnerships are great")] == ["disclosure"]
    off = _terms(DeliverableTerms("tiktok", "video", 1, disclosure_required=False))
    assert caption_gaps(off, "nothing here") == []

