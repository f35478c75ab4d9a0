"""The outgoing-webhook listener's batch hook (a bulk step's ``transition_many``) records what its one-change hook
records: the same events for the same endpoints (a brand's and a creator's, with their event filters; an inactive
endpoint, one that wants other kinds and another brand's get nothing), recorded once however often it runs, with
the endpoints read in one query for the whole batch."""

from __future__ import annotations

import uuid
from typing import Any

import sqlalchemy as sa
from sqlalchemy import event

from marketplace.collaborations.states import Action, CollabState, TransitionActor
from marketplace.collaborations.transition import transition, transition_many
from marketplace.db import session_scope
from marketplace.webhooks.listener import OutgoingWebhookListener
from marketplace.webhooks.models import OutgoingDelivery, OutgoingEndpoint, OutgoingEvent
from tests.support.deals import make_deal
from tests.support.escrow import actor_of

#: Event data that names the deal itself (the two copies are different deals of the same people).
OWN = ("deal_id", "gig_id")


async def _endpoint(runtime: Any, *, brand_id: Any = None, creator_id: Any = None, events: list[str] | None = None,
                    active: bool = True, url: str = "https://erp.example.com/hook") -> uuid.UUID:
    async with session_scope(runtime.session_maker) as session:
        endpoint = OutgoingEndpoint(brand_id=brand_id, creator_id=creator_id, url=url, description="ERP",
                                    events=events or [], secret_enc="sealed", secret_hint="abcd", active=active)
        session.add(endpoint)
        await session.flush()
        return endpoint.id


async def _recorded(db: Any, deal_id: uuid.UUID) -> list[tuple[Any, ...]]:
    """The deal's events (kind, time, parties, data without its own ids) and each one's deliveries by endpoint."""
    rows = (await db.execute(
        sa.select(OutgoingEvent.id, OutgoingEvent.kind, OutgoingEvent.source_key, OutgoingEvent.occurred_at,
                  OutgoingEvent.brand_id, OutgoingEvent.creator_id, OutgoingEvent.data)
        .where(OutgoingEvent.collaboration_id == deal_id).order_by(OutgoingEvent.id))).all()
    recorded = []
    for event_id, kind, key, occurred_at, brand_id, creator_id, data in rows:
        deliveries = sorted((str(endpoint), status.value, attempts, str(next_at), str(give_up)) for
                            endpoint, status, attempts, next_at, give_up in (await db.execute(
                                sa.select(OutgoingDelivery.endpoint_id, OutgoingDelivery.status,
                                          OutgoingDelivery.attempts, OutgoingDelivery.next_attempt_at,
                                          OutgoingDelivery.give_up_at)
                                .where(OutgoingDelivery.event_id == event_id))).all())
        recorded.append((kind, key.replace(str(deal_id), "<deal>"), occurred_at, brand_id, creator_id,
                         {k: v for k, v in data.items() if k not in OWN}, deliveries))
    return recorded


async def test_a_batch_records_what_one_change_at_a_time_records(runtime, people, db, queue) -> None:
    brand, other_brand = await people.brand(), await people.brand()
    shipped_only, quiet, unwatched = await people.creator(), await people.creator(), await people.creator()
    pairs = []
    for creator in (shipped_only, quiet, unwatched, shipped_only):
        pairs.append(tuple([(await make_deal(runtime, CollabState.FUNDED, brand=brand, creator=creator)).id
                            for _ in range(2)]))
    # The endpoints once the deals are funded: they hear of the shipments only.
    everything = await _endpoint(runtime, brand_id=brand.brand_id)
    ships = await _endpoint(runtime, creator_id=shipped_only.creator_id, events=["deal.shipped"])
    await _endpoint(runtime, creator_id=quiet.creator_id, active=False)
    await _endpoint(runtime, creator_id=unwatched.creator_id, events=["deal.cancelled"])
    await _endpoint(runtime, brand_id=other_brand.brand_id)
    actor = TransitionActor.of(await actor_of(runtime, brand))
    shipment = {"carrier": "UPS", "tracking_number": "1Z999AA10123456784"}
    now = runtime.clock.now()
    for alone, _ in pairs:
        async with session_scope(runtime.session_maker) as session:
            await transition(session, alone, Action.SHIP, actor, now=now, payload=dict(shipment))
    queue.jobs.clear()
    statements: list[str] = []
    engine = runtime.alchemy.get_engine().sync_engine

    def count(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        statements.append(statement)

    event.listen(engine, "before_cursor_execute", count)
    try:
        async with session_scope(runtime.session_maker) as session:
            together = [b for _, b in pairs]
            result = await transition_many(session, together, Action.SHIP, actor, now=now,
                                           payloads={deal_id: shipment for deal_id in together})
            assert not result.refused
    finally:
        event.remove(engine, "before_cursor_execute", count)
    # One read of the endpoints for the whole batch, not one per deal.
    assert sum("FROM hook_endpoint" in s for s in statements) == 1, statements
    for alone, batched in pairs:
        assert await _recorded(db, batched) == await _recorded(db, alone)
    # The comparison compares something: the brand's endpoint hears of every shipment, the creator's filtered one of
    # its own two; the inactive endpoint, the one filtered to cancellations and the other brand's of nothing.
    deliveries = [d[0] for _, batched in pairs for *_, ds in await _recorded(db, batched) for d in ds]
    assert sorted(deliveries) == sorted([str(everything)] * 4 + [str(ships)] * 2)
    # One delivery job per endpoint for the batch (each sends every due delivery of its endpoint).
    assert sorted(job.args[0] for job in queue.jobs if job.name == "webhooks.flush_endpoint") == sorted(
        [str(everything), str(ships)])


async def test_the_batch_hook_records_each_event_once(runtime, people, db) -> None:
    brand = await people.brand()
    deals = [(await make_deal(runtime, CollabState.FUNDED, brand=brand)).id for _ in range(3)]
    await _endpoint(runtime, brand_id=brand.brand_id)
    actor = TransitionActor.of(await actor_of(runtime, brand))
    shipment = {"carrier": "UPS", "tracking_number": "1Z999AA10123456784"}
    async with session_scope(runtime.session_maker) as session:
        result = await transition_many(session, deals, Action.SHIP, actor, now=runtime.clock.now(),
                                       payloads={deal_id: shipment for deal_id in deals})
        await OutgoingWebhookListener().after_transitions(session, result.changes)  # a retried hook: nothing new
    async with session_scope(runtime.session_maker) as session:
        await OutgoingWebhookListener().after_transitions(session, result.changes)  # a later run: nothing new
    assert await db.scalar(sa.select(sa.func.count(OutgoingEvent.id))) == 3
    assert await db.scalar(sa.select(sa.func.count(OutgoingDelivery.id))) == 3
