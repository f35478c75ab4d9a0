"""Judge a fetched post against a deal's requirements: pure functions, no I/O, no clock.

Every verdict lists named checks, each ``passed``, ``failed`` or ``unknown`` with a message for people, and is:

- ``failed`` when any check failed: the post is gone or hidden, someone else posted it, the disclosure, a hashtag or
  a mention is missing from a caption we could read in full, or it was published before the deal was signed.
  Every failed check is named.
- ``needs_review`` when nothing failed but a *required* check is unknown. The fetch being inconclusive (transient
  error after the worker's retries, an answer we couldn't read, our own credentials refused) makes every check
  unknown and required. So does a platform not telling us who posted (author identity always matters: without it
  anyone could submit anyone's post), not returning the caption, or returning only part of it while a required tag
  is not in that part (YouTube's oEmbed gives the title, never the description), or a publication time within
  ``publication_time_tolerance`` before signing (ids are issued at upload, seconds before the post goes live).
- ``verified`` otherwise.

The one unknown that is *not* required by default is the publication time a platform does not expose at all
(YouTube without the Data API): otherwise every YouTube deal would wait for a person. A creator could in principle
submit an older video that happens to carry the deal's disclosure, hashtags and mentions; deals that can't accept
that risk set ``require_publication_time=True`` and such posts go to review instead.

Text rules: captions and requirements are compared after Unicode NFKC folding and case folding. A hashtag matches
only as a whole hashtag (``#ad`` is not in ``#adventure``, ``#ad_hoc`` or ``#ad2``); a mention only as a whole
handle. The disclosure is strict: the deal's own text only, unless the deal lists accepted equivalents (see
``COMMON_DISCLOSURE_EQUIVALENTS``). A disclosure that is not a hashtag (``Paid partnership``) matches as a phrase
bounded by non-word characters. Handles compare case-insensitively without a leading ``@``.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from marketplace.verification.outcomes import FetchedPost, FetchError, FetchOutcome, PostNotFound, PostNotPublic
from marketplace.verification.posts import Platform

#: Disclosures a deal may choose to accept besides its own; never applied unless the deal lists them.
COMMON_DISCLOSURE_EQUIVALENTS: tuple[str, ...] = (
    "#ad",
    "#advert",
    "#advertisement",
    "#sponsored",
    "#paidpartnership",
    "#werbung",
    "#anzeige",
)


class CheckStatus(StrEnum):
    PASSED = "passed"
    FAILED = "failed"
    UNKNOWN = "unknown"


class VerificationStatus(StrEnum):
    VERIFIED = "verified"
    FAILED = "failed"
    NEEDS_REVIEW = "needs_review"


@dataclass(frozen=True)
class CheckResult:
    name: str
    status: CheckStatus
    message: str
    #: Whether this check must pass for automatic verification; an unknown required check means needs_review.
    required: bool = True


@dataclass(frozen=True)
class DealRequirements:
    #: The creator's linked handle on this platform, with or without a leading "@".
    creator_handle: str
    #: When the deal was signed (aware datetime); the post must come after it.
    signed_at: datetime
    #: The platform the deal is for; None accepts any.
    platform: Platform | None = None
    disclosure: str = "#ad"
    accepted_disclosures: tuple[str, ...] = ()
    required_hashtags: tuple[str, ...] = ()
    required_mentions: tuple[str, ...] = ()
    require_publication_time: bool = False
    publication_time_tolerance: timedelta = timedelta(minutes=2)

    def __post_init__(self) -> None:
        if self.signed_at.tzinfo is None:
            raise ValueError("signed_at must be timezone-aware")
        if not normalise_handle(self.creator_handle):
            raise ValueError("creator_handle is empty")
        if not self.disclosure.strip():
            raise ValueError("disclosure is empty; a deal always requires one")


@dataclass(frozen=True)
class VerificationResult:
    status: VerificationStatus
    checks: tuple[CheckResult, ...]
    summary: str
    outcome_kind: str = field(default="post")

    @property
    def failed_checks(self) -> tuple[CheckResult, ...]:
        return tuple(c for c in self.checks if c.status is CheckStatus.FAILED)

    @property
    def unknown_checks(self) -> tuple[CheckResult, ...]:
        return tuple(c for c in self.checks if c.status is CheckStatus.UNKNOWN)

    def check(self, name: str) -> CheckResult | None:
        return next((c for c in self.checks if c.name == name), None)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready, for storing beside the evidence snapshot."""
        return {
            "status": self.status.value,
            "summary": self.summary,
            "outcome_kind": self.outcome_kind,
            "checks": [
                {"name": c.name, "status": c.status.value, "message": c.message, "required": c.required}
                for c in self.checks
            ],
        }


