"""Payments for people: who may fund what, bulk funding, payout onboarding, timelines and statements.

Money rules live in ``escrow``; this module scopes every query to the actor and turns escrow's refusals into
PostPact errors. Roles: a brand's owners, managers and finance members may fund (managers run the deals day to day,
so blocking them would stall a 100-creator campaign; finance sees every payment on the statement). Creators see
only their own earnings; a brand never sees another brand's money.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass, replace
from datetime import datetime
from uuid import UUID

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from escrow.models import EscrowHold, PayoutAccount, ProviderCall
from escrow.money import basis_points, major_units
from escrow.services import EscrowConflict, FundingRequest
from escrow.statements import (
    StatementLine,
    StatementMonth,
    Timeline,
    brand_statement_lines,
    by_month,
    creator_statement_lines,
    escrow_timeline,
)
from escrow.states import EscrowState
from marketplace.accounts.auth import Actor
from marketplace.brands.models import BrandRole
from marketplace.collaborations.models import Collaboration
from marketplace.collaborations.states import CollabState
from marketplace.collaborations.transition import lock_collaboration
from marketplace.errors import Conflict, Forbidden, InvalidInput, NotFound
from marketplace.i18n import gettext
from marketplace.payments.gateway import escrow_service
from marketplace.settings import Settings

#: Who may fund a brand's deals (see the module docstring).
FUNDING_ROLES = frozenset({BrandRole.OWNER, BrandRole.MANAGER, BrandRole.FINANCE})
#: Most deals one bulk funding takes at once (each still gets its own funding and key).
MAX_BULK = 500
def actor_label(actor: Actor) -> str:
    return f"{actor.kind.value}:{actor.user_id}"


# --- brand: funding -----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class FundingRow:
    collaboration_id: UUID
    title: str
    creator_name: str
    status: CollabState
    creator_amount: int
    platform_fee: int
    currency: str
    escrow_state: EscrowState | None
    checkout_url: str | None
    message: str | None

    @property
    def total(self) -> int:
        return self.creator_amount + self.platform_fee

    @property
    def can_fund(self) -> bool:
        return self.status is CollabState.SIGNED and self.escrow_state in (
            None, EscrowState.AWAITING_FUNDING, EscrowState.FUNDING_FAILED, EscrowState.FUNDING)


def require_funder(actor: Actor) -> None:
    if not actor.is_brand:
        raise Forbidden(gettext('Only brand teams fund deals.'))
    if actor.brand_role not in FUNDING_ROLES:
        raise Forbidden(gettext("Your role can't fund deals."))


def _checkout_url(settings: Settings, collaboration_id: UUID, hold: EscrowHold | None) -> str | None:
    """Where the brand pays: the simulated checkout, or (Stripe) our page hosting Stripe's Payment Element."""
    if hold is None or hold.state is not EscrowState.FUNDING or hold.funding_ref is None:
        return None
    if settings.stripe.enabled:
        return f"/brand/payments/pay/{collaboration_id}"
    return hold.checkout_url


async def brand_funding_rows(session: AsyncSession, actor: Actor, settings: Settings,
                             ids: list[UUID] | None = None) -> list[FundingRow]:
    """The brand's deals that need or have escrow: signed ones to fund and those with a payment in progress."""

    query = (
        sa.select(Collaboration, EscrowHold)
        .outerjoin(EscrowHold, EscrowHold.collaboration_id == Collaboration.id)
        .where(Collaboration.brand_id == actor.brand_id)
        .order_by(Collaboration.created_at.desc(), Collaboration.id.desc())
    )
    if ids is not None:
        query = query.where(Collaboration.id.in_(ids))
    else:
        query = query.where(sa.or_(
            Collaboration.status == CollabState.SIGNED,
            EscrowHold.status.in_([EscrowState.FUNDING, EscrowState.FUNDING_FAILED, EscrowState.RELEASE_PENDING]),
        )).limit(MAX_BULK)
    rows = []
    for collab, hold in (await session.execute(query)).all():
        fee = hold.platform_fee_amount if hold else basis_points(collab.fee_amount, settings.app.platform_fee_bps)
        rows.append(FundingRow(
            collaboration_id=collab.id,
            title=str((collab.terms or {}).get("gig_title", "Deal")),
            creator_name=str((collab.terms or {}).get("creator_display_name", "")),
            status=CollabState(collab.status),
            creator_amount=hold.creator_amount if hold else collab.fee_amount,
            platform_fee=fee,
            currency=hold.currency if hold else collab.currency,
            escrow_state=hold.state if hold else None,
            checkout_url=_checkout_url(settings, collab.id, hold),
            message=hold.last_message if hold else None,
        ))
    return rows


