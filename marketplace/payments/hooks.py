"""What the deal flow asks of escrow: the gateway through which deal decisions enter escrow.

``PaymentsListener`` (``marketplace/payments/listener.py``) calls these after a deal's transition, and a dispute
decision calls ``split``; nothing else in the deal flow moves money. Each runs inside the caller's transaction
(the collaboration is locked already, so the lock order collaboration → escrow holds). A hook only records the
money decision (pending ledger posting + provider call with a deterministic idempotency key) and queues the provider
call to run after commit; when the provider confirms, escrow moves the collaboration on with
``transition(..., Action.MARK_FUNDED / MARK_RELEASED, SYSTEM)`` (marketplace/payments/bridge.py).
"""

from __future__ import annotations

import logging
from datetime import datetime
from uuid import UUID

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from escrow.models import EscrowHold
from escrow.services import EscrowConflict
from escrow.states import EscrowState
from marketplace.collaborations.models import Collaboration
from marketplace.errors import Conflict
from marketplace.payments.gateway import escrow_service
from marketplace.settings import Settings

log = logging.getLogger(__name__)

#: Money is in escrow: funded, or frozen, or on its way out but not yet confirmed.
HELD_STATES = frozenset({EscrowState.FUNDED, EscrowState.FROZEN, EscrowState.RELEASE_PENDING,
                         EscrowState.REFUND_PENDING, EscrowState.SPLIT_PENDING})


class EscrowUnavailable(RuntimeError):
    pass


class EscrowRefused(Conflict):
    """409: escrow can't do this now (already paid, a payment in progress...); the caller's transaction rolls back."""

    slug = "escrow-refused"
    title = "Payment not possible right now"


def _refuse_if_frozen(hold: EscrowHold) -> None:
    """Escrow lets a frozen hold be released or refunded: that is how an admin's decision executes. The deal flow
    (approvals, cancellations, the sweeper's auto-release and ghost refund) must never do it."""
    if hold.state is EscrowState.FROZEN:
        raise EscrowRefused("The payment is frozen while a dispute is open; a PostPact admin decides what happens.")


async def release_to_creator(session: AsyncSession, collab: Collaboration, *, now: datetime, reason: str,
                             settings: Settings) -> None:
    """The post was approved (by the brand, or automatically after the review window): pay the creator.
    If the creator has no payout account yet, the release waits (escrow ``release_pending``) and goes out as
    soon as they finish onboarding."""
    service = escrow_service(session, now, settings=settings, actor=f"deal:{reason}"[:80])
    hold = await service.hold_for(collab.id)
    if hold is None:
        log.warning("release for collaboration %s without escrow: nothing was ever funded", collab.id)
        return
    _refuse_if_frozen(hold)
    try:
        await service.request_release(collab.id, reason=reason)
    except EscrowConflict as exc:
        raise EscrowRefused(exc.message) from exc


async def refund_to_brand(session: AsyncSession, collab: Collaboration, *, now: datetime, reason: str,
                          settings: Settings) -> None:
    """A funded deal ended without a post (cancelled, ghosted, brand no-show): return the money to the brand.
    Before funding this closes the escrow (a payment that still arrives is returned automatically)."""
    service = escrow_service(session, now, settings=settings, actor=f"deal:{reason}"[:80])
    hold = await service.hold_for(collab.id)
    if hold is not None:
        _refuse_if_frozen(hold)
    try:
        await service.request_refund(collab.id, reason=reason)
    except EscrowConflict as exc:
        raise EscrowRefused(exc.message) from exc


async def freeze(session: AsyncSession, collab: Collaboration, *, now: datetime, reason: str,
                 settings: Settings) -> None:
    """A dispute or chargeback: nothing may be released or refunded until an admin decides."""
    await escrow_service(session, now, settings=settings, actor=f"deal:{reason}"[:80]).freeze(collab.id, reason=reason)


async def split(session: AsyncSession, collab: Collaboration, *, now: datetime, creator_amount: int,
                reason: str, settings: Settings) -> None:
    """An admin's split of a frozen escrow: ``creator_amount`` of the creator's fee to them, the rest to the brand."""
    try:
        await escrow_service(session, now, settings=settings, actor=f"deal:{reason}"[:80]).resolve_split(
            collab.id, creator_amount=creator_amount, reason=reason)
    except EscrowConflict as exc:
        raise EscrowRefused(exc.message) from exc


async def resume_payouts(session: AsyncSession, creator_id: UUID, *, now: datetime, settings: Settings,
                         actor: str) -> int:
    """A creator's suspension was lifted: the payments approved meanwhile, which waited in escrow, go out now."""
    return await escrow_service(session, now, settings=settings, actor=actor).resume_waiting_transfers(creator_id)


async def is_funded(session: AsyncSession, collab: Collaboration) -> bool:
    """Whether money for this collaboration is held in escrow right now."""
    hold = await session.scalar(sa.select(EscrowHold).where(EscrowHold.collaboration_id == collab.id))
    return hold is not None and hold.state in HELD_STATES and hold.held_amount > 0
