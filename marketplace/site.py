"""Site-wide pages: home, the brand and creator dashboards, health check and the development outbox
(the admin console is marketplace/admin)."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from litestar import MediaType, Request, Response, get
from litestar.di import NamedDependency
from litestar.enums import ScopeType
from litestar.middleware import ASGIMiddleware
from litestar.types import ASGIApp, Receive, Scope, Send
from redis.asyncio import Redis
from sqlalchemy.ext.asyncio import AsyncSession

from marketplace.accounts.auth import READ_ONLY
from marketplace.accounts.controllers import home_for
from marketplace.accounts.guards import admin_only, brand_member, creator_only
from marketplace.dashboards import brand_dashboard, creator_dashboard
from marketplace.headers import CONTENT_SECURITY_POLICY, PAGE_HEADERS
from marketplace.notifications.mail import write_pending
from marketplace.notifications.models import OutboxEmail
from marketplace.payments.services import payout_status
from marketplace.web import PageController, redirect, render, runtime_of

HEALTHZ_PATH = "/healthz"
_ALIVE_BODY = b'{"status":"ok"}'
_ALIVE_START = {
    "type": "http.response.start",
    "status": 200,
    # The security headers written here already, so the app's before-send hook finds them and adds nothing.
    "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(_ALIVE_BODY)).encode()),
                (b"cache-control", b"no-store"), (b"content-security-policy", CONTENT_SECURITY_POLICY.encode()),
                *((name.encode(), value.encode()) for name, value in PAGE_HEADERS.items())],
}


class LivenessMiddleware(ASGIMiddleware):
    """Outermost: answers ``GET /healthz`` before the session, actor, locale and CSRF layers run, so a liveness
    probe costs no I/O and no per-request work. Other methods, and requests with a query string, fall
    through to the route (405, as for any GET route; the input guard for odd queries); the route itself stays for
    the OpenAPI schema and answers the same body."""

    scopes = (ScopeType.HTTP,)
    should_bypass_for_scope = staticmethod(lambda scope: scope["path"] != HEALTHZ_PATH)

    async def handle(self, scope: Scope, receive: Receive, send: Send, next_app: ASGIApp) -> None:
        if scope["method"] != "GET" or scope.get("query_string"):
            # A probe sends a bare GET; anything else takes the normal path (the input guard judges odd queries).
            await next_app(scope, receive, send)
            return
        await send({**_ALIVE_START, "headers": list(_ALIVE_START["headers"])})  # before_send hooks may add to it
        await send({"type": "http.response.body", "body": _ALIVE_BODY})


class SitePages(PageController):
    @get("/", name="home")
    async def home(self, request: Request[Any, Any, Any]) -> Response[Any]:
        actor = request.scope.get("user")
        if actor is not None:
            return redirect(request, home_for(actor))
        return render(request, "home.html")

    @get("/brand", name="brand_home", guards=[brand_member()], opt={READ_ONLY: True})
    async def brand_home(self, request: Request[Any, Any, Any],
                         db_session: NamedDependency[AsyncSession]) -> Response[Any]:
        board = await brand_dashboard(db_session, request.user.brand_id)
        return render(request, "dashboards/brand.html", {"board": board})

    @get("/creator", name="creator_home", guards=[creator_only], opt={READ_ONLY: True})
    async def creator_home(self, request: Request[Any, Any, Any],
                           db_session: NamedDependency[AsyncSession]) -> Response[Any]:
        board = await creator_dashboard(db_session, request.user.creator_id)
        payouts = await payout_status(db_session, request.user.creator_id)
        return render(request, "dashboards/creator.html", {"board": board, "payouts": payouts})

    @get(HEALTHZ_PATH, name="healthz", media_type=MediaType.JSON)
    async def healthz(self) -> dict[str, str]:
        """Liveness: the process answers. No I/O, so a load balancer's probe costs nothing and a slow database
        doesn't get healthy processes restarted; ``/readyz`` says whether the database and Redis answer."""
        return {"status": "ok"}

    @get("/readyz", name="readyz", media_type=MediaType.JSON)
    async def readyz(
        self, request: Request[Any, Any, Any], db_session: NamedDependency[AsyncSession]
    ) -> Response[Any]:
        runtime = runtime_of(request)
        checks: dict[str, str] = {}
        try:
            await db_session.execute(sa.text("SELECT 1"))
            checks["database"] = "ok"
        except Exception as exc:  # report, don't crash: this endpoint exists to say what is broken
            checks["database"] = f"error: {type(exc).__name__}"
        if runtime.settings.redis.url:
            try:
                client = Redis.from_url(runtime.settings.redis.url, socket_connect_timeout=2, socket_timeout=2)
                try:
                    await client.ping()
                finally:
                    await client.aclose()
                checks["redis"] = "ok"
            except Exception as exc:
                checks["redis"] = f"error: {type(exc).__name__}"
        else:
            checks["redis"] = "not configured"
        healthy = all(v in {"ok", "not configured"} for v in checks.values())
        return Response(
            content={"status": "ok" if healthy else "unavailable", **checks}, status_code=200 if healthy else 503
        )


class DevOutbox(PageController):
    """Development only: read the emails PostPact would have sent (registered only outside production).

    Admins only, even in development: the emails carry password-reset and invitation links, and a development
    server is often reachable by more people than its operator."""

    @get("/dev/outbox", name="dev_outbox", guards=[admin_only])
    async def outbox(self, request: Request[Any, Any, Any], db_session: NamedDependency[AsyncSession]) -> Response[Any]:
        emails = (
            await db_session.scalars(sa.select(OutboxEmail).order_by(OutboxEmail.created_at.desc()).limit(100))
        ).all()
        await write_pending(db_session, emails)  # notices queued as template + parameters, written for their readers
        return render(request, "dev/outbox.html", {"emails": emails})
