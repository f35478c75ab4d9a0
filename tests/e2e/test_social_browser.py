"""In Chromium: a creator connects TikTok on the platform stand-in (the browser follows the consent redirects), sees
the verified numbers; a brand sees "verified" for that creator in the directory and can keep only verified ones.

This test runs its own live server: the OAuth callback goes to ``PUBLIC_URL``, so the server's address must be known
before its settings are made, and the settings must point at the social stand-in.
"""

from __future__ import annotations

import shutil
import threading
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn
from playwright.async_api import expect

from marketplace.clock import SystemClock
from marketplace.runtime import build_runtime
from marketplace.security import Passwords
from marketplace.settings import Settings
from tests.conftest import FAST_HASHER, TEST_SECRET
from tests.e2e.conftest import PEOPLE_PASSWORD
from tests.fakes.social_server import SocialServer
from tests.support import db as dbsupport
from tests.support.browser import TrackedQueue, sign_in
from tests.support.live import LiveServer
from tests.support.marketplace import add_social_account
from tests.support.smtp import free_port


@pytest.fixture
def social_stand_in() -> Iterator[SocialServer]:
    with SocialServer() as server:
        yield server


def _answers(url: str, seconds: float = 20) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{url}/healthz", timeout=1).status_code == 200:
                return True
        except httpx.HTTPError:
            time.sleep(0.05)
    return False


@pytest.fixture
async def social_live(tmp_path: Path, sqlite_template: Path, social_stand_in: SocialServer
                      ) -> AsyncIterator[tuple[LiveServer, dbsupport.PeopleFactory]]:
    from marketplace.app import create_app

    db_path = tmp_path / "live.db"
    shutil.copyfile(sqlite_template, db_path)
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    settings = Settings.from_env({
        "POSTPACT_ENV": "test", "SECRET_KEY": TEST_SECRET, "DATABASE_URL": f"sqlite+aiosqlite:///{db_path}",
        "POSTPACT_VAR_DIR": str(tmp_path), "PUBLIC_URL": url, **social_stand_in.env(("tiktok",))})
    holder: dict[str, Any] = {}
    runtime = build_runtime(settings, clock=SystemClock(), queue=TrackedQueue(lambda: holder["rt"].job_context()),
                            passwords=Passwords(FAST_HASHER))
    holder["rt"] = runtime
    app = create_app(runtime=runtime, run_scheduler=False)
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="on"))
    thread = threading.Thread(target=server.run, name=f"social-live-{port}", daemon=True)
    thread.start()
    if not _answers(url):  # pragma: no cover - a server that never came up
        server.should_exit = True
        pytest.fail("the live server did not start")
    own = build_runtime(settings, clock=SystemClock(), passwords=Passwords(FAST_HASHER))
    live = LiveServer(url, runtime, server, thread)
    yield live, dbsupport.PeopleFactory(own, PEOPLE_PASSWORD)
    live.stop()
    await own.alchemy.get_engine().dispose()


async def test_creator_connects_tiktok_and_the_brand_sees_verified(
    browser: Any, social_live: tuple[LiveServer, dbsupport.PeopleFactory], social_stand_in: SocialServer
) -> None:
    live, people = social_live
    creator = await people.creator(name="Mia Lopez")
    typed = await people.creator(name="Tess Typed")
    await add_social_account(people.runtime, typed, platform="tiktok", handle="tess_typed", followers=80_000)
    brand = await people.brand(brand_name="GlowLab")
    social_stand_in.add_account("tiktok", "mia_verified", followers=23_456)
    social_stand_in.add_media("tiktok", "mia_verified", "7559684939684400414", caption="Morning routine",
                              views=5_000, likes=400, comments=30, shares=20)
    social_stand_in.login_as("tiktok", "mia_verified")

    context = await browser.new_context(base_url=live.url)
    context.set_default_timeout(10_000)
    page = await context.new_page()
    await sign_in(page, creator)
    await page.goto("/creator/social/")
    await expect(page.get_by_text("Not connected: brands see your numbers as self-reported.")).to_be_visible()
    await page.get_by_role("button", name="Connect TikTok").click()
    # The stand-in's consent answers at once; the browser comes back through the callback to the accounts page.
    await expect(page.get_by_text("TikTok connected: @mia_verified, 23,456 followers (verified).")).to_be_visible()
    row = page.locator("#social-tiktok")
    await expect(row.get_by_text("Verified", exact=True)).to_be_visible()
    await expect(row).to_contain_text("23,456 followers")
    await expect(row).to_contain_text("1.92% engagement")  # (400 + 30 + 20) interactions / 23,456 followers
    html = await page.content()
    assert social_stand_in.tokens_issued() and all(token not in html for token in social_stand_in.tokens_issued())

    brand_context = await browser.new_context(base_url=live.url)
    brand_context.set_default_timeout(10_000)
    brand_page = await brand_context.new_page()
    await sign_in(brand_page, brand)
    await brand_page.goto("/brand/creators/")
    mia_row = brand_page.locator("tr").filter(has=brand_page.get_by_role("link", name="Mia Lopez"))
    await expect(mia_row).to_contain_text("23,456")
    await expect(mia_row.locator(".badge.verified")).to_have_text("verified")
    await expect(mia_row).not_to_contain_text("self-reported")
    tess_row = brand_page.locator("tr").filter(has=brand_page.get_by_role("link", name="Tess Typed"))
    await expect(tess_row).to_contain_text("self-reported")
    await expect(tess_row.locator(".badge.verified")).to_have_count(0)
    await brand_page.goto("/brand/creators/?verified=1")
    await expect(brand_page.get_by_role("link", name="Mia Lopez")).to_be_visible()
    await expect(brand_page.get_by_role("link", name="Tess Typed")).to_have_count(0)
    await context.close()
    await brand_context.close()
