"""The gig API: create, read, edit, publish, close, list, invite; problem details for bad input; who may do what."""

from __future__ import annotations

import uuid
from datetime import timedelta

import sqlalchemy as sa

from marketplace.brands.models import BrandRole
from marketplace.gigs.models import Deliverable, Gig, GigInvitation, GigStatus
from tests.support.marketplace import make_collaboration, make_creator_with_account, make_gig


async def token_for(client, person) -> dict[str, str]:
    response = await client.post("/api/v1/auth/token", json={"email": person.email, "password": person.password})
    assert response.status_code == 201, response.text
    return {"Authorization": f"Bearer {response.json()['token']}"}


def gig_body(runtime, **overrides) -> dict:
    body = {
        "title": "Unboxing our serum",
        "brief": "Show it in your morning routine.",
        "base_fee": {"amount": 15000, "currency": "USD"},
        "product_name": "Vitamin C serum",
        "product_retail_value": {"amount": 4500, "currency": "USD"},
        "apply_by": (runtime.clock.now() + timedelta(days=10)).isoformat(),
        "slots": 2,
        "niches": ["skincare"],
        "deliverables": [{"platform": "tiktok", "kind": "video", "count": 1, "required_hashtags": ["glowlab"]}],
    }
    body.update(overrides)
    return body


def problem_fields(response) -> dict[str, str]:
    assert response.headers["content-type"].startswith("application/problem+json"), response.text
    return {e["field"]: e["message"] for e in response.json().get("errors", [])}


async def test_create_read_edit_publish_close(client, runtime, people, db) -> None:
    brand = await people.brand()
    headers = await token_for(client, brand)
    created = await client.post("/api/v1/gigs", json=gig_body(runtime), headers=headers)
    assert created.status_code == 201, created.text
    gig = created.json()
    assert gig["status"] == "draft" and gig["base_fee"] == {"amount": 15000, "currency": "USD"}
    deliverable = gig["deliverables"][0]
    assert deliverable["required_hashtags"] == ["#glowlab"] and deliverable["disclosure_text"] == "#ad"
    assert gig["niches"] == ["skincare"] and gig["reminder_offsets_hours"] == [-72, -24, 24, 72]
    patched = await client.patch(f"/api/v1/gigs/{gig['id']}", headers=headers,
                                 json={"base_fee": {"amount": 20000, "currency": "USD"},
                                       "reminder_offsets_hours": [-24, 48]})
    assert patched.status_code == 200, patched.text
    assert patched.json()["base_fee"]["amount"] == 20000 and patched.json()["title"] == "Unboxing our serum"
    assert patched.json()["reminder_offsets_hours"] == [-24, 48]
    published = await client.post(f"/api/v1/gigs/{gig['id']}/publish", headers=headers)
    assert published.status_code == 200 and published.json()["status"] == "open"
    listed = await client.get("/api/v1/gigs", headers=headers)
    assert [g["id"] for g in listed.json()["items"]] == [gig["id"]]
    closed = await client.post(f"/api/v1/gigs/{gig['id']}/close", headers=headers)
    assert closed.json()["status"] == "closed"
    again = await client.post(f"/api/v1/gigs/{gig['id']}/close", headers=headers)
    assert again.status_code == 409 and again.json()["type"] == "/problems/conflict"


async def test_bad_input_gets_problem_details_with_fields(client, runtime, people, db) -> None:
    brand = await people.brand()
    headers = await token_for(client, brand)
    cases = {
        "base_fee.amount": gig_body(runtime, base_fee={"currency": "USD"}),
        "base_fee.currency": gig_body(runtime, base_fee={"amount": 100, "currency": "ZZZ"}),
        "apply_by": gig_body(runtime, apply_by=(runtime.clock.now() - timedelta(days=1)).isoformat()),
        "brief": gig_body(runtime, brief="x" * 10 * 1024 * 1024),
        "product_image_url": gig_body(runtime, product_image_url="javascript:alert(1)"),
        "deliverables": gig_body(runtime, deliverables=[]),
        "deliverables[0].count": gig_body(runtime, deliverables=[{"platform": "tiktok", "kind": "video",
                                                                   "count": 0}]),
        "max_followers": gig_body(runtime, min_followers=5000, max_followers=100),
        "min_tier": gig_body(runtime, min_tier="platinum"),
        "title": gig_body(runtime, title="bad\x00title"),
    }
    for field, body in cases.items():
        response = await client.post("/api/v1/gigs", json=body, headers=headers)
        assert response.status_code == 422, (field, response.text[:300])
        assert field in problem_fields(response), (field, response.text[:300])
    negative = await client.post("/api/v1/gigs", json=gig_body(runtime, base_fee={"amount": -1, "currency": "USD"}),
                                 headers=headers)
    assert problem_fields(negative)["base_fee.amount"] == "Base fee can't be negative."
    wrong_type = await client.post("/api/v1/gigs", json=gig_body(runtime, slots="many"), headers=headers)
    assert wrong_type.status_code == 400 and "slots" in problem_fields(wrong_type)
    unknown = await client.get(f"/api/v1/gigs/{uuid.uuid4()}", headers=headers)
    assert unknown.status_code == 404 and unknown.json()["type"] == "/problems/not-found"
    assert (await client.get("/api/v1/gigs/not-a-uuid", headers=headers)).status_code in (400, 404)
    assert await db.scalar(sa.select(sa.func.count(Gig.id))) == 0
    assert await db.scalar(sa.select(sa.func.count(Deliverable.id))) == 0


