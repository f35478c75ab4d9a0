"""Connected accounts pages (/creator/social: connect, callback, disconnect), a deal's metrics page, the brand's
engagement report (/brand/engagement, CSV), and the API."""

from __future__ import annotations

from typing import Any
from uuid import UUID

import sqlalchemy as sa
from litestar import Controller, Request, Response, get, post
from litestar.di import NamedDependency
from litestar.params import FromPath
from sqlalchemy.ext.asyncio import AsyncSession

from marketplace.accounts.auth import Actor
from marketplace.accounts.guards import brand_member, creator_only, current_actor, signed_in
from marketplace.collaborations.models import Collaboration
from marketplace.creators.models import Creator
from marketplace.creators.services import creator_of
from marketplace.csvfiles import CSV_MEDIA_TYPE, attachment_headers, csv_bytes
from marketplace.errors import InvalidInput, NotFound
from marketplace.gigs.models import Gig
from marketplace.i18n import gettext
from marketplace.social.connections import (
    ConnectionRefused,
    begin_connection,
    complete_connection,
    connections_of,
    disconnect,
    platform_kit,
    take_pending,
)
from marketplace.social.metrics import deal_metrics
from marketplace.social.oauth import LABELS
from marketplace.social.reports import CreatorEngagement, EngagementReport, creator_engagements, engagement_report
from marketplace.social.schemas import (
    ENGAGEMENT_CSV_HEADER,
    CreatorEngagementOut,
    DealMetricsOut,
    EngagementReportOut,
    SocialAccountsOut,
    accounts_out,
    creator_engagement_out,
    engagement_csv_rows,
    engagement_report_out,
    metrics_out,
    problem_specs,
)
from marketplace.web import PageController, flash, redirect, render, runtime_of

PLATFORMS = ("instagram", "tiktok", "youtube")


def _platform(platform: str) -> str:
    if platform not in PLATFORMS:
        raise NotFound(gettext('No such platform.'))
    return platform


async def _party_deal(session: AsyncSession, collaboration_id: UUID, actor: Actor) -> Collaboration:
    collab = await session.get(Collaboration, collaboration_id)
    if collab is None or not (actor.is_admin or (actor.is_brand and actor.brand_id == collab.brand_id)
                              or (actor.is_creator and actor.creator_id == collab.creator_id)):
        raise NotFound(gettext('No such collaboration.'))
    return collab


class SocialPages(PageController):
    path = "/creator/social"
    guards = [creator_only]

    async def _page(self, request: Request[Any, Any, Any], session: AsyncSession, *, error: str = "",
                    status_code: int = 200) -> Response[Any]:
        runtime = runtime_of(request)
        connections = await connections_of(session, creator_of(request.user))
        rows = [{"platform": p, "label": LABELS[p], "offered": runtime.settings.social.platform(p).enabled,
                 "connection": connections.get(p)} for p in PLATFORMS]
        return render(request, "social/accounts.html", {"rows": rows, "error": error}, block="accounts",
                      status_code=status_code)

    @get("/", name="creator_social")
    async def index(self, request: Request[Any, Any, Any], db_session: NamedDependency[AsyncSession]) -> Response[Any]:
        return await self._page(request, db_session)

    @post("/{platform:str}/connect")
    async def connect(self, request: Request[Any, Any, Any], db_session: NamedDependency[AsyncSession],
                      platform: FromPath[str]) -> Response[Any]:
        runtime = runtime_of(request)
        try:
            url = begin_connection(request.session, runtime.settings, _platform(platform), runtime.clock.now())
        except ConnectionRefused as exc:
            return await self._page(request, db_session, error=str(exc), status_code=422)
        return redirect(request, url)

    @get("/{platform:str}/callback", name="social_callback")
    async def callback(self, request: Request[Any, Any, Any], db_session: NamedDependency[AsyncSession],
                       platform: FromPath[str]) -> Response[Any]:
        runtime = runtime_of(request)
        platform = _platform(platform)
        params = request.query_params
        try:
            verifier = take_pending(request.session, platform, params.get("state"), runtime.clock.now())
            if params.get("error") or not params.get("code"):
                raise ConnectionRefused(f"{LABELS[platform]} wasn't connected (you declined or it failed).")
            conn = await complete_connection(db_session, runtime.settings, platform_kit(runtime.resources,
                                             runtime.settings), runtime.clock, creator_of(request.user), platform,
                                             str(params.get("code")), verifier)
        except ConnectionRefused as exc:
            return await self._page(request, db_session, error=str(exc), status_code=400)
        flash(request, gettext('%(platform)s connected: @%(handle)s, %(or_value)s followers (verified).',
                               platform=LABELS[platform], handle=conn.handle,
                               or_value=format(conn.followers or 0, ',')))
        return redirect(request, "/creator/social")

    @post("/{platform:str}/disconnect")
    async def disconnect(self, request: Request[Any, Any, Any], db_session: NamedDependency[AsyncSession],
                         platform: FromPath[str]) -> Response[Any]:
        runtime = runtime_of(request)
        if await disconnect(db_session, runtime.settings, creator_of(request.user), _platform(platform),
                            runtime.clock.now()):
            flash(request, gettext('%(platform)s disconnected; its access was deleted. Your numbers are now '
                                   'self-reported.', platform=LABELS[platform]))
        return redirect(request, "/creator/social")


