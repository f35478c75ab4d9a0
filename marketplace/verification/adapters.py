"""Fetch a creator's live post through the platform's public oEmbed endpoint and classify what came back.

Long because the three platform adapters sit side by side, so their differences read at a glance.
"""

# What each platform tells us (checked 2026-11):
#
# - TikTok GET https://www.tiktok.com/oembed?url=…: `title` is the caption, `author_unique_id` the handle,
#   `author_url` https://www.tiktok.com/@handle, `embed_product_id` the video id; no date, no counts. The video
#   id's upper 32 bits are the Unix second the id was issued, 7-31 s before the platform's create_time in the
#   20 TikTok samples published with github.com/Evil0ctal/Douyin-TikTok-Video-ID-Decoder (also
#   obsidianforensics/unfurl parse_tiktok.py, arXiv 2504.13279). Error statuses are undocumented: we read 400/404
#   as "no such video", 401/403 *with a JSON body* as "private or embedding off", and an HTML 403 as a bot wall
#   (inconclusive: it says nothing about the post).
# - YouTube GET https://www.youtube.com/oembed?url=…&format=json: `title` is the video title only (the description
#   is not exposed), `author_url` https://www.youtube.com/@handle. 404 "Not Found" for deleted or unknown videos,
#   401 "Unauthorized" when embedding is off (extractus/oembed-extractor#168, Tyrrrz/YoutubeExplode#163), 403
#   "Forbidden" for private videos (ruby-oembed#79), 400 for links it does not recognise. No date without the
#   Data API.
# - Instagram GET https://graph.facebook.com/v22.0/instagram_oembed?url=…: since Meta's 2025-11-03 change
#   (developers.facebook.com/blog/post/2025/04/08/oembed-updates) the answer no longer carries author_name,
#   author_url or thumbnails, so handle and caption are read from the embed `html` ("A post shared by Name
#   (@handle)"). Errors are Graph error objects {"error": {"code": …}} (Graph "Handling Errors" guide): codes 1/2
#   and the throttling codes are transient, 3/10/102/190/200-299 mean our token or app review is wrong, anything
#   else (mostly code 100 on HTTP 400) is read as not found unless the message speaks of a private account or
#   embedding. Meta documents no code that tells private from missing. The shortcode is the media id in base 64;
#   its upper 41 bits are milliseconds since 2011-08-24T21:07:01.721Z (Instagram's "Sharding & IDs" design).
#   Since 2026-06-15 the endpoint answers without a token (1,000 requests an hour per endpoint); with an app
#   token the limit is 5 million a day. A token travels in an `Authorization: Bearer` header, which Meta accepts,
#   so it never lands in a logged URL.
#
# Adapters are bound to the event loop of the httpx.AsyncClient they are given (so is their rate limiter): build
# them once per loop. `fetch` never raises for anything the platform or the network does; it returns a
# FetchedPost or one of the FetchError dataclasses, which checks.verify_post turns into a verdict.

from __future__ import annotations

import asyncio
import hashlib
import json
import re
import time
from abc import ABC, abstractmethod
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from html.parser import HTMLParser
from typing import Any, ClassVar, Protocol, TypeVar
from urllib.parse import urlsplit

import httpx

from marketplace.verification.outcomes import (
    Engagement,
    FetchedPost,
    FetchError,
    FetchOutcome,
    MalformedResponse,
    PostNotFound,
    PostNotPublic,
    ProviderAuthError,
    TransientFetchError,
    parse_retry_after,
)
from marketplace.verification.posts import (
    Platform,
    PostRef,
    instagram_shortcode_time,
    parse_instagram_url,
    parse_post_url,
    parse_tiktok_url,
    parse_youtube_url,
    tiktok_id_time,
)
from marketplace.verification.ratelimit import (
    DEFAULT_RATE_LIMITS,
    INSTAGRAM_WITH_TOKEN_RATE_LIMIT,
    RateLimit,
    TokenBucket,
)

