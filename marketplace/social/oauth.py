"""The OAuth side of each platform through Authlib: authorization links (state, PKCE), code exchange, refresh, revoke.

Each platform bends OAuth 2.0 a little, and each bend is handled here and nowhere else:
- TikTok names the client ``client_key`` (in the link and in token requests) and separates scopes with commas; its
  web flow documents no PKCE (only desktop apps, with a hex digest), so the state alone binds the callback.
- Instagram (API with Instagram Login) answers the code exchange with ``{"data": [{...}]}`` on newer app versions,
  gives a one-hour token that we trade at once for a 60-day one, and has no refresh token: the long-lived token
  refreshes itself (``ig_refresh_token``). It documents no PKCE and no revocation endpoint.
- Google supports PKCE (S256) and gives a refresh token only with ``access_type=offline``; a refresh keeps the old
  refresh token unless a new one comes back.
"""

from __future__ import annotations

import contextlib
import json
import secrets
import warnings
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import httpx
from authlib.common.security import generate_token
from authlib.deprecate import AuthlibDeprecationWarning

from marketplace.settings import SocialPlatformSettings

with warnings.catch_warnings():
    # Authlib 1.9 prefers the "httpx2" fork and warns once, at import, when it falls back to httpx. PostPact (and
    # its other clients: stripe, the stores) uses httpx, and Authlib's httpx client works with it; the warning is
    # about a future Authlib release, whose upgrade is a decision for then, not a message for every start-up.
    warnings.filterwarnings("ignore", message="The httpx module is deprecated", category=AuthlibDeprecationWarning)
    from authlib.integrations.httpx_client import AsyncOAuth2Client, OAuthError

SCOPES = {
    "instagram": "instagram_business_basic,instagram_business_manage_insights",
    "tiktok": "user.info.basic,user.info.profile,user.info.stats,video.list",
    "youtube": "https://www.googleapis.com/auth/youtube.readonly",
}
PKCE = {"instagram": False, "tiktok": False, "youtube": True}
LABELS = {"instagram": "Instagram", "tiktok": "TikTok", "youtube": "YouTube"}


class OAuthRefused(Exception):
    """The platform refused a code or a token (invalid_grant, revoked, expired): the creator must connect again."""


class OAuthUnavailable(Exception):
    """The platform couldn't be reached or answered nonsense: try again later; nothing about the creator."""


@dataclass(frozen=True)
class Tokens:
    access_token: str
    refresh_token: str | None
    expires_at: datetime | None
    scope: str
    #: The account id some platforms send with the token (TikTok open_id, Instagram user_id).
    account_id: str | None = None

    def __repr__(self) -> str:  # tokens never reach a log line through a repr
        return f"Tokens(expires_at={self.expires_at!r}, scope={self.scope!r})"


@dataclass(frozen=True)
class AuthorizationStart:
    url: str
    state: str
    code_verifier: str | None


def _unwrap_instagram(response: httpx.Response) -> httpx.Response:
    """Instagram's newer answer nests the token in ``data[0]``; Authlib reads the top level."""
    try:
        body = response.json()
    except ValueError:
        return response
    if isinstance(body, dict) and isinstance(body.get("data"), list) and body["data"]:
        return httpx.Response(response.status_code, json=body["data"][0], request=response.request)
    return response


