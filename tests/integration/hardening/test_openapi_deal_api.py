"""The whole deal through /api/v1: funding (one checkout for many deals), escrow state and timeline, statements,
reliability, brand profile and team, creator profile — and their authorization matrix: anonymous 401, the wrong
kind of account or role 403, somebody else's deal 404, nothing changed by a refused call."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import sqlalchemy as sa

from escrow.models import EscrowHold
from marketplace.brands.models import Brand, BrandMember, BrandRole
from marketplace.collaborations.models import Collaboration
from marketplace.collaborations.states import CollabState
from marketplace.creators.models import Creator
from marketplace.db import session_scope
from tests.support.deals import bearer, make_deal


async def _finance_member(runtime, people, brand) -> dict[str, str]:
    """A brand account moved into ``brand``'s team as a finance member."""
    user = await people.brand(brand_name="Scratch")
    async with session_scope(runtime.session_maker) as session:
        await session.execute(sa.delete(BrandMember).where(BrandMember.user_id == user.user_id))
        session.add(BrandMember(brand_id=brand.brand_id, user_id=user.user_id, role=BrandRole.FINANCE))
    return await bearer(runtime, user)


async def test_fund_many_deals_then_read_escrow_and_statements(client, runtime, queue, db) -> None:
    first = await make_deal(runtime, CollabState.SIGNED)
    second = await make_deal(runtime, CollabState.SIGNED, brand=first.brand, creator=first.creator)
    brand = await bearer(runtime, first.brand)

    response = await client.post("/api/v1/funding", json={"collaboration_ids": [str(first.id), str(second.id)]},
                                 headers=brand)
    assert response.status_code == 202, response.text
    body = response.json()
    query = parse_qs(urlsplit(body["checkout_url"]).query)
    assert sorted(query["c"]) == sorted([str(first.id), str(second.id)])
    assert body["checkout_url"].startswith("http://testserver.local/brand/payments/checkout?")
    assert {d["collaboration_id"] for d in body["deals"]} == {str(first.id), str(second.id)}
    assert all(d["total"]["amount"] == d["creator_amount"]["amount"] + d["platform_fee"]["amount"]
               for d in body["deals"])
    await queue.run_all(runtime.job_context())
    rows = (await client.get("/api/v1/funding", headers=brand)).json()
    assert {r["collaboration_id"]: r["escrow_state"] for r in rows} == {str(first.id): "funding",
                                                                        str(second.id): "funding"}
    assert all(r["checkout_url"] for r in rows), rows

    escrow = await client.get(f"/api/v1/collaborations/{first.id}/escrow", headers=brand)
    assert escrow.status_code == 200, escrow.text
    assert escrow.json()["state"] == "funding" and escrow.json()["currency"] == "USD"
    hold = await db.scalar(sa.select(EscrowHold).where(EscrowHold.collaboration_id == first.id))
    assert escrow.json()["gross_amount"] == hold.creator_amount + hold.platform_fee_amount

    creator = await bearer(runtime, first.creator)
    mine = (await client.get(f"/api/v1/collaborations/{first.id}/escrow", headers=creator)).json()
    assert mine["platform_fee_amount"] == 0 and mine["gross_amount"] == mine["creator_amount"]

    statement = await client.get("/api/v1/statements", headers=brand)
    assert statement.status_code == 200 and set(statement.json()) == {"lines", "months"}
    assert (await client.get("/api/v1/statements?month=2026-1", headers=brand)).status_code == 422

    # A deal that is not signed: nothing starts for either deal (all or nothing), with a field message.
    offered = await make_deal(runtime, brand=first.brand, creator=first.creator)
    refused = await client.post("/api/v1/funding", json={"collaboration_ids": [str(offered.id)]}, headers=brand)
    assert refused.status_code == 422 and refused.json()["errors"][0]["field"] == "collaboration_id"
    assert await db.scalar(sa.select(EscrowHold).where(EscrowHold.collaboration_id == offered.id)) is None


