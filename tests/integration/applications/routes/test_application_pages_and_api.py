"""Applications through pages (with and without htmx) and the API, and who may see or decide them."""

from __future__ import annotations

import uuid
from html import unescape

import sqlalchemy as sa

from marketplace.applications.models import Application, ApplicationStatus
from marketplace.brands.models import BrandRole
from marketplace.collaborations.models import Collaboration
from tests.support.marketplace import apply_to_gig, make_creator_with_account, make_gig


async def bearer(client, person) -> dict[str, str]:
    response = await client.post("/api/v1/auth/token", json={"email": person.email, "password": person.password})
    return {"Authorization": f"Bearer {response.json()['token']}"}


async def statuses(db) -> list[str]:
    return sorted(str(s) for s in await db.scalars(sa.select(Application.status)))


async def test_creator_applies_through_the_gig_page(web, runtime, people, db) -> None:
    brand = await people.brand()
    gig = await make_gig(runtime, brand)
    creator = await make_creator_with_account(runtime, people)
    await web.sign_in(creator.person.email, creator.person.password)
    page = await web.get(f"/gigs/{gig.id}")
    assert page.status_code == 200 and "Eligible for you" in page.text and "Send application" in page.text
    bad = await web.post(f"/gigs/{gig.id}/apply", {"pitch": "", "social_account_id": str(creator.account.id),
                                                    "counter_offer.amount": "12.345"}, htmx=True)
    assert bad.status_code == 422 and "<html" not in bad.text and 'id="apply"' in bad.text
    assert "Pitch is required." in unescape(bad.text) and "up to 2 decimal places" in unescape(bad.text)
    assert await statuses(db) == []
    sent = await web.post(f"/gigs/{gig.id}/apply", {"pitch": "Love this serum", "social_account_id":
                                                     str(creator.account.id), "counter_offer.amount": "175"})
    assert sent.status_code == 303 and sent.headers["location"] == f"/gigs/{gig.id}"
    application = await db.scalar(sa.select(Application))
    assert application.counter_offer_amount == 17_500 and application.pitch == "Love this serum"
    twice = await web.post(f"/gigs/{gig.id}/apply", {"pitch": "Again", "social_account_id": str(creator.account.id)})
    assert twice.status_code == 409 and "already applied" in unescape(twice.text)
    mine = await web.get("/creator/applications")
    assert gig.title in unescape(mine.text) and "Withdraw" in mine.text
    withdrawn = await web.post(f"/creator/applications/{application.id}/withdraw", htmx=True)
    assert withdrawn.status_code == 200 and "<html" not in withdrawn.text and "withdrawn" in withdrawn.text
    assert await statuses(db) == ["withdrawn"]


async def test_brand_decides_in_bulk_with_and_without_htmx(web, runtime, people, db) -> None:
    brand = await people.brand()
    gig = await make_gig(runtime, brand, slots=2)
    ids = []
    for _ in range(4):
        made = await make_creator_with_account(runtime, people)
        ids.append(str((await apply_to_gig(runtime, made.person, gig.id, made.account.id)).id))
    await web.sign_in(brand.email, brand.password)
    listing = await web.get(f"/brand/gigs/{gig.id}/applications")
    assert listing.status_code == 200 and listing.text.count('name="application_ids"') == 4
    fragment = await web.get(f"/brand/gigs/{gig.id}/applications?sort=followers", htmx=True)
    assert "<html" not in fragment.text and fragment.text.lstrip().startswith('<section id="applications"')
    too_many = await web.post(f"/brand/gigs/{gig.id}/applications/decide",
                              [("decision", "accept"), *[("application_ids", i) for i in ids[:3]]], htmx=True)
    assert too_many.status_code == 409 and "2 left" in unescape(too_many.text)
    assert await statuses(db) == ["pending"] * 4
    accepted = await web.post(f"/brand/gigs/{gig.id}/applications/decide",
                              [("decision", "accept"), *[("application_ids", i) for i in ids[:2]]], htmx=True)
    assert accepted.status_code == 200 and "Accepted 2" in accepted.text and "<html" not in accepted.text
    declined = await web.post(f"/brand/gigs/{gig.id}/applications/decide",
                              {"decline_one": ids[2], "back": "status=pending"})
    assert declined.status_code == 303
    assert declined.headers["location"] == f"/brand/gigs/{gig.id}/applications?status=pending"
    assert await statuses(db) == ["accepted", "accepted", "declined", "pending"]
    assert await db.scalar(sa.select(sa.func.count(Collaboration.id))) == 2