class OAuthFlow:
    """One platform's OAuth client settings; builds a fresh Authlib client per exchange."""

    def __init__(self, platform: str, config: SocialPlatformSettings, redirect_uri: str, *,
                 transport: httpx.AsyncBaseTransport | None = None, timeout: float = 10.0) -> None:
        self.platform = platform
        self.config = config
        self.redirect_uri = redirect_uri
        self._transport = transport
        self._timeout = timeout

    def _client(self) -> AsyncOAuth2Client:
        client = AsyncOAuth2Client(
            client_id=self.config.client_id,
            client_secret=self.config.client_secret,
            scope=SCOPES[self.platform],
            redirect_uri=self.redirect_uri,
            token_endpoint_auth_method="client_secret_post",  # noqa: S106 (a method name)
            revocation_endpoint_auth_method="client_secret_post",
            code_challenge_method="S256" if PKCE[self.platform] else None,
            timeout=self._timeout,
            trust_env=False,
            **({"transport": self._transport} if self._transport else {}),
        )
        if self.platform == "instagram":
            client.register_compliance_hook("access_token_response", _unwrap_instagram)
        return client

    def _extra(self) -> dict[str, str]:
        return {"client_key": self.config.client_id or ""} if self.platform == "tiktok" else {}

    def start(self) -> AuthorizationStart:
        state = secrets.token_urlsafe(32)
        verifier = generate_token(64) if PKCE[self.platform] else None
        extra: dict[str, str] = dict(self._extra())
        if self.platform == "youtube":
            extra.update(access_type="offline", prompt="consent", include_granted_scopes="true")
        client = self._client()
        url, _ = client.create_authorization_url(self.config.authorize_url, state=state, code_verifier=verifier,
                                                 **extra)
        return AuthorizationStart(url, state, verifier)

    async def exchange(self, code: str, code_verifier: str | None, now: datetime) -> Tokens:
        kwargs: dict[str, Any] = dict(self._extra())
        if code_verifier:
            kwargs["code_verifier"] = code_verifier
        async with self._client() as client:
            token = await self._token_call(client.fetch_token(self.config.token_url, code=code, **kwargs))
            if self.platform == "instagram":
                # Trade the one-hour token for the 60-day one straight away.
                long_lived = await self._get_json(client, f"{self.config.api_base}/access_token", {
                    "grant_type": "ig_exchange_token", "client_secret": self.config.client_secret or "",
                    "access_token": token["access_token"]})
                token = {**token, **long_lived}
        return self._tokens(token, now)

    async def refresh(self, tokens: Tokens, now: datetime) -> Tokens:
        async with self._client() as client:
            if self.platform == "instagram":
                token = await self._get_json(client, f"{self.config.api_base}/refresh_access_token", {
                    "grant_type": "ig_refresh_token", "access_token": tokens.access_token})
            else:
                if not tokens.refresh_token:
                    raise OAuthRefused("no refresh token")
                token = await self._token_call(client.refresh_token(
                    self.config.token_url, refresh_token=tokens.refresh_token, **self._extra()))
        fresh = self._tokens(token, now)
        if fresh.refresh_token is None:
            fresh = Tokens(fresh.access_token, tokens.refresh_token, fresh.expires_at, fresh.scope or tokens.scope,
                           fresh.account_id)
        return fresh

    async def revoke(self, tokens: Tokens) -> None:
        """Best effort: the tokens are deleted on our side whatever the platform says."""
        if not self.config.revoke_url:
            return
        async with self._client() as client:
            with contextlib.suppress(httpx.HTTPError, OAuthError):
                await client.revoke_token(self.config.revoke_url, token=tokens.refresh_token or tokens.access_token,
                                          **self._extra())

    async def _token_call(self, call: Any) -> dict[str, Any]:
        try:
            token = await call
        except OAuthError as exc:
            raise OAuthRefused(exc.error or "refused") from None
        except httpx.HTTPError as exc:
            raise OAuthUnavailable(type(exc).__name__) from None
        except ValueError:
            raise OAuthUnavailable("the token endpoint's answer is not JSON") from None
        if not isinstance(token, dict) or not token.get("access_token"):
            raise OAuthUnavailable("the token endpoint's answer has no access token")
        return dict(token)

    async def _get_json(self, client: AsyncOAuth2Client, url: str, params: dict[str, str]) -> dict[str, Any]:
        try:
            response = await client.get(url, params=params)
        except httpx.HTTPError as exc:
            raise OAuthUnavailable(type(exc).__name__) from None
        if response.status_code in (400, 401, 403):
            raise OAuthRefused(f"HTTP {response.status_code}")
        try:
            body = response.json()
        except json.JSONDecodeError:
            raise OAuthUnavailable(f"HTTP {response.status_code}, not JSON") from None
        if response.status_code != 200 or not isinstance(body, dict) or not body.get("access_token"):
            raise OAuthUnavailable(f"HTTP {response.status_code}")
        return body

    @staticmethod
    def _tokens(token: dict[str, Any], now: datetime) -> Tokens:
        expires_in = token.get("expires_in")
        expires_at = now + timedelta(seconds=int(expires_in)) if isinstance(expires_in, int | float | str) \
            and str(expires_in).isdigit() else None
        account = token.get("open_id") or token.get("user_id")
        return Tokens(
            access_token=str(token["access_token"]),
            refresh_token=str(token["refresh_token"]) if token.get("refresh_token") else None,
            expires_at=expires_at,
            scope=str(token.get("scope") or token.get("permissions") or "")[:500],
            account_id=str(account) if account else None,
        )
