"""Stores through the real pages in Chromium, against the Shopify stand-in: the brand connects the shop and picks a
product with sizes for the gig, each creator chooses a size while signing, the brand funds the three deals in one
checkout, PostPact creates the $0 seeding orders (the bulk button then has nothing left to do), the stand-in ships
them and its signed webhooks move every deal to shipped, with the tracking link shown to the creator. The same with
the WooCommerce stand-in (its Shipment Tracking metadata on order.updated ships the deal)."""

from __future__ import annotations

import re
from typing import Any

import pytest
import sqlalchemy as sa
from playwright.async_api import Page, expect

from marketplace.collaborations.models import Collaboration, Shipment
from marketplace.db import session_scope
from marketplace.stores.models import SeedingOrder
from tests.fakes.shopify_server import ShopifyServer
from tests.fakes.woocommerce_server import WooCommerceServer
from tests.support.browser import (
    connect_shopify,
    connect_woocommerce,
    deliver_webhooks,
    live_backends,
    server_jobs_done,
    sign_in,
)
from tests.support.deals import make_deal


@pytest.fixture
def shop() -> Any:
    with ShopifyServer() as server:
        yield server


async def status_is(page: Page, status: str) -> None:
    await expect(page.get_by_test_id("deal-status")).to_have_text(status)


@pytest.mark.parametrize("live_server", live_backends(), indirect=True)
async def test_shopify_store_to_shipped_deals_through_the_pages(browser: Any, live_server: Any, live_people: Any,
                                                                shop: ShopifyServer) -> None:
    runtime = live_people.runtime
    shop.add_product("Linen tee", options=["Size"], variants=[
        {"options": ["S"], "price": "25.00", "inventory": 5},
        {"options": ["M"], "price": "25.00", "inventory": 5},
        {"options": ["L"], "price": "25.00", "inventory": 0}])
    brand_person = await live_people.brand(brand_name="GlowLab")
    deals = [await make_deal(runtime, brand=brand_person, creator=await live_people.creator(name=f"Creator {n}"),
                             title="Linen tee try-on") for n in range(3)]
    gig_id = deals[0].gig_id
    async with session_scope(runtime.session_maker) as session:  # the factory makes a gig per deal: one gig here
        await session.execute(sa.update(Collaboration).where(Collaboration.id.in_([d.id for d in deals]))
                              .values(gig_id=gig_id))

    brand_context = await browser.new_context(base_url=live_server.url)
    try:
        brand = await brand_context.new_page()
        await sign_in(brand, brand_person)

        # Connect the shop; the catalog sync and webhook subscriptions run in the background.
        await connect_shopify(brand, live_server, shop, "GlowLab Shopify")
        await brand.get_by_role("button", name="Test connection").click()
        await expect(brand.get_by_text("Connected to")).to_be_visible()
        await brand.reload()
        await expect(brand.get_by_role("cell", name="Linen tee")).to_be_visible()

        # Pick the product with sizes for the gig.
        await brand.goto(f"/brand/stores/gigs/{gig_id}")
        await brand.get_by_label("Product from your store").select_option(label="GlowLab Shopify · Linen tee")
        await brand.get_by_role("button", name="Use this product").click()
        await expect(brand.get_by_text("The gig's product is set.")).to_be_visible()

        # Each creator chooses a size while signing; the sold-out L is not offered.
        for deal, size in zip(deals, ["M", "M", "S"], strict=True):
            context = await browser.new_context(base_url=live_server.url)
            try:
                creator = await context.new_page()
                await sign_in(creator, deal.creator)
                await creator.goto(deal.url)
                choice = creator.get_by_label("Your size of Linen tee")
                await expect(choice.locator("option")).to_have_text(["Choose", "S", "M"])
                await choice.select_option(label=size)
                await creator.get_by_role("button", name="Sign the terms").click()
                await status_is(creator, "signed")
                await expect(creator.get_by_test_id("product-variant")).to_have_text(
                    f"Chosen at signing: Linen tee \N{EN DASH} Size {size}")
            finally:
                await context.close()

        # The brand funds the three deals in one checkout; funding queues a $0 seeding order per deal.
        await brand.goto("/brand/payments")
        await brand.get_by_role("button", name="Fund selected deals").click()
        await expect(brand).to_have_url(re.compile(r"/brand/payments/checkout\?c="))
        # The page refreshes itself until the payments are ready at the (simulated) provider.
        await brand.get_by_role("link", name="Pay all 3 at once (simulated)").click()
        await brand.get_by_role("button", name="Pay (simulated)").click()
        await expect(brand.get_by_text("Payment received (simulated).")).to_be_visible()
        await server_jobs_done(live_server)
        assert len(shop.state.orders) == 3
        assert all(o["total_price"] == "0.00" for o in shop.state.orders.values())

        # The bulk action on the seeding page: every order exists already, nothing is created twice.
        await brand.goto(f"/brand/stores/gigs/{gig_id}")
        await brand.get_by_role("button", name="Create seeding orders for funded deals").click()
        await expect(brand.get_by_text("0 order(s) queued.")).to_be_visible()
        await server_jobs_done(live_server)
        assert len(shop.state.orders) == 3
        async with runtime.session_maker() as session:
            names = sorted((await session.scalars(sa.select(SeedingOrder.order_name))).all())
        assert names == sorted(o["name"] for o in shop.state.orders.values())

        # The stand-in ships the orders; its signed webhooks reach the live server and ship the deals.
        for n, order in enumerate(shop.state.orders.values()):
            shop.fulfill(f"gid://shopify/Order/{order['id']}", "UPS", f"1Z999AA1012345678{n}")
        await deliver_webhooks(shop, live_server)
        await brand.reload()
        await expect(brand.locator("tbody tr").filter(has_text="shipped")).to_have_count(3)
    finally:
        await brand_context.close()

    # The creator sees the tracking link.
    context = await browser.new_context(base_url=live_server.url)
    try:
        creator = await context.new_page()
        await sign_in(creator, deals[0].creator)
        await creator.goto(deals[0].url)
        await status_is(creator, "shipped")
        async with runtime.session_maker() as session:
            tracking = await session.scalar(sa.select(Shipment).where(Shipment.collaboration_id == deals[0].id))
        assert tracking is not None and tracking.carrier == "UPS"
        link = creator.get_by_role("link", name=tracking.tracking_number)
        await expect(link).to_have_attribute("href", f"https://www.ups.com/track?tracknum={tracking.tracking_number}")
    finally:
        await context.close()


