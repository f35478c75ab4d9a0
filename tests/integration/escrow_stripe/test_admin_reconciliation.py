"""/admin/reconciliation: admins see runs, mismatches and stuck webhook events; nobody else sees anything."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from escrow.reconcile import reconcile
from escrow.records import ReconciliationRun, WebhookEvent
from marketplace.admin.models import AdminAuditEntry
from marketplace.collaborations.states import CollabState
from marketplace.jobs import RecordingQueue
from marketplace.payments.gateway import PROVIDER_RESOURCE
from marketplace.runtime import Runtime
from tests.fakes.stripe_stack import StripeStack
from tests.support.deals import make_deal
from tests.support.escrow import start_funding
from tests.support.stripe import funding_ref_of, pay, run_jobs_allowing_retries, signed

PAGE = "/admin/reconciliation"


async def drifted_run(runtime: Runtime, stack: StripeStack) -> tuple[Any, ReconciliationRun | Any]:
    """A deal paid at Stripe whose webhook never arrived, and a run that found it."""
    deal = await make_deal(runtime, CollabState.SIGNED, fee_amount=15_000)
    await start_funding(runtime, deal)
    await run_jobs_allowing_retries(runtime)
    pay(stack, await funding_ref_of(runtime, deal.id))
    result = await reconcile(runtime.session_maker, runtime.resources[PROVIDER_RESOURCE], now=runtime.clock.now,
                             triggered_by="job")
    return deal, result


async def test_admin_sees_the_runs_and_each_mismatch(on_stripe: Runtime, stack: StripeStack, web: Any,
                                                     people: Any) -> None:
    admin = await people.admin()
    await web.sign_in(admin.email, admin.password)
    empty = await web.get(PAGE)
    assert empty.status_code == 200
    assert "No reconciliation has run yet." in empty.text

    deal, result = await drifted_run(on_stripe, stack)
    page = await web.get(PAGE)

    assert page.status_code == 200
    assert "Paid at the provider, not in the ledger" in page.text
    assert f"/collaborations/{deal.id}" in page.text
    assert str(result.run_id) in page.text

    fragment = await web.get(f"{PAGE}?run={result.run_id}", htmx=True)
    assert fragment.status_code == 200
    assert "<html" not in fragment.text and "<nav" not in fragment.text
    assert "Paid at the provider, not in the ledger" in fragment.text
    assert (await web.get(f"{PAGE}?run=0190c1de-0000-7000-8000-000000000000")).status_code == 404


async def test_nobody_but_admins(on_stripe: Runtime, web: Any, make_web: Any, people: Any, queue: RecordingQueue,
                                 db: AsyncSession) -> None:
    anonymous = await web.get(PAGE)
    assert anonymous.status_code in (302, 303) and anonymous.headers["location"].startswith("/signin")
    for person in (await people.brand(), await people.creator()):
        other = await make_web()
        await other.sign_in(person.email, person.password)
        assert (await other.get(PAGE)).status_code == 403
        assert (await other.post(f"{PAGE}/run", {})).status_code == 403
    assert "escrow.reconcile_payments" not in queue.names()
    assert await db.scalar(sa.select(sa.func.count()).select_from(ReconciliationRun)) == 0
    assert await db.scalar(sa.select(sa.func.count()).select_from(AdminAuditEntry)) == 0


async def test_an_admin_starts_a_run(on_stripe: Runtime, stack: StripeStack, web: Any, people: Any,
                                     queue: RecordingQueue, db: AsyncSession) -> None:
    admin = await people.admin()
    await web.sign_in(admin.email, admin.password)
    queue.jobs.clear()

    response = await web.post(f"{PAGE}/run", {})

    assert response.status_code == 303 and response.headers["location"] == PAGE
    assert [(j.name, j.args) for j in queue.jobs] == [("escrow.reconcile_payments", (f"admin:{admin.email}",))]
    await run_jobs_allowing_retries(on_stripe)
    [run] = await db.scalars(sa.select(ReconciliationRun))
    assert (run.triggered_by, run.status, run.provider) == (f"admin:{admin.email}", "completed", "stripe")
    [entry] = await db.scalars(sa.select(AdminAuditEntry))
    assert (entry.action, entry.admin_email, entry.target_type) == ("reconciliation.run", admin.email,
                                                                    "reconciliation")


async def test_stuck_webhook_events_are_listed_and_can_be_retried(
        on_stripe: Runtime, stack: StripeStack, web: Any, client: Any, people: Any, queue: RecordingQueue,
        db: AsyncSession) -> None:
    body, headers = signed({"id": "evt_1stuck", "object": "event", "type": "payment_intent.succeeded",
                            "created": 1, "data": {"object": {"id": "pi_1gone", "object": "payment_intent"}}})
    assert (await client.post("/webhooks/stripe", content=body, headers=headers)).status_code == 200
    stack.inject_fault(r"^/v1/payment_intents/pi_1gone$", method="GET", status=500)
    assert await run_jobs_allowing_retries(on_stripe) == ["escrow.process_webhook_event"]
    [event] = await db.scalars(sa.select(WebhookEvent))
    admin = await people.admin()
    await web.sign_in(admin.email, admin.password)
    queue.jobs.clear()

    page = await web.get(PAGE)
    assert "1 stored event(s) not yet processed" in page.text
    assert "evt_1stuck" in page.text and "500" in page.text

    retried = await web.post(f"{PAGE}/events/{event.id}/retry", {})
    assert retried.status_code == 303
    assert [(j.name, j.args) for j in queue.jobs] == [("escrow.process_webhook_event", (str(event.id),))]
    [entry] = await db.scalars(sa.select(AdminAuditEntry))
    assert (entry.action, entry.target_id, entry.before) == ("webhook.retry", str(event.id), {"attempts": 1})
    assert "evt_1stuck" in entry.summary
    await run_jobs_allowing_retries(on_stripe)
    await db.refresh(event)
    # Stripe doesn't know the PaymentIntent: nothing can ever be applied, so the event is closed with the reason.
    assert event.processed_at is not None and event.outcome and event.outcome.startswith("not applied: No such")
