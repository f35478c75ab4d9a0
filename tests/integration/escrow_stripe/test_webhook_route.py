"""POST /webhooks/stripe: signatures checked on the raw body, each event stored once, 2xx fast, never a 500."""

from __future__ import annotations

import json
import time
from typing import Any

import sqlalchemy as sa
from litestar import Litestar
from litestar.testing import AsyncTestClient
from sqlalchemy.ext.asyncio import AsyncSession

from escrow.records import WebhookEvent
from marketplace.app import create_app
from marketplace.jobs import RecordingQueue
from marketplace.runtime import Runtime, build_runtime
from marketplace.settings import Settings
from tests.support.stripe import WEBHOOK_SECRET, signed

Client = AsyncTestClient[Litestar]


def an_event(event_type: str = "payment_intent.succeeded", event_id: str = "evt_1route",
             **obj: Any) -> dict[str, Any]:
    return {"id": event_id, "object": "event", "api_version": "2025-01-01", "created": int(time.time()),
            "livemode": False, "pending_webhooks": 1, "type": event_type,
            "data": {"object": {"id": "pi_1route", "object": "payment_intent", "status": "succeeded", **obj}}}


async def post(client: Client, body: bytes, headers: dict[str, str]) -> Any:
    return await client.post("/webhooks/stripe", content=body, headers=headers)


async def stored(db: AsyncSession) -> list[WebhookEvent]:
    return list(await db.scalars(sa.select(WebhookEvent).order_by(WebhookEvent.received_at)))


async def test_a_signed_event_is_stored_and_queued(client: Client, db: AsyncSession, queue: RecordingQueue) -> None:
    body, headers = signed(an_event())

    response = await post(client, body, headers)

    assert response.status_code == 200
    assert response.json() == {"received": True, "duplicate": False}
    [row] = await stored(db)
    assert (row.provider, row.event_id, row.type, row.object_id) == ("stripe", "evt_1route",
                                                                     "payment_intent.succeeded", "pi_1route")
    assert row.payload["data"]["object"]["status"] == "succeeded"
    assert row.processed_at is None and row.attempts == 0
    assert queue.names() == ["escrow.process_webhook_event"]
    assert queue.jobs[0].args == (str(row.id),)


async def problem_of(response: Any) -> dict[str, Any]:
    assert response.status_code == 400, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    body: dict[str, Any] = response.json()
    assert body["status"] == 400 and body["type"] == "/problems/invalid-webhook"
    return body


async def test_wrong_secret_is_refused_and_nothing_stored(client: Client, db: AsyncSession,
                                                          queue: RecordingQueue) -> None:
    body, headers = signed(an_event(), "whsec_someone_else")

    problem = await problem_of(await post(client, body, headers))

    assert "signature" in problem["detail"]
    assert await stored(db) == []
    assert queue.jobs == []


async def test_a_stale_timestamp_is_refused(client: Client, db: AsyncSession) -> None:
    body, headers = signed(an_event(), timestamp=int(time.time()) - 301)

    await problem_of(await post(client, body, headers))

    assert await stored(db) == []


async def test_a_tampered_body_is_refused(client: Client, db: AsyncSession) -> None:
    body, headers = signed(an_event(amount=1_000))
    tampered = body.replace(b'"amount": 1000', b'"amount": 9000')
    assert tampered != body

    await problem_of(await post(client, tampered, headers))

    assert await stored(db) == []


async def test_missing_signature_and_garbage_are_refused(client: Client, db: AsyncSession) -> None:
    body, _ = signed(an_event())
    await problem_of(await post(client, body, {"Content-Type": "application/json"}))
    garbage, headers = signed(b"{not json")
    await problem_of(await post(client, garbage, headers))
    no_object, headers = signed(json.dumps({"id": "evt_1x", "type": "x"}).encode())
    await problem_of(await post(client, no_object, headers))

    assert await stored(db) == []


async def test_a_duplicate_delivery_is_acknowledged_and_stored_once(client: Client, db: AsyncSession,
                                                                    queue: RecordingQueue, runtime: Runtime) -> None:
    body, headers = signed(an_event("account.updated", object="account"))
    first = await post(client, body, headers)
    again_body, again_headers = signed(an_event("account.updated", object="account"))

    again = await post(client, again_body, again_headers)

    assert first.status_code == again.status_code == 200
    assert again.json() == {"received": True, "duplicate": True}
    [row] = await stored(db)
    # Still unprocessed: queued again in case the first dispatch was lost (processing is idempotent).
    assert [j.args for j in queue.jobs] == [(str(row.id),), (str(row.id),)]


async def test_an_unknown_event_type_is_stored_acknowledged_and_marked_ignored(
        client: Client, db: AsyncSession, queue: RecordingQueue, runtime: Runtime) -> None:
    body, headers = signed(an_event("customer.tax_id.created", event_id="evt_1unknown", object="tax_id"))

    response = await post(client, body, headers)
    await queue.run_all(runtime.job_context())

    assert response.status_code == 200
    [row] = await stored(db)
    assert row.processed_at is not None
    assert row.outcome == "ignored: event type not handled"
    assert (row.attempts, row.last_error) == (1, None)
    # A later duplicate is acknowledged and not queued: there is nothing left to do.
    body, headers = signed(an_event("customer.tax_id.created", event_id="evt_1unknown", object="tax_id"))
    assert (await post(client, body, headers)).json()["duplicate"] is True
    assert queue.jobs == []


async def test_a_payload_too_large_to_be_an_event(client: Client, db: AsyncSession) -> None:
    body, headers = signed(an_event(padding="x" * 600_000))

    response = await post(client, body, headers)

    assert response.status_code == 413
    assert response.headers["content-type"].startswith("application/problem+json")
    assert await stored(db) == []


def test_webhook_secret_fixture_matches_the_app(runtime: Runtime) -> None:
    assert runtime.settings.stripe.webhook_secret == WEBHOOK_SECRET


async def test_without_stripe_configured_the_endpoint_is_not_there(test_env: dict[str, str], clock: Any) -> None:
    env = {k: v for k, v in test_env.items() if not k.startswith("STRIPE_")}
    runtime = build_runtime(Settings.from_env(env), clock=clock, queue=RecordingQueue())
    try:
        async with AsyncTestClient(app=create_app(runtime=runtime, run_scheduler=False),
                                   base_url="http://testserver.local") as client:
            body, headers = signed(an_event())
            response = await post(client, body, headers)
    finally:
        await runtime.alchemy.get_engine().dispose()

    assert response.status_code == 404
    assert response.headers["content-type"].startswith("application/problem+json")
    assert "not configured" in response.json()["detail"]
