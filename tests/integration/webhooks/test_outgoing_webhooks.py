"""Outgoing webhooks against a real local receiver: signed deliveries it verifies with its own HMAC code, a retry
after a 500, no second delivery after a 2xx, events in the order they happened, replay and the test button (API and
pages), secrets encrypted at rest, and nobody else's endpoints reachable."""

from __future__ import annotations

import itertools
from dataclasses import replace
from datetime import timedelta

import pytest
import sqlalchemy as sa

from marketplace.collaborations.states import CollabState
from marketplace.webhooks.delivery import retry_delay
from marketplace.webhooks.models import DeliveryStatus, OutgoingAttempt, OutgoingDelivery, OutgoingEndpoint
from tests.fakes.webhooks_receiver import WebhookReceiver
from tests.support.deals import advance_deal, bearer, make_deal


@pytest.fixture
def receiver(clock):
    server = WebhookReceiver(now=lambda: clock.now().timestamp()).start()
    yield server
    server.stop()


async def _register(client, headers, receiver, events=None) -> dict:
    body = {"url": receiver.url, "description": "ERP"}
    if events is not None:
        body["events"] = events
    response = await client.post("/api/v1/webhooks/endpoints", json=body, headers=headers)
    assert response.status_code == 201, response.text
    created = response.json()
    assert created["secret"].startswith("whsec_") and created["secret_hint"] == created["secret"][-4:]
    receiver.secret = created["secret"]
    return created


async def test_signed_retried_once_after_a_500_never_twice_after_a_2xx(client, runtime, queue, clock, receiver,
                                                                       db) -> None:
    deal = await make_deal(runtime)
    brand_headers = await bearer(runtime, deal.brand)
    endpoint = await _register(client, brand_headers, receiver, events=["deal.signed", "deal.funded"])

    receiver.fail_next(1)
    await advance_deal(runtime, deal, CollabState.SIGNED)
    await queue.run_all(runtime.job_context())
    assert [(r.signature_ok, r.answered) for r in receiver.received] == [(True, 500)]
    delivery = await db.scalar(sa.select(OutgoingDelivery))
    assert delivery.status is DeliveryStatus.PENDING and delivery.attempts == 1
    assert delivery.next_attempt_at == clock.now() + retry_delay(1)

    # Not due yet: the schedule sends nothing.
    from marketplace.webhooks.delivery import deliver_due
    await deliver_due(runtime.job_context())
    assert len(receiver.received) == 1
    clock.advance(retry_delay(1) + timedelta(seconds=1))
    await deliver_due(runtime.job_context())
    assert [(r.signature_ok, r.answered) for r in receiver.received] == [(True, 500), (True, 204)]
    first, second = receiver.received
    assert first.body == second.body  # the same event, byte for byte
    assert first.headers["PostPact-Event-Id"] == second.headers["PostPact-Event-Id"]
    assert [first.headers["PostPact-Attempt"], second.headers["PostPact-Attempt"]] == ["1", "2"]
    event = second.event
    assert event["type"] == "deal.signed" and event["data"]["deal_id"] == str(deal.id)
    assert event["data"]["state"] == "signed" and event["data"]["fee"] == {"amount": 15_000, "currency": "USD"}

    # Delivered: however often the schedule runs and however much time passes, no second delivery.
    for _ in range(3):
        clock.advance(timedelta(hours=13))
        await deliver_due(runtime.job_context())
    await queue.run_all(runtime.job_context())
    assert len(receiver.received) == 2
    delivery = await db.scalar(sa.select(OutgoingDelivery))
    assert delivery.status is DeliveryStatus.DELIVERED and delivery.attempts == 2
    assert await db.scalar(sa.select(sa.func.count(OutgoingAttempt.id))) == 2

    # The log over the API says the same.
    log = (await client.get(f"/api/v1/webhooks/endpoints/{endpoint['id']}/deliveries", headers=brand_headers)).json()
    assert [(d["event_type"], d["status"], d["attempts"], d["last_status_code"]) for d in log] == [
        ("deal.signed", "delivered", 2, 204)]


