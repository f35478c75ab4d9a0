"""Issue 12's acceptance through the real pages in Chromium, on the Shopify stand-in: the brand connects the shop, the
creator signs the deal and its discount code is created in the shop, the creator sees the code and the link; three
people follow the link in the browser; the shop's signed webhooks bring 2 orders with the code and 1 through the link,
one partly refunded inside the hold; the brand funds its commission budget on the page and pays at the (simulated)
checkout; the clock passes the hold and the jobs approve and pay the commission through escrow; an order refunded
after the payout is carried against the creator; the brand's report shows GMV, commission, cost and ROI to the cent,
and the creator sees their code, their sales and the commission paid."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

import pytest
from playwright.async_api import Page, expect

from marketplace.collaborations.states import CollabState
from marketplace.i18n import format_money
from marketplace.jobs import REGISTRY
from marketplace.sales.jobs import APPROVE_JOB, PAY_JOB
from tests.fakes.shopify_server import ShopifyServer
from tests.integration.sales.helpers import signed_deal
from tests.support.browser import connect_shopify, deliver_webhooks, live_backends, server_jobs_done, sign_in
from tests.support.deals import _give_address
from tests.support.escrow import onboard_creator, run_jobs

COMMISSION_BPS = 1250  # the deal's gig: 12.5% of the order's merchandise after discounts and refunds
FEE, PRODUCT_VALUE = 15_000, 4_500  # the deal's fee and its product's declared value (no store cost known)
HOLD_DAYS = 30  # the gig's default hold (the return window)
AGENTS = ("Mozilla/5.0 (iPhone) Safari", "Mozilla/5.0 (Android) Chrome", "Mozilla/5.0 (Mac) Firefox")


def commission(cents: int) -> int:
    """The rule: a share of the order's net merchandise, rounded down to the minor unit."""
    return cents * COMMISSION_BPS // 10_000


def usd(cents: int) -> str:
    return format_money(cents, "USD", locale="en")


@pytest.fixture
def shop() -> Any:
    with ShopifyServer() as server:
        yield server


async def statement_cell(page: Page, label: str) -> Any:
    return page.locator("table").nth(1).locator(f'td[data-label="{label}"]').first


