"""Connected accounts without a database: engagement arithmetic, link ids, the OAuth attempt kept in the session,
and tokens that never show in a repr."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from marketplace.settings import Settings
from marketplace.social.clients import Media, engagement_bps, instagram_shortcode
from marketplace.social.connections import ConnectionRefused, begin_connection, take_pending
from marketplace.social.oauth import Tokens

NOW = datetime(2026, 12, 6, 12, 0, tzinfo=UTC)


def media(**counts: int) -> Media:
    return Media(media_id="1", post_ref="1", permalink="", caption="", published_at=None, author_handle=None,
                 **counts)


def settings() -> Settings:
    return Settings.from_env({"POSTPACT_ENV": "test", "SECRET_KEY": "k" * 40, "TIKTOK_CLIENT_ID": "ck",
                              "TIKTOK_CLIENT_SECRET": "cs", "YOUTUBE_CLIENT_ID": "g", "YOUTUBE_CLIENT_SECRET": "gs"})


def test_engagement_is_mean_interactions_over_followers_in_basis_points() -> None:
    assert engagement_bps([media(likes=300, comments=50), media(likes=100, shares=50)], 10_000) == 250
    assert engagement_bps([], 10_000) is None and engagement_bps([media(likes=1)], 0) is None


def test_instagram_permalinks_give_the_shortcode_links_carry() -> None:
    assert instagram_shortcode("https://www.instagram.com/reel/DAbc123/") == "DAbc123"
    assert instagram_shortcode("https://www.instagram.com/p/XYZ/") == "XYZ"
    assert instagram_shortcode("https://www.instagram.com/mia/") == ""


def test_tokens_never_show_in_a_repr() -> None:
    tokens = Tokens("secret-access", "secret-refresh", NOW, "video.list")
    assert "secret" not in repr(tokens) and "secret" not in str(tokens)


def test_only_configured_platforms_are_offered() -> None:
    assert settings().social.offered == ["tiktok", "youtube"]
    with pytest.raises(ConnectionRefused):
        begin_connection({}, settings(), "instagram", NOW)


def test_the_attempt_is_bound_to_the_session_used_once_and_expires() -> None:
    session: dict[str, object] = {}
    url = begin_connection(session, settings(), "youtube", NOW)
    state = session["social_oauth"]["youtube"]["state"]  # type: ignore[index]
    assert f"state={state}" in url and "code_challenge=" in url
    assert take_pending(session, "youtube", state, NOW + timedelta(minutes=1))  # the PKCE verifier
    with pytest.raises(ConnectionRefused, match="already used"):
        take_pending(session, "youtube", state, NOW + timedelta(minutes=1))

    begin_connection(session, settings(), "tiktok", NOW)
    with pytest.raises(ConnectionRefused, match="doesn't match"):
        take_pending(session, "tiktok", "forged", NOW)
    with pytest.raises(ConnectionRefused, match="already used"):
        take_pending(session, "tiktok", "forged", NOW)

    begin_connection(session, settings(), "tiktok", NOW)
    state = session["social_oauth"]["tiktok"]["state"]  # type: ignore[index]
    with pytest.raises(ConnectionRefused, match="too long"):
        take_pending(session, "tiktok", state, NOW + timedelta(minutes=11))


async def test_the_shared_bucket_never_spins_on_a_float_hair_below_one_token() -> None:
    from marketplace.verification.ratelimit import RateLimit, TokenBucket

    clock = {"t": 1000.0, "sleeps": 0}

    async def sleep(seconds: float) -> None:
        clock["sleeps"] += 1
        assert clock["sleeps"] < 1000, "spinning"
        clock["t"] += seconds

    bucket = TokenBucket(RateLimit(per_second=5.0, burst=10), monotonic=lambda: clock["t"], sleep=sleep)
    for _ in range(200):
        await bucket.acquire()
    assert clock["t"] == pytest.approx(1000.0 + 190 / 5, abs=0.01)
