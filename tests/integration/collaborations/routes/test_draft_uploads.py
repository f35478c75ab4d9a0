"""Draft uploads on the deal page: type by content, size-limited, stored under var/, served only to the parties."""

from __future__ import annotations

import dataclasses
import html

import pytest
import sqlalchemy as sa

from marketplace.collaborations.models import ContentDraft
from marketplace.collaborations.states import CollabState
from marketplace.settings import Settings
from tests.support.deals import PNG_BYTES, bearer, make_deal, snapshot

LIMIT = 64 * 1024


@pytest.fixture
def settings(test_env) -> Settings:
    """A small upload limit, so "too big" costs kilobytes instead of 25 MB per test."""
    base = Settings.from_env(test_env)
    return dataclasses.replace(base, storage=dataclasses.replace(base.storage, max_upload_bytes=LIMIT))


def stored_files(runtime) -> list:
    root = runtime.settings.storage.upload_dir
    return sorted(p for p in root.rglob("*") if p.is_file()) if root.exists() else []


async def test_a_creator_uploads_a_draft_photo_only_the_parties_can_open(make_web, client, runtime, db, people) -> None:
    deal = await make_deal(runtime, CollabState.RECEIVED)
    creator = await make_web()
    await creator.sign_in(deal.creator.email, deal.creator.password)
    response = await creator.post(f"{deal.url}/submit-draft", {"caption": "Morning glow #ad"},
                                  files={"file": ("morning.png", PNG_BYTES, "image/png")}, htmx=True)
    assert response.status_code == 200, response.text
    draft = await db.scalar(sa.select(ContentDraft).where(ContentDraft.collaboration_id == deal.id))
    assert draft.upload_content_type == "image/png" and draft.upload_size == len(PNG_BYTES)
    assert draft.upload_path.startswith(f"drafts/{deal.id}/") and draft.upload_path.endswith(".png")
    assert "morning" not in draft.upload_path  # the browser's file name never reaches the disk
    files = stored_files(runtime)
    assert len(files) == 1 and files[0].read_bytes() == PNG_BYTES
    assert runtime.settings.storage.var_dir in files[0].parents
    file_url = f"{deal.url}/drafts/{draft.id}/file"
    assert file_url in response.text

    brand = await make_web()
    await brand.sign_in(deal.brand.email, deal.brand.password)
    for web in (creator, brand):
        served = await web.get(file_url)
        assert served.status_code == 200
        assert served.content == PNG_BYTES
        assert served.headers["content-type"] == "image/png"
        assert served.headers["x-content-type-options"] == "nosniff"
        assert "sandbox" in served.headers["content-security-policy"]
        assert served.headers["cache-control"] == "private, no-store"
    api = await client.get(f"/api/v1/collaborations/{deal.id}/drafts/{draft.id}/file",
                           headers=await bearer(runtime, deal.brand))
    assert api.status_code == 200 and api.content == PNG_BYTES
    detail = await client.get(f"/api/v1/collaborations/{deal.id}", headers=await bearer(runtime, deal.brand))
    assert detail.json()["drafts"][0]["upload_url"] == f"/api/v1/collaborations/{deal.id}/drafts/{draft.id}/file"

    admin = await people.admin()
    admin_web = await make_web()
    await admin_web.sign_in(admin.email, admin.password)
    assert (await admin_web.get(file_url)).content == PNG_BYTES  # admins may look (disputes)

    rival = await make_web()
    rival_brand = await people.brand(brand_name="Rival")
    await rival.sign_in(rival_brand.email, rival_brand.password)
    assert (await rival.get(file_url)).status_code == 404
    anonymous = await make_web()
    assert (await anonymous.get(file_url)).status_code == 303
    # Nothing under /static serves uploads.
    assert (await anonymous.get(f"/static/uploads/{draft.upload_path}")).status_code == 404
    assert (await anonymous.get(f"/static/../var/uploads/{draft.upload_path}")).status_code in (400, 404)


