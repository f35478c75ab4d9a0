"""Pages and JSON API routes for notifications: the list, marking read, the nav badge and email settings."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any
from uuid import UUID

import msgspec
from litestar import Controller, MediaType, Request, Response, get, post, put
from litestar.di import NamedDependency
from litestar.params import FromPath, FromQuery, JSONBody, QueryParameter
from sqlalchemy.ext.asyncio import AsyncSession

from marketplace.accounts.auth import READ_ONLY, Actor
from marketplace.accounts.guards import signed_in
from marketplace.errors import InvalidInput
from marketplace.forms import FormReader
from marketplace.i18n import gettext
from marketplace.notifications import services as notifications
from marketplace.notifications.models import Notification
from marketplace.openapi import documented
from marketplace.web import PageController, flash, is_htmx, redirect, render, runtime_of, safe_next

LIST_TEMPLATE = "notifications/list.html"
SETTINGS_TEMPLATE = "notifications/settings.html"


def _uuid_or_none(raw: str | None) -> UUID | None:
    try:
        return UUID(raw) if raw else None
    except ValueError:
        return None


class NotificationPages(PageController):
    path = "/notifications"

    @get("/", name="notifications", guards=[signed_in], opt={READ_ONLY: True})
    async def index(self, request: Request[Any, Any, Any], db_session: NamedDependency[AsyncSession]) -> Response[Any]:
        return await _render_list(request, db_session)

    @get("/badge", name="notifications_badge", opt={READ_ONLY: True})
    async def badge(self, request: Request[Any, Any, Any], db_session: NamedDependency[AsyncSession]) -> Response[Any]:
        """Loaded by base.html on every page: signed out it is an empty 200 (never a redirect), signed in it costs
        one query besides sign-in (``badge_counts``)."""
        headers = {"Cache-Control": "no-store"}
        actor: Actor | None = request.scope.get("user")
        if actor is None:
            return Response(content="", media_type=MediaType.HTML, headers=headers)
        counts = await notifications.badge_counts(db_session, actor)
        env = request.app.template_engine.engine  # type: ignore[union-attr]
        content = env.get_template("notifications/badge.html").render(counts=counts)
        return Response(content=content, media_type=MediaType.HTML, headers=headers)

    @post("/{notification_id:uuid}/read", name="notification_read", guards=[signed_in])
    async def read_one(
        self,
        request: Request[Any, Any, Any],
        notification_id: FromPath[UUID],
        db_session: NamedDependency[AsyncSession],
    ) -> Response[Any]:
        actor: Actor = request.user
        form = FormReader(await request.form())
        note = await notifications.mark_notification_read(
            db_session, actor.user_id, notification_id, now=runtime_of(request).clock.now()
        )
        if form.boolean("open"):
            # Only our own relative links: a notification can never send anyone off-site.
            return redirect(request, safe_next(note.link, default="/notifications"))
        if is_htmx(request):
            return render(request, LIST_TEMPLATE, {"n": note}, block="item")
        return redirect(request, "/notifications")

    @post("/read-all", name="notifications_read_all", guards=[signed_in])
    async def read_all(
        self, request: Request[Any, Any, Any], db_session: NamedDependency[AsyncSession]
    ) -> Response[Any]:
        actor: Actor = request.user
        count = await notifications.mark_all_notifications_read(
            db_session, actor.user_id, now=runtime_of(request).clock.now()
        )
        if is_htmx(request):
            return await _render_list(request, db_session, first_page=True)
        flash(
            request,
            (
                gettext(
                    "Marked %(count)s notification%(else_value)s as read.",
                    count=count,
                    else_value="s" if count != 1 else "",
                )
                if count
                else gettext("All read.")
            ),
        )
        return redirect(request, "/notifications")

    @get("/settings", name="notification_settings", guards=[signed_in])
    async def settings_form(
        self, request: Request[Any, Any, Any], db_session: NamedDependency[AsyncSession]
    ) -> Response[Any]:
        actor: Actor = request.user
        prefs = await notifications.email_preferences(db_session, actor.user_id)
        return render(request, SETTINGS_TEMPLATE, _settings_context(prefs, {}, saved=False), block="settings")

    @post("/settings", guards=[signed_in])
    async def save_settings(
        self, request: Request[Any, Any, Any], db_session: NamedDependency[AsyncSession]
    ) -> Response[Any]:
        actor: Actor = request.user
        form = FormReader(await request.form())
        chosen = form.values("email")
        try:
            known = set(notifications.EMAIL_GROUPS) | set(notifications.ALWAYS_EMAILED)
            if any(group not in known for group in chosen):
                raise InvalidInput({"email": gettext('Choose from the listed kinds of email.')})
            wanted = {group: group in chosen for group in notifications.EMAIL_GROUPS}
            prefs = await notifications.set_email_preferences(db_session, actor.user_id, wanted)
        except InvalidInput as exc:
            prefs = await notifications.email_preferences(db_session, actor.user_id)
            return render(
                request, SETTINGS_TEMPLATE, _settings_context(prefs, exc.errors, saved=False), block="settings",
                status_code=exc.status_code,
            )
        if is_htmx(request):
            return render(request, SETTINGS_TEMPLATE, _settings_context(prefs, {}, saved=True), block="settings")
        flash(request, gettext('Email settings saved.'))
        return redirect(request, "/notifications/settings")


def _settings_context(prefs: dict[str, bool], errors: dict[str, str], *, saved: bool) -> dict[str, Any]:
    return {
        "groups": notifications.EMAIL_GROUPS,
        "always": notifications.ALWAYS_EMAILED,
        "prefs": prefs,
        "errors": errors,
        "saved": saved,
    }


async def _render_list(
    request: Request[Any, Any, Any], session: AsyncSession, *, first_page: bool = False
) -> Response[Any]:
    actor: Actor = request.user
    before = None if first_page else _uuid_or_none(request.query_params.get("before"))
    unread_only = request.query_params.get("unread") in {"1", "true", "on"}
    page = await notifications.list_notifications(session, actor.user_id, before=before, unread_only=unread_only)
    return render(
        request, LIST_TEMPLATE, {"page": page, "paged": before is not None, "unread_only": unread_only}, block="list"
    )


# --- JSON API ---------------------------------------------------------------------------------------------------


class NotificationOut(msgspec.Struct):
    id: UUID
    kind: str
    title: str
    body: str
    link: str | None
    created_at: datetime
    read_at: datetime | None


class NotificationListOut(msgspec.Struct):
    notifications: list[NotificationOut]
    unread: int
    #: Pass as ``before`` for older notifications, or None at the end.
    next_before: UUID | None


class MarkedReadOut(msgspec.Struct):
    marked_read: int


class EmailSettingsIn(msgspec.Struct, forbid_unknown_fields=True):
    #: Group → whether to email; groups left out keep their setting.
    email: Annotated[dict[str, bool], documented(
        properties={group: {"type": "boolean", "description": words} for group, words in
                    notifications.EMAIL_GROUPS.items()},
        additional_properties=False)]


class EmailSettingsOut(msgspec.Struct):
    email: dict[str, bool]
    #: Groups that always email (disputes, account security), whatever the settings.
    always_emailed: list[str]


def _out(note: Notification) -> NotificationOut:
    return NotificationOut(
        id=note.id,
        kind=note.kind,
        title=note.title,
        body=note.body,
        link=note.link,
        created_at=note.created_at,
        read_at=note.read_at,
    )


class NotificationApi(Controller):
    path = "/api/v1/notifications"
    tags = ["notifications"]
    guards = [signed_in]

    @get("/", summary="Your notifications, newest first")
    async def list_notifications(
        self,
        request: Request[Any, Any, Any],
        db_session: NamedDependency[AsyncSession],
        before: FromQuery[UUID | None] = None,
        unread: FromQuery[bool] = False,
        limit: Annotated[int, QueryParameter(ge=1, le=100)] = notifications.NOTIFICATIONS_PER_PAGE,
    ) -> NotificationListOut:
        page = await notifications.list_notifications(
            db_session, request.user.user_id, before=before, unread_only=unread, limit=limit
        )
        return NotificationListOut(
            notifications=[_out(n) for n in page.items], unread=page.unread, next_before=page.next_before
        )

    @post("/{notification_id:uuid}/read", status_code=200, summary="Mark one notification read")
    async def read_one(
        self,
        request: Request[Any, Any, Any],
        notification_id: FromPath[UUID],
        db_session: NamedDependency[AsyncSession],
    ) -> NotificationOut:
        note = await notifications.mark_notification_read(
            db_session, request.user.user_id, notification_id, now=runtime_of(request).clock.now()
        )
        return _out(note)

    @post("/read-all", status_code=200, summary="Mark all your notifications read")
    async def read_all(
        self, request: Request[Any, Any, Any], db_session: NamedDependency[AsyncSession]
    ) -> MarkedReadOut:
        count = await notifications.mark_all_notifications_read(
            db_session, request.user.user_id, now=runtime_of(request).clock.now()
        )
        return MarkedReadOut(marked_read=count)

    @get("/settings", summary="Which notification emails you get")
    async def email_settings(
        self, request: Request[Any, Any, Any], db_session: NamedDependency[AsyncSession]
    ) -> EmailSettingsOut:
        prefs = await notifications.email_preferences(db_session, request.user.user_id)
        return EmailSettingsOut(email=prefs, always_emailed=sorted(notifications.ALWAYS_EMAILED))

    @put("/settings", summary="Choose which notification emails you get")
    async def save_email_settings(
        self,
        request: Request[Any, Any, Any],
        data: JSONBody[EmailSettingsIn],
        db_session: NamedDependency[AsyncSession],
    ) -> EmailSettingsOut:
        prefs = await notifications.set_email_preferences(db_session, request.user.user_id, data.email)
        return EmailSettingsOut(email=prefs, always_emailed=sorted(notifications.ALWAYS_EMAILED))


#: Route handlers (controllers) this area contributes to the app; create_app() includes them in order.
ROUTES: list[Any] = [NotificationPages, NotificationApi]
