"""A platform without client credentials is not offered: no connect button, and starting anyway is refused."""

from __future__ import annotations

from typing import Any

import pytest


@pytest.fixture
def test_env(test_env: dict[str, str]) -> dict[str, str]:
    for key in ("INSTAGRAM_CLIENT_ID", "INSTAGRAM_CLIENT_SECRET"):
        test_env.pop(key, None)
    return test_env


async def test_a_platform_without_credentials_is_not_offered(creator_web: Any) -> None:
    page = await creator_web.get("/creator/social/")
    assert "Connect TikTok" in page.text and "Connect Instagram" not in page.text
    assert "Not available on this PostPact" in page.text
    refused = await creator_web.post("/creator/social/instagram/connect")
    assert refused.status_code == 422 and "be connected on this PostPact" in refused.text
    unknown = await creator_web.post("/creator/social/myspace/connect")
    assert unknown.status_code == 404
