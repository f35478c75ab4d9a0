"""A local stand-in for the TikTok, YouTube and Instagram oEmbed endpoints, for tests, dev servers and workers."""

# Usage (no pytest needed):
#
#     with OEmbedServer() as server:
#         url = "https://www.tiktok.com/@mia/video/7559684939684400414"
#         server.add_post("tiktok", url, author="mia", caption="Morning routine #ad #glow @brand")
#         server.fail_next(url, times=2)  # 500, 500, then the post
#         settings = VerificationSettings(tiktok_oembed_url=server.endpoint("tiktok"), ...)
#
# Each platform lives under its own prefix mirroring the real path: /tiktok/oembed, /youtube/oembed and
# /instagram/v22.0/instagram_oembed. Posts are keyed by the id in their link (TikTok video id, YouTube video id,
# Instagram shortcode), so every spelling of a link reaches the same post. Payloads copy the real field names and
# types. Error answers copy what the platforms are known to send where that is known (YouTube's plain-text
# "Not Found"/"Unauthorized"/"Forbidden", Graph's {"error": {...}} object); TikTok documents no error bodies, so its
# {"code", "message"} JSON, and the Graph error *messages*, are our own wording.

from __future__ import annotations

import html
import json
import re
import threading
from collections import Counter, deque
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

PLATFORMS = ("tiktok", "youtube", "instagram")
PATHS = {
    "tiktok": "/tiktok/oembed",
    "youtube": "/youtube/oembed",
    "instagram": "/instagram/v22.0/instagram_oembed",
}

_ID_PATTERNS = {
    "tiktok": [re.compile(r"/(?:video|photo)/(\d+)")],
    "youtube": [
        re.compile(r"[?&]v=([A-Za-z0-9_-]{11})"),
        re.compile(r"youtu\.be/([A-Za-z0-9_-]{11})"),
        re.compile(r"/(?:shorts|live|embed)/([A-Za-z0-9_-]{11})"),
    ],
    "instagram": [re.compile(r"/(?:p|reel|reels|tv)/([A-Za-z0-9_-]+)")],
}


def post_key(platform: str, url: str) -> str | None:
    """The id a platform would look a link up by, or None if the link names no post."""
    for pattern in _ID_PATTERNS[platform]:
        if match := pattern.search(url):
            return match.group(1)
    return None


@dataclass(frozen=True)
class CannedResponse:
    status: int
    body: bytes
    content_type: str = "application/json; charset=utf-8"
    headers: tuple[tuple[str, str], ...] = ()


@dataclass
class FakePost:
    platform: str
    post_id: str
    url: str
    author: str
    author_name: str
    caption: str
    #: Instagram only: also send author_name/author_url/thumbnails as apps did before 2025-11-03.
    legacy_instagram_fields: bool = False
    extra_fields: dict[str, Any] = field(default_factory=dict)
    deleted: bool = False
    private: bool = False
    embedding_disabled: bool = False
    malformed: bool = False
    delay_seconds: float = 0.0
    queued: deque[CannedResponse] = field(default_factory=deque)


@dataclass(frozen=True)
class RecordedRequest:
    platform: str | None
    path: str
    params: dict[str, str]
    headers: dict[str, str]
    post_id: str | None


# --------------------------------------------------------------------------------------------------------------------
# Payloads shaped like the real ones


def _json(status: int, value: Any, headers: tuple[tuple[str, str], ...] = ()) -> CannedResponse:
    return CannedResponse(status, json.dumps(value).encode(), headers=headers)


def _text(status: int, text: str) -> CannedResponse:
    return CannedResponse(status, text.encode(), content_type="text/html; charset=UTF-8")


