"""In Chromium, with htmx on: a brand drafts and publishes a gig, a creator finds it by search and applies, the
brand accepts the application."""

from __future__ import annotations

import re
import uuid

from playwright.async_api import expect

from tests.support.browser import sign_in
from tests.support.marketplace import add_social_account


async def test_gig_from_draft_to_accepted_application(browser, live_server, live_people) -> None:
    word = f"zest{uuid.uuid4().hex[:8]}"
    brand = await live_people.brand(brand_name="GlowLab")
    creator = await live_people.creator(name="Ava Brooks")
    await add_social_account(live_people.runtime, creator, platform="tiktok", handle=f"ava_{word}", followers=15_000)

    brand_context = await browser.new_context(base_url=live_server.url)
    brand_context.set_default_timeout(10_000)
    brand_page = await brand_context.new_page()
    await sign_in(brand_page, brand)
    assert await brand_page.evaluate("typeof window.htmx") == "object"

    await brand_page.goto("/brand/gigs/new")
    await brand_page.get_by_label("Title").fill(f"Citrus {word} serum video")
    await brand_page.get_by_label("Brief").fill("Show the serum in your morning routine.")
    await brand_page.get_by_label("Product name").fill("Vitamin C serum")
    await brand_page.get_by_label("Retail value").fill("45")
    await brand_page.get_by_label("Base fee").fill("150")
    await brand_page.locator('[name="deliverables[0].platform"]').select_option("tiktok")
    await brand_page.locator('[name="deliverables[0].kind"]').select_option("video")
    await brand_page.locator('[name="deliverables[0].count"]').fill("1")
    await brand_page.get_by_label("Base fee").fill("-3")
    await brand_page.get_by_role("button", name="Save draft").click()
    # htmx swaps the form with its errors in place (no page load).
    await expect(brand_page.get_by_text("Base fee can't be negative.")).to_be_visible()
    await brand_page.get_by_label("Base fee").fill("150")
    await brand_page.get_by_role("button", name="Save draft").click()
    await expect(brand_page).to_have_url(re.compile(r"/brand/gigs/[0-9a-f-]{36}$"))
    gig_url = brand_page.url
    await brand_page.get_by_role("button", name="Publish").click()
    await expect(brand_page.get_by_text("Published: creators can find the gig and apply.")).to_be_visible()

    creator_context = await browser.new_context(base_url=live_server.url)
    creator_context.set_default_timeout(10_000)
    creator_page = await creator_context.new_page()
    await sign_in(creator_page, creator)
    await creator_page.goto("/gigs")
    await creator_page.get_by_label("Search title and brief").fill(word)
    await creator_page.get_by_role("button", name="Search").click()
    await expect(creator_page).to_have_url(re.compile(rf"/gigs\?.*q={word}"))  # pushed by htmx
    result = creator_page.get_by_role("link", name=f"Citrus {word} serum video")
    await expect(result).to_be_visible()
    await expect(creator_page.locator(".gig-card")).to_have_count(1)
    await expect(creator_page.get_by_text("Eligible for you")).to_be_visible()
    await result.click()
    await creator_page.get_by_label("Your pitch").fill("My morning routine videos get 15k views.")
    await creator_page.get_by_role("button", name="Send application").click()
    await expect(creator_page.get_by_text("Application sent.")).to_be_visible()
    await expect(creator_page.get_by_text("Status: pending")).to_be_visible()

    await brand_page.goto(gig_url + "/applications")
    await expect(brand_page.get_by_role("link", name="Ava Brooks")).to_be_visible()
    await brand_page.get_by_role("button", name="Accept", exact=True).click()
    await expect(brand_page.get_by_text("Accepted 1; each creator was sent the terms to sign.")).to_be_visible()
    await expect(brand_page.get_by_text("1 of 1 slots taken.")).to_be_visible()

    await creator_page.goto("/creator/applications")
    await expect(creator_page.get_by_role("link", name="Open the deal")).to_be_visible()
    await brand_context.close()
    await creator_context.close()
