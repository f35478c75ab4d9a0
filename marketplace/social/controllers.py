"""Connected accounts pages (/creator/social: connect, callback, disconnect), a deal's metrics page, and the API."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from litestar import Controller, Request, Response, get, post
from litestar.di import NamedDependency
from litestar.params import FromPath
from sqlalchemy.ext.asyncio import AsyncSession

from marketplace.accounts.auth import Actor
from marketplace.accounts.guards import creator_only, current_actor, signed_in
from marketplace.collaborations.models import Collaboration
from marketplace.creators.services import creator_of
from marketplace.errors import NotFound
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
from marketplace.social.schemas import (
    DealMetricsOut,
    SocialAccountsOut,
    accounts_out,
    metrics_out,
    problem_specs,
)
from marketplace.web import PageController, flash, redirect, render, runtime_of

PLATFORMS = ("instagram", "tiktok", "youtube")


def _platform(platform: str) -> str:
    if platform not in PLATFORMS:
        raise NotFound("No such platform.")
    return platform


async def _party_deal(session: AsyncSession, collaboration_id: UUID, actor: Actor) -> Collaboration:
    collab = await session.get(Collaboration, collaboration_id)
    if collab is None or not (actor.is_admin or (actor.is_brand and actor.brand_id == collab.brand_id)
                              or (actor.is_creator and actor.creator_id == collab.creator_id)):
        raise NotFound("No such collaboration.")
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
        flash(request, f"{LABELS[platform]} connected: @{conn.handle}, {conn.followers or 0:,} followers (verified).")
        return redirect(request, "/creator/social")

    @post("/{platform:str}/disconnect")
    async def disconnect(self, request: Request[Any, Any, Any], db_session: NamedDependency[AsyncSession],
                         platform: FromPath[str]) -> Response[Any]:
        runtime = runtime_of(request)
        if await disconnect(db_session, runtime.settings, creator_of(request.user), _platform(platform),
                            runtime.clock.now()):
            flash(request, f"{LABELS[platform]} disconnected; its access was deleted. Your numbers are now "
                           "self-reported.")
        return redirect(request, "/creator/social")


class DealMetricsPages(PageController):
    guards = [signed_in]

    @get("/collaborations/{collaboration_id:uuid}/metrics", name="deal_metrics")
    async def metrics(self, request: Request[Any, Any, Any], db_session: NamedDependency[AsyncSession],
                      collaboration_id: FromPath[UUID]) -> Response[Any]:
        collab = await _party_deal(db_session, collaboration_id, current_actor(request))
        return render(request, "social/metrics.html", {"metrics": await deal_metrics(db_session, collab)},
                      block="metrics")


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


ROUTES: list[Any] = [SocialPages, DealMetricsPages, SocialApi]