@pytest.mark.parametrize("live_server", live_backends(), indirect=True)
async def test_store_code_link_webhook_orders_refunds_hold_commission_and_report_through_the_pages(
        browser: Any, live_server: Any, live_people: Any, live_runtime_at: Any, shop: ShopifyServer) -> None:
    runtime = live_people.runtime
    brand_person = await live_people.brand(brand_name="GlowLab")
    creator_person = await live_people.creator(name="Ava Brooks")
    deal = await signed_deal(runtime, brand_person, creator_person, commission_bps=COMMISSION_BPS,
                             state=CollabState.OFFERED)  # code AVA-GLOW15 once signed
    await _give_address(runtime, creator_person)  # the product is shipped: signing needs an address
    await onboard_creator(runtime, creator_person)

    brand_context = await browser.new_context(base_url=live_server.url)
    creator_context = await browser.new_context(base_url=live_server.url)
    try:
        # The brand connects the shop; the webhook subscriptions are made in the background.
        brand = await brand_context.new_page()
        await sign_in(brand, brand_person)
        await connect_shopify(brand, live_server, shop, "GlowLab Shopify")
        assert {s["topic"] for s in shop.state.subscriptions} >= {"orders/create", "refunds/create"}

        # The creator signs; the discount code is created in the shop, and the creator sees it with the link.
        creator = await creator_context.new_page()
        await sign_in(creator, creator_person)
        await creator.goto(deal.url)
        await creator.get_by_role("button", name="Sign the terms").click()
        await expect(creator.get_by_test_id("deal-status")).to_have_text("signed")
        await server_jobs_done(live_server)
        discount = shop.state.discounts["AVA-GLOW15"]
        assert f"postpact-collab-{deal.id}-code" in discount["title"]
        await creator.goto("/creator/sales")
        codes = creator.locator("table").first.get_by_role("row").filter(has_text="AVA-GLOW15")
        await expect(codes.locator('td[data-label="Status"]')).to_have_text("created")
        link = (await codes.locator('td[data-label="Link"]').inner_text()).strip()
        assert "/r/" in link, link
        slug = link.rsplit("/r/", 1)[1]

        # Three people follow the link in the browser and land on the shop with the code applied.
        for agent in AGENTS:
            visitor = await browser.new_context(base_url=live_server.url, user_agent=agent)
            try:
                page = await visitor.new_page()
                await page.goto(f"/r/{slug}")
                assert page.url.startswith(f"{shop.url}/discount/AVA-GLOW15?redirect="), page.url
            finally:
                await visitor.close()
        assert sum(p.startswith("/discount/AVA-GLOW15") for p in shop.requests) == len(AGENTS)

        # The shop's signed webhooks: 2 orders with the code (any case), 1 through the link; the second order is
        # partly refunded inside the hold.
        first = shop.place_order(email="buyer1@example.com", total="80.00",
                                 discount_codes=[{"code": "AVA-GLOW15", "amount": "14.12"}])
        second = shop.place_order(email="buyer2@example.com", total="42.50",
                                  discount_codes=[{"code": "ava-glow15", "amount": "7.50"}])
        shop.place_order(email="buyer3@example.com", total="60.00",
                         landing_site=f"/products/serum?utm_source=postpact&utm_medium=creator&ref={slug}")
        await deliver_webhooks(shop, live_server)
        shop.refund(second, "17.00")
        await deliver_webhooks(shop, live_server)
        names = [o["name"] for o in shop.state.orders.values()]
        nets = [8_000, 4_250 - 1_700, 6_000]
        owed = sum(commission(n) for n in nets)
        assert owed == 1_000 + 318 + 750

        # The creator sees the code's and the link's sales, their commission pending until the hold passes.
        await creator.reload()
        for name, net in zip(names, nets, strict=True):
            row = creator.get_by_role("row").filter(has_text=name)
            await expect(row.locator('td[data-label="Commission"]')).to_have_text(usd(commission(net)))
            await expect(row.locator('td[data-label="State"]')).to_have_text("pending")
        await expect(await statement_cell(creator, "Pending")).to_have_text(usd(owed))

        # The brand funds a $50.00 commission budget and pays at the simulated checkout.
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

        # The clock passes the hold; the jobs approve the commission and pay it out of the budget through escrow.
        later = live_runtime_at(datetime.now(UTC) + timedelta(days=HOLD_DAYS + 1))
        for job in (APPROVE_JOB, PAY_JOB, APPROVE_JOB, PAY_JOB):  # twice is the same as once
            await REGISTRY[job].function(later.job_context())
            await run_jobs(later)
        await brand.reload()
        await expect(brand.get_by_test_id("available-USD")).to_have_text(usd(5_000 - owed))
        payouts = brand.locator("section#budget-USD table").nth(2)
        await expect(payouts.get_by_role("row")).to_have_count(2)  # the header and one payout
        await expect(payouts.get_by_role("row").nth(1)).to_contain_text("Ava Brooks")
        await expect(payouts.get_by_role("row").nth(1)).to_contain_text(usd(owed))
        await expect(payouts.get_by_role("row").nth(1)).to_contain_text("paid")
        await creator.reload()
        await expect(await statement_cell(creator, "Paid")).to_have_text(usd(owed))
        await expect(await statement_cell(creator, "Pending")).to_have_text(usd(0))

        # Half of the first order comes back after the payout: its commission is reduced and the difference carried
        # against the creator (a negative balance), never pulled back.
        shop.refund(first, "40.00")
        await deliver_webhooks(shop, live_server)
        nets[0] = 8_000 - 4_000
        carried = sum(commission(n) for n in nets) - owed
        assert carried == -500
        await creator.reload()
        await expect(await statement_cell(creator, "Carried")).to_have_text(usd(carried))
        await expect(await statement_cell(creator, "Paid")).to_have_text(usd(owed))
        await expect(creator.get_by_role("row").filter(has_text=names[0]).locator(
            'td[data-label="Commission"]')).to_have_text(usd(commission(nets[0])))
        payout_row = creator.get_by_role("row").filter(has_text=usd(owed)).filter(has_text="paid").first
        await expect(payout_row).to_be_visible()
        await brand.reload()
        await expect(brand.get_by_test_id("available-USD")).to_have_text(usd(5_000 - owed))  # nothing went back

        # The brand's report for Ava, to the cent: 3 clicks, 3 orders, GMV after the refunds, commission on it, the
        # total cost (fee + product + commission + PostPact's fee on the fee) and ROI = GMV / total cost.
        gmv, earned = sum(nets), sum(commission(n) for n in nets)
        cost = FEE + PRODUCT_VALUE + earned + FEE * runtime.settings.app.platform_fee_bps // 10_000
        await brand.goto("/brand/sales")
        row = brand.locator("table.stack").get_by_role("row").filter(has_text="Ava Brooks")
        await expect(row.locator('td[data-label="Clicks"]')).to_have_text(str(len(AGENTS)))
        await expect(row.locator('td[data-label="Orders"]')).to_have_text("3")
        await expect(row.locator('td[data-label="GMV"]')).to_have_text(usd(gmv))
        await expect(row.locator('td[data-label="Commission"]')).to_have_text(usd(earned))
        await expect(row.locator('td[data-label="Total cost"]')).to_have_text(usd(cost))
        # ROI to the basis point, as the report computes it (half up) and the page shows it (at least 2 decimals).
        roi = f"{(Decimal(gmv) / cost).quantize(Decimal('0.0001'), ROUND_HALF_UP):.4f}"
        await expect(row.locator('td[data-label="ROI"]')).to_have_text(re.sub(r"(\.\d\d\d?)0+$", r"\1", roi) + "\u00d7")
        await expect(brand.get_by_role("img", name="GMV per day in USD")).to_be_visible()
        await expect(brand.get_by_role("img", name="GMV and total cost per creator in USD")).to_be_visible()
    finally:
        await brand_context.close()
        await creator_context.close()
