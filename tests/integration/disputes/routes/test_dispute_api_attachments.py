"""Evidence files through the disputes JSON API (base64 in the body), checked exactly like the page's uploads; a bad
file is a 422 problem with the attachments field named, and nothing is written."""

from __future__ import annotations

import base64

import pytest
import sqlalchemy as sa

from marketplace.collaborations.states import CollabState
from marketplace.disputes.attachments import MAX_ATTACHMENT_BYTES
from marketplace.disputes.models import Dispute, DisputeAttachment, DisputeStatement
from tests.support.deals import bearer
from tests.support.disputes import PDF_BYTES, funded
from tests.support.escrow import collab_state

PNG_BYTES = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


async def test_both_sides_attach_evidence_and_read_it_back(client, runtime, db) -> None:
    deal = await funded(runtime, CollabState.VERIFIED)
    brand_api, creator_api = await bearer(runtime, deal.brand), await bearer(runtime, deal.creator)
    base = f"/api/v1/collaborations/{deal.id}/disputes"

    opened = await client.post(base, headers=brand_api, json={
        "reason": "brief_mismatch", "statement": "No #ad in the caption, as agreed.",
        "attachments": [{"filename": "brief.pdf", "content_base64": b64(PDF_BYTES)}]})
    assert opened.status_code == 201, opened.text
    answered = await client.post(f"{base}/statements", headers=creator_api, json={
        "statement": "The disclosure is on screen at second 2.",
        "attachments": [{"filename": "../../frame.png", "content_base64": b64(PNG_BYTES)}]})
    assert answered.status_code == 201, answered.text
    assert [s["attachments"] for s in answered.json()["statements"]] == [["brief.pdf"], ["frame.png"]]

    stored = {a.filename: a for a in await db.scalars(sa.select(DisputeAttachment))}
    assert {n: a.content_type for n, a in stored.items()} == {"brief.pdf": "application/pdf",
                                                              "frame.png": "image/png"}
    assert (runtime.settings.storage.upload_dir / stored["frame.png"].path).read_bytes() == PNG_BYTES


@pytest.mark.parametrize("attachments,says", [
    ([{"filename": "brief.pdf", "content_base64": "not base64!"}], "isn't valid base64"),
    ([{"filename": "run.pdf", "content_base64": b64(b"MZ\x90\x00 not a pdf")}], "contents aren't"),
    ([{"filename": "notes.exe", "content_base64": b64(PDF_BYTES)}], "attach a photo"),
    ([{"filename": "a.pdf", "content_base64": b64(PDF_BYTES)}] * 5, "at most 4 files"),
    ([{"filename": "big.pdf", "content_base64": b64(PDF_BYTES + b"0" * MAX_ATTACHMENT_BYTES)}], "5 MB"),
    ([{"filename": "x\u0000.pdf", "content_base64": b64(PDF_BYTES)}], "NUL"),
    ([{"filename": "brief.pdf"}], None),
])
async def test_a_bad_attachment_is_a_field_error_and_nothing_is_written(client, runtime, db, attachments,
                                                                        says) -> None:
    deal = await funded(runtime, CollabState.VERIFIED)
    response = await client.post(f"/api/v1/collaborations/{deal.id}/disputes",
                                 headers=await bearer(runtime, deal.brand),
                                 json={"reason": "brief_mismatch", "statement": "No #ad in the caption, as agreed.",
                                       "attachments": attachments})
    assert response.status_code in (400, 422), response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    if says is not None:
        [error] = response.json()["errors"]
        assert response.status_code == 422 and error["field"] == "attachments" and says in error["message"], error
    assert await db.scalar(sa.select(sa.func.count()).select_from(Dispute)) == 0
    assert await db.scalar(sa.select(sa.func.count()).select_from(DisputeStatement)) == 0
    assert await collab_state(db, deal.id) is CollabState.VERIFIED