# --------------------------------------------------------------------------------------------------------------------
# Words for people: checks are stored by name (``hashtags_present:#glowlab``); pages, emails and summaries say what
# was checked.

_CHECK_LABELS: dict[str, str] = {
    "platform_matches": "Posted on the platform the deal is for",
    "post_exists": "The post exists",
    "is_public": "The post is public",
    "author_matches": "Posted from the creator's linked account",
    "disclosure_present": "Disclosure in the caption",
    "published_after_signing": "Published after the deal was signed",
    "post_link_valid": "The link is a post on a supported platform",
}
_STATUS_WORDS = {"passed": "Passed", "failed": "Failed", "unknown": "Couldn't be checked"}


def check_label(name: str) -> str:
    """``hashtags_present:#glowlab`` → "Hashtag #glowlab in the caption"; unknown names are shown as they are."""
    kind, _, subject = name.partition(":")
    if kind == "hashtags_present" and subject:
        return f"Hashtag {subject} in the caption"
    if kind == "mentions_present" and subject:
        return f"Mention of {subject} in the caption"
    return _CHECK_LABELS.get(name, name.replace("_", " "))


def check_status_words(status: str) -> str:
    return _STATUS_WORDS.get(status, status)


def checks_in_words(names: Iterable[str]) -> str:
    """A short list for titles and summaries: "hashtag #glowlab in the caption, the post is public"."""
    labels = [check_label(n) for n in names]
    return ", ".join(label[0].lower() + label[1:] if label[:3] != "The" else "the" + label[3:] for label in labels)


# --------------------------------------------------------------------------------------------------------------------
# Text


def _fold(text: str) -> str:
    # NFKC turns full-width "#ad" (U+FF03 U+FF41 U+FF44) into ASCII so look-alike characters can't dodge a match.
    return unicodedata.normalize("NFKC", text).casefold()


_HASHTAG = re.compile(r"(?<!\w)#(\w+)")
_MENTION = re.compile(r"(?<![\w@])@([\w.\-]+)")


def normalise_handle(handle: str) -> str:
    return _fold(handle.strip()).lstrip("@")


def _normalise_tag(tag: str) -> str:
    return _fold(tag.strip()).lstrip("#")


def find_hashtags(text: str) -> set[str]:
    """Whole hashtags in the text, folded, without the '#'."""
    return {match.group(1) for match in _HASHTAG.finditer(_fold(text))}


def find_mentions(text: str) -> set[str]:
    """Whole @mentions in the text, folded, without the '@' (a sentence's closing dot is not part of a handle)."""
    return {handle for match in _MENTION.finditer(_fold(text)) if (handle := match.group(1).rstrip(".-"))}


def has_hashtag(text: str, tag: str) -> bool:
    return _normalise_tag(tag) in find_hashtags(text)


def has_mention(text: str, handle: str) -> bool:
    return normalise_handle(handle) in find_mentions(text)


def has_disclosure(text: str, disclosure: str) -> bool:
    """A hashtag disclosure matches as a whole hashtag; any other wording as a phrase between non-word characters."""
    if disclosure.strip().startswith("#"):
        return has_hashtag(text, disclosure)
    phrase = re.escape(_fold(disclosure.strip()))
    return re.search(rf"(?<!\w){phrase}(?!\w)", _fold(text)) is not None


# --------------------------------------------------------------------------------------------------------------------
# Checks on a fetched post


def _display_tag(tag: str) -> str:
    return "#" + tag.strip().lstrip("#")