def tiktok_payload(post: FakePost) -> dict[str, Any]:
    caption = html.escape(post.caption)
    handle = post.author
    return {
        "version": "1.0",
        "type": "video",
        "title": post.caption,
        "author_url": f"https://www.tiktok.com/@{handle}",
        "author_name": post.author_name,
        "width": "100%",
        "height": "100%",
        "html": (
            f'<blockquote class="tiktok-embed" cite="https://www.tiktok.com/@{handle}/video/{post.post_id}" '
            f'data-video-id="{post.post_id}" data-embed-from="oembed" style="max-width:605px; min-width:325px;"> '
            f'<section> <a target="_blank" title="@{handle}" href="https://www.tiktok.com/@{handle}?refer=embed">'
            f"@{handle}</a> <p>{caption}</p> </section> </blockquote> "
            '<script async src="https://www.tiktok.com/embed.js"></script>'
        ),
        "thumbnail_width": 576,
        "thumbnail_height": 1024,
        # Real thumbnails are signed and expire, which is why a raw payload hash changes on every fetch.
        "thumbnail_url": (
            f"https://p16-sign-va.tiktokcdn.com/obj/tos-maliva-p-0068/{post.post_id}"
            "~tplv-tiktokx-origin.image?x-expires=1767225600&x-signature=fake%3D"
        ),
        "provider_url": "https://www.tiktok.com",
        "provider_name": "TikTok",
        "author_unique_id": handle,
        "embed_product_id": post.post_id,
        "embed_type": "video",
    }


def youtube_payload(post: FakePost) -> dict[str, Any]:
    title = html.escape(post.caption, quote=True)
    return {
        "title": post.caption,
        "author_name": post.author_name,
        "author_url": f"https://www.youtube.com/@{post.author}",
        "type": "video",
        "height": 113,
        "width": 200,
        "version": "1.0",
        "provider_name": "YouTube",
        "provider_url": "https://www.youtube.com/",
        "thumbnail_height": 360,
        "thumbnail_width": 480,
        "thumbnail_url": f"https://i.ytimg.com/vi/{post.post_id}/hqdefault.jpg",
        "html": (
            f'<iframe width="200" height="113" src="https://www.youtube.com/embed/{post.post_id}?feature=oembed" '
            'frameborder="0" allow="accelerometer; autoplay; clipboard-write; encrypted-media; gyroscope; '
            'picture-in-picture; web-share" referrerpolicy="strict-origin-when-cross-origin" allowfullscreen '
            f'title="{title}"></iframe>'
        ),
    }


def instagram_payload(post: FakePost) -> dict[str, Any]:
    permalink = f"https://www.instagram.com/p/{post.post_id}/?utm_source=ig_embed&amp;utm_campaign=loading"
    caption = html.escape(post.caption).replace("\n", "<br>")
    shared_by = f"A post shared by {html.escape(post.author_name)} (@{post.author})"
    payload: dict[str, Any] = {
        "version": "1.0",
        "provider_name": "Instagram",
        "provider_url": "https://www.instagram.com/",
        "type": "rich",
        "width": 658,
        "html": (
            f'<blockquote class="instagram-media" data-instgrm-captioned data-instgrm-permalink="{permalink}" '
            'data-instgrm-version="14" style="background:#FFF; border:0; max-width:540px; min-width:326px;">'
            f'<div style="padding:16px;"> <a href="{permalink}" target="_blank"> '
            '<div style="padding:19% 0;"></div> <div style="padding-top:8px;"> '
            '<div style="color:#3897f0; font-weight:550;">View this post on Instagram</div></div></a> '
            f'<p style="margin:8px 0 0 0; padding:0 4px;"><a href="{permalink}" target="_blank">{caption}</a></p> '
            f'<p style="color:#c9c8cd; margin-top:8px;"><a href="{permalink}" target="_blank">{shared_by}</a></p>'
            '</div></blockquote> <script async src="//www.instagram.com/embed.js"></script>'
        ),
    }
    if post.legacy_instagram_fields:
        payload |= {
            "author_name": post.author,
            "author_url": f"https://www.instagram.com/{post.author}",
            "thumbnail_url": f"https://scontent.cdninstagram.com/v/t51.2885-15/{post.post_id}.jpg",
            "thumbnail_width": 640,
            "thumbnail_height": 640,
        }
    return payload


def graph_error(code: int, message: str, *, status: int = 400, subcode: int | None = None) -> CannedResponse:
    """An error shaped like Graph's documented error object."""
    error: dict[str, Any] = {"message": message, "type": "OAuthException", "code": code, "fbtrace_id": "AFakeTrace01"}
    if subcode is not None:
        error["error_subcode"] = subcode
    return _json(status, {"error": error})


_PAYLOADS = {"tiktok": tiktok_payload, "youtube": youtube_payload, "instagram": instagram_payload}


def _not_found(platform: str) -> CannedResponse:
    if platform == "youtube":
        return _text(404, "Not Found")
    if platform == "instagram":
        return graph_error(100, "(#100) No public media was found for this URL")
    return _json(400, {"code": 400, "message": "Something went wrong", "data": {}})