async def test_other_brands_creators_and_anonymous_are_refused(client, runtime, people, db) -> None:
    owner = await people.brand()
    draft = await make_gig(runtime, owner, publish=False, title="Secret launch")
    other_brand = await token_for(client, await people.brand(brand_name="Rival Co"))
    finance = await token_for(client, await people.brand(brand_id=owner.brand_id, role=BrandRole.FINANCE))
    creator = await make_creator_with_account(runtime, people)
    creator_headers = await token_for(client, creator.person)
    patch_body = {"title": "Hijacked"}
    for headers, expected in ((other_brand, 404), (creator_headers, 404), ({}, 401)):
        assert (await client.get(f"/api/v1/gigs/{draft.id}", headers=headers)).status_code == expected
    for headers, expected in ((other_brand, 404), (creator_headers, 403), (finance, 403), ({}, 401)):
        assert (await client.patch(f"/api/v1/gigs/{draft.id}", json=patch_body,
                                   headers=headers)).status_code == expected
        assert (await client.post(f"/api/v1/gigs/{draft.id}/publish", headers=headers)).status_code == expected
        invite = await client.post(f"/api/v1/gigs/{draft.id}/invitations", headers=headers,
                                   json={"creator_ids": [str(creator.creator_id)]})
        assert invite.status_code == expected
    assert (await client.post("/api/v1/gigs", json=gig_body(runtime), headers=creator_headers)).status_code == 403
    assert (await client.post("/api/v1/gigs", json=gig_body(runtime), headers=finance)).status_code == 403
    assert (await client.get(f"/api/v1/gigs/{draft.id}", headers=finance)).status_code == 200  # finance reads
    row = await db.get(Gig, draft.id)
    assert row.title == "Secret launch" and row.status is GigStatus.DRAFT
    assert await db.scalar(sa.select(sa.func.count(GigInvitation.id))) == 0
    # The other brand's list and the creator's search don't show the draft either.
    assert (await client.get("/api/v1/gigs", headers=other_brand)).json()["items"] == []
    assert (await client.get("/api/v1/gigs", headers=creator_headers)).json()["items"] == []


async def test_creator_search_api_pages_and_flags(client, runtime, people, clock) -> None:
    brand = await people.brand()
    for i in range(5):
        clock.advance(minutes=1)
        await make_gig(runtime, brand, title=f"Gig {i}", base_fee_amount=1000 * (i + 1),
                       eligible_countries=["US"] if i % 2 else [])
    creator = await make_creator_with_account(runtime, people, country="DE")
    headers = await token_for(client, creator.person)
    first = await client.get("/api/v1/gigs?sort=fee&limit=2&fee_min=2000&currency=USD", headers=headers)
    assert first.status_code == 200, first.text
    body = first.json()
    assert [g["base_fee"]["amount"] for g in body["items"]] == [5000, 4000]
    assert body["items"][0]["eligibility"] == {"eligible": True, "reasons": []}
    assert body["items"][1]["eligibility"]["eligible"] is False
    second = await client.get(f"/api/v1/gigs?sort=fee&limit=2&fee_min=2000&currency=USD"
                              f"&cursor={body['next_cursor']}", headers=headers)
    assert [g["base_fee"]["amount"] for g in second.json()["items"]] == [3000, 2000]
    assert second.json()["next_cursor"] is None
    bad = await client.get("/api/v1/gigs?sort=popular&fee_min=-1", headers=headers)
    assert bad.status_code == 422 and {"sort", "fee_min"} <= set(problem_fields(bad))


async def test_bulk_invitations_report_each_creator(client, runtime, people, db) -> None:
    deal = await make_collaboration(runtime, people)
    headers = await token_for(client, deal.brand)
    fresh = [await people.creator() for _ in range(3)]
    ids = [str(p.creator_id) for p in fresh] + [str(deal.creator.creator_id), str(uuid.uuid4())]
    first = await client.post(f"/api/v1/gigs/{deal.gig.id}/invitations", headers=headers,
                              json={"creator_ids": ids, "message": "Loved your last video!"})
    assert first.status_code == 200, first.text
    result = first.json()
    assert sorted(result["invited"]) == sorted(str(p.creator_id) for p in fresh)
    assert result["already_applied"] == [str(deal.creator.creator_id)] and len(result["unknown"]) == 1
    again = await client.post(f"/api/v1/gigs/{deal.gig.id}/invitations", headers=headers,
                              json={"creator_ids": ids[:2]})
    assert again.json()["invited"] == [] and len(again.json()["already_invited"]) == 2
    assert await db.scalar(sa.select(sa.func.count(GigInvitation.id))) == 3
    bad = await client.post(f"/api/v1/gigs/{deal.gig.id}/invitations", headers=headers,
                            json={"creator_ids": ["nope"]})
    assert bad.status_code == 422 and "creator_ids" in problem_fields(bad)


async def test_creators_invited_to_a_draft_hear_about_it_when_it_is_published(client, runtime, people, db) -> None:
    from marketplace.notifications.models import Notification

    brand = await people.brand()
    draft = await make_gig(runtime, brand, publish=False)
    creator = await people.creator()
    headers = await token_for(client, brand)
    invited = await client.post(f"/api/v1/gigs/{draft.id}/invitations", headers=headers,
                                json={"creator_ids": [str(creator.creator_id)]})
    assert invited.json()["invited"] == [str(creator.creator_id)]
    kinds = sa.select(Notification.kind).where(Notification.user_id == creator.user_id)
    assert list(await db.scalars(kinds)) == []  # nothing to apply to yet
    await client.post(f"/api/v1/gigs/{draft.id}/publish", headers=headers)
    assert list(await db.scalars(kinds)) == ["gig.invitation"]
