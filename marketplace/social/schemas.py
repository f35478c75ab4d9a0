"""JSON shapes of the connected-accounts API: a deal's metrics, a creator's accounts with their verification state."""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

import msgspec
import sqlalchemy as sa
from litestar.openapi import ResponseSpec
from sqlalchemy.ext.asyncio import AsyncSession

from marketplace.clock import as_utc
from marketplace.creators.models import SocialAccount
from marketplace.social.metrics import DealMetrics
from marketplace.social.models import SocialConnection
from marketplace.social.reports import CreatorEngagement, EngagementReport
from marketplace.stores.schemas import ProblemOut


def problem_specs(*statuses: int) -> dict[int, ResponseSpec]:
    words = {401: "Sign-in required", 403: "Not allowed for this kind of account",
             404: "Not found (or not yours)", 422: "A parameter is not valid"}
    return {s: ResponseSpec(data_container=ProblemOut, description=words[s], media_type="application/problem+json")
            for s in statuses}


class MoneyOut(msgspec.Struct):
    amount: int
    currency: str


class MetricPointOut(msgspec.Struct):
    #: 1h, 24h, 72h, 7d, keep-live-N.
    label: str
    taken_at: datetime
    views: int | None
    likes: int | None
    comments: int | None
    shares: int | None
    saves: int | None
    reach: int | None


class DealMetricsOut(msgspec.Struct):
    collaboration_id: UUID
    series: list[MetricPointOut]
    latest: MetricPointOut | None
    #: (likes + comments + shares + saves) / views of the latest reading, in basis points.
    engagement_rate_bps: int | None
    #: The creator's fee per 1,000 views (minor units).
    cost_per_1000_views: MoneyOut | None
    cost_per_engagement: MoneyOut | None
    #: Scheduled reads not done yet.
    pending_fetches: int


def _point(p: object) -> MetricPointOut:
    return MetricPointOut(**{f: getattr(p, f) for f in MetricPointOut.__struct_fields__})


def metrics_out(m: DealMetrics) -> DealMetricsOut:
    def money(v: int | None) -> MoneyOut | None:
        return MoneyOut(v, m.currency) if v is not None else None

    return DealMetricsOut(
        collaboration_id=m.collaboration_id, series=[_point(p) for p in m.series],
        latest=_point(m.latest) if m.latest else None, engagement_rate_bps=m.engagement_rate_bps,
        cost_per_1000_views=money(m.cost_per_1000_views), cost_per_engagement=money(m.cost_per_engagement),
        pending_fetches=m.pending)


class SocialAccountOut(msgspec.Struct):
    platform: str
    handle: str
    followers: int
    engagement_bps: int
    #: verified (a live connection backs the numbers), reconnect (the connection was refused: numbers as last
    #: verified, not refreshed) or self_reported.
    verification: str
    verified_at: datetime | None
    media_count: int | None


class ConnectionOut(msgspec.Struct):
    platform: str
    handle: str
    #: active or reconnect.
    status: str
    followers: int | None
    media_count: int | None
    engagement_bps: int | None
    audience_fetched_at: datetime | None


class SocialAccountsOut(msgspec.Struct):
    accounts: list[SocialAccountOut]
    connections: list[ConnectionOut]


async def accounts_out(session: AsyncSession, creator_id: UUID,
                       connections: dict[str, SocialConnection]) -> SocialAccountsOut:
    accounts = (await session.scalars(sa.select(SocialAccount).where(SocialAccount.creator_id == creator_id)
                                      .order_by(SocialAccount.platform, SocialAccount.handle))).all()
    out = []
    for a in accounts:
        conn = connections.get(a.platform.value)
        backed = conn is not None and conn.handle == a.handle and conn.audience_fetched_at is not None
        state = ("reconnect" if conn.needs_reconnect else "verified") if backed and conn else "self_reported"
        out.append(SocialAccountOut(
            platform=a.platform.value, handle=a.handle, followers=a.followers, engagement_bps=a.engagement_bps,
            verification=state, verified_at=as_utc(conn.audience_fetched_at) if backed and conn and
            conn.audience_fetched_at else None, media_count=conn.media_count if backed and conn else None))
    return SocialAccountsOut(out, [ConnectionOut(
        c.platform, c.handle, c.status, c.followers, c.media_count, c.engagement_bps,
        as_utc(c.audience_fetched_at) if c.audience_fetched_at else None) for c in connections.values()])


# --- the brand's engagement report ------------------------------------------------------------------------------------


