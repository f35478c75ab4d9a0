"""A creator's own profile through ``/api/v1/creator/profile`` (linked accounts, rate card; connected accounts:
``/api/v1/creator/social-accounts``)."""

from __future__ import annotations

from typing import Annotated, Any
from uuid import UUID

import msgspec
from litestar import Controller, Request, get, put
from litestar.di import NamedDependency
from litestar.params import JSONBody
from sqlalchemy.ext.asyncio import AsyncSession

from marketplace.accounts.guards import creator_only
from marketplace.creators.services import CreatorProfileService, Profile, creator_of
from marketplace.gigs.validation import COUNTRY_CODES
from marketplace.openapi import TEXT, documented
from marketplace.web import runtime_of


class SocialAccountOut(msgspec.Struct):
    id: UUID
    platform: str
    handle: str
    profile_url: str
    followers: int
    average_views: int
    #: Engagement rate in basis points (250 = 2.5%).
    engagement_bps: int


class RateOut(msgspec.Struct):
    id: UUID
    platform: str
    kind: str
    base_fee_amount: int
    currency: str


class CreatorProfileOut(msgspec.Struct):
    id: UUID
    display_name: str
    bio: str
    country: str | None
    languages: list[str]
    niches: list[str]
    total_followers: int
    accounts: list[SocialAccountOut]
    rate_card: list[RateOut]
    #: Whether a shipping address is on file (the address itself is shared with a brand only for a signed deal).
    has_shipping_address: bool
    reliability_url: str


class CreatorProfileIn(msgspec.Struct, forbid_unknown_fields=True):
    """Replace the profile details (accounts, rates and address have their own pages)."""

    display_name: Annotated[str, documented(min_length=1, max_length=120, pattern=TEXT)]
    bio: Annotated[str, documented(max_length=2000, pattern=TEXT)] = ""
    #: An ISO 3166-1 alpha-2 code (the list the service checks against); "" or null: none.
    country: Annotated[str | None, documented(enum=["", *sorted(COUNTRY_CODES), None])] = None
    #: Two-letter language codes (en, de).
    languages: Annotated[list[str], documented(max_items=10, items={"type": "string", "pattern": "^[a-z]{2}$"})] = []
    niches: Annotated[list[str], documented(max_items=10, items={"type": "string",
                                                                 "pattern": "^[a-z0-9][a-z0-9-]{0,39}$"})] = []


def profile_out(profile: Profile, public_url: str) -> CreatorProfileOut:
    c = profile.creator
    return CreatorProfileOut(
        id=c.id, display_name=c.display_name, bio=c.bio or "", country=c.country, languages=list(c.languages or []),
        niches=profile.niches, total_followers=c.total_followers,
        accounts=[SocialAccountOut(a.id, a.platform.value, a.handle, a.profile_url, a.followers, a.average_views,
                                   a.engagement_bps) for a in profile.accounts],
        rate_card=[RateOut(r.id, r.platform.value, r.kind.value, r.base_fee_amount, r.currency)
                   for r in profile.rate_card],
        has_shipping_address=profile.address is not None,
        reliability_url=f"{public_url}/creators/{c.id}/reliability")


class CreatorProfileApi(Controller):
    path = "/api/v1/creator/profile"
    tags = ["creators"]
    guards = [creator_only]

    @get("/", summary="Your creator profile: details, linked accounts and rate card")
    async def profile(self, request: Request[Any, Any, Any],
                      db_session: NamedDependency[AsyncSession]) -> CreatorProfileOut:
        profile = await CreatorProfileService(db_session).profile(creator_of(request.user))
        return profile_out(profile, runtime_of(request).settings.app.public_url)

    @put("/", summary="Change your profile details")
    async def update(self, request: Request[Any, Any, Any], data: JSONBody[CreatorProfileIn],
                     db_session: NamedDependency[AsyncSession]) -> CreatorProfileOut:
        service = CreatorProfileService(db_session)
        await service.update_details(request.user, {
            "display_name": data.display_name, "bio": data.bio, "country": data.country or "",
            "languages": data.languages, "niches": data.niches})
        profile = await service.profile(creator_of(request.user))
        return profile_out(profile, runtime_of(request).settings.app.public_url)


ROUTES: list[Any] = [CreatorProfileApi]
