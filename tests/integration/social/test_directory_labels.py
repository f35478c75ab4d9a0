"""Where brands see audiences: verified numbers are labelled verified (with the fetch date), typed ones
self-reported, and the directory can require a verified audience."""

from __future__ import annotations

from typing import Any

from tests.integration.social.conftest import connect
from tests.support.marketplace import add_social_account


async def test_brands_see_verified_and_self_reported_and_can_filter(
    runtime: Any, people: Any, make_web: Any, social: Any, limiter: Any
) -> None:
    typed = await people.creator(name="Typed Tess")
    await add_social_account(runtime, typed, platform="tiktok", handle="tess", followers=50_000)
    proven = await people.creator(name="Proven Pia")
    social.add_account("instagram", "pia", followers=9_000)
    creator_web = await make_web()
    await creator_web.sign_in(proven.email, proven.password)
    assert (await connect(creator_web, social, "instagram", "pia")).status_code == 303

    brand = await people.brand()
    web = await make_web()
    await web.sign_in(brand.email, brand.password)
    page = await web.get("/brand/creators/")
    assert page.status_code == 200
    assert "Typed Tess" in page.text and "Proven Pia" in page.text
    assert "self-reported" in page.text and "verified" in page.text
    only = await web.get("/brand/creators/?verified=1")
    assert "Proven Pia" in only.text and "Typed Tess" not in only.text
    card = await web.get(f"/brand/creators/{proven.creator_id}")
    assert "9,000 followers" in card.text and "verified" in card.text and "fetched" in card.text
    typed_card = await web.get(f"/brand/creators/{typed.creator_id}")
    assert "self-reported" in typed_card.text
