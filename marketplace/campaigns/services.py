"""The campaign board of one gig (a few set-based reads, scoped to the brand) and the brand's CSV exports."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from uuid import UUID

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from escrow.models import EscrowHold
from escrow.money import major_units
from marketplace.accounts.auth import Actor
from marketplace.applications.models import Application
from marketplace.campaigns.stages import COLUMNS, DEAL_STATES, LABELS, Stage, stage_of
from marketplace.clock import as_utc
from marketplace.collaborations.models import Collaboration, Shipment
from marketplace.collaborations.states import TERMINAL, CollabState
from marketplace.creators.models import Creator
from marketplace.csvfiles import csv_text
from marketplace.errors import NotFound
from marketplace.gigs.models import Gig, GigInvitation
from marketplace.i18n import gettext

#: Cards drawn per column; the count (and "select all") covers the whole column.
CARDS_PER_COLUMN = 100
#: What a selection in each column can be asked to do (bulk action names).
COLUMN_ACTIONS: dict[Stage, tuple[str, ...]] = {
    Stage.INVITED: (),
    Stage.APPLIED: ("accept", "decline"),
    Stage.ACCEPTED: ("message", "cancel", "extend"),
    Stage.SIGNED: ("fund", "message", "cancel", "extend"),
    Stage.FUNDED: ("message", "cancel", "extend"),
    Stage.SHIPPED: ("message", "extend"),
    Stage.DRAFT: ("approve_draft", "message", "extend"),
    Stage.POSTED: ("approve_post", "message"),
    Stage.PAID: ("message",),
    Stage.GHOSTED: ("message",),
    Stage.CANCELLED: (),
    Stage.DISPUTED: ("message",),
}


@dataclass
class Card:
    creator_id: UUID
    name: str
    #: What a bulk action acts on for this card: the creator, the application or the deal.
    target_id: UUID
    deal_id: UUID | None
    overdue: bool = False
    due_at: datetime | None = None


@dataclass
class Column:
    stage: Stage
    cards: list[Card] = field(default_factory=list)
    count: int = 0
    overdue: int = 0

    @property
    def label(self) -> str:
        return LABELS[self.stage]

    @property
    def actions(self) -> tuple[str, ...]:
        return COLUMN_ACTIONS[self.stage]

    @property
    def match_states(self) -> tuple[str, ...]:
        """What "select all N" sends as the filter: the applications' or the deals' states of this column."""
        return ("pending",) if self.stage is Stage.APPLIED else DEAL_STATES[self.stage]


@dataclass
class Board:
    gig: Gig
    columns: list[Column]

    @property
    def total(self) -> int:
        return sum(c.count for c in self.columns)


async def own_gig(session: AsyncSession, actor: Actor, gig_id: UUID) -> Gig:
    gig = await session.scalar(sa.select(Gig).where(Gig.id == gig_id, Gig.brand_id == actor.brand_id))
    if gig is None or not actor.is_brand:
        raise NotFound(gettext('No such gig.'))
    return gig


def _overdue(deal: sa.Row[tuple[UUID, UUID, CollabState, datetime | None, datetime | None]], now: datetime) -> bool:
    _id, _app, status, due, paused = deal
    return (due is not None and paused is None and CollabState(status) not in TERMINAL
            and CollabState(status) is not CollabState.DISPUTED and now > as_utc(due))


async def campaign_board(session: AsyncSession, actor: Actor, gig_id: UUID, now: datetime) -> Board:
    """Every creator invited to, applying to or working on the gig, in the column their real state puts them."""
    gig = await own_gig(session, actor, gig_id)
    names = Creator.display_name
    invited = dict((await session.execute(
        sa.select(GigInvitation.creator_id, names).join(Creator, Creator.id == GigInvitation.creator_id)
        .where(GigInvitation.gig_id == gig.id))).all())
    applications = (await session.execute(
        sa.select(Application.id, Application.creator_id, Application.status, names)
        .join(Creator, Creator.id == Application.creator_id).where(Application.gig_id == gig.id)
        .order_by(Application.created_at))).all()
    deals = {row[1]: row for row in (await session.execute(
        sa.select(Collaboration.id, Collaboration.application_id, Collaboration.status, Collaboration.next_due_at,
                  Collaboration.deadlines_paused_at)
        .where(Collaboration.gig_id == gig.id, Collaboration.brand_id == actor.brand_id))).all()}
    columns = {stage: Column(stage) for stage in COLUMNS}

    def place(stage: Stage | None, card: Card) -> None:
        if stage is None:
            return
        column = columns[stage]
        column.count += 1
        column.overdue += card.overdue
        if len(column.cards) < CARDS_PER_COLUMN:
            column.cards.append(card)

    applied: set[UUID] = set()
    for application_id, creator_id, status, name in applications:
        applied.add(creator_id)
        deal = deals.get(application_id)
        if deal is None:
            place(stage_of(invited=creator_id in invited, application=status, deal=None),
                  Card(creator_id, name, application_id, None))
            continue
        overdue = _overdue(deal, now)
        place(stage_of(invited=creator_id in invited, application=status, deal=deal[2]),
              Card(creator_id, name, deal[0], deal[0], overdue, as_utc(deal[3]) if deal[3] else None))
    for creator_id, name in invited.items():
        if creator_id not in applied:
            place(stage_of(invited=True, application=None, deal=None), Card(creator_id, name, creator_id, None))
    return Board(gig, [columns[stage] for stage in COLUMNS])


# --- CSV exports --------------------------------------------------------------------------------------------------

DEAL_HEADER = ["deal_id", "creator", "handle", "platform", "gig", "state", "stage", "next_step", "next_step_by",
               "next_due_at", "due_ship", "due_post", "signed_at", "fee", "currency", "product_included",
               "created_at"]


def _iso(value: datetime | None) -> str:
    return as_utc(value).isoformat() if value else ""


async def deals_csv(session: AsyncSession, actor: Actor) -> str:
    """Every deal of the brand: creator, gig, state, due dates and the fee in major units with its currency."""
    rows = await session.scalars(
        sa.select(Collaboration).where(Collaboration.brand_id == actor.brand_id)
        .order_by(Collaboration.created_at, Collaboration.id)
    )

    def line(c: Collaboration) -> list[object]:
        t = c.terms or {}
        stage = stage_of(invited=False, application=None, deal=c.status)
        return [c.id, t.get("creator_display_name", ""), t.get("handle", ""), t.get("platform", ""),
                t.get("gig_title", ""), CollabState(c.status).value, stage.value if stage else "",
                c.next_due_stage or "", c.next_due_party or "", _iso(c.next_due_at), _iso(c.due_ship),
                _iso(c.due_post), _iso(c.signed_at), major_units(c.fee_amount, c.currency), c.currency,
                "yes" if c.product_included else "no", _iso(c.created_at)]

    return csv_text(DEAL_HEADER, (line(c) for c in rows))


async def shipments_csv(session: AsyncSession, actor: Actor) -> str:
    rows = (await session.execute(
        sa.select(Shipment, Collaboration.terms).join(Collaboration, Collaboration.id == Shipment.collaboration_id)
        .where(Collaboration.brand_id == actor.brand_id).order_by(Shipment.shipped_at, Shipment.id)
    ))
    return csv_text(
        ["deal_id", "creator", "gig", "carrier", "tracking_number", "tracking_url", "shipped_at", "received_at",
         "problem"],
        ([s.collaboration_id, (t or {}).get("creator_display_name", ""), (t or {}).get("gig_title", ""), s.carrier,
          s.tracking_number, s.tracking_url or "", _iso(s.shipped_at), _iso(s.received_at), s.problem or ""]
         for s, t in rows))


async def payouts_csv(session: AsyncSession, actor: Actor) -> str:
    """What each deal's escrow took and paid out, in major units with the currency."""
    rows = (await session.execute(
        sa.select(EscrowHold, Collaboration.terms).join(Collaboration, Collaboration.id == EscrowHold.collaboration_id)
        .where(EscrowHold.brand_id == actor.brand_id).order_by(EscrowHold.created_at, EscrowHold.id)
    ))

    def money(amount: int, currency: str) -> str:
        return major_units(amount, currency)

    return csv_text(
        ["deal_id", "creator", "gig", "escrow_state", "currency", "creator_amount", "platform_fee", "funded",
         "released_to_creator", "refunded", "funded_at"],
        ([h.collaboration_id, (t or {}).get("creator_display_name", ""), (t or {}).get("gig_title", ""),
          h.state.value, h.currency, money(h.creator_amount, h.currency), money(h.platform_fee_amount, h.currency),
          money(h.funded_amount, h.currency), money(h.released_creator_amount, h.currency),
          money(h.refunded_amount, h.currency), _iso(h.funded_at)] for h, t in rows))