async def test_profiles_team_and_reliability(client, runtime, people) -> None:
    deal = await make_deal(runtime)
    brand, creator = await bearer(runtime, deal.brand), await bearer(runtime, deal.creator)

    profile = await client.get("/api/v1/brand", headers=brand)
    assert profile.status_code == 200 and profile.json()["name"] == "GlowLab"
    updated = await client.put("/api/v1/brand", json={"name": "GlowLab Labs", "country": "US",
                                                      "website": "https://glowlab.example"}, headers=brand)
    assert updated.status_code == 200 and updated.json()["name"] == "GlowLab Labs"
    bad = await client.put("/api/v1/brand", json={"name": "", "country": "USA"}, headers=brand)
    assert bad.status_code == 422 and {e["field"] for e in bad.json()["errors"]} >= {"name", "country"}
    team = (await client.get("/api/v1/brand/team", headers=brand)).json()
    assert [(m["email"], m["role"]) for m in team["members"]] == [(deal.brand.email, "owner")]

    me = await client.get("/api/v1/creator/profile", headers=creator)
    assert me.status_code == 200 and me.json()["id"] == str(deal.creator.creator_id)
    assert me.json()["accounts"] and me.json()["has_shipping_address"] is True
    changed = await client.put("/api/v1/creator/profile", json={"display_name": "Ava B.", "bio": "Skincare",
                                                                "country": "US", "niches": ["skincare"]},
                               headers=creator)
    assert changed.status_code == 200, changed.text
    assert changed.json()["display_name"] == "Ava B." and changed.json()["niches"] == ["skincare"]

    for headers in (brand, creator):
        r = await client.get(f"/api/v1/creators/{deal.creator.creator_id}/reliability", headers=headers)
        assert r.status_code == 200 and r.json()["subject"] == "creator" and r.json()["tier"] == "new"
        b = await client.get(f"/api/v1/brands/{deal.brand.brand_id}/reliability", headers=headers)
        assert b.status_code == 200 and b.json()["name"] == "GlowLab Labs"
    missing = await client.get(f"/api/v1/brands/{deal.creator.creator_id}/reliability", headers=brand)
    assert missing.status_code == 404


async def _snapshot(db) -> tuple:
    brands = [(b.id, b.name, b.country) for b in await db.scalars(sa.select(Brand).order_by(Brand.id))]
    creators = [(c.id, c.display_name, c.bio) for c in await db.scalars(sa.select(Creator).order_by(Creator.id))]
    deals = [(c.id, str(c.status)) for c in await db.scalars(sa.select(Collaboration).order_by(Collaboration.id))]
    holds = await db.scalar(sa.select(sa.func.count(EscrowHold.id)))
    return brands, creators, deals, holds


async def test_deal_api_authorization_matrix(client, runtime, people, db) -> None:
    deal = await make_deal(runtime, CollabState.SIGNED)
    rival = await people.brand(brand_name="Rival")
    stranger = await people.creator(name="Stranger")
    owner, creator = await bearer(runtime, deal.brand), await bearer(runtime, deal.creator)
    rival_h, stranger_h = await bearer(runtime, rival), await bearer(runtime, stranger)
    finance = await _finance_member(runtime, people, deal.brand)
    fund = ("POST", "/api/v1/funding", {"collaboration_ids": [str(deal.id)]})
    escrow = ("GET", f"/api/v1/collaborations/{deal.id}/escrow", None)
    brand_put = ("PUT", "/api/v1/brand", {"name": "Hijacked"})
    creator_put = ("PUT", "/api/v1/creator/profile", {"display_name": "Hijacked"})
    every = [fund, escrow, brand_put, creator_put,
             ("GET", "/api/v1/funding", None), ("GET", "/api/v1/statements", None),
             ("GET", "/api/v1/brand", None), ("GET", "/api/v1/brand/team", None),
             ("GET", "/api/v1/creator/profile", None),
             ("GET", f"/api/v1/creators/{deal.creator.creator_id}/reliability", None),
             ("GET", f"/api/v1/brands/{deal.brand.brand_id}/reliability", None)]
    expected = [
        # (who, request, status)
        *[("anonymous", r, 401) for r in every],
        ("creator", fund, 403), ("creator", brand_put, 403), ("creator", ("GET", "/api/v1/brand/team", None), 403),
        ("owner", creator_put, 403), ("owner", ("GET", "/api/v1/creator/profile", None), 403),
        ("finance", brand_put, 403),
        ("rival", fund, 404), ("rival", escrow, 404), ("stranger", escrow, 404),
    ]
    headers = {"anonymous": {}, "owner": owner, "creator": creator, "rival": rival_h, "stranger": stranger_h,
               "finance": finance}
    before = await _snapshot(db)
    for who, (method, path, body), status in expected:
        response = await client.request(method, path, headers=headers[who], **({"json": body} if body else {}))
        assert response.status_code == status, (who, method, path, response.status_code, response.text[:200])
        assert response.headers["content-type"].startswith("application/problem+json"), (who, path)
    assert await _snapshot(db) == before
    # The same requests by those allowed do go through (so the denials above are about who asks).
    assert (await client.get(escrow[1], headers=creator)).status_code in (200, 404)
    assert (await client.get("/api/v1/brand/team", headers=finance)).status_code == 200
    allowed = await client.post(fund[1], json=fund[2], headers=finance)
    assert allowed.status_code == 202, allowed.text
