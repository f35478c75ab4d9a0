"""Route guards per role. Anonymous → 401 (pages redirect to sign-in); wrong role → 403."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Any

from litestar.connection import ASGIConnection
from litestar.exceptions import NotAuthorizedException, PermissionDeniedException
from litestar.handlers import BaseRouteHandler

from marketplace.accounts.auth import Actor
from marketplace.brands.models import BrandRole
from marketplace.i18n import gettext

#: Guards are coroutines: Litestar runs a plain function guard in a worker thread, a thread hop per request.
Guard = Callable[[ASGIConnection[Any, Any, Any, Any], BaseRouteHandler], Awaitable[None]]

RECENT_AUTH_WINDOW = timedelta(minutes=15)


class ReauthenticationRequired(PermissionDeniedException):
    """An admin whose last password entry is too old must enter it again before moving money."""


def current_actor(connection: ASGIConnection[Any, Any, Any, Any]) -> Actor:
    actor = connection.scope.get("user")
    if actor is None:
        raise NotAuthorizedException(gettext('Sign in to continue.'))
    return actor  # type: ignore[no-any-return]


async def signed_in(connection: ASGIConnection[Any, Any, Any, Any], _: BaseRouteHandler) -> None:
    current_actor(connection)


async def creator_only(connection: ASGIConnection[Any, Any, Any, Any], _: BaseRouteHandler) -> None:
    if not current_actor(connection).is_creator:
        raise PermissionDeniedException(gettext('This page is for creators.'))


async def admin_only(connection: ASGIConnection[Any, Any, Any, Any], _: BaseRouteHandler) -> None:
    if not current_actor(connection).is_admin:
        raise PermissionDeniedException(gettext('This page is for PostPact admins.'))


def brand_member(*roles: BrandRole) -> Guard:
    """Any member of a brand, or only the given roles (owners always pass a role check)."""
    allowed = set(roles) | {BrandRole.OWNER} if roles else set()

    async def guard(connection: ASGIConnection[Any, Any, Any, Any], _: BaseRouteHandler) -> None:
        actor = current_actor(connection)
        if not actor.is_brand:
            raise PermissionDeniedException(gettext('This page is for brand teams.'))
        if allowed and actor.brand_role not in allowed:
            names = ", ".join(sorted(r.value for r in allowed))
            raise PermissionDeniedException(gettext("Your role can't do this (needs: %(names)s).", names=names))

    return guard


async def not_suspended(connection: ASGIConnection[Any, Any, Any, Any], _: BaseRouteHandler) -> None:
    if current_actor(connection).suspended:
        raise PermissionDeniedException(gettext('Your account is suspended; contact support to appeal.'))


async def recent_auth(connection: ASGIConnection[Any, Any, Any, Any], _: BaseRouteHandler) -> None:
    actor = current_actor(connection)
    now = connection.app.state.runtime.clock.now()
    if not actor.auth_is_recent(now, RECENT_AUTH_WINDOW):
        raise ReauthenticationRequired("Enter your password again to confirm this decision.")