class DealEngagementOut(msgspec.Struct):
    collaboration_id: UUID
    gig_id: UUID
    gig_title: str
    creator_id: UUID
    creator_name: str
    #: When the latest reading was taken; the figures are that reading's.
    taken_at: datetime
    views: int | None
    likes: int | None
    comments: int | None
    shares: int | None
    saves: int | None
    engagements: int
    engagement_rate_bps: int | None
    fee: MoneyOut
    cost_per_1000_views: MoneyOut | None
    cost_per_engagement: MoneyOut | None


class GigEngagementOut(msgspec.Struct):
    gig_id: UUID
    gig_title: str
    deals: int
    views: int
    likes: int
    comments: int
    shares: int
    engagements: int
    engagement_rate_bps: int | None
    fees: MoneyOut
    cost_per_1000_views: MoneyOut | None
    cost_per_engagement: MoneyOut | None


class CreatorEngagementOut(msgspec.Struct):
    creator_id: UUID
    creator_name: str
    #: Followers verified by the creator's live connections (None: self-reported only).
    verified_followers: int | None
    verified_at: datetime | None
    #: Median engagement rate over the creator's most recent deals with readings (up to 10).
    median_engagement_bps: int | None
    deals_counted: int


class EngagementReportOut(msgspec.Struct):
    deals: list[DealEngagementOut]
    gigs: list[GigEngagementOut]
    creators: list[CreatorEngagementOut]


def engagement_report_out(report: EngagementReport) -> EngagementReportOut:
    def money(v: int | None, currency: str) -> MoneyOut | None:
        return MoneyOut(v, currency) if v is not None else None

    return EngagementReportOut(
        deals=[DealEngagementOut(
            d.collaboration_id, d.gig_id, d.gig_title, d.creator_id, d.creator_name, d.taken_at, d.views, d.likes,
            d.comments, d.shares, d.saves, d.engagements, d.engagement_rate_bps, MoneyOut(d.fee_amount, d.currency),
            money(d.cost_per_1000_views, d.currency), money(d.cost_per_engagement, d.currency)) for d in report.deals],
        gigs=[GigEngagementOut(
            g.gig_id, g.gig_title, g.deals, g.views, g.likes, g.comments, g.shares, g.engagements,
            g.engagement_rate_bps, MoneyOut(g.fee_amount, g.currency), money(g.cost_per_1000_views, g.currency),
            money(g.cost_per_engagement, g.currency)) for g in report.gigs],
        creators=[creator_engagement_out(c) for c in report.creators])


def creator_engagement_out(c: CreatorEngagement) -> CreatorEngagementOut:
    return CreatorEngagementOut(c.creator_id, c.creator_name, c.verified_followers, c.verified_at,
                                c.median_engagement_bps, len(c.recent_rates))


ENGAGEMENT_CSV_HEADER = ["level", "gig", "creator", "collaboration_id", "taken_at", "views", "likes", "comments",
                         "shares", "engagements", "engagement_rate_pct", "currency", "fee_minor",
                         "cost_per_1000_views_minor", "cost_per_engagement_minor", "median_engagement_pct",
                         "verified_followers"]


def _pct(bps: int | None) -> str:
    return "" if bps is None else f"{bps / 100:.2f}"


def _blank(value: object) -> object:
    return "" if value is None else value


def engagement_csv_rows(report: EngagementReport) -> list[list[object]]:
    """One row per deal, per gig and per creator (``level`` says which), from the same figures as the page."""
    rows: list[list[object]] = []
    for d in report.deals:
        rows.append(["deal", d.gig_title, d.creator_name, d.collaboration_id, d.taken_at.isoformat(),
                     _blank(d.views), _blank(d.likes), _blank(d.comments), _blank(d.shares), d.engagements,
                     _pct(d.engagement_rate_bps), d.currency, d.fee_amount, _blank(d.cost_per_1000_views),
                     _blank(d.cost_per_engagement), "", ""])
    for g in report.gigs:
        rows.append(["gig", g.gig_title, "", "", "", g.views, g.likes, g.comments, g.shares, g.engagements,
                     _pct(g.engagement_rate_bps), g.currency, g.fee_amount, _blank(g.cost_per_1000_views),
                     _blank(g.cost_per_engagement), "", ""])
    for c in report.creators:
        rows.append(["creator", "", c.creator_name, "", "", "", "", "", "", "", "", "", "", "", "",
                     _pct(c.median_engagement_bps), _blank(c.verified_followers)])
    return rows