async def fund_collaborations(session: AsyncSession, actor: Actor, ids: list[UUID], *, now: datetime,
                              settings: Settings) -> list[ProviderCall | None]:
    """Start one funding per deal (bulk: a list of ids). All or nothing: any deal of another brand is a 404,
    any deal that can't be funded now is a field error, and nothing is started."""
    require_funder(actor)
    unique = list(dict.fromkeys(ids))
    if not unique:
        raise InvalidInput({"collaboration_id": gettext('Choose at least one deal to fund.')})
    if len(unique) > MAX_BULK:
        raise InvalidInput({"collaboration_id": gettext('Fund at most %(max_bulk)s deals at once.', max_bulk=MAX_BULK)})
    service = escrow_service(session, now, settings=settings, actor=actor_label(actor))
    calls = []
    problems = []
    for collaboration_id in sorted(unique):  # one lock order across concurrent bulk fundings
        collab = await lock_collaboration(session, collaboration_id)
        if collab.brand_id != actor.brand_id:
            raise NotFound(gettext('No such collaboration.'))
        title = str((collab.terms or {}).get("gig_title", "this deal"))
        if CollabState(collab.status) is not CollabState.SIGNED:
            problems.append(f"{title}: it is {CollabState(collab.status).value.replace('_', ' ')}, not signed.")
            continue
        request = FundingRequest(collab.id, collab.brand_id, collab.creator_id, collab.fee_amount, collab.currency,
                                 description=f"PostPact escrow: {title}")
        try:
            calls.append(await service.start_funding(request, return_url=f"/brand/payments/checkout?c={collab.id}"))
        except EscrowConflict as exc:
            problems.append(f"{title}: {exc.message}")
    if problems:
        raise InvalidInput({"collaboration_id": " ".join(problems)}, message=gettext("Some deals can't be funded now."))
    return calls


# --- creator: payouts ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class PayoutStatus:
    account: PayoutAccount | None
    preparing: bool
    waiting_amount: int
    waiting_currency: str | None

    @property
    def ready(self) -> bool:
        return self.account is not None and self.account.transfers_active


async def payout_status(session: AsyncSession, creator_id: UUID) -> PayoutStatus:
    account = await session.scalar(sa.select(PayoutAccount).where(PayoutAccount.creator_id == creator_id))
    waiting = (await session.execute(
        sa.select(sa.func.coalesce(sa.func.sum(ProviderCall.amount), 0), sa.func.min(ProviderCall.currency))
        .where(ProviderCall.creator_id == creator_id, ProviderCall.operation == "transfer",
               ProviderCall.status == "waiting")
    )).one()
    return PayoutStatus(account, account is not None and account.account_ref is None, int(waiting[0] or 0),
                        waiting[1])


async def start_payout_onboarding(session: AsyncSession, actor: Actor, *, now: datetime, settings: Settings) -> None:
    if not actor.is_creator or actor.creator_id is None:
        raise Forbidden(gettext('Only creators set up payouts.'))
    service = escrow_service(session, now, settings=settings, actor=actor_label(actor))
    provider = "stripe" if settings.stripe.enabled else "simulated"
    await service.request_payout_account(actor.creator_id, email=actor.email, country=None, provider=provider)


# --- timelines and statements -------------------------------------------------------------------------------------


