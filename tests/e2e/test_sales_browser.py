"""Sales through the real pages in Chromium: a signed deal's code, orders attributed to it and their commission held,
then approved; the brand funds its commission budget on the page and pays at the (simulated) checkout; commission is
paid out through escrow; the brand sees the sales report (GMV, commission, cost, ROI, the charts' tables) and the
payout, and the creator sees their code, their sales and the commission paid."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from playwright.async_api import expect

from marketplace.db import session_scope
from marketplace.sales.payouts import pay_commissions
from marketplace.sales.reports import brand_report
from marketplace.sales.services import approve_due, attribute_order
from marketplace.stores.models import StoreConnection, StoreOrder
from tests.integration.sales.helpers import signed_deal
from tests.support.browser import live_backends, server_jobs_done, sign_in
from tests.support.escrow import onboard_creator, run_jobs


@pytest.mark.parametrize("live_server", live_backends(), indirect=True)
async def test_brand_sees_attributed_sales_and_pays_commission_creator_sees_codes_and_commission(
        browser: Any, live_server: Any, live_people: Any) -> None:
    runtime = live_people.runtime
    brand_person = await live_people.brand(brand_name="GlowLab")
    creator_person = await live_people.creator(name="Ava Brooks")
    deal = await signed_deal(runtime, brand_person, creator_person)  # 12.5% commission, code AVA-GLOW15
    await onboard_creator(runtime, creator_person)
    now = runtime.clock.now()
    async with session_scope(runtime.session_maker) as session:
        store = StoreConnection(brand_id=brand_person.brand_id, platform="custom", name="Shop", secret_hints={})
        session.add(store)
        await session.flush()
        for n, (total, codes) in enumerate([(10_000, [{"code": "AVA-GLOW15"}]), (4_000, [{"code": "ava-glow15"}]),
                                            (2_500, [])]):
            order = StoreOrder(store_id=store.id, external_id=str(n), name=f"#{1001 + n}",
                               email=f"buyer{n}@example.com", currency="USD", total_amount=total,
                               subtotal_amount=total, discount_codes=codes, refund_ids=[],
                               placed_at=now + timedelta(minutes=1 + n))
            session.add(order)
            await session.flush()
            await attribute_order(session, order, brand_person.brand_id, now)

    brand_context = await browser.new_context(base_url=live_server.url)
    creator_context = await browser.new_context(base_url=live_server.url)
    try:
        # The creator sees the code and the commission held until the return window passes.
        creator = await creator_context.new_page()
        await sign_in(creator, creator_person)
        await creator.goto("/creator/sales")
        await expect(creator.get_by_role("cell", name="AVA-GLOW15", exact=True)).to_be_visible()
        await expect(creator.get_by_role("cell", name="#1001", exact=True)).to_be_visible()
        await expect(creator.get_by_role("cell", name="pending", exact=True).first).to_be_visible()
        # 1,250 + 500 pending
        await expect(creator.get_by_role("cell", name="$17.50", exact=True).first).to_be_visible()

        # The brand funds a $50.00 commission budget and pays at the simulated checkout.
        brand = await brand_context.new_page()
        await sign_in(brand, brand_person)
        await brand.goto("/brand/sales/commission")
        await expect(brand.get_by_text("No commission budget yet.")).to_be_visible()
        await brand.get_by_label("Amount (in cents or the currency's minor units)").fill("12.5")
        await brand.get_by_role("button", name="Fund").click()
        await expect(brand.get_by_text("A whole number of minor units")).to_be_visible()  # re-rendered, no 500
        await brand.get_by_label("Amount (in cents or the currency's minor units)").fill("5000")
        await brand.get_by_role("button", name="Fund").click()
        await expect(brand.get_by_text("Budget payment of $50.00 started")).to_be_visible()
        await server_jobs_done(live_server)
        await brand.reload()
        await brand.get_by_role("button", name="Pay (simulated)").click()
        await expect(brand.get_by_text("Payment received (simulated).")).to_be_visible()
        await expect(brand.get_by_test_id("available-USD")).to_have_text("$50.00")

        # The hold passes; the commission is approved and paid out of the budget through escrow.
        async with session_scope(runtime.session_maker) as session:
            assert await approve_due(session, now + timedelta(days=31)) == 2
            run = await pay_commissions(session, now, runtime.settings)
        assert run.paid == 1
        await run_jobs(runtime)
        await brand.reload()
        await expect(brand.get_by_test_id("available-USD")).to_have_text("$32.50")
        payouts = brand.locator("section#budget-USD table").nth(2)
        await expect(payouts.get_by_role("row").nth(1)).to_contain_text("Ava Brooks")
        await expect(payouts.get_by_role("row").nth(1)).to_contain_text("$17.50")
        await expect(payouts.get_by_role("row").nth(1)).to_contain_text("paid")

        # The report: GMV, commission, total cost and ROI for Ava, to the cent, with the charts' tables.
        async with runtime.session_maker() as session:
            report = await brand_report(session, brand_person.brand_id, now - timedelta(days=1),
                                        now + timedelta(days=1), fee_bps=runtime.settings.app.platform_fee_bps)
        [ava] = report.by_creator
        assert (ava.gmv, ava.commission, ava.orders) == (14_000, 1_750, 2)
        await brand.goto("/brand/sales")
        row = brand.get_by_role("row").filter(has_text="Ava Brooks").filter(has_text="$140.00").last
        await expect(row).to_contain_text("$17.50")
        await expect(row).to_contain_text(f"${ava.total_cost / 100:,.2f}")
        await expect(row).to_contain_text(f"{ava.roi:.2f}\u00d7")
        await expect(brand.get_by_role("img", name="GMV per day in USD")).to_be_visible()
        await expect(brand.get_by_role("img", name="GMV and total cost per creator in USD")).to_be_visible()

        # The creator sees the commission paid.
        await creator.reload()
        await expect(creator.get_by_role("cell", name="paid", exact=True).first).to_be_visible()
        payout_row = creator.get_by_role("row").filter(has_text="$17.50").filter(has_text="paid").first
        await expect(payout_row).to_be_visible()
        assert deal.id
    finally:
        await brand_context.close()
        await creator_context.close()
