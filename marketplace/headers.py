"""Security headers on every response, and the scheme and client address as seen through trusted proxies
(Secure cookies whenever the request came over HTTPS; rate limits keyed by the real client, not the proxy)."""

from __future__ import annotations

import ipaddress
from collections.abc import Awaitable, Callable, Sequence
from typing import TYPE_CHECKING

from litestar.enums import ScopeType
from litestar.middleware import ASGIMiddleware

if TYPE_CHECKING:
    from litestar.types import ASGIApp, Message, Receive, Scope, Send

Network = ipaddress.IPv4Network | ipaddress.IPv6Network

#: Our pages need no inline script or style; Stripe's card form (js.stripe.com) is the one third-party script.
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self' https://js.stripe.com; style-src 'self'; img-src 'self' data: https:; "
    "connect-src 'self' https://api.stripe.com; frame-src https://js.stripe.com https://hooks.stripe.com; "
    "frame-ancestors 'none'; base-uri 'self'; object-src 'none'"
)
PAGE_HEADERS = {
    "x-frame-options": "DENY",
    "referrer-policy": "same-origin",
    "x-content-type-options": "nosniff",
}
#: The API documentation pages (Swagger UI) bring their own script; they get the other headers but no CSP.
_NO_CSP_PREFIXES = ("/schema",)


def parse_trusted_proxies(raw: str) -> tuple[Network, ...]:
    """``TRUSTED_PROXIES``: comma-separated addresses or networks (``10.0.0.0/8, 127.0.0.1``)."""
    return tuple(ipaddress.ip_network(part.strip(), strict=False) for part in raw.split(",") if part.strip())


def _trusted(address: str, proxies: Sequence[Network]) -> bool:
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    return any(ip in network for network in proxies)


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope.get("headers", []):
        if key == name:
            return value.decode("latin-1")
    return None


def forwarded(scope: Scope, proxies: Sequence[Network]) -> tuple[str, str | None]:
    """(scheme, client address) of the original request: X-Forwarded-* count only when our peer is a trusted proxy,
    and the client is the nearest address in X-Forwarded-For that is not one of our proxies (earlier entries are
    whatever the client chose to send)."""
    scheme = scope.get("scheme", "http")
    peer = scope["client"][0] if scope.get("client") else None
    if peer is None or not _trusted(peer, proxies):
        return scheme, peer
    proto = (_header(scope, b"x-forwarded-proto") or "").split(",")[0].strip().lower()
    if proto in ("http", "https"):
        scheme = proto
    client = peer
    for hop in reversed([h.strip() for h in (_header(scope, b"x-forwarded-for") or "").split(",") if h.strip()]):
        client = hop
        if not _trusted(hop, proxies):
            break
    return scheme, client


class ProxyHeadersMiddleware(ASGIMiddleware):
    """Rewrites the scope's scheme and client from a trusted proxy's X-Forwarded-Proto/-For, before anything reads
    them (rate limits, audit entries)."""

    scopes = (ScopeType.HTTP,)

    def __init__(self, proxies: Sequence[Network]) -> None:
        self.proxies = tuple(proxies)

    async def handle(self, scope: Scope, receive: Receive, send: Send, next_app: ASGIApp) -> None:
        if self.proxies:
            scheme, client = forwarded(scope, self.proxies)
            scope["scheme"] = scheme
            if client is not None and scope.get("client"):
                scope["client"] = (client, scope["client"][1])
        await next_app(scope, receive, send)


def _one_charset(content_type: str) -> str:
    """Litestar appends "; charset=utf-8" to every text/* media type, also to one that already names it
    ("text/csv; charset=utf-8" went out with the charset twice); the first one stays."""
    kept, seen = [], False
    for part in content_type.split(";"):
        if part.strip().lower().startswith("charset="):
            if seen:
                continue
            seen = True
        kept.append(part)
    return ";".join(kept)


def _secure(cookie: str) -> str:
    attributes = [part.strip().lower() for part in cookie.split(";")[1:]]
    return cookie if "secure" in attributes else cookie + "; Secure"


def security_headers(proxies: Sequence[Network], *, always_https: bool) -> Callable[[Message, Scope], Awaitable[None]]:
    """A before-send hook (so it sees every response, 404s included, and cookies set by every middleware). Works on
    the raw header list with the header pairs built once here, not per response."""
    proxies = tuple(proxies)
    page_headers = [(name.encode(), value.encode()) for name, value in PAGE_HEADERS.items()]
    csp = (b"content-security-policy", CONTENT_SECURITY_POLICY.encode())

    async def before_send(message: Message, scope: Scope) -> None:
        if message["type"] != "http.response.start" or scope.get("type") != ScopeType.HTTP:
            return
        headers = list(message.get("headers") or ())
        present = set()
        for index, (name, value) in enumerate(headers):
            name = name.lower()
            present.add(name)
            if name == b"content-type" and value.lower().count(b"charset=") > 1:
                headers[index] = (b"content-type", _one_charset(value.decode("latin-1")).encode("latin-1"))
        headers.extend(pair for pair in page_headers if pair[0] not in present)
        if csp[0] not in present and not scope["path"].startswith(_NO_CSP_PREFIXES):
            headers.append(csp)
        if b"set-cookie" in present and (always_https or forwarded(scope, proxies)[0] == "https"):
            headers = [
                (name, _secure(value.decode("latin-1")).encode("latin-1"))
                if name.lower() == b"set-cookie"
                else (name, value)
                for name, value in headers
            ]
        message["headers"] = headers

    return before_send
