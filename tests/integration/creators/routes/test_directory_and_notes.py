"""The brand-side creator directory: filters, sort, pages, invitations, private notes and the shipping address."""

from __future__ import annotations

import sqlalchemy as sa

from marketplace.brands.models import BrandRole, CreatorNote
from marketplace.collaborations.models import Collaboration
from marketplace.collaborations.states import CollabState
from marketplace.gigs.models import GigInvitation
from tests.support.marketplace import (
    add_social_account,
    make_collaboration,
    make_creator_with_account,
    make_gig,
)

ADDRESS = {"recipient_name": "Ava Brooks", "line1": "1 High St", "city": "Leeds", "postal_code": "LS1 1AA",
           "address_country": "GB"}


async def bearer(client, person) -> dict[str, str]:
    response = await client.post("/api/v1/auth/token", json={"email": person.email, "password": person.password})
    return {"Authorization": f"Bearer {response.json()['token']}"}


async def test_directory_filters_sorts_and_pages(web, client, runtime, people) -> None:
    brand = await people.brand()
    small = await make_creator_with_account(runtime, people, name="Small Sam", followers=1_500, country="US",
                                            niches=["fitness"])
    big = await make_creator_with_account(runtime, people, name="Big Bea", followers=80_000, country="GB",
                                          niches=["skincare"])
    await add_social_account(runtime, big.person, platform="instagram", followers=5_000, engagement_bps=900)
    mid = await make_creator_with_account(runtime, people, name="Mid Mo", followers=20_000, country="US",
                                          niches=["skincare"])
    headers = await bearer(client, brand)

    async def names(query: str) -> list[str]:
        response = await client.get(f"/api/v1/creators?{query}", headers=headers)
        assert response.status_code == 200, response.text
        return [c["display_name"] for c in response.json()["items"]]

    assert await names("") == ["Big Bea", "Mid Mo", "Small Sam"]
    assert await names("country=US") == ["Mid Mo", "Small Sam"]
    assert await names("niche=skincare&sort=followers") == ["Big Bea", "Mid Mo"]
    assert await names("followers_min=10000&followers_max=50000") == ["Mid Mo"]
    # With a platform, the ranges apply to that platform's account: Big Bea has 5,000 on Instagram.
    assert await names("platform=instagram&followers_max=10000") == ["Big Bea"]
    assert await names("engagement_min=800") == ["Big Bea"]
    assert await names("q=mo") == ["Mid Mo"]
    first = (await client.get("/api/v1/creators?limit=2", headers=headers)).json()
    rest = (await client.get(f"/api/v1/creators?limit=2&cursor={first['next_cursor']}", headers=headers)).json()
    assert [c["display_name"] for c in first["items"] + rest["items"]] == ["Big Bea", "Mid Mo", "Small Sam"]
    assert rest["next_cursor"] is None
    bad = await client.get("/api/v1/creators?sort=age&followers_min=-1&country=XX", headers=headers)
    assert bad.status_code == 422 and {"sort", "followers_min", "country"} <= {e["field"] for e in bad.json()["errors"]}
    await web.sign_in(brand.email, brand.password)
    page = await web.get("/brand/creators?engagement_min=8.5")
    assert page.status_code == 200 and "Big Bea" in page.text and "Mid Mo" not in page.text and "<html" in page.text
    fragment = await web.get("/brand/creators?country=US", htmx=True)
    assert fragment.text.lstrip().startswith('<section id="results"') and "Small Sam" in fragment.text
    assert small.creator_id and mid.creator_id


async def test_creators_and_anonymous_cannot_use_the_directory(web, client, runtime, people) -> None:
    creator = await make_creator_with_account(runtime, people)
    assert (await client.get("/api/v1/creators")).status_code == 401
    assert (await client.get("/api/v1/creators", headers=await bearer(client, creator.person))).status_code == 403
    assert (await web.get("/brand/creators")).status_code == 303
    await web.sign_in(creator.person.email, creator.person.password)
    assert (await web.get("/brand/creators")).status_code == 403
    assert (await web.get(f"/brand/creators/{creator.creator_id}")).status_code == 403


async def test_notes_are_private_to_the_brand(web, make_web, client, runtime, people, db) -> None:
    brand = await people.brand(brand_name="GlowLab")
    rival = await people.brand(brand_name="Rival")
    creator = await make_creator_with_account(runtime, people, name="Ava")
    await web.sign_in(brand.email, brand.password)
    directory = await web.get("/brand/creators")
    assert f'id="note-{creator.creator_id}"' in directory.text  # notes are added right on the directory page
    saved = await web.post(f"/brand/creators/{creator.creator_id}/notes",
                           {"body": "Great energy, slow to reply", "back": "/brand/creators"})
    assert saved.status_code == 303 and saved.headers["location"] == "/brand/creators"
    assert "Great energy, slow to reply" in (await web.get("/brand/creators")).text
    detail = await web.post(f"/brand/creators/{creator.creator_id}/notes", {"body": "Second note"}, htmx=True)
    assert detail.status_code == 200 and 'id="notes"' in detail.text and "Second note" in detail.text
    empty = await web.post(f"/brand/creators/{creator.creator_id}/notes", {"body": "  "}, htmx=True)
    assert empty.status_code == 422 and "Note is required." in empty.text
    rival_web = await make_web()
    await rival_web.sign_in(rival.email, rival.password)
    assert "Great energy" not in (await rival_web.get("/brand/creators")).text
    assert "Great energy" not in (await rival_web.get(f"/brand/creators/{creator.creator_id}")).text
    rival_api = (await client.get("/api/v1/creators", headers=await bearer(client, rival))).json()
    assert [c["notes"] for c in rival_api["items"]] == [0]
    own_api = (await client.get("/api/v1/creators", headers=await bearer(client, brand))).json()
    assert [c["notes"] for c in own_api["items"]] == [2]
    note = await db.scalar(sa.select(CreatorNote).where(CreatorNote.body == "Second note"))
    assert (await rival_web.post(f"/brand/creators/{creator.creator_id}/notes/{note.id}/delete")).status_code == 404
    creator_web = await make_web()
    await creator_web.sign_in(creator.person.email, creator.person.password)
    for path in ("/creator/profile", "/creator/applications", "/gigs"):
        assert "Great energy" not in (await creator_web.get(path)).text
    finance = await people.brand(brand_id=brand.brand_id, role=BrandRole.FINANCE)
    finance_web = await make_web()
    await finance_web.sign_in(finance.email, finance.password)
    assert "Great energy" in (await finance_web.get(f"/brand/creators/{creator.creator_id}")).text
    assert (await finance_web.post(f"/brand/creators/{creator.creator_id}/notes",
                                   {"body": "x"})).status_code == 403
    assert await db.scalar(sa.select(sa.func.count(CreatorNote.id))) == 2


