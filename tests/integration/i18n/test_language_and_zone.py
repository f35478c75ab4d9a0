"""The viewer's language (settings, else the switcher's cookie, else Accept-Language) and time zone, on pages."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from marketplace.accounts.models import User


async def test_accept_language_picks_chinese_and_the_switcher_overrides_it(web: Any) -> None:
    page = await web.get("/signin", headers={"Accept-Language": "zh-CN,zh;q=0.9,en;q=0.8"})
    assert page.status_code == 200
    assert '<html lang="zh-Hans">' in page.text
    assert page.headers["content-language"] == "zh-Hans"
    assert "登录" in page.text

    english = await web.get("/signin", headers={"Accept-Language": "en-GB,en;q=0.9"})
    assert '<html lang="en">' in english.text and "Sign in" in english.text

    switched = await web.post("/language", {"lang": "en", "next": "/signin"},
                              headers={"Accept-Language": "zh-CN"})
    assert switched.status_code == 303 and switched.headers["location"] == "/signin"
    after = await web.get("/signin", headers={"Accept-Language": "zh-CN"})
    assert '<html lang="en">' in after.text


async def test_switcher_refuses_to_redirect_off_site(web: Any) -> None:
    response = await web.post("/language", {"lang": "zh_Hans", "next": "https://evil.example/"})
    assert response.status_code == 303 and response.headers["location"] == "/"


async def test_signed_in_language_and_zone_are_the_accounts(web: Any, people: Any, db: Any) -> None:
    person = await people.creator()
    await web.sign_in(person.email, person.password)
    saved = await web.post("/account/preferences", {"locale": "zh_Hans", "timezone": "America/Los_Angeles"})
    assert saved.status_code == 303
    user = await db.scalar(sa.select(User).where(User.id == person.user_id))
    assert (user.locale, user.timezone) == ("zh_Hans", "America/Los_Angeles")
    # Whatever the browser says, the account's language wins.
    page = await web.get("/account", headers={"Accept-Language": "en"})
    assert '<html lang="zh-Hans">' in page.text
    assert "北美太平洋时间" in page.text  # the zone named in the viewer's language

    # The switcher changes the account's setting too.
    await web.post("/language", {"lang": "en", "next": "/account"})
    user = await db.scalar(sa.select(User).where(User.id == person.user_id))
    assert user.locale == "en"


async def test_bad_preferences_rerender_with_field_messages_and_change_nothing(web: Any, people: Any, db: Any) -> \
        None:
    person = await people.brand()
    await web.sign_in(person.email, person.password)
    response = await web.post("/account/preferences", {"locale": "klingon", "timezone": "Mars/Olympus"})
    assert response.status_code == 422
    assert "Choose one of the languages offered." in response.text
    assert "Choose a time zone from the list" in response.text
    user = await db.scalar(sa.select(User).where(User.id == person.user_id))
    assert user.timezone == "UTC"


async def test_sign_up_keeps_the_browsers_zone_and_the_pages_language(web: Any, db: Any) -> None:
    response = await web.post("/signup", {"kind": "creator", "full_name": "Li Wei", "email": "li@example.test",
                                          "password": "long-enough-password", "timezone": "Asia/Shanghai"},
                              headers={"Accept-Language": "zh-CN"})
    assert response.status_code == 200
    user = await db.scalar(sa.select(User).where(User.email == "li@example.test"))
    assert (user.timezone, user.locale) == ("Asia/Shanghai", "zh_Hans")


async def test_sign_up_without_javascript_starts_in_utc(web: Any, db: Any) -> None:
    await web.post("/signup", {"kind": "creator", "full_name": "Ann", "email": "ann@example.test",
                               "password": "long-enough-password", "timezone": "not/a-zone"})
    user = await db.scalar(sa.select(User).where(User.email == "ann@example.test"))
    assert user.timezone == "UTC"
