"""Re-entering the password before money moves: the page the ``recent_auth`` guard leads to.

Pages guarded by ``recent_auth`` send an admin whose last password entry is older than 15 minutes here (with
``?next=`` the page they came from); a correct password stamps the session's ``auth_at`` with now. Wrong passwords
are rate limited per admin. The JSON API has no session: a decision there carries the password in its body.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from litestar import Request, Response, get, post
from litestar.di import NamedDependency
from litestar.exceptions import PermissionDeniedException
from sqlalchemy.ext.asyncio import AsyncSession

from marketplace.accounts.auth import SESSION_AUTH_AT, Actor
from marketplace.accounts.guards import RECENT_AUTH_WINDOW, admin_only
from marketplace.admin.services import check_password
from marketplace.errors import InvalidInput, TooManyRequests
from marketplace.forms import FormReader
from marketplace.i18n import gettext
from marketplace.web import PageController, flash, handle_exception, is_api, redirect, render, runtime_of, safe_next

REAUTH_PATH = "/admin/reauth"


def _return_to(request: Request[Any, Any, Any]) -> str:
    """Where to go once the password is confirmed: the page itself, or for a form post the page it was on
    (the decision has to be confirmed again, with the password fresh)."""
    path = request.url.path
    if request.method != "GET":
        path = path.rstrip("/").rsplit("/", 1)[0] or "/admin"
    return safe_next(path, "/admin")


def needs_password(request: Request[Any, Any, Any], exc: PermissionDeniedException) -> Response[Any]:
    """Exception handler for ``ReauthenticationRequired`` on admin pages: go and confirm the password."""
    if is_api(request):
        return handle_exception(request, exc)
    target = f"{REAUTH_PATH}?next={quote(_return_to(request))}"
    flash(
        request,
        gettext(
            "Enter your password again before deciding: it has been more than %(total_seconds)s minutes since you "
            "last did.",
            total_seconds=int(RECENT_AUTH_WINDOW.total_seconds() // 60),
        ),
        "info",
    )
    return redirect(request, target)


class ReauthPages(PageController):
    path = REAUTH_PATH
    guards = [admin_only]

    @get("/", name="admin_reauth")
    async def form(self, request: Request[Any, Any, Any]) -> Response[Any]:
        nxt = safe_next(request.query_params.get("next"), "/admin")
        return render(request, "admin/reauth.html", {"next": nxt, "errors": {}})

    @post("/")
    async def confirm(self, request: Request[Any, Any, Any], db_session: NamedDependency[AsyncSession]
                      ) -> Response[Any]:
        runtime = runtime_of(request)
        actor: Actor = request.user
        f = FormReader(await request.form())
        password = f.text("password", strip=False, max_length=10_000)
        nxt = safe_next(f.text("next", max_length=2000), "/admin")
        try:
            await check_password(db_session, runtime, actor, password)
        except (InvalidInput, TooManyRequests) as exc:
            errors = exc.errors if isinstance(exc, InvalidInput) else {"password": exc.message}
            headers = {"Retry-After": str(exc.retry_after)} if isinstance(exc, TooManyRequests) else None
            return render(request, "admin/reauth.html", {"next": nxt, "errors": errors}, block="form",
                          status_code=exc.status_code, headers=headers)
        session = request.scope.get("session")
        if isinstance(session, dict):
            session[SESSION_AUTH_AT] = runtime.clock.now().isoformat()
        flash(
            request,
            gettext(
                "Password confirmed: you can decide for the next %(total_seconds)s minutes.",
                total_seconds=int(RECENT_AUTH_WINDOW.total_seconds() // 60),
            ),
        )
        return redirect(request, nxt)