def _display_handle(handle: str) -> str:
    return "@" + handle.strip().lstrip("@")


def _author_check(post: FetchedPost, req: DealRequirements) -> CheckResult:
    expected = _display_handle(req.creator_handle)
    if post.author_handle is None:
        return CheckResult(
            "author_matches",
            CheckStatus.UNKNOWN,
            f"{post.platform.label} did not say which account posted this; a person must confirm it is {expected}.",
        )
    if normalise_handle(post.author_handle) == normalise_handle(req.creator_handle):
        return CheckResult("author_matches", CheckStatus.PASSED, f"Posted by {expected}.")
    return CheckResult(
        "author_matches",
        CheckStatus.FAILED,
        f"Posted by {_display_handle(post.author_handle)}, not by the creator's linked account {expected}.",
    )


def _text_check(post: FetchedPost, name: str, what: str, found: bool | None) -> CheckResult:
    """found is None when there is no caption to look in."""
    label = post.platform.label
    if found is None:
        return CheckResult(name, CheckStatus.UNKNOWN, f"{label} returned no caption, so {what} could not be checked.")
    if found:
        return CheckResult(name, CheckStatus.PASSED, f"{what[0].upper()}{what[1:]} is in the caption.")
    if post.caption_is_complete:
        return CheckResult(name, CheckStatus.FAILED, f"{what[0].upper()}{what[1:]} is missing from the caption.")
    return CheckResult(
        name,
        CheckStatus.UNKNOWN,
        f"{what[0].upper()}{what[1:]} is not in the part {label} shows us (the title); "
        "the rest of the text can't be read automatically.",
    )


def _disclosure_check(post: FetchedPost, req: DealRequirements) -> CheckResult:
    accepted = list(dict.fromkeys([req.disclosure, *req.accepted_disclosures]))
    what = accepted[0] if len(accepted) == 1 else f"a disclosure ({', '.join(accepted)})"
    found = None if post.caption is None else any(has_disclosure(post.caption, term) for term in accepted)
    return _text_check(post, "disclosure_present", what, found)


def _hashtag_checks(post: FetchedPost, tags: Iterable[str]) -> list[CheckResult]:
    checks = []
    for tag in dict.fromkeys(_display_tag(t) for t in tags if t.strip().lstrip("#")):
        found = None if post.caption is None else has_hashtag(post.caption, tag)
        checks.append(_text_check(post, f"hashtags_present:{tag}", tag, found))
    return checks


def _mention_checks(post: FetchedPost, handles: Iterable[str]) -> list[CheckResult]:
    checks = []
    for handle in dict.fromkeys(_display_handle(h) for h in handles if h.strip().lstrip("@")):
        found = None if post.caption is None else has_mention(post.caption, handle)
        checks.append(_text_check(post, f"mentions_present:{handle}", handle, found))
    return checks


def _publication_check(post: FetchedPost, req: DealRequirements) -> CheckResult:
    name = "published_after_signing"
    signed = req.signed_at
    if post.published_at is None:
        return CheckResult(
            name,
            CheckStatus.UNKNOWN,
            f"{post.platform.label} does not expose when this was published.",
            required=req.require_publication_time,
        )
    published = post.published_at
    if published >= signed:
        return CheckResult(name, CheckStatus.PASSED, f"Published {published:%Y-%m-%d %H:%M} UTC, after signing.")
    if published >= signed - req.publication_time_tolerance:
        return CheckResult(
            name,
            CheckStatus.UNKNOWN,
            f"The post's id dates from {(signed - published).total_seconds():.0f} s before signing; ids are issued "
            "at upload, so this is too close to call.",
        )
    return CheckResult(
        name,
        CheckStatus.FAILED,
        f"Published {published:%Y-%m-%d %H:%M} UTC, before the deal was signed ({signed:%Y-%m-%d %H:%M} UTC).",
    )


