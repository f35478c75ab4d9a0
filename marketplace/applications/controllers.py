"""Pages and JSON API routes for applications: apply and withdraw (creators), review, accept and decline (brands)."""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qsl, urlencode
from uuid import UUID

from litestar import Controller, Request, Response, get, post
from litestar.di import NamedDependency, Provide
from litestar.params import FromPath, JSONBody
from litestar.status_codes import HTTP_200_OK, HTTP_201_CREATED
from sqlalchemy.ext.asyncio import AsyncSession

from escrow.money import CURRENCY_EXPONENTS
from marketplace.accounts.auth import Actor
from marketplace.accounts.guards import brand_member, creator_only, signed_in
from marketplace.applications.models import ApplicationStatus
from marketplace.applications.schemas import (
    ApplicationIdsIn,
    ApplicationIn,
    ApplicationListOut,
    ApplicationOut,
    DecisionOut,
    DeclineIn,
    applicant_out,
    application_out,
    decision_out,
)
from marketplace.applications.services import (
    APPLICATION_SORT_LABELS,
    ApplicationFilters,
    ApplicationService,
    parse_application_filters,
)
from marketplace.brands.models import BrandRole
from marketplace.creators.models import Platform, SocialAccount
from marketplace.creators.services import ids_from
from marketplace.errors import Conflict, Forbidden, InvalidInput
from marketplace.forms import FormReader
from marketplace.gigs.controllers import gig_detail_page
from marketplace.gigs.forms import TEXT_LIMIT as UNLIMITED
from marketplace.gigs.models import Gig
from marketplace.gigs.services import GIG_EDITORS
from marketplace.i18n import gettext
from marketplace.web import PageController, flash, is_htmx, redirect, render, runtime_of

MANAGERS = brand_member(BrandRole.MANAGER)


def provide_applications(db_session: NamedDependency[AsyncSession],
                         request: Request[Any, Any, Any]) -> ApplicationService:
    return ApplicationService(db_session, runtime_of(request))


def read_application_form(form: Any, currency: str) -> tuple[dict[str, Any], dict[str, str]]:
    f = FormReader(form)
    raw = {
        "pitch": f.text("pitch", max_length=UNLIMITED, strip=False),
        "social_account_id": f.text("social_account_id", max_length=100),
        "counter_offer_amount": f.decimal_minor("counter_offer.amount", exponent=CURRENCY_EXPONENTS.get(currency, 2),
                                                label="Counter-offer"),
    }
    return raw, dict(f.errors)


class CreatorApplicationPages(PageController):
    guards = [creator_only]
    dependencies = {"applications": Provide(provide_applications, sync_to_thread=False)}

    @post("/gigs/{gig_id:uuid}/apply")
    async def apply(self, request: Request[Any, Any, Any], gig_id: FromPath[UUID],
                    applications: NamedDependency[ApplicationService]) -> Response[Any]:
        form = await request.form()
        gig = await applications.gigs.get_for_creator(request.user, gig_id)
        raw, parse_errors = read_application_form(form, gig.currency)
        try:
            await applications.apply(request.user, gig_id, raw, parse_errors)
        except (InvalidInput, Conflict) as exc:
            errors = exc.errors if isinstance(exc, InvalidInput) else {"form": exc.message}
            values = {k: form.get(k) for k in ("pitch", "social_account_id", "counter_offer.amount")}
            return await gig_detail_page(request, applications.gigs, gig_id, form=values, errors=errors,
                                         status_code=exc.status_code, block="apply")
        flash(request, gettext("Application sent. You'll hear back here and by email."))
        return redirect(request, f"/gigs/{gig_id}")

    @get("/creator/applications", name="creator_applications")
    async def mine(self, request: Request[Any, Any, Any],
                   applications: NamedDependency[ApplicationService]) -> Response[Any]:
        return await self._list(request, applications)

    async def _list(self, request: Request[Any, Any, Any], applications: ApplicationService, *,
                    error: str | None = None, status_code: int = 200) -> Response[Any]:
        rows = await applications.creator_applications(request.user)
        invitations = await applications.gigs.creator_invitations(request.user)
        applied = {row.gig.id for row in rows if row.application.status is not ApplicationStatus.WITHDRAWN}
        invitations = [i for i in invitations if i[1].id not in applied]
        return render(request, "applications/creator_list.html",
                      {"rows": rows, "invitations": invitations, "error": error},
                      block="applications", status_code=status_code)

    @post("/creator/applications/{application_id:uuid}/withdraw")
    async def withdraw(self, request: Request[Any, Any, Any], application_id: FromPath[UUID],
                       applications: NamedDependency[ApplicationService]) -> Response[Any]:
        try:
            await applications.withdraw(request.user, application_id)
        except Conflict as exc:
            return await self._list(request, applications, error=exc.message, status_code=409)
        if is_htmx(request):  # the re-rendered list shows the change; a flash would linger to the next page
            return await self._list(request, applications)
        flash(request, gettext('Application withdrawn.'))
        return redirect(request, "/creator/applications")


