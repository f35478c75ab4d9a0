"""The deal from offer to submitted post through the JSON API, as the brand's and the creator's integrations."""

from __future__ import annotations

import sqlalchemy as sa

from marketplace.collaborations.models import Collaboration, CollaborationEvent, PostSubmission
from marketplace.collaborations.states import SYSTEM, Action, CollabState
from marketplace.collaborations.transition import transition
from marketplace.db import session_scope
from marketplace.notifications.models import Notification
from tests.support.deals import bearer, make_deal


async def test_offer_to_posted_through_the_api(client, runtime, db, clock) -> None:
    deal = await make_deal(runtime)
    brand, creator = await bearer(runtime, deal.brand), await bearer(runtime, deal.creator)
    base = f"/api/v1/collaborations/{deal.id}"

    offered = await client.get(base, headers=creator)
    assert offered.status_code == 200, offered.text
    body = offered.json()
    assert body["status"] == "offered"
    assert body["fee"] == {"amount": 15000, "currency": "USD"}
    assert body["shipping_address"]["city"] == "Portland"  # the creator's own
    assert [a["action"] for a in body["allowed_actions"]] == ["sign", "decline_offer"]
    # The brand doesn't see the address before the creator signs.
    assert (await client.get(base, headers=brand)).json()["shipping_address"] is None

    signed = await client.post(f"{base}/sign", json={"terms_hash": body["terms_hash"]}, headers=creator)
    assert signed.status_code == 200, signed.text
    assert signed.json()["status"] == "signed"
    assert signed.json()["next_due"]["stage"] == "fund" and signed.json()["next_due"]["party"] == "brand"
    assert (await client.get(base, headers=brand)).json()["shipping_address"]["line1"] == "12 Orchard Lane"

    # Escrow (built in parallel) records the funding like this.
    async with session_scope(runtime.session_maker) as session:
        await transition(session, deal.id, Action.MARK_FUNDED, SYSTEM, now=clock.now())

    clock.advance(days=1)
    shipped = await client.post(f"{base}/ship", json={"carrier": "UPS", "tracking_number": "1Z999AA10123456784",
                                                       "tracking_url": "https://www.ups.com/track?tn=1Z999"},
                                headers=brand)
    assert shipped.status_code == 200, shipped.text
    assert shipped.json()["shipments"][0]["carrier"] == "UPS"

    clock.advance(days=2)
    received = await client.post(f"{base}/confirm-receipt", headers=creator)
    assert received.status_code == 200, received.text
    assert received.json()["shipments"][0]["received_at"] is not None

    draft = {"caption": "My glow routine @glowlab #glowlab #ad", "media_url": "https://drive.example.com/v1.mp4"}
    first = await client.post(f"{base}/submit-draft", json=draft, headers=creator)
    assert first.status_code == 200, first.text
    assert first.json()["status"] == "draft_submitted"

    changes = await client.post(f"{base}/request-changes", json={"comment": "Show the label, please"}, headers=brand)
    assert changes.status_code == 200, changes.text
    assert changes.json()["status"] == "changes_requested"
    assert changes.json()["revision_rounds_used"] == 1
    assert changes.json()["drafts"][0]["review"] == "changes_requested"

    second = await client.post(f"{base}/submit-draft", json={**draft, "media_url": "https://drive.example.com/v2.mp4"},
                               headers=creator)
    assert second.status_code == 200, second.text
    assert [d["round"] for d in second.json()["drafts"]] == [1, 2]

    approved = await client.post(f"{base}/approve-draft", json={"comment": "Perfect"}, headers=brand)
    assert approved.status_code == 200, approved.text
    assert approved.json()["status"] == "draft_approved"

    post_url = deal.post_url("7312345678901234567")
    posted = await client.post(f"{base}/submit-post", json={"url": post_url}, headers=creator)
    assert posted.status_code == 200, posted.text
    assert posted.json()["status"] == "posted"
    assert posted.json()["posts"][0]["post_ref"] == "7312345678901234567"
    assert posted.json()["posts"][0]["verification_status"] == "pending"

    events = await client.get(f"{base}/events", headers=brand)
    assert events.status_code == 200
    assert [e["action"] for e in events.json()] == [
        "offer", "sign", "mark_funded", "ship", "confirm_receipt", "submit_draft", "request_changes",
        "submit_draft", "approve_draft", "submit_post",
    ]
    assert events.json()[3]["payload"]["carrier"] == "UPS"

    collab = await db.get(Collaboration, deal.id)
    assert collab.status is CollabState.POSTED and collab.event_count == 10
    assert collab.next_due_stage is None  # verification (a later issue) is what moves it on
    submission = await db.scalar(sa.select(PostSubmission).where(PostSubmission.collaboration_id == deal.id))
    assert submission.url == post_url
    # Each step told the other side.
    titles = (await db.scalars(sa.select(Notification.title).where(Notification.user_id == deal.brand.user_id))).all()
    assert any("published the post" in t for t in titles) and any("signed" in t for t in titles)
    creator_titles = (await db.scalars(
        sa.select(Notification.title).where(Notification.user_id == deal.creator.user_id))).all()
    assert any("shipped your product" in t for t in creator_titles)
    assert any("asked for changes" in t for t in creator_titles)


