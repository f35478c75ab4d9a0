"""Bulk jobs through the API and the pages: limits, scoping, progress, funding in one checkout, releasing 50 posts."""

from __future__ import annotations

import uuid

import sqlalchemy as sa

from escrow.models import EscrowHold, ProviderCall
from marketplace.bulk.actions import MAX_FUND, MAX_ITEMS
from marketplace.bulk.models import BulkJob, BulkJobItem
from marketplace.bulk.services import RESUME_JOB, resume_stalled, run_job
from marketplace.collaborations.models import CollaborationEvent
from marketplace.collaborations.states import CollabState
from marketplace.db import session_scope
from marketplace.payments import services as payments
from tests.support.deals import advance_deal, bearer, make_deal
from tests.support.escrow import collab_state, onboard_creator, run_jobs, simulated


async def test_over_the_limit_is_refused_with_a_clear_message(client, runtime, people) -> None:
    brand = await people.brand()
    headers = await bearer(runtime, brand)
    ids = [str(uuid.uuid4()) for _ in range(MAX_ITEMS + 1)]
    response = await client.post("/api/v1/bulk/approve_post", json={"ids": ids}, headers=headers)
    assert response.status_code == 422, response.text[:300]
    assert response.headers["content-type"].startswith("application/problem+json")
    assert "at most 5,000" in response.json()["errors"][0]["message"]
    fund = await client.post("/api/v1/bulk/fund", json={"ids": ids[: MAX_FUND + 1]}, headers=headers)
    assert fund.status_code == 422 and f"at most {MAX_FUND}" in fund.text


async def test_unknown_merge_field_and_closed_gig_are_422_and_nothing_is_written(client, runtime, people, db) -> None:
    deal = await make_deal(runtime)
    headers = await bearer(runtime, deal.brand)
    bad = await client.post("/api/v1/bulk/message", headers=headers,
                            json={"ids": [str(deal.id)], "parameters": {"body": "Hi {nickname}!"}})
    assert bad.status_code == 422 and "{nickname}" in bad.text
    assert await db.scalar(sa.select(sa.func.count()).select_from(BulkJob)) == 0


async def test_another_brand_can_neither_act_on_deals_nor_see_jobs(client, runtime, people) -> None:
    deal = await make_deal(runtime, CollabState.DRAFT_SUBMITTED, product_included=False)
    owner = await bearer(runtime, deal.brand)
    other = await bearer(runtime, await people.brand(brand_name="Rival"))
    refused = await client.post("/api/v1/bulk/approve_draft", json={"ids": [str(deal.id)]}, headers=other)
    assert refused.status_code == 404
    started = await client.post("/api/v1/bulk/approve_draft", json={"ids": [str(deal.id)]}, headers=owner)
    assert started.status_code == 202, started.text[:300]
    job_id = started.json()["id"]
    assert (await client.get(f"/api/v1/jobs/{job_id}", headers=other)).status_code == 404
    assert (await client.post(f"/api/v1/jobs/{job_id}/retry", headers=other)).status_code == 404
    assert (await client.get(f"/api/v1/jobs/{job_id}", headers=owner)).status_code == 200


async def test_failures_are_reported_in_words_and_retry_does_only_the_failed(client, runtime, people, db) -> None:
    ready = await make_deal(runtime, CollabState.DRAFT_SUBMITTED, product_included=False)
    early = await make_deal(runtime, CollabState.SIGNED, brand=ready.brand, creator=ready.creator,
                            product_included=False)
    headers = await bearer(runtime, ready.brand)
    started = await client.post("/api/v1/bulk/approve_draft", headers=headers,
                                json={"ids": [str(ready.id), str(early.id)], "parameters": {"comment": "Great"}})
    assert started.status_code == 202
    await run_jobs(runtime)
    body = (await client.get(f"/api/v1/jobs/{started.json()['id']}", headers=headers)).json()
    assert (body["state"], body["done"], body["failed"], body["total"]) == ("finished", 1, 1, 2)
    assert body["errors"][0]["target_id"] == str(early.id) and body["errors"][0]["error"]
    await advance_deal(runtime, early, CollabState.DRAFT_SUBMITTED)
    retried = await client.post(f"/api/v1/jobs/{body['id']}/retry", headers=headers)
    assert retried.status_code == 202
    await run_jobs(runtime)
    body = (await client.get(f"/api/v1/jobs/{body['id']}", headers=headers)).json()
    assert (body["state"], body["done"], body["failed"]) == ("finished", 2, 0)
    approvals = await db.scalar(sa.select(sa.func.count()).select_from(CollaborationEvent).where(
        CollaborationEvent.collaboration_id == ready.id, CollaborationEvent.action == "approve_draft"))
    assert approvals == 1


async def _fund_in_one_checkout(client, runtime, deals, headers) -> None:
    started = await client.post("/api/v1/bulk/fund", json={"ids": [str(d.id) for d in deals]}, headers=headers)
    assert started.status_code == 202, started.text[:300]
    await run_jobs(runtime)
    body = (await client.get(f"/api/v1/jobs/{started.json()['id']}", headers=headers)).json()
    assert body["done"] == len(deals) and body["checkout_url"].startswith("/brand/payments/checkout?")
    async with session_scope(runtime.session_maker) as session:
        refs = list(await session.scalars(sa.select(EscrowHold.funding_ref).where(
            EscrowHold.collaboration_id.in_([d.id for d in deals]))))
        service = payments.escrow_service(session, runtime.clock.now(), settings=runtime.settings)
        for ref in refs:  # what the one simulated checkout page does for every deal it lists
            await service.apply_funding(await simulated(runtime).settle_funding(session, ref, succeed=True))
    await run_jobs(runtime)


