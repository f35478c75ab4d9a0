"""Who may see or act on bulk jobs, boards and exports: another brand gets 404, a creator 403, an anonymous
visitor is sent to sign in — and nothing is started."""

from __future__ import annotations

import sqlalchemy as sa

from marketplace.bulk.models import BulkJob
from marketplace.collaborations.states import CollabState
from tests.support.deals import bearer, make_deal


async def test_page_and_api_matrix(web, make_web, client, runtime, people, db) -> None:
    deal = await make_deal(runtime, CollabState.DRAFT_SUBMITTED, product_included=False)
    await web.sign_in(deal.brand.email, deal.brand.password)
    started = await web.post("/brand/bulk", {"action": "approve_draft", "ids": str(deal.id)})
    job = started.headers["location"]
    brand_pages = [
        ("GET", job, None),
        ("POST", f"{job}/retry", {}),
        ("GET", f"/brand/gigs/{deal.gig_id}/board", None),
        ("GET", f"/brand/bulk/new?ids={deal.id}", None),
        ("POST", "/brand/bulk", {"action": "approve_draft", "ids": str(deal.id)}),
        ("POST", "/brand/bulk", {"action": "message", "match_all": "1", "match_gig_id": str(deal.gig_id),
                                 "body": "Hi"}),
    ]
    rival_web, creator_web, anonymous = await make_web(), await make_web(), await make_web()
    rival = await people.brand(brand_name="Rival")
    await rival_web.sign_in(rival.email, rival.password)
    await creator_web.sign_in(deal.creator.email, deal.creator.password)

    async def call(who, method, path, data):
        return await (who.get(path) if method == "GET" else who.post(path, data or {}))

    for method, path, data in brand_pages:
        status = (await call(rival_web, method, path, data)).status_code
        # "All matching" on another brand's gig matches none of the rival's deals: refused, nothing started.
        assert status == (422 if "match_all" in (data or {}) else 404), path
        assert (await call(creator_web, method, path, data)).status_code == 403, path
        anon = await call(anonymous, method, path, data)
        assert anon.status_code in (303, 403) and (anon.status_code == 403 or "/signin" in anon.headers["location"])
    assert rival.brand_id not in set(await db.scalars(sa.select(BulkJob.brand_id)))
    assert await db.scalar(sa.select(sa.func.count()).select_from(BulkJob)) == 1
    rival_csv = await rival_web.get("/brand/collaborations.csv")
    assert rival_csv.status_code == 200 and str(deal.id) not in rival_csv.text
    assert (await creator_web.get("/brand/collaborations.csv")).status_code == 403
    creator_api = await bearer(runtime, deal.creator)
    job_id = job.rsplit("/", 1)[1]
    assert (await client.get(f"/api/v1/jobs/{job_id}", headers=creator_api)).status_code == 404
    assert (await client.post("/api/v1/bulk/approve_draft", json={"ids": [str(deal.id)]},
                              headers=creator_api)).status_code == 403
    assert (await client.get(f"/api/v1/jobs/{job_id}")).status_code == 401
    assert (await client.post("/api/v1/bulk/teleport", json={"ids": [str(deal.id)]},
                              headers=await bearer(runtime, deal.brand))).status_code == 404
