"""The deal journey across languages and time zones in Chromium: a brand working in Chinese in Asia/Shanghai, a
creator working in English in America/Los_Angeles. Each sees the deal in their own language, every deadline in
their own zone (named), the deadline the brand types is read in the brand's zone, the signed terms are readable in
both languages, and each gets their emails in their own language."""

from __future__ import annotations

import re
from datetime import timedelta
from zoneinfo import ZoneInfo

import pytest
import sqlalchemy as sa
from playwright.async_api import Page, expect

from marketplace.accounts.models import User
from marketplace.collaborations.models import Collaboration
from marketplace.collaborations.states import SYSTEM, Action
from marketplace.collaborations.transition import transition
from marketplace.db import session_scope
from marketplace.notifications.models import OutboxEmail
from tests.support.browser import live_backends
from tests.support.deals import make_deal

SHANGHAI, LOS_ANGELES = ZoneInfo("Asia/Shanghai"), ZoneInfo("America/Los_Angeles")


async def sign_in_by_field_names(page: Page, person: object) -> None:
    """Sign-in that doesn't depend on the page's language."""
    await page.goto("/signin")
    await page.locator("input[name=email]").fill(person.email)  # type: ignore[attr-defined]
    await page.locator("input[name=password]").fill(person.password)  # type: ignore[attr-defined]
    await page.locator("#signin-form button[type=submit]").click()
    await expect(page).not_to_have_url(re.compile(r"/signin"))


async def emails_to(runtime: object, address: str) -> list[OutboxEmail]:
    async with session_scope(runtime.session_maker) as session:  # type: ignore[attr-defined]
        return list((await session.scalars(sa.select(OutboxEmail).where(OutboxEmail.to_address == address)
                                           .order_by(OutboxEmail.created_at))).all())


@pytest.mark.parametrize("live_server", live_backends(), indirect=True)
async def test_chinese_brand_and_english_creator_each_in_their_language_and_zone(browser, live_server,
                                                                                live_people) -> None:
    runtime = live_people.runtime
    deal = await make_deal(runtime)
    async with session_scope(runtime.session_maker) as session:
        await session.execute(sa.update(User).where(User.id == deal.brand.user_id)
                              .values(locale="zh_Hans", timezone="Asia/Shanghai"))
        await session.execute(sa.update(User).where(User.id == deal.creator.user_id)
                              .values(locale="en", timezone="America/Los_Angeles"))
        # The brand accepted the application (made the offer) working in Chinese.
        await session.execute(sa.update(Collaboration).where(Collaboration.id == deal.id)
                              .values(terms_locale="zh_Hans"))

    # Browsers that ask for the other language: the accounts' settings win once signed in.
    brand_context = await browser.new_context(base_url=live_server.url, locale="zh-CN")
    creator_context = await browser.new_context(base_url=live_server.url, locale="en-US")
    try:
        brand, creator = await brand_context.new_page(), await creator_context.new_page()
        await sign_in_by_field_names(brand, deal.brand)
        await sign_in_by_field_names(creator, deal.creator)

        # The creator reads and signs the offer in English; the sign deadline is in Pacific Time.
        await creator.goto(deal.url)
        await expect(creator.locator("html")).to_have_attribute("lang", "en")
        await expect(creator.get_by_role("heading", name="Terms")).to_be_visible()
        await expect(creator.locator("main")).to_contain_text("Pacific Time")
        await creator.get_by_role("button", name="Sign the terms").click()
        await expect(creator.get_by_test_id("deal-status")).to_have_text("signed")
        await expect(creator.get_by_test_id("terms-languages")).to_contain_text("Signed in English")

        async with session_scope(runtime.session_maker) as session:
            await transition(session, deal.id, Action.MARK_FUNDED, SYSTEM, now=runtime.clock.now())
            collab = await session.get(Collaboration, deal.id)
            assert collab is not None and collab.signed_locale == "en" and collab.due_ship is not None
            due_ship = collab.due_ship

        # The brand's deal page is Chinese, its deadlines in China time; the signed terms open in either language.
        await brand.goto(deal.url)
        await expect(brand.locator("html")).to_have_attribute("lang", "zh-Hans")
        await expect(brand.get_by_role("heading", name="条款")).to_be_visible()
        shown_ship = due_ship.astimezone(SHANGHAI)
        await expect(brand.locator("main")).to_contain_text(
            f"{shown_ship.year}年{shown_ship.month}月{shown_ship.day}日 {shown_ship:%H:%M} 中国时间")
        await expect(brand.get_by_test_id("terms-languages")).to_contain_text("English")
        await brand.get_by_test_id("terms-languages").get_by_role("link", name="English").click()
        await expect(brand.locator("html")).to_have_attribute("lang", "en")
        await expect(brand.get_by_role("heading", name="Terms")).to_be_visible()

        # The brand asks to move its shipping deadline, typing wall time in Shanghai.
        wanted = (due_ship + timedelta(days=5)).astimezone(SHANGHAI).replace(hour=10, minute=0, second=0,
                                                                            microsecond=0)
        await brand.goto(f"{deal.url}/extensions")
        await expect(brand.locator("label[for=f-proposed_due_at]")).to_contain_text("中国时间")
        await brand.locator("select[name=stage]").select_option("ship")
        await brand.locator("input[name=proposed_due_at]").fill(wanted.strftime("%Y-%m-%dT%H:%M"))
        await brand.locator("textarea[name=reason]").fill("仓库搬迁 需要多几天")
        await brand.locator("#extensions form button[type=submit]").last.click()
        await expect(brand.locator("#extensions")).to_contain_text(f"{wanted:%H:%M} 中国时间")

        # The creator sees the same moment in Los Angeles time, and accepts.
        in_la = wanted.astimezone(LOS_ANGELES)
        await creator.goto(f"{deal.url}/extensions")
        await expect(creator.locator("#extensions")).to_contain_text(f"{in_la:%d %b %Y, %H:%M} Pacific Time")
        await creator.get_by_role("button", name="Accept").click()
        await expect(creator.locator("#extensions")).to_contain_text("accepted")
        async with session_scope(runtime.session_maker) as session:
            collab = await session.get(Collaboration, deal.id)
            assert collab is not None and collab.due_ship == wanted.astimezone(ZoneInfo("UTC"))

        # Notifications and emails: each in the recipient's language.
        brand_mail = await emails_to(runtime, deal.brand.email)
        assert brand_mail, "the brand was emailed when the creator signed"
        assert any("在 PostPact 中打开" in m.body_text and "签署了" in m.subject for m in brand_mail), \
            [m.subject for m in brand_mail]
        creator_mail = await emails_to(runtime, deal.creator.email)
        assert creator_mail, "the creator was emailed when the deal was funded"
        assert all(not re.search(r"[\u4e00-\u9fff]", m.subject + m.body_text) for m in creator_mail)
        assert any("PostPact" in m.body_text and "Hi " in m.body_text for m in creator_mail)
        await creator.goto("/notifications")
        await expect(creator.locator("main")).to_contain_text(f"to {in_la:%d %b %Y, %H:%M} Pacific Time")
        await brand.goto("/notifications")
        await expect(brand.locator("main")).to_contain_text("签署了")
    finally:
        await brand_context.close()
        await creator_context.close()
