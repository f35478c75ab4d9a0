"""Reading escrow: a collaboration's money timeline, and brand/creator statements by month and currency."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from uuid import UUID

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from escrow.models import (
    CallStatus,
    EscrowEvent,
    EscrowHold,
    LedgerAccount,
    LedgerEntry,
    LedgerTransaction,
    Phase,
    ProviderCall,
    _utc,
)
from escrow.states import LABELS, EscrowState

_EVENT_LABELS = {
    "start_funding": "Payment started",
    "funding_succeeded": "Funded — money held in escrow",
    "funding_failed": "Payment failed",
    "cancel": "Escrow closed before funding",
    "request_release": "Payment to the creator started",
    "release_posted": "Paid to the creator",
    "release_posted_partial": "Part paid to the creator",
    "release_voided": "Payment to the creator failed; money still held",
    "request_refund": "Refund to the brand started",
    "refund_posted": "Refunded to the brand",
    "refund_posted_partial": "Part refunded to the brand",
    "refund_voided": "Refund failed; money still held",
    "freeze": "Frozen",
    "resolve_release": "Dispute decided: pay the creator",
    "resolve_refund": "Dispute decided: refund the brand",
    "resolve_split": "Dispute decided: split",
    "split_posted": "Dispute settled",
    "split_voided": "Settlement failed; still frozen",
}


@dataclass(frozen=True)
class TimelineItem:
    at: datetime
    label: str
    amount: int | None
    detail: str = ""
    action: str = ""


@dataclass
class Timeline:
    collaboration_id: UUID
    state: EscrowState
    state_label: str
    currency: str
    creator_amount: int
    platform_fee_amount: int
    gross_amount: int
    held_amount: int
    released_creator_amount: int
    released_fee_amount: int
    refunded_amount: int
    provider_fee_amount: int
    message: str | None
    waiting_for_payouts: bool
    checkout_url: str | None
    items: list[TimelineItem] = field(default_factory=list)


async def escrow_timeline(session: AsyncSession, collaboration_id: UUID) -> Timeline | None:
    hold = await session.scalar(sa.select(EscrowHold).where(EscrowHold.collaboration_id == collaboration_id))
    if hold is None:
        return None
    events = await session.scalars(
        sa.select(EscrowEvent).where(EscrowEvent.escrow_id == hold.id).order_by(EscrowEvent.seq)
    )
    items = []
    for event in events:
        label = _EVENT_LABELS.get(event.action)
        payload: dict[str, Any] = event.payload or {}
        if label is None:
            if payload.get("returned") is not None:
                label = "A payment the deal couldn't take was returned"
            elif payload.get("chargeback_won"):
                label = "Chargeback won: money held again"
            elif payload.get("freeze_requested"):
                label = "Freeze requested"
            else:
                continue
        amount = payload.get("amount")
        if event.action == "freeze" and payload.get("chargeback"):
            label = "Frozen: card payment disputed"
        items.append(TimelineItem(_utc(event.created_at) or event.created_at, label,
                                  amount if isinstance(amount, int) else None,
                                  str(payload.get("message") or payload.get("reason") or ""), event.action))
    waiting = await session.scalar(
        sa.select(sa.func.count()).select_from(ProviderCall).where(
            ProviderCall.escrow_id == hold.id, ProviderCall.status == CallStatus.WAITING)
    )
    return Timeline(
        collaboration_id=hold.collaboration_id,
        state=hold.state,
        state_label=LABELS[hold.state],
        currency=hold.currency,
        creator_amount=hold.creator_amount,
        platform_fee_amount=hold.platform_fee_amount,
        gross_amount=hold.gross_amount,
        held_amount=hold.held_amount,
        released_creator_amount=hold.released_creator_amount,
        released_fee_amount=hold.released_fee_amount,
        refunded_amount=hold.refunded_amount,
        provider_fee_amount=hold.provider_fee_amount,
        message=hold.last_message,
        waiting_for_payouts=bool(waiting),
        checkout_url=hold.checkout_url if hold.state in (EscrowState.FUNDING, EscrowState.FUNDING_FAILED) else None,
        items=items,
    )


# --- statements ---------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class StatementLine:
    at: datetime
    collaboration_id: UUID | None
    kind: str
    #: Positive: money the brand paid / the creator received; negative: returned / taken back.
    amount: int
    currency: str
    provider_ref: str | None

    @property
    def month(self) -> str:
        return self.at.strftime("%Y-%m")


@dataclass
class StatementMonth:
    month: str
    currency: str
    totals: dict[str, int]


async def _lines(session: AsyncSession, query: sa.Select[Any], sign: int, kind: str) -> list[StatementLine]:
    rows = await session.execute(query)
    return [
        StatementLine(_utc(at) or at, collab, kind, sign * amount, currency, ref)
        for at, collab, amount, currency, ref in rows
    ]


def _entries_on(code: str, kinds: tuple[str, ...]) -> sa.Select[Any]:
    return (
        sa.select(LedgerTransaction.created_at, LedgerTransaction.collaboration_id, LedgerEntry.amount,
                  LedgerEntry.currency, LedgerTransaction.provider_ref)
        .join(LedgerTransaction, LedgerTransaction.id == LedgerEntry.transaction_id)
        .join(LedgerAccount, LedgerAccount.id == LedgerEntry.account_id)
        .where(LedgerAccount.code == code, LedgerTransaction.kind.in_(kinds), LedgerEntry.pending.is_(False))
    )


async def brand_statement_lines(session: AsyncSession, brand_id: UUID) -> list[StatementLine]:
    """What a brand paid (fundings), got back (refunds), and PostPact's fee within what was released."""
    paid = await _lines(session, _entries_on(f"brand_funding:{brand_id}", ("fund",)), -1, "paid")
    refunded = await _lines(session, _entries_on(f"refunds:{brand_id}", ("refund_paid",)), -1, "refunded")
    fees = await _lines(
        session,
        _entries_on("platform_fee_revenue", ("release",))
        .join(EscrowHold, EscrowHold.id == LedgerTransaction.escrow_id)
        .where(EscrowHold.brand_id == brand_id, LedgerTransaction.phase == Phase.POST),
        -1,
        "platform_fee",
    )
    return sorted(paid + refunded + fees, key=lambda line: (line.at, line.kind))


