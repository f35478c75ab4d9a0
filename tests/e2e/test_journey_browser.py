"""The marketplace's whole happy path through the real pages in Chromium, nothing arranged behind the scenes:
two people sign up, the creator fills in a profile, the brand posts a gig, the creator finds it and applies, the
brand accepts, the creator signs, the brand funds the escrow (simulated checkout), ships, the creator confirms
receipt, drafts, the brand approves, the creator submits the live post, PostPact verifies it (against a local
stand-in for TikTok's oEmbed), the creator sets up payouts, the brand approves the post and the creator is paid.

Runs on SQLite and, when configured (always in CI), on PostgreSQL."""

from __future__ import annotations

import re
import time
import uuid

import pytest
from playwright.async_api import Page, expect

from tests.support.browser import live_backends, server_jobs_done

PASSWORD = "a-decent-passphrase"


async def sign_up(page: Page, kind: str, name: str, email: str, brand_name: str = "") -> None:
    await page.goto(f"/signup?as={kind}")
    await page.get_by_label(f"a {kind}").check()
    await page.get_by_label("Your name").fill(name)
    await page.get_by_label("Email").fill(email)
    await page.get_by_label("Password").fill(PASSWORD)
    if brand_name:
        await page.get_by_label("Brand name").fill(brand_name)
    await page.get_by_role("button", name="Create account").click()
    await expect(page.get_by_role("heading", name="Check your email")).to_be_visible()
    await page.goto("/signin")
    await page.get_by_label("Email").fill(email)
    await page.get_by_label("Password").fill(PASSWORD)
    await page.get_by_role("button", name="Sign in").click()
    await expect(page).to_have_url(re.compile(rf"/{kind}$"))


async def status_is(page: Page, status: str) -> None:
    await expect(page.get_by_test_id("deal-status")).to_have_text(status)


