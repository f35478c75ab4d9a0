"""A brand's profile and team through ``/api/v1/brand`` (the same service as the brand pages)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any
from uuid import UUID

import msgspec
from litestar import Controller, Request, get, put
from litestar.di import NamedDependency
from litestar.params import JSONBody
from sqlalchemy.ext.asyncio import AsyncSession

from marketplace.accounts.guards import brand_member
from marketplace.brands.models import Brand
from marketplace.brands.services import BrandService
from marketplace.gigs.validation import COUNTRY_CODES
from marketplace.openapi import TEXT, WEB_ADDRESS, documented
from marketplace.web import runtime_of


class BrandOut(msgspec.Struct):
    id: UUID
    name: str
    website: str | None
    country: str | None
    description: str
    verified: bool
    #: The public reliability page (API: GET /api/v1/brands/{id}/reliability).
    reliability_url: str


class BrandIn(msgspec.Struct, forbid_unknown_fields=True):
    """Replace the profile (owners and managers)."""

    name: Annotated[str, documented(min_length=1, max_length=120, pattern=TEXT)]
    website: Annotated[str | None, documented(max_length=2000, pattern=WEB_ADDRESS)] = None
    #: An ISO 3166-1 alpha-2 code (the list the service checks against); "" or null: none.
    country: Annotated[str | None, documented(enum=["", *sorted(COUNTRY_CODES), None])] = None
    description: Annotated[str, documented(max_length=5000, pattern=TEXT)] = ""


class MemberOut(msgspec.Struct):
    id: UUID
    user_id: UUID
    email: str
    full_name: str
    #: owner, manager or finance.
    role: str
    joined_at: datetime


class InvitationOut(msgspec.Struct):
    id: UUID
    email: str
    role: str
    expires_at: datetime


class TeamOut(msgspec.Struct):
    members: list[MemberOut]
    invitations: list[InvitationOut]


def brand_out(brand: Brand, public_url: str) -> BrandOut:
    return BrandOut(brand.id, brand.name, brand.website, brand.country, brand.description or "",
                    brand.verified_at is not None, f"{public_url}/brands/{brand.id}/reliability")


class BrandApi(Controller):
    path = "/api/v1/brand"
    tags = ["brands"]
    guards = [brand_member()]

    @get("/", summary="Your brand's profile")
    async def profile(self, request: Request[Any, Any, Any], db_session: NamedDependency[AsyncSession]) -> BrandOut:
        runtime = runtime_of(request)
        return brand_out(await BrandService(db_session, runtime).brand(request.user), runtime.settings.app.public_url)

    @put("/", summary="Change your brand's profile (owners and managers)")
    async def update(self, request: Request[Any, Any, Any], data: JSONBody[BrandIn],
                     db_session: NamedDependency[AsyncSession]) -> BrandOut:
        runtime = runtime_of(request)
        brand = await BrandService(db_session, runtime).update_profile(request.user, {
            "name": data.name, "website": data.website or "", "country": data.country or "",
            "description": data.description})
        return brand_out(brand, runtime.settings.app.public_url)

    @get("/team", summary="Your brand's members and open invitations")
    async def team(self, request: Request[Any, Any, Any], db_session: NamedDependency[AsyncSession]) -> TeamOut:
        team = await BrandService(db_session, runtime_of(request)).team(request.user)
        return TeamOut(
            members=[MemberOut(m.member.id, m.member.user_id, m.email, m.full_name, m.member.role.value,
                               m.member.created_at) for m in team.members],
            invitations=[InvitationOut(i.id, i.email, i.role.value, i.expires_at) for i in team.invitations])


ROUTES: list[Any] = [BrandApi]
