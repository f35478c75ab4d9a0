"""What fetching a post can give: the post as the platform describes it, or why it couldn't be had."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any, ClassVar

from marketplace.verification.posts import Platform


@dataclass(frozen=True, kw_only=True)
class Engagement:
    likes: int | None = None
    comments: int | None = None
    shares: int | None = None
    views: int | None = None


@dataclass(frozen=True, kw_only=True)
class FetchedPost:
    """The post as the platform served it, with the exact bytes kept as evidence."""

    platform: Platform
    requested_url: str
    post_id: str
    author_handle: str | None
    author_name: str | None
    author_url: str | None
    #: None when the platform's answer carries no caption text at all.
    caption: str | None
    #: False when the text is only part of what the viewer sees (YouTube: the title, not the description).
    caption_is_complete: bool
    published_at: datetime | None
    published_at_source: str | None
    engagement: Engagement | None
    raw_payload: bytes = field(repr=False)
    payload: Mapping[str, Any] = field(repr=False, compare=False, hash=False)
    #: SHA-256 of ``raw_payload``: ties a stored snapshot to exactly what was received.
    payload_sha256: str
    #: SHA-256 of the checked fields only (platform, id, author, caption); stable across fetches, whereas the raw
    #: payload changes every time because thumbnail URLs carry expiring signatures. Compare it to spot edits.
    content_sha256: str
    fetched_at: datetime


@dataclass(frozen=True, kw_only=True)
class FetchError:
    """Why no post came back. Subclasses say whether that is the post's fault or merely inconclusive."""

    kind: ClassVar[str] = "error"
    #: True when the outcome says something about the post itself (gone, hidden) rather than about the fetch.
    conclusive: ClassVar[bool] = False

    platform: Platform
    requested_url: str
    reason: str
    status_code: int | None = None
    #: The start of the platform's answer, for the evidence log.
    body_excerpt: str = ""
    fetched_at: datetime


@dataclass(frozen=True, kw_only=True)
class PostNotFound(FetchError):
    kind: ClassVar[str] = "not_found"
    conclusive: ClassVar[bool] = True


@dataclass(frozen=True, kw_only=True)
class PostNotPublic(FetchError):
    kind: ClassVar[str] = "not_public"
    conclusive: ClassVar[bool] = True


@dataclass(frozen=True, kw_only=True)
class TransientFetchError(FetchError):
    """Worth retrying: rate limits, server errors, time-outs, network trouble."""

    kind: ClassVar[str] = "transient"
    #: Seconds the platform asked us to wait (Retry-After), if it said.
    retry_after: float | None = None


@dataclass(frozen=True, kw_only=True)
class MalformedResponse(FetchError):
    """The platform answered something we can't read; inconclusive, never the creator's fault."""

    kind: ClassVar[str] = "malformed"


@dataclass(frozen=True, kw_only=True)
class ProviderAuthError(FetchError):
    """Our credentials or app review are wrong (Instagram Graph): fix configuration, don't retry, don't fail posts."""

    kind: ClassVar[str] = "provider_auth"


FetchOutcome = FetchedPost | PostNotFound | PostNotPublic | TransientFetchError | MalformedResponse | ProviderAuthError


def parse_retry_after(value: str | None, now: datetime) -> float | None:
    """Retry-After is either seconds or an HTTP date; anything else is ignored."""
    if value is None or not value.strip():
        return None
    text = value.strip()
    try:
        seconds = float(text)
    except ValueError:
        pass
    else:
        return max(0.0, seconds) if math.isfinite(seconds) else None
    try:
        when = parsedate_to_datetime(text)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - now).total_seconds())
