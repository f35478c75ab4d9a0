"""Issue 12's acceptance on the Shopify stand-in, through the API and signed webhooks: a signed deal gets its code
in the store and its link; 3 clicks; 2 orders with the code and 1 through the link; a partial refund inside the hold
(delivered before its order, twice); the hold passes; commission and the brand's report to the cent."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import sqlalchemy as sa

from marketplace.jobs import REGISTRY
from marketplace.sales.jobs import APPROVE_JOB
from marketplace.sales.models import SaleAttribution
from tests.fakes.shopify_server import ShopifyServer
from tests.integration.sales.helpers import connect_shopify, signed_deal
from tests.support.deals import bearer


async def test_code_link_orders_refund_hold_commission_and_report(
        client: Any, brand_api: Any, people: Any, db: Any, shopify: ShopifyServer, deliverer: Any, queue: Any,
        runtime: Any, clock: Any) -> None:
    # The stand-in stamps orders with the real time: start the clock there.
    clock.set(datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=1))
    today = clock.now().date()
    await connect_shopify(client, brand_api, shopify, queue, runtime)
    creator = await people.creator(name="Ava Brooks")
    deal = await signed_deal(runtime, brand_api.person, creator)
    await queue.run_all(runtime.job_context())  # the discount-code job queued by signing

    tracking = (await client.get(f"/api/v1/collaborations/{deal.id}/tracking", headers=brand_api.headers)).json()
    assert tracking["code"] == "AVA-GLOW15" and tracking["code_status"] == "created", tracking
    discount = shopify.state.discounts["AVA-GLOW15"]
    assert discount["customerGets"]["value"] == {"percentage": 0.15}
    assert f"postpact-collab-{deal.id}-code" in discount["title"]
    creator_headers = await bearer(runtime, creator)
    assert (await client.get(f"/api/v1/collaborations/{deal.id}/tracking", headers=creator_headers)).json() == tracking

    # Three people click (a link unfurler's visit is redirected but not counted).
    path = tracking["link"].split("testserver.local", 1)[-1].split("127.0.0.1:8000", 1)[-1]
    for agent in ("Mozilla/5.0 (iPhone) Safari", "Mozilla/5.0 (Android) Chrome", "Mozilla/5.0 (Mac) Firefox",
                  "facebookexternalhit/1.1"):
        response = await client.get(path, headers={"User-Agent": agent}, follow_redirects=False)
        assert response.status_code == 302
    target = response.headers["location"]
    assert target.startswith(f"{shopify.url}/discount/AVA-GLOW15?redirect=") and "utm_source%3Dpostpact" in target
    slug = path.rsplit("/", 1)[-1]

    shopify.place_order(email="buyer1@example.com", total="80.00", discount_codes=[{"code": "AVA-GLOW15",
                                                                                  "amount": "14.12"}])
    await deliverer.deliver(shopify)
    second = shopify.place_order(email="buyer2@example.com", total="42.50",
                                 discount_codes=[{"code": "ava-glow15", "amount": "7.50"}])
    shopify.refund(second, "17.00")
    # The refund arrives before its order, and every delivery twice: nothing counts twice.
    await deliverer.deliver(shopify, reverse=True, duplicate=True)
    shopify.place_order(email="buyer3@example.com", total="60.00",
                        landing_site=f"/products/serum?utm_source=postpact&utm_medium=creator&ref={slug}")
    shopify.place_order(email=creator.email, total="30.00", discount_codes=[{"code": "AVA-GLOW15", "amount": "5"}])
    await deliverer.deliver(shopify)
    await queue.run_all(runtime.job_context())

    sales = (await client.get(f"/api/v1/collaborations/{deal.id}/sales", headers=creator_headers)).json()
    assert [(s["reason"], s["commission"]["amount"], s["state"]) for s in sales["sales"]] == [
        ("code", 1000, "pending"), ("code", 318, "pending"), ("link", 750, "pending")]
    assert sales["totals"] == [{"orders": 3, "gmv": {"amount": 16_550, "currency": "USD"},
                                "commission": {"amount": 2_068, "currency": "USD"}}]
    self_purchase = await db.scalar(sa.select(SaleAttribution).where(SaleAttribution.reason == "self_purchase"))
    assert self_purchase is not None and self_purchase.collaboration_id is None

    # The hold passes; the job approves (twice is the same as once).
    clock.advance(days=31)
    await REGISTRY[APPROVE_JOB].function(runtime.job_context())
    await REGISTRY[APPROVE_JOB].function(runtime.job_context())
    [statement] = (await client.get("/api/v1/commission/statements", headers=creator_headers)).json()
    assert statement["approved"] == {"amount": 2_068, "currency": "USD"} and statement["pending"]["amount"] == 0
    assert statement["payable"]["amount"] == 2_068

    report = (await client.get(f"/api/v1/reports/creators?from={today}&to={clock.now().date()}",
                               headers=brand_api.headers)).json()
    [row] = report["rows"]
    assert (row["clicks"], row["orders"], row["gmv"]["amount"], row["commission"]["amount"]) == (3, 3, 16_550, 2_068)
    # fee 150.00 + product 45.00 (no store cost known: its declared value) + commission 20.68 + PostPact 8% 12.00
    assert row["total_cost"]["amount"] == 15_000 + 4_500 + 2_068 + 1_200 == 22_768
    assert row["roi"] == 16_550 / 22_768 and row["aov"]["amount"] == 5_516 and row["conversion"] == 1.0
    gig_report = (await client.get(f"/api/v1/gigs/{deal.gig_id}/report?from={today}&to={clock.now().date()}",
                                   headers=brand_api.headers)).json()
    assert gig_report["rows"] == report["rows"]
