"""A local stand-in for Instagram (API with Instagram Login), TikTok (Login Kit v2 + Display API) and YouTube (Google
OAuth + Data API v3): authorization servers (authorize, token, refresh, revoke) and the account APIs PostPact reads.

    with SocialServer() as server:
        server.add_account("tiktok", "mia", followers=12_000)
        server.add_media("tiktok", "mia", "7559684939684400414", caption="Serum #ad", views=1000)
        env = server.env()                 # TIKTOK_CLIENT_ID, TIKTOK_TOKEN_URL, ... for Settings.from_env
        server.login_as("tiktok", "mia")   # who "signs in" at the next authorize
        server.rate_limit_next("tiktok", times=1, retry_after=7)
        server.revoke_account("tiktok", "mia")   # every token of the account refused from now on
        server.delete_media("tiktok", "7559684939684400414")

Paths mirror the real ones under a prefix per host: /instagram (www.instagram.com, api.instagram.com and
graph.instagram.com), /tiktok (www.tiktok.com and open.tiktokapis.com), /google (accounts.google.com and
oauth2.googleapis.com) and /youtube (www.googleapis.com). Answers copy the platforms' field names, string-typed
YouTube counts, Graph's {"error": {"code": 190}} and TikTok's {"data", "error": {"code"}} envelopes.
"""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

PLATFORMS = ("instagram", "tiktok", "youtube")


@dataclass
class FakeMedia:
    post_ref: str
    media_id: str
    caption: str
    published_at: datetime
    views: int = 0
    likes: int = 0
    comments: int = 0
    shares: int = 0
    saves: int = 0
    reach: int = 0
    deleted: bool = False


@dataclass
class FakeAccount:
    platform: str
    handle: str
    external_id: str
    followers: int
    media: dict[str, FakeMedia] = field(default_factory=dict)


@dataclass
class Grant:
    platform: str
    handle: str
    redirect_uri: str
    challenge: str | None


