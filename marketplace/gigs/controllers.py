"""Pages and JSON API routes for gigs: brands draft, edit, publish and close them; creators search and read them."""

from __future__ import annotations

from typing import Annotated, Any, NamedTuple
from urllib.parse import urlencode
from uuid import UUID

from litestar import Controller, Request, Response, get, patch, post
from litestar.di import NamedDependency, Provide
from litestar.params import FromPath, FromQuery, JSONBody, QueryParameter
from litestar.status_codes import HTTP_200_OK, HTTP_201_CREATED
from sqlalchemy.ext.asyncio import AsyncSession

from escrow.money import CURRENCY_EXPONENTS
from marketplace.accounts.auth import READ_ONLY, Actor
from marketplace.accounts.guards import brand_member, creator_only, signed_in
from marketplace.applications.models import ApplicationStatus
from marketplace.applications.services import ApplicationService
from marketplace.brands.models import Brand, BrandRole
from marketplace.clock import as_utc
from marketplace.creators.models import ContentKind, Platform
from marketplace.creators.services import CreatorProfileService, creator_facts, ids_from
from marketplace.errors import Conflict, Forbidden, InvalidInput
from marketplace.forms import FormReader
from marketplace.gigs.forms import deliverable_rows, form_values, gig_form_values, read_gig_form, read_offsets
from marketplace.gigs.models import Gig, GigStatus
from marketplace.gigs.rules import check_eligibility, requirements_of
from marketplace.gigs.schemas import (
    EligibilityOut,
    GigIn,
    GigListOut,
    GigOut,
    GigPatch,
    InvitationsIn,
    InvitationsOut,
    gig_out,
    invitations_out,
    raw_from_gig_in,
)
from marketplace.gigs.search import SORT_LABELS, SORTS, GigFilters, parse_gig_filters
from marketplace.gigs.services import GIG_EDITORS, GigCard, GigService
from marketplace.gigs.validation import COUNTRY_CODES, NICHE_RE
from marketplace.i18n import gettext
from marketplace.openapi import NO_NUL
from marketplace.storage import media_url
from marketplace.templating import datetime_filter, money
from marketplace.verification.posts import platform_label
from marketplace.web import PageController, flash, redirect, render, runtime_of
from reputation.tiers import Tier

MANAGERS = brand_member(BrandRole.MANAGER)
TIMES = "\N{MULTIPLICATION SIGN}"
STATUS_TAGS = {"draft": "muted", "open": "ok", "closed": "warn", "archived": "muted"}


def provide_gigs(db_session: NamedDependency[AsyncSession], request: Request[Any, Any, Any]) -> GigService:
    return GigService(db_session, runtime_of(request))


def form_choices() -> dict[str, Any]:
    return {
        "platforms": [(p.value, platform_label(p)) for p in Platform],
        "kinds": [(k.value, k.value.capitalize()) for k in ContentKind],
        "currencies": [(c, c) for c in sorted(CURRENCY_EXPONENTS)],
        "tiers": [("", "Any")] + [(t.name.lower(), t.label) for t in Tier],
        "status_tags": STATUS_TAGS,
    }


#: A money filter for creators: whole minor units (e.g. 1500), as ``parse_gig_filters`` reads them.
MINOR_UNITS = {"pattern": r"^[0-9]{1,15}$"}

class ResultCard(NamedTuple):
    """A search result's words, worked out once in Python (the template only places them)."""

    id: UUID
    title: str
    fee: str
    #: "Brand · Product worth $45.00 · apply by 01 Dec 2026, 12:00 UTC"
    meta: str
    #: Each deliverable's count, platform and kind ("1 x tiktok video", with a multiplication sign)
    deliverables: list[str]
    niches: list[str]
    application_status: str | None
    eligible: bool
    reason: str
    invited: bool
    #: The product's picture (uploaded, else the store's), or None.
    image: str | None = None


def result_card(card: GigCard, media_base: str | None) -> ResultCard:
    gig = card.gig
    meta = card.brand_name
    if gig.product_included:
        meta += " · " + gettext("%(product)s worth %(value)s", product=gig.product_name,
                                value=money(gig.product_retail_value, gig.currency))
    if gig.apply_by:
        meta += " · " + gettext("apply by %(when)s", when=datetime_filter(gig.apply_by))
    return ResultCard(
        image=media_url(gig.product_image_key, media_base) or gig.product_image_url,
        id=gig.id, title=gig.title, fee=money(gig.base_fee_amount, gig.currency), meta=meta,
        deliverables=[f"{d.count} {TIMES} {d.platform.value} {d.kind.value}" for d in card.details.deliverables],
        niches=card.details.niches, application_status=card.application_status,
        eligible=card.eligibility.eligible, reason=card.eligibility.reason, invited=card.invited,
    )


