"""A draft's caption checked against the terms: both sides see what is missing (the disclosure, required hashtags and
mentions); the brand approves it only by saying "approve anyway", which the approval event records."""

from __future__ import annotations

import html
from typing import Any

import sqlalchemy as sa

from marketplace.collaborations.models import CollaborationEvent
from marketplace.collaborations.states import CollabState
from tests.support.deadlines import load
from tests.support.deals import PASSWORD, bearer, make_deal


async def draft_submitted(runtime: Any, web: Any, caption: str) -> Any:
    """A deal whose terms ask for #ad, #glowlab and @glowlab, with the creator's draft under review."""
    deal = await make_deal(runtime, CollabState.RECEIVED, through_applications=True)
    await web.sign_in(deal.creator.email, PASSWORD)
    sent = await web.post(f"{deal.url}/submit-draft", {"caption": caption, "media_url": "https://drive.example/v1"})
    assert sent.status_code in (302, 303), sent.text[:400]
    return deal


async def approvals(db: Any, deal: Any) -> list[CollaborationEvent]:
    return list(await db.scalars(sa.select(CollaborationEvent).where(
        CollaborationEvent.collaboration_id == deal.id, CollaborationEvent.action == "approve_draft")))


async def test_missing_disclosure_and_tags_are_shown_and_need_an_explicit_approval(
    runtime: Any, web: Any, db: Any
) -> None:
    deal = await draft_submitted(runtime, web, "My morning routine with the serum, love it")
    creator_page = html.unescape((await web.get(deal.url)).text)
    assert 'data-testid="draft-gaps-1"' in creator_page
    assert "Missing from the caption: #ad, #glowlab, @glowlab" in creator_page

    await web.sign_out()
    await web.sign_in(deal.brand.email, PASSWORD)
    brand_page = html.unescape((await web.get(deal.url)).text)
    assert "Missing from the caption: #ad, #glowlab, @glowlab" in brand_page
    assert "The disclosure #ad" in brand_page and "Approve anyway" in brand_page

    refused = await web.post(f"{deal.url}/approve-draft", {"comment": "Looks good"})
    assert refused.status_code == 422
    assert "The caption is missing the disclosure #ad, the hashtag #glowlab and the mention @glowlab" in \
        html.unescape(refused.text)
    assert (await load(runtime, deal.id)).status == CollabState.DRAFT_SUBMITTED
    assert await approvals(db, deal) == []

    approved = await web.post(f"{deal.url}/approve-draft", {"comment": "Post it", "approve_anyway": "1"})
    assert approved.status_code in (302, 303)
    assert (await load(runtime, deal.id)).status == CollabState.DRAFT_APPROVED
    [event] = await approvals(db, deal)
    assert event.payload["approved_anyway"] is True and event.payload["missing"] == ["#ad", "#glowlab", "@glowlab"]
    timeline = html.unescape((await web.get(deal.url)).text)
    assert "Approved anyway, without #ad, #glowlab, @glowlab" in timeline


async def test_a_complete_caption_is_approved_without_a_question(runtime: Any, web: Any, db: Any) -> None:
    deal = await draft_submitted(runtime, web, "Week one with @GlowLab #AD #glowlab")
    await web.sign_out()
    await web.sign_in(deal.brand.email, PASSWORD)
    page = html.unescape((await web.get(deal.url)).text)
    assert "Missing from the caption" not in page and "Approve anyway" not in page
    assert (await web.post(f"{deal.url}/approve-draft", {})).status_code in (302, 303)
    [event] = await approvals(db, deal)
    assert "approved_anyway" not in event.payload


async def test_the_api_names_the_missing_items_and_takes_approve_anyway(runtime: Any, web: Any, client: Any,
                                                                         db: Any) -> None:
    deal = await draft_submitted(runtime, web, "Week one with @glowlab #adventure")
    headers = await bearer(runtime, deal.brand)
    url = f"/api/v1/collaborations/{deal.id}/approve-draft"
    refused = await client.post(url, json={}, headers=headers)
    assert refused.status_code == 422
    problem = refused.json()
    assert "#ad" in str(problem) and "#glowlab" in str(problem) and "approve_anyway" in str(problem)
    approved = await client.post(url, json={"approve_anyway": True}, headers=headers)
    assert approved.status_code == 200, approved.text
    [event] = await approvals(db, deal)
    assert event.payload["missing"] == ["#ad", "#glowlab"]