_Error = TypeVar("_Error", bound=FetchError)

DEFAULT_ENDPOINTS: Mapping[Platform, str] = {
    Platform.TIKTOK: "https://www.tiktok.com/oembed",
    Platform.YOUTUBE: "https://www.youtube.com/oembed",
    Platform.INSTAGRAM: "https://graph.facebook.com/v22.0/instagram_oembed",
}


def utc_now() -> datetime:
    return datetime.now(UTC)


class _BodyTooLarge(Exception):
    pass


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _excerpt(body: bytes, limit: int = 500) -> str:
    return body[:limit].decode("utf-8", "replace")


def _json_object(body: bytes) -> dict[str, Any] | None:
    try:
        value = json.loads(body)
    except (UnicodeDecodeError, ValueError):
        return None
    return value if isinstance(value, dict) else None


def _optional_str(payload: Mapping[str, Any], key: str) -> str | None:
    value = payload.get(key)
    return value if isinstance(value, str) and value.strip() else None


def _handle_from_url(url: str | None, host_suffix: str) -> str | None:
    """The handle in https://www.tiktok.com/@h, https://www.youtube.com/@h or https://www.instagram.com/h/."""
    if not url:
        return None
    try:
        parts = urlsplit(url)
    except ValueError:
        return None
    host = (parts.hostname or "").lower()
    if host != host_suffix and not host.endswith("." + host_suffix):
        return None
    first = parts.path.strip("/").split("/")[0]
    if first.startswith("@") and len(first) > 1:
        return first[1:]
    # Instagram profile URLs carry the bare username; YouTube /channel/UC… ids are not handles.
    if host_suffix == "instagram.com" and re.fullmatch(r"[A-Za-z0-9_.]{1,30}", first):
        return first
    return None


def _engagement(payload: Mapping[str, Any]) -> Engagement | None:
    """oEmbed carries no counts today; if a platform ever adds the usual names, keep them."""

    def count(*keys: str) -> int | None:
        for key in keys:
            value = payload.get(key)
            if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
                return value
        return None

    found = Engagement(
        likes=count("like_count", "likes"),
        comments=count("comment_count", "comments"),
        shares=count("share_count", "shares"),
        views=count("view_count", "play_count", "views"),
    )
    return found if found != Engagement() else None


def content_fingerprint(platform: Platform, post_id: str, author_handle: str | None, caption: str | None) -> str:
    canonical = json.dumps(
        {"platform": platform.value, "post_id": post_id, "author": author_handle, "caption": caption},
        sort_keys=True,
        ensure_ascii=False,
    )
    return _sha256(canonical.encode())


@dataclass(frozen=True)
class _Response:
    status: int
    headers: httpx.Headers
    body: bytes
    fetched_at: datetime


