"""Who may see and change a roster: brand B never reads, imports into, exports or acts on brand A's roster, saved
views or imports (404, or nothing matched); creators have no access; finance members read but don't change."""

from __future__ import annotations

import sqlalchemy as sa

from marketplace.brands.models import BrandRole
from marketplace.roster.models import RosterEntry, RosterImport
from tests.support.deals import bearer
from tests.support.marketplace import make_open_gig
from tests.support.roster import creators_csv, entries, snapshot


async def test_brand_b_cannot_reach_brand_a_roster(client, web, make_web, runtime, people, db) -> None:
    a, b = await people.brand(), await people.brand()
    a_auth, b_auth = await bearer(runtime, a), await bearer(runtime, b)
    made = await client.post("/api/v1/roster", headers=a_auth, json={"name": "Ada", "email": "ada@example.test",
                                                                     "tags": ["secret"]})
    entry_id = made.json()["id"]
    await web.sign_in(a.email, a.password)
    await web.post("/brand/roster/import", files={"file": ("a.csv", creators_csv(3).encode(), "text/csv")})
    upload = await db.scalar(sa.select(RosterImport).where(RosterImport.brand_id == a.brand_id))
    before = snapshot(await entries(db, a.brand_id))

    for method, path in [("GET", f"/api/v1/roster/{entry_id}"), ("DELETE", f"/api/v1/roster/{entry_id}")]:
        assert (await client.request(method, path, headers=b_auth)).status_code == 404, path
    patched = await client.patch(f"/api/v1/roster/{entry_id}", headers=b_auth, json={"name": "Mine now"})
    assert patched.status_code == 404
    listed = await client.get("/api/v1/roster", headers=b_auth, params={"q": "ada"})
    assert listed.json()["total"] == 0
    exported = await client.get("/api/v1/roster/export.csv", headers=b_auth)
    assert "ada@example.test" not in exported.text and "p0@example.test" not in exported.text
    # The same people imported by B become B's own entries; A's are untouched.
    imported = await client.post("/api/v1/roster/import", headers=b_auth | {"Content-Type": "text/csv"},
                                 content=b"name,email\r\nAda B,ada@example.test\r\n")
    assert imported.json()["created"] == 1
    a_gig = await make_open_gig(runtime, a)
    foreign_gig = await client.post(f"/api/v1/roster/import?invite=true&gig_id={a_gig.id}",
                                    headers=b_auth | {"Content-Type": "text/csv"},
                                    content=b"name,email\r\nZed,zed@example.test\r\n")
    assert foreign_gig.status_code == 404

    stranger = await make_web()
    await stranger.sign_in(b.email, b.password)
    assert (await stranger.get(f"/brand/roster/{entry_id}")).status_code == 404
    assert (await stranger.post(f"/brand/roster/{entry_id}", {"name": "x", "email": "x@example.test"})).status_code \
        == 404
    assert (await stranger.post(f"/brand/roster/{entry_id}/delete")).status_code == 404
    assert (await stranger.get(f"/brand/roster/imports/{upload.id}")).status_code == 404
    assert (await stranger.post(f"/brand/roster/imports/{upload.id}", {"action": "import"})).status_code == 404
    tagged = await stranger.post("/brand/roster/tag", {"entry_id": entry_id, "tag_name": "stolen", "action": "tag"})
    assert tagged.status_code == 303  # B's selection is scoped to B: A's id matches nothing
    page = await stranger.get("/brand/roster?tag=secret")
    assert "<strong>0</strong> people match" in page.text and "data-entry-id" not in page.text
    assert "secret (" not in page.text  # A's tags are not offered to B
    assert snapshot(await entries(db, a.brand_id)) == before
    a_tags = await client.get(f"/api/v1/roster/{entry_id}", headers=a_auth)
    assert a_tags.json()["tags"] == ["secret"]


async def test_creators_have_no_access_and_finance_only_reads(client, make_web, runtime, people, db) -> None:
    brand = await people.brand()
    finance = await people.brand(brand_id=brand.brand_id, role=BrandRole.FINANCE)
    creator = await people.creator()
    c_auth, f_auth = await bearer(runtime, creator), await bearer(runtime, finance)
    assert (await client.get("/api/v1/roster", headers=c_auth)).status_code == 403
    assert (await client.post("/api/v1/roster/import", headers=c_auth | {"Content-Type": "text/csv"},
                              content=b"name,email\r\nx,x@example.test\r\n")).status_code == 403
    assert (await client.get("/api/v1/roster/export.csv", headers=c_auth)).status_code == 403
    assert (await client.get("/api/v1/roster")).status_code == 401
    page = await make_web()
    await page.sign_in(creator.email, creator.password)
    assert (await page.get("/brand/roster")).status_code == 403
    assert (await client.get("/api/v1/roster", headers=f_auth)).status_code == 200
    refused = await client.post("/api/v1/roster", headers=f_auth, json={"name": "x", "email": "x@example.test"})
    assert refused.status_code == 403
    assert await db.scalar(sa.select(sa.func.count(RosterEntry.id))) == 0


async def test_roster_routes_are_in_the_openapi_schema_with_their_errors(client) -> None:
    schema = (await client.get("/schema/openapi.json")).json()
    paths = schema["paths"]
    for path, methods in {
        "/api/v1/roster": {"get", "post"},
        "/api/v1/roster/{entry_id}": {"get", "patch", "delete"},
        "/api/v1/roster/import": {"post"},
        "/api/v1/roster/export.csv": {"get"},
    }.items():
        assert methods <= set(paths[path]), (path, set(paths[path]))
        for method in methods:
            responses = paths[path][method]["responses"]
            assert {"401", "403"} <= set(responses), (path, method, set(responses))
    assert "application/problem+json" in paths["/api/v1/roster/{entry_id}"]["get"]["responses"]["404"]["content"]
    assert {"422", "415"} <= set(paths["/api/v1/roster/import"]["post"]["responses"])
    assert not any(p.startswith(("/brand/roster", "/roster/claim")) for p in paths)