async def test_fund_several_deals_in_one_checkout(client, runtime, people, web, db) -> None:
    first = await make_deal(runtime, CollabState.SIGNED, product_included=False)
    deals = [first] + [await make_deal(runtime, CollabState.SIGNED, brand=first.brand, creator=first.creator,
                                       product_included=False) for _ in range(3)]
    headers = await bearer(runtime, first.brand)
    await _fund_in_one_checkout(client, runtime, deals, headers)
    for deal in deals:
        assert await collab_state(db, deal.id) is CollabState.FUNDED
    # The job page links to one checkout page listing every deal.
    await web.sign_in(first.brand.email, first.brand.password)
    job = await db.scalar(sa.select(BulkJob).where(BulkJob.action == "fund"))
    page = await web.get(f"/brand/jobs/{job.id}")
    assert page.status_code == 200 and "in one checkout" in page.text
    checkout = await web.get("/brand/payments/checkout?" + "&".join(f"c={d.id}" for d in deals))
    assert checkout.status_code == 200


async def test_approve_and_release_fifty_posts_in_one_action(client, runtime, people, db) -> None:
    first = await make_deal(runtime, CollabState.SIGNED, product_included=False)
    deals = [first] + [await make_deal(runtime, CollabState.SIGNED, brand=first.brand, creator=first.creator,
                                       product_included=False) for _ in range(49)]
    headers = await bearer(runtime, first.brand)
    await onboard_creator(runtime, first.creator)
    await _fund_in_one_checkout(client, runtime, deals, headers)
    for deal in deals:
        await advance_deal(runtime, deal, CollabState.VERIFIED)
    started = await client.post("/api/v1/bulk/approve_post", headers=headers,
                                json={"filter": {"status": ["verified"]}, "parameters": {"comment": "Thanks!"}})
    assert started.status_code == 202 and started.json()["total"] == 50
    await run_jobs(runtime)
    # Running the job again (a redelivered task) changes nothing.
    await run_job(runtime.job_context(), started.json()["id"])
    await run_jobs(runtime)
    body = (await client.get(f"/api/v1/jobs/{started.json()['id']}", headers=headers)).json()
    assert (body["state"], body["done"], body["failed"]) == ("finished", 50, 0), body["errors"][:3]
    for deal in deals:
        assert await collab_state(db, deal.id) in (CollabState.RELEASED, CollabState.COMPLETED)
        hold = await db.scalar(sa.select(EscrowHold).where(EscrowHold.collaboration_id == deal.id))
        transfers = await db.scalar(sa.select(sa.func.count()).select_from(ProviderCall).where(
            ProviderCall.escrow_id == hold.id, ProviderCall.operation == "transfer"))
        assert transfers == 1
        assert hold.released_creator_amount == 15_000


async def test_progress_page_and_fragment_with_and_without_htmx(web, runtime, db) -> None:
    deal = await make_deal(runtime, CollabState.DRAFT_SUBMITTED, product_included=False)
    await web.sign_in(deal.brand.email, deal.brand.password)
    started = await web.post("/brand/bulk", {"action": "approve_draft", "ids": str(deal.id), "back": "/brand"})
    assert started.status_code == 303, started.text[:300]
    job_path = started.headers["location"]
    running = await web.get(job_path)
    assert running.status_code == 200
    assert 'http-equiv="refresh"' in running.text and "<progress" in running.text
    fragment = await web.get(job_path, htmx=True)
    assert fragment.status_code == 200 and "<html" not in fragment.text
    assert 'hx-trigger="every 1s"' in fragment.text
    await run_jobs(runtime)
    finished = await web.get(job_path)
    assert 'http-equiv="refresh"' not in finished.text and "1</strong> done" in finished.text
    done_fragment = await web.get(job_path, htmx=True)
    assert "every 1s" not in done_fragment.text
    items = await db.scalar(sa.select(sa.func.count()).select_from(BulkJobItem).where(BulkJobItem.state == "done"))
    assert items == 1
    jobs = await web.get("/brand/jobs")
    assert jobs.status_code == 200 and "Approve drafts" in jobs.text and job_path in jobs.text


async def test_a_job_whose_dispatch_was_lost_is_sent_again_and_finishes(client, runtime, queue, clock) -> None:
    deal = await make_deal(runtime, CollabState.DRAFT_SUBMITTED, product_included=False)
    headers = await bearer(runtime, deal.brand)
    started = await client.post("/api/v1/bulk/approve_draft", json={"ids": [str(deal.id)]}, headers=headers)
    queue.jobs.clear()  # the broker lost it
    await resume_stalled(runtime.job_context())
    assert RESUME_JOB not in queue.names() and "bulk.run_job" not in queue.names()  # not stalled yet
    clock.advance(minutes=11)
    await resume_stalled(runtime.job_context())
    assert queue.names() == ["bulk.run_job"]
    await run_jobs(runtime)
    body = (await client.get(f"/api/v1/jobs/{started.json()['id']}", headers=headers)).json()
    assert (body["state"], body["done"]) == ("finished", 1)
    clock.advance(hours=1)
    await resume_stalled(runtime.job_context())
    assert queue.names() == []