def _not_public(platform: str, *, embedding: bool = False) -> CannedResponse:
    if platform == "youtube":
        return _text(401, "Unauthorized") if embedding else _text(403, "Forbidden")
    if platform == "instagram":
        reason = "has disabled embedding" if embedding else "is private"
        return graph_error(100, f"(#100) The owner of this media {reason}")
    return _json(403, {"code": 403, "message": "This video is private or cannot be embedded", "data": {}})


# --------------------------------------------------------------------------------------------------------------------
# The server


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    # Don't wait on handler threads still sleeping in a "slow" scenario when the test is over.
    block_on_close = False

    def __init__(self, address: tuple[str, int], fake: OEmbedServer) -> None:
        super().__init__(address, _Handler)
        self.fake = fake

    def handle_error(self, request: Any, client_address: Any) -> None:
        # A client that timed out and hung up is the point of the slow scenario, not an error.
        pass


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    protocol_version = "HTTP/1.1"
    # Headers and body go out in two writes; without this, Nagle plus delayed ACKs add ~40 ms to every answer.
    disable_nagle_algorithm = True

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def do_GET(self) -> None:
        response, delay = self.server.fake._answer(self.path, dict(self.headers.items()))
        if delay > 0 and self.server.fake._stopping.wait(delay):
            return
        try:
            self.send_response(response.status)
            self.send_header("Content-Type", response.content_type)
            self.send_header("Content-Length", str(len(response.body)))
            for name, value in response.headers:
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(response.body)
        except (BrokenPipeError, ConnectionResetError):
            pass


