"""The verification evidence page and fragment: both parties and admins see the snapshot; outsiders get 404."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest

from marketplace.collaborations.states import CollabState
from marketplace.settings import Settings
from marketplace.verification import jobs as verification_jobs
from tests.conftest import START
from tests.fakes.oembed_server import OEmbedServer
from tests.support.deadlines import make_deal


@pytest.fixture
def oembed() -> Iterator[OEmbedServer]:
    with OEmbedServer() as server:
        yield server


@pytest.fixture
def settings(test_env: dict[str, str], oembed: OEmbedServer) -> Settings:
    test_env["TIKTOK_OEMBED_URL"] = oembed.endpoint("tiktok")
    return Settings.from_env(test_env)


async def signed_in(make_web: Any, person: Any) -> Any:
    web = await make_web()
    await web.sign_in(person.email, person.password)
    return web


async def test_evidence_is_shown_to_both_sides_and_admins_only(
    oembed: OEmbedServer, runtime: Any, people: Any, make_web: Any
) -> None:
    deal = await make_deal(runtime, people, until=CollabState.POSTED, start=START)
    url = f"/collaborations/{deal.collaboration_id}/verification"
    creator = await signed_in(make_web, deal.creator)
    empty = await creator.get(url)
    assert empty.status_code == 200 and "No post has been checked yet" in empty.text

    oembed.add_post("tiktok", deal.post_url, author="someone_else", caption="New serum! #glow @acmegoods")
    runtime.clock.set(START + timedelta(hours=12))
    assert await verification_jobs.verify_post(runtime.job_context(), str(deal.submission_id)) == "failed"

    brand = await signed_in(make_web, deal.brand)
    admin = await signed_in(make_web, await people.admin())
    for viewer in (creator, brand, admin):
        page = await viewer.get(url)
        assert page.status_code == 200
        # Checks in words (never their stored names such as author_matches).
        assert "Failed" in page.text and "Posted from the creator&#39;s linked account" in page.text
        assert "Disclosure in the caption" in page.text and "author_matches" not in page.text
        assert "@someone_else" in page.text and "Payload SHA-256" in page.text
    fragment = await brand.get(url, htmx=True)
    assert fragment.status_code == 200 and "<html" not in fragment.text
    assert 'id="verification-evidence"' in fragment.text

    for outsider in (await people.brand(brand_name="Other Co"), await people.creator()):
        web = await signed_in(make_web, outsider)
        response = await web.get(url)
        assert response.status_code == 404 and "someone_else" not in response.text
