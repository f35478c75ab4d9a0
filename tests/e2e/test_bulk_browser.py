"""In Chromium, with htmx on: bulk invite from the creator directory keeps the ticks and the chosen gig, and a bulk
job started from the deals list shows its progress bar filling until it finishes."""

from __future__ import annotations

import uuid

import pytest
from playwright.async_api import TimeoutError as PlaywrightTimeout
from playwright.async_api import expect

from marketplace.collaborations.states import CollabState
from tests.support.browser import server_jobs_done, sign_in
from tests.support.deals import make_deal
from tests.support.marketplace import make_creator_with_account, make_gig


async def test_directory_invite_keeps_ticks_and_the_chosen_gig(browser, live_server, live_people) -> None:
    word = f"bulk{uuid.uuid4().hex[:8]}"
    runtime = live_people.runtime
    brand = await live_people.brand(brand_name="GlowLab")
    await make_gig(runtime, brand, publish=False, title=f"Draft {word}")
    first = await make_gig(runtime, brand, title=f"First {word}")
    second = await make_gig(runtime, brand, title=f"Second {word}")
    for n in range(3):
        await make_creator_with_account(runtime, live_people, name=f"Ava {word} {n}")
    context = await browser.new_context(base_url=live_server.url)
    context.set_default_timeout(10_000)
    page = await context.new_page()
    await sign_in(page, brand)
    await page.goto(f"/brand/creators?q={word}")
    assert await page.evaluate("typeof window.htmx") == "object"
    picker = page.locator("#f-gig_id")
    await expect(picker.locator("option")).to_have_count(2)  # open gigs only, never the draft
    await page.get_by_label(f"Select Ava {word} 0").check()
    await page.get_by_label(f"Select Ava {word} 2").check()
    # Choosing the gig used to re-run the directory search, which wiped the ticks and the choice.
    with pytest.raises(PlaywrightTimeout):
        async with page.expect_request(lambda r: "/brand/creators?" in r.url, timeout=1_500):
            await picker.select_option(str(first.id))
    await expect(page.get_by_label(f"Select Ava {word} 0")).to_be_checked()
    await expect(picker).to_have_value(str(first.id))
    assert str(second.id) != await picker.input_value()
    await page.get_by_role("button", name="Invite selected").click()
    await expect(page.get_by_text("Invited 2 creator(s).")).to_be_visible()
    await context.close()


async def test_progress_bar_fills_and_stops_polling(browser, live_server, live_people) -> None:
    runtime = live_people.runtime
    first = await make_deal(runtime, CollabState.DRAFT_SUBMITTED, product_included=False)
    await make_deal(runtime, CollabState.DRAFT_SUBMITTED, brand=first.brand, creator=first.creator,
                    product_included=False)
    context = await browser.new_context(base_url=live_server.url)
    context.set_default_timeout(10_000)
    page = await context.new_page()
    await sign_in(page, first.brand)
    await page.goto("/brand/collaborations?status=draft_submitted")
    await page.get_by_label("All deals matching this filter").check()
    await page.get_by_role("button", name="Bulk action…").click()
    await expect(page.get_by_role("heading", name="2 deals matching the filter")).to_be_visible()
    await page.get_by_label("Action").select_option("approve_draft")
    await page.get_by_role("button", name="Start").click()
    await expect(page.get_by_text("Finished")).to_be_visible()
    await expect(page.locator("#job-progress")).to_contain_text("2 done")
    await expect(page.locator("#job-bar")).to_have_attribute("value", "2")
    await server_jobs_done(live_server)
    await context.close()