def can_edit(actor: Actor) -> bool:
    return actor.brand_role in GIG_EDITORS


class BrandGigPages(PageController):
    path = "/brand/gigs"
    guards = [brand_member()]
    dependencies = {"gigs": Provide(provide_gigs, sync_to_thread=False)}

    @get("/", name="brand_gigs", opt={READ_ONLY: True})  # only reads (see ``auth.READ_ONLY``)
    async def list_gigs(self, request: Request[Any, Any, Any], gigs: NamedDependency[GigService],
                        status: FromQuery[str | None] = None) -> Response[Any]:
        chosen = GigStatus(status) if status in {s.value for s in GigStatus} else None
        rows = await gigs.brand_gigs(request.user, chosen)
        return render(request, "gigs/brand_list.html", {"rows": rows, "status": chosen, "statuses": list(GigStatus),
                                                        "can_edit": can_edit(request.user), **form_choices()})

    @get("/new", name="brand_gig_new", guards=[MANAGERS])
    async def new_form(self, request: Request[Any, Any, Any]) -> Response[Any]:
        values = gig_form_values(None, None)
        return render(request, "gigs/edit.html", {"gig": None, "form": values, "errors": {},
                                                  "rows": deliverable_rows(values), **form_choices()})

    @post("/", guards=[MANAGERS])
    async def create(self, request: Request[Any, Any, Any], gigs: NamedDependency[GigService]) -> Response[Any]:
        form = await request.form()
        raw, parse_errors = read_gig_form(form)
        try:
            gig = await gigs.create_gig(request.user, raw, parse_errors)
        except InvalidInput as exc:
            values = form_values(form)
            return render(request, "gigs/edit.html", {"gig": None, "form": values, "errors": exc.errors,
                                                      "rows": deliverable_rows(values), **form_choices()},
                          block="form", status_code=422)
        flash(request, gettext("Draft saved. Publish it when you're ready for applications."))
        return redirect(request, f"/brand/gigs/{gig.id}")

    async def _page(self, request: Request[Any, Any, Any], gigs: GigService, gig: Gig, *,
                    form: dict[str, Any] | None = None, errors: dict[str, str] | None = None,
                    status_code: int = 200, block: str | None = None) -> Response[Any]:
        details = (await gigs.details([gig.id]))[gig.id]
        values = form if form is not None else gig_form_values(gig, details)
        taken = (await gigs.accepted_counts([gig.id])).get(gig.id, 0)
        invited = await gigs.invitation_counts(gig.id)
        return render(request, "gigs/brand_gig.html", {
            "gig": gig, "details": details, "form": values, "errors": errors or {}, "taken": taken,
            "invited": invited, "rows": deliverable_rows(values), "can_edit": can_edit(request.user),
            "editable": gig.status in (GigStatus.DRAFT, GigStatus.OPEN), **form_choices(),
        }, block=block, status_code=status_code)

    @get("/{gig_id:uuid}", name="brand_gig")
    async def show(self, request: Request[Any, Any, Any], gig_id: FromPath[UUID],
                   gigs: NamedDependency[GigService]) -> Response[Any]:
        gig = await gigs.get_for_brand(request.user, gig_id)
        return await self._page(request, gigs, gig)

    @post("/{gig_id:uuid}", guards=[MANAGERS])
    async def update(self, request: Request[Any, Any, Any], gig_id: FromPath[UUID],
                     gigs: NamedDependency[GigService]) -> Response[Any]:
        form = await request.form()
        raw, parse_errors = read_gig_form(form)
        try:
            await gigs.update_gig(request.user, gig_id, raw, parse_errors)
        except (InvalidInput, Conflict) as exc:
            gig = await gigs.get_for_brand(request.user, gig_id)
            errors = exc.errors if isinstance(exc, InvalidInput) else {"form": exc.message}
            return await self._page(request, gigs, gig, form=form_values(form), errors=errors,
                                    status_code=exc.status_code, block="form")
        flash(request, gettext('Gig updated. Deals already made keep the terms they were accepted under.'))
        return redirect(request, f"/brand/gigs/{gig_id}")

    async def _status_change(self, request: Request[Any, Any, Any], gigs: GigService, gig_id: UUID,
                             action: str) -> Response[Any]:
        try:
            if action == "publish":
                await gigs.publish_gig(request.user, gig_id)
                flash(request, gettext('Published: creators can find the gig and apply.'))
            elif action == "close":
                await gigs.close_gig(request.user, gig_id)
                flash(request, gettext('Closed: no new applications. You can still decide on pending ones.'))
            else:
                await gigs.archive_gig(request.user, gig_id)
                flash(request, gettext('Archived.'))
        except (InvalidInput, Conflict) as exc:
            gig = await gigs.get_for_brand(request.user, gig_id)
            errors = exc.errors if isinstance(exc, InvalidInput) else {}
            errors = {"status": exc.message if not errors else "; ".join(errors.values()), **errors}
            return await self._page(request, gigs, gig, errors=errors, status_code=exc.status_code,
                                    block="summary")
        return redirect(request, f"/brand/gigs/{gig_id}")

    @post("/{gig_id:uuid}/publish", guards=[MANAGERS])
    async def publish(self, request: Request[Any, Any, Any], gig_id: FromPath[UUID],
                      gigs: NamedDependency[GigService]) -> Response[Any]:
        return await self._status_change(request, gigs, gig_id, "publish")

    @post("/{gig_id:uuid}/close", guards=[MANAGERS])
    async def close(self, request: Request[Any, Any, Any], gig_id: FromPath[UUID],
                    gigs: NamedDependency[GigService]) -> Response[Any]:
        return await self._status_change(request, gigs, gig_id, "close")

    @post("/{gig_id:uuid}/archive", guards=[MANAGERS])
    async def archive(self, request: Request[Any, Any, Any], gig_id: FromPath[UUID],
                      gigs: NamedDependency[GigService]) -> Response[Any]:
        return await self._status_change(request, gigs, gig_id, "archive")

    @post("/{gig_id:uuid}/reminders", guards=[MANAGERS])
    async def reminders(self, request: Request[Any, Any, Any], gig_id: FromPath[UUID],
                        gigs: NamedDependency[GigService]) -> Response[Any]:
        f = FormReader(await request.form())
        offsets = read_offsets(f, "reminder_offsets_hours")
        try:
            f.raise_if_invalid()
            gig = await gigs.set_reminder_offsets(request.user, gig_id, offsets or [])
        except InvalidInput as exc:
            gig = await gigs.get_for_brand(request.user, gig_id)
            return await self._page(request, gigs, gig, errors=exc.errors, status_code=422, block="reminders")
        if request.headers.get("hx-request") == "true":
            return await self._page(request, gigs, gig, block="reminders")
        flash(request, gettext('Reminder schedule saved for deals made from now on.'))
        return redirect(request, f"/brand/gigs/{gig_id}")


