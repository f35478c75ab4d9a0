"""Each request speaks the viewer's language in the viewer's zone; the switcher and settings that choose them."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from litestar import Request, Response, post
from litestar.di import NamedDependency, Provide
from litestar.enums import ScopeType
from litestar.middleware import ASGIMiddleware
from litestar.response import Redirect
from litestar.status_codes import HTTP_303_SEE_OTHER
from sqlalchemy.ext.asyncio import AsyncSession

from marketplace import i18n
from marketplace.accounts.controllers import provide_accounts
from marketplace.accounts.guards import signed_in
from marketplace.accounts.models import User
from marketplace.accounts.services import AccountService
from marketplace.errors import InvalidInput
from marketplace.web import PageController, flash, redirect, render, safe_next

if TYPE_CHECKING:
    from litestar.types import ASGIApp, Receive, Scope, Send

    from marketplace.accounts.auth import Actor

#: A year: the switcher's choice for people who aren't signed in.
COOKIE_MAX_AGE = 365 * 24 * 3600


def _header(scope: Scope, name: bytes) -> str:
    for key, value in scope.get("headers", []):
        if key == name:
            return str(value.decode("latin-1"))
    return ""


def _cookie(scope: Scope, name: str) -> str:
    for part in _header(scope, b"cookie").split(";"):
        key, _, value = part.strip().partition("=")
        if key == name:
            return value.strip()
    return ""


def _query_language(scope: Scope) -> str | None:
    """``?lang=zh_Hans`` on a GET: this one page in another language (e.g. a deal's terms in the language the other
    side signed them in), without changing anyone's setting."""
    if scope.get("method") != "GET":
        return None
    for part in scope.get("query_string", b"").decode("latin-1").split("&"):
        key, _, value = part.partition("=")
        if key == "lang":
            return i18n.normalise_locale(value)
    return None


def locale_for(scope: Scope) -> tuple[str, str]:
    """(locale, zone) for a request: ``?lang=`` for one page, the user's settings, else the switcher's cookie, else
    ``Accept-Language``."""
    actor: Actor | None = scope.get("user")
    locale = _query_language(scope) or (actor.locale if actor is not None else None)
    locale = i18n.normalise_locale(locale) or i18n.normalise_locale(_cookie(scope, i18n.LANGUAGE_COOKIE))
    locale = locale or i18n.negotiate(_header(scope, b"accept-language"))
    zone = actor.timezone if actor is not None else i18n.DEFAULT_ZONE
    return locale, i18n.normalise_zone(zone) or i18n.DEFAULT_ZONE


_VARY = (b"vary", b"Accept-Language, Cookie")
#: locale -> the headers every response in it gets (built once per supported locale).
_LANGUAGE_HEADERS: dict[str, tuple[tuple[bytes, bytes], ...]] = {}


class LocaleMiddleware(ASGIMiddleware):
    """Runs after the actor is known: sets the language and zone every template, form error and problem detail of
    this request is produced in (context variables, so concurrent requests never see each other's)."""

    scopes = (ScopeType.HTTP,)
    should_bypass_for_scope = staticmethod(lambda scope: scope["path"].startswith("/static/"))

    async def handle(self, scope: Scope, receive: Receive, send: Send, next_app: ASGIApp) -> None:
        locale, zone = locale_for(scope)
        i18n.set_locale(locale, zone)
        added = _LANGUAGE_HEADERS.get(locale)
        if added is None:
            added = _LANGUAGE_HEADERS[locale] = ((b"content-language", locale.replace("_", "-").encode()), _VARY)

        async def send_with_language(message: Any) -> None:
            if message["type"] == "http.response.start":
                message = {**message, "headers": [*message.get("headers", ()), *added]}
            await send(message)

        await next_app(scope, receive, send_with_language)


class LocalePages(PageController):
    dependencies = {"accounts": Provide(provide_accounts, sync_to_thread=False)}

    @post("/language", name="switch_language")
    async def switch_language(
        self, request: Request[Any, Any, Any], db_session: NamedDependency[AsyncSession]
    ) -> Response[Any]:
        """The switcher in every page's header: a plain form, so it works without JavaScript."""
        form = await request.form()
        locale = i18n.normalise_locale(str(form.get("lang") or "")) or i18n.DEFAULT_LOCALE
        target = safe_next(str(form.get("next") or ""), "/")
        actor: Actor | None = request.scope.get("user")
        if actor is not None:
            await db_session.execute(sa.update(User).where(User.id == actor.user_id).values(locale=locale))
        response = Redirect(path=target, status_code=HTTP_303_SEE_OTHER)
        response.set_cookie(i18n.LANGUAGE_COOKIE, locale, max_age=COOKIE_MAX_AGE, httponly=True, samesite="lax")
        return response

    @post("/account/preferences", name="account_preferences", guards=[signed_in])
    async def save_preferences(
        self, request: Request[Any, Any, Any], accounts: NamedDependency[AccountService]
    ) -> Response[Any]:
        form = await request.form()
        actor: Actor = request.user
        raw_locale, raw_zone = str(form.get("locale") or ""), str(form.get("timezone") or "")
        # The form's choices are codes already; a hand-typed "zh-CN" or " utc" is read as the code it means, and
        # anything else is refused by the same check the API uses.
        changes = {
            "locale": i18n.normalise_locale(raw_locale) or raw_locale or "?",
            "timezone": i18n.normalise_zone(raw_zone) or raw_zone,
        }
        try:
            user = await accounts.set_preferences(actor.user_id, changes)
        except InvalidInput as exc:
            values = {"locale": form.get("locale", ""), "timezone": form.get("timezone", "")}
            tokens = await accounts.list_api_tokens(actor.user_id)
            context = {"tokens": tokens, "new_token": None, "errors": {}, "prefs": values, "pref_errors": exc.errors}
            return render(request, "accounts/account.html", context, block="preferences", status_code=422)
        with i18n.use_locale(user.locale, user.timezone):
            flash(request, i18n.gettext("Language and time zone saved."))
        return redirect(request, "/account")
