"""The verdict rules of marketplace.verification.checks, on hand-built posts and fetch errors."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from marketplace.verification.adapters import content_fingerprint
from marketplace.verification.checks import (
    COMMON_DISCLOSURE_EQUIVALENTS,
    CheckResult,
    CheckStatus,
    DealRequirements,
    VerificationStatus,
    decide,
    find_hashtags,
    find_mentions,
    has_disclosure,
    has_hashtag,
    has_mention,
    normalise_handle,
    verify_post,
)
from marketplace.verification.outcomes import (
    FetchedPost,
    MalformedResponse,
    PostNotFound,
    PostNotPublic,
    ProviderAuthError,
    TransientFetchError,
)
from marketplace.verification.posts import Platform

SIGNED = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
FETCHED = datetime(2026, 3, 5, 9, 30, tzinfo=UTC)


def make_post(
    *,
    platform: Platform = Platform.TIKTOK,
    author: str | None = "glowwithmia",
    caption: str | None = "Morning routine with @brand #ad #glow",
    complete: bool = True,
    published_at: datetime | None = SIGNED + timedelta(days=2),
) -> FetchedPost:
    return FetchedPost(
        platform=platform,
        requested_url="https://www.tiktok.com/@glowwithmia/video/7559684939684400414",
        post_id="7559684939684400414",
        author_handle=author,
        author_name="Mia",
        author_url=None,
        caption=caption,
        caption_is_complete=complete,
        published_at=published_at,
        published_at_source="test" if published_at else None,
        engagement=None,
        raw_payload=b"{}",
        payload={},
        payload_sha256="0" * 64,
        content_sha256=content_fingerprint(platform, "7559684939684400414", author, caption),
        fetched_at=FETCHED,
    )


def make_requirements(**overrides: object) -> DealRequirements:
    values: dict[str, object] = {
        "creator_handle": "@GlowWithMia",
        "signed_at": SIGNED,
        "required_hashtags": ("#glow",),
        "required_mentions": ("@brand",),
    }
    values.update(overrides)
    return DealRequirements(**values)  # type: ignore[arg-type]


def statuses(result: object) -> dict[str, CheckStatus]:
    return {c.name: c.status for c in result.checks}  # type: ignore[attr-defined]


# --------------------------------------------------------------------------------------------------------------------
# Text matching


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Loving this #ad", True),
        ("#AD loving this", True),
        ("(#ad)", True),
        ("so good.#ad", True),
        ("great #ad, really", True),
        ("＃ａｄ full-width", True),  # noqa: RUF001 - the point is the look-alike characters
        ("#adventure time", False),
        ("#ad_hoc", False),
        ("#ad2", False),
        ("brand#ad", False),
        ("ad without hash", False),
        ("#a d", False),
    ],
)
def test_disclosure_is_matched_as_a_whole_hashtag(text: str, expected: bool) -> None:
    assert has_disclosure(text, "#ad") is expected


def test_phrase_disclosure_needs_word_boundaries() -> None:
    assert has_disclosure("Paid partnership with @brand", "Paid partnership")
    assert not has_disclosure("Unpaid partnerships are fun", "paid partnership")


def test_hashtags_and_mentions_are_extracted_whole_and_folded() -> None:
    text = "Thanks @Brand.Official. and @other_one! #Glow #glow_up email me@example.com"
    assert find_hashtags(text) == {"glow", "glow_up"}
    assert find_mentions(text) == {"brand.official", "other_one"}
    assert has_hashtag(text, "GLOW")
    assert not has_hashtag(text, "#glo")
    assert has_mention(text, "brand.official")
    assert not has_mention(text, "@example.com")


def test_handles_compare_without_at_and_case() -> None:
    assert normalise_handle(" @GlowWithMia ") == normalise_handle("glowwithmia")


# --------------------------------------------------------------------------------------------------------------------
# Verdicts on fetched posts


def test_a_post_meeting_every_requirement_is_verified() -> None:
    result = verify_post(make_post(), make_requirements())
    assert result.status is VerificationStatus.VERIFIED
    assert statuses(result) == {
        "post_exists": CheckStatus.PASSED,
        "is_public": CheckStatus.PASSED,
        "author_matches": CheckStatus.PASSED,
        "disclosure_present": CheckStatus.PASSED,
        "hashtags_present:#glow": CheckStatus.PASSED,
        "mentions_present:@brand": CheckStatus.PASSED,
        "published_after_signing": CheckStatus.PASSED,
    }


def test_every_failed_check_is_named() -> None:
    post = make_post(author="someone_else", caption="Morning routine", published_at=SIGNED - timedelta(days=30))
    result = verify_post(post, make_requirements())
    assert result.status is VerificationStatus.FAILED
    assert {c.name for c in result.failed_checks} == {
        "author_matches",
        "disclosure_present",
        "hashtags_present:#glow",
        "mentions_present:@brand",
        "published_after_signing",
    }
    assert "@someone_else" in result.check("author_matches").message  # type: ignore[union-attr]
    # Summaries are for people: checks in words, never their stored names.
    assert result.summary.startswith("Failed: not met — posted from the creator's linked account, disclosure")
    assert "hashtag #glow in the caption" in result.summary and "_present" not in result.summary


def test_missing_disclosure_fails_even_with_adventure_hashtag() -> None:
    result = verify_post(make_post(caption="#adventure with @brand #glow"), make_requirements())
    assert result.status is VerificationStatus.FAILED
    assert [c.name for c in result.failed_checks] == ["disclosure_present"]


def test_equivalent_disclosures_count_only_when_the_deal_accepts_them() -> None:
    post = make_post(caption="With @brand #sponsored #glow")
    assert verify_post(post, make_requirements()).status is VerificationStatus.FAILED
    lenient = make_requirements(accepted_disclosures=COMMON_DISCLOSURE_EQUIVALENTS)
    assert verify_post(post, lenient).status is VerificationStatus.VERIFIED


def test_unknown_author_needs_review() -> None:
    result = verify_post(make_post(author=None), make_requirements())
    assert result.status is VerificationStatus.NEEDS_REVIEW
    assert result.check("author_matches").status is CheckStatus.UNKNOWN  # type: ignore[union-attr]
    assert "posted from the creator's linked account" in result.summary


def test_missing_caption_needs_review_rather_than_failing() -> None:
    result = verify_post(make_post(caption=None), make_requirements())
    assert result.status is VerificationStatus.NEEDS_REVIEW
    assert result.check("disclosure_present").status is CheckStatus.UNKNOWN  # type: ignore[union-attr]


def test_youtube_title_without_tags_is_unknown_not_failed() -> None:
    post = make_post(platform=Platform.YOUTUBE, caption="My morning routine", complete=False, published_at=None)
    result = verify_post(post, make_requirements())
    assert result.status is VerificationStatus.NEEDS_REVIEW
    assert result.check("disclosure_present").status is CheckStatus.UNKNOWN  # type: ignore[union-attr]
    assert not result.failed_checks


def test_youtube_without_publish_time_can_still_be_verified() -> None:
    post = make_post(platform=Platform.YOUTUBE, caption="Routine #ad #glow @brand", complete=False, published_at=None)
    result = verify_post(post, make_requirements())
    assert result.status is VerificationStatus.VERIFIED
    check = result.check("published_after_signing")
    assert check is not None and check.status is CheckStatus.UNKNOWN and not check.required


def test_deals_can_insist_on_a_publication_time() -> None:
    post = make_post(platform=Platform.YOUTUBE, caption="Routine #ad #glow @brand", complete=False, published_at=None)
    result = verify_post(post, make_requirements(require_publication_time=True))
    assert result.status is VerificationStatus.NEEDS_REVIEW


def test_publication_just_before_signing_is_too_close_to_call() -> None:
    close = verify_post(make_post(published_at=SIGNED - timedelta(seconds=40)), make_requirements())
    assert close.status is VerificationStatus.NEEDS_REVIEW
    early = verify_post(make_post(published_at=SIGNED - timedelta(minutes=10)), make_requirements())
    assert early.status is VerificationStatus.FAILED


def test_post_on_the_wrong_platform_fails() -> None:
    result = verify_post(make_post(), make_requirements(platform=Platform.INSTAGRAM))
    assert result.status is VerificationStatus.FAILED
    assert [c.name for c in result.failed_checks] == ["platform_matches"]


def test_requirements_reject_naive_signing_time_and_empty_handle() -> None:
    with pytest.raises(ValueError, match="timezone"):
        DealRequirements(creator_handle="mia", signed_at=datetime(2026, 1, 1))
    with pytest.raises(ValueError, match="handle"):
        DealRequirements(creator_handle=" @ ", signed_at=SIGNED)


# --------------------------------------------------------------------------------------------------------------------
# Verdicts on fetch errors


def _error(cls: type, **extra: object) -> object:
    return cls(
        platform=Platform.TIKTOK,
        requested_url="https://www.tiktok.com/@glowwithmia/video/7559684939684400414",
        reason="test reason",
        status_code=None,
        fetched_at=FETCHED,
        **extra,
    )


def test_deleted_post_fails_on_existence() -> None:
    result = verify_post(_error(PostNotFound), make_requirements())  # type: ignore[arg-type]
    assert result.status is VerificationStatus.FAILED
    assert [c.name for c in result.failed_checks] == ["post_exists"]
    assert result.outcome_kind == "not_found"


def test_private_post_fails_on_publicity() -> None:
    result = verify_post(_error(PostNotPublic), make_requirements())  # type: ignore[arg-type]
    assert result.status is VerificationStatus.FAILED
    assert [c.name for c in result.failed_checks] == ["is_public"]


@pytest.mark.parametrize(
    ("cls", "extra"),
    [(TransientFetchError, {"retry_after": 30.0}), (MalformedResponse, {}), (ProviderAuthError, {})],
)
def test_inconclusive_fetches_need_review_and_name_every_check(cls: type, extra: dict[str, object]) -> None:
    result = verify_post(_error(cls, **extra), make_requirements())  # type: ignore[arg-type]
    assert result.status is VerificationStatus.NEEDS_REVIEW
    assert not result.failed_checks
    assert {c.name for c in result.unknown_checks} >= {
        "post_exists",
        "author_matches",
        "disclosure_present",
        "hashtags_present:#glow",
        "mentions_present:@brand",
        "published_after_signing",
    }
    assert "test reason" in result.summary


def test_result_serialises_for_storage() -> None:
    data = verify_post(make_post(caption="no tags"), make_requirements()).to_dict()
    assert data["status"] == "failed"
    assert {"name": "disclosure_present", "status": "failed"}.items() <= data["checks"][3].items()


# --------------------------------------------------------------------------------------------------------------------
# Properties

_word_char = st.characters(categories=("Ll", "Lu", "Nd"), max_codepoint=0x24F) | st.just("_")
_separator = st.sampled_from([" ", "\n", ",", ".", "!", "(", ")", ":", "🙂"])


@given(
    prefix=st.text(alphabet=st.characters(exclude_characters="#"), max_size=30), suffix=st.text(_word_char, min_size=1)
)
def test_disclosure_never_matches_a_longer_hashtag(prefix: str, suffix: str) -> None:
    assert not has_disclosure(f"{prefix} #ad{suffix}", "#ad")


@given(
    before=st.text(alphabet=st.characters(exclude_characters="#"), max_size=30),
    sep_before=_separator,
    sep_after=_separator,
    after=st.text(max_size=30),
    spelling=st.sampled_from(["#ad", "#AD", "#Ad", "#aD"]),
)
def test_disclosure_is_found_between_any_separators(
    before: str, sep_before: str, sep_after: str, after: str, spelling: str
) -> None:
    assert has_disclosure(f"{before}{sep_before}{spelling}{sep_after}{after}", "#ad")


@given(handle=st.from_regex(r"[a-z0-9_.]{1,20}", fullmatch=True), upper=st.booleans(), at=st.booleans())
def test_author_match_ignores_case_and_at_sign(handle: str, upper: bool, at: bool) -> None:
    linked = ("@" if at else "") + (handle.upper() if upper else handle)
    result = verify_post(make_post(author=handle), make_requirements(creator_handle=linked))
    assert result.check("author_matches").status is CheckStatus.PASSED  # type: ignore[union-attr]


_tags = st.sampled_from(["#ad", "#adventure", "#glow", "#glowup", "@brand", "@brandx", "#sponsored", "hello"])


@given(
    words=st.lists(_tags, max_size=8),
    author=st.sampled_from(["glowwithmia", "GlowWithMia", "someone", None]),
    complete=st.booleans(),
    caption_missing=st.booleans(),
    published_offset_minutes=st.one_of(st.none(), st.integers(min_value=-600, max_value=600)),
    platform=st.sampled_from(list(Platform)),
    require_time=st.booleans(),
)
def test_status_follows_the_documented_rule(
    words: list[str],
    author: str | None,
    complete: bool,
    caption_missing: bool,
    published_offset_minutes: int | None,
    platform: Platform,
    require_time: bool,
) -> None:
    post = make_post(
        platform=platform,
        author=author,
        caption=None if caption_missing else " ".join(words),
        complete=complete,
        published_at=None if published_offset_minutes is None else SIGNED + timedelta(minutes=published_offset_minutes),
    )
    result = verify_post(post, make_requirements(require_publication_time=require_time))
    any_failed = any(c.status is CheckStatus.FAILED for c in result.checks)
    assert (result.status is VerificationStatus.FAILED) == any_failed
    if result.status is VerificationStatus.VERIFIED:
        assert all(c.status is CheckStatus.PASSED or not c.required for c in result.checks)
        assert "#ad" in (post.caption or "").split()
    if result.status is VerificationStatus.NEEDS_REVIEW:
        assert any(c.status is CheckStatus.UNKNOWN and c.required for c in result.checks)


@given(
    st.lists(
        st.builds(
            CheckResult,
            name=st.sampled_from(["a", "b", "c"]),
            status=st.sampled_from(list(CheckStatus)),
            message=st.just("m"),
            required=st.booleans(),
        ),
        max_size=6,
    )
)
def test_decide_fails_whenever_any_check_failed(checks: list[CheckResult]) -> None:
    status = decide(checks)
    assert (status is VerificationStatus.FAILED) == any(c.status is CheckStatus.FAILED for c in checks)


def test_fingerprint_ignores_payload_but_not_caption() -> None:
    post = make_post()
    edited = replace(post, caption="edited")
    assert content_fingerprint(post.platform, post.post_id, post.author_handle, post.caption) == post.content_sha256
    assert content_fingerprint(edited.platform, edited.post_id, edited.author_handle, "edited") != post.content_sha256