class CreatorGigPages(PageController):
    guards = [creator_only]
    dependencies = {"gigs": Provide(provide_gigs, sync_to_thread=False)}

    # Read-only (see ``auth.READ_ONLY``): the page's statements run without a BEGIN and COMMIT around them on
    # PostgreSQL, where each statement of a read committed transaction takes its own snapshot anyway.
    @get("/gigs", name="gig_search", opt={READ_ONLY: True})
    async def search(self, request: Request[Any, Any, Any], gigs: NamedDependency[GigService]) -> Response[Any]:
        actor: Actor = request.user
        params = request.query_params
        try:
            filters = parse_gig_filters(params, major_units=True)
            errors: dict[str, str] = {}
        except InvalidInput as exc:
            filters, errors = GigFilters(), exc.errors
        if actor.creator_id:
            page, facts = await gigs.creator_search(actor.creator_id, filters)
        else:
            page, facts = await gigs.search(None, None, filters), None
        query = filters.as_query(major_units=True)
        next_link = f"/gigs?{urlencode({**query, 'cursor': page.next_cursor})}" if page.next_cursor else None
        media_base = runtime_of(request).settings.storage.media_public_url
        context = {"cards": [result_card(card, media_base) for card in page.items], "filters": filters,
                   "form": {k: params.get(k, "") for k in params}, "errors": errors, "next_link": next_link,
                   "sorts": SORT_LABELS, "facts": facts,
                   "first_link": f"/gigs?{urlencode(query)}" if filters.cursor else None, **form_choices()}
        return render(request, "gigs/search.html", context, block="results", status_code=422 if errors else 200)

    @get("/gigs/{gig_id:uuid}", name="gig_detail")
    async def detail(self, request: Request[Any, Any, Any], gig_id: FromPath[UUID],
                     gigs: NamedDependency[GigService]) -> Response[Any]:
        return await gig_detail_page(request, gigs, gig_id)


