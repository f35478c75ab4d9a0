"""A gig's sales settings: checked per field (422, nothing saved), used by the next signed deal's code and link;
orders imported by CSV are attributed like webhook orders."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from marketplace.collaborations.states import CollabState
from marketplace.db import session_scope
from marketplace.jobs import REGISTRY
from marketplace.sales.models import DealTracking, GigSalesSettings, SaleAttribution
from marketplace.sales.services import CREATE_CODE_JOB, code_for, defaults
from tests.fakes.shopify_server import ShopifyServer
from tests.integration.sales.helpers import connect_shopify, signed_deal
from tests.integration.stores.conftest import woo_body
from tests.support.deals import Deal, advance_deal, bearer, insert_offer


async def test_bad_settings_are_422_per_field_and_save_nothing(client: Any, runtime: Any, people: Any,
                                                               db: Any) -> None:
    brand = await people.brand(brand_name="GlowLab")
    async with session_scope(runtime.session_maker) as session:
        rows = await insert_offer(session, brand, await people.creator(name="Ava"), now=runtime.clock.now())
    headers = await bearer(runtime, brand)
    bad = await client.put(f"/api/v1/gigs/{rows.gig_id}/sales-settings", headers=headers, json={
        "discount_kind": "bogo", "discount_value": 0, "hold_days": 91, "attribution_window_days": 0,
        "landing_url": "javascript:alert(1)"})
    assert bad.status_code == 422
    assert {e["field"] for e in bad.json()["errors"]} == {"discount_kind", "discount_value", "hold_days",
                                                          "attribution_window_days", "landing_url"}
    assert await db.scalar(sa.select(sa.func.count()).select_from(GigSalesSettings)) == 0
    other = await bearer(runtime, await people.brand(brand_name="Other"))
    assert (await client.put(f"/api/v1/gigs/{rows.gig_id}/sales-settings", headers=other,
                             json={"hold_days": 10})).status_code == 404
    good = await client.put(f"/api/v1/gigs/{rows.gig_id}/sales-settings", headers=headers, json={
        "discount_kind": "fixed", "discount_value": 1_000, "usage_limit": 50, "hold_days": 14,
        "landing_url": "https://glowlab.example/serum"})
    assert good.status_code == 200 and good.json()["hold_days"] == 14, good.text
    assert (await client.get(f"/api/v1/gigs/{rows.gig_id}/sales-settings", headers=headers)).json() == good.json()


async def test_the_next_deal_uses_the_settings_in_the_store_and_link(
        client: Any, brand_api: Any, people: Any, db: Any, shopify: ShopifyServer, queue: Any, runtime: Any) -> None:
    await connect_shopify(client, brand_api, shopify, queue, runtime)
    creator = await people.creator(name="Ava")
    async with session_scope(runtime.session_maker) as session:
        rows = await insert_offer(session, brand_api.person, creator, now=runtime.clock.now(),
                                  gig={"title": "Spring serum", "commission_bps": 1000})
    response = await client.put(f"/api/v1/gigs/{rows.gig_id}/sales-settings", headers=brand_api.headers, json={
        "discount_kind": "fixed", "discount_value": 1_000, "usage_limit": 50, "hold_days": 14,
        "landing_url": "https://glowlab.example/serum"})
    assert response.status_code == 200

    deal = Deal(rows.collaboration_id, brand_api.person, creator, rows.gig_id, rows.application_id, rows.account_id,
                "tiktok", rows.handle, True)
    await advance_deal(runtime, deal, CollabState.SIGNED)
    await queue.run_all(runtime.job_context())
    tracking = await db.scalar(sa.select(DealTracking))
    assert tracking.code.endswith("-SPRING10")  # 10.00 off
    created = shopify.state.discounts[tracking.code]
    assert created["customerGets"]["value"] == {"discountAmount": {"amount": "10.00", "appliesOnEachItem": False}}
    assert created["usageLimit"] == 50
    assert tracking.target_url.startswith("https://glowlab.example/discount/")  # Shopify applies the code
    assert "redirect=%2Fserum%3Futm_source%3Dpostpact" in tracking.target_url


async def test_settings_page_form(web: Any, runtime: Any, people: Any) -> None:
    brand = await people.brand(brand_name="GlowLab")
    deal = await signed_deal(runtime, brand, await people.creator(name="Ava"))
    await web.sign_in(brand.email, brand.password)
    page = await web.get(f"/brand/sales/gigs/{deal.gig_id}")
    assert page.status_code == 200 and 'name="hold_days" value="30"' in page.text
    bad = await web.post(f"/brand/sales/gigs/{deal.gig_id}", data={"discount_kind": "percent",
                                                                  "discount_value": "150", "hold_days": "30",
                                                                  "attribution_window_days": "30"})
    assert bad.status_code == 422 and "from 1 to 100" in bad.text
    ok = await web.post(f"/brand/sales/gigs/{deal.gig_id}", data={"discount_kind": "percent", "discount_value": "20",
                                                                 "hold_days": "0", "attribution_window_days": "7"})
    assert ok.status_code in (200, 303)


async def test_csv_imported_orders_are_attributed(client: Any, runtime: Any, people: Any, db: Any,
                                                  brand_api: Any) -> None:
    deal = await signed_deal(runtime, brand_api.person, await people.creator(name="Ava"))
    store = (await client.post("/api/v1/stores", json={"platform": "custom", "name": "Shop"},
                               headers=brand_api.headers)).json()
    csv = ("order_id,total,email,discount_codes,placed_at\n"
           f"9001,40.00,fan@example.com,AVA-GLOW15,{(runtime.clock.now()).isoformat()}\n")
    response = await client.post(f"/api/v1/stores/{store['id']}/orders/import", content=csv.encode(),
                                 headers={**brand_api.headers, "Content-Type": "text/csv"})
    assert response.status_code == 200, response.text
    row = await db.scalar(sa.select(SaleAttribution))
    assert (row.reason, row.collaboration_id, row.commission_amount) == ("code", deal.id, 500)
    assert code_for("ava", "Glow serum launch", defaults(deal.gig_id)) == "AVA-GLOW15"


async def test_woocommerce_coupon_created_once_and_orders_matched_in_any_case(
        client: Any, brand_api: Any, people: Any, db: Any, woo: Any, queue: Any, runtime: Any) -> None:
    response = await client.post("/api/v1/stores", json=woo_body(woo), headers=brand_api.headers)
    assert response.status_code == 201, response.text
    await queue.run_all(runtime.job_context())
    deal = await signed_deal(runtime, brand_api.person, await people.creator(name="Ava"))
    await queue.run_all(runtime.job_context())
    await db.execute(sa.update(DealTracking).values(code_status="pending"))  # as if the first run died
    await db.commit()
    await REGISTRY[CREATE_CODE_JOB].function(runtime.job_context(), str(deal.id))
    [coupon] = woo.coupons.values()
    assert (coupon["code"], coupon["discount_type"], coupon["amount"]) == ("ava-glow15", "percent", "15")
    assert coupon["meta_data"] == [{"key": "_postpact_tag", "value": f"postpact-collab-{deal.id}-code"}]
    db.expire_all()
    assert (await db.scalar(sa.select(DealTracking.code_status))).value == "created"
