"""The platforms' account APIs we read: the profile (followers), the account's own media, one post's counts.

Instagram Graph (graph.instagram.com ``/me``, ``/me/media``, ``/{id}/insights``), TikTok Display API
(``/v2/user/info/``, ``/v2/video/list/``, ``/v2/video/query/``) and YouTube Data API v3 (``channels``,
``playlistItems`` of the uploads playlist, ``videos``). Every request waits for the platform's shared token bucket;
a 429 pauses the bucket for the Retry-After so one refusal doesn't become many.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

import httpx

from marketplace.verification.outcomes import parse_retry_after
from marketplace.verification.ratelimit import RateLimit, TokenBucket

GRAPH_VERSION = "v22.0"
#: Conservative: Instagram allows ~200 calls an hour per account, TikTok 600 a minute per endpoint, YouTube a daily
#: quota of 10,000 units; metric fetches are spread over the day by the scheduler anyway.
RATE_LIMITS: Mapping[str, RateLimit] = {
    "instagram": RateLimit(per_second=2.0, burst=5),
    "tiktok": RateLimit(per_second=5.0, burst=10),
    "youtube": RateLimit(per_second=5.0, burst=10),
}


class ApiError(Exception):
    """The platform couldn't answer now (5xx, network, nonsense): retry later."""

    def __init__(self, reason: str, status: int | None = None) -> None:
        super().__init__(reason)
        self.status = status


class RateLimited(ApiError):
    def __init__(self, reason: str, retry_after: float | None) -> None:
        super().__init__(reason, 429)
        self.retry_after = retry_after


class TokenRejected(ApiError):
    """Our access token is expired or revoked."""


class MediaGone(ApiError):
    """The post no longer exists (or the account no longer shows it)."""


@dataclass(frozen=True)
class Profile:
    external_id: str
    handle: str
    followers: int | None
    media_count: int | None


@dataclass(frozen=True)
class Media:
    media_id: str
    #: The id in the post's link (TikTok video id, YouTube video id, Instagram shortcode).
    post_ref: str
    permalink: str
    caption: str
    published_at: datetime | None
    author_handle: str | None
    views: int | None = None
    likes: int | None = None
    comments: int | None = None
    shares: int | None = None
    saves: int | None = None
    reach: int | None = None
    raw: Mapping[str, Any] = field(default_factory=dict, repr=False, compare=False)

    @property
    def interactions(self) -> int:
        return sum(v or 0 for v in (self.likes, self.comments, self.shares, self.saves))


