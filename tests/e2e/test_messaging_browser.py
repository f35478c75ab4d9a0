"""A brand and a creator talk about a deal in Chromium: htmx posts in place and the other side's page refreshes
itself; without JavaScript the same form still works."""

from __future__ import annotations

import re

from playwright.async_api import expect

from tests.support.browser import sign_in
from tests.support.messaging import make_collaboration


async def test_messages_appear_on_both_sides_without_reloading(browser, live_server, live_people) -> None:
    brand, creator = await live_people.brand(), await live_people.creator(name="Ava Brooks")
    talk = await make_collaboration(live_people.runtime, brand, creator, title="Glow serum launch")
    contexts = [await browser.new_context(base_url=live_server.url) for _ in range(2)]
    try:
        brand_page, creator_page = [await c.new_page() for c in contexts]
        await sign_in(brand_page, brand)
        await sign_in(creator_page, creator)
        await brand_page.goto(f"/messages/collaboration/{talk.collaboration_id}")
        await expect(brand_page.get_by_role("heading", name="Glow serum launch")).to_be_visible()
        await creator_page.goto(f"/messages/collaboration/{talk.collaboration_id}")
        thread_url = creator_page.url

        await creator_page.get_by_label("Your message").fill("Hi! Can I post on Friday?\nThe light is better.")
        await creator_page.get_by_role("button", name="Send").click()
        message = creator_page.locator("article.message.mine")
        await expect(message).to_contain_text("Hi! Can I post on Friday?")
        await expect(creator_page.get_by_label("Your message")).to_have_value("")
        assert creator_page.url == thread_url, "htmx posts in place"

        # The brand's open page polls every few seconds and shows the message without a reload.
        await expect(brand_page.locator("article.message.from-creator")).to_contain_text(
            "The light is better.", timeout=12_000
        )
        # The creator moves on; the brand's reply then shows in the nav badge until the creator reads it.
        await creator_page.goto("/creator")
        await expect(creator_page.locator("[data-testid=unread-badge]")).to_have_count(0)
        await brand_page.get_by_label("Your message").fill("Friday works.")
        await brand_page.get_by_role("button", name="Send").click()
        await expect(brand_page.locator("article.message.mine")).to_contain_text("Friday works.")
        await creator_page.reload()
        await expect(creator_page.locator("[data-testid=unread-badge]")).to_have_text(re.compile(r"1$"))
        await creator_page.goto("/messages")
        await expect(creator_page.locator(".thread-row.unread")).to_contain_text("1 new")
        await creator_page.goto(thread_url)
        await expect(creator_page.locator("article.message.from-brand")).to_contain_text("Friday works.")
        await creator_page.goto("/creator")
        await expect(creator_page.locator("[data-testid=unread-badge]")).to_have_count(0)
    finally:
        for context in contexts:
            await context.close()


async def test_posting_works_without_javascript(browser, live_server, live_people) -> None:
    brand, creator = await live_people.brand(), await live_people.creator()
    talk = await make_collaboration(live_people.runtime, brand, creator, title="No-JS gig")
    context = await browser.new_context(base_url=live_server.url, java_script_enabled=False)
    try:
        page = await context.new_page()
        await sign_in(page, creator)
        await page.goto(f"/messages/collaboration/{talk.collaboration_id}")
        await page.get_by_role("button", name="Send").click()
        await expect(page.get_by_text("Write a message before sending.")).to_be_visible()
        await page.get_by_label("Your message").fill("Plain form, no script.")
        await page.get_by_role("button", name="Send").click()
        await expect(page).to_have_url(re.compile(r"/messages/[0-9a-f-]+(#m-1)?$"))
        await expect(page.locator("article.message.mine")).to_contain_text("Plain form, no script.")
    finally:
        await context.close()