async def test_a_signature_with_the_wrong_secret_is_refused_by_the_receiver(client, runtime, queue, receiver,
                                                                           db) -> None:
    """The receiver's check can fail: with another secret it refuses (400), which PostPact logs and retries."""
    deal = await make_deal(runtime)
    await _register(client, await bearer(runtime, deal.brand), receiver)
    receiver.secret = "whsec_someone-elses-secret"
    await advance_deal(runtime, deal, CollabState.SIGNED)
    await queue.run_all(runtime.job_context())
    assert [(r.signature_ok, r.answered) for r in receiver.received] == [(False, 400)]
    delivery = await db.scalar(sa.select(OutgoingDelivery))
    assert delivery.status is DeliveryStatus.PENDING and delivery.last_error == "HTTP 400"


async def test_events_arrive_in_the_order_they_happened_to_brand_and_creator(client, runtime, queue, clock,
                                                                            receiver, make_web) -> None:
    deal = await make_deal(runtime)
    await _register(client, await bearer(runtime, deal.brand), receiver)
    creator_receiver = WebhookReceiver(now=lambda: clock.now().timestamp()).start()
    try:
        await _register(client, await bearer(runtime, deal.creator), creator_receiver, events=["deal.shipped"])
        for state in (CollabState.SIGNED, CollabState.FUNDED, CollabState.SHIPPED):
            clock.advance(minutes=5)
            await advance_deal(runtime, deal, state)
        # Delivered only now, all at once: still oldest first.
        await queue.run_all(runtime.job_context())
        events = receiver.events()
        assert [e["type"] for e in events] == ["deal.signed", "deal.funded", "deal.shipped"]
        assert [e["occurred_at"] for e in events] == sorted(e["occurred_at"] for e in events)
        assert len({e["id"] for e in events}) == 3
        assert [e["type"] for e in creator_receiver.events()] == ["deal.shipped"]
        assert all(r.signature_ok for r in creator_receiver.received)
    finally:
        creator_receiver.stop()


async def test_gives_up_after_three_days_and_replay_sends_again(client, runtime, queue, clock, receiver, db) -> None:
    deal = await make_deal(runtime)
    headers = await bearer(runtime, deal.brand)
    await _register(client, headers, receiver)
    receiver.fail_next(10_000)
    await advance_deal(runtime, deal, CollabState.SIGNED)
    await queue.run_all(runtime.job_context())
    from marketplace.webhooks.delivery import deliver_due
    for _ in range(20):
        clock.advance(timedelta(hours=6))
        await deliver_due(runtime.job_context())
    delivery = await db.scalar(sa.select(OutgoingDelivery))
    assert delivery.status is DeliveryStatus.FAILED
    tries = len(receiver.received)
    assert 6 <= tries <= 12, tries  # growing delays over 3 days: not every 15 s, not once
    attempts = await db.scalars(sa.select(OutgoingAttempt).order_by(OutgoingAttempt.attempted_at))
    times = [a.attempted_at for a in attempts]
    assert times[-1] - times[0] <= timedelta(days=3)
    gaps = [b - a for a, b in itertools.pairwise(times)]
    assert gaps == sorted(gaps), gaps

    receiver.fail_next(0)
    response = await client.post(f"/api/v1/webhooks/deliveries/{delivery.id}/replay", headers=headers)
    assert response.status_code == 202, response.text
    await queue.run_all(runtime.job_context())
    assert receiver.received[-1].answered == 204 and len(receiver.received) == tries + 1
    assert (await db.get(OutgoingDelivery, delivery.id)).status is DeliveryStatus.DELIVERED


