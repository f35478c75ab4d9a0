"""Connecting accounts through the pages on the stand-in: each platform, verified followers shown, state mismatch
and replayed callbacks refused, tokens encrypted and never in pages or logs, refresh, reconnect, disconnect."""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Any

import pytest
import sqlalchemy as sa

from marketplace.creators.models import SocialAccount
from marketplace.social.models import SocialConnection
from tests.integration.social.conftest import connect, consent, start

PLATFORMS = ("instagram", "tiktok", "youtube")


@pytest.mark.parametrize("platform", PLATFORMS)
async def test_connecting_shows_verified_followers_and_stores_only_encrypted_tokens(
    platform: str, creator_web: Any, social: Any, db: Any, limiter: Any, caplog: Any
) -> None:
    caplog.set_level(logging.DEBUG)
    social.add_account(platform, "mia", followers=12_345)
    social.add_media(platform, "mia", "7559684939684400414" if platform == "tiktok" else "abcdefghijk",
                     caption="hello", likes=200, comments=20, shares=10, views=5000)

    response = await connect(creator_web, social, platform, "mia")
    assert response.status_code == 303, response.text[:800]
    page = await creator_web.get("/creator/social/")
    assert page.status_code == 200
    assert "Verified" in page.text and "12,345 followers" in page.text and "@mia" in page.text

    conn = await db.scalar(sa.select(SocialConnection).where(SocialConnection.platform == platform))
    assert conn.followers == 12_345 and conn.status == "active" and conn.audience_fetched_at is not None
    assert conn.engagement_bps == round((200 + 20 + (10 if platform == "tiktok" else 0)) * 10_000 / 12_345) \
        or platform != "tiktok"
    account = await db.scalar(sa.select(SocialAccount).where(SocialAccount.handle == "mia"))
    assert account is not None and account.followers == 12_345
    issued = social.tokens_issued()
    assert issued
    for token in issued:
        assert token not in conn.access_token_enc and token not in (conn.refresh_token_enc or "")
        assert token not in page.text
        assert token not in caplog.text
    api = await creator_web.get("/creator/social/")
    assert all(token not in api.text for token in issued)


async def test_youtube_uses_pkce_and_tiktok_its_client_key(creator_web: Any, social: Any) -> None:
    youtube = await start(creator_web, "youtube")
    assert "code_challenge=" in youtube and "code_challenge_method=S256" in youtube and "access_type=offline" in youtube
    tiktok = await start(creator_web, "tiktok")
    assert "client_key=pp-tiktok-client" in tiktok and "state=" in tiktok


async def test_a_callback_with_another_state_is_refused_and_ends_the_attempt(
    creator_web: Any, social: Any, db: Any, limiter: Any
) -> None:
    social.add_account("tiktok", "mia")
    social.login_as("tiktok", "mia")
    callback = await consent(await start(creator_web, "tiktok"))
    forged = callback.replace("state=", "state=forged")
    refused = await creator_web.get(forged)
    assert refused.status_code == 400 and "match the connection you started" in refused.text
    # The attempt is used up: the genuine callback arriving afterwards is refused too.
    late = await creator_web.get(callback)
    assert late.status_code == 400
    assert await db.scalar(sa.select(sa.func.count()).select_from(SocialConnection)) == 0


async def test_a_replayed_callback_is_refused(creator_web: Any, social: Any, db: Any, limiter: Any) -> None:
    social.add_account("youtube", "mia")
    social.login_as("youtube", "mia")
    callback = await consent(await start(creator_web, "youtube"))
    assert (await creator_web.get(callback)).status_code == 303
    replay = await creator_web.get(callback)
    assert replay.status_code == 400 and "already used" in replay.text
    assert await db.scalar(sa.select(sa.func.count()).select_from(SocialConnection)) == 1


async def test_a_callback_in_another_browser_is_refused(
    creator_web: Any, make_web: Any, people: Any, social: Any, db: Any, limiter: Any
) -> None:
    social.add_account("tiktok", "mia")
    social.login_as("tiktok", "mia")
    callback = await consent(await start(creator_web, "tiktok"))
    other = await make_web()
    person = await people.creator()
    await other.sign_in(person.email, person.password)
    assert (await other.get(callback)).status_code == 400
    assert await db.scalar(sa.select(sa.func.count()).select_from(SocialConnection)) == 0


async def test_every_configured_platform_is_offered(creator_web: Any, social: Any) -> None:
    page = await creator_web.get("/creator/social/")
    assert all(f"Connect {label}" in page.text for label in ("Instagram", "TikTok", "YouTube"))


