"""Issue 12's acceptance on the Shopify stand-in, through the API and signed webhooks: a signed deal gets its code
in the store and its link; 3 clicks; 2 orders with the code and 1 through the link; a partial refund inside the hold
(delivered before its order, twice); the hold passes; commission and the brand's report to the cent. Then the money:
a budget smaller than what is owed, the weekly charge for the rest, the payout through escrow, a refund after payout
carried against the next commission, and the unused budget returned — with the ledger's invariants."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import sqlalchemy as sa

from escrow import ledger
from escrow.commission import budget_account, charge_key, iso_week
from escrow.commission_models import CommissionBudget
from escrow.models import PayoutAccount
from marketplace.jobs import REGISTRY
from marketplace.sales.jobs import APPROVE_JOB, PAY_JOB, REFUND_BUDGETS_JOB
from marketplace.sales.models import SaleAttribution
from tests.fakes.shopify_server import ShopifyServer
from tests.integration.sales.helpers import connect_shopify, pay_budget_funding, signed_deal
from tests.support.deals import bearer
from tests.support.escrow import assert_ledger_invariants, onboard_creator, simulated


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

    first = shopify.place_order(email="buyer1@example.com", total="80.00", discount_codes=[{"code": "AVA-GLOW15",
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
    # ROI 16_550 / 22_768 = 0.726897... and conversion 3 / 3, as whole basis points.
    assert row["roi_bps"] == 7_269 and row["aov"]["amount"] == 5_516 and row["conversion_bps"] == 10_000
    gig_report = (await client.get(f"/api/v1/gigs/{deal.gig_id}/report?from={today}&to={clock.now().date()}",
                                   headers=brand_api.headers)).json()
    assert gig_report["rows"] == report["rows"]

    # -- paying it through escrow -------------------------------------------------------------------------------
    async def run(name: str) -> None:
        await REGISTRY[name].function(runtime.job_context())
        await queue.run_all(runtime.job_context())

    async def budget() -> dict[str, Any]:
        [found] = (await client.get("/api/v1/commission/budget", headers=brand_api.headers)).json()
        return found

    async def statement() -> dict[str, Any]:
        [found] = (await client.get("/api/v1/commission/statements", headers=creator_headers)).json()
        return {k: v["amount"] if isinstance(v, dict) else v for k, v in found.items()}

    await onboard_creator(runtime, creator)
    deposit = await client.post("/api/v1/commission/budget/deposits", json={"amount": 1_500, "currency": "USD"},
                                headers=brand_api.headers)
    assert deposit.status_code == 201, deposit.text
    await queue.run_all(runtime.job_context())  # the funding call
    await pay_budget_funding(runtime, deposit.json()["id"])
    assert (await budget())["available"]["amount"] == 1_500

    # 2,068 owed, 1,500 held: nobody is paid yet, and the rest goes on this week's statement, once.
    await run(PAY_JOB)
    await run(PAY_JOB)
    found = await budget()
    assert found["payouts"] == []
    [charge] = [f for f in found["fundings"] if f["kind"] == "charge"]
    week = iso_week(clock.now())
    assert (charge["amount"]["amount"], charge["period"], charge["status"]) == (568, week, "pending")
    assert charge["idempotency_key"] == charge_key(brand_api.person.brand_id, week, "USD")
    await pay_budget_funding(runtime, charge["id"])
    await run(PAY_JOB)
    await run(PAY_JOB)
    [payout] = (await budget())["payouts"]
    assert (payout["amount"]["amount"], payout["status"]) == (2_068, "paid")
    assert payout["idempotency_key"] == (f"commission:{brand_api.person.brand_id}:{creator.creator_id}:USD:payout:1")
    account_ref = await db.scalar(sa.select(PayoutAccount.account_ref).where(
        PayoutAccount.creator_id == creator.creator_id))
    transfers = [t for t in await simulated(runtime).objects("transfer") if t.data["destination"] == account_ref]
    assert [t.data["amount"] for t in transfers] == [2_068]
    assert await statement() | {"next_payable_at": None} == {
        "brand_id": str(brand_api.person.brand_id), "creator_id": str(creator.creator_id), "pending": 0,
        "approved": 0, "paid": 2_068, "carried": 0, "payable": 0, "next_payable_at": None}
    sales = (await client.get(f"/api/v1/collaborations/{deal.id}/sales", headers=creator_headers)).json()
    assert {s["state"] for s in sales["sales"]} == {"paid"}

    # Half of the first order comes back after payout: its commission 1,000 → 500, carried, never pulled back.
    shopify.refund(first, "40.00")
    await deliverer.deliver(shopify)
    await queue.run_all(runtime.job_context())
    owed = await statement()
    assert (owed["paid"], owed["carried"], owed["payable"]) == (2_068, -500, 0)
    assert [t.data["amount"] for t in await simulated(runtime).objects("transfer")
            if t.data["destination"] == account_ref] == [2_068]

    # A later order (48.00 → 600 commission) pays the carried 500 back first: 100 goes out.
    shopify.place_order(email="buyer4@example.com", total="48.00", discount_codes=[{"code": "AVA-GLOW15",
                                                                                  "amount": "8.47"}])
    await deliverer.deliver(shopify)
    await queue.run_all(runtime.job_context())
    clock.advance(days=31)
    await run(APPROVE_JOB)
    await run(PAY_JOB)  # the budget is empty: next week's statement asks for 100
    [charge] = [f for f in (await budget())["fundings"] if f["kind"] == "charge" and f["status"] == "pending"]
    assert charge["amount"]["amount"] == 100 and charge["period"] == iso_week(clock.now()) != week
    await pay_budget_funding(runtime, charge["id"])
    await run(PAY_JOB)
    assert [t.data["amount"] for t in await simulated(runtime).objects("transfer")
            if t.data["destination"] == account_ref] == [2_068, 100]
    owed = await statement()
    assert (owed["paid"], owed["carried"], owed["payable"], owed["approved"]) == (2_168, 0, 0, 0)

    # Money left over is returned at the end of the window; never more than is unused.
    extra = await client.post("/api/v1/commission/budget/deposits", json={"amount": 300, "currency": "USD"},
                              headers=brand_api.headers)
    await queue.run_all(runtime.job_context())
    await pay_budget_funding(runtime, extra.json()["id"])
    too_much = await client.post("/api/v1/commission/budget/refunds", json={"currency": "USD", "amount": 301},
                                 headers=brand_api.headers)
    assert too_much.status_code == 422 and "amount" in too_much.text
    clock.advance(days=60)
    await run(REFUND_BUDGETS_JOB)
    await run(REFUND_BUDGETS_JOB)
    found = await budget()
    assert (found["funded"]["amount"], found["paid_out"]["amount"], found["refunded"]["amount"],
            found["held"]["amount"]) == (2_468, 2_168, 300, 0)
    budget_id = await db.scalar(sa.select(CommissionBudget.id))
    assert await ledger.balance_of(db, budget_account(budget_id),
                                   "USD") == 0
    assert await ledger.balance_of(db, ledger.creator_payable(creator.creator_id), "USD") == 0
    await assert_ledger_invariants(db)