class OEmbedServer:
    """Serves registered posts over real HTTP on a free loopback port; a context manager, thread-safe."""

    def __init__(self, *, host: str = "127.0.0.1", instagram_token: str | None = None) -> None:
        self._host = host
        #: When set, Instagram requests must carry this token (Bearer header or access_token), as Graph checks it.
        self.instagram_token = instagram_token
        self._posts: dict[tuple[str, str], FakePost] = {}
        self._counts: Counter[tuple[str, str]] = Counter()
        self._requests: list[RecordedRequest] = []
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None

    # -- lifecycle -------------------------------------------------------------------------------------------------

    def start(self) -> OEmbedServer:
        if self._server is not None:
            return self
        self._stopping.clear()
        self._server = _Server((self._host, 0), self)
        # A short poll interval keeps stop() (and so each test's teardown) from waiting the default half second.
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.01}, name="fake-oembed", daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is None:
            return
        self._stopping.set()
        self._server.shutdown()
        self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._server = self._thread = None

    def __enter__(self) -> OEmbedServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def base_url(self) -> str:
        if self._server is None:
            raise RuntimeError("the fake oEmbed server is not running")
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def endpoint(self, platform: str) -> str:
        return self.base_url + PATHS[platform]

    @property
    def endpoints(self) -> dict[str, str]:
        return {platform: self.endpoint(platform) for platform in PLATFORMS}

    # -- registry --------------------------------------------------------------------------------------------------

    def add_post(
        self,
        platform: str,
        url: str,
        *,
        author: str,
        caption: str = "",
        author_name: str | None = None,
        legacy_instagram_fields: bool = False,
        extra_fields: dict[str, Any] | None = None,
    ) -> FakePost:
        """Publish a post; ``author`` is the handle without '@'. ``extra_fields`` are merged into the payload."""
        if platform not in PLATFORMS:
            raise ValueError(f"unknown platform {platform!r}")
        post_id = post_key(platform, url)
        if post_id is None:
            raise ValueError(f"{url!r} names no {platform} post")
        post = FakePost(
            platform=platform,
            post_id=post_id,
            url=url,
            author=author.lstrip("@"),
            author_name=author_name or author.lstrip("@").title(),
            caption=caption,
            legacy_instagram_fields=legacy_instagram_fields,
            extra_fields=dict(extra_fields or {}),
        )
        with self._lock:
            self._posts[(platform, post_id)] = post
        return post

    def _post(self, url: str) -> FakePost:
        with self._lock:
            for platform in PLATFORMS:
                key = post_key(platform, url)
                if key is not None and (platform, key) in self._posts:
                    return self._posts[(platform, key)]
        raise KeyError(f"no post registered for {url!r}")

    def _update(self, url: str, **changes: Any) -> None:
        post = self._post(url)
        with self._lock:
            for name, value in changes.items():
                setattr(post, name, value)

    # -- scenarios -------------------------------------------------------------------------------------------------

    def delete(self, url: str) -> None:
        """From now on the platform answers as for a deleted post (YouTube 404, TikTok 400, Graph error 100)."""
        self._update(url, deleted=True)

    def make_private(self, url: str) -> None:
        """YouTube 403 "Forbidden", TikTok 403 JSON, Graph error 100 speaking of a private account."""
        self._update(url, private=True)

    def disable_embedding(self, url: str) -> None:
        """YouTube 401 "Unauthorized"; TikTok 403; Graph error 100 speaking of embedding."""
        self._update(url, embedding_disabled=True)

    def serve_malformed(self, url: str) -> None:
        """200 with an HTML page instead of JSON."""
        self._update(url, malformed=True)

    def respond_slowly(self, url: str, seconds: float) -> None:
        """Hold every answer for this post back by ``seconds`` (released early when the server stops)."""
        self._update(url, delay_seconds=seconds)

    def rate_limit(self, url: str, *, retry_after: str | int = 30, times: int = 1) -> None:
        """The next ``times`` requests get 429 with this Retry-After (seconds or an HTTP date).

        Graph usually throttles with error code 4 instead: ``respond_with(url, graph_error(4, "(#4) ..."))``.
        """
        retry = (("Retry-After", str(retry_after)),)
        self._queue(url, _json(429, {"code": 429, "message": "Too Many Requests"}, headers=retry), times)

    def fail_next(self, url: str, *, times: int = 1, status: int = 500) -> None:
        """The next ``times`` requests get this server error; later ones succeed again."""
        self._queue(url, _text(status, "<html><body>Internal Server Error</body></html>"), times)

    def respond_with(self, url: str, response: CannedResponse, *, times: int = 1) -> None:
        """The next ``times`` requests get exactly this answer (e.g. ``graph_error(190, ...)``)."""
        self._queue(url, response, times)

    def _queue(self, url: str, response: CannedResponse, times: int) -> None:
        post = self._post(url)
        with self._lock:
            post.queued.extend([response] * times)

    # -- observation -----------------------------------------------------------------------------------------------

    def request_count(self, url: str) -> int:
        """Requests that asked about the post this link names, registered or not."""
        with self._lock:
            return sum(self._counts[(p, key)] for p in PLATFORMS if (key := post_key(p, url)) is not None)

    @property
    def requests(self) -> list[RecordedRequest]:
        with self._lock:
            return list(self._requests)

    def reset(self) -> None:
        with self._lock:
            self._posts.clear()
            self._counts.clear()
            self._requests.clear()

    # -- answering -------------------------------------------------------------------------------------------------

    def _answer(self, raw_path: str, headers: dict[str, str]) -> tuple[CannedResponse, float]:
        parts = urlsplit(raw_path)
        params = {name: values[-1] for name, values in parse_qs(parts.query).items()}
        platform = next((p for p, path in PATHS.items() if parts.path.rstrip("/") == path), None)
        target = params.get("url", "")
        key = post_key(platform, target) if platform else None
        with self._lock:
            self._requests.append(RecordedRequest(platform, parts.path, params, headers, key))
            if platform and key:
                self._counts[(platform, key)] += 1
            post = self._posts.get((platform, key)) if platform and key else None
            queued = post.queued.popleft() if post and post.queued else None
            delay = post.delay_seconds if post else 0.0
        if platform is None:
            return _text(404, "Not Found"), 0.0
        if platform == "instagram" and self.instagram_token:
            given = headers.get("Authorization", "").removeprefix("Bearer ").strip() or params.get("access_token")
            if given != self.instagram_token:
                return graph_error(190, "Invalid OAuth access token - Cannot parse access token"), delay
        if not target:
            if platform == "instagram":
                return graph_error(100, "(#100) The parameter url is required"), delay
            return _text(400, "Bad Request"), delay
        if post is None:
            return _not_found(platform), delay
        if queued is not None:
            return queued, delay
        if post.deleted:
            return _not_found(platform), delay
        if post.private:
            return _not_public(platform), delay
        if post.embedding_disabled:
            return _not_public(platform, embedding=True), delay
        if post.malformed:
            return _text(200, "<!DOCTYPE html><html><body>Please enable JavaScript</body></html>"), delay
        payload = _PAYLOADS[platform](post) | post.extra_fields
        return _json(200, payload), delay