@pytest.fixture
def site() -> Any:
    with WooCommerceServer() as server:
        yield server


async def test_woocommerce_store_to_shipped_deal_through_the_pages(browser: Any, live_server: Any, live_people: Any,
                                                                   site: WooCommerceServer) -> None:
    runtime = live_people.runtime
    site.add_product("Linen tee", price="25.00", attributes={"Size": ["S", "M"]},
                     variations=[{"options": ["S"], "stock": 0}, {"options": ["M"], "stock": 4}])
    brand_person = await live_people.brand(brand_name="GlowLab")
    deal = await make_deal(runtime, brand=brand_person, title="Linen tee on WooCommerce")
    context = await browser.new_context(base_url=live_server.url)
    try:
        brand = await context.new_page()
        await sign_in(brand, brand_person)
        await connect_woocommerce(brand, live_server, site, "GlowLab Woo")
        await brand.goto(f"/brand/stores/gigs/{deal.gig_id}")
        await brand.get_by_label("Product from your store").select_option(label="GlowLab Woo · Linen tee")
        await brand.get_by_role("button", name="Use this product").click()
        await expect(brand.get_by_text("The gig's product is set.")).to_be_visible()

        creator_context = await browser.new_context(base_url=live_server.url)
        try:
            creator = await creator_context.new_page()
            await sign_in(creator, deal.creator)
            await creator.goto(deal.url)
            choice = creator.get_by_label("Your size of Linen tee")
            await expect(choice.locator("option")).to_have_text(["Choose", "M"])  # S is sold out
            await choice.select_option(label="M")
            await creator.get_by_role("button", name="Sign the terms").click()
            await status_is(creator, "signed")
        finally:
            await creator_context.close()

        await brand.goto("/brand/payments")
        await brand.get_by_role("button", name="Fund selected deals").click()
        await brand.get_by_role("link", name=re.compile(r"^Pay \$")).click()
        await brand.get_by_role("button", name="Pay (simulated)").click()
        await expect(brand.get_by_text("Payment received (simulated).")).to_be_visible()
        await server_jobs_done(live_server)
        [order] = site.orders.values()
        assert order["total"] == "0.00" and order["shipping"]["address_1"] == "12 Orchard Lane"
        assert [line.get("variation_id") for line in order["line_items"]] == [
            next(vid for vid, v in site.variations.items() if v["attributes"][0]["option"] == "M")]

        site.ship(order["id"], "USPS", "9400111899223197428490")
        await deliver_webhooks(site, live_server)
        await brand.goto(deal.url)
        await status_is(brand, "shipped")
        await expect(brand.get_by_role("link", name="9400111899223197428490")).to_have_attribute(
            "href", re.compile(r"^https://tools\.usps\.com/"))
    finally:
        await context.close()
