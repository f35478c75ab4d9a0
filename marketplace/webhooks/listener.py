"""Deal transitions become outgoing webhook events (registered in ``marketplace/listeners.py``)."""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from marketplace.collaborations.transition import Change
from marketplace.webhooks.events import kinds_for
from marketplace.webhooks.services import record_event


def deal_data(change: Change, kind: str) -> dict[str, Any]:
    """What every deal event carries: enough to act on without a call back, nothing private (no terms, no address)."""
    deal = change.collaboration
    return {
        "deal_id": str(deal.id),
        "gig_id": str(deal.gig_id),
        "brand_id": str(deal.brand_id),
        "creator_id": str(deal.creator_id),
        "state": change.to_state.value,
        "previous_state": change.from_state.value,
        "action": change.action.value,
        "by": change.actor.party.value,
        "fee": {"amount": deal.fee_amount, "currency": deal.currency},
        "sequence": change.event.seq,
        "kind": kind,
    }


class OutgoingWebhookListener:
    """Records the transition's events for the brand's and the creator's endpoints in the same transaction; the
    delivery job starts once it commits."""

    async def after_transition(self, session: AsyncSession, change: Change) -> None:
        deal = change.collaboration
        for kind in kinds_for(change.action, change.from_state, change.to_state):
            await record_event(session, kind=kind, source_key=f"deal:{deal.id}:{change.event.seq}:{kind}",
                               occurred_at=change.now, now=change.now, brand_id=deal.brand_id,
                               creator_id=deal.creator_id, collaboration_id=deal.id, data=deal_data(change, kind))