WRONG_FILES: list[tuple[str, bytes, str]] = [
        ("glow.png", b"<html><script>alert(1)</script></html>", "contents aren't a photo"),
        ("glow.png", b"GIF8", "contents aren't a photo"),
        ("glow.svg", b'<svg xmlns="http://www.w3.org/2000/svg"/>', "Upload a photo"),
        ("glow.exe", PNG_BYTES, "Upload a photo"),
        ("glow", PNG_BYTES, "Upload a photo"),
        ("empty.png", b"", "The file is empty"),
        ("big.png", PNG_BYTES + b"\0" * LIMIT, "the limit is 0.1 MB"),
        ("clip.mkv", b"\x1a\x45\xdf\xa3" + b"\0" * 40 + b"matroska", "Upload a photo"),
        ("clip.webm", b"\x1a\x45\xdf\xa3" + b"\0" * 40 + b"matroska", "contents aren't a photo"),
]


async def test_wrong_files_are_refused_in_place_and_nothing_is_kept(make_web, runtime, db) -> None:
    deal = await make_deal(runtime, CollabState.RECEIVED)
    before = await snapshot(db, [deal.id])
    web = await make_web()
    await web.sign_in(deal.creator.email, deal.creator.password)
    for name, content, message in WRONG_FILES:
        for htmx in (False, True):
            response = await web.post(f"{deal.url}/submit-draft", {"caption": "Glow #ad"},
                                      files={"file": (name, content, "image/png")}, htmx=htmx)
            assert response.status_code == 422, (name, response.text)
            assert message in html.unescape(response.text), name
            assert 'id="e-file"' in response.text
    assert await snapshot(db, [deal.id]) == before
    assert stored_files(runtime) == []


async def test_a_body_over_the_request_limit_is_refused_without_a_500(make_web, runtime, db) -> None:
    deal = await make_deal(runtime, CollabState.RECEIVED)
    before = await snapshot(db, [deal.id])
    web = await make_web()
    await web.sign_in(deal.creator.email, deal.creator.password)
    huge = PNG_BYTES + b"\0" * (LIMIT + 2 * 1024 * 1024)
    response = await web.post(f"{deal.url}/submit-draft", {"caption": "Glow #ad"},
                              files={"file": ("huge.png", huge, "image/png")})
    assert response.status_code in (400, 413), response.status_code
    assert await snapshot(db, [deal.id]) == before
    assert stored_files(runtime) == []


async def test_a_failed_step_after_the_upload_removes_the_file(runtime, db) -> None:
    from marketplace.collaborations.services import DealService
    from marketplace.collaborations.uploads import DraftUpload
    from marketplace.db import session_scope
    from tests.support.deals import creator_actor

    deal = await make_deal(runtime, CollabState.RECEIVED)
    with pytest.raises(RuntimeError, match="after the upload"):
        async with session_scope(runtime.session_maker) as session:
            await DealService.of(session, runtime).submit_draft(
                deal.id, creator_actor(deal.creator), caption="Glow", upload=DraftUpload("a.png", PNG_BYTES))
            assert len(stored_files(runtime)) == 1
            raise RuntimeError("something failed after the upload")
    assert stored_files(runtime) == []
    assert await db.scalar(sa.select(sa.func.count(ContentDraft.id))) == 0


async def test_a_form_part_that_is_not_utf8_is_a_400_not_a_500(make_web, runtime, db) -> None:
    deal = await make_deal(runtime, CollabState.RECEIVED)
    before = await snapshot(db, [deal.id])
    web = await make_web()
    await web.sign_in(deal.creator.email, deal.creator.password)
    token = await web.csrf_token()
    boundary = "postpactboundary"
    body = (
        f"--{boundary}\r\nContent-Disposition: form-data; name=\"_csrf_token\"\r\n\r\n{token}\r\n"
        f"--{boundary}\r\nContent-Disposition: form-data; name=\"caption\"\r\n\r\nGlow\r\n"
        # A file part without a filename is read as text by the form parser.
        f"--{boundary}\r\nContent-Disposition: form-data; name=\"file\"\r\n\r\n"
    ).encode() + b"\x80\xff\xfe" + f"\r\n--{boundary}--\r\n".encode()
    response = await web.client.post(f"{deal.url}/submit-draft", content=body,
                                     headers={"Content-Type": f"multipart/form-data; boundary={boundary}"})
    assert response.status_code == 400
    assert "isn't valid UTF-8" in response.text
    assert await snapshot(db, [deal.id]) == before
