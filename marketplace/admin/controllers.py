"""The admin console pages: dashboard, users (search, suspend, brand verification), deals held for review, the
audit log (search and CSV export), the email outbox, and re-authentication. Every page is admin-only."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID

from litestar import Request, Response, get, post
from litestar.di import NamedDependency
from litestar.params import FromPath, FromQuery
from litestar.response import Stream
from sqlalchemy.ext.asyncio import AsyncSession

from marketplace.accounts.auth import Actor
from marketplace.accounts.guards import admin_only
from marketplace.accounts.models import UserKind
from marketplace.admin import audit, services
from marketplace.admin.reauth import ReauthPages
from marketplace.csvfiles import CSV_MEDIA_TYPE
from marketplace.disputes.services import list_cases
from marketplace.errors import Conflict, InvalidInput
from marketplace.forms import FormReader, parse_uuid
from marketplace.i18n import gettext
from marketplace.notifications.models import EmailStatus
from marketplace.reputation.services import accounts_sharing_address, creator_standing
from marketplace.web import PageController, client_ip, flash, redirect, render, runtime_of, safe_next
from reputation.services import Subject, score_for


def _day(raw: str | None, name: str, errors: dict[str, str]) -> datetime | None:
    if not raw:
        return None
    try:
        return datetime.fromisoformat(raw).replace(tzinfo=UTC)
    except ValueError:
        errors[name] = gettext('A date like 2026-11-21.')
        return None


def audit_filters(params: Any) -> tuple[audit.AuditFilters, dict[str, str]]:
    errors: dict[str, str] = {}
    until = _day(params.get("until"), "until", errors)
    filters = audit.AuditFilters(
        q=(params.get("q") or "").strip()[:200],
        action=(params.get("action") or "").strip()[:48],
        target_type=(params.get("target_type") or "").strip()[:32],
        target_id=(params.get("target_id") or "").strip()[:64],
        since=_day(params.get("since"), "since", errors),
        until=until + timedelta(days=1) if until else None,
    )
    return filters, errors


class AdminPages(PageController):
    path = "/admin"
    guards = [admin_only]

    @get("/", name="admin_home")
    async def dashboard(self, request: Request[Any, Any, Any], db_session: NamedDependency[AsyncSession]
                        ) -> Response[Any]:
        now = runtime_of(request).clock.now()
        board = await services.dashboard(db_session, now)
        oldest, _ = await list_cases(db_session, limit=10)
        return render(request, "admin/dashboard.html", {"board": board, "oldest": oldest, "now": now},
                      block="figures")

    # --- users ------------------------------------------------------------------------------------------------------

    @get("/users", name="admin_users")
    async def users(self, request: Request[Any, Any, Any], db_session: NamedDependency[AsyncSession],
                    q: FromQuery[str | None] = None, kind: FromQuery[str | None] = None,
                    suspended: FromQuery[str | None] = None,
                    reliability: FromQuery[str | None] = None) -> Response[Any]:
        errors: dict[str, str] = {}
        chosen = None
        if kind:
            try:
                chosen = UserKind(kind)
            except ValueError:
                errors["kind"] = gettext('Brand, creator or admin.')
        rows = [] if errors else await services.search_users(db_session, (q or "")[:200], kind=chosen,
                                                            suspended_only=suspended == "1",
                                                            reliability_review_only=reliability == "1")
        return render(request, "admin/users.html", {
            "rows": rows, "filters": {"q": q or "", "kind": kind or "", "suspended": suspended or "",
                        "reliability": reliability or ""},
            "errors": errors}, block="results", status_code=422 if errors else 200)

    async def _user(self, request: Request[Any, Any, Any], db_session: AsyncSession, user_id: UUID, *,
                    errors: dict[str, str] | None = None, status_code: int = 200) -> Response[Any]:
        now = runtime_of(request).clock.now()
        row = await services.user_row(db_session, user_id)
        reliability, same_address = None, []
        if row.creator is not None:
            reliability, _ = await creator_standing(db_session, row.creator.id, now)
            same_address = await accounts_sharing_address(db_session, row.creator.id)
        elif row.brand is not None:
            reliability = await score_for(db_session, Subject.brand(row.brand.id), now)
        history = await audit.search(db_session, audit.AuditFilters(target_id=str(user_id)), limit=20)
        return render(request, "admin/user.html", {
            "row": row, "u": row.user, "deals": await services.open_deals_of(db_session, row),
            "reliability": reliability, "same_address": same_address, "history": history.entries,
            "errors": errors or {}},
            status_code=status_code)

    @get("/users/{user_id:uuid}", name="admin_user")
    async def user(self, request: Request[Any, Any, Any], db_session: NamedDependency[AsyncSession],
                   user_id: FromPath[UUID]) -> Response[Any]:
        return await self._user(request, db_session, user_id)

    @post("/users/{user_id:uuid}/suspend")
    async def suspend(self, request: Request[Any, Any, Any], db_session: NamedDependency[AsyncSession],
                      user_id: FromPath[UUID]) -> Response[Any]:
        reason = FormReader(await request.form()).text("reason", max_length=10_000)
        try:
            await services.suspend_user(db_session, request.user, user_id, reason=reason,
                                        now=runtime_of(request).clock.now(), ip=client_ip(request))
        except (InvalidInput, Conflict) as exc:
            await db_session.rollback()
            errors = exc.errors if isinstance(exc, InvalidInput) else {"form": exc.message}
            return await self._user(request, db_session, user_id, errors=errors, status_code=exc.status_code)
        flash(request, gettext('Suspended. Their open deals are held for admin review.'))
        return redirect(request, f"/admin/users/{user_id}")

    @post("/users/{user_id:uuid}/unsuspend")
    async def unsuspend(self, request: Request[Any, Any, Any], db_session: NamedDependency[AsyncSession],
                        user_id: FromPath[UUID]) -> Response[Any]:
        try:
            runtime = runtime_of(request)
            await services.unsuspend_user(db_session, request.user, user_id, now=runtime.clock.now(),
                                          settings=runtime.settings, ip=client_ip(request))
        except Conflict as exc:
            await db_session.rollback()
            return await self._user(request, db_session, user_id, errors={"form": exc.message}, status_code=409)
        flash(request, gettext('Suspension lifted. Their deals stay in review until you clear each one.'))
        return redirect(request, f"/admin/users/{user_id}")

    @post("/creators/{creator_id:uuid}/clear-reliability-suspension")
    async def clear_reliability(self, request: Request[Any, Any, Any], db_session: NamedDependency[AsyncSession],
                                creator_id: FromPath[UUID]) -> Response[Any]:
        f = FormReader(await request.form())
        back = safe_next(f.text("next", max_length=500), "/admin/users")
        try:
            await services.clear_reliability_suspension(db_session, request.user, creator_id,
                                                        now=runtime_of(request).clock.now(), ip=client_ip(request))
            flash(request, gettext('Reliability suspension cleared: the creator can apply again.'))
        except Conflict as exc:
            flash(request, exc.message, "warning")
        return redirect(request, back)

    @post("/brands/{brand_id:uuid}/verification")
    async def brand_verification(self, request: Request[Any, Any, Any], db_session: NamedDependency[AsyncSession],
                                 brand_id: FromPath[UUID]) -> Response[Any]:
        f = FormReader(await request.form())
        verified = f.boolean("verified")
        back = safe_next(f.text("next", max_length=500), "/admin/users")
        brand = await services.set_brand_verified(db_session, request.user, brand_id, verified=verified,
                                                  now=runtime_of(request).clock.now(), ip=client_ip(request))
        flash(
            request,
            gettext(
                "%(name)s is %(verified)s.",
                name=brand.name,
                verified="now verified" if verified else "no longer verified",
            ),
        )
        return redirect(request, back)

    @post("/collaborations/{collab_id:uuid}/review-done")
    async def review_done(self, request: Request[Any, Any, Any], db_session: NamedDependency[AsyncSession],
                          collab_id: FromPath[UUID]) -> Response[Any]:
        f = FormReader(await request.form())
        back = safe_next(f.text("next", max_length=500), "/admin")
        try:
            await services.clear_review(db_session, request.user, collab_id, note=f.text("note", max_length=5000),
                                        now=runtime_of(request).clock.now(), ip=client_ip(request))
            flash(request, gettext("Review done: PostPact's automatic steps run on this deal again."))
        except (InvalidInput, Conflict) as exc:
            await db_session.rollback()
            flash(request, exc.message, "warning")
        return redirect(request, back)

    # --- audit log --------------------------------------------------------------------------------------------------

    @get("/audit", name="admin_audit")
    async def audit_log(self, request: Request[Any, Any, Any], db_session: NamedDependency[AsyncSession],
                        before: FromQuery[str | None] = None) -> Response[Any]:
        filters, errors = audit_filters(request.query_params)
        cursor = parse_uuid(before, "before", errors)
        page = audit.AuditPage([], None) if errors else await audit.search(db_session, filters, before=cursor)
        return render(request, "admin/audit.html", {
            "page": page, "filters": request.query_params, "query": filters.query_string(), "errors": errors},
            block="entries", status_code=422 if errors else 200)

    @get("/audit.csv", name="admin_audit_csv")
    async def audit_csv(self, request: Request[Any, Any, Any], db_session: NamedDependency[AsyncSession]
                        ) -> Response[Any]:
        filters, errors = audit_filters(request.query_params)
        if errors:
            raise InvalidInput(errors)
        actor: Actor = request.user
        now = runtime_of(request).clock.now()
        lines = await audit.export_rows(db_session, filters)
        # Exporting the log is itself an admin action worth knowing about.
        await audit.record(db_session, actor, "audit.export", target_type="audit_log", target_id="csv",
                           summary=f"Exported the audit log ({filters.query_string() or 'everything'})", now=now,
                           ip=client_ip(request))
        name = f"postpact-audit-{now.strftime('%Y%m%d-%H%M')}.csv"
        return Stream(lines, media_type=CSV_MEDIA_TYPE,
                      headers={"Content-Disposition": f'attachment; filename="{name}"'})

    # --- outbox -----------------------------------------------------------------------------------------------------

    @get("/outbox", name="admin_outbox")
    async def outbox(self, request: Request[Any, Any, Any], db_session: NamedDependency[AsyncSession],
                     q: FromQuery[str | None] = None, status: FromQuery[str | None] = None,
                     before: FromQuery[str | None] = None) -> Response[Any]:
        errors: dict[str, str] = {}
        chosen = None
        if status:
            try:
                chosen = EmailStatus(status)
            except ValueError:
                errors["status"] = gettext('queued, sent, stored or failed.')
        cursor = parse_uuid(before, "before", errors)
        emails, nxt = ([], None) if errors else await services.outbox(db_session, q=(q or "")[:200], status=chosen,
                                                                      before=cursor)
        return render(request, "admin/outbox.html", {
            "emails": emails, "next_before": nxt, "filters": {"q": q or "", "status": status or ""},
            "errors": errors}, block="emails", status_code=422 if errors else 200)


#: The admin console and the dispute pages (parties' and admins'), with their JSON API.
ROUTES = [AdminPages, ReauthPages]
