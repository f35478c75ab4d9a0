"""An admin's decision on a dispute or chargeback case: once, under locks, with escrow's own numbers."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from escrow.errors import EscrowConflict
from escrow.models import EscrowHold
from escrow.money import format_money
from escrow.services import EscrowService
from escrow.split import HoldFigures, SplitPreview, preview_split
from escrow.states import PENDING, EscrowState
from marketplace.accounts.auth import Actor
from marketplace.accounts.models import User
from marketplace.admin import audit
from marketplace.collaborations.models import Collaboration
from marketplace.collaborations.states import Action, CollabState, Party, TransitionActor
from marketplace.collaborations.transition import transition
from marketplace.disputes.links import dispute_link
from marketplace.disputes.models import (
    OUTCOME_LABELS,
    Dispute,
    DisputeDecision,
    DisputeStatement,
    DisputeStatus,
    Outcome,
)
from marketplace.disputes.services import (
    AT_FAULT_CHOICES,
    DEFAULT_AT_FAULT,
    AlreadyDecided,
    check_text,
    deal_title,
    party_user_ids,
)
from marketplace.errors import Conflict, Forbidden, InvalidInput
from marketplace.i18n import N_, gettext
from marketplace.locks import lock_deal_dispute_and_hold
from marketplace.notifications.services import notify
from marketplace.payments.gateway import escrow_service
from marketplace.settings import Settings

RATIONALE_MIN = 10
RATIONALE_MAX = 5000
_RESOLUTION = {Outcome.RELEASE: Action.RESOLVE_RELEASE, Outcome.REFUND: Action.RESOLVE_REFUND,
               Outcome.SPLIT: Action.RESOLVE_SPLIT}


@dataclass(frozen=True)
class DecisionInput:
    outcome: str | None
    rationale: str
    #: For a split: the creator's part of their fee, in minor units of the deal's currency.
    creator_amount: int | None = None
    #: creator, brand, both or none; None takes the outcome's default.
    at_fault: str | None = None


def _parse_decision(data: DecisionInput) -> tuple[Outcome, str, str]:
    errors: dict[str, str] = {}
    outcome: Outcome | None = None
    try:
        outcome = Outcome(data.outcome or "")
    except ValueError:
        errors["outcome"] = gettext('Choose release, refund or split.')
    rationale = check_text(errors, "rationale", data.rationale, label=N_('The rationale'), minimum=RATIONALE_MIN,
                            maximum=RATIONALE_MAX)
    at_fault = (data.at_fault or "").strip() or (DEFAULT_AT_FAULT[outcome] if outcome else "none")
    if at_fault not in AT_FAULT_CHOICES:
        errors["at_fault"] = gettext('Choose creator, brand, both or none.')
    if outcome is Outcome.SPLIT and data.creator_amount is None:
        errors["creator_amount"] = gettext("Say how much of the creator's fee goes to the creator.")
    if errors:
        raise InvalidInput(errors)
    assert outcome is not None
    return outcome, rationale, at_fault


def _held_summary(hold: EscrowHold | None) -> dict[str, Any]:
    if hold is None:
        return {"escrow": None}
    return {"escrow": hold.state.value, "held": hold.held_amount, "available": hold.available_amount,
            "currency": hold.currency}


async def decide(session: AsyncSession, admin: Actor, dispute_id: UUID, data: DecisionInput, *, now: datetime,
                 settings: Settings, ip: str | None = None) -> DisputeDecision:
    """Decide a case once. Raises NotFound, AlreadyDecided (409, someone was first), InvalidInput (422) or
    Conflict (409: a payment for the deal is still with the provider; decide once it finishes)."""
    if not admin.is_admin:
        raise Forbidden(gettext('Only PostPact admins decide disputes.'))
    collab, dispute, hold = await lock_deal_dispute_and_hold(session, dispute_id)
    if dispute.status is not DisputeStatus.OPEN:
        await _raise_already_decided(session, dispute)
    outcome, rationale, at_fault = _parse_decision(data)
    service = escrow_service(session, now, settings=settings, actor=f"admin:{admin.user_id}")
    before = {"dispute": dispute.status.value, "collaboration": collab.status.value, **_held_summary(hold)}
    if hold is not None and hold.state is EscrowState.FUNDED and hold.held_amount > 0:
        await service.freeze(collab.id, reason="dispute decision")
    if hold is not None and hold.state in PENDING:
        raise Conflict(
            gettext(
                "A payment for this deal is still with the payment provider. Decide once it has finished (the "
                "escrow timeline shows it); nothing was changed."
            )
        )
    movable = hold if hold is not None and hold.state is EscrowState.FROZEN and hold.available_amount > 0 else None
    split = _split_of(movable, data.creator_amount or 0) if outcome is Outcome.SPLIT and movable else None
    # The deal moves first (collaboration already locked), then the money, so every later lock is in order. A case
    # on a deal that had already ended (a chargeback after release) only records the decision on the deal; either
    # way who lost (from at_fault) follows from the event (marketplace/reputation/outcomes.py).
    payload = {"dispute_id": str(dispute.id), "outcome": outcome.value, "at_fault": at_fault,
               "reason": "dispute decided by PostPact"}
    resolving = CollabState(collab.status) is CollabState.DISPUTED
    await transition(session, collab.id, _RESOLUTION[outcome] if resolving else Action.RECORD_DECISION,
                     TransitionActor(Party.ADMIN, admin.user_id), now=now, payload=payload, collab=collab)
    creator_part, brand_part = await _move_money(service, movable, outcome, split, reason=f"dispute {dispute.id}")
    collab.needs_admin_review = False
    dispute.status = DisputeStatus.DECIDED
    dispute.decided_at = now
    currency = hold.currency if hold is not None else collab.currency
    decision = DisputeDecision(dispute_id=dispute.id, collaboration_id=collab.id, outcome=outcome,
                               creator_amount=creator_part, brand_amount=brand_part, currency=currency,
                               at_fault=at_fault, rationale=rationale, decided_by_id=admin.user_id, decided_at=now)
    session.add(decision)
    try:
        async with session.begin_nested():
            await session.flush()
    except IntegrityError:
        await _raise_already_decided(session, dispute)
    session.add(DisputeStatement(
        created_at=now, updated_at=now, dispute_id=dispute.id, party="admin", author_id=admin.user_id, kind="decision",
        body=rationale))
    await _tell_decision(session, collab, dispute, decision, settings)
    after = {"dispute": DisputeStatus.DECIDED.value, "collaboration": collab.status.value, "outcome": outcome.value,
             "creator_amount": creator_part, "brand_amount": brand_part, "currency": currency, "at_fault": at_fault,
             **{f"escrow_{k}": v for k, v in _held_summary(hold).items()}}
    await audit.record(session, admin, "dispute.decide", target_type="dispute", target_id=dispute.id,
                       summary=f"{OUTCOME_LABELS[outcome.value]} on “{deal_title(collab)}”: {rationale[:200]}",
                       now=now, before=before, after=after, ip=ip)
    return decision


def _split_of(hold: EscrowHold, creator_amount: int) -> SplitPreview:
    """Escrow's own account of the split (the numbers ``resolve_split`` will post), or the field's error."""
    try:
        return preview_split(HoldFigures.of(hold), creator_amount)
    except EscrowConflict as exc:
        raise InvalidInput(
            {
                "creator_amount": (
                    gettext(
                        "The creator's part must be between %(currency)s and %(currency2)s.",
                        currency=format_money(0, hold.currency),
                        currency2=format_money(hold.creator_amount_remaining, hold.currency),
                    )
                )
            }
        ) from exc


async def _move_money(service: EscrowService, hold: EscrowHold | None, outcome: Outcome, split: SplitPreview | None,
                      *, reason: str) -> tuple[int, int]:
    """Ask escrow for the decided movement; returns (to the creator, to the brand). Nothing held, nothing moves."""
    if hold is None:
        return 0, 0
    try:
        if outcome is Outcome.RELEASE:
            creator_part = hold.creator_amount_remaining
            await service.request_release(hold.collaboration_id, reason=reason)
            return creator_part, 0
        if outcome is Outcome.REFUND:
            brand_part = hold.available_amount
            await service.request_refund(hold.collaboration_id, reason=reason)
            return 0, brand_part
        assert split is not None
        await service.resolve_split(hold.collaboration_id, creator_amount=split.creator_amount, reason=reason)
        return split.creator_amount, split.brand_amount
    except EscrowConflict as exc:
        raise Conflict(exc.message) from exc


async def _raise_already_decided(session: AsyncSession, dispute: Dispute) -> None:
    decision = await session.scalar(sa.select(DisputeDecision).where(DisputeDecision.dispute_id == dispute.id))
    if decision is None:
        raise AlreadyDecided("This dispute is already closed.")
    who = await session.scalar(sa.select(User.email).where(User.id == decision.decided_by_id)) or "another admin"
    raise AlreadyDecided(
        f"Already decided by {who} at {decision.decided_at.strftime('%Y-%m-%d %H:%M UTC')}: "
        f"{OUTCOME_LABELS[decision.outcome.value].lower()}. Nothing was changed.")


async def _tell_decision(session: AsyncSession, collab: Collaboration, dispute: Dispute, decision: DisputeDecision,
                         settings: Settings) -> None:
    money = format_money
    if decision.creator_amount == 0 and decision.brand_amount == 0:
        moved = "No money was held any more, so none moves."
    elif decision.outcome is Outcome.RELEASE:
        moved = f"{money(decision.creator_amount, decision.currency)} is being paid to the creator."
    elif decision.outcome is Outcome.REFUND:
        moved = f"{money(decision.brand_amount, decision.currency)} is being refunded to the brand."
    else:
        moved = (f"{money(decision.creator_amount, decision.currency)} is being paid to the creator and "
                 f"{money(decision.brand_amount, decision.currency)} refunded to the brand.")
    title = f"“{deal_title(collab)}”: the dispute was decided"
    for party in ("brand", "creator"):
        await notify(session, await party_user_ids(session, collab, party), kind="dispute.decided", title=title,
                     body=f"{OUTCOME_LABELS[decision.outcome.value]}. {moved}",
                     link=dispute_link(collab.id), email_template="dispute_decided",
                     public_url=settings.app.public_url, rationale=decision.rationale,
                     outcome=OUTCOME_LABELS[decision.outcome.value], moved=moved)


