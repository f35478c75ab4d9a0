"""The admin's case file: everything PostPact knows about a disputed deal, on one page, in time order.

Terms snapshot, every collaboration event, the whole message thread (application talk and deal thread), shipping
and tracking, drafts and review comments, post submissions and verification snapshots (fetched payloads) with
keep-live checks, the escrow timeline and any chargebacks, both sides' statements, and both parties' reliability.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from uuid import UUID

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from escrow.models import Chargeback, EscrowHold
from escrow.money import format_money
from escrow.statements import Timeline, escrow_timeline
from marketplace.accounts.auth import Actor
from marketplace.clock import as_utc
from marketplace.collaborations.queries import DealView, load_deal_view
from marketplace.collaborations.states import Party, TransitionActor
from marketplace.disputes.services import CaseView, admin_case
from marketplace.messaging.queries import Transcript, deal_transcripts
from marketplace.verification.evidence import EvidenceView, load_evidence
from reputation.services import ScoreView, Subject, score_for

EVENT_WORDS = {
    "open_dispute": "Dispute opened",
    "resolve_release": "Dispute resolved for the creator",
    "resolve_refund": "Dispute resolved for the brand",
    "resolve_split": "Dispute settled with a split",
    "admin_note": "Admin note",
}


@dataclass(frozen=True)
class EvidenceItem:
    """One line of the merged chronology."""

    at: datetime
    kind: str
    title: str
    who: str = ""
    detail: str = ""
    anchor: str = ""


@dataclass
class ChargebackView:
    case: Chargeback

    @property
    def unrecovered(self) -> int:
        """What PostPact has lost so far: not taken from escrow, not reversed, not owed back by the creator."""
        c = self.case
        return max(0, c.amount - c.from_escrow_amount - c.reversed_amount - c.recoverable_amount)


@dataclass
class CaseFile:
    case: CaseView
    deal: DealView
    transcripts: list[Transcript]
    verification: EvidenceView
    escrow: Timeline | None
    hold: EscrowHold | None
    chargebacks: list[ChargebackView]
    creator_score: ScoreView
    brand_score: ScoreView
    items: list[EvidenceItem] = field(default_factory=list)

    @property
    def terms(self) -> dict[str, Any]:
        return dict(self.case.collab.terms or {})


def _at(value: datetime) -> datetime:
    return as_utc(value)


def chronology(file: CaseFile) -> list[EvidenceItem]:
    """Every dated fact, oldest first (ties keep their source order)."""
    deal, case = file.deal, file.case
    items: list[EvidenceItem] = []
    for entry in deal.timeline:
        e = entry.event
        title = EVENT_WORDS.get(e.action, e.action.replace("_", " ").capitalize())
        moved = f"{e.from_state.replace('_', ' ')} → {e.to_state.replace('_', ' ')}" if e.from_state != e.to_state \
            else ""
        extra = "; ".join(f"{k}: {v}" for k, v in (e.payload or {}).items()
                          if k in ("reason", "comment", "note", "outcome", "at_fault") and v)
        items.append(EvidenceItem(_at(e.created_at), "event", title, deal.event_actor(entry),
                                  " · ".join(p for p in (moved, extra) if p), f"event-{e.seq}"))
    for transcript in file.transcripts:
        where = "before the deal" if transcript.subject.kind == "application" else "deal thread"
        for m in transcript.messages:
            items.append(EvidenceItem(_at(m.created_at), "message", f"Message ({where})", m.sender_name, m.body,
                                      f"message-{m.id}"))
    for s in deal.shipments:
        items.append(EvidenceItem(_at(s.shipped_at), "shipping", f"Shipped with {s.carrier}", "brand",
                                  f"Tracking {s.tracking_number}" + (f" ({s.tracking_url})" if s.tracking_url else "")))
        if s.received_at:
            items.append(EvidenceItem(_at(s.received_at), "shipping", "Receipt confirmed", "creator"))
        if s.problem and s.problem_reported_at:
            items.append(EvidenceItem(_at(s.problem_reported_at), "shipping", "Delivery problem reported", "creator",
                                      s.problem))
    for d in deal.drafts:
        items.append(EvidenceItem(_at(d.created_at), "draft", f"Draft {d.round} submitted", "creator", d.caption,
                                  f"draft-{d.round}"))
        if d.reviewed_at:
            items.append(EvidenceItem(_at(d.reviewed_at), "review",
                                      f"Draft {d.round}: {d.review.value.replace('_', ' ')}", "brand",
                                      d.review_comment or "no comment"))
    for p in deal.posts:
        items.append(EvidenceItem(_at(p.created_at), "post", "Live post submitted", "creator", p.url))
    for check in file.verification.checks:
        at = check.decided_at or check.fetched_at or check.created_at
        items.append(EvidenceItem(_at(at), "verification",
                                  f"{file.verification.purpose_label(check)}: {file.verification.status_label(check)}",
                                  "PostPact", check.summary, f"check-{check.id}"))
    if file.escrow is not None:
        for item in file.escrow.items:
            amount = f" ({format_money(item.amount, file.escrow.currency)})" if item.amount is not None else ""
            items.append(EvidenceItem(_at(item.at), "escrow", item.label + amount, "escrow", item.detail))
    for cb in file.chargebacks:
        items.append(EvidenceItem(_at(cb.case.opened_at), "chargeback", "Chargeback received", "the brand's bank",
                                  f"{cb.case.provider_dispute_id}: {cb.case.status}"))
    for sv in case.statements:
        s = sv.statement
        items.append(EvidenceItem(_at(s.created_at), "statement", f"Statement ({s.kind.replace('_', ' ')})",
                                  case.party_name(s.party) + (f" · {sv.author_name}" if sv.author_name else ""),
                                  s.body, f"statement-{s.id}"))
    return sorted(items, key=lambda i: i.at)


async def load_case_file(session: AsyncSession, admin: Actor, dispute_id: UUID, now: datetime) -> CaseFile:
    case = await admin_case(session, dispute_id)
    collab = case.collab
    viewer = TransitionActor(Party.ADMIN, admin.user_id)
    deal = await load_deal_view(session, collab.id, viewer, now)
    hold = await session.scalar(sa.select(EscrowHold).where(EscrowHold.collaboration_id == collab.id))
    chargebacks = [ChargebackView(c) for c in (await session.scalars(
        sa.select(Chargeback).where(Chargeback.collaboration_id == collab.id).order_by(Chargeback.opened_at))).all()]
    file = CaseFile(
        case=case,
        deal=deal,
        transcripts=await deal_transcripts(session, collab.id),
        verification=await load_evidence(session, collab.id, admin),
        escrow=await escrow_timeline(session, collab.id),
        hold=hold,
        chargebacks=chargebacks,
        creator_score=await score_for(session, Subject.creator(collab.creator_id), now),
        brand_score=await score_for(session, Subject.brand(collab.brand_id), now),
    )
    file.items = chronology(file)
    return file