class BrandApplicationPages(PageController):
    path = "/brand/gigs/{gig_id:uuid}/applications"
    guards = [brand_member()]
    dependencies = {"applications": Provide(provide_applications, sync_to_thread=False)}

    async def _page(self, request: Request[Any, Any, Any], applications: ApplicationService, gig_id: UUID,
                    filters: ApplicationFilters, *, errors: dict[str, str] | None = None,
                    message: str | None = None, status_code: int = 200) -> Response[Any]:
        gig = await applications.gigs.get_for_brand(request.user, gig_id)
        page = await applications.applicants(request.user, gig_id, filters)
        query = filters.as_query()
        base = f"/brand/gigs/{gig_id}/applications"
        context = {
            "gig": gig, "page": page, "filters": filters, "errors": errors or {}, "message": message,
            "form": {k: request.query_params.get(k, "") for k in request.query_params},
            "next_link": f"{base}?{urlencode({**query, 'cursor': page.next_cursor})}" if page.next_cursor else None,
            "self_link": f"{base}?{urlencode(query)}" if query else base,
            "sorts": APPLICATION_SORT_LABELS, "statuses": [(s.value, s.value.capitalize()) for s in ApplicationStatus],
            "platforms": [(p.value, p.value.capitalize()) for p in Platform],
            "can_decide": request.user.brand_role in GIG_EDITORS,
        }
        return render(request, "applications/brand_list.html", context, block="applications",
                      status_code=status_code)

    @get("/", name="brand_gig_applications")
    async def list_applications(self, request: Request[Any, Any, Any], gig_id: FromPath[UUID],
                                applications: NamedDependency[ApplicationService]) -> Response[Any]:
        try:
            filters = parse_application_filters(request.query_params)
        except InvalidInput as exc:
            return await self._page(request, applications, gig_id, ApplicationFilters(), errors=exc.errors,
                                    status_code=422)
        return await self._page(request, applications, gig_id, filters)

    @post("/decide", guards=[MANAGERS])
    async def decide(self, request: Request[Any, Any, Any], gig_id: FromPath[UUID],
                     applications: NamedDependency[ApplicationService]) -> Response[Any]:
        """Accept or decline the ticked applications (or the one whose row button was pressed)."""
        form = await request.form()
        f = FormReader(form)
        if f.text("accept_one", max_length=100):
            decision, chosen = "accept", [f.text("accept_one", max_length=100)]
        elif f.text("decline_one", max_length=100):
            decision, chosen = "decline", [f.text("decline_one", max_length=100)]
        else:
            decision, chosen = f.text("decision", max_length=20), f.values("application_ids")
        back_query = f.text("back", max_length=2000)
        try:
            filters = parse_application_filters(dict(parse_qsl(back_query))) if back_query else ApplicationFilters()
        except InvalidInput:
            filters = ApplicationFilters()
        ids, bad = ids_from(chosen)
        try:
            if bad:
                raise InvalidInput({"application_ids": gettext('Choose applications from the list.')})
            if decision == "accept":
                result = await applications.accept(request.user, gig_id, ids)
                message = f"Accepted {len(result.decided)}; each creator was sent the terms to sign."
            elif decision == "decline":
                result = await applications.decline(request.user, gig_id, ids, f.text("reason", max_length=10_000))
                message = f"Declined {len(result.decided)}; the creators were told."
            else:
                raise InvalidInput({"decision": gettext('Choose accept or decline.')})
        except (InvalidInput, Conflict) as exc:
            errors = exc.errors if isinstance(exc, InvalidInput) else {"form": exc.message}
            return await self._page(request, applications, gig_id, filters, errors=errors,
                                    status_code=exc.status_code)
        if is_htmx(request):
            return await self._page(request, applications, gig_id, filters, message=message)
        flash(request, message)
        query = urlencode(filters.as_query())  # rebuilt from the parsed filters, never echoed as sent
        return redirect(request, f"/brand/gigs/{gig_id}/applications" + (f"?{query}" if query else ""))


# --- JSON API -----------------------------------------------------------------------------------------------------


