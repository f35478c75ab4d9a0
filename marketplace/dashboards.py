"""What a brand team or a creator needs to see first: the deals waiting on them, new applications or
invitations, and the money in escrow — a fixed handful of scoped queries, whatever the size of the account."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from uuid import UUID

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from escrow.models import EscrowHold
from escrow.states import HOLDING, PENDING
from marketplace.applications.models import Application, ApplicationStatus
from marketplace.collaborations.models import Collaboration
from marketplace.collaborations.states import TERMINAL, CollabState
from marketplace.disputes.models import Dispute, DisputeStatus
from marketplace.gigs.models import Gig, GigInvitation, GigStatus

#: How many waiting deals a dashboard lists (the deal list pages have the rest).
ATTENTION_LIMIT = 12

STAGE_WORDS = {
    "sign": "sign the terms",
    "fund": "fund the escrow",
    "ship": "ship the product",
    "receipt": "confirm receipt",
    "draft": "submit a draft",
    "review": "review the draft",
    "post": "publish the post",
    "check": "check the post by hand",
    "approve": "approve the post",
    "keep_live": "keep the post live",
}


@dataclass(frozen=True)
class WaitingDeal:
    collaboration_id: UUID
    title: str
    other_side: str
    status: CollabState
    stage: str | None
    due_at: datetime | None

    @property
    def to_do(self) -> str:
        return STAGE_WORDS.get(self.stage or "", "take a look")


@dataclass(frozen=True)
class DisputeToAnswer:
    """An open dispute the other side opened, waiting for this side's statement."""

    collaboration_id: UUID
    title: str
    due_at: datetime | None


@dataclass
class Dashboard:
    waiting_on_you: list[WaitingDeal] = field(default_factory=list)
    disputes_to_answer: list[DisputeToAnswer] = field(default_factory=list)
    waiting_on_them: int = 0
    active_deals: int = 0
    completed_deals: int = 0
    #: Money held in escrow for this account's live deals, per currency (minor units).
    in_escrow: dict[str, int] = field(default_factory=dict)
    open_gigs: int = 0
    draft_gigs: int = 0
    pending_applications: int = 0
    invitations: int = 0


async def _deal_counts(session: AsyncSession, scope: sa.ColumnElement[bool], party: str) -> tuple[int, int, int]:
    live = Collaboration.status.not_in([s.value for s in TERMINAL])
    row = (
        await session.execute(
            sa.select(
                sa.func.count().filter(live),
                sa.func.count().filter(Collaboration.status == CollabState.COMPLETED.value),
                sa.func.count().filter(
                    live,
                    Collaboration.next_due_party.is_not(None),
                    Collaboration.next_due_party != party,
                    Collaboration.next_due_party != "system",
                ),
            ).where(scope)
        )
    ).one()
    return int(row[0]), int(row[1]), int(row[2])


async def _escrow(
    session: AsyncSession, scope: sa.ColumnElement[bool], amount: sa.ColumnElement[int]
) -> dict[str, int]:
    rows = await session.execute(
        sa.select(EscrowHold.currency, sa.func.sum(amount))
        .where(scope, EscrowHold.status.in_(list(HOLDING | PENDING)))
        .group_by(EscrowHold.currency)
    )
    return {currency: int(total) for currency, total in rows.all() if total}


async def _disputes_to_answer(session: AsyncSession, scope: sa.ColumnElement[bool], party: str
                              ) -> list[DisputeToAnswer]:
    rows = await session.execute(
        sa.select(Collaboration.id, Collaboration.terms, Dispute.response_due_at)
        .join(Dispute, Dispute.collaboration_id == Collaboration.id)
        .where(scope, Dispute.status == DisputeStatus.OPEN, Dispute.respondent_party == party,
               Dispute.responded_at.is_(None))
        .order_by(Dispute.response_due_at.asc(), Dispute.id)
        .limit(ATTENTION_LIMIT)
    )
    return [DisputeToAnswer(cid, str((terms or {}).get("gig_title", "Deal")), due) for cid, terms, due in rows.all()]


