"""The brand's engagement report: per deal and per gig (views, likes, comments, shares, engagement rate, cost per
1,000 views and per engagement), and per creator (verified audience, median engagement over recent deals).

Every figure comes from one function in ``social.figures``: the deal page, this report's page, its CSV and the API
call the same ones. A deal's figures are those of its latest reading. Queries are scoped to the brand; a creator's
median reads the creator's own recent deals (with any brand: the counts of public posts, like the reliability
score, never a brand's terms).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from uuid import UUID

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from marketplace.clock import as_utc
from marketplace.collaborations.models import Collaboration
from marketplace.collaborations.terms import Terms
from marketplace.social.figures import EngagementFigures, engagements_of, median_bps
from marketplace.social.models import ConnectionStatus, PostMetric, SocialConnection

#: Deals a creator's median engagement is taken over (their most recent readings).
RECENT_DEALS = 10


@dataclass(frozen=True)
class DealEngagement(EngagementFigures):
    collaboration_id: UUID
    gig_id: UUID
    gig_title: str
    creator_id: UUID
    creator_name: str
    currency: str
    fee_amount: int
    taken_at: datetime
    views: int | None
    likes: int | None
    comments: int | None
    shares: int | None
    saves: int | None

    @property
    def engagements(self) -> int:
        return engagements_of(self.likes, self.comments, self.shares, self.saves)


@dataclass
class GigEngagement(EngagementFigures):
    """A gig's deals with readings, added up (one currency: a gig's)."""

    gig_id: UUID
    gig_title: str
    currency: str
    deals: int = 0
    fee_amount: int = 0
    views: int = 0
    likes: int = 0
    comments: int = 0
    shares: int = 0
    engagements: int = 0

    def add(self, deal: DealEngagement) -> None:
        self.deals += 1
        self.fee_amount += deal.fee_amount
        self.views += deal.views or 0
        self.likes += deal.likes or 0
        self.comments += deal.comments or 0
        self.shares += deal.shares or 0
        self.engagements += deal.engagements


@dataclass
class CreatorEngagement:
    creator_id: UUID
    creator_name: str
    #: Engagement rates of the creator's most recent deals with readings (newest first), in basis points.
    recent_rates: list[int] = field(default_factory=list)
    #: Followers a live connection verifies, summed over platforms, and when they were last read.
    verified_followers: int | None = None
    verified_at: datetime | None = None

    @property
    def median_engagement_bps(self) -> int | None:
        return median_bps(self.recent_rates)


@dataclass
class EngagementReport:
    deals: list[DealEngagement]
    gigs: list[GigEngagement]
    creators: list[CreatorEngagement]


def _latest_readings() -> tuple[type[PostMetric], sa.Subquery]:
    ranked = sa.select(PostMetric, sa.func.row_number().over(
        partition_by=PostMetric.collaboration_id,
        order_by=(PostMetric.taken_at.desc(), PostMetric.id.desc())).label("reading_rank")).subquery()
    return aliased(PostMetric, ranked), ranked


def _deal(collab: Collaboration, reading: PostMetric) -> DealEngagement:
    terms = Terms.from_dict(collab.terms)
    return DealEngagement(
        collaboration_id=collab.id, gig_id=collab.gig_id, gig_title=terms.gig_title, creator_id=collab.creator_id,
        creator_name=terms.creator_display_name, currency=terms.currency, fee_amount=terms.fee_amount,
        taken_at=as_utc(reading.taken_at), views=reading.views, likes=reading.likes, comments=reading.comments,
        shares=reading.shares, saves=reading.saves)


async def deal_engagements(session: AsyncSession, *, brand_id: UUID | None = None,
                           creator_ids: list[UUID] | None = None, gig_id: UUID | None = None
                           ) -> list[DealEngagement]:
    """Each deal's latest reading (newest first), for one brand's deals or some creators' deals."""
    reading, ranked = _latest_readings()
    query = (sa.select(reading, Collaboration).join(Collaboration, Collaboration.id == reading.collaboration_id)
             .where(ranked.c.reading_rank == 1).order_by(reading.taken_at.desc()))
    if brand_id is not None:
        query = query.where(Collaboration.brand_id == brand_id)
    if creator_ids is not None:
        query = query.where(Collaboration.creator_id.in_(creator_ids))
    if gig_id is not None:
        query = query.where(Collaboration.gig_id == gig_id)
    return [_deal(collab, row) for row, collab in await session.execute(query)]


async def creator_engagements(session: AsyncSession, creators: dict[UUID, str]) -> list[CreatorEngagement]:
    """Verified audience and median engagement over each creator's most recent deals."""
    out = {cid: CreatorEngagement(cid, name) for cid, name in creators.items()}
    if not out:
        return []
    for deal in await deal_engagements(session, creator_ids=list(out)):
        entry = out[deal.creator_id]
        rate = deal.engagement_rate_bps
        if rate is not None and len(entry.recent_rates) < RECENT_DEALS:
            entry.recent_rates.append(rate)
    rows = await session.execute(
        sa.select(SocialConnection.creator_id, sa.func.sum(SocialConnection.followers),
                  sa.func.max(SocialConnection.audience_fetched_at))
        .where(SocialConnection.creator_id.in_(list(out)), SocialConnection.status == ConnectionStatus.ACTIVE.value,
               SocialConnection.audience_fetched_at.is_not(None))
        .group_by(SocialConnection.creator_id))
    for creator_id, followers, fetched in rows:
        out[creator_id].verified_followers = int(followers or 0)
        out[creator_id].verified_at = as_utc(fetched) if fetched else None
    return sorted(out.values(), key=lambda c: c.creator_name.lower())


async def engagement_report(session: AsyncSession, brand_id: UUID, *, gig_id: UUID | None = None
                            ) -> EngagementReport:
    deals = await deal_engagements(session, brand_id=brand_id, gig_id=gig_id)
    gigs: dict[UUID, GigEngagement] = {}
    for deal in deals:
        gigs.setdefault(deal.gig_id, GigEngagement(deal.gig_id, deal.gig_title, deal.currency)).add(deal)
    creators = await creator_engagements(session, {d.creator_id: d.creator_name for d in deals})
    return EngagementReport(deals, sorted(gigs.values(), key=lambda g: g.gig_title.lower()), creators)