async def timeline_for(session: AsyncSession, actor: Actor, collaboration_id: UUID) -> Timeline | None:
    """The escrow timeline of a deal, for its brand team, its creator, or an admin (others: 404). Creators get
    their own amounts only: PostPact's fee and the provider's fee are the brand's business."""
    collab = await session.get(Collaboration, collaboration_id)
    if collab is None:
        raise NotFound(gettext('No such collaboration.'))
    own_brand = actor.is_brand and collab.brand_id == actor.brand_id
    own_deal = actor.is_creator and collab.creator_id == actor.creator_id
    if not (own_brand or own_deal or actor.is_admin):
        raise NotFound(gettext('No such collaboration.'))
    timeline = await escrow_timeline(session, collaboration_id)
    if timeline is not None and actor.is_creator:
        timeline.platform_fee_amount = 0
        timeline.released_fee_amount = 0
        timeline.provider_fee_amount = 0
        timeline.gross_amount = timeline.creator_amount
        timeline.held_amount = max(0, min(timeline.held_amount,
                                          timeline.creator_amount - timeline.released_creator_amount))
        timeline.checkout_url = None
        # Only the creator's own money: a funding shows their fee, refunds and fees to the brand show no amount.
        creator_moves = {"request_release", "release_posted", "release_posted_partial", "resolve_release"}
        timeline.items = [
            replace(item, amount=timeline.creator_amount if item.action == "funding_succeeded"
                    else item.amount if item.action in creator_moves else None)
            for item in timeline.items
        ]
    return timeline


BRAND_KINDS = ("paid", "refunded", "platform_fee")
CREATOR_KINDS = ("paid_out", "reversed")


async def statement_for(session: AsyncSession, actor: Actor) -> tuple[list[StatementLine], list[StatementMonth]]:
    if actor.is_brand and actor.brand_id is not None:
        lines = await brand_statement_lines(session, actor.brand_id)
        return lines, by_month(lines, BRAND_KINDS)
    if actor.is_creator and actor.creator_id is not None:
        lines = await creator_statement_lines(session, actor.creator_id)
        return lines, by_month(lines, CREATOR_KINDS)
    raise Forbidden(gettext('Statements are for brands and creators.'))


async def statement_csv(session: AsyncSession, actor: Actor, month: str | None = None) -> str:
    """One row per money movement. ``amount`` is in the currency's units (45.00), as people and spreadsheets read
    it; ``amount_minor`` (4500) stays for machines. The other side of each deal is named: the creator on a brand's
    statement, the brand on a creator's."""
    lines, _ = await statement_for(session, actor)
    deals = await _deal_names(session, {line.collaboration_id for line in lines if line.collaboration_id})
    other, other_key = ("creator", 1) if actor.is_brand else ("brand", 2)
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["date", "month", "collaboration_id", "deal", other, "kind", "amount", "currency", "amount_minor",
                     "reference"])
    for line in lines:
        if month and line.month != month:
            continue
        names = deals.get(line.collaboration_id, ("", "", ""))
        writer.writerow([line.at.strftime("%Y-%m-%d %H:%M:%S"), line.month, line.collaboration_id or "",
                         _csv_safe(names[0]), _csv_safe(names[other_key]), line.kind,
                         major_units(line.amount, line.currency), line.currency, line.amount,
                         line.provider_ref or ""])
    return out.getvalue()


def _csv_safe(value: str) -> str:
    """Spreadsheets run cells starting with = + - @ as formulas; a deal title must never do that."""
    return "'" + value if value[:1] in ("=", "+", "-", "@") else value


async def _deal_names(session: AsyncSession, ids: set[UUID | None]) -> dict[UUID | None, tuple[str, str, str]]:
    """(gig title, creator name, brand name) of each deal, from its frozen terms."""
    if not ids:
        return {}
    rows = await session.execute(sa.select(Collaboration.id, Collaboration.terms).where(Collaboration.id.in_(ids)))
    return {cid: (str((t or {}).get("gig_title", "")), str((t or {}).get("creator_display_name", "")),
                  str((t or {}).get("brand_name", ""))) for cid, t in rows}


def conflict(exc: EscrowConflict) -> Conflict:
    return Conflict(exc.message)
