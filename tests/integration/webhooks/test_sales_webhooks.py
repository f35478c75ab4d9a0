"""Sales events: a store order credited to a deal reaches the brand's and the creator's endpoints as
``sales.order_attributed`` (signed, through the same delivery), a full refund as ``sales.order_cancelled``, and the
same order saved again sends nothing new."""

from __future__ import annotations

from datetime import timedelta

import pytest

from marketplace.db import session_scope
from marketplace.stores.models import StoreConnection, StoreOrder
from marketplace.stores.processing import order_changed
from tests.fakes.webhooks_receiver import WebhookReceiver
from tests.integration.sales.helpers import signed_deal
from tests.support.deals import bearer


@pytest.fixture
def receiver(clock):
    server = WebhookReceiver(now=lambda: clock.now().timestamp()).start()
    yield server
    server.stop()


async def test_attributed_and_cancelled_orders_are_sent_once_each(client, runtime, people, queue, clock,
                                                                  receiver) -> None:
    brand, creator = await people.brand(brand_name="GlowLab"), await people.creator(name="Ava")
    deal = await signed_deal(runtime, brand, creator)
    response = await client.post("/api/v1/webhooks/endpoints", headers=await bearer(runtime, brand),
                                 json={"url": receiver.url, "events": ["sales.order_attributed",
                                                                       "sales.order_cancelled"]})
    assert response.status_code == 201, response.text
    receiver.secret = response.json()["secret"]
    now = runtime.clock.now()
    async with session_scope(runtime.session_maker) as session:
        store = StoreConnection(brand_id=brand.brand_id, platform="custom", name="Shop", secret_hints={})
        session.add(store)
        await session.flush()
        order = StoreOrder(store_id=store.id, external_id="1001", name="#1001", email="buyer@example.com",
                           currency="USD", total_amount=10_000, subtotal_amount=10_000,
                           discount_codes=[{"code": "AVA-GLOW15"}], refund_ids=[], placed_at=now + timedelta(hours=1))
        session.add(order)
        await session.flush()
        await order_changed(session, store, order, now)
        await order_changed(session, store, order, now)  # the same delivery twice: one event
        store_id, order_id = store.id, order.id
    await queue.run_all(runtime.job_context())
    events = receiver.events()
    assert [e["type"] for e in events] == ["sales.order_attributed"]
    data = events[0]["data"]
    assert (data["deal_id"], data["commission_amount"], data["commission_state"]) == (str(deal.id), 1_250, "pending")
    assert "email" not in data and "buyer@example.com" not in receiver.received[0].body.decode()

    async with session_scope(runtime.session_maker) as session:
        store = await session.get(StoreConnection, store_id)
        order = await session.get(StoreOrder, order_id)
        order.refunded_amount = 10_000
        await session.flush()
        await order_changed(session, store, order, clock.advance(timedelta(days=2)))
    await queue.run_all(runtime.job_context())
    assert [e["type"] for e in receiver.events()] == ["sales.order_attributed", "sales.order_cancelled"]
    assert all(r.signature_ok for r in receiver.received)