class ApplicationApi(Controller):
    path = "/api/v1"
    tags = ["applications"]
    guards = [signed_in]
    dependencies = {"applications": Provide(provide_applications, sync_to_thread=False)}

    @get("/gigs/{gig_id:uuid}/applications",
         summary="Applications to a gig: all of them for its brand (filters, sort, cursor), your own for a creator")
    async def list_applications(self, request: Request[Any, Any, Any], gig_id: FromPath[UUID],
                                applications: NamedDependency[ApplicationService]) -> ApplicationListOut:
        actor: Actor = request.user
        if actor.is_brand:
            gig = await applications.gigs.get_for_brand(actor, gig_id)
            filters = parse_application_filters(request.query_params)
            page = await applications.applicants(actor, gig_id, filters)
            return ApplicationListOut([applicant_out(r, gig.currency) for r in page.items], page.next_cursor,
                                      page.slots, page.slots_taken)
        if not actor.is_creator or actor.creator_id is None:
            raise Forbidden(gettext('Applications are for brands and creators.'))
        gig = await applications.gigs.get_for_creator(actor, gig_id)
        own = await applications.own_application(actor.creator_id, gig.id)
        if own is None:
            return ApplicationListOut([])
        account = await applications.session.get(SocialAccount, own.social_account_id)
        return ApplicationListOut([application_out(own, gig.currency, account=account)])

    @post("/gigs/{gig_id:uuid}/applications", status_code=HTTP_201_CREATED, guards=[creator_only],
          summary="Apply to a gig (creators)")
    async def apply(self, request: Request[Any, Any, Any], gig_id: FromPath[UUID], data: JSONBody[ApplicationIn],
                    applications: NamedDependency[ApplicationService]) -> ApplicationOut:
        raw: dict[str, Any] = {"pitch": data.pitch, "social_account_id": data.social_account_id}
        if data.counter_offer is not None:
            raw["counter_offer_amount"] = data.counter_offer.amount
            raw["counter_offer_currency"] = data.counter_offer.currency
        application = await applications.apply(request.user, gig_id, raw)
        gig = await applications.session.get(Gig, application.gig_id)
        account = await applications.session.get(SocialAccount, application.social_account_id)
        assert gig is not None
        return application_out(application, gig.currency, account=account)

    async def _bulk(self, request: Request[Any, Any, Any], applications: ApplicationService, gig_id: UUID,
                    data: ApplicationIdsIn, decision: str) -> DecisionOut:
        ids, bad = ids_from(data.application_ids)
        if bad:
            raise InvalidInput({"application_ids": gettext("Not application ids: %(ids)s", ids=", ".join(bad[:10]))})
        if decision == "accept":
            result = await applications.accept(request.user, gig_id, ids)
        else:
            result = await applications.decline(request.user, gig_id, ids, data.reason)
        gig = await applications.session.get(Gig, gig_id)
        assert gig is not None
        return decision_out(result, gig.currency)

    @post("/gigs/{gig_id:uuid}/applications/accept", status_code=HTTP_200_OK, guards=[MANAGERS],
          summary="Accept many applications at once (all or none; refused beyond the gig's slots)")
    async def accept_many(self, request: Request[Any, Any, Any], gig_id: FromPath[UUID],
                          data: JSONBody[ApplicationIdsIn],
                          applications: NamedDependency[ApplicationService]) -> DecisionOut:
        return await self._bulk(request, applications, gig_id, data, "accept")

    @post("/gigs/{gig_id:uuid}/applications/decline", status_code=HTTP_200_OK, guards=[MANAGERS],
          summary="Decline many applications at once")
    async def decline_many(self, request: Request[Any, Any, Any], gig_id: FromPath[UUID],
                           data: JSONBody[ApplicationIdsIn],
                           applications: NamedDependency[ApplicationService]) -> DecisionOut:
        return await self._bulk(request, applications, gig_id, data, "decline")

    @post("/applications/{application_id:uuid}/accept", status_code=HTTP_200_OK, guards=[MANAGERS],
          summary="Accept one application: makes a collaboration (offered) and tells the creator")
    async def accept(self, request: Request[Any, Any, Any], application_id: FromPath[UUID],
                     applications: NamedDependency[ApplicationService]) -> ApplicationOut:
        gig_id = await applications.gig_of_application(request.user, application_id)
        result = await applications.accept(request.user, gig_id, [application_id])
        gig = await applications.session.get(Gig, gig_id)
        assert gig is not None
        return decision_out(result, gig.currency).decided_or_unchanged()

    @post("/applications/{application_id:uuid}/decline", status_code=HTTP_200_OK, guards=[MANAGERS],
          summary="Decline one application")
    async def decline(self, request: Request[Any, Any, Any], application_id: FromPath[UUID],
                      applications: NamedDependency[ApplicationService],
                      data: JSONBody[DeclineIn | None] = None) -> ApplicationOut:
        gig_id = await applications.gig_of_application(request.user, application_id)
        result = await applications.decline(request.user, gig_id, [application_id], data.reason if data else None)
        gig = await applications.session.get(Gig, gig_id)
        assert gig is not None
        return decision_out(result, gig.currency).decided_or_unchanged()

    @post("/applications/{application_id:uuid}/withdraw", status_code=HTTP_200_OK, guards=[creator_only],
          summary="Withdraw your pending application")
    async def withdraw(self, request: Request[Any, Any, Any], application_id: FromPath[UUID],
                       applications: NamedDependency[ApplicationService]) -> ApplicationOut:
        application = await applications.withdraw(request.user, application_id)
        gig = await applications.session.get(Gig, application.gig_id)
        assert gig is not None
        return application_out(application, gig.currency)


#: Route handlers (controllers) this area contributes to the app; create_app() includes them in order.
ROUTES: list[Any] = [CreatorApplicationPages, BrandApplicationPages, ApplicationApi]
