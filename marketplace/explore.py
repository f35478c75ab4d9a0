"""Public pages, readable without signing in: open gigs (a summary, never the deal's private terms), brand profiles
and creator profiles with their reliability, so people can see what is on PostPact before signing up.

Only what a signed-out visitor may see is loaded here: no deal terms beyond the gig's advertised summary (no
deadlines, review windows, hashtags or eligibility bars), no addresses, no emails, nothing of draft, closed or
archived gigs, nothing of deactivated accounts.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID

import sqlalchemy as sa
from litestar import Request, Response, get
from litestar.di import NamedDependency
from litestar.params import FromPath
from sqlalchemy.ext.asyncio import AsyncSession

from marketplace.accounts.models import User
from marketplace.brands.models import Brand
from marketplace.creators.models import Creator, CreatorNiche, SocialAccount
from marketplace.errors import InvalidInput, NotFound
from marketplace.gigs.models import Deliverable, Gig, GigNiche, GigStatus
from marketplace.i18n import gettext
from marketplace.storage import media_url
from marketplace.web import PageController, render, runtime_of
from reputation.services import Subject, score_for

PAGE_SIZE = 24
#: The brief is an advert on public pages: enough to know what the gig is, the rest after signing up.
BRIEF_PREVIEW = 280


@dataclass(frozen=True)
class PublicGig:
    id: UUID
    title: str
    brief_preview: str
    brand_id: UUID
    brand_name: str
    brand_verified: bool
    currency: str
    base_fee_amount: int
    commission_bps: int | None
    product_name: str
    product_retail_value: int
    product_included: bool
    apply_by: datetime | None
    slots: int
    deliverables: list[tuple[str, str, int]]
    niches: list[str]
    #: The product's picture: uploaded (in storage, at its public URL) or the brand's own link.
    image_url: str | None = None

    @property
    def brief_cut(self) -> bool:
        return self.brief_preview.endswith("…")


def _preview(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= BRIEF_PREVIEW else text[:BRIEF_PREVIEW].rsplit(" ", 1)[0] + "…"


def _open(now: datetime) -> sa.ColumnElement[bool]:
    return sa.and_(Gig.status == GigStatus.OPEN, sa.or_(Gig.apply_by.is_(None), Gig.apply_by > now))


async def _public_gigs(session: AsyncSession, where: sa.ColumnElement[bool], limit: int, *,
                       media_base: str | None) -> list[PublicGig]:
    rows = (await session.execute(
        sa.select(Gig, Brand.name, Brand.verified_at).join(Brand, Brand.id == Gig.brand_id)
        .where(where).order_by(Gig.id.desc()).limit(limit)
    )).all()
    ids = [gig.id for gig, _name, _verified in rows]
    deliverables: dict[UUID, list[tuple[str, str, int]]] = {i: [] for i in ids}
    niches: dict[UUID, list[str]] = {i: [] for i in ids}
    if ids:
        for gig_id, platform, kind, count in await session.execute(
            sa.select(Deliverable.gig_id, Deliverable.platform, Deliverable.kind, Deliverable.count)
            .where(Deliverable.gig_id.in_(ids)).order_by(Deliverable.gig_id, Deliverable.id)
        ):
            deliverables[gig_id].append((str(platform), str(kind), int(count)))
        for gig_id, niche in await session.execute(
            sa.select(GigNiche.gig_id, GigNiche.niche).where(GigNiche.gig_id.in_(ids)).order_by(GigNiche.niche)
        ):
            niches[gig_id].append(niche)
    return [
        PublicGig(gig.id, gig.title, _preview(gig.brief), gig.brand_id, name, verified is not None, gig.currency,
                  gig.base_fee_amount, gig.commission_bps, gig.product_name if gig.product_included else "",
                  gig.product_retail_value if gig.product_included else 0, gig.product_included, gig.apply_by,
                  gig.slots, deliverables[gig.id], niches[gig.id],
                  media_url(gig.product_image_key, media_base) or gig.product_image_url)
        for gig, name, verified in rows
    ]


async def open_gigs(session: AsyncSession, now: datetime, *, media_base: str | None, after: UUID | None = None,
                    brand_id: UUID | None = None, limit: int = PAGE_SIZE) -> tuple[list[PublicGig], str | None]:
    """Open gigs newest first, keyset-paginated on the time-ordered id; pictures linked under ``media_base``."""
    where = _open(now)
    if after is not None:
        where = sa.and_(where, Gig.id < after)
    if brand_id is not None:
        where = sa.and_(where, Gig.brand_id == brand_id)
    gigs = await _public_gigs(session, where, limit + 1, media_base=media_base)
    more = len(gigs) > limit
    gigs = gigs[:limit]
    return gigs, (str(gigs[-1].id) if more and gigs else None)


async def open_gig(session: AsyncSession, gig_id: UUID, now: datetime, *, media_base: str | None) -> PublicGig:
    found = await _public_gigs(session, sa.and_(_open(now), Gig.id == gig_id), 1, media_base=media_base)
    if not found:
        raise NotFound(gettext('No such open gig.'))
    return found[0]


@dataclass(frozen=True)
class Reliability:
    """The public part of a reliability score: what the reliability page's summary shows anyone."""

    proven: float
    tier: str
    completed_deals: int
    link: str


