"""Pages of campaign operations: the board of a gig, and the brand's deals, shipments and payouts as CSV."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from litestar import Request, Response, get
from litestar.di import NamedDependency
from litestar.params import FromPath
from sqlalchemy.ext.asyncio import AsyncSession

from marketplace.accounts.guards import brand_member
from marketplace.brands.models import BrandRole
from marketplace.bulk.actions import ACTIONS, MAX_ITEMS, MERGE_FIELDS
from marketplace.campaigns.services import campaign_board, deals_csv, payouts_csv, shipments_csv
from marketplace.csvfiles import CSV_MEDIA_TYPE, attachment_headers
from marketplace.web import PageController, render, runtime_of


def _csv(body: str, name: str) -> Response[str]:
    return Response(body, media_type=CSV_MEDIA_TYPE, headers=attachment_headers(name))


class CampaignPages(PageController):
    guards = [brand_member()]

    @get("/brand/gigs/{gig_id:uuid}/board", name="campaign_board")
    async def board(self, request: Request[Any, Any, Any], gig_id: FromPath[UUID],
                    db_session: NamedDependency[AsyncSession]) -> Response[Any]:
        """One column per stage with counts and overdue markers; a selection in a column starts a bulk action."""
        now = runtime_of(request).clock.now()
        board = await campaign_board(db_session, request.user, gig_id, now)
        return render(request, "campaigns/board.html", {
            "board": board, "actions": ACTIONS, "max_items": MAX_ITEMS, "merge_fields": MERGE_FIELDS,
            "can_act": request.user.brand_role in (BrandRole.OWNER, BrandRole.MANAGER, BrandRole.FINANCE),
            "here": f"/brand/gigs/{gig_id}/board",
        }, block="board")

    @get("/brand/collaborations.csv", name="deals_csv")
    async def deals(self, request: Request[Any, Any, Any], db_session: NamedDependency[AsyncSession]) -> Response[Any]:
        return _csv(await deals_csv(db_session, request.user), "postpact-deals.csv")

    @get("/brand/shipments.csv", name="shipments_csv")
    async def shipments(self, request: Request[Any, Any, Any],
                        db_session: NamedDependency[AsyncSession]) -> Response[Any]:
        return _csv(await shipments_csv(db_session, request.user), "postpact-shipments.csv")

    @get("/brand/payouts.csv", name="payouts_csv")
    async def payouts(self, request: Request[Any, Any, Any],
                      db_session: NamedDependency[AsyncSession]) -> Response[Any]:
        return _csv(await payouts_csv(db_session, request.user), "postpact-payouts.csv")


ROUTES: list[Any] = [CampaignPages]