async def test_test_button_secret_at_rest_and_denials(web, make_web, client, runtime, queue, receiver, people,
                                                      db) -> None:
    deal = await make_deal(runtime)
    await web.sign_in(deal.brand.email, deal.brand.password)
    response = await web.post("/settings/webhooks", {"url": receiver.url, "description": "Shop sync",
                                                     "events": "deal.funded"})
    assert response.status_code == 200 and "shown once" in response.text
    endpoint = await db.scalar(sa.select(OutgoingEndpoint))
    secret = response.text.split("<code>whsec_", 1)[1].split("</code>", 1)[0]
    receiver.secret = "whsec_" + secret
    assert secret not in endpoint.secret_enc and endpoint.secret_hint == secret[-4:]
    assert endpoint.events == ["deal.funded"]

    response = await web.post(f"/settings/webhooks/{endpoint.id}/test", {})
    assert response.status_code == 303
    await queue.run_all(runtime.job_context())
    assert [(r.event["type"], r.signature_ok, r.answered) for r in receiver.received] == [("webhook.test", True, 204)]
    page = await web.get(f"/settings/webhooks/{endpoint.id}")
    assert page.status_code == 200 and "webhook.test" in page.text and "delivered" in page.text

    # Bad input comes back as field messages; nothing is stored.
    bad = await web.post("/settings/webhooks", {"url": "ftp://nope", "events": "deal.nothing"})
    assert bad.status_code == 422 and "http(s)" in bad.text and "Unknown event" in bad.text
    assert await db.scalar(sa.select(sa.func.count(OutgoingEndpoint.id))) == 1

    rival = await people.brand(brand_name="Rival")
    rival_headers = await bearer(runtime, rival)
    creator_headers = await bearer(runtime, deal.creator)
    delivery = await db.scalar(sa.select(OutgoingDelivery))
    for headers in (rival_headers, creator_headers):
        for method, path in (("GET", f"/api/v1/webhooks/endpoints/{endpoint.id}"),
                             ("PATCH", f"/api/v1/webhooks/endpoints/{endpoint.id}"),
                             ("DELETE", f"/api/v1/webhooks/endpoints/{endpoint.id}"),
                             ("POST", f"/api/v1/webhooks/endpoints/{endpoint.id}/test"),
                             ("GET", f"/api/v1/webhooks/endpoints/{endpoint.id}/deliveries"),
                             ("POST", f"/api/v1/webhooks/deliveries/{delivery.id}/replay")):
            kwargs = {"json": {"active": False}} if method == "PATCH" else {}
            response = await client.request(method, path, headers=headers, **kwargs)
            assert response.status_code == 404, (method, path, response.status_code)
        listed = await client.get("/api/v1/webhooks/endpoints", headers=headers)
        assert listed.status_code == 200 and listed.json() == []
    rival_web = await make_web()
    await rival_web.sign_in(rival.email, rival.password)
    assert (await rival_web.get(f"/settings/webhooks/{endpoint.id}")).status_code == 404
    anonymous = await client.get("/api/v1/webhooks/endpoints")
    assert anonymous.status_code == 401
    assert len(receiver.received) == 1
    assert (await db.get(OutgoingEndpoint, endpoint.id)).active


async def test_an_endpoint_inside_our_network_is_never_called(client, runtime, queue, receiver, db,
                                                             monkeypatch) -> None:
    """Without STORES_ALLOW_PRIVATE_HOSTS (production), 127.0.0.1 is refused at send time and the log says why."""
    deal = await make_deal(runtime)
    await _register(client, await bearer(runtime, deal.brand), receiver)
    monkeypatch.setattr(runtime, "settings", replace(runtime.settings, stores=replace(
        runtime.settings.stores, allow_private_hosts=False)))
    await advance_deal(runtime, deal, CollabState.SIGNED)
    await queue.run_all(runtime.job_context())
    assert receiver.received == []
    delivery = await db.scalar(sa.select(OutgoingDelivery))
    assert delivery.status is DeliveryStatus.PENDING and "private network" in delivery.last_error
