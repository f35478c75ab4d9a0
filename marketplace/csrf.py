"""CSRF tokens bound to the server-side session: a form or htmx request must carry the token stored in the caller's
own session, so a cookie and token pair planted from another session (Litestar's double-submit check accepts any
pair it signed) is refused."""

from __future__ import annotations

import secrets
from typing import TYPE_CHECKING, Any

from litestar.datastructures import Cookie, MutableScopeHeaders
from litestar.enums import RequestEncodingType, ScopeType
from litestar.exceptions import PermissionDeniedException
from litestar.middleware import ASGIMiddleware
from litestar.utils.scope.state import ScopeState

from marketplace.i18n import gettext
from marketplace.sessions import ROTATE_SESSION_KEY

if TYPE_CHECKING:
    from litestar.connection import Request
    from litestar.types import ASGIApp, Message, Receive, Scope, Send

CSRF_COOKIE = "postpact_csrf"
CSRF_HEADER = "x-csrftoken"
CSRF_FIELD = "_csrf_token"
SESSION_CSRF = "_csrf"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
#: Bearer-token API calls, signed webhooks and static files carry no session to forge requests with.
EXCLUDED_PREFIXES = ("/api/", "/webhooks/", "/healthz", "/readyz", "/schema", "/static/")


def _session_token(scope: Scope) -> str | None:
    session = scope.get("session")
    token = session.get(SESSION_CSRF) if isinstance(session, dict) else None
    return token if isinstance(token, str) and token else None


def _ensure_session_token(scope: Scope) -> str:
    """The session's token, creating one (and the session) when there is none yet; a session cleared by sign-out
    starts again under a new id."""
    token = _session_token(scope)
    if token is not None:
        return token
    token = secrets.token_urlsafe(32)
    session = scope.get("session")
    if isinstance(session, dict):
        session[SESSION_CSRF] = token
    else:
        scope["session"] = {SESSION_CSRF: token, ROTATE_SESSION_KEY: True}
    return token


class SessionCsrfMiddleware(ASGIMiddleware):
    """Runs inside the session middleware. The token also goes out in an HttpOnly cookie: not for checking (the
    session is the truth) but so non-browser clients (the tests' browser stand-in) can find the current token."""

    scopes = (ScopeType.HTTP,)
    should_bypass_for_scope = staticmethod(lambda scope: scope["path"].startswith(EXCLUDED_PREFIXES))

    async def handle(self, scope: Scope, receive: Receive, send: Send, next_app: ASGIApp) -> None:
        state = ScopeState.from_scope(scope)
        if scope["method"] in SAFE_METHODS:
            state.csrf_token = _ensure_session_token(scope)
        else:
            request: Request[Any, Any, Any] = scope["litestar_app"].request_class(scope=scope, receive=receive)
            submitted = request.headers.get(CSRF_HEADER)
            content_type, _ = request.content_type
            if not submitted and content_type in (RequestEncodingType.URL_ENCODED, RequestEncodingType.MULTI_PART):
                value = (await request.form()).get(CSRF_FIELD)
                submitted = value if isinstance(value, str) else None
            expected = _session_token(scope)
            if not submitted or expected is None or not secrets.compare_digest(submitted, expected):
                raise PermissionDeniedException(gettext('CSRF token verification failed'))
            state.csrf_token = expected
        cookie_token = self._cookie(scope)

        async def send_with_token(message: Message) -> None:
            if message["type"] == "http.response.start":
                # Sign-in rotates the session with fresh data and sign-out clears it: either way the token the
                # next form needs is the session's as it leaves, so the cookie follows it.
                token = _ensure_session_token(scope)
                if token != cookie_token:
                    cookie = Cookie(key=CSRF_COOKIE, value=token, path="/", httponly=True, samesite="lax")
                    MutableScopeHeaders.from_message(message).add("set-cookie", cookie.to_header(header=""))
            await send(message)

        await next_app(scope, receive, send_with_token)

    @staticmethod
    def _cookie(scope: Scope) -> str | None:
        for name, value in scope.get("headers", []):
            if name == b"cookie":
                for part in value.decode("latin-1").split(";"):
                    key, _, val = part.strip().partition("=")
                    if key == CSRF_COOKIE:
                        return val
        return None