async def test_refresh_before_expiry_then_a_revoked_account_asks_to_reconnect(
    creator_web: Any, social: Any, db: Any, runtime: Any, limiter: Any
) -> None:
    from marketplace.social.jobs import refresh_audiences

    social.add_account("tiktok", "mia", followers=100)
    await connect(creator_web, social, "tiktok", "mia")
    before = await db.scalar(sa.select(SocialConnection))
    sealed_before, expiry_before = before.access_token_enc, before.token_expires_at
    # A day later the one-day TikTok token is near expiry: the daily refresh renews it first, then reads.
    social.accounts[("tiktok", "mia")].followers = 150
    runtime.clock.advance(timedelta(hours=23, minutes=55))
    assert await refresh_audiences(runtime.job_context()) == 1
    after = await db.scalar(sa.select(SocialConnection))
    assert after.followers == 150 and after.access_token_enc != sealed_before
    assert after.token_expires_at > expiry_before

    social.revoke_account("tiktok", "mia")
    runtime.clock.advance(timedelta(days=1))
    assert await refresh_audiences(runtime.job_context()) == 0
    conn = await db.scalar(sa.select(SocialConnection))
    assert conn.status == "reconnect" and conn.access_token_enc == "" and conn.refresh_token_enc is None
    page = await creator_web.get("/creator/social/")
    assert "Reconnect TikTok" in page.text
    api = await creator_web.get("/creator/social/")
    assert api.status_code == 200


async def test_disconnect_deletes_the_tokens_and_revokes_them(
    creator_web: Any, social: Any, db: Any, limiter: Any
) -> None:
    social.add_account("youtube", "mia")
    await connect(creator_web, social, "youtube", "mia")
    response = await creator_web.post("/creator/social/youtube/disconnect")
    assert response.status_code == 303
    assert await db.scalar(sa.select(sa.func.count()).select_from(SocialConnection)) == 0
    assert social.revoked, "the refresh token was revoked at Google"
    page = await creator_web.get("/creator/social/")
    assert "Connect YouTube" in page.text


async def test_an_account_connected_elsewhere_is_refused(
    creator_web: Any, make_web: Any, people: Any, social: Any, db: Any, limiter: Any
) -> None:
    social.add_account("instagram", "mia")
    await connect(creator_web, social, "instagram", "mia")
    other = await make_web()
    person = await people.creator()
    await other.sign_in(person.email, person.password)
    refused = await connect(other, social, "instagram", "mia")
    assert refused.status_code == 400 and "another PostPact account" in refused.text


async def test_forms_need_the_csrf_token(creator_web: Any) -> None:
    response = await creator_web.post("/creator/social/tiktok/connect", csrf=False)
    assert response.status_code == 403


async def test_the_daily_refresh_reads_in_batches_of_concurrent_accounts_within_the_rate_limit(
    make_web: Any, people: Any, social: Any, db: Any, runtime: Any, limiter: Any, monkeypatch: Any
) -> None:
    from marketplace.social import jobs

    for n in range(5):
        person = await people.creator()
        web = await make_web()
        await web.sign_in(person.email, person.password)
        social.add_account("tiktok", f"mia{n}", followers=100 + n)
        assert (await connect(web, social, "tiktok", f"mia{n}")).status_code == 303
        social.accounts[("tiktok", f"mia{n}")].followers = 1_000 + n

    in_flight, most = 0, 0
    real = jobs.refresh_audience

    async def counted(*args: Any) -> str:
        nonlocal in_flight, most
        in_flight += 1
        most = max(most, in_flight)
        try:
            return await real(*args)
        finally:
            in_flight -= 1

    monkeypatch.setattr(jobs, "refresh_audience", counted)
    monkeypatch.setattr(jobs, "REFRESH_BATCH", 2)
    monkeypatch.setattr(jobs, "REFRESH_CONCURRENCY", 2)
    social.rate_limit_next("tiktok", times=1, retry_after=30)
    limiter.sleeps.clear()
    runtime.clock.advance(timedelta(minutes=5))
    # One account meets the 429 and is left for tomorrow; the others are read, after the platform's 30 s pause.
    assert await jobs.refresh_audiences(runtime.job_context()) == 4
    assert most == 2, "two accounts at a time, not one and not all"
    assert sum(limiter.sleeps) >= 30
    followers = sorted((await db.scalars(sa.select(SocialConnection.followers))).all())
    assert len([f for f in followers if f >= 1_000]) == 4 and len([f for f in followers if f < 1_000]) == 1