class DealMetricsPages(PageController):
    guards = [signed_in]

    @get("/collaborations/{collaboration_id:uuid}/metrics", name="deal_metrics")
    async def metrics(self, request: Request[Any, Any, Any], db_session: NamedDependency[AsyncSession],
                      collaboration_id: FromPath[UUID]) -> Response[Any]:
        collab = await _party_deal(db_session, collaboration_id, current_actor(request))
        return render(request, "social/metrics.html", {"metrics": await deal_metrics(db_session, collab)},
                      block="metrics")


async def _brand_report(request: Request[Any, Any, Any], session: AsyncSession) -> tuple[EngagementReport, Any]:
    """The signed-in brand's report, for one of its own gigs when ``gig_id`` names one (another brand's: 404)."""
    actor: Actor = request.user
    raw = request.query_params.get("gig_id") or ""
    gig = None
    if raw:
        try:
            gig_id = UUID(raw)
        except ValueError:
            raise InvalidInput({"gig_id": gettext('Not an id.')}) from None
        gig = await session.scalar(sa.select(Gig).where(Gig.id == gig_id, Gig.brand_id == actor.brand_id))
        if gig is None:
            raise NotFound(gettext('No such gig.'))
    assert actor.brand_id is not None
    return await engagement_report(session, actor.brand_id, gig_id=gig.id if gig else None), gig


async def _creator_engagement(session: AsyncSession, creator_id: UUID) -> CreatorEngagement:
    name = await session.scalar(sa.select(Creator.display_name).where(Creator.id == creator_id))
    if name is None:
        raise NotFound(gettext('No such creator.'))
    return (await creator_engagements(session, {creator_id: name}))[0]


class BrandEngagementPages(PageController):
    path = "/brand/engagement"
    guards = [brand_member()]

    @get("/", name="brand_engagement")
    async def index(self, request: Request[Any, Any, Any], db_session: NamedDependency[AsyncSession]) -> Response[Any]:
        report, gig = await _brand_report(request, db_session)
        return render(request, "social/engagement.html", {"report": report, "gig": gig}, block="report")

    @get("/report.csv", name="brand_engagement_csv")
    async def csv(self, request: Request[Any, Any, Any], db_session: NamedDependency[AsyncSession]) -> Response[Any]:
        report, _ = await _brand_report(request, db_session)
        return Response(csv_bytes(ENGAGEMENT_CSV_HEADER, engagement_csv_rows(report)), media_type=CSV_MEDIA_TYPE,
                        headers=attachment_headers("engagement.csv"))

    @get("/creators/{creator_id:uuid}", name="brand_creator_engagement")
    async def creator(self, request: Request[Any, Any, Any], db_session: NamedDependency[AsyncSession],
                      creator_id: FromPath[UUID]) -> Response[Any]:
        """One creator's verified audience and median engagement (the creator page loads it as a fragment)."""
        return render(request, "social/creator_engagement.html",
                      {"engagement": await _creator_engagement(db_session, creator_id)}, block="engagement")


class SocialApi(Controller):
    path = "/api/v1"
    tags = ["Connected accounts"]

    @get("/collaborations/{collab_id:uuid}/metrics", guards=[signed_in], responses=problem_specs(401, 404),
         summary="A deal's post engagement over time (views, likes, comments, shares, saves, reach), its engagement "
                 "rate and cost per 1,000 views / per engagement.")
    async def deal_metrics(self, request: Request[Any, Any, Any], db_session: NamedDependency[AsyncSession],
                           collab_id: FromPath[UUID]) -> DealMetricsOut:
        collab = await _party_deal(db_session, collab_id, current_actor(request))
        return metrics_out(await deal_metrics(db_session, collab))

    @get("/creator/social-accounts", guards=[creator_only], responses=problem_specs(401, 403),
         summary="The creator's social accounts with their verification state (verified through a connection, "
                 "reconnect needed, or self-reported).")
    async def social_accounts(self, request: Request[Any, Any, Any],
                              db_session: NamedDependency[AsyncSession]) -> SocialAccountsOut:
        creator_id = creator_of(request.user)
        return await accounts_out(db_session, creator_id, await connections_of(db_session, creator_id))


    @get("/reports/engagement", guards=[brand_member()], responses=problem_specs(401, 403, 404, 422),
         summary="The brand's engagement report: per deal and per gig (views, likes, comments, shares, engagement "
                 "rate, cost per 1,000 views and per engagement) and per creator (verified audience, median "
                 "engagement over recent deals); gig_id limits it to one gig.")
    async def engagement_report(self, request: Request[Any, Any, Any],
                                db_session: NamedDependency[AsyncSession]) -> EngagementReportOut:
        report, _ = await _brand_report(request, db_session)
        return engagement_report_out(report)


    @get("/creators/{creator_id:uuid}/engagement", guards=[brand_member()], responses=problem_specs(401, 403, 404),
         summary="A creator's verified audience and median engagement rate over their most recent deals with "
                 "readings (the counts of their public posts).")
    async def creator_engagement(self, request: Request[Any, Any, Any], db_session: NamedDependency[AsyncSession],
                                 creator_id: FromPath[UUID]) -> CreatorEngagementOut:
        return creator_engagement_out(await _creator_engagement(db_session, creator_id))


ROUTES: list[Any] = [SocialPages, DealMetricsPages, BrandEngagementPages, SocialApi]
