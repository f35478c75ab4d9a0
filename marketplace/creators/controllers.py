"""Pages and JSON API routes for creators: their own profile, and the directory brands browse, annotate and invite
from."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode
from uuid import UUID

import msgspec
import sqlalchemy as sa
from litestar import Controller, Request, Response, get, post
from litestar.di import NamedDependency, Provide
from litestar.params import FromPath
from sqlalchemy.ext.asyncio import AsyncSession

from escrow.money import CURRENCY_EXPONENTS
from marketplace.accounts.auth import Actor
from marketplace.accounts.guards import brand_member, creator_only
from marketplace.brands.models import BrandRole
from marketplace.brands.services import NOTE_WRITERS, BrandService
from marketplace.creators.models import ContentKind, Platform
from marketplace.creators.services import (
    DIRECTORY_SORT_LABELS,
    CreatorProfileService,
    DirectoryFilters,
    creator_for_brand,
    ids_from,
    parse_directory_filters,
    search_directory,
)
from marketplace.errors import Conflict, InvalidInput
from marketplace.forms import FormReader
from marketplace.gigs.forms import TEXT_LIMIT as UNLIMITED
from marketplace.gigs.models import Gig, GigStatus
from marketplace.gigs.services import GIG_EDITORS, GigService
from marketplace.gigs.validation import split_words
from marketplace.i18n import N_, gettext
from marketplace.media.services import MediaService
from marketplace.payments.services import payout_status
from marketplace.ratelimit import Limit
from marketplace.verification.posts import platform_label
from marketplace.web import PageController, flash, is_htmx, redirect, render, runtime_of, safe_next

MANAGERS = brand_member(BrandRole.MANAGER)
SECTIONS = ("details", "accounts", "rates", "address")


def provide_profiles(db_session: NamedDependency[AsyncSession]) -> CreatorProfileService:
    return CreatorProfileService(db_session)


def provide_brands(db_session: NamedDependency[AsyncSession], request: Request[Any, Any, Any]) -> BrandService:
    return BrandService(db_session, runtime_of(request))


def choices() -> dict[str, Any]:
    return {
        "platforms": [(p.value, platform_label(p)) for p in Platform],
        "kinds": [(k.value, k.value.capitalize()) for k in ContentKind],
        "currencies": [(c, c) for c in sorted(CURRENCY_EXPONENTS)],
    }


#: Saves of the shipping address per creator per day.
ADDRESS_SAVES = Limit(attempts=10, window_seconds=24 * 3600)


class CreatorProfilePages(PageController):
    path = "/creator/profile"
    guards = [creator_only]
    dependencies = {"profiles": Provide(provide_profiles, sync_to_thread=False)}

    async def _page(self, request: Request[Any, Any, Any], profiles: CreatorProfileService, *,
                    section: str | None = None, form: dict[str, Any] | None = None,
                    errors: dict[str, str] | None = None, status_code: int = 200) -> Response[Any]:
        actor: Actor = request.user
        assert actor.creator_id is not None
        profile = await profiles.profile(actor.creator_id)
        forms: dict[str, dict[str, Any]] = {s: {} for s in SECTIONS}
        all_errors: dict[str, dict[str, str]] = {s: {} for s in SECTIONS}
        c = profile.creator
        forms["details"] = {"display_name": c.display_name, "bio": c.bio, "country": c.country or "",
                            "languages": ", ".join(c.languages or []), "niches": ", ".join(profile.niches)}
        a = profile.address
        forms["address"] = {k: getattr(a, k) for k in ("recipient_name", "line1", "line2", "city", "region",
                                                         "postal_code", "phone")} if a else {}
        if a:
            forms["address"]["address_country"] = a.country
        forms["rates"] = {"rate.currency": "USD"}
        if section is not None:
            forms[section] = {**forms[section], **(form or {})}
            all_errors[section] = errors or {}
        payouts = await payout_status(profiles.session, actor.creator_id)
        return render(request, "creators/profile.html", {"profile": profile, "forms": forms, "errors": all_errors,
                                                         "payouts": payouts, **choices()},
                      block=section, status_code=status_code)

    @get("/", name="creator_profile")
    async def show(self, request: Request[Any, Any, Any],
                   profiles: NamedDependency[CreatorProfileService]) -> Response[Any]:
        return await self._page(request, profiles)

    async def _after(self, request: Request[Any, Any, Any], profiles: CreatorProfileService, section: str,
                     message: str) -> Response[Any]:
        if is_htmx(request):  # the re-rendered section shows the change; a flash would linger to the next page
            return await self._page(request, profiles, section=section)
        flash(request, message)
        return redirect(request, f"/creator/profile#{section}")

    @post("/")
    async def save_details(self, request: Request[Any, Any, Any],
                           profiles: NamedDependency[CreatorProfileService]) -> Response[Any]:
        form = await request.form()
        f = FormReader(form)
        raw = {
            "display_name": f.text("display_name", max_length=UNLIMITED, strip=False),
            "bio": f.text("bio", max_length=UNLIMITED, strip=False),
            "country": f.text("country", max_length=100),
            "languages": split_words(f.text("languages", max_length=10_000)),
            "niches": split_words(f.text("niches", max_length=10_000)),
        }
        try:
            await profiles.update_details(request.user, raw, f.errors)
        except InvalidInput as exc:
            return await self._page(request, profiles, section="details", form=dict(form), errors=exc.errors,
                                    status_code=422)
        return await self._after(request, profiles, "details", "Profile saved.")

    def _account_raw(self, f: FormReader) -> dict[str, Any]:
        return {
            "platform": f.text("platform", max_length=100),
            "handle": f.text("handle", max_length=10_000),
            "profile_url": f.text("profile_url", max_length=10_000),
            "followers": f.integer("followers", label=N_('Followers')),
            "average_views": f.integer("average_views", label=N_('Average views')),
            # An engagement rate typed as a percentage with two decimals is exactly basis points (3.45% → 345).
            "engagement_bps": f.decimal_minor("engagement_rate", exponent=2, label=N_('Engagement rate')),
        }

    async def _save_account(self, request: Request[Any, Any, Any], profiles: CreatorProfileService,
                            account_id: UUID | None) -> Response[Any]:
        form = await request.form()
        f = FormReader(form)
        raw = self._account_raw(f)
        errors = dict(f.errors)
        if "engagement_rate" in errors:
            errors["engagement_bps"] = errors.pop("engagement_rate")
        try:
            await profiles.save_social_account(request.user, raw, account_id, errors)
        except InvalidInput as exc:
            errs = {("engagement_rate" if k == "engagement_bps" else k): v for k, v in exc.errors.items()}
            values = {**dict(form), "editing": str(account_id) if account_id else ""}
            return await self._page(request, profiles, section="accounts", form=values, errors=errs,
                                    status_code=422)
        return await self._after(request, profiles, "accounts", "Social account saved.")

    @post("/accounts")
    async def add_account(self, request: Request[Any, Any, Any],
                          profiles: NamedDependency[CreatorProfileService]) -> Response[Any]:
        return await self._save_account(request, profiles, None)

    @post("/accounts/{account_id:uuid}")
    async def edit_account(self, request: Request[Any, Any, Any], account_id: FromPath[UUID],
                           profiles: NamedDependency[CreatorProfileService]) -> Response[Any]:
        return await self._save_account(request, profiles, account_id)

    @post("/accounts/{account_id:uuid}/remove")
    async def remove_account(self, request: Request[Any, Any, Any], account_id: FromPath[UUID],
                             profiles: NamedDependency[CreatorProfileService]) -> Response[Any]:
        try:
            await profiles.remove_social_account(request.user, account_id)
        except InvalidInput as exc:
            return await self._page(request, profiles, section="accounts", errors={"form": exc.message},
                                    status_code=422)
        return await self._after(request, profiles, "accounts", "Social account removed.")

    @post("/rates")
    async def save_rate(self, request: Request[Any, Any, Any],
                        profiles: NamedDependency[CreatorProfileService]) -> Response[Any]:
        form = await request.form()
        f = FormReader(form)
        currency = f.text("rate.currency", max_length=10).upper() or "USD"
        raw = {
            "platform": f.text("rate.platform", max_length=100),
            "kind": f.text("rate.kind", max_length=100),
            "currency": currency,
            "base_fee_amount": f.decimal_minor("rate.amount", exponent=CURRENCY_EXPONENTS.get(currency, 2),
                                               label=N_('Base fee')),
        }
        try:
            await profiles.save_rate(request.user, raw, f.errors)
        except InvalidInput as exc:
            return await self._page(request, profiles, section="rates", form=dict(form), errors=exc.errors,
                                    status_code=422)
        return await self._after(request, profiles, "rates", "Rate saved.")

    @post("/rates/{entry_id:uuid}/remove")
    async def remove_rate(self, request: Request[Any, Any, Any], entry_id: FromPath[UUID],
                          profiles: NamedDependency[CreatorProfileService]) -> Response[Any]:
        await profiles.remove_rate(request.user, entry_id)
        return await self._after(request, profiles, "rates", "Rate removed.")

    @post("/address")
    async def save_address(self, request: Request[Any, Any, Any],
                           profiles: NamedDependency[CreatorProfileService]) -> Response[Any]:
        form = await request.form()
        f = FormReader(form)
        raw = {k: f.text(k, max_length=UNLIMITED, strip=False) for k in (
            "recipient_name", "line1", "line2", "city", "region", "postal_code", "phone")}
        raw["country"] = f.text("address_country", max_length=100)
        # The address links accounts for reliability (deals ghosted at one door count for every account there), so
        # trying address after address to see what changes is capped.
        limiter, key = runtime_of(request).rate_limiter, f"address:{request.user.creator_id}"
        if not (decision := await limiter.peek(key, ADDRESS_SAVES)).allowed:
            hours = max(1, -(-decision.retry_after // 3600))
            return await self._page(request, profiles, section="address", form=dict(form), status_code=429, errors={
                "line1": f"You've changed your address often today; try again in {hours} hour{'s' * (hours > 1)}."})
        try:
            await profiles.save_address(request.user, raw)
        except InvalidInput as exc:
            return await self._page(request, profiles, section="address", form=dict(form), errors=exc.errors,
                                    status_code=422)
        await limiter.hit(key, ADDRESS_SAVES)
        return await self._after(request, profiles, "address", "Shipping address saved.")


class CreatorDirectoryPages(PageController):
    path = "/brand/creators"
    guards = [brand_member()]
    dependencies = {"brands": Provide(provide_brands, sync_to_thread=False)}

    async def _invitable_gigs(self, session: AsyncSession, brand_id: UUID) -> list[Gig]:
        """Only open gigs: an invitation to a draft reaches nobody until it is published, which surprised brands."""
        return list(await session.scalars(
            sa.select(Gig).where(Gig.brand_id == brand_id, Gig.status == GigStatus.OPEN)
            .order_by(Gig.created_at.desc()).limit(100)
        ))

    @get("/", name="creator_directory")
    async def directory(self, request: Request[Any, Any, Any], brands: NamedDependency[BrandService]) -> Response[Any]:
        actor: Actor = request.user
        assert actor.brand_id is not None
        errors: dict[str, str] = {}
        try:
            filters = parse_directory_filters(request.query_params, percent=True)
        except InvalidInput as exc:
            filters, errors = DirectoryFilters(), exc.errors
        page = await search_directory(brands.session, actor.brand_id, filters, brands.now)
        media = MediaService(brands.session, runtime_of(request))
        portfolios = await media.previews([e.creator.id for e in page.items])
        query = filters.as_query(percent=True)
        here = f"/brand/creators?{urlencode({**query, 'cursor': filters.cursor} if filters.cursor else query)}"
        return render(request, "creators/directory.html", {
            "page": page, "filters": filters, "errors": errors,
            "form": {k: request.query_params.get(k, "") for k in request.query_params},
            "next_link": f"/brand/creators?{urlencode({**query, 'cursor': page.next_cursor})}"
            if page.next_cursor else None,
            "here": here, "sorts": DIRECTORY_SORT_LABELS,
            "gigs": await self._invitable_gigs(brands.session, actor.brand_id),
            "can_invite": actor.brand_role in GIG_EDITORS, "can_note": actor.brand_role in NOTE_WRITERS, **choices(),
            "portfolios": portfolios, "photo_url": media.url,
        }, block="results", status_code=422 if errors else 200)

    @post("/invite", guards=[MANAGERS])
    async def invite(self, request: Request[Any, Any, Any], brands: NamedDependency[BrandService]) -> Response[Any]:
        """Invite the ticked creators to one gig (the list may hold hundreds)."""
        form = await request.form()
        f = FormReader(form)
        back = safe_next(f.text("back", max_length=2000), "/brand/creators")
        ids, _bad = ids_from(f.values("creator_ids"))
        gig_ids, _ = ids_from([f.text("gig_id", max_length=100)] if f.text("gig_id", max_length=100) else [])
        try:
            if not gig_ids:
                raise InvalidInput({"gig_id": gettext('Choose the gig to invite them to.')})
            # Another brand's gig (or none) stays a 404 from the service; the brand's own draft is a field error.
            chosen = await brands.session.get(Gig, gig_ids[0])
            if chosen is not None and chosen.brand_id == request.user.brand_id and chosen.status is not GigStatus.OPEN:
                raise InvalidInput(
                    {"gig_id": gettext("Choose one of your open gigs; publish a draft before inviting.")}
                )
            result = await GigService(brands.session, brands.runtime).invite_creators(
                request.user, gig_ids[0], ids, f.text("message", max_length=UNLIMITED, strip=False))
        except (InvalidInput, Conflict) as exc:
            flash(request, exc.message, "error")
            return redirect(request, back)
        parts = [f"Invited {len(result.invited)} creator(s)."]
        if result.already_invited:
            parts.append(f"{len(result.already_invited)} were already invited.")
        if result.already_applied:
            parts.append(f"{len(result.already_applied)} already applied.")
        flash(request, " ".join(parts))
        return redirect(request, back)

    async def _creator_page(self, request: Request[Any, Any, Any], brands: BrandService, creator_id: UUID, *,
                            errors: dict[str, str] | None = None, form: dict[str, Any] | None = None,
                            block: str | None = None, status_code: int = 200) -> Response[Any]:
        actor: Actor = request.user
        assert actor.brand_id is not None
        entry, rates, address = await creator_for_brand(brands.session, actor.brand_id, creator_id, brands.now)
        return render(request, "creators/brand_view.html", {
            "entry": entry, "rates": rates, "address": address, "errors": errors or {}, "form": form or {},
            "gigs": await self._invitable_gigs(brands.session, actor.brand_id),
            "can_invite": actor.brand_role in GIG_EDITORS, "can_note": actor.brand_role in NOTE_WRITERS,
        }, block=block, status_code=status_code)

    @get("/{creator_id:uuid}", name="creator_for_brand")
    async def show(self, request: Request[Any, Any, Any], creator_id: FromPath[UUID],
                   brands: NamedDependency[BrandService]) -> Response[Any]:
        return await self._creator_page(request, brands, creator_id)

    @post("/{creator_id:uuid}/notes")
    async def add_note(self, request: Request[Any, Any, Any], creator_id: FromPath[UUID],
                       brands: NamedDependency[BrandService]) -> Response[Any]:
        form = await request.form()
        f = FormReader(form)
        back = safe_next(f.text("back", max_length=2000), "")
        try:
            await brands.add_note(request.user, creator_id, f.text("body", max_length=UNLIMITED, strip=False))
        except InvalidInput as exc:
            if back and not is_htmx(request):
                flash(request, exc.message, "error")
                return redirect(request, back)
            return await self._creator_page(request, brands, creator_id, errors=exc.errors, form=dict(form),
                                            block="notes", status_code=422)
        if is_htmx(request) and not back:
            return await self._creator_page(request, brands, creator_id, block="notes")
        flash(request, gettext('Note saved. Only your team sees it.'))
        return redirect(request, back or f"/brand/creators/{creator_id}#notes")

    @post("/{creator_id:uuid}/notes/{note_id:uuid}/delete")
    async def delete_note(self, request: Request[Any, Any, Any], creator_id: FromPath[UUID],
                          note_id: FromPath[UUID], brands: NamedDependency[BrandService]) -> Response[Any]:
        await brands.delete_note(request.user, note_id)
        if is_htmx(request):
            return await self._creator_page(request, brands, creator_id, block="notes")
        flash(request, gettext('Note deleted.'))
        return redirect(request, f"/brand/creators/{creator_id}#notes")


# --- JSON API -----------------------------------------------------------------------------------------------------


class SocialAccountOut(msgspec.Struct):
    id: UUID
    platform: str
    handle: str
    profile_url: str
    followers: int
    average_views: int
    engagement_bps: int


class CreatorOut(msgspec.Struct):
    id: UUID
    display_name: str
    bio: str
    country: str | None
    languages: list[str]
    niches: list[str]
    total_followers: int
    best_engagement_bps: int
    accounts: list[SocialAccountOut]
    completed_collaborations: int
    collaborations_with_brand: int
    #: Proven reliability (0-1) once the reputation engine has evidence; null until then.
    reliability: float | None
    #: How many private notes your team keeps on this creator (read them on the creator's page).
    notes: int


class CreatorListOut(msgspec.Struct):
    items: list[CreatorOut]
    next_cursor: str | None = None


class CreatorApi(Controller):
    path = "/api/v1"
    tags = ["creators"]
    guards = [brand_member()]

    @get("/creators", summary="The creator directory (brands): filter by platform, followers, engagement, country, "
                              "niche; sort by followers, engagement or newest; cursor pages")
    async def directory(self, request: Request[Any, Any, Any],
                        db_session: NamedDependency[AsyncSession]) -> CreatorListOut:
        """``engagement_min`` is in basis points (350 = 3.5%); with ``platform`` set, follower and engagement
        ranges apply to the creator's account on that platform."""
        actor: Actor = request.user
        assert actor.brand_id is not None
        filters = parse_directory_filters(request.query_params, percent=False)
        page = await search_directory(db_session, actor.brand_id, filters, runtime_of(request).clock.now())
        return CreatorListOut([
            CreatorOut(
                id=e.creator.id, display_name=e.creator.display_name, bio=e.creator.bio, country=e.creator.country,
                languages=list(e.creator.languages or []), niches=e.niches,
                total_followers=e.creator.total_followers, best_engagement_bps=e.creator.best_engagement_bps,
                accounts=[SocialAccountOut(a.id, str(a.platform), a.handle, a.profile_url, a.followers,
                                           a.average_views, a.engagement_bps) for a in e.accounts],
                completed_collaborations=e.completed_collaborations,
                collaborations_with_brand=e.collaborations_with_brand,
                reliability=e.reputation.reliability, notes=len(e.notes),
            )
            for e in page.items
        ], page.next_cursor)


#: Route handlers (controllers) this area contributes to the app; create_app() includes them in order.
ROUTES: list[Any] = [CreatorProfilePages, CreatorDirectoryPages, CreatorApi]