async def gig_detail_page(request: Request[Any, Any, Any], gigs: GigService, gig_id: UUID, *,
                          form: dict[str, Any] | None = None, errors: dict[str, str] | None = None,
                          status_code: int = 200, block: str | None = None) -> Response[Any]:
    """A gig as a creator sees it, with the apply form (or their application) — also used by the apply route."""
    actor: Actor = request.user
    gig = await gigs.get_for_creator(actor, gig_id)
    assert actor.creator_id is not None
    details = (await gigs.details([gig.id]))[gig.id]
    facts = await creator_facts(gigs.session, actor.creator_id, gigs.now)
    eligibility = check_eligibility(facts, requirements_of(gig, details.platforms, details.niches))
    applications = ApplicationService(gigs.session, gigs.runtime)
    application = await applications.own_application(actor.creator_id, gig.id)
    profile = await CreatorProfileService(gigs.session).profile(actor.creator_id)
    brand = await gigs.session.get(Brand, gig.brand_id)
    now = gigs.now
    taking = gig.status is GigStatus.OPEN and (gig.apply_by is None or as_utc(gig.apply_by) > now)
    return render(request, "gigs/detail.html", {
        "gig": gig, "details": details, "brand": brand, "eligibility": eligibility, "application": application,
        "accounts": profile.accounts, "taking_applications": taking, "form": form or {}, "errors": errors or {},
        "can_apply": taking and eligibility.eligible and (
            application is None or application.status is ApplicationStatus.WITHDRAWN),
    }, block=block, status_code=status_code)


# --- JSON API -----------------------------------------------------------------------------------------------------


#: The values the list filters take, as the OpenAPI schema states them (null: no filter).
CURRENCY_CHOICES: list[str | None] = [*sorted(CURRENCY_EXPONENTS), None]
STATUS_CHOICES: list[str | None] = [*(s.value for s in GigStatus), None]


