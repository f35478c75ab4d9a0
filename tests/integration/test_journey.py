"""The whole journey across every area, as the two sides' integrations and browsers would drive it.

A brand and a creator sign up through the API; the creator fills in a profile on its pages; the brand posts a
gig; the creator finds it and applies; the brand accepts; the creator signs; the brand funds the escrow through
the (simulated) checkout; the product ships and arrives; a draft goes back and forth; the live post is verified
against the platform's oEmbed (a local server); the brand approves; the creator, onboarded for payouts, is paid.
Runs on SQLite and PostgreSQL.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import sqlalchemy as sa

from escrow.models import EscrowHold, PayoutAccount, ProviderCall
from escrow.states import EscrowState
from marketplace.collaborations.models import Collaboration, CollaborationEvent
from marketplace.collaborations.states import CollabState
from marketplace.creators.models import SocialAccount
from reputation.models import ReputationEvent
from tests.fakes.oembed_server import OEmbedServer
from tests.support.escrow import assert_ledger_invariants, run_jobs

PASSWORD = "a-decent-passphrase"


@pytest.fixture
def oembed() -> Iterator[OEmbedServer]:
    with OEmbedServer() as server:
        yield server


@pytest.fixture
def test_env(test_env: dict[str, str], oembed: OEmbedServer) -> dict[str, str]:
    return {**test_env, "TIKTOK_OEMBED_URL": oembed.endpoint("tiktok")}


async def _signup(client: Any, **body: Any) -> dict[str, str]:
    response = await client.post("/api/v1/auth/signup", json={"password": PASSWORD, **body})
    assert response.status_code == 202, response.text  # alike for new and taken addresses: no token here
    token = await client.post("/api/v1/auth/token", json={"email": body["email"], "password": PASSWORD})
    assert token.status_code == 201, token.text
    return {"Authorization": f"Bearer {token.json()['token']}"}


async def test_gig_to_paid_creator_across_every_area(client, make_web, runtime, db, clock, oembed) -> None:
    brand = await _signup(client, kind="brand", email="maya@glowlab.test", full_name="Maya Chen",
                          brand_name="GlowLab")
    creator = await _signup(client, kind="creator", email="ava@creators.test", full_name="Ava Brooks")

    # The creator's profile: a TikTok account and a shipping address, through the profile pages.
    ava = await make_web()
    await ava.sign_in("ava@creators.test", PASSWORD)
    saved = await ava.post("/creator/profile/accounts", {
        "platform": "tiktok", "handle": "@AvaBrooks", "profile_url": "https://www.tiktok.com/@avabrooks",
        "followers": "48200", "average_views": "21000", "engagement_rate": "6.10"})
    assert saved.status_code == 303, saved.text
    await ava.post("/creator/profile/address", {"recipient_name": "Ava Brooks", "line1": "12 Elm Street",
                                                "city": "Austin", "region": "TX", "postal_code": "73301",
                                                "address_country": "US"})

    # The brand posts a gig through the API and opens it.
    gig = await client.post("/api/v1/gigs", headers=brand, json={
        "title": "Morning routine with our Vitamin C serum",
        "brief": "Show the serum in your real morning routine.",
        "base_fee": {"amount": 15000, "currency": "USD"},
        "product_name": "Vitamin C serum", "product_retail_value": {"amount": 4500, "currency": "USD"},
        "slots": 2,
        "deliverables": [{"platform": "tiktok", "kind": "video", "count": 1, "required_hashtags": ["#glowlab"],
                          "required_mentions": ["@glowlab"]}],
    })
    assert gig.status_code == 201, gig.text
    gig_id = gig.json()["id"]
    assert (await client.post(f"/api/v1/gigs/{gig_id}/publish", headers=brand)).status_code == 200

    # The creator finds it by searching and applies with their TikTok account.
    found = await client.get("/api/v1/gigs", params={"q": "vitamin serum"}, headers=creator)
    assert found.status_code == 200, found.text
    assert [g["id"] for g in found.json()["items"]] == [gig_id]
    listing = await client.get(f"/api/v1/gigs/{gig_id}", headers=creator)
    assert listing.json()["eligibility"]["eligible"] is True, listing.text
    social = await db.scalar(sa.select(SocialAccount).where(SocialAccount.handle == "avabrooks"))
    applied = await client.post(f"/api/v1/gigs/{gig_id}/applications", headers=creator, json={
        "pitch": "My routine videos average 21k views.", "social_account_id": str(social.id)})
    assert applied.status_code == 201, applied.text

    # The brand accepts: a collaboration is offered with frozen terms; the creator signs them.
    accepted = await client.post(f"/api/v1/applications/{applied.json()['id']}/accept", headers=brand)
    assert accepted.status_code == 200, accepted.text
    deals = (await client.get("/api/v1/collaborations", headers=creator)).json()["items"]
    assert len(deals) == 1 and deals[0]["status"] == "offered"
    deal_id = deals[0]["id"]
    base = f"/api/v1/collaborations/{deal_id}"
    terms_hash = (await client.get(base, headers=creator)).json()["terms_hash"]
    assert (await client.post(f"{base}/sign", headers=creator, json={"terms_hash": terms_hash})).status_code == 200

    # The brand funds the escrow on the payments page and pays on the (simulated) checkout.
    maya = await make_web()
    await maya.sign_in("maya@glowlab.test", PASSWORD)
    funding = await maya.post("/brand/payments/fund", [("collaboration_id", deal_id)])
    assert funding.status_code == 303, funding.text
    await run_jobs(runtime)
    hold = await db.scalar(sa.select(EscrowHold).where(EscrowHold.collaboration_id == deal_id))
    assert hold.state is EscrowState.FUNDING and hold.funding_ref
    paid = await maya.post("/payments/simulated/checkout", [("ref", hold.funding_ref), ("outcome", "pay")])
    assert paid.status_code == 303, paid.text
    await run_jobs(runtime)
    assert (await client.get(base, headers=brand)).json()["status"] == "funded"

    # Shipping, receipt, a draft that needs one change, then approval and the live post.
    clock.advance(days=1)
    shipped = await client.post(f"{base}/ship", headers=brand, json={"carrier": "UPS",
                                                                     "tracking_number": "1Z999AA10123456784"})
    assert shipped.status_code == 200, shipped.text
    clock.advance(days=3)
    assert (await client.post(f"{base}/confirm-receipt", headers=creator)).status_code == 200
    clock.advance(days=2)
    draft = {"caption": "Week one with @glowlab #glowlab", "media_url": "https://drive.example.com/v1.mp4"}
    assert (await client.post(f"{base}/submit-draft", headers=creator, json=draft)).status_code == 200
    changes = await client.post(f"{base}/request-changes", headers=brand, json={"comment": "Please add #ad"})
    assert changes.status_code == 200, changes.text
    draft["caption"] += " #ad"
    assert (await client.post(f"{base}/submit-draft", headers=creator, json=draft)).status_code == 200
    assert (await client.post(f"{base}/approve-draft", headers=brand, json={})).status_code == 200
    clock.advance(days=1)
    video_id = (int(clock.now().timestamp()) << 32) | 12345
    post_url = f"https://www.tiktok.com/@avabrooks/video/{video_id}"
    oembed.add_post("tiktok", post_url, author="avabrooks",
                    caption="Week one with @glowlab #glowlab #ad — my skin has never been this calm")
    posted = await client.post(f"{base}/submit-post", headers=creator, json={"url": post_url})
    assert posted.status_code == 200 and posted.json()["status"] == "posted", posted.text

    # PostPact checks the post on TikTok's oEmbed: the author, #ad, the hashtag and mention, the time.
    await run_jobs(runtime)
    assert (await client.get(base, headers=brand)).json()["status"] == "verified"
    assert oembed.request_count(post_url) >= 1

    # The creator sets up payouts (simulated onboarding), the brand approves, the fee is released.
    assert (await ava.post("/creator/payments/onboarding")).status_code == 303
    await run_jobs(runtime)
    payout = await db.scalar(sa.select(PayoutAccount).where(PayoutAccount.account_ref.is_not(None)))
    assert (await ava.post(f"/payments/simulated/onboarding/{payout.account_ref}", {})).status_code == 303
    approved = await client.post(f"{base}/approve-post", headers=brand, json={"comment": "Great post!"})
    assert approved.status_code == 200, approved.text
    await run_jobs(runtime)

    collab = await db.get(Collaboration, deal_id)
    assert collab.status is CollabState.RELEASED
    hold = await db.scalar(sa.select(EscrowHold).where(EscrowHold.collaboration_id == deal_id))
    assert hold.state is EscrowState.RELEASED
    assert hold.released_creator_amount == 15_000 and hold.released_fee_amount == 1_200
    transfers = (await db.scalars(sa.select(ProviderCall).where(ProviderCall.operation == "transfer"))).all()
    assert [(t.status.value if hasattr(t.status, "value") else t.status, t.amount) for t in transfers] == [
        ("succeeded", 15_000)]
    await assert_ledger_invariants(db)
    actions = [e.action for e in await db.scalars(
        sa.select(CollaborationEvent).where(CollaborationEvent.collaboration_id == deal_id)
        .order_by(CollaborationEvent.seq))]
    assert actions == ["offer", "sign", "mark_funded", "ship", "confirm_receipt", "submit_draft", "request_changes",
                       "submit_draft", "approve_draft", "submit_post", "mark_verified", "approve_post",
                       "mark_released"]
    # The brand approved within the review window: its reliability records a payment on time.
    outcomes = list(await db.scalars(sa.select(ReputationEvent.kind).where(
        ReputationEvent.collaboration_id == collab.id)))
    assert [str(getattr(k, "value", k)) for k in outcomes] == ["brand.released_on_time"]