class SocialServer:
    def __init__(self) -> None:
        self.accounts: dict[tuple[str, str], FakeAccount] = {}
        self.logged_in: dict[str, str] = {}
        self.codes: dict[str, Grant] = {}
        #: token → (platform, handle, expires at (time.time()))
        self.access: dict[str, tuple[str, str, float]] = {}
        self.refresh: dict[str, tuple[str, str]] = {}
        self.revoked: list[str] = []
        self.faults: dict[str, list[tuple[int, float | None]]] = {p: [] for p in PLATFORMS}
        self.calls: Counter[str] = Counter()
        self.seen_authorization_headers: list[str] = []
        self.lock = threading.Lock()
        self.access_lifetime = 3600.0
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # --- arranging ----------------------------------------------------------------------------------------------

    def client_id(self, platform: str) -> str:
        return f"pp-{platform}-client"

    def client_secret(self, platform: str) -> str:
        return f"pp-{platform}-secret-{'x' * 8}"

    def add_account(self, platform: str, handle: str, *, followers: int = 10_000) -> FakeAccount:
        account = FakeAccount(platform, handle, f"{platform[:2]}-{secrets.token_hex(6)}", followers)
        self.accounts[(platform, handle)] = account
        return account

    def add_media(self, platform: str, handle: str, post_ref: str, *, caption: str = "",
                  published_at: datetime | None = None, **counts: int) -> FakeMedia:
        media = FakeMedia(post_ref, str(10**15 + len(self.all_media())), caption,
                          published_at or datetime.now(UTC), **counts)
        self.accounts[(platform, handle)].media[post_ref] = media
        return media

    def all_media(self) -> list[FakeMedia]:
        return [m for a in self.accounts.values() for m in a.media.values()]

    def media(self, platform: str, post_ref: str) -> FakeMedia:
        return next(m for a in self.accounts.values() if a.platform == platform for m in a.media.values()
                    if m.post_ref == post_ref)

    def delete_media(self, platform: str, post_ref: str) -> None:
        self.media(platform, post_ref).deleted = True

    def login_as(self, platform: str, handle: str) -> None:
        self.logged_in[platform] = handle

    def rate_limit_next(self, platform: str, *, times: int = 1, retry_after: float = 5) -> None:
        self.faults[platform].extend([(429, retry_after)] * times)

    def fail_next(self, platform: str, *, times: int = 1, status: int = 500) -> None:
        self.faults[platform].extend([(status, None)] * times)

    def revoke_account(self, platform: str, handle: str) -> None:
        """The creator removed PostPact in the platform's settings: every token refused, refresh included."""
        with self.lock:
            for token, (p, h, _) in list(self.access.items()):
                if (p, h) == (platform, handle):
                    del self.access[token]
            for token, (p, h) in list(self.refresh.items()):
                if (p, h) == (platform, handle):
                    del self.refresh[token]

    def expire_access_tokens(self, platform: str) -> None:
        with self.lock:
            for token, (p, h, _) in list(self.access.items()):
                if p == platform:
                    self.access[token] = (p, h, 0.0)

    def tokens_issued(self) -> list[str]:
        return [*self.access, *self.refresh]

    # --- serving --------------------------------------------------------------------------------------------------

    @property
    def url(self) -> str:
        assert self._server is not None
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    def env(self, platforms: tuple[str, ...] = PLATFORMS) -> dict[str, str]:
        base = self.url
        urls = {
            "instagram": (f"{base}/instagram/oauth/authorize", f"{base}/instagram/oauth/access_token", "",
                          f"{base}/instagram"),
            "tiktok": (f"{base}/tiktok/v2/auth/authorize/", f"{base}/tiktok/v2/oauth/token/",
                       f"{base}/tiktok/v2/oauth/revoke/", f"{base}/tiktok"),
            "youtube": (f"{base}/google/o/oauth2/v2/auth", f"{base}/google/token", f"{base}/google/revoke",
                        f"{base}/youtube"),
        }
        env: dict[str, str] = {}
        for platform in platforms:
            prefix = platform.upper()
            authorize, token, revoke, api = urls[platform]
            env.update({f"{prefix}_CLIENT_ID": self.client_id(platform),
                        f"{prefix}_CLIENT_SECRET": self.client_secret(platform),
                        f"{prefix}_AUTHORIZE_URL": authorize, f"{prefix}_TOKEN_URL": token,
                        f"{prefix}_REVOKE_URL": revoke, f"{prefix}_API_BASE": api})
        return env

    def __enter__(self) -> SocialServer:
        server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(self))
        server.daemon_threads = True
        self._server = server
        self._thread = threading.Thread(target=server.serve_forever, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()

    # --- protocol ---------------------------------------------------------------------------------------------------

    def _issue(self, platform: str, handle: str, *, with_refresh: bool = True) -> dict[str, Any]:
        access = f"{platform[:2]}at-{secrets.token_urlsafe(24)}"
        self.access[access] = (platform, handle, time.time() + self.access_lifetime)
        answer: dict[str, Any] = {"access_token": access, "expires_in": int(self.access_lifetime),
                                  "token_type": "Bearer"}
        if with_refresh:
            refresh = f"{platform[:2]}rt-{secrets.token_urlsafe(24)}"
            self.refresh[refresh] = (platform, handle)
            answer["refresh_token"] = refresh
        return answer

    def account_for(self, platform: str, token: str | None) -> FakeAccount | None:
        with self.lock:
            entry = self.access.get(token or "")
        if entry is None or entry[0] != platform or entry[2] < time.time():
            return None
        return self.accounts.get((platform, entry[1]))


def _handler(fake: SocialServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:
            pass

        # -- plumbing --
        def _send(self, status: int, body: Any, headers: dict[str, str] | None = None) -> None:
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json; charset=utf-8")
            self.send_header("Content-Length", str(len(data)))
            for k, v in (headers or {}).items():
                self.send_header(k, v)
            self.end_headers()
            self.wfile.write(data)

        def _redirect(self, location: str) -> None:
            self.send_response(302)
            self.send_header("Location", location)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def _form(self) -> dict[str, str]:
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length).decode() if length else ""
            if self.headers.get("Content-Type", "").startswith("application/json"):
                body = json.loads(raw or "{}")
                return body if isinstance(body, dict) else {}
            return {k: v[0] for k, v in parse_qs(raw).items()}

        def _query(self) -> dict[str, str]:
            return {k: v[0] for k, v in parse_qs(urlsplit(self.path).query).items()}

        def _bearer(self) -> str | None:
            value = self.headers.get("Authorization", "")
            if value:
                fake.seen_authorization_headers.append(value)
            return value[7:] if value.startswith("Bearer ") else None

        def _fault(self, platform: str) -> bool:
            with fake.lock:
                fault = fake.faults[platform].pop(0) if fake.faults[platform] else None
            if fault is None:
                return False
            status, retry_after = fault
            headers = {"Retry-After": str(int(retry_after))} if retry_after is not None else {}
            body: Any = {"error": {"code": "rate_limit_exceeded" if status == 429 else "internal_error",
                                   "message": "stand-in fault"}}
            self._send(status, body, headers)
            return True

        def do_GET(self) -> None:
            self._route("GET")

        def do_POST(self) -> None:
            self._route("POST")

        def _route(self, method: str) -> None:
            path = urlsplit(self.path).path
            platform = {"instagram": "instagram", "tiktok": "tiktok", "google": "youtube",
                        "youtube": "youtube"}.get(path.split("/")[1] if "/" in path else "", "")
            fake.calls[f"{method} {path}"] += 1
            if not platform:
                self._send(404, {"error": "no such path"})
                return
            if method == "GET" and path in ("/instagram/oauth/authorize", "/tiktok/v2/auth/authorize/",
                                            "/google/o/oauth2/v2/auth"):
                self._authorize(platform)
                return
            if path in ("/instagram/oauth/access_token", "/tiktok/v2/oauth/token/", "/google/token"):
                self._token(platform, self._form())
                return
            if path in ("/tiktok/v2/oauth/revoke/", "/google/revoke"):
                self._revoke(platform, self._form())
                return
            if path in ("/instagram/access_token", "/instagram/refresh_access_token"):
                self._instagram_long_lived(self._query())
                return
            if self._fault(platform):
                return
            account = fake.account_for(platform, self._bearer())
            if account is None:
                self._unauthorised(platform)
                return
            getattr(self, f"_{platform}_api")(method, path, account)

        # -- authorization server --
        def _authorize(self, platform: str) -> None:
            q = self._query()
            client = q.get("client_key") if platform == "tiktok" else q.get("client_id")
            if client != fake.client_id(platform) or not q.get("redirect_uri"):
                self._send(400, {"error": "invalid_client"})
                return
            handle = fake.logged_in.get(platform)
            if handle is None:
                denied = urlencode({"error": "access_denied", "state": q.get("state", "")})
                self._redirect(f"{q['redirect_uri']}?{denied}")
                return
            code = secrets.token_urlsafe(16)
            challenge = q.get("code_challenge") if platform == "youtube" else None
            if platform == "youtube" and (not challenge or q.get("code_challenge_method") != "S256"):
                self._send(400, {"error": "invalid_request", "error_description": "PKCE required"})
                return
            fake.codes[code] = Grant(platform, handle, q["redirect_uri"], challenge)
            self._redirect(f"{q['redirect_uri']}?{urlencode({'code': code, 'state': q.get('state', '')})}")

        def _token(self, platform: str, form: dict[str, str]) -> None:
            client = form.get("client_key") if platform == "tiktok" else form.get("client_id")
            if client != fake.client_id(platform) or form.get("client_secret") != fake.client_secret(platform):
                self._send(401, {"error": "invalid_client", "error_description": "bad client credentials"})
                return
            with fake.lock:
                if form.get("grant_type") == "refresh_token" and platform != "instagram":
                    owner = fake.refresh.get(form.get("refresh_token", ""))
                    if owner is None:
                        self._send(400, {"error": "invalid_grant", "error_description": "refresh token revoked"})
                        return
                    if platform == "tiktok":  # TikTok rotates refresh tokens
                        del fake.refresh[form["refresh_token"]]
                    answer = fake._issue(platform, owner[1], with_refresh=platform == "tiktok")
                    self._send(200, self._token_answer(platform, owner[1], answer))
                    return
                grant = fake.codes.pop(form.get("code", ""), None)
            if grant is None or grant.platform != platform or grant.redirect_uri != form.get("redirect_uri"):
                self._send(400, {"error": "invalid_grant", "error_description": "code unknown or used"})
                return
            if grant.challenge is not None:
                digest = hashlib.sha256(form.get("code_verifier", "").encode()).digest()
                if base64.urlsafe_b64encode(digest).rstrip(b"=").decode() != grant.challenge:
                    self._send(400, {"error": "invalid_grant", "error_description": "code_verifier mismatch"})
                    return
            with fake.lock:
                answer = fake._issue(platform, grant.handle, with_refresh=platform != "instagram")
            if platform == "instagram":
                account = fake.accounts[(platform, grant.handle)]
                self._send(200, {"data": [{"access_token": answer["access_token"], "user_id": account.external_id,
                                           "permissions": "instagram_business_basic"}]})
                return
            self._send(200, self._token_answer(platform, grant.handle, answer))

        def _token_answer(self, platform: str, handle: str, answer: dict[str, Any]) -> dict[str, Any]:
            if platform == "tiktok":
                answer.update(open_id=fake.accounts[(platform, handle)].external_id, refresh_expires_in=31536000,
                              scope="user.info.basic,user.info.profile,user.info.stats,video.list")
            else:
                answer["scope"] = "https://www.googleapis.com/auth/youtube.readonly"
            return answer

        def _revoke(self, platform: str, form: dict[str, str]) -> None:
            token = form.get("token", "")
            with fake.lock:
                owner = fake.refresh.pop(token, None) or fake.access.pop(token, None)
                if owner is not None:
                    for t, (p, h, *_rest) in list(fake.access.items()):
                        if (p, h) == (owner[0], owner[1]):
                            del fake.access[t]
                    fake.revoked.append(token)
            self._send(200, {})

        def _instagram_long_lived(self, q: dict[str, str]) -> None:
            with fake.lock:
                entry = fake.access.get(q.get("access_token", ""))
                if q.get("grant_type") == "ig_exchange_token" and \
                        q.get("client_secret") != fake.client_secret("instagram"):
                    entry = None
                if entry is None or entry[2] < time.time():
                    self._send(400, {"error": {"message": "Error validating access token", "type": "OAuthException",
                                               "code": 190}})
                    return
                del fake.access[q["access_token"]]
                answer = fake._issue("instagram", entry[1], with_refresh=False)
            self._send(200, {"access_token": answer["access_token"], "token_type": "bearer", "expires_in": 5184000})

        def _unauthorised(self, platform: str) -> None:
            if platform == "instagram":
                self._send(400, {"error": {"message": "Error validating access token: the session is invalid",
                                           "type": "OAuthException", "code": 190}})
            elif platform == "tiktok":
                self._send(401, {"data": {}, "error": {"code": "access_token_invalid",
                                                       "message": "The access token is invalid or not found"}})
            else:
                self._send(401, {"error": {"code": 401, "status": "UNAUTHENTICATED",
                                           "message": "Request had invalid authentication credentials.",
                                           "errors": [{"reason": "authError"}]}})

        # -- APIs --
        def _instagram_api(self, method: str, path: str, account: FakeAccount) -> None:
            live = [m for m in account.media.values() if not m.deleted]
            if path == "/instagram/v22.0/me":
                self._send(200, {"id": account.external_id, "user_id": account.external_id,
                                 "username": account.handle, "followers_count": account.followers,
                                 "media_count": len(live)})
                return
            if path == "/instagram/v22.0/me/media":
                self._send(200, {"data": [{
                    "id": m.media_id, "caption": m.caption, "media_type": "VIDEO",
                    "permalink": f"https://www.instagram.com/reel/{m.post_ref}/", "username": account.handle,
                    "timestamp": m.published_at.strftime("%Y-%m-%dT%H:%M:%S+0000"), "like_count": m.likes,
                    "comments_count": m.comments} for m in sorted(live, key=lambda m: m.published_at, reverse=True)],
                    "paging": {}})
                return
            parts = path.split("/")
            if len(parts) == 5 and parts[4] == "insights":
                media = next((m for m in account.media.values() if m.media_id == parts[3]), None)
                if media is None or media.deleted:
                    self._send(400, {"error": {"message": "Unsupported get request. Object does not exist",
                                               "type": "GraphMethodException", "code": 100}})
                    return
                values = {"views": media.views, "reach": media.reach, "saved": media.saves, "shares": media.shares}
                self._send(200, {"data": [{"name": k, "period": "lifetime", "values": [{"value": v}]}
                                          for k, v in values.items()]})
                return
            self._send(404, {"error": {"message": "Unknown path", "code": 100}})

        def _tiktok_video(self, m: FakeMedia, account: FakeAccount) -> dict[str, Any]:
            return {"id": m.post_ref, "create_time": int(m.published_at.timestamp()),
                    "share_url": f"https://www.tiktok.com/@{account.handle}/video/{m.post_ref}",
                    "video_description": m.caption, "title": m.caption[:40], "like_count": m.likes,
                    "comment_count": m.comments, "share_count": m.shares, "view_count": m.views}

        def _tiktok_api(self, method: str, path: str, account: FakeAccount) -> None:
            ok = {"code": "ok", "message": "", "log_id": secrets.token_hex(8)}
            live = [m for m in account.media.values() if not m.deleted]
            if path == "/tiktok/v2/user/info/":
                self._send(200, {"data": {"user": {"open_id": account.external_id, "username": account.handle,
                                                   "display_name": account.handle.title(),
                                                   "follower_count": account.followers, "video_count": len(live),
                                                   "likes_count": sum(m.likes for m in live)}}, "error": ok})
                return
            if path == "/tiktok/v2/video/list/" and method == "POST":
                body = self._form()
                count = int(body.get("max_count") or 20)
                videos = sorted(live, key=lambda m: m.published_at, reverse=True)[:count]
                self._send(200, {"data": {"videos": [self._tiktok_video(m, account) for m in videos],
                                          "cursor": 0, "has_more": False}, "error": ok})
                return
            if path == "/tiktok/v2/video/query/" and method == "POST":
                ids = ((self._form().get("filters") or {}).get("video_ids")) or []
                videos = [self._tiktok_video(m, account) for m in live if m.post_ref in ids]
                self._send(200, {"data": {"videos": videos, "cursor": 0, "has_more": False}, "error": ok})
                return
            self._send(404, {"data": {}, "error": {"code": "invalid_params", "message": "unknown path"}})

        def _youtube_api(self, method: str, path: str, account: FakeAccount) -> None:
            live = [m for m in account.media.values() if not m.deleted]
            q = self._query()
            uploads = "UU" + account.external_id
            if path == "/youtube/youtube/v3/channels":
                self._send(200, {"kind": "youtube#channelListResponse", "items": [{
                    "id": account.external_id,
                    "snippet": {"title": account.handle.title(), "customUrl": f"@{account.handle}"},
                    "statistics": {"subscriberCount": str(account.followers), "videoCount": str(len(live)),
                                   "viewCount": str(sum(m.views for m in live)), "hiddenSubscriberCount": False},
                    "contentDetails": {"relatedPlaylists": {"uploads": uploads}}}]})
                return
            if path == "/youtube/youtube/v3/playlistItems" and q.get("playlistId") == uploads:
                self._send(200, {"items": [{"contentDetails": {"videoId": m.post_ref,
                                                               "videoPublishedAt": m.published_at.isoformat()}}
                                           for m in sorted(live, key=lambda m: m.published_at, reverse=True)]})
                return
            if path == "/youtube/youtube/v3/videos":
                ids = set((q.get("id") or "").split(","))
                self._send(200, {"items": [{
                    "id": m.post_ref,
                    "snippet": {"publishedAt": m.published_at.strftime("%Y-%m-%dT%H:%M:%SZ"),
                                "channelId": account.external_id, "title": m.caption.split("\n")[0],
                                "description": m.caption, "channelTitle": account.handle.title()},
                    "statistics": {"viewCount": str(m.views), "likeCount": str(m.likes),
                                   "commentCount": str(m.comments), "favoriteCount": "0"}}
                    for m in live if m.post_ref in ids]})
                return
            self._send(404, {"error": {"code": 404, "message": "Not Found", "errors": [{"reason": "notFound"}]}})

    return Handler