class PostAdapter(ABC):
    """Fetches one platform's posts through its oEmbed endpoint; subclasses know the platform's dialect."""

    platform: ClassVar[Platform]

    def __init__(
        self,
        client: httpx.AsyncClient,
        *,
        endpoint: str | None = None,
        timeout_seconds: float = 10.0,
        limiter: TokenBucket | None = None,
        now: Callable[[], datetime] = utc_now,
        max_body_bytes: int = 1_000_000,
    ) -> None:
        self.client = client
        self.endpoint = endpoint or DEFAULT_ENDPOINTS[self.platform]
        self.timeout_seconds = timeout_seconds
        self.limiter = limiter or TokenBucket(DEFAULT_RATE_LIMITS[self.platform])
        self._now = now
        self.max_body_bytes = max_body_bytes

    # -- what subclasses provide -------------------------------------------------------------------------------------

    @abstractmethod
    def parse_url(self, url: str) -> PostRef: ...

    def _query(self, ref: PostRef) -> dict[str, str]:
        return {"url": ref.canonical_url}

    def _headers(self) -> dict[str, str]:
        return {"Accept": "application/json"}

    @abstractmethod
    def _classify_refusal(self, ref: PostRef, response: _Response) -> FetchOutcome:
        """Turn a non-200, non-transient answer into an outcome."""

    @abstractmethod
    def _read_post(self, ref: PostRef, payload: dict[str, Any], response: _Response) -> FetchOutcome:
        """Turn a 200 JSON object into a FetchedPost, or say what is missing."""

    # -- the shared flow -------------------------------------------------------------------------------------------

    async def fetch(self, post: PostRef | str) -> FetchOutcome:
        ref = post if isinstance(post, PostRef) else self.parse_url(post)
        if ref.platform is not self.platform:
            raise ValueError(f"{self.platform.label} adapter was handed a {ref.platform.label} post")
        await self.limiter.acquire()
        name = self.platform.label
        try:
            # httpx's timeout is per read/connect; asyncio.timeout also bounds a server that drips bytes slowly.
            async with asyncio.timeout(self.timeout_seconds):
                response = await self._get(ref)
        except (TimeoutError, httpx.TimeoutException):
            return self._error(TransientFetchError, ref, f"{name} did not answer within {self.timeout_seconds:g} s")
        except httpx.TransportError as exc:
            return self._error(TransientFetchError, ref, f"could not reach {name}: {type(exc).__name__}")
        except httpx.HTTPError as exc:
            return self._error(MalformedResponse, ref, f"{name}'s answer could not be read: {type(exc).__name__}")
        except _BodyTooLarge:
            return self._error(MalformedResponse, ref, f"{name}'s answer exceeded {self.max_body_bytes} bytes")
        outcome = self._interpret(ref, response)
        if isinstance(outcome, TransientFetchError) and outcome.retry_after:
            self.limiter.pause(outcome.retry_after)
        return outcome

    async def _get(self, ref: PostRef) -> _Response:
        async with self.client.stream(
            "GET",
            self.endpoint,
            params=self._query(ref),
            headers=self._headers(),
            timeout=httpx.Timeout(self.timeout_seconds),
            follow_redirects=False,
        ) as response:
            body = bytearray()
            async for chunk in response.aiter_bytes():
                body += chunk
                if len(body) > self.max_body_bytes:
                    raise _BodyTooLarge
            return _Response(response.status_code, response.headers, bytes(body), self._now())

    def _interpret(self, ref: PostRef, response: _Response) -> FetchOutcome:
        name = self.platform.label
        status = response.status
        retry_after = parse_retry_after(response.headers.get("retry-after"), response.fetched_at)
        if status == 429:
            return self._error(
                TransientFetchError, ref, f"{name} is rate limiting us (429)", response, retry_after=retry_after
            )
        if status >= 500 or status == 408:
            return self._error(
                TransientFetchError, ref, f"{name} had a server error ({status})", response, retry_after=retry_after
            )
        if status != 200:
            return self._classify_refusal(ref, response)
        payload = _json_object(response.body)
        if payload is None:
            return self._error(MalformedResponse, ref, f"{name} answered 200 but not with a JSON object", response)
        return self._read_post(ref, payload, response)

    # -- helpers for subclasses ------------------------------------------------------------------------------------

    def _error(
        self,
        cls: type[_Error],
        ref: PostRef,
        reason: str,
        response: _Response | None = None,
        **extra: Any,
    ) -> _Error:
        return cls(
            platform=self.platform,
            requested_url=ref.canonical_url,
            reason=reason,
            status_code=response.status if response else None,
            body_excerpt=_excerpt(response.body) if response else "",
            fetched_at=response.fetched_at if response else self._now(),
            **extra,
        )

    def _post(
        self,
        ref: PostRef,
        payload: dict[str, Any],
        response: _Response,
        *,
        author_handle: str | None,
        author_name: str | None,
        author_url: str | None,
        caption: str | None,
        caption_is_complete: bool,
        published_at: datetime | None,
        published_at_source: str | None,
    ) -> FetchedPost:
        return FetchedPost(
            platform=self.platform,
            requested_url=ref.canonical_url,
            post_id=ref.post_id,
            author_handle=author_handle,
            author_name=author_name,
            author_url=author_url,
            caption=caption,
            caption_is_complete=caption_is_complete,
            published_at=published_at,
            published_at_source=published_at_source if published_at else None,
            engagement=_engagement(payload),
            raw_payload=response.body,
            payload=payload,
            payload_sha256=_sha256(response.body),
            content_sha256=content_fingerprint(self.platform, ref.post_id, author_handle, caption),
            fetched_at=response.fetched_at,
        )