async def creator_statement_lines(session: AsyncSession, creator_id: UUID) -> list[StatementLine]:
    """What a creator was paid (transfers) and what was taken back for chargebacks (reversals)."""
    earned = await _lines(session, _entries_on(f"creator_payable:{creator_id}", ("transfer",)), 1, "paid_out")
    reversed_ = await _lines(
        session,
        sa.select(LedgerTransaction.created_at, LedgerTransaction.collaboration_id, LedgerEntry.amount,
                  LedgerEntry.currency, LedgerTransaction.provider_ref)
        .join(LedgerTransaction, LedgerTransaction.id == LedgerEntry.transaction_id)
        .join(LedgerAccount, LedgerAccount.id == LedgerEntry.account_id)
        .join(EscrowHold, EscrowHold.id == LedgerTransaction.escrow_id)
        .where(LedgerAccount.code == "platform_cash", LedgerTransaction.kind == "reversal",
               EscrowHold.creator_id == creator_id),
        -1,
        "reversed",
    )
    return sorted(earned + reversed_, key=lambda line: (line.at, line.kind))


def by_month(lines: list[StatementLine], kinds: tuple[str, ...]) -> list[StatementMonth]:
    """Totals per (month, currency), newest month first; every kind present in each row (0 when none)."""
    totals: dict[tuple[str, str], dict[str, int]] = defaultdict(lambda: dict.fromkeys(kinds, 0))
    for line in lines:
        totals[(line.month, line.currency)][line.kind] += line.amount
    return [StatementMonth(month, currency, values)
            for (month, currency), values in sorted(totals.items(), key=lambda kv: (kv[0][0], kv[0][1]),
                                                    reverse=True)]
