"""Who may see and change a deal: for every route, outsiders are refused and nothing changes."""

from __future__ import annotations

from typing import Any

from marketplace.brands.models import BrandRole
from tests.support.deals import Cast, bearer, snapshot


def api_calls(cast: Cast) -> list[tuple[str, str, dict[str, Any] | None]]:
    """(method, path, JSON body) for every collaboration API route, each aimed at a deal in a state that allows it."""
    c = cast
    base = "/api/v1/collaborations"
    return [
        ("GET", f"{base}/{c.offered.id}", None),
        ("GET", f"{base}/{c.offered.id}/events", None),
        ("GET", f"{base}/{c.reviewing.id}/drafts/{c.draft_id}/file", None),
        ("POST", f"{base}/{c.offered.id}/sign", {"terms_hash": "x" * 64}),
        ("POST", f"{base}/{c.offered.id}/cancel", {"reason": "no"}),
        ("POST", f"{base}/{c.funded.id}/cancel", {}),
        ("POST", f"{base}/{c.funded.id}/ship", {"carrier": "UPS", "tracking_number": "1Z999AA1"}),
        ("POST", f"{base}/{c.shipped.id}/confirm-receipt", None),
        ("POST", f"{base}/{c.shipped.id}/report-problem", {"problem": "Never came"}),
        ("POST", f"{base}/{c.received.id}/submit-draft", {"caption": "Hi #ad", "media_url": "https://x.example/v"}),
        ("POST", f"{base}/{c.reviewing.id}/approve-draft", {"comment": ""}),
        ("POST", f"{base}/{c.reviewing.id}/request-changes", {"comment": "More"}),
        ("POST", f"{base}/{c.approved.id}/submit-post", {"url": c.approved.post_url()}),
    ]


def page_calls(cast: Cast) -> list[tuple[str, str, dict[str, str] | None]]:
    c = cast
    return [
        ("GET", f"/collaborations/{c.offered.id}", None),
        ("GET", f"/collaborations/{c.reviewing.id}", None),  # shows the draft
        ("GET", f"/collaborations/{c.funded.id}", None),  # shows the shipping address to the brand
        ("GET", f"/collaborations/{c.reviewing.id}/drafts/{c.draft_id}/file", None),
        ("POST", f"/collaborations/{c.offered.id}/sign", {"terms_hash": "x" * 64}),
        ("POST", f"/collaborations/{c.offered.id}/decline", {}),
        ("POST", f"/collaborations/{c.offered.id}/withdraw", {}),
        ("POST", f"/collaborations/{c.funded.id}/cancel", {}),
        ("POST", f"/collaborations/{c.funded.id}/cancel-no-show", {}),
        ("POST", f"/collaborations/{c.funded.id}/ship", {"carrier": "UPS", "tracking_number": "1Z999AA1"}),
        ("POST", f"/collaborations/{c.shipped.id}/confirm-receipt", {}),
        ("POST", f"/collaborations/{c.shipped.id}/report-problem", {"problem": "Never came"}),
        ("POST", f"/collaborations/{c.received.id}/submit-draft", {"caption": "Hi", "media_url": "https://x.ex/v"}),
        ("POST", f"/collaborations/{c.reviewing.id}/approve-draft", {}),
        ("POST", f"/collaborations/{c.reviewing.id}/request-changes", {"comment": "More"}),
        ("POST", f"/collaborations/{c.approved.id}/submit-post", {"url": c.approved.post_url()}),
    ]


async def test_api_refuses_other_brands_other_creators_and_anonymous(client, runtime, db, people, cast) -> None:
    ids = [d.id for d in cast.deals]
    before = await snapshot(db, ids)
    strangers = {
        "other brand": await bearer(runtime, await people.brand(brand_name="Rival")),
        "other creator": await bearer(runtime, await people.creator()),
        "anonymous": {},
    }
    for who, headers in strangers.items():
        for method, path, body in api_calls(cast):
            response = await client.request(method, path, json=body, headers=headers)
            expected = 401 if who == "anonymous" else 404
            assert response.status_code == expected, (who, method, path, response.status_code, response.text)
            assert response.headers["content-type"].startswith("application/problem+json")
            assert "Glow serum" not in response.text and "Orchard" not in response.text
        listing = await client.get("/api/v1/collaborations", headers=headers)
        if who == "anonymous":
            assert listing.status_code == 401
        else:
            assert listing.status_code == 200 and listing.json()["items"] == []
    assert await snapshot(db, ids) == before


