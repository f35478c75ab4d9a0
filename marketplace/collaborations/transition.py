"""The one way a deal changes state: lock the row, check the table, move, record the event, tell the listeners.

What a transition *causes* (a reputation outcome, a refund, a verification job, a notice, a watch for the deadline
sweeper...) never follows a call to ``transition()`` in the caller's code: it is a listener registered once at
start-up in ``marketplace/listeners.py``, run here in the same transaction, in the order registered. A listener that
raises rolls the whole step back, so a refused refund leaves the deal where it was.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol
from uuid import UUID

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from marketplace.collaborations.due_dates import recompute_due_dates
from marketplace.collaborations.models import Collaboration, CollaborationEvent, status_change
from marketplace.collaborations.states import Action, CollabState, TransitionActor, check_transition, record_milestones
from marketplace.errors import NotFound


@dataclass(frozen=True)
class Change:
    """What one transition did, as listeners see it."""

    collaboration: Collaboration
    event: CollaborationEvent
    action: Action
    from_state: CollabState
    to_state: CollabState
    actor: TransitionActor
    now: datetime
    payload: Mapping[str, Any]

    @property
    def changed(self) -> bool:
        """Whether the state moved (notes and re-submissions keep it)."""
        return self.to_state is not self.from_state


class TransitionListener(Protocol):
    """A consequence of deal transitions; runs inside the transition's transaction, after the event is recorded."""

    async def after_transition(self, session: AsyncSession, change: Change) -> None: ...


_listeners: list[TransitionListener] = []


def install(listeners: Iterable[TransitionListener]) -> None:
    """Replace the registered listeners (``marketplace.listeners.install_listeners`` calls this once per process)."""
    _listeners[:] = list(listeners)


def installed() -> tuple[TransitionListener, ...]:
    return tuple(_listeners)


async def lock_collaboration(session: AsyncSession, collaboration_id: UUID) -> Collaboration:
    """The deal's row, locked for this transaction: the first lock of the fixed order (see ``marketplace.locks``)."""
    collab = await session.scalar(
        sa.select(Collaboration)
        .where(Collaboration.id == collaboration_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    if collab is None:
        raise NotFound("No such collaboration.")
    return collab


async def transition(
    session: AsyncSession,
    collaboration_id: UUID,
    action: Action,
    actor: TransitionActor,
    *,
    now: datetime,
    payload: dict[str, Any] | None = None,
    collab: Collaboration | None = None,
) -> Change:
    """Lock, check, move, record, then run every listener. Raises NotFound (outsider, 404), IllegalTransition (409)
    or RoleNotAllowed (403) before anything changes; a listener's error rolls the caller's transaction back.

    Pass ``collab`` only if this transaction already locked it with ``lock_collaboration``.
    """
    if collab is None:
        collab = await lock_collaboration(session, collaboration_id)
    rule = check_transition(collab, action, actor, now)
    source = CollabState(collab.status)
    target = rule.target or source
    with status_change():
        collab.status = target
    if target != source:
        collab.state_changed_at = now
    record_milestones(collab, action, source, target, now)
    collab.event_count += 1
    event = CollaborationEvent(
        collaboration_id=collab.id,
        seq=collab.event_count,
        action=action.value,
        from_state=source.value,
        to_state=target.value,
        actor_party=actor.party.value,
        actor_user_id=actor.user_id,
        payload=payload or {},
        created_at=now,
    )
    session.add(event)
    recompute_due_dates(collab, now)
    await session.flush()
    change = Change(collab, event, action, source, target, actor, now, dict(payload or {}))
    for listener in _listeners:
        await listener.after_transition(session, change)
    return change
