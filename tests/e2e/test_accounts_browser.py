"""A person signs up, signs out and signs in again through the real pages in Chromium."""

from __future__ import annotations

import re
import uuid

from playwright.async_api import expect


async def test_sign_up_sign_out_sign_in(page, live_server) -> None:
    email = f"maya-{uuid.uuid4().hex[:8]}@glowlab.test"
    await page.goto("/signup?as=brand")
    await page.get_by_label("a brand").check()
    await page.get_by_label("Your name").fill("Maya Chen")
    await page.get_by_label("Email").fill(email)
    await page.get_by_label("Password").fill("a-decent-passphrase")
    await page.get_by_label("Brand name").fill("GlowLab")
    await page.get_by_role("button", name="Create account").click()
    # The same answer whether or not the address had an account: nothing about it is revealed.
    await expect(page.get_by_role("heading", name="Check your email")).to_be_visible()

    await page.goto("/signin")
    await page.get_by_label("Email").fill(email)
    await page.get_by_label("Password").fill("wrong-password!!")
    await page.get_by_role("button", name="Sign in").click()
    await expect(page.get_by_text("Email or password is not right.")).to_be_visible()

    await page.get_by_label("Password").fill("a-decent-passphrase")
    await page.get_by_role("button", name="Sign in").click()
    await expect(page).to_have_url(re.compile(r"/brand$"))
    await expect(page.get_by_role("heading", name="Welcome, Maya Chen")).to_be_visible()

    await page.get_by_role("button", name="Sign out").click()
    await expect(page).to_have_url(re.compile(r"/signin$"))


async def test_sign_up_shows_field_errors_in_place(page, live_server) -> None:
    await page.goto("/signup")
    await page.get_by_label("Your name").fill("Ava")
    await page.get_by_label("Email").fill("not-an-email")
    await page.get_by_label("Password").fill("short")
    await page.get_by_role("button", name="Create account").click()
    await expect(page.get_by_text("Enter a valid email address, like name@example.com.")).to_be_visible()
    await expect(page.get_by_text("Password must be at least 10 characters.")).to_be_visible()
    await expect(page).to_have_url(re.compile(r"/signup$"))
