"""The deal from offer to submitted post through the real pages in Chromium: brand and creator side by side."""

from __future__ import annotations

import re

from playwright.async_api import Page, expect

from marketplace.collaborations.states import SYSTEM, Action
from marketplace.collaborations.transition import transition
from marketplace.db import session_scope
from tests.support.browser import sign_in
from tests.support.deals import PNG_BYTES, make_deal


async def status_is(page: Page, status: str) -> None:
    await expect(page.get_by_test_id("deal-status")).to_have_text(status)


async def test_offer_to_posted_in_the_browser(browser, live_server, live_people) -> None:
    runtime = live_people.runtime
    deal = await make_deal(runtime)
    brand_context = await browser.new_context(base_url=live_server.url)
    creator_context = await browser.new_context(base_url=live_server.url)
    try:
        brand, creator = await brand_context.new_page(), await creator_context.new_page()
        await sign_in(creator, deal.creator)
        await sign_in(brand, deal.brand)

        # The creator finds the offer in their list and signs the terms.
        await creator.goto("/creator/collaborations")
        await creator.get_by_role("link", name="Glow serum launch").click()
        await expect(creator).to_have_url(re.compile(deal.url + "$"))
        await expect(creator.get_by_test_id("terms-hash")).to_have_text(re.compile(r"^[0-9a-f]{64}$"))
        await creator.get_by_role("button", name="Sign the terms").click()
        await status_is(creator, "signed")
        await expect(creator.get_by_text("You signed the deal.")).to_be_visible()

        # Escrow (built separately) records the funding.
        async with session_scope(runtime.session_maker) as session:
            await transition(session, deal.id, Action.MARK_FUNDED, SYSTEM, now=runtime.clock.now())

        # The brand sees where to ship and records the shipment.
        await brand.goto(deal.url)
        await status_is(brand, "funded")
        await expect(brand.get_by_test_id("shipping-address")).to_contain_text("12 Orchard Lane")
        await brand.get_by_label("Carrier").fill("UPS")
        await brand.get_by_label("Tracking number").fill("1Z999AA10123456784")
        await brand.get_by_role("button", name="Record shipment").click()
        await status_is(brand, "shipped")

        await creator.goto(deal.url)
        await creator.get_by_role("button", name="Confirm receipt").click()
        await status_is(creator, "received")

        # First draft: an uploaded photo.
        await creator.get_by_label("Caption").fill("My morning glow with @glowlab #glowlab #ad")
        await creator.get_by_label("Or upload the file").set_input_files(
            {"name": "glow.png", "mimeType": "image/png", "buffer": PNG_BYTES}
        )
        await creator.get_by_role("button", name="Submit draft").click()
        await status_is(creator, "draft submitted")
        await expect(creator.get_by_role("img", name="Draft 1 image")).to_be_visible()

        await brand.goto(deal.url)
        await expect(brand.get_by_role("img", name="Draft 1 image")).to_be_visible()
        await brand.get_by_label("What should change?").fill("Please show the label in the first second.")
        await brand.get_by_role("button", name="Request changes").click()
        await status_is(brand, "changes requested")

        # Second draft: a link to the video.
        await creator.goto(deal.url)
        await expect(creator.get_by_text("Please show the label in the first second.").first).to_be_visible()
        await creator.get_by_label("Caption").fill("Label first this time @glowlab #glowlab #ad")
        await creator.get_by_label("Link to the photo or video").fill("https://drive.example.com/take-two.mp4")
        await creator.get_by_role("button", name="Submit draft").click()
        await status_is(creator, "draft submitted")

        await brand.goto(deal.url)
        await brand.get_by_role("button", name="Approve the draft").click()
        await status_is(brand, "draft approved")

        # A wrong link is refused in place; the right one is accepted.
        await creator.goto(deal.url)
        await creator.get_by_label("Link to your live post").fill("https://www.youtube.com/watch?v=dQw4w9WgXcQ")
        await creator.get_by_role("button", name="Submit the post").click()
        await expect(creator.get_by_text("This deal is for a TikTok post; that is a YouTube link.")).to_be_visible()
        await status_is(creator, "draft approved")
        await creator.get_by_label("Link to your live post").fill(deal.post_url("7312345678901234567"))
        await creator.get_by_role("button", name="Submit the post").click()
        await status_is(creator, "posted")

        timeline = creator.get_by_test_id("timeline")
        for step in ("Offer made", "Signed the terms", "Escrow funded", "Shipped the product", "Confirmed receipt",
                     "Requested changes", "Approved the draft", "Submitted the live post"):
            await expect(timeline).to_contain_text(step)

        await brand.goto("/brand/collaborations")
        row = brand.get_by_role("row", name=re.compile("Glow serum launch"))
        await expect(row).to_contain_text("posted")
    finally:
        await brand_context.close()
        await creator_context.close()


async def test_steps_work_without_javascript(browser, live_server, live_people) -> None:
    deal = await make_deal(live_people.runtime)
    context = await browser.new_context(base_url=live_server.url, java_script_enabled=False)
    try:
        page = await context.new_page()
        await sign_in(page, deal.creator)
        await page.goto(deal.url)
        await page.get_by_role("button", name="Sign the terms").click()
        await expect(page).to_have_url(re.compile(deal.url + "$"))
        await status_is(page, "signed")
        await expect(page.get_by_text("You signed the deal.")).to_be_visible()
    finally:
        await context.close()
