"""Cases PostPact opens itself: when the brand's bank disputes the funding charge (a chargeback), or when escrow
froze because money moved outside PostPact (a refund or transfer reversal made in Stripe's dashboard).

Escrow records the chargeback (``EscrowService.record_chargeback``: takes what is held, tries a transfer reversal
for what was already paid out, books the rest to dispute loss / creator-recoverable) and freezes; the bridge's
``on_frozen`` then calls ``open_admin_cases`` in the same transaction, so the case exists exactly when the
chargeback does, and a repeated webhook finds the case already there. Any other freeze that no open case explains
gets a review case, so frozen money always has an admin decision waiting for it.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from escrow.models import Chargeback, EscrowHold
from escrow.money import format_money
from marketplace.admin import audit
from marketplace.collaborations.models import Collaboration
from marketplace.collaborations.states import SYSTEM, TRANSITIONS, Action, CollabState, Party
from marketplace.collaborations.transition import lock_collaboration, transition
from marketplace.disputes.links import admin_link
from marketplace.disputes.models import (
    REASON_LABELS,
    Dispute,
    DisputeKind,
    DisputeReason,
    DisputeStatement,
    DisputeStatus,
)
from marketplace.i18n import gettext
from marketplace.notifications.services import admin_user_ids, notify

#: Freezes a party's dispute (or the admin deciding one) causes: the case already exists.
DISPUTE_FREEZES = frozenset({"dispute", "dispute decision"})


def chargeback_statement(case: Chargeback) -> str:
    money = format_money
    parts = [f"The brand's bank disputed the card payment ({case.provider_dispute_id}, "
             f"{money(case.amount, case.currency)}, status {case.status.replace('_', ' ')})."]
    if case.from_escrow_amount:
        parts.append(f"{money(case.from_escrow_amount, case.currency)} was taken from the money held in escrow.")
    shortfall = case.amount - case.from_escrow_amount
    if shortfall > 0:
        parts.append(f"{money(shortfall, case.currency)} had already been paid out: PostPact is reversing the "
                     "transfer to the creator; what can't be recovered is booked as a loss.")
    return " ".join(parts)


async def open_admin_cases(session: AsyncSession, hold: EscrowHold, now: datetime, reason: str) -> list[Dispute]:
    """Called on every escrow freeze: a case per new chargeback, or a review case for a freeze nothing explains."""
    opened = await open_chargeback_cases(session, hold, now)
    if opened or reason in DISPUTE_FREEZES or reason == "chargeback":
        return opened
    collab = await lock_collaboration(session, hold.collaboration_id)
    existing = await session.scalar(sa.select(Dispute.id).where(Dispute.collaboration_id == collab.id,
                                                                Dispute.status == DisputeStatus.OPEN))
    if existing is not None:
        return opened
    case = await _system_case(session, collab, now, kind=DisputeKind.REVIEW, reason=DisputeReason.MONEY_MOVED_OUTSIDE,
                              statement=f"PostPact froze the escrow: {reason}. Decide where the money held goes.",
                              label=reason, chargeback_id=None)
    return [case]


async def _system_case(session: AsyncSession, collab: Collaboration, now: datetime, *, kind: DisputeKind,
                       reason: DisputeReason, statement: str, label: str, chargeback_id: Any) -> Dispute:
    rule = TRANSITIONS.get((CollabState(collab.status), Action.OPEN_DISPUTE))
    if rule is not None and Party.SYSTEM in rule.parties:
        await transition(session, collab.id, Action.OPEN_DISPUTE, SYSTEM, now=now, collab=collab,
                         payload={"reason": label})
    collab.needs_admin_review = True
    dispute = Dispute(collaboration_id=collab.id, kind=kind, status=DisputeStatus.OPEN, reason=reason,
                      opened_by_party="system", opened_by_id=None, opened_at=now, chargeback_id=chargeback_id)
    session.add(dispute)
    await session.flush()
    session.add(DisputeStatement(
        created_at=now, updated_at=now, dispute_id=dispute.id, party="system", author_id=None, kind="opening",
        body=statement))
    title = str((collab.terms or {}).get("gig_title") or "a deal")
    await notify(session, await admin_user_ids(session), kind=f"dispute.{kind.value}",
                 title=f"{REASON_LABELS[reason.value]}: “{title}”", body=statement, link=admin_link(dispute.id))
    await audit.record(session, None, f"{kind.value}.open_case", target_type="dispute", target_id=dispute.id,
                       summary=f"PostPact opened a case on “{title}”: {label}", now=now,
                       after={"kind": kind.value, "reason": label, "collaboration": str(collab.id)})
    return dispute


async def open_chargeback_cases(session: AsyncSession, hold: EscrowHold, now: datetime) -> list[Dispute]:
    """One admin case per chargeback on this escrow that has none yet (idempotent). If a party's dispute is
    already open on the deal, the chargeback joins it instead of opening a second case."""
    pending = list((await session.scalars(
        sa.select(Chargeback)
        .where(Chargeback.escrow_id == hold.id, ~sa.exists().where(Dispute.chargeback_id == Chargeback.id))
        .order_by(Chargeback.opened_at, Chargeback.id))).all())
    opened: list[Dispute] = []
    for case in pending:
        collab = await lock_collaboration(session, case.collaboration_id)
        existing = await session.scalar(
            sa.select(Dispute).where(Dispute.collaboration_id == collab.id, Dispute.status == DisputeStatus.OPEN)
            .with_for_update())
        if existing is not None:
            if existing.chargeback_id is None:
                existing.chargeback_id = case.id
            session.add(DisputeStatement(
                created_at=now, updated_at=now, dispute_id=existing.id, party="system", author_id=None, kind="system",
                body=chargeback_statement(case)))
            await session.flush()
            continue
        dispute = await _system_case(
            session,
            collab,
            now,
            kind=DisputeKind.CHARGEBACK,
            reason=DisputeReason.CHARGEBACK,
            statement=chargeback_statement(case),
            label=gettext("chargeback %(provider_dispute_id)s", provider_dispute_id=case.provider_dispute_id),
            chargeback_id=case.id,
        )
        opened.append(dispute)
    return opened
