"""Deal transitions become outgoing webhook events (registered in ``marketplace/listeners.py``)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any
from uuid import UUID

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from marketplace.collaborations.transition import Change, among
from marketplace.jobs import enqueue
from marketplace.webhooks.events import kinds_for
from marketplace.webhooks.models import OutgoingEndpoint, OutgoingEvent
from marketplace.webhooks.services import FLUSH_JOB, pending_delivery, record_event


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


def source_key(change: Change, kind: str) -> str:
    """What makes recording a deal's event idempotent: the deal, the event's place in its history, the kind."""
    return f"deal:{change.collaboration.id}:{change.event.seq}:{kind}"


class OutgoingWebhookListener:
    """Records the transition's events for the brand's and the creator's endpoints in the same transaction; the
    delivery job starts once it commits."""

    async def after_transition(self, session: AsyncSession, change: Change) -> None:
        deal = change.collaboration
        for kind in kinds_for(change.action, change.from_state, change.to_state):
            await record_event(session, kind=kind, source_key=source_key(change, kind), occurred_at=change.now,
                               now=change.now, brand_id=deal.brand_id, creator_id=deal.creator_id,
                               collaboration_id=deal.id, data=deal_data(change, kind))

    async def after_transitions(self, session: AsyncSession, changes: Sequence[Change]) -> None:
        """A batch (a bulk step): what ``record_event`` does for each change's events, with the endpoints of every
        brand and creator of the batch read in one query (not one per deal), the events already recorded in one,
        and the new events and their deliveries written together; one delivery job per endpoint."""
        planned = [(change, kind) for change in changes
                   for kind in kinds_for(change.action, change.from_state, change.to_state)]
        if not planned:
            return
        brands = list({change.collaboration.brand_id for change, _ in planned})
        creators = list({change.collaboration.creator_id for change, _ in planned})
        by_owner: dict[tuple[str, UUID], list[OutgoingEndpoint]] = {}
        for endpoint in await session.scalars(sa.select(OutgoingEndpoint).where(sa.or_(
                among(session, OutgoingEndpoint.brand_id, brands),
                among(session, OutgoingEndpoint.creator_id, creators)))):
            if endpoint.brand_id is not None:
                by_owner.setdefault(("brand", endpoint.brand_id), []).append(endpoint)
            if endpoint.creator_id is not None:
                by_owner.setdefault(("creator", endpoint.creator_id), []).append(endpoint)
        wanted: list[tuple[Change, str, list[OutgoingEndpoint]]] = []
        for change, kind in planned:
            deal = change.collaboration
            endpoints = [e for e in (*by_owner.get(("brand", deal.brand_id), ()),
                                     *by_owner.get(("creator", deal.creator_id), ())) if e.wants(kind)]
            if endpoints:
                wanted.append((change, kind, endpoints))
        if not wanted:
            return
        keys = [source_key(change, kind) for change, kind, _ in wanted]
        recorded = set(await session.scalars(sa.select(OutgoingEvent.source_key)
                                             .where(OutgoingEvent.source_key.in_(keys))))
        events: list[tuple[OutgoingEvent, list[OutgoingEndpoint], Change]] = []
        for (change, kind, endpoints), key in zip(wanted, keys, strict=True):
            if key in recorded:
                continue
            deal = change.collaboration
            events.append((OutgoingEvent(kind=kind, source_key=key, occurred_at=change.now, brand_id=deal.brand_id,
                                         creator_id=deal.creator_id, collaboration_id=deal.id,
                                         data=deal_data(change, kind)), endpoints, change))
        if not events:
            return
        session.add_all([event for event, _, _ in events])
        await session.flush()
        endpoint_ids: dict[UUID, None] = {}
        for event, endpoints, change in events:
            for endpoint in endpoints:
                session.add(pending_delivery(endpoint, event, change.now))
                endpoint_ids.setdefault(endpoint.id)
        # The delivery job sends every due delivery of its endpoint: one per endpoint is enough for the batch.
        for endpoint_id in endpoint_ids:
            enqueue(session, FLUSH_JOB, str(endpoint_id))
        await session.flush()