#: Everything the brand paid that is still in escrow (fee and PostPact's share).
BRAND_HELD = (
    EscrowHold.funded_amount
    - EscrowHold.released_creator_amount
    - EscrowHold.released_fee_amount
    - EscrowHold.refunded_amount
    - EscrowHold.charged_back_amount
)
#: The creator's own fee not yet paid out (PostPact's share is never theirs).
CREATOR_HELD = EscrowHold.creator_amount - EscrowHold.released_creator_amount


async def brand_dashboard(session: AsyncSession, brand_id: UUID) -> Dashboard:
    scope = Collaboration.brand_id == brand_id
    rows = (
        await session.execute(
            sa.select(Collaboration, sa.literal(""))
            .where(scope, Collaboration.next_due_party == "brand")
            .order_by(Collaboration.next_due_at.asc(), Collaboration.id)
            .limit(ATTENTION_LIMIT)
        )
    ).all()
    waiting = [
        WaitingDeal(
            c.id,
            str(c.terms.get("gig_title", "Deal")),
            str(c.terms.get("creator_display_name", "")),
            CollabState(c.status),
            c.next_due_stage,
            c.next_due_at,
        )
        for c, _ in rows
    ]
    active, completed, on_them = await _deal_counts(session, scope, "brand")
    gigs = (
        await session.execute(
            sa.select(
                sa.func.count().filter(Gig.status == GigStatus.OPEN),
                sa.func.count().filter(Gig.status == GigStatus.DRAFT),
            ).where(Gig.brand_id == brand_id)
        )
    ).one()
    pending = await session.scalar(
        sa.select(sa.func.count(Application.id)).where(
            Application.brand_id == brand_id, Application.status == ApplicationStatus.PENDING
        )
    )
    return Dashboard(
        waiting_on_you=waiting,
        disputes_to_answer=await _disputes_to_answer(session, scope, "brand"),
        waiting_on_them=on_them,
        active_deals=active,
        completed_deals=completed,
        in_escrow=await _escrow(session, EscrowHold.brand_id == brand_id, BRAND_HELD),
        open_gigs=int(gigs[0]),
        draft_gigs=int(gigs[1]),
        pending_applications=int(pending or 0),
    )


async def creator_dashboard(session: AsyncSession, creator_id: UUID) -> Dashboard:
    scope = Collaboration.creator_id == creator_id
    rows = (
        (
            await session.execute(
                sa.select(Collaboration)
                .where(scope, Collaboration.next_due_party == "creator")
                .order_by(Collaboration.next_due_at.asc(), Collaboration.id)
                .limit(ATTENTION_LIMIT)
            )
        )
        .scalars()
        .all()
    )
    waiting = [
        WaitingDeal(
            c.id,
            str(c.terms.get("gig_title", "Deal")),
            str(c.terms.get("brand_name", "")),
            CollabState(c.status),
            c.next_due_stage,
            c.next_due_at,
        )
        for c in rows
    ]
    active, completed, on_them = await _deal_counts(session, scope, "creator")
    pending = await session.scalar(
        sa.select(sa.func.count(Application.id)).where(
            Application.creator_id == creator_id, Application.status == ApplicationStatus.PENDING
        )
    )
    invitations = await session.scalar(
        sa.select(sa.func.count(GigInvitation.id))
        .join(Gig, Gig.id == GigInvitation.gig_id)
        .outerjoin(
            Application,
            sa.and_(Application.gig_id == GigInvitation.gig_id, Application.creator_id == GigInvitation.creator_id),
        )
        .where(GigInvitation.creator_id == creator_id, Gig.status == GigStatus.OPEN, Application.id.is_(None))
    )
    return Dashboard(
        waiting_on_you=waiting,
        disputes_to_answer=await _disputes_to_answer(session, scope, "creator"),
        waiting_on_them=on_them,
        active_deals=active,
        completed_deals=completed,
        in_escrow=await _escrow(session, EscrowHold.creator_id == creator_id, CREATOR_HELD),
        pending_applications=int(pending or 0),
        invitations=int(invitations or 0),
    )