def _platform_check(platform: Platform, req: DealRequirements) -> list[CheckResult]:
    if req.platform is None:
        return []
    if platform is req.platform:
        return [CheckResult("platform_matches", CheckStatus.PASSED,
                            f"{platform.with_article[0].upper()}{platform.with_article[1:]} post, as the deal asks.")]
    return [
        CheckResult(
            "platform_matches",
            CheckStatus.FAILED,
            f"{platform.with_article[0].upper()}{platform.with_article[1:]} post, but the deal is for "
            f"{req.platform.label}.",
        )
    ]


def _content_check_names(req: DealRequirements) -> list[str]:
    names = ["author_matches", "disclosure_present"]
    names += [f"hashtags_present:{_display_tag(t)}" for t in dict.fromkeys(req.required_hashtags) if t.strip("# ")]
    names += [f"mentions_present:{_display_handle(h)}" for h in dict.fromkeys(req.required_mentions) if h.strip("@ ")]
    names.append("published_after_signing")
    return list(dict.fromkeys(names))


def _checks_for_error(error: FetchError, req: DealRequirements) -> list[CheckResult]:
    checks = _platform_check(error.platform, req)
    not_checked = f"Not checked: {error.reason}."
    if isinstance(error, PostNotFound):
        checks.append(CheckResult("post_exists", CheckStatus.FAILED, f"The post is gone: {error.reason}."))
        checks.append(CheckResult("is_public", CheckStatus.UNKNOWN, "Not checked: there is no post."))
    elif isinstance(error, PostNotPublic):
        checks.append(CheckResult("post_exists", CheckStatus.UNKNOWN, "The platform would not say.", required=False))
        checks.append(CheckResult("is_public", CheckStatus.FAILED, f"The post is not public: {error.reason}."))
    else:
        checks.append(CheckResult("post_exists", CheckStatus.UNKNOWN, not_checked))
        checks.append(CheckResult("is_public", CheckStatus.UNKNOWN, not_checked))
    checks += [CheckResult(name, CheckStatus.UNKNOWN, not_checked) for name in _content_check_names(req)]
    return checks


def _checks_for_post(post: FetchedPost, req: DealRequirements) -> list[CheckResult]:
    return [
        *_platform_check(post.platform, req),
        CheckResult("post_exists", CheckStatus.PASSED, f"{post.platform.label} served the post."),
        CheckResult("is_public", CheckStatus.PASSED, "Anyone can see it: the platform embeds it without logging in."),
        _author_check(post, req),
        _disclosure_check(post, req),
        *_hashtag_checks(post, req.required_hashtags),
        *_mention_checks(post, req.required_mentions),
        _publication_check(post, req),
    ]


def decide(checks: Iterable[CheckResult]) -> VerificationStatus:
    """The module's rule: any failure fails; else any unknown required check needs a person; else verified."""
    checks = list(checks)
    if any(c.status is CheckStatus.FAILED for c in checks):
        return VerificationStatus.FAILED
    if any(c.status is CheckStatus.UNKNOWN and c.required for c in checks):
        return VerificationStatus.NEEDS_REVIEW
    return VerificationStatus.VERIFIED


def _summary(status: VerificationStatus, checks: tuple[CheckResult, ...], outcome: FetchOutcome) -> str:
    if status is VerificationStatus.VERIFIED:
        return "Verified: every required check passed."
    if status is VerificationStatus.FAILED:
        return "Failed: not met — " + checks_in_words(c.name for c in checks if c.status is CheckStatus.FAILED) + "."
    if isinstance(outcome, FetchError):
        return f"Needs review: the post could not be checked ({outcome.reason})."
    unknown = [c.name for c in checks if c.status is CheckStatus.UNKNOWN and c.required]
    return "Needs review: couldn't check " + checks_in_words(unknown) + "."


def verify_post(outcome: FetchOutcome, requirements: DealRequirements) -> VerificationResult:
    """Judge what an adapter returned against the deal; call it after the worker has exhausted its retries."""
    if isinstance(outcome, FetchedPost):
        checks = tuple(_checks_for_post(outcome, requirements))
        kind = "post"
    else:
        checks = tuple(_checks_for_error(outcome, requirements))
        kind = outcome.kind
    status = decide(checks)
    return VerificationResult(
        status=status, checks=checks, summary=_summary(status, checks, outcome), outcome_kind=kind
    )
