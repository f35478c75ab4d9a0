"""Pages for deadline extensions under /collaborations/{id}/extensions (both parties; admins may look)."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from litestar import Request, Response, get, post
from litestar.di import NamedDependency
from litestar.params import FromPath
from sqlalchemy.ext.asyncio import AsyncSession

from marketplace.accounts.guards import current_actor, not_suspended, signed_in
from marketplace.deadlines.extensions import (
    decide_extension,
    extensions_view,
    request_extension,
    withdraw_extension,
)
from marketplace.errors import InvalidInput
from marketplace.forms import FormReader
from marketplace.i18n import N_, gettext
from marketplace.web import PageController, flash, redirect, render, runtime_of

TEMPLATE = "deadlines/extensions.html"


def _path(collaboration_id: UUID) -> str:
    return f"/collaborations/{collaboration_id}/extensions"


async def _decide(request: Request[Any, Any, Any], db_session: AsyncSession, collaboration_id: UUID,
                  extension_id: UUID, *, accept: bool) -> Response[Any]:
    await decide_extension(db_session, collaboration_id, extension_id, current_actor(request), accept=accept,
                           now=runtime_of(request).clock.now())
    flash(
        request,
        (
            gettext("Extension accepted: the deadline moved.")
            if accept
            else gettext("Extension declined: the deadline stays.")
        ),
    )
    return redirect(request, _path(collaboration_id))


class ExtensionPages(PageController):
    path = "/collaborations/{collaboration_id:uuid}/extensions"
    guards = [signed_in]

    @get("/", name="extensions")
    async def list_extensions(
        self,
        request: Request[Any, Any, Any],
        db_session: NamedDependency[AsyncSession],
        collaboration_id: FromPath[UUID],
    ) -> Response[Any]:
        view = await extensions_view(db_session, collaboration_id, current_actor(request))
        return render(request, TEMPLATE, {"view": view, "form": {}, "errors": {}}, block="extensions")

    @post("/", guards=[not_suspended])
    async def ask_for_extension(
        self,
        request: Request[Any, Any, Any],
        db_session: NamedDependency[AsyncSession],
        collaboration_id: FromPath[UUID],
    ) -> Response[Any]:
        actor = current_actor(request)
        form = await request.form()
        f = FormReader(form)
        stage = f.text("stage", max_length=16)
        proposed = f.datetime("proposed_due_at", label=N_('New deadline'))
        reason = f.text("reason", required=False, max_length=10_000)
        now = runtime_of(request).clock.now()
        try:
            f.raise_if_invalid()
            await request_extension(
                db_session, collaboration_id, actor, stage=stage, proposed_due_at=proposed, reason=reason, now=now
            )
        except InvalidInput as exc:
            view = await extensions_view(db_session, collaboration_id, actor)
            values = {k: form.get(k, "") for k in ("stage", "proposed_due_at", "reason")}
            return render(
                request,
                TEMPLATE,
                {"view": view, "form": values, "errors": exc.errors},
                block="extensions",
                status_code=422,
            )
        flash(request, gettext("Your request was sent; you'll be told when the other side answers."))
        return redirect(request, _path(collaboration_id))

    @post("/{extension_id:uuid}/accept", guards=[not_suspended])
    async def accept_extension(
        self,
        request: Request[Any, Any, Any],
        db_session: NamedDependency[AsyncSession],
        collaboration_id: FromPath[UUID],
        extension_id: FromPath[UUID],
    ) -> Response[Any]:
        return await _decide(request, db_session, collaboration_id, extension_id, accept=True)

    @post("/{extension_id:uuid}/decline", guards=[not_suspended])
    async def decline_extension(
        self,
        request: Request[Any, Any, Any],
        db_session: NamedDependency[AsyncSession],
        collaboration_id: FromPath[UUID],
        extension_id: FromPath[UUID],
    ) -> Response[Any]:
        return await _decide(request, db_session, collaboration_id, extension_id, accept=False)

    @post("/{extension_id:uuid}/withdraw", guards=[not_suspended])
    async def withdraw(
        self,
        request: Request[Any, Any, Any],
        db_session: NamedDependency[AsyncSession],
        collaboration_id: FromPath[UUID],
        extension_id: FromPath[UUID],
    ) -> Response[Any]:
        await withdraw_extension(
            db_session, collaboration_id, extension_id, current_actor(request), now=runtime_of(request).clock.now()
        )
        flash(request, gettext('Request withdrawn.'))
        return redirect(request, _path(collaboration_id))


#: Route handlers this area contributes (the evidence page of post verification comes along).
ROUTES: list[Any] = [ExtensionPages]