async def test_finance_sees_but_cannot_decide(web, runtime, people, db) -> None:
    owner = await people.brand()
    gig = await make_gig(runtime, owner)
    made = await make_creator_with_account(runtime, people)
    application = await apply_to_gig(runtime, made.person, gig.id, made.account.id)
    finance = await people.brand(brand_id=owner.brand_id, role=BrandRole.FINANCE)
    await web.sign_in(finance.email, finance.password)
    listing = await web.get(f"/brand/gigs/{gig.id}/applications")
    assert listing.status_code == 200 and "Accept selected" not in listing.text
    refused = await web.post(f"/brand/gigs/{gig.id}/applications/decide", {"accept_one": str(application.id)})
    assert refused.status_code == 403
    assert await statuses(db) == ["pending"]


async def test_outsiders_get_nothing(web, make_web, client, runtime, people, db) -> None:
    brand = await people.brand()
    gig = await make_gig(runtime, brand)
    made = await make_creator_with_account(runtime, people)
    application = await apply_to_gig(runtime, made.person, gig.id, made.account.id, pitch="My secret pitch")
    rival = await people.brand(brand_name="Rival")
    other_creator = await make_creator_with_account(runtime, people)
    # Pages
    await web.sign_in(rival.email, rival.password)
    assert (await web.get(f"/brand/gigs/{gig.id}/applications")).status_code == 404
    assert (await web.post(f"/brand/gigs/{gig.id}/applications/decide",
                           {"accept_one": str(application.id)})).status_code == 404
    creator_web = await make_web()
    await creator_web.sign_in(other_creator.person.email, other_creator.person.password)
    assert "My secret pitch" not in (await creator_web.get("/creator/applications")).text
    assert (await creator_web.post(f"/creator/applications/{application.id}/withdraw")).status_code == 404
    assert (await creator_web.get(f"/brand/gigs/{gig.id}/applications")).status_code == 403
    anonymous = await make_web()
    assert (await anonymous.get(f"/brand/gigs/{gig.id}/applications")).status_code == 303
    # API
    rival_api, other_api = await bearer(client, rival), await bearer(client, other_creator.person)
    assert (await client.get(f"/api/v1/gigs/{gig.id}/applications", headers=rival_api)).status_code == 404
    theirs = await client.get(f"/api/v1/gigs/{gig.id}/applications", headers=other_api)
    assert theirs.status_code == 200 and theirs.json()["items"] == []
    for path, headers, expected in (
        (f"/api/v1/applications/{application.id}/accept", rival_api, 404),
        (f"/api/v1/applications/{application.id}/accept", other_api, 403),
        (f"/api/v1/applications/{application.id}/decline", rival_api, 404),
        (f"/api/v1/applications/{application.id}/withdraw", other_api, 404),
        (f"/api/v1/applications/{application.id}/withdraw", rival_api, 403),
        (f"/api/v1/applications/{application.id}/accept", {}, 401),
        (f"/api/v1/applications/{uuid.uuid4()}/accept", await bearer(client, brand), 404),
    ):
        response = await client.post(path, headers=headers)
        assert response.status_code == expected, (path, response.text)
        assert response.headers["content-type"].startswith("application/problem+json")
    bulk = await client.post(f"/api/v1/gigs/{gig.id}/applications/accept", headers=rival_api,
                             json={"application_ids": [str(application.id)]})
    assert bulk.status_code == 404
    assert await statuses(db) == ["pending"]
    assert await db.scalar(sa.select(sa.func.count(Collaboration.id))) == 0