async def test_lists_filter_by_status_and_gig_with_keyset_pages(client, runtime) -> None:
    first = await make_deal(runtime)
    brand = first.brand
    others = [await make_deal(runtime, brand=brand) for _ in range(3)]
    signed = await make_deal(runtime, CollabState.SIGNED, brand=brand)
    stranger = await make_deal(runtime)  # another brand's deal never shows up
    headers = await bearer(runtime, brand)

    seen: list[str] = []
    cursor = None
    while True:
        params = {"limit": "2", **({"after": cursor} if cursor else {})}
        page = await client.get("/api/v1/collaborations", params=params, headers=headers)
        assert page.status_code == 200, page.text
        seen += [item["id"] for item in page.json()["items"]]
        cursor = page.json()["next_cursor"]
        if cursor is None:
            break
    expected = [str(d.id) for d in [signed, *reversed(others), first]]
    assert seen == expected
    assert str(stranger.id) not in seen

    only_signed = await client.get("/api/v1/collaborations", params={"status": "signed"}, headers=headers)
    assert [i["id"] for i in only_signed.json()["items"]] == [str(signed.id)]
    waiting = await client.get("/api/v1/collaborations", params={"status": "waiting"}, headers=headers)
    assert [i["id"] for i in waiting.json()["items"]] == [str(signed.id)]  # the brand must fund it
    by_gig = await client.get("/api/v1/collaborations", params={"gig": str(others[0].gig_id)}, headers=headers)
    assert [i["id"] for i in by_gig.json()["items"]] == [str(others[0].id)]
    item = by_gig.json()["items"][0]
    assert item["fee"] == {"amount": 15000, "currency": "USD"}
    assert item["next_due"]["stage"] == "sign" and item["next_due"]["party"] == "creator"

    bad = await client.get("/api/v1/collaborations", params={"status": "shipped,nonsense"}, headers=headers)
    assert bad.status_code == 422
    assert bad.headers["content-type"].startswith("application/problem+json")
    assert bad.json()["errors"][0]["field"] == "status"
    for params in ({"limit": "0"}, {"limit": "-5"}, {"limit": "abc"}, {"after": "not-a-uuid"}, {"gig": "x"}):
        response = await client.get("/api/v1/collaborations", params=params, headers=headers)
        assert response.status_code in (400, 422), (params, response.status_code)
        assert response.headers["content-type"].startswith("application/problem+json")


async def test_events_hide_admin_notes_from_the_parties(client, runtime, clock) -> None:
    deal = await make_deal(runtime)
    async with session_scope(runtime.session_maker) as session:
        await transition(session, deal.id, Action.ADMIN_NOTE, SYSTEM, now=clock.now(), payload={"note": "internal"})
    events = await client.get(f"/api/v1/collaborations/{deal.id}/events", headers=await bearer(runtime, deal.brand))
    assert [e["action"] for e in events.json()] == ["offer"]
    count = await _event_count(runtime, deal.id)
    assert count == 2


async def _event_count(runtime, collab_id) -> int:
    async with session_scope(runtime.session_maker) as session:
        return await session.scalar(
            sa.select(sa.func.count(CollaborationEvent.id)).where(CollaborationEvent.collaboration_id == collab_id)
        )