def _int(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.isdigit():
        return int(value)
    return None


def _time(value: Any) -> datetime | None:
    if isinstance(value, int | float) and not isinstance(value, bool):
        return datetime.fromtimestamp(value, UTC)
    if isinstance(value, str) and value:
        try:
            parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            # Instagram writes +0000 without the colon.
            try:
                parsed = datetime.strptime(value, "%Y-%m-%dT%H:%M:%S%z")
            except ValueError:
                return None
        return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
    return None


class AccountApi(ABC):
    platform: str

    def __init__(self, http: httpx.AsyncClient, api_base: str, bucket: TokenBucket,
                 now: Callable[[], datetime]) -> None:
        self.http = http
        self.api_base = api_base.rstrip("/")
        self.bucket = bucket
        self._now = now

    async def _call(self, method: str, path: str, token: str, *, params: dict[str, str] | None = None,
                    json_body: dict[str, Any] | None = None) -> dict[str, Any]:
        await self.bucket.acquire()
        try:
            response = await self.http.request(method, f"{self.api_base}{path}", params=params, json=json_body,
                                               headers={"Authorization": f"Bearer {token}"})
        except httpx.HTTPError as exc:
            raise ApiError(f"{self.platform}: {type(exc).__name__}") from None
        try:
            body = response.json()
        except ValueError:
            body = None
        if response.status_code == 429:
            retry_after = parse_retry_after(response.headers.get("Retry-After"), self._now())
            self.bucket.pause(retry_after if retry_after is not None else 60.0)
            raise RateLimited(f"{self.platform}: rate limited", retry_after)
        self._refusal(response.status_code, body if isinstance(body, dict) else {})
        if response.status_code >= 400 or not isinstance(body, dict):
            raise ApiError(f"{self.platform}: HTTP {response.status_code}", response.status_code)
        return body

    def _refusal(self, status: int, body: dict[str, Any]) -> None:
        """Raise TokenRejected / MediaGone for the platform's way of saying so."""
        if status == 401:
            raise TokenRejected(f"{self.platform}: the access token was refused", status)

    @abstractmethod
    async def profile(self, token: str) -> Profile: ...

    @abstractmethod
    async def recent_media(self, token: str, limit: int = 50) -> list[Media]: ...

    @abstractmethod
    async def media_counts(self, token: str, post_ref: str) -> Media:
        """One post's current counts; raises MediaGone when the account no longer has it."""

    async def find_media(self, token: str, post_ref: str, limit: int = 100) -> Media | None:
        return next((m for m in await self.recent_media(token, limit) if m.post_ref == post_ref), None)


def instagram_shortcode(permalink: str) -> str:
    parts = [p for p in urlsplit(permalink).path.split("/") if p]
    return parts[-1] if len(parts) >= 2 and parts[-2] in {"p", "reel", "reels", "tv"} else ""


class InstagramApi(AccountApi):
    platform = "instagram"
    MEDIA_FIELDS = "id,caption,media_type,permalink,timestamp,username,like_count,comments_count"

    def _refusal(self, status: int, body: dict[str, Any]) -> None:
        error = body.get("error") if isinstance(body.get("error"), dict) else None
        if error is not None:
            code = error.get("code")
            if code == 190 or status == 401:
                raise TokenRejected("instagram: the access token was refused", status)
            if code == 100 and status in (400, 404):
                raise MediaGone("instagram: the media no longer exists", status)
            if code in (4, 17, 32, 613):
                raise RateLimited("instagram: rate limited", None)
        super()._refusal(status, body)

    async def profile(self, token: str) -> Profile:
        body = await self._call("GET", f"/{GRAPH_VERSION}/me", token,
                                params={"fields": "user_id,username,followers_count,media_count"})
        return Profile(str(body.get("user_id") or body.get("id") or ""), str(body.get("username") or "").lower(),
                       _int(body.get("followers_count")), _int(body.get("media_count")))

    def _media(self, item: Mapping[str, Any]) -> Media:
        permalink = str(item.get("permalink") or "")
        return Media(
            media_id=str(item.get("id") or ""), post_ref=instagram_shortcode(permalink), permalink=permalink,
            caption=str(item.get("caption") or ""), published_at=_time(item.get("timestamp")),
            author_handle=(str(item["username"]).lower() if item.get("username") else None),
            likes=_int(item.get("like_count")), comments=_int(item.get("comments_count")), raw=item)

    async def recent_media(self, token: str, limit: int = 50) -> list[Media]:
        body = await self._call("GET", f"/{GRAPH_VERSION}/me/media", token,
                                params={"fields": self.MEDIA_FIELDS, "limit": str(limit)})
        return [self._media(item) for item in body.get("data") or [] if isinstance(item, dict)]

    async def media_counts(self, token: str, post_ref: str) -> Media:
        # Links carry the shortcode, the API wants the media id: find it in the account's media first.
        found = await self.find_media(token, post_ref)
        if found is None:
            raise MediaGone("instagram: the post is not in the account's media")
        insights = await self._call("GET", f"/{GRAPH_VERSION}/{found.media_id}/insights", token,
                                    params={"metric": "views,reach,saved,shares"})
        values: dict[str, int | None] = {}
        for metric in insights.get("data") or []:
            if isinstance(metric, dict) and metric.get("values"):
                values[str(metric.get("name"))] = _int(metric["values"][0].get("value"))
        return Media(**{**found.__dict__, "views": values.get("views"), "reach": values.get("reach"),
                        "saves": values.get("saved"), "shares": values.get("shares")})


class TikTokApi(AccountApi):
    platform = "tiktok"
    VIDEO_FIELDS = "id,create_time,share_url,video_description,title,like_count,comment_count,share_count,view_count"

    def _refusal(self, status: int, body: dict[str, Any]) -> None:
        error = body.get("error") if isinstance(body.get("error"), dict) else {}
        code = str(error.get("code") or "")
        if code in {"access_token_invalid", "scope_not_authorized", "invalid_token"} or status == 401:
            raise TokenRejected(f"tiktok: {code or 'the access token was refused'}", status)
        if code == "rate_limit_exceeded":
            raise RateLimited("tiktok: rate limited", None)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._handle = ""

    async def profile(self, token: str) -> Profile:
        body = await self._call("GET", "/v2/user/info/", token, params={
            "fields": "open_id,union_id,display_name,username,follower_count,video_count,likes_count"})
        user = (body.get("data") or {}).get("user") or {}
        self._handle = str(user.get("username") or "").lower()
        return Profile(str(user.get("open_id") or ""), self._handle, _int(user.get("follower_count")),
                       _int(user.get("video_count")))

    def _media(self, item: Mapping[str, Any], handle: str | None) -> Media:
        return Media(
            media_id=str(item.get("id") or ""), post_ref=str(item.get("id") or ""),
            permalink=str(item.get("share_url") or ""),
            caption=str(item.get("video_description") or item.get("title") or ""),
            published_at=_time(item.get("create_time")), author_handle=handle or None,
            views=_int(item.get("view_count")), likes=_int(item.get("like_count")),
            comments=_int(item.get("comment_count")), shares=_int(item.get("share_count")), raw=item)

    async def recent_media(self, token: str, limit: int = 50) -> list[Media]:
        handle = self._handle or (await self.profile(token)).handle
        body = await self._call("POST", "/v2/video/list/", token, params={"fields": self.VIDEO_FIELDS},
                                json_body={"max_count": min(limit, 20)})
        videos = (body.get("data") or {}).get("videos") or []
        return [self._media(v, handle) for v in videos if isinstance(v, dict)]

    async def media_counts(self, token: str, post_ref: str) -> Media:
        body = await self._call("POST", "/v2/video/query/", token, params={"fields": self.VIDEO_FIELDS},
                                json_body={"filters": {"video_ids": [post_ref]}})
        videos = [v for v in (body.get("data") or {}).get("videos") or [] if isinstance(v, dict)]
        if not videos:
            raise MediaGone("tiktok: the video is not in the account's videos")
        return self._media(videos[0], self._handle or None)


class YouTubeApi(AccountApi):
    platform = "youtube"

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._channel: dict[str, Any] = {}

    def _refusal(self, status: int, body: dict[str, Any]) -> None:
        error = body.get("error") if isinstance(body.get("error"), dict) else {}
        reasons = {str(e.get("reason")) for e in error.get("errors") or [] if isinstance(e, dict)}
        if status == 403 and reasons & {"rateLimitExceeded", "userRateLimitExceeded", "quotaExceeded"}:
            raise RateLimited("youtube: " + ",".join(sorted(reasons)), None)
        super()._refusal(status, body)

    async def _mine(self, token: str) -> dict[str, Any]:
        body = await self._call("GET", "/youtube/v3/channels", token,
                                params={"part": "snippet,statistics,contentDetails", "mine": "true"})
        items = [i for i in body.get("items") or [] if isinstance(i, dict)]
        if not items:
            raise ApiError("youtube: the account has no channel")
        self._channel = items[0]
        return items[0]

    async def profile(self, token: str) -> Profile:
        channel = await self._mine(token)
        stats, snippet = channel.get("statistics") or {}, channel.get("snippet") or {}
        handle = str(snippet.get("customUrl") or snippet.get("title") or "").lstrip("@").lower()
        followers = None if stats.get("hiddenSubscriberCount") else _int(stats.get("subscriberCount"))
        return Profile(str(channel.get("id") or ""), handle, followers, _int(stats.get("videoCount")))

    def _media(self, item: Mapping[str, Any]) -> Media:
        snippet, stats = item.get("snippet") or {}, item.get("statistics") or {}
        video_id = str(item.get("id") or "")
        handle = str((self._channel.get("snippet") or {}).get("customUrl") or "").lstrip("@").lower()
        caption = "\n".join(str(x) for x in (snippet.get("title"), snippet.get("description")) if x)
        return Media(
            media_id=video_id, post_ref=video_id, permalink=f"https://www.youtube.com/watch?v={video_id}",
            caption=caption, published_at=_time(snippet.get("publishedAt")),
            author_handle=handle or None, views=_int(stats.get("viewCount")), likes=_int(stats.get("likeCount")),
            comments=_int(stats.get("commentCount")), raw=item)

    async def _videos(self, token: str, ids: list[str]) -> list[Media]:
        if not ids:
            return []
        body = await self._call("GET", "/youtube/v3/videos", token,
                                params={"part": "snippet,statistics", "id": ",".join(ids[:50])})
        return [self._media(i) for i in body.get("items") or [] if isinstance(i, dict)]

    async def recent_media(self, token: str, limit: int = 50) -> list[Media]:
        channel = self._channel or await self._mine(token)
        uploads = ((channel.get("contentDetails") or {}).get("relatedPlaylists") or {}).get("uploads")
        if not uploads:
            return []
        body = await self._call("GET", "/youtube/v3/playlistItems", token, params={
            "part": "contentDetails", "playlistId": str(uploads), "maxResults": str(min(limit, 50))})
        ids = [str((i.get("contentDetails") or {}).get("videoId") or "") for i in body.get("items") or []
               if isinstance(i, dict)]
        return await self._videos(token, [i for i in ids if i])

    async def media_counts(self, token: str, post_ref: str) -> Media:
        if not self._channel:
            await self._mine(token)
        found = await self._videos(token, [post_ref])
        if not found:
            raise MediaGone("youtube: the video no longer exists")
        return found[0]


API_CLASSES: Mapping[str, type[AccountApi]] = {"instagram": InstagramApi, "tiktok": TikTokApi, "youtube": YouTubeApi}


def engagement_bps(media: list[Media], followers: int | None) -> int | None:
    """Mean interactions per post over followers, in basis points (3.45% → 345)."""
    if not media or not followers:
        return None
    mean = sum(m.interactions for m in media) / len(media)
    return round(mean * 10_000 / followers)
