"""The campaign board (columns from real state, overdue markers, bulk from a column), CSV exports, tracking CSV."""

from __future__ import annotations

import re
import uuid

import sqlalchemy as sa

from marketplace.bulk.models import BulkJob, BulkJobItem
from marketplace.collaborations.models import Shipment
from marketplace.collaborations.states import CollabState
from marketplace.gigs.models import Gig, GigInvitation
from tests.support.deals import bearer, make_deal
from tests.support.escrow import run_jobs
from tests.support.marketplace import apply_to_gig, make_creator_with_account


def column_count(html: str, stage: str) -> int:
    match = re.search(rf'<h2 id="h-{stage}">[^<]*<span class="count">(\d+)</span>', html)
    assert match, stage
    return int(match.group(1))


async def test_board_columns_follow_real_state_and_act_on_a_column(web, make_web, runtime, people, db,
                                                                    clock) -> None:
    deal = await make_deal(runtime, CollabState.SIGNED, product_included=False)
    await db.execute(sa.update(Gig).where(Gig.id == deal.gig_id).values(slots=5))
    applicant = await make_creator_with_account(runtime, people)
    await apply_to_gig(runtime, applicant.person, deal.gig_id, applicant.account.id)
    invited = await people.creator(name="Ivy Invited")
    await db.execute(sa.insert(GigInvitation).values(id=uuid.uuid4(), gig_id=deal.gig_id,
                                                     creator_id=invited.creator_id, invited_by_id=deal.brand.user_id,
                                                     message="", created_at=clock.now(), updated_at=clock.now()))
    await web.sign_in(deal.brand.email, deal.brand.password)
    board = f"/brand/gigs/{deal.gig_id}/board"
    page = await web.get(board)
    assert page.status_code == 200
    assert (column_count(page.text, "invited"), column_count(page.text, "applied"),
            column_count(page.text, "signed")) == (1, 1, 1)
    assert "overdue</span>" not in page.text
    clock.advance(days=30)  # past the funding deadline: the signed column shows it
    fragment = await web.get(board, htmx=True)
    assert fragment.status_code == 200 and "<html" not in fragment.text and "1 overdue" in fragment.text
    # "All in this column" on the applied column accepts the application through a bulk job.
    started = await web.post("/brand/bulk", [("action", "accept"), ("match_all", "1"),
                                             ("match_gig_id", str(deal.gig_id)), ("match_status", "pending"),
                                             ("back", board)])
    assert started.status_code == 303 and started.headers["location"].startswith("/brand/jobs/")
    await run_jobs(runtime)
    job = await db.scalar(sa.select(BulkJob).where(BulkJob.action == "accept"))
    assert (job.done, job.failed) == (1, 0), [i.error for i in await db.scalars(sa.select(BulkJobItem))]
    page = await web.get(board)
    assert (column_count(page.text, "applied"), column_count(page.text, "accepted")) == (0, 1)
    rival_web = await make_web()
    rival = await people.brand(brand_name="Rival")
    await rival_web.sign_in(rival.email, rival.password)
    assert (await rival_web.get(board)).status_code == 404
    assert (await rival_web.get(started.headers["location"])).status_code == 404


async def test_deals_csv_has_amounts_in_major_units_and_is_formula_safe(web, make_web, runtime, people) -> None:
    deal = await make_deal(runtime, CollabState.SIGNED, title="=HYPERLINK(\"http://evil\")", fee_amount=12_345)
    await web.sign_in(deal.brand.email, deal.brand.password)
    response = await web.get("/brand/collaborations.csv")
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/csv")
    text = response.content.decode("utf-8")
    assert text.startswith("\ufeffdeal_id,creator,")
    assert str(deal.id) in text and "123.45,USD" in text and ",signed,signed," in text
    assert "'=HYPERLINK" in text and ",=HYPERLINK" not in text
    for path in ("/brand/shipments.csv", "/brand/payouts.csv"):
        assert (await web.get(path)).status_code == 200
    rival_web = await make_web()
    rival = await people.brand(brand_name="Rival")
    await rival_web.sign_in(rival.email, rival.password)
    assert str(deal.id) not in (await rival_web.get("/brand/collaborations.csv")).text


