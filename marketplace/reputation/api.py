"""Reliability of a creator or a brand through ``/api/v1`` (the public summary the reliability pages show)."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

import msgspec
from litestar import Controller, Request, get
from litestar.di import NamedDependency
from litestar.params import FromPath
from sqlalchemy.ext.asyncio import AsyncSession

from marketplace.accounts.guards import signed_in
from marketplace.brands.models import Brand
from marketplace.creators.models import Creator
from marketplace.errors import NotFound
from marketplace.i18n import gettext
from marketplace.web import runtime_of
from reputation.services import ScoreView, Subject, score_for


class ReliabilityOut(msgspec.Struct):
    """The public summary: tier and track record (details stay on the owner's page)."""

    subject_id: UUID
    #: creator or brand.
    subject: str
    name: str
    #: new, bronze, silver or gold.
    tier: str
    #: Expected reliability (0 to 1) from the decayed track record; 0.5 with no evidence.
    score: float
    newcomer: bool
    suspended: bool
    probation_until: datetime | None
    completed_deals: int
    on_time: int
    late: int
    ghosted: int
    cancelled: int
    disputes_lost: int
    did_not_ship: int
    distinct_counterparties: int
    page_url: str


def reliability_out(view: ScoreView, subject: str, name: str, page_url: str) -> ReliabilityOut:
    return ReliabilityOut(
        subject_id=view.subject.id, subject=subject, name=name, tier=view.tier.name.lower(),
        score=round(view.expected, 4), newcomer=bool(view.is_newcomer), suspended=view.suspended,
        probation_until=view.probation_until, completed_deals=view.completed_deals, on_time=view.on_time,
        late=view.late, ghosted=view.ghosted, cancelled=view.cancelled, disputes_lost=view.disputes_lost,
        did_not_ship=view.did_not_ship, distinct_counterparties=view.distinct_counterparties, page_url=page_url)


class ReliabilityApi(Controller):
    path = "/api/v1"
    tags = ["reliability"]
    guards = [signed_in]

    @get("/creators/{creator_id:uuid}/reliability", summary="A creator's reliability")
    async def creator(self, request: Request[Any, Any, Any], creator_id: FromPath[UUID],
                      db_session: NamedDependency[AsyncSession]) -> ReliabilityOut:
        creator = await db_session.get(Creator, creator_id)
        if creator is None:
            raise NotFound(gettext("No such creator."))
        runtime = runtime_of(request)
        view = await score_for(db_session, Subject.creator(creator_id), runtime.clock.now())
        return reliability_out(view, "creator", creator.display_name,
                               f"{runtime.settings.app.public_url}/creators/{creator_id}/reliability")

    @get("/brands/{brand_id:uuid}/reliability", summary="A brand's reliability")
    async def brand(self, request: Request[Any, Any, Any], brand_id: FromPath[UUID],
                    db_session: NamedDependency[AsyncSession]) -> ReliabilityOut:
        brand = await db_session.get(Brand, brand_id)
        if brand is None:
            raise NotFound(gettext("No such brand."))
        runtime = runtime_of(request)
        view = await score_for(db_session, Subject.brand(brand_id), runtime.clock.now())
        return reliability_out(view, "brand", brand.name,
                               f"{runtime.settings.app.public_url}/brands/{brand_id}/reliability")


ROUTES: list[Any] = [ReliabilityApi]
