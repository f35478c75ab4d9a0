"""A live post's link: which platform, which post, and when the platform issued its id (no I/O)."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from urllib.parse import parse_qs, urlsplit


class Platform(StrEnum):
    TIKTOK = "tiktok"
    YOUTUBE = "youtube"
    INSTAGRAM = "instagram"

    @property
    def label(self) -> str:
        return {"tiktok": "TikTok", "youtube": "YouTube", "instagram": "Instagram"}[self.value]

    @property
    def with_article(self) -> str:
        """"a TikTok", "a YouTube", "an Instagram": for sentences such as "an Instagram link"."""
        return ("an " if self.label[0] in "AEIOU" else "a ") + self.label


def platform_label(value: object) -> str:
    """The platform's name as the platform writes it (TikTok, YouTube, Instagram); anything else as it is."""
    text = str(getattr(value, "value", value))
    return Platform(text).label if text in Platform._value2member_map_ else text




# --------------------------------------------------------------------------------------------------------------------
# Post links


class InvalidPostUrl(ValueError):
    """A link we cannot verify; the message is written for the creator who pasted it."""


@dataclass(frozen=True)
class PostRef:
    """A recognised post: the id the platform knows it by and the canonical link we send to oEmbed."""

    platform: Platform
    post_id: str
    canonical_url: str
    #: The handle written in the link itself (TikTok, some Instagram links): a claim, never evidence of authorship.
    url_handle: str | None = None


_TIKTOK_HOSTS = {"tiktok.com", "www.tiktok.com", "m.tiktok.com"}
_TIKTOK_SHORT_HOSTS = {"vm.tiktok.com", "vt.tiktok.com"}
_TIKTOK_PATH = re.compile(r"^/@(?P<handle>[A-Za-z0-9_.]{1,24})/(?P<kind>video|photo)/(?P<id>\d{15,20})/?$")
_YOUTUBE_HOSTS = {"youtube.com", "www.youtube.com", "m.youtube.com"}
_YOUTUBE_ID = re.compile(r"^[A-Za-z0-9_-]{11}$")
_YOUTUBE_PATH = re.compile(r"^/(?:shorts|live|embed)/(?P<id>[A-Za-z0-9_-]{11})/?$")
_INSTAGRAM_HOSTS = {"instagram.com", "www.instagram.com", "m.instagram.com", "instagr.am", "www.instagr.am"}
_INSTAGRAM_PATH = re.compile(
    r"^/(?:(?P<user>[A-Za-z0-9_.]{1,30})/)?(?P<kind>p|reel|reels|tv)/(?P<code>[A-Za-z0-9_-]{5,64})/?$"
)
_SHORT_LINK_ADVICE = "open it in your browser or the app and paste the full address it shows instead"


def _split_url(url: str) -> tuple[str, str, str]:
    """Return (host, path, query) of an http(s) link without tricks, or say what is wrong with it."""
    text = url.strip()
    if not text:
        raise InvalidPostUrl("Paste the link to your post.")
    if "://" not in text:
        # People paste "www.tiktok.com/@me/video/…" without the scheme.
        text = "https://" + text
    try:
        parts = urlsplit(text)
        port = parts.port
    except ValueError as exc:
        raise InvalidPostUrl("That is not a valid web address.") from exc
    if parts.scheme.lower() not in {"http", "https"}:
        raise InvalidPostUrl("Post links start with https://.")
    if parts.username is not None or parts.password is not None or port is not None:
        # "https://www.tiktok.com@evil.example/…" reads like TikTok but points elsewhere.
        raise InvalidPostUrl("That link hides another address inside it; paste the post's own link.")
    host = (parts.hostname or "").lower().rstrip(".")
    if not host:
        raise InvalidPostUrl("That is not a valid web address.")
    return host, parts.path, parts.query


def parse_tiktok_url(url: str) -> PostRef:
    host, path, _ = _split_url(url)
    if host in _TIKTOK_SHORT_HOSTS or (host in _TIKTOK_HOSTS and path.startswith("/t/")):
        raise InvalidPostUrl(f"TikTok short links can't be checked automatically: {_SHORT_LINK_ADVICE}.")
    if host not in _TIKTOK_HOSTS:
        raise InvalidPostUrl("That is not a TikTok link.")
    match = _TIKTOK_PATH.match(path)
    if match is None:
        raise InvalidPostUrl("That TikTok link is not a video; it should look like tiktok.com/@you/video/1234….")
    handle, kind, video_id = match["handle"], match["kind"], match["id"]
    return PostRef(Platform.TIKTOK, video_id, f"https://www.tiktok.com/@{handle}/{kind}/{video_id}", handle)