class TikTokAdapter(PostAdapter):
    platform = Platform.TIKTOK

    def parse_url(self, url: str) -> PostRef:
        return parse_tiktok_url(url)

    def _classify_refusal(self, ref: PostRef, response: _Response) -> FetchOutcome:
        status = response.status
        if status in {400, 404}:
            return self._error(
                PostNotFound, ref, f"TikTok has no such video; deleted or never posted ({status})", response
            )
        if status in {401, 403}:
            if _json_object(response.body) is None:
                # An HTML 403 is TikTok's bot wall talking, not the video's privacy setting.
                return self._error(
                    MalformedResponse, ref, f"TikTok refused us with a non-JSON page ({status})", response
                )
            return self._error(
                PostNotPublic,
                ref,
                f"TikTok won't show this video: private, or embedding turned off ({status})",
                response,
            )
        return self._error(MalformedResponse, ref, f"TikTok answered with unexpected status {status}", response)

    def _read_post(self, ref: PostRef, payload: dict[str, Any], response: _Response) -> FetchOutcome:
        author_url = _optional_str(payload, "author_url")
        handle = _optional_str(payload, "author_unique_id") or _handle_from_url(author_url, "tiktok.com")
        title = payload.get("title")
        if handle is None or not isinstance(title, str):
            return self._error(MalformedResponse, ref, "TikTok's answer lacks the author or the caption", response)
        product_id = payload.get("embed_product_id")
        if product_id is not None and str(product_id) != ref.post_id:
            return self._error(MalformedResponse, ref, f"TikTok answered about another video ({product_id})", response)
        return self._post(
            ref,
            payload,
            response,
            author_handle=handle,
            author_name=_optional_str(payload, "author_name"),
            author_url=author_url,
            caption=title,
            caption_is_complete=True,
            published_at=tiktok_id_time(ref.post_id),
            published_at_source="TikTok video id (upper 32 bits: Unix seconds when the id was issued)",
        )


class YouTubeAdapter(PostAdapter):
    platform = Platform.YOUTUBE

    def parse_url(self, url: str) -> PostRef:
        return parse_youtube_url(url)

    def _query(self, ref: PostRef) -> dict[str, str]:
        return {"url": ref.canonical_url, "format": "json"}

    def _classify_refusal(self, ref: PostRef, response: _Response) -> FetchOutcome:
        status = response.status
        if status == 404:
            return self._error(
                PostNotFound, ref, "YouTube has no such video; deleted or never uploaded (404)", response
            )
        if status == 400:
            return self._error(PostNotFound, ref, "YouTube does not recognise this video link (400)", response)
        if status == 401:
            return self._error(PostNotPublic, ref, "the channel turned off embedding for this video (401)", response)
        if status == 403:
            return self._error(PostNotPublic, ref, "the video is private (403)", response)
        return self._error(MalformedResponse, ref, f"YouTube answered with unexpected status {status}", response)

    def _read_post(self, ref: PostRef, payload: dict[str, Any], response: _Response) -> FetchOutcome:
        title = payload.get("title")
        author_url = _optional_str(payload, "author_url")
        author_name = _optional_str(payload, "author_name")
        if not isinstance(title, str) or (author_url is None and author_name is None):
            return self._error(MalformedResponse, ref, "YouTube's answer lacks the title or the channel", response)
        return self._post(
            ref,
            payload,
            response,
            # Legacy /user/ and /channel/ URLs don't name a handle; the author check then stays unknown.
            author_handle=_handle_from_url(author_url, "youtube.com"),
            author_name=author_name,
            author_url=author_url,
            caption=title,
            caption_is_complete=False,
            published_at=None,
            published_at_source=None,
        )