class GigApi(Controller):
    path = "/api/v1"
    tags = ["gigs"]
    guards = [signed_in]
    dependencies = {"gigs": Provide(provide_gigs, sync_to_thread=False)}

    @get("/gigs", summary="List gigs: a brand's own gigs, or open gigs for a creator (filters, sort, cursor)")
    async def list_gigs(
        self,
        request: Request[Any, Any, Any],
        gigs: NamedDependency[GigService],
        q: Annotated[str | None, QueryParameter(schema_extra={"maxLength": 200, "pattern": NO_NUL})] = None,
        platform: Annotated[str | None, QueryParameter(schema_extra={"enum": [p.value for p in Platform]})] = None,
        niche: Annotated[str | None, QueryParameter(schema_extra={"pattern": NICHE_RE.pattern})] = None,
        country: Annotated[str | None, QueryParameter(schema_extra={"enum": sorted(COUNTRY_CODES)})] = None,
        currency: Annotated[str | None, QueryParameter(schema_extra={"enum": CURRENCY_CHOICES})] = None,
        fee_min: Annotated[str | None, QueryParameter(schema_extra=MINOR_UNITS)] = None,
        fee_max: Annotated[str | None, QueryParameter(schema_extra=MINOR_UNITS)] = None,
        product_value_min: Annotated[str | None, QueryParameter(schema_extra=MINOR_UNITS)] = None,
        product_value_max: Annotated[str | None, QueryParameter(schema_extra=MINOR_UNITS)] = None,
        apply_before: Annotated[str | None, QueryParameter(schema_extra={"format": "date"})] = None,
        sort: Annotated[str | None, QueryParameter(schema_extra={"enum": [*SORTS, None]})] = None,
        cursor: FromQuery[str | None] = None,
        limit: Annotated[str | None, QueryParameter(schema_extra={"pattern": r"^(?:[1-9][0-9]?|100)$"})] = None,
        status: Annotated[str | None, QueryParameter(schema_extra={"enum": STATUS_CHOICES})] = None,
    ) -> GigListOut:
        """Creators: money filters are in minor units of ``currency`` (default USD); ``apply_before`` is a date;
        ``sort`` is newest, fee or deadline. Brands: ``status`` filters their own gigs."""
        actor: Actor = request.user
        if actor.is_brand:
            chosen = None
            if status:
                try:
                    chosen = GigStatus(status)
                except ValueError as exc:
                    raise InvalidInput({"status": gettext('Status must be draft, open, closed or archived.')}) from exc
            rows = await gigs.brand_gigs(actor, chosen)
            details = await gigs.details([r.gig.id for r in rows])
            return GigListOut([gig_out(r.gig, details[r.gig.id], slots_taken=r.accepted) for r in rows])
        if not actor.is_creator:
            raise Forbidden(gettext('Gigs are for brands and creators.'))
        filters = parse_gig_filters(request.query_params, major_units=False)
        assert actor.creator_id is not None
        page, _ = await gigs.creator_search(actor.creator_id, filters, full=True)
        return GigListOut([
            gig_out(card.gig, card.details, brand_name=card.brand_name, application_status=card.application_status,
                    eligibility=EligibilityOut(card.eligibility.eligible, list(card.eligibility.reasons)))
            for card in page.items
        ], page.next_cursor)

    @post("/gigs", status_code=HTTP_201_CREATED, guards=[MANAGERS], summary="Create a gig (as a draft)")
    async def create(self, request: Request[Any, Any, Any], data: JSONBody[GigIn],
                     gigs: NamedDependency[GigService]) -> GigOut:
        gig = await gigs.create_gig(request.user, raw_from_gig_in(data))
        return gig_out(gig, (await gigs.details([gig.id]))[gig.id], slots_taken=0)

    async def _out(self, gigs: GigService, actor: Actor, gig: Gig) -> GigOut:
        details = (await gigs.details([gig.id]))[gig.id]
        if actor.is_brand:
            return gig_out(gig, details, slots_taken=(await gigs.accepted_counts([gig.id])).get(gig.id, 0))
        assert actor.creator_id is not None
        facts = await creator_facts(gigs.session, actor.creator_id, gigs.now)
        eligibility = check_eligibility(facts, requirements_of(gig, details.platforms, details.niches))
        own = await ApplicationService(gigs.session, gigs.runtime).own_application(actor.creator_id, gig.id)
        return gig_out(gig, details, eligibility=EligibilityOut(eligibility.eligible, list(eligibility.reasons)),
                       application_status=str(own.status) if own else None)

    @get("/gigs/{gig_id:uuid}", summary="One gig (brands: their own; creators: published gigs)")
    async def show(self, request: Request[Any, Any, Any], gig_id: FromPath[UUID],
                   gigs: NamedDependency[GigService]) -> GigOut:
        actor: Actor = request.user
        gig = await (gigs.get_for_brand(actor, gig_id) if actor.is_brand else gigs.get_for_creator(actor, gig_id))
        return await self._out(gigs, actor, gig)

    @patch("/gigs/{gig_id:uuid}", guards=[MANAGERS], summary="Change some fields of a draft or open gig")
    async def update(self, request: Request[Any, Any, Any], gig_id: FromPath[UUID], data: JSONBody[GigPatch],
                     gigs: NamedDependency[GigService]) -> GigOut:
        gig = await gigs.update_gig(request.user, gig_id, raw_from_gig_in(data))
        return await self._out(gigs, request.user, gig)

    @post("/gigs/{gig_id:uuid}/publish", status_code=HTTP_200_OK, guards=[MANAGERS],
          summary="Publish a draft: creators can apply")
    async def publish(self, request: Request[Any, Any, Any], gig_id: FromPath[UUID],
                      gigs: NamedDependency[GigService]) -> GigOut:
        return await self._out(gigs, request.user, await gigs.publish_gig(request.user, gig_id))

    @post("/gigs/{gig_id:uuid}/close", status_code=HTTP_200_OK, guards=[MANAGERS],
          summary="Close a gig to new applications")
    async def close(self, request: Request[Any, Any, Any], gig_id: FromPath[UUID],
                    gigs: NamedDependency[GigService]) -> GigOut:
        return await self._out(gigs, request.user, await gigs.close_gig(request.user, gig_id))

    @post("/gigs/{gig_id:uuid}/invitations", status_code=HTTP_200_OK, guards=[MANAGERS],
          summary="Invite creators (one or hundreds) to apply to a gig")
    async def invite(self, request: Request[Any, Any, Any], gig_id: FromPath[UUID], data: JSONBody[InvitationsIn],
                     gigs: NamedDependency[GigService]) -> InvitationsOut:
        ids, bad = ids_from(data.creator_ids)
        if bad:
            raise InvalidInput({"creator_ids": gettext("Not creator ids: %(ids)s", ids=", ".join(bad[:10]))})
        return invitations_out(await gigs.invite_creators(request.user, gig_id, ids, data.message))


#: Route handlers (controllers) this area contributes to the app; create_app() includes them in order.
ROUTES: list[Any] = [BrandGigPages, CreatorGigPages, GigApi]
