"""Pages for brands: the organisation's profile, its team (owners invite by email) and joining by invitation."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from litestar import Request, Response, get, post
from litestar.di import NamedDependency, Provide
from litestar.params import FromPath
from sqlalchemy.ext.asyncio import AsyncSession

from marketplace.accounts.auth import Actor
from marketplace.accounts.controllers import start_session
from marketplace.accounts.guards import brand_member
from marketplace.brands.models import BrandRole
from marketplace.brands.services import PROFILE_EDITORS, BrandService
from marketplace.errors import Conflict, Forbidden, InvalidInput
from marketplace.forms import FormReader
from marketplace.gigs.forms import TEXT_LIMIT as UNLIMITED
from marketplace.i18n import gettext
from marketplace.web import PageController, flash, is_htmx, redirect, render, runtime_of

OWNERS = brand_member(BrandRole.OWNER)
ROLES = [(r.value, r.value.capitalize()) for r in BrandRole]
ROLE_HELP = {
    "owner": "manages the team and everything else",
    "manager": "runs gigs, applications and deals",
    "finance": "funds escrow and sees money pages",
}


def provide_brands(db_session: NamedDependency[AsyncSession], request: Request[Any, Any, Any]) -> BrandService:
    return BrandService(db_session, runtime_of(request))


class BrandPages(PageController):
    path = "/brand"
    guards = [brand_member()]
    dependencies = {"brands": Provide(provide_brands, sync_to_thread=False)}

    @get("/profile", name="brand_profile")
    async def profile(self, request: Request[Any, Any, Any], brands: NamedDependency[BrandService]) -> Response[Any]:
        brand = await brands.brand(request.user)
        form = {"name": brand.name, "website": brand.website or "", "country": brand.country or "",
                "description": brand.description}
        return render(request, "brands/profile.html", {"brand": brand, "form": form, "errors": {},
                                                       "can_edit": request.user.brand_role in PROFILE_EDITORS})

    @post("/profile", guards=[brand_member(BrandRole.MANAGER)])
    async def save_profile(self, request: Request[Any, Any, Any],
                           brands: NamedDependency[BrandService]) -> Response[Any]:
        form = await request.form()
        f = FormReader(form)
        raw = {k: f.text(k, max_length=UNLIMITED, strip=False) for k in ("name", "website", "country",
                                                                           "description")}
        try:
            await brands.update_profile(request.user, raw)
        except InvalidInput as exc:
            brand = await brands.brand(request.user)
            return render(request, "brands/profile.html", {"brand": brand, "form": dict(form), "errors": exc.errors,
                                                           "can_edit": True}, block="form", status_code=422)
        flash(request, gettext('Brand profile saved.'))
        return redirect(request, "/brand/profile")

    async def _team(self, request: Request[Any, Any, Any], brands: BrandService, *,
                    errors: dict[str, str] | None = None, form: dict[str, Any] | None = None,
                    status_code: int = 200, block: str | None = None, message: str | None = None) -> Response[Any]:
        team = await brands.team(request.user)
        actor: Actor = request.user
        return render(request, "brands/team.html", {
            "team": team, "errors": errors or {}, "form": form or {"role": "manager"}, "roles": ROLES,
            "role_help": ROLE_HELP, "is_owner": actor.brand_role is BrandRole.OWNER, "message": message,
        }, block=block, status_code=status_code)

    @get("/team", name="brand_team")
    async def team(self, request: Request[Any, Any, Any], brands: NamedDependency[BrandService]) -> Response[Any]:
        return await self._team(request, brands)

    async def _done(self, request: Request[Any, Any, Any], brands: BrandService, message: str) -> Response[Any]:
        if is_htmx(request):
            return await self._team(request, brands, message=message, block="team")
        flash(request, message)
        return redirect(request, "/brand/team")

    @post("/team/invitations", guards=[OWNERS])
    async def invite(self, request: Request[Any, Any, Any], brands: NamedDependency[BrandService]) -> Response[Any]:
        form = await request.form()
        f = FormReader(form)
        try:
            invitation, _link = await brands.invite_member(request.user, f.text("email", max_length=10_000),
                                                           f.text("role", max_length=100))
        except InvalidInput as exc:
            return await self._team(request, brands, errors=exc.errors, form=dict(form), status_code=422,
                                    block="team")
        message = f"Invitation emailed to {invitation.email}; the link works for 7 days."
        return await self._done(request, brands, message)

    @post("/team/invitations/{invitation_id:uuid}/revoke", guards=[OWNERS])
    async def revoke(self, request: Request[Any, Any, Any], invitation_id: FromPath[UUID],
                     brands: NamedDependency[BrandService]) -> Response[Any]:
        try:
            await brands.revoke_invitation(request.user, invitation_id)
        except Conflict as exc:
            return await self._team(request, brands, errors={"form": exc.message}, status_code=409, block="team")
        return await self._done(request, brands, "Invitation revoked; its link no longer works.")

    @post("/team/members/{member_id:uuid}/role", guards=[OWNERS])
    async def change_role(self, request: Request[Any, Any, Any], member_id: FromPath[UUID],
                          brands: NamedDependency[BrandService]) -> Response[Any]:
        f = FormReader(await request.form())
        try:
            await brands.change_role(request.user, member_id, f.text("role", max_length=100))
        except (InvalidInput, Conflict) as exc:
            return await self._team(request, brands, errors={"form": exc.message}, status_code=exc.status_code,
                                    block="team")
        return await self._done(request, brands, "Role changed.")

    @post("/team/members/{member_id:uuid}/remove", guards=[OWNERS])
    async def remove(self, request: Request[Any, Any, Any], member_id: FromPath[UUID],
                     brands: NamedDependency[BrandService]) -> Response[Any]:
        try:
            await brands.remove_member(request.user, member_id)
        except Conflict as exc:
            return await self._team(request, brands, errors={"form": exc.message}, status_code=409, block="team")
        return await self._done(request, brands, "Removed from the team.")


class TeamJoinPages(PageController):
    """Following an emailed invitation: signed in with the invited address, or creating the account here."""

    dependencies = {"brands": Provide(provide_brands, sync_to_thread=False)}

    async def _page(self, request: Request[Any, Any, Any], brands: BrandService, token: str, *,
                    errors: dict[str, str] | None = None, form: dict[str, Any] | None = None,
                    status_code: int = 200) -> Response[Any]:
        try:
            pending = await brands.pending_invitation(token)
        except InvalidInput as exc:
            return render(request, "brands/join.html", {"invalid": exc.message, "token": token}, status_code=400)
        actor: Actor | None = request.scope.get("user")
        problem = None
        if actor is not None:
            if actor.email != pending.invitation.email:
                problem = (f"This invitation is for {pending.invitation.email}, but you are signed in as "
                           f"{actor.email}. Sign out, then open the link again.")
            elif pending.existing_user is not None:
                problem = await brands.why_user_cannot_join(pending.existing_user, pending.brand.id)
        return render(request, "brands/join.html", {
            "invalid": None, "token": token, "pending": pending, "problem": problem, "errors": errors or {},
            "form": form or {}, "role_help": ROLE_HELP,
        }, block="form" if errors else None, status_code=status_code)

    @get("/team/join/{token:str}", name="team_join")
    async def show(self, request: Request[Any, Any, Any], token: FromPath[str],
                   brands: NamedDependency[BrandService]) -> Response[Any]:
        return await self._page(request, brands, token)

    @post("/team/join/{token:str}")
    async def accept(self, request: Request[Any, Any, Any], token: FromPath[str],
                     brands: NamedDependency[BrandService]) -> Response[Any]:
        actor: Actor | None = request.scope.get("user")
        form = await request.form()
        f = FormReader(form)
        try:
            if actor is not None:
                member = await brands.accept_as(token, actor)
            else:
                member, user = await brands.accept_with_new_account(
                    token, f.text("full_name", max_length=10_000), f.text("password", strip=False,
                                                                            max_length=10_000))
                start_session(request, user, brands.runtime)
        except InvalidInput as exc:
            if "token" in exc.errors:
                return await self._page(request, brands, token)
            return await self._page(request, brands, token, errors=exc.errors,
                                    form={"full_name": form.get("full_name", "")}, status_code=422)
        except (Conflict, Forbidden) as exc:
            return await self._page(request, brands, token, errors={"form": exc.message},
                                    status_code=exc.status_code)
        flash(request, gettext('Welcome to the team! You joined as %(role)s.', role=member.role.value))
        return redirect(request, "/brand")


#: Route handlers (controllers) this area contributes to the app; create_app() includes them in order.
ROUTES: list[Any] = [BrandPages, TeamJoinPages]