async def reliability_of(session: AsyncSession, subject: Subject, now: datetime, link: str) -> Reliability:
    view = await score_for(session, subject, now)
    return Reliability(view.ranking_score, view.tier.label, view.record.completed_deals, link)


def _media_base(request: Request[Any, Any, Any]) -> str | None:
    return runtime_of(request).settings.storage.media_public_url


class ExplorePages(PageController):
    """``/explore``: open gigs, brands and creators for anyone, signed in or not."""

    path = "/explore"

    @get("/gigs", name="explore_gigs")
    async def gigs(self, request: Request[Any, Any, Any], db_session: NamedDependency[AsyncSession]
                   ) -> Response[Any]:
        raw = request.query_params.get("after") or ""
        try:
            after = UUID(raw) if raw else None
        except ValueError as exc:
            raise InvalidInput(
                {"after": gettext("That page link is broken; start again from the first page.")}) from exc
        gigs, next_cursor = await open_gigs(db_session, runtime_of(request).clock.now(), after=after,
                                            media_base=_media_base(request))
        return render(request, "explore/gigs.html", {"gigs": gigs, "next_cursor": next_cursor})

    @get("/gigs/{gig_id:uuid}", name="explore_gig")
    async def gig(self, request: Request[Any, Any, Any], db_session: NamedDependency[AsyncSession],
                  gig_id: FromPath[UUID]) -> Response[Any]:
        now = runtime_of(request).clock.now()
        gig = await open_gig(db_session, gig_id, now, media_base=_media_base(request))
        brand = await reliability_of(db_session, Subject.brand(gig.brand_id), now,
                                     f"/brands/{gig.brand_id}/reliability")
        return render(request, "explore/gig.html", {"gig": gig, "brand_reliability": brand})

    @get("/brands/{brand_id:uuid}", name="explore_brand")
    async def brand(self, request: Request[Any, Any, Any], db_session: NamedDependency[AsyncSession],
                    brand_id: FromPath[UUID]) -> Response[Any]:
        now = runtime_of(request).clock.now()
        brand = await db_session.get(Brand, brand_id)
        if brand is None:
            raise NotFound(gettext('No such brand.'))
        base = _media_base(request)
        gigs, _ = await open_gigs(db_session, now, brand_id=brand_id, limit=PAGE_SIZE, media_base=base)
        reliability = await reliability_of(db_session, Subject.brand(brand_id), now, f"/brands/{brand_id}/reliability")
        return render(request, "explore/brand.html", {"brand": brand, "gigs": gigs, "reliability": reliability,
                                                      "logo_url": media_url(brand.logo_key, base)})

    @get("/creators/{creator_id:uuid}", name="explore_creator")
    async def creator(self, request: Request[Any, Any, Any], db_session: NamedDependency[AsyncSession],
                      creator_id: FromPath[UUID]) -> Response[Any]:
        now = runtime_of(request).clock.now()
        creator = await db_session.scalar(
            sa.select(Creator).join(User, User.id == Creator.user_id)
            .where(Creator.id == creator_id, User.is_active.is_(True))
        )
        if creator is None:
            raise NotFound(gettext('No such creator.'))
        accounts = list(await db_session.scalars(
            sa.select(SocialAccount).where(SocialAccount.creator_id == creator_id).order_by(SocialAccount.platform)))
        niches = list(await db_session.scalars(
            sa.select(CreatorNiche.niche).where(CreatorNiche.creator_id == creator_id).order_by(CreatorNiche.niche)))
        reliability = await reliability_of(db_session, Subject.creator(creator_id), now,
                                           f"/creators/{creator_id}/reliability")
        photo_url = media_url(creator.photo_key, _media_base(request))
        return render(request, "explore/creator.html", {"creator": creator, "accounts": accounts, "niches": niches,
                                                        "reliability": reliability, "photo_url": photo_url})