async def test_api_apply_then_bulk_accept_and_decline(client, runtime, people, db) -> None:
    brand = await people.brand()
    gig = await make_gig(runtime, brand, slots=3)
    brand_api = await bearer(client, brand)
    ids = []
    for i in range(4):
        made = await make_creator_with_account(runtime, people, followers=1000 * (i + 1))
        headers = await bearer(client, made.person)
        created = await client.post(f"/api/v1/gigs/{gig.id}/applications", headers=headers, json={
            "pitch": f"Pitch {i}", "social_account_id": str(made.account.id),
            "counter_offer": {"amount": 12_000, "currency": "USD"} if i == 0 else None})
        assert created.status_code == 201, created.text
        ids.append(created.json()["id"])
        mine = await client.get(f"/api/v1/gigs/{gig.id}/applications", headers=headers)
        assert [a["id"] for a in mine.json()["items"]] == [created.json()["id"]]
    wrong_currency = await client.post(f"/api/v1/gigs/{gig.id}/applications", headers=await bearer(
        client, (await make_creator_with_account(runtime, people)).person), json={
        "pitch": "x", "social_account_id": str(uuid.uuid4()), "counter_offer": {"amount": 1, "currency": "EUR"}})
    assert wrong_currency.status_code == 422
    assert {e["field"] for e in wrong_currency.json()["errors"]} == {"social_account_id", "counter_offer.currency"}
    listed = await client.get(f"/api/v1/gigs/{gig.id}/applications?sort=followers&limit=3", headers=brand_api)
    body = listed.json()
    assert [a["social_account"]["followers"] for a in body["items"]] == [4000, 3000, 2000]
    assert body["next_cursor"] and body["slots"] == 3 and body["items"][0]["creator"]["completed_collaborations"] == 0
    accepted = await client.post(f"/api/v1/gigs/{gig.id}/applications/accept", headers=brand_api,
                                 json={"application_ids": ids[:2]})
    assert accepted.status_code == 200, accepted.text
    decided = accepted.json()["decided"]
    assert [d["status"] for d in decided] == ["accepted", "accepted"] and all(d["collaboration_id"] for d in decided)
    assert decided[0]["counter_offer"] == {"amount": 12_000, "currency": "USD"}
    collab = await db.get(Collaboration, uuid.UUID(decided[0]["collaboration_id"]))
    assert collab.fee_amount == 12_000  # the accepted counter-offer is the deal's fee
    declined = await client.post(f"/api/v1/applications/{ids[2]}/decline", headers=brand_api,
                                 json={"reason": "Not this time"})
    assert declined.json()["status"] == "declined" and declined.json()["decline_reason"] == "Not this time"
    single = await client.post(f"/api/v1/applications/{ids[3]}/accept", headers=brand_api)
    assert single.json()["status"] == "accepted"
    full = await client.post(f"/api/v1/gigs/{gig.id}/applications/accept", headers=brand_api,
                             json={"application_ids": [ids[2]]})
    assert full.status_code == 409
    assert await db.scalar(sa.select(sa.func.count(Application.id)).where(
        Application.status == ApplicationStatus.ACCEPTED)) == 3


async def test_huge_pitches_are_refused_in_place(web, client, runtime, people, db) -> None:
    gig = await make_gig(runtime, await people.brand())
    made = await make_creator_with_account(runtime, people)
    huge = "p" * 10 * 1024 * 1024
    api = await client.post(f"/api/v1/gigs/{gig.id}/applications", headers=await bearer(client, made.person),
                            json={"pitch": huge, "social_account_id": str(made.account.id)})
    assert api.status_code == 422
    assert api.json()["errors"] == [{"field": "pitch", "message": "Pitch must be at most 5,000 characters."}]
    await web.sign_in(made.person.email, made.person.password)
    page = await web.post(f"/gigs/{gig.id}/apply", {"pitch": huge, "social_account_id": str(made.account.id)})
    assert page.status_code == 422 and "Pitch must be at most 5,000 characters." in page.text
    unknown = await client.post(f"/api/v1/gigs/{uuid.uuid4()}/applications", headers=await bearer(
        client, made.person), json={"pitch": "hi", "social_account_id": str(made.account.id)})
    assert unknown.status_code == 404
    assert await statuses(db) == []