_GRAPH_TRANSIENT_CODES = {1, 2, 4, 17, 32, 341, 368, 613}
_GRAPH_AUTH_CODES = {3, 10, 102, 190, *range(200, 300)}
# \bembed so that the endpoint's own name ("instagram_oembed") in a message does not count.
_NOT_PUBLIC_WORDS = re.compile(r"private|not public|age.restricted|inactive|\bembed", re.IGNORECASE)
_SHARED_BY = re.compile(
    r"^A post shared by\s+(?:(?P<name>.*?)\s*\(@(?P<handle>[A-Za-z0-9_.]+)\)|@(?P<bare>[A-Za-z0-9_.]+))"
)


class _EmbedParagraphs(HTMLParser):
    """Collects the visible text of each <p> in Instagram's embed blockquote."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.paragraphs: list[str] = []
        self._current: list[str] | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "p":
            self._current = []
        elif tag == "br" and self._current is not None:
            self._current.append("\n")

    def handle_endtag(self, tag: str) -> None:
        if tag == "p" and self._current is not None:
            self.paragraphs.append(re.sub(r"[ \t]+", " ", "".join(self._current)).strip())
            self._current = None

    def handle_data(self, data: str) -> None:
        if self._current is not None:
            self._current.append(data)


def read_instagram_embed(html: str) -> tuple[str | None, str | None, str | None]:
    """(handle, author name, caption) from the embed HTML; any of them None when the markup doesn't carry it."""
    parser = _EmbedParagraphs()
    parser.feed(html)
    parser.close()
    handle = name = None
    caption_parts: list[str] = []
    for text in parser.paragraphs:
        if match := _SHARED_BY.match(text):
            handle = match["handle"] or match["bare"]
            name = match["name"] or None
        elif text and text != "View this post on Instagram":
            caption_parts.append(text)
    return handle, name, ("\n".join(caption_parts) if caption_parts else None)


class InstagramAdapter(PostAdapter):
    platform = Platform.INSTAGRAM

    def __init__(self, client: httpx.AsyncClient, *, access_token: str | None = None, **kwargs: Any) -> None:
        super().__init__(client, **kwargs)
        self._access_token = access_token

    def parse_url(self, url: str) -> PostRef:
        return parse_instagram_url(url)

    def _headers(self) -> dict[str, str]:
        headers = super()._headers()
        if self._access_token:
            headers["Authorization"] = f"Bearer {self._access_token}"
        return headers

    def _graph_error(self, ref: PostRef, error: Mapping[str, Any], response: _Response) -> FetchOutcome:
        code = error.get("code")
        words = " ".join(str(error.get(key) or "") for key in ("message", "error_user_title", "error_user_msg"))
        detail = f"Graph error {code}: {error.get('message') or 'no message'}"
        if code in _GRAPH_TRANSIENT_CODES:
            retry_after = parse_retry_after(response.headers.get("retry-after"), response.fetched_at)
            reason = f"Instagram asked us to slow down ({detail})"
            return self._error(TransientFetchError, ref, reason, response, retry_after=retry_after)
        if code in _GRAPH_AUTH_CODES:
            return self._error(ProviderAuthError, ref, f"our Instagram access is refused ({detail})", response)
        if _NOT_PUBLIC_WORDS.search(words):
            return self._error(PostNotPublic, ref, f"Instagram won't embed this post ({detail})", response)
        return self._error(PostNotFound, ref, f"Instagram has no such public post ({detail})", response)

    def _classify_refusal(self, ref: PostRef, response: _Response) -> FetchOutcome:
        payload = _json_object(response.body)
        error = payload.get("error") if payload else None
        if isinstance(error, dict):
            return self._graph_error(ref, error, response)
        status = response.status
        if status in {400, 404}:
            return self._error(PostNotFound, ref, f"Instagram has no such public post ({status})", response)
        if status == 401:
            return self._error(ProviderAuthError, ref, "our Instagram access is refused (401)", response)
        if status == 403:
            return self._error(PostNotPublic, ref, "Instagram won't embed this post (403)", response)
        return self._error(MalformedResponse, ref, f"Instagram answered with unexpected status {status}", response)

    def _read_post(self, ref: PostRef, payload: dict[str, Any], response: _Response) -> FetchOutcome:
        error = payload.get("error")
        if isinstance(error, dict):
            return self._graph_error(ref, error, response)
        html = payload.get("html")
        if not isinstance(html, str) or not html.strip():
            return self._error(MalformedResponse, ref, "Instagram's answer has no embed HTML", response)
        html_handle, html_name, html_caption = read_instagram_embed(html)
        author_url = _optional_str(payload, "author_url")
        # author_name/author_url were removed on 2025-11-03; keep reading them while some apps still get them.
        handle = _handle_from_url(author_url, "instagram.com") or _optional_str(payload, "author_name") or html_handle
        title = payload.get("title")
        caption = title if isinstance(title, str) else html_caption
        return self._post(
            ref,
            payload,
            response,
            author_handle=handle,
            author_name=html_name or _optional_str(payload, "author_name"),
            author_url=author_url,
            caption=caption,
            caption_is_complete=caption is not None,
            published_at=instagram_shortcode_time(ref.post_id),
            published_at_source="Instagram shortcode (media id's upper 41 bits: ms since 2011-08-24T21:07:01.721Z)",
        )