@pytest.mark.parametrize("live_server", live_backends(), indirect=True)
async def test_the_whole_happy_path_in_the_browser(browser, live_server, live_oembed) -> None:
    word = f"yuzu{uuid.uuid4().hex[:8]}"
    handle = f"ava_{word}"
    brand_context = await browser.new_context(base_url=live_server.url)
    creator_context = await browser.new_context(base_url=live_server.url)
    brand_context.set_default_timeout(15_000)
    creator_context.set_default_timeout(15_000)
    try:
        brand, creator = await brand_context.new_page(), await creator_context.new_page()
        await sign_up(brand, "brand", "Maya Chen", f"maya-{word}@glowlab.test", brand_name="GlowLab")
        await sign_up(creator, "creator", "Ava Brooks", f"ava-{word}@creators.test")

        # The creator links a TikTok account and a shipping address.
        await creator.goto("/creator/profile")
        await creator.locator('#accounts [name="platform"]').last.select_option("tiktok")
        await creator.locator('#accounts [name="handle"]').last.fill(handle)
        await creator.locator('#accounts [name="profile_url"]').last.fill(f"https://www.tiktok.com/@{handle}")
        await creator.locator('#accounts [name="followers"]').last.fill("48200")
        await creator.locator('#accounts [name="engagement_rate"]').last.fill("6.10")
        await creator.get_by_role("button", name="Link account").click()
        await expect(creator.get_by_role("link", name=f"TikTok @{handle}")).to_be_visible()
        await creator.get_by_label("Recipient").fill("Ava Brooks")
        await creator.get_by_label("Address line 1").fill("12 Elm Street")
        await creator.get_by_label("City").fill("Austin")
        await creator.get_by_label("Postal code").fill("73301")
        await creator.locator('[name="address_country"]').fill("US")
        # The section is swapped in place (htmx): wait for the save's answer before reloading the page.
        async with creator.expect_response(lambda r: r.request.method == "POST"
                                           and r.url.endswith("/creator/profile/address")) as saved:
            await creator.get_by_role("button", name="Save address").click()
        assert (await saved.value).ok
        await creator.reload()
        await expect(creator.get_by_label("Address line 1")).to_have_value("12 Elm Street")

        # The brand posts a gig and opens it.
        await brand.goto("/brand/gigs/new")
        await brand.get_by_label("Title").fill(f"{word} serum morning routine")
        await brand.get_by_label("Brief").fill("Show the serum in your real morning routine.")
        await brand.get_by_label("Product name").fill("Vitamin C serum")
        await brand.get_by_label("Retail value").fill("45")
        await brand.get_by_label("Base fee").fill("150")
        await brand.locator('[name="deliverables[0].platform"]').select_option("tiktok")
        await brand.locator('[name="deliverables[0].kind"]').select_option("video")
        await brand.get_by_role("button", name="Save draft").click()
        await expect(brand).to_have_url(re.compile(r"/brand/gigs/[0-9a-f-]{36}$"))
        gig_url = brand.url
        await brand.get_by_role("button", name="Publish").click()
        await expect(brand.get_by_text("Published: creators can find the gig and apply.")).to_be_visible()

        # The creator finds it and applies.
        await creator.goto("/gigs")
        await creator.get_by_label("Search title and brief").fill(word)
        await creator.get_by_role("button", name="Search").click()
        await creator.get_by_role("link", name=f"{word} serum morning routine").click()
        await creator.get_by_label("Your pitch").fill("My routine videos average 21k views.")
        await creator.get_by_role("button", name="Send application").click()
        await expect(creator.get_by_text("Application sent.")).to_be_visible()

        # The brand accepts; the creator opens the deal and signs the terms.
        await brand.goto(gig_url + "/applications")
        await brand.get_by_role("button", name="Accept", exact=True).click()
        await expect(brand.get_by_text("Accepted 1; each creator was sent the terms to sign.")).to_be_visible()
        await creator.goto("/creator/applications")
        await creator.get_by_role("link", name="Open the deal").click()
        deal_url = re.sub(r"^https?://[^/]+", "", creator.url)
        await creator.get_by_role("button", name="Sign the terms").click()
        await status_is(creator, "signed")

        # The brand funds the escrow: payments page, then the (simulated) checkout.
        await brand.goto("/brand/payments")
        await brand.get_by_role("button", name="Fund selected deals").click()
        await brand.get_by_role("link", name="Pay $162.00").click()
        await brand.get_by_role("button", name="Pay (simulated)").click()
        await expect(brand.get_by_text("Payment received (simulated).")).to_be_visible()

        # Shipping and receipt.
        await brand.goto(deal_url)
        await status_is(brand, "funded")
        await expect(brand.get_by_test_id("shipping-address")).to_contain_text("12 Elm Street")
        await brand.get_by_label("Carrier").fill("UPS")
        await brand.get_by_label("Tracking number").fill("1Z999AA10123456784")
        await brand.get_by_role("button", name="Record shipment").click()
        await status_is(brand, "shipped")
        await creator.goto(deal_url)
        await creator.get_by_role("button", name="Confirm receipt").click()
        await status_is(creator, "received")

        # The draft, its approval, and the live post.
        await creator.get_by_label("Caption").fill("Week one with @glowlab #ad")
        await creator.get_by_label("Link to the photo or video").fill("https://drive.example.com/week-one.mp4")
        await creator.get_by_role("button", name="Submit draft").click()
        await status_is(creator, "draft submitted")
        await brand.goto(deal_url)
        await brand.get_by_role("button", name="Approve the draft").click()
        await status_is(brand, "draft approved")
        await creator.goto(deal_url)
        video_id = (int(time.time()) << 32) | 4242
        post_url = f"https://www.tiktok.com/@{handle}/video/{video_id}"
        live_oembed.add_post("tiktok", post_url, author=handle, caption="Week one with @glowlab #ad")
        await creator.get_by_label("Link to your live post").fill(post_url)
        await creator.get_by_role("button", name="Submit the post").click()
        await status_is(creator, "posted")
        await expect(creator.get_by_text("Held now")).to_be_visible()

        # PostPact checks the post in the background; meanwhile the creator sets up payouts.
        await creator.goto("/creator/payments")
        await creator.get_by_role("button", name="Set up payouts").click()
        await creator.get_by_role("button", name="Complete onboarding (simulated)").click()
        await expect(creator.get_by_text("Payouts ready.")).to_be_visible()
        await server_jobs_done(live_server)
        assert live_oembed.request_count(post_url) >= 1

        # The brand approves the verified post; the fee is transferred in the background.
        await brand.goto(deal_url)
        await status_is(brand, "verified")
        await brand.get_by_role("button", name="Approve and release payment").click()
        await expect(brand.get_by_text("Post approved: the creator's fee is being released from escrow.")
                     ).to_be_visible()
        await server_jobs_done(live_server)
        await brand.reload()
        await status_is(brand, "released")
        await creator.goto("/creator/payments")
        await expect(creator.get_by_role("cell", name="$150.00").first).to_be_visible()
    finally:
        await brand_context.close()
        await creator_context.close()
