"""Large roster imports run as a background bulk job: the page and the API start it, the job page shows progress and
failures in words, a retry never imports twice, and another brand never sees the job."""

from __future__ import annotations

from html import unescape

import sqlalchemy as sa

from marketplace.bulk.models import BulkJob
from marketplace.roster import controllers as roster_pages
from marketplace.roster.models import RosterImport
from tests.support.deals import bearer
from tests.support.escrow import run_jobs
from tests.support.roster import BAD_CELLS, creators_csv, entries, snapshot


async def test_a_large_file_on_the_page_becomes_a_job_with_a_progress_page(web, runtime, people, db,
                                                                           monkeypatch) -> None:
    monkeypatch.setattr(roster_pages, "SYNC_IMPORT_ROWS", 50)  # "large" here: more than 50 rows
    brand = await people.brand()
    await web.sign_in(brand.email, brand.password)
    text = creators_csv(120, bad={k: v for k, v in BAD_CELLS.items() if k < 120})
    uploaded = await web.post("/brand/roster/import", {}, files={"file": ("big.csv", text.encode(), "text/csv")})
    assert uploaded.status_code == 303
    page = uploaded.headers["location"]
    form = {f"map_{i}": name for i, name in enumerate(["name", "email", "country", "tiktok", "instagram",
                                                         "youtube", "followers", "tags"])}
    dry = await web.post(page, {**form, "action": "dry_run"})  # a dry run still answers at once, on the page
    assert dry.status_code == 422 and "116 of 120 rows are fine" in unescape(dry.text)
    started = await web.post(page, {**form, "action": "import"})
    assert started.status_code == 303 and started.headers["location"].startswith("/brand/jobs/")
    assert await entries(db, brand.brand_id) == []  # nothing yet: the job does it
    waiting = await web.get(started.headers["location"])
    assert "Waiting to start" in waiting.text and 'http-equiv="refresh"' in waiting.text
    await run_jobs(runtime)
    finished = await web.get(started.headers["location"])
    assert "Finished" in finished.text and "<strong>1</strong> done" in finished.text
    assert len(await entries(db, brand.brand_id)) == 116
    report = await web.get(page)
    assert "Import: 116 of 120 rows are fine" in unescape(report.text) and "imported" in report.text


async def test_the_api_starts_a_job_and_a_retry_or_a_second_run_changes_nothing(client, runtime, people, db) -> None:
    brand = await people.brand()
    auth = await bearer(runtime, brand) | {"Content-Type": "text/csv"}
    text = creators_csv(40)
    started = await client.post("/api/v1/roster/import/jobs", headers=auth, content=text.encode())
    assert started.status_code == 202, started.text[:300]
    assert (started.json()["action"], started.json()["state"], started.json()["total"]) == ("import", "queued", 1)
    await run_jobs(runtime)
    job = (await client.get(f"/api/v1/jobs/{started.json()['id']}", headers=auth)).json()
    assert (job["state"], job["done"], job["failed"]) == ("finished", 1, 0)
    before = snapshot(await entries(db, brand.brand_id))
    assert len(before) == 40
    again = await client.post("/api/v1/roster/import/jobs", headers=auth, content=text.encode())
    await run_jobs(runtime)
    assert (await client.get(f"/api/v1/jobs/{again.json()['id']}", headers=auth)).json()["done"] == 1
    assert snapshot(await entries(db, brand.brand_id)) == before  # the same file twice changes nothing

    # A file of which no row can be imported fails the item with the reason, writes nothing; retry fails again.
    bad = "name,email\r\n,not-an-email\r\n"
    failed = await client.post("/api/v1/roster/import/jobs", headers=auth, content=bad.encode())
    await run_jobs(runtime)
    body = (await client.get(f"/api/v1/jobs/{failed.json()['id']}", headers=auth)).json()
    assert (body["done"], body["failed"]) == (0, 1) and "No row of the file could be imported" in body["errors"][0][
        "error"]
    retried = await client.post(f"/api/v1/jobs/{failed.json()['id']}/retry", headers=auth)
    assert retried.status_code == 202
    await run_jobs(runtime)
    assert (await client.get(f"/api/v1/jobs/{failed.json()['id']}", headers=auth)).json()["failed"] == 1
    assert snapshot(await entries(db, brand.brand_id)) == before

    # Another brand can neither read the job nor land an import on this brand's gig.
    rival = await people.brand()
    rival_auth = await bearer(runtime, rival)
    assert (await client.get(f"/api/v1/jobs/{started.json()['id']}", headers=rival_auth)).status_code == 404
    unsupported = await client.post("/api/v1/roster/import/jobs", headers=rival_auth | {"Content-Type": "image/png"},
                                    content=b"\x89PNG")
    assert unsupported.status_code == 415
    assert await db.scalar(sa.select(sa.func.count()).select_from(BulkJob).where(
        BulkJob.brand_id == rival.brand_id)) == 0
    assert await db.scalar(sa.select(sa.func.count()).select_from(RosterImport).where(
        RosterImport.brand_id == rival.brand_id)) == 0


async def test_the_import_job_route_is_in_the_openapi_schema(client) -> None:
    responses = (await client.get("/schema/openapi.json")).json()["paths"]["/api/v1/roster/import/jobs"]["post"][
        "responses"]
    assert {"202", "401", "403", "415", "422"} <= set(responses)