async def test_bulk_invite_from_the_directory(web, runtime, people, db) -> None:
    brand = await people.brand()
    gig = await make_gig(runtime, brand)
    creators = [await make_creator_with_account(runtime, people) for _ in range(3)]
    await web.sign_in(brand.email, brand.password)
    response = await web.post("/brand/creators/invite", [
        ("gig_id", str(gig.id)), ("message", "Join us"), ("back", "/brand/creators?sort=newest"),
        *[("creator_ids", str(c.creator_id)) for c in creators]])
    assert response.status_code == 303 and response.headers["location"] == "/brand/creators?sort=newest"
    assert await db.scalar(sa.select(sa.func.count(GigInvitation.id))) == 3
    followed = await web.get("/brand/creators?sort=newest")
    assert "Invited 3 creator(s)." in followed.text


async def test_address_only_for_the_brands_own_live_product_deals(web, make_web, runtime, people, db) -> None:
    deal = await make_collaboration(runtime, people)
    no_product = await people.brand(brand_name="Apps Inc")
    await make_collaboration(runtime, people, brand=no_product, creator=deal.creator, product_included=False,
                             product_name="")
    creator_web = await make_web()
    await creator_web.sign_in(deal.creator.email, deal.creator.password)
    await creator_web.post("/creator/profile/address", ADDRESS)
    await web.sign_in(deal.brand.email, deal.brand.password)
    # An offer the creator hasn't signed reveals nothing; the signature does. (The deal flow moves the status
    # through transition(); a plain UPDATE stands in for it here.)
    assert "1 High St" not in (await web.get(f"/brand/creators/{deal.creator.creator_id}")).text
    await db.execute(sa.update(Collaboration).where(Collaboration.brand_id.in_([deal.brand.brand_id,
                                                                               no_product.brand_id]))
                     .values(status=CollabState.SIGNED))
    assert "1 High St" in (await web.get(f"/brand/creators/{deal.creator.creator_id}")).text
    rival = await people.brand(brand_name="Rival")
    rival_web = await make_web()
    await rival_web.sign_in(rival.email, rival.password)
    assert "1 High St" not in (await rival_web.get(f"/brand/creators/{deal.creator.creator_id}")).text
    app_web = await make_web()
    await app_web.sign_in(no_product.email, no_product.password)
    assert "1 High St" not in (await app_web.get(f"/brand/creators/{deal.creator.creator_id}")).text
    # Once the deal has ended, the brand no longer sees the address.
    await db.execute(sa.update(Collaboration).where(Collaboration.id == deal.collaboration.id)
                     .values(status=CollabState.CANCELLED))
    assert "1 High St" not in (await web.get(f"/brand/creators/{deal.creator.creator_id}")).text


async def test_directory_invites_only_to_open_gigs_with_and_without_htmx(web, runtime, people, db) -> None:
    brand = await people.brand()
    draft = await make_gig(runtime, brand, publish=False, title="Draft launch")
    open_gig = await make_gig(runtime, brand, title="Open launch")
    creators = [await make_creator_with_account(runtime, people) for _ in range(2)]
    await web.sign_in(brand.email, brand.password)
    for htmx in (False, True):
        page = await web.get("/brand/creators", htmx=htmx)
        assert page.status_code == 200
        assert "Open launch" in page.text and "Draft launch" not in page.text
        # The filter form re-runs the search only for its own selects, never the invite form's gig picker.
        assert "from:select" not in page.text
    refused = await web.post("/brand/creators/invite", [("gig_id", str(draft.id)), ("back", "/brand/creators"),
                                                        *[("creator_ids", str(c.creator_id)) for c in creators]])
    assert refused.status_code == 303
    assert await db.scalar(sa.select(sa.func.count(GigInvitation.id))) == 0
    assert "open gigs" in (await web.get("/brand/creators")).text
    invited = await web.post("/brand/creators/invite", [
        ("gig_id", str(open_gig.id)), ("back", "/brand/creators?sort=newest"),
        *[("creator_ids", str(c.creator_id)) for c in creators]], htmx=True)
    assert invited.status_code == 200 and invited.headers["hx-redirect"] == "/brand/creators?sort=newest"
    assert await db.scalar(sa.select(sa.func.count(GigInvitation.id)).where(GigInvitation.gig_id == open_gig.id)) == 2