async def test_pages_refuse_other_brands_other_creators_and_anonymous(make_web, db, people, cast) -> None:
    ids = [d.id for d in cast.deals]
    before = await snapshot(db, ids)
    rival, stranger = await people.brand(brand_name="Rival"), await people.creator()
    for who, person in (("other brand", rival), ("other creator", stranger), ("anonymous", None)):
        web = await make_web()
        if person is not None:
            await web.sign_in(person.email, person.password)
        for method, path, form in page_calls(cast):
            for htmx in (False, True):
                if method == "GET":
                    response = await web.get(path, htmx=htmx)
                else:
                    response = await web.post(path, form, htmx=htmx)
                if person is None:
                    assert response.status_code in (303, 401), (method, path, response.status_code)
                    target = response.headers.get("location") or response.headers.get("hx-redirect")
                    assert target.startswith("/signin"), (method, path, target)
                else:
                    assert response.status_code == 404, (who, method, path, htmx, response.status_code)
                assert "Orchard Lane" not in response.text and "Glow #ad" not in response.text
        own_list = "/brand/collaborations" if who == "other brand" else "/creator/collaborations"
        if person is not None:
            listing = await web.get(own_list)
            assert listing.status_code == 200 and "Glow serum launch" not in listing.text
    assert await snapshot(db, ids) == before


async def test_each_side_is_kept_to_its_own_list(make_web, cast) -> None:
    brand_web, creator_web = await make_web(), await make_web()
    await brand_web.sign_in(cast.brand.email, cast.brand.password)
    await creator_web.sign_in(cast.creator.email, cast.creator.password)
    assert (await brand_web.get("/creator/collaborations")).status_code == 403
    assert (await creator_web.get("/brand/collaborations")).status_code == 403
    assert (await brand_web.get("/brand/collaborations")).text.count("/collaborations/") >= len(cast.deals)


async def test_finance_members_see_deals_but_take_no_steps(make_web, client, runtime, db, people, cast) -> None:
    finance = await people.brand(brand_id=cast.brand.brand_id, role=BrandRole.FINANCE)
    ids = [d.id for d in cast.deals]
    before = await snapshot(db, ids)
    web = await make_web()
    await web.sign_in(finance.email, finance.password)
    page = await web.get(f"/collaborations/{cast.reviewing.id}")
    assert page.status_code == 200
    assert "Glow #ad" in page.text  # sees the draft
    assert "/approve-draft" not in page.text and "/request-changes" not in page.text  # but no step forms
    assert "Orchard Lane" not in page.text  # nor the creator's address
    assert (await web.get(f"/collaborations/{cast.reviewing.id}/drafts/{cast.draft_id}/file")).status_code == 200
    for path, form in ((f"/collaborations/{cast.reviewing.id}/approve-draft", {}),
                       (f"/collaborations/{cast.funded.id}/ship", {"carrier": "UPS", "tracking_number": "1Z9999"})):
        assert (await web.post(path, form)).status_code == 403
    headers = await bearer(runtime, finance)
    detail = await client.get(f"/api/v1/collaborations/{cast.reviewing.id}", headers=headers)
    assert detail.status_code == 200 and detail.json()["allowed_actions"] == []
    refused = await client.post(f"/api/v1/collaborations/{cast.reviewing.id}/approve-draft", json={},
                                headers=headers)
    assert refused.status_code == 403 and refused.json()["type"] == "/problems/role-not-allowed"
    assert await snapshot(db, ids) == before


async def test_the_address_is_the_creators_and_the_brands_after_signing_only(client, runtime, people, cast) -> None:
    brand, creator = await bearer(runtime, cast.brand), await bearer(runtime, cast.creator)
    offered = f"/api/v1/collaborations/{cast.offered.id}"
    funded = f"/api/v1/collaborations/{cast.funded.id}"
    assert (await client.get(offered, headers=brand)).json()["shipping_address"] is None
    assert (await client.get(funded, headers=brand)).json()["shipping_address"]["line1"] == "12 Orchard Lane"
    assert (await client.get(offered, headers=creator)).json()["shipping_address"]["line1"] == "12 Orchard Lane"
    admin = await bearer(runtime, await people.admin())
    as_admin = await client.get(funded, headers=admin)
    assert as_admin.status_code == 200 and as_admin.json()["shipping_address"] is None
