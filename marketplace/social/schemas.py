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
from marketplace.stores.schemas import ProblemOut


def problem_specs(*statuses: int) -> dict[int, ResponseSpec]:
    words = {401: "Sign-in required", 403: "Only creators have social accounts",
             404: "Not found (or not your deal)"}
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
        cost_per_1000_views=money(m.cost_per_view), cost_per_engagement=money(m.cost_per_engagement),
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