# --------------------------------------------------------------------------------------------------------------------
# Building adapters from settings


class VerificationEndpoints(Protocol):
    """What build_adapters reads; ``marketplace.settings.VerificationSettings`` has this shape."""

    @property
    def tiktok_oembed_url(self) -> str: ...

    @property
    def youtube_oembed_url(self) -> str: ...

    @property
    def instagram_oembed_url(self) -> str: ...

    @property
    def instagram_app_token(self) -> str | None: ...

    @property
    def timeout_seconds(self) -> float: ...


def build_adapters(
    client: httpx.AsyncClient,
    settings: VerificationEndpoints,
    *,
    rate_limits: Mapping[Platform, RateLimit] | None = None,
    now: Callable[[], datetime] = utc_now,
    monotonic: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], Awaitable[object]] = asyncio.sleep,
) -> dict[Platform, PostAdapter]:
    """One adapter per platform sharing ``client``; build them once per event loop and reuse them."""
    limits = dict(DEFAULT_RATE_LIMITS)
    if settings.instagram_app_token:
        limits[Platform.INSTAGRAM] = INSTAGRAM_WITH_TOKEN_RATE_LIMIT
    limits.update(rate_limits or {})

    def bucket(platform: Platform) -> TokenBucket:
        return TokenBucket(limits[platform], monotonic=monotonic, sleep=sleep)

    common: dict[str, Any] = {"timeout_seconds": settings.timeout_seconds, "now": now}
    return {
        Platform.TIKTOK: TikTokAdapter(
            client, endpoint=settings.tiktok_oembed_url, limiter=bucket(Platform.TIKTOK), **common
        ),
        Platform.YOUTUBE: YouTubeAdapter(
            client, endpoint=settings.youtube_oembed_url, limiter=bucket(Platform.YOUTUBE), **common
        ),
        Platform.INSTAGRAM: InstagramAdapter(
            client,
            endpoint=settings.instagram_oembed_url,
            access_token=settings.instagram_app_token,
            limiter=bucket(Platform.INSTAGRAM),
            **common,
        ),
    }


async def fetch_post(adapters: Mapping[Platform, PostAdapter], url: str) -> FetchOutcome:
    """Recognise the link's platform and fetch it; raises InvalidPostUrl for links we can't verify."""
    ref = parse_post_url(url)
    return await adapters[ref.platform].fetch(ref)