def parse_youtube_url(url: str) -> PostRef:
    host, path, query = _split_url(url)
    video_id: str | None = None
    if host in {"youtu.be", "www.youtu.be"}:
        candidate = path.strip("/")
        video_id = candidate if _YOUTUBE_ID.match(candidate) else None
    elif host in _YOUTUBE_HOSTS:
        if path.rstrip("/") == "/watch":
            values = parse_qs(query).get("v", [])
            video_id = values[0] if values and _YOUTUBE_ID.match(values[0]) else None
        elif match := _YOUTUBE_PATH.match(path):
            video_id = match["id"]
        elif path.startswith(("/@", "/channel/", "/c/", "/user/", "/playlist")):
            raise InvalidPostUrl("That is a YouTube channel or playlist; paste the link to the video itself.")
    else:
        raise InvalidPostUrl("That is not a YouTube link.")
    if video_id is None:
        raise InvalidPostUrl("That YouTube link is not a video; it should look like youtube.com/watch?v=… .")
    return PostRef(Platform.YOUTUBE, video_id, f"https://www.youtube.com/watch?v={video_id}")


def parse_instagram_url(url: str) -> PostRef:
    host, path, _ = _split_url(url)
    if host not in _INSTAGRAM_HOSTS:
        raise InvalidPostUrl("That is not an Instagram link.")
    if path.startswith("/stories/"):
        raise InvalidPostUrl("Stories disappear and can't be embedded, so they can't be verified; post to your feed.")
    if path.startswith("/share/"):
        raise InvalidPostUrl(f"Instagram share links can't be checked automatically: {_SHORT_LINK_ADVICE}.")
    match = _INSTAGRAM_PATH.match(path)
    if match is None:
        raise InvalidPostUrl("That Instagram link is not a post; it should look like instagram.com/p/… or /reel/… .")
    kind = "reel" if match["kind"] == "reels" else match["kind"]
    code = match["code"]
    return PostRef(Platform.INSTAGRAM, code, f"https://www.instagram.com/{kind}/{code}/", match["user"])


_PARSERS: Mapping[Platform, Callable[[str], PostRef]] = {
    Platform.TIKTOK: parse_tiktok_url,
    Platform.YOUTUBE: parse_youtube_url,
    Platform.INSTAGRAM: parse_instagram_url,
}


def parse_post_url(url: str) -> PostRef:
    """Recognise a TikTok, YouTube or Instagram post link, whichever it is."""
    host, _, _ = _split_url(url)
    if host in _TIKTOK_HOSTS | _TIKTOK_SHORT_HOSTS:
        return parse_tiktok_url(url)
    if host in _YOUTUBE_HOSTS | {"youtu.be", "www.youtu.be"}:
        return parse_youtube_url(url)
    if host in _INSTAGRAM_HOSTS:
        return parse_instagram_url(url)
    raise InvalidPostUrl("Only TikTok, YouTube and Instagram posts can be verified.")


# --------------------------------------------------------------------------------------------------------------------
# Publication time hidden in ids

_INSTAGRAM_EPOCH_MS = 1_314_220_021_721  # 2011-08-24T21:07:01.721Z, from Instagram's "Sharding & IDs" design
_INSTAGRAM_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
# Ids minted before the platforms existed, or far in the future, mean we decoded something that is not an id.
_EARLIEST_PLAUSIBLE = datetime(2011, 1, 1, tzinfo=UTC)


def tiktok_id_time(video_id: str) -> datetime | None:
    """When TikTok issued this video id (upper 32 bits, Unix seconds); None if it isn't a plausible id."""
    if not video_id.isdigit():
        return None
    value = int(video_id)
    if value >= 1 << 64:
        return None
    issued = datetime.fromtimestamp(value >> 32, UTC)
    return issued if issued >= _EARLIEST_PLAUSIBLE else None


def instagram_shortcode_to_media_id(shortcode: str) -> int | None:
    """Shortcodes are the media id in base 64 (URL-safe alphabet); longer private-post codes are not."""
    if not 1 <= len(shortcode) <= 11:
        return None
    media_id = 0
    for char in shortcode:
        index = _INSTAGRAM_ALPHABET.find(char)
        if index < 0:
            return None
        media_id = media_id * 64 + index
    return media_id if media_id < 1 << 64 else None


def instagram_media_id_time(media_id: int) -> datetime:
    """When Instagram issued this media id (upper 41 bits, milliseconds since Instagram's epoch)."""
    return datetime.fromtimestamp(((media_id >> 23) + _INSTAGRAM_EPOCH_MS) / 1000, UTC)


def instagram_shortcode_time(shortcode: str) -> datetime | None:
    media_id = instagram_shortcode_to_media_id(shortcode)
    if media_id is None:
        return None
    issued = instagram_media_id_time(media_id)
    return issued if issued >= _EARLIEST_PLAUSIBLE else None