async def test_tracking_csv_ships_known_rows_and_reports_the_others_by_row(client, runtime, people, db) -> None:
    first = await make_deal(runtime, CollabState.FUNDED)
    second = await make_deal(runtime, CollabState.FUNDED, brand=first.brand)
    csv = ("\ufeffdeal_id;email;carrier;tracking_number\r\n"
           f"{first.id};;UPS;1Z999AA10123456784\r\n"
           f";{second.creator.email};DHL;JD014600006281230\r\n"
           ";nobody@example.test;DHL;JD014600006281231\r\n"
           f"{first.id};;UPS;1Z999AA10123456785\r\n")
    headers = await bearer(runtime, first.brand)
    started = await client.post("/api/v1/bulk/ship", json={"csv": csv}, headers=headers)
    assert started.status_code == 202, started.text[:300]
    await run_jobs(runtime)
    body = (await client.get(f"/api/v1/jobs/{started.json()['id']}", headers=headers)).json()
    assert (body["total"], body["done"], body["failed"]) == (4, 2, 2)
    errors = sorted(e["error"] for e in body["errors"])
    assert errors[0].startswith("Row 4: no creator on PostPact is nobody@example.test")
    assert errors[1].startswith("Row 5: The same deal is already on row 2")
    assert await db.scalar(sa.select(sa.func.count()).select_from(Shipment)) == 2
    bad = await client.post("/api/v1/bulk/ship", json={"csv": "name,phone\r\nA,1\r\n"}, headers=headers)
    assert bad.status_code == 422 and "carrier" in bad.text
    assert await db.scalar(sa.select(sa.func.count()).select_from(BulkJob)) == 1


async def test_the_bulk_routes_are_in_the_openapi_schema_with_their_errors(client) -> None:
    schema = (await client.get("/schema/openapi.json")).json()
    start = schema["paths"]["/api/v1/bulk/{action}"]["post"]
    assert {"202", "401", "403", "404", "422"} <= set(start["responses"])
    assert {"200", "404"} <= set(schema["paths"]["/api/v1/jobs/{job_id}"]["get"]["responses"])
    assert "202" in schema["paths"]["/api/v1/jobs/{job_id}/retry"]["post"]["responses"]
    assert not any(p.startswith("/brand/") for p in schema["paths"])


async def test_deals_list_ticks_or_filter_lead_to_a_bulk_job(web, runtime, db) -> None:
    first = await make_deal(runtime, CollabState.DRAFT_SUBMITTED, product_included=False)
    second = await make_deal(runtime, CollabState.DRAFT_SUBMITTED, brand=first.brand, creator=first.creator,
                             product_included=False)
    await make_deal(runtime, CollabState.SIGNED, brand=first.brand, creator=first.creator, product_included=False)
    await web.sign_in(first.brand.email, first.brand.password)
    listing = await web.get("/brand/collaborations?status=draft_submitted")
    assert listing.status_code == 200 and 'form="bulk-deals"' in listing.text
    assert 'action="/brand/bulk/new"' in listing.text
    ticked = await web.get(f"/brand/bulk/new?ids={first.id}&back=/brand/collaborations")
    assert ticked.status_code == 200 and "1 deal selected" in ticked.text
    matching = await web.get("/brand/bulk/new?match_all=1&match_status=draft_submitted&back=/brand/collaborations")
    assert "2 deals matching the filter" in matching.text
    started = await web.post("/brand/bulk", [("action", "approve_draft"), ("match_all", "1"),
                                             ("match_status", "draft_submitted"), ("back", "/brand/collaborations")])
    assert started.status_code == 303
    await run_jobs(runtime)
    job = await db.scalar(sa.select(BulkJob).where(BulkJob.action == "approve_draft"))
    assert (job.total, job.done, job.failed) == (2, 2, 0)
    assert {second.id, first.id} == set(await db.scalars(sa.select(BulkJobItem.target_id)))
    refused = await web.post("/brand/bulk", [("action", "cancel"), ("ids", str(first.id)), ("back", "/brand")])
    assert refused.status_code == 422 and "Say why" in refused.text


async def test_tracking_csv_upload_page(web, runtime, db) -> None:
    deal = await make_deal(runtime, CollabState.FUNDED)
    await web.sign_in(deal.brand.email, deal.brand.password)
    assert (await web.get("/brand/shipments/import")).status_code == 200
    good = f"deal_id,carrier,tracking_number\n{deal.id},UPS,1Z999AA10123456784\n".encode()
    started = await web.post("/brand/shipments/import", {}, files={"file": ("tracking.csv", good, "text/csv")})
    assert started.status_code == 303 and started.headers["location"].startswith("/brand/jobs/")
    await run_jobs(runtime)
    assert "1</strong> done" in (await web.get(started.headers["location"])).text
    utf16 = "deal_id,carrier,tracking_number\n".encode("utf-16")
    refused = await web.post("/brand/shipments/import", {}, files={"file": ("t.csv", utf16, "text/csv")})
    assert refused.status_code == 422 and "UTF-16" in refused.text
    assert await db.scalar(sa.select(sa.func.count()).select_from(BulkJob)) == 1
