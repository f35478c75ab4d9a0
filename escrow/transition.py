"""Moving an escrow hold: lock its row, apply the pure ``check_transition``, record the ``EscrowEvent`` row.

``transition()`` is the only place an ``EscrowHold.status`` changes: the caller holds the hold's row lock
(``lock_hold``), the table in ``escrow.states`` is checked, the status set, and an event row records actor, from, to,
time and payload.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from escrow.models import EscrowEvent, EscrowHold, status_change
from escrow.states import EscrowAction, EscrowState, check_transition


@dataclass
class EscrowTransition:
    hold: EscrowHold
    event: EscrowEvent
    from_state: EscrowState
    to_state: EscrowState


async def lock_hold(session: AsyncSession, *, escrow_id: UUID | None = None,
                    collaboration_id: UUID | None = None) -> EscrowHold | None:
    """The escrow row, locked for this transaction (re-read, never a stale cached copy)."""
    query = sa.select(EscrowHold).with_for_update().execution_options(populate_existing=True)
    if escrow_id is not None:
        query = query.where(EscrowHold.id == escrow_id)
    elif collaboration_id is not None:
        query = query.where(EscrowHold.collaboration_id == collaboration_id)
    else:
        raise ValueError("lock_hold needs escrow_id or collaboration_id")
    return (await session.scalars(query)).one_or_none()


async def transition(session: AsyncSession, hold: EscrowHold, action: EscrowAction, *, actor: str, now: datetime,
                     payload: dict[str, Any] | None = None) -> EscrowTransition:
    """Check the table, move, record. The caller locked ``hold`` with ``lock_hold`` in this transaction."""
    resume = EscrowState(hold.resume_status) if hold.resume_status else None
    change = check_transition(EscrowState(hold.status), action, resume)
    with status_change():
        hold.status = change.to_state
    hold.resume_status = change.resume_status
    if change.to_state != change.from_state:
        hold.status_changed_at = now
    hold.event_count += 1
    event = EscrowEvent(
        escrow_id=hold.id,
        seq=hold.event_count,
        action=action.value,
        from_state=change.from_state.value,
        to_state=change.to_state.value,
        actor=actor[:80],
        payload=payload or {},
        created_at=now,
    )
    session.add(event)
    return EscrowTransition(hold, event, change.from_state, change.to_state)
