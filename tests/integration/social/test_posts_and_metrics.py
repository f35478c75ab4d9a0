"""Posts that verify themselves and engagement after publishing, end to end on the stand-ins through the pages:
the submitted post is found in the creator's own media, metrics appear after the scheduled fetches (the clock
moves), a revoked token stops fetching quietly, 429s honour Retry-After, and a post deleted during keep-live goes
through the keep-live rule once."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

import pytest
import sqlalchemy as sa

from marketplace.collaborations.models import CollaborationEvent
from marketplace.collaborations.states import CollabState
from marketplace.jobs import RetryLater
from marketplace.social import jobs as social_jobs
from marketplace.social.models import MetricFetch, PostMetric, SocialConnection
from marketplace.verification.models import CheckPurpose, PostCheck
from tests.conftest import START
from tests.fakes.oembed_server import OEmbedServer
from tests.integration.social.conftest import connect
from tests.support.deadlines import load, make_deal

CAPTION = "Morning routine with my new serum @acmegoods #ad #glow"
VIDEO = "7559684939684400414"


@pytest.fixture
def oembed() -> Any:
    with OEmbedServer() as server:
        yield server


@pytest.fixture
def test_env(test_env: dict[str, str], oembed: OEmbedServer) -> dict[str, str]:
    test_env.update({"TIKTOK_OEMBED_URL": oembed.endpoint("tiktok"), "YOUTUBE_OEMBED_URL": oembed.endpoint("youtube"),
                     "INSTAGRAM_OEMBED_URL": oembed.endpoint("instagram")})
    return test_env


async def signed_in_creator(make_web: Any, deal: Any) -> Any:
    web = await make_web()
    await web.sign_in(deal.creator.email, deal.creator.password)
    return web


async def run_jobs(runtime: Any, queue: Any) -> list[str]:
    names = queue.names()
    await queue.run_all(runtime.job_context())
    return names


async def posted_through_the_page(runtime: Any, people: Any, make_web: Any, social: Any, queue: Any, *,
                                  published_before: timedelta = timedelta(0)) -> Any:
    """A TikTok deal whose post (published ``published_before`` the link is submitted) was submitted by the page."""
    deal = await make_deal(runtime, people, until=CollabState.DRAFT_APPROVED, start=START)
    runtime.clock.set(START + timedelta(days=3))
    social.add_account("tiktok", deal.handle, followers=8_000)
    social.add_media("tiktok", deal.handle, VIDEO, caption=CAPTION, published_at=runtime.clock.now() - published_before,
                     views=1_000, likes=100, comments=10, shares=5)
    web = await signed_in_creator(make_web, deal)
    assert (await connect(web, social, "tiktok", deal.handle)).status_code == 303
    url = f"https://www.tiktok.com/@{deal.handle}/video/{VIDEO}"
    queue.jobs.clear()
    response = await web.post(f"/collaborations/{deal.collaboration_id}/submit-post", {"url": url})
    assert response.status_code == 303, response.text[:500]
    deal.post_url, deal.web = url, web
    return deal


async def test_a_post_in_the_connected_accounts_media_verifies_without_oembed(
    runtime: Any, people: Any, make_web: Any, social: Any, queue: Any, db: Any, oembed: Any, limiter: Any
) -> None:
    deal = await posted_through_the_page(runtime, people, make_web, social, queue)
    assert "verification.verify_post" in await run_jobs(runtime, queue)
    assert (await load(runtime, deal.collaboration_id)).status == CollabState.VERIFIED
    check = await db.scalar(sa.select(PostCheck).where(PostCheck.collaboration_id == deal.collaboration_id))
    assert check.status == "verified" and check.author_handle == deal.handle
    assert check.published_at is not None and check.caption == CAPTION
    assert oembed.request_count(deal.post_url) == 0


async def test_a_post_not_in_the_account_falls_back_to_oembed(
    runtime: Any, people: Any, make_web: Any, social: Any, queue: Any, db: Any, oembed: Any, limiter: Any
) -> None:
    deal = await make_deal(runtime, people, until=CollabState.DRAFT_APPROVED, start=START)
    runtime.clock.set(START + timedelta(days=1))
    social.add_account("tiktok", deal.handle)
    web = await signed_in_creator(make_web, deal)
    await connect(web, social, "tiktok", deal.handle)
    url = f"https://www.tiktok.com/@someoneelse/video/{VIDEO}"
    oembed.add_post("tiktok", url, author="someoneelse", caption=CAPTION)
    queue.jobs.clear()
    await web.post(f"/collaborations/{deal.collaboration_id}/submit-post", {"url": url})
    await run_jobs(runtime, queue)
    check = await db.scalar(sa.select(PostCheck).where(PostCheck.collaboration_id == deal.collaboration_id))
    assert check.status == "failed" and oembed.request_count(url) == 1


async def test_metrics_appear_after_the_scheduled_fetches(
    runtime: Any, people: Any, make_web: Any, social: Any, queue: Any, db: Any, oembed: Any, limiter: Any
) -> None:
    deal = await posted_through_the_page(runtime, people, make_web, social, queue)
    await run_jobs(runtime, queue)
    labels = (await db.scalars(sa.select(MetricFetch.label).where(
        MetricFetch.collaboration_id == deal.collaboration_id))).all()
    assert sorted(labels) == ["1h", "24h", "72h", "7d"]

    ctx = runtime.job_context()
    queue.jobs.clear()
    runtime.clock.advance(timedelta(minutes=59))
    assert await social_jobs.queue_metric_fetches(ctx) == 0
    runtime.clock.advance(timedelta(minutes=2))
    assert await social_jobs.queue_metric_fetches(ctx) == 1
    assert await social_jobs.queue_metric_fetches(ctx) == 0, "a queued fetch is handed out once"
    assert await run_jobs(runtime, queue) == ["social.fetch_post_metrics"]

    social.media("tiktok", VIDEO).views = 4_000
    runtime.clock.advance(timedelta(hours=23))
    await social_jobs.queue_metric_fetches(ctx)
    await run_jobs(runtime, queue)
    rows = (await db.scalars(sa.select(PostMetric).where(PostMetric.collaboration_id == deal.collaboration_id)
                             .order_by(PostMetric.taken_at))).all()
    assert [(r.label, r.views, r.likes) for r in rows] == [("1h", 1_000, 100), ("24h", 4_000, 100)]

    deal_page = await deal.web.get(f"/collaborations/{deal.collaboration_id}")
    assert f'href="/collaborations/{deal.collaboration_id}/metrics"' in deal_page.text
    page = await deal.web.get(f"/collaborations/{deal.collaboration_id}/metrics")
    assert page.status_code == 200 and "4,000" in page.text and "Engagement rate" in page.text
    fragment = await deal.web.get(f"/collaborations/{deal.collaboration_id}/metrics", htmx=True)
    assert fragment.status_code == 200 and "<html" not in fragment.text and "4,000" in fragment.text
    brand = await make_web()
    await brand.sign_in(deal.brand.email, deal.brand.password)
    assert (await brand.get(f"/collaborations/{deal.collaboration_id}/metrics")).status_code == 200
    stranger = await make_web()
    other = await people.brand()
    await stranger.sign_in(other.email, other.password)
    assert (await stranger.get(f"/collaborations/{deal.collaboration_id}/metrics")).status_code == 404


async def test_fetches_are_timed_from_the_platforms_publish_time(
    runtime: Any, people: Any, make_web: Any, social: Any, queue: Any, db: Any, oembed: Any, limiter: Any
) -> None:
    # Published 30 hours before the link was submitted: the 1 h and 24 h readings can't be taken any more.
    deal = await posted_through_the_page(runtime, people, make_web, social, queue,
                                         published_before=timedelta(hours=30))
    submitted = runtime.clock.now()
    published = social.media("tiktok", VIDEO).published_at.replace(microsecond=0)
    await run_jobs(runtime, queue)
    assert (await load(runtime, deal.collaboration_id)).status == CollabState.VERIFIED
    db.expire_all()
    fetches = {f.label: f for f in (await db.scalars(sa.select(MetricFetch).where(
        MetricFetch.collaboration_id == deal.collaboration_id))).all()}
    assert fetches["1h"].outcome == "skipped" and fetches["1h"].done_at is not None
    assert fetches["24h"].done_at is None and fetches["24h"].due_at == submitted  # the latest passed one: now
    assert fetches["72h"].due_at == published + timedelta(hours=72) != submitted + timedelta(hours=72)
    assert fetches["7d"].due_at == published + timedelta(days=7)

    queue.jobs.clear()
    ctx = runtime.job_context()
    assert await social_jobs.queue_metric_fetches(ctx) == 1
    await run_jobs(runtime, queue)
    runtime.clock.set(published + timedelta(hours=72, minutes=1))
    assert await social_jobs.queue_metric_fetches(ctx) == 1
    await run_jobs(runtime, queue)
    labels = (await db.scalars(sa.select(PostMetric.label).where(
        PostMetric.collaboration_id == deal.collaboration_id).order_by(PostMetric.taken_at))).all()
    assert labels == ["24h", "72h"]


async def test_a_revoked_account_stops_fetching_without_errors(
    runtime: Any, people: Any, make_web: Any, social: Any, queue: Any, db: Any, oembed: Any, limiter: Any
) -> None:
    deal = await posted_through_the_page(runtime, people, make_web, social, queue)
    await run_jobs(runtime, queue)
    social.revoke_account("tiktok", deal.handle)
    ctx = runtime.job_context()
    runtime.clock.advance(timedelta(hours=2))
    await social_jobs.queue_metric_fetches(ctx)
    assert await run_jobs(runtime, queue) == ["social.fetch_post_metrics"]
    conn = await db.scalar(sa.select(SocialConnection))
    assert conn.status == "reconnect"
    calls_before = sum(social.calls.values())
    runtime.clock.advance(timedelta(days=8))
    await social_jobs.queue_metric_fetches(ctx)
    await run_jobs(runtime, queue)
    assert sum(social.calls.values()) == calls_before, "no more calls with a dead connection"
    outcomes = (await db.scalars(sa.select(MetricFetch.outcome).where(
        MetricFetch.collaboration_id == deal.collaboration_id))).all()
    assert sorted(outcomes) == ["reconnect"] * 4
    page = await deal.web.get("/creator/social/")
    assert "Reconnect TikTok" in page.text


async def test_a_429_is_retried_after_the_platforms_retry_after(
    runtime: Any, people: Any, make_web: Any, social: Any, queue: Any, db: Any, oembed: Any, limiter: Any
) -> None:
    await posted_through_the_page(runtime, people, make_web, social, queue)
    await run_jobs(runtime, queue)
    runtime.clock.advance(timedelta(hours=2))
    await social_jobs.queue_metric_fetches(runtime.job_context())
    fetch_job = queue.jobs[0]
    queue.jobs.clear()
    social.rate_limit_next("tiktok", retry_after=7)
    with pytest.raises(RetryLater) as raised:
        await social_jobs.fetch_post_metrics_job(runtime.job_context(), *fetch_job.args)
    assert raised.value.retry_after == 7
    # The shared bucket holds every TikTok call back for those 7 seconds (on the fake clock), then the retry works.
    waited_before = sum(limiter.sleeps)
    assert await social_jobs.fetch_post_metrics_job(runtime.job_context(), *fetch_job.args) == "fetched"
    assert sum(limiter.sleeps) - waited_before == pytest.approx(7, abs=0.5)
    assert await db.scalar(sa.select(sa.func.count()).select_from(PostMetric)) == 1


async def test_a_post_deleted_during_keep_live_triggers_the_rule_once(
    runtime: Any, people: Any, make_web: Any, social: Any, queue: Any, db: Any, oembed: Any, limiter: Any
) -> None:
    deal = await make_deal(runtime, people, until=CollabState.RELEASED, start=START)
    video = deal.post_url.rsplit("/", 1)[-1]
    social.add_account("tiktok", deal.handle)
    social.add_media("tiktok", deal.handle, video, caption=CAPTION, published_at=START, views=10)
    oembed.add_post("tiktok", deal.post_url, author=deal.handle, caption=CAPTION)
    web = await signed_in_creator(make_web, deal)
    await connect(web, social, "tiktok", deal.handle)
    keep_live = (await db.scalars(sa.select(MetricFetch.label).where(
        MetricFetch.collaboration_id == deal.collaboration_id))).all()
    assert keep_live and all(label.startswith("keep-live-") for label in keep_live)

    social.delete_media("tiktok", video)
    oembed.delete(deal.post_url)
    ctx = runtime.job_context()
    released_at = deal.times[CollabState.RELEASED]
    for day in (1, 2, 3):
        runtime.clock.set(released_at + timedelta(days=day, minutes=5))
        queue.jobs.clear()
        await social_jobs.queue_metric_fetches(ctx)
        await run_jobs(runtime, queue)
    collab = await load(runtime, deal.collaboration_id)
    assert collab.post_removed_at is not None
    removed = (await db.scalars(sa.select(CollaborationEvent.action).where(
        CollaborationEvent.collaboration_id == deal.collaboration_id,
        CollaborationEvent.action == "mark_post_removed"))).all()
    assert len(removed) == 1
    spot = (await db.scalars(sa.select(PostCheck).where(
        PostCheck.collaboration_id == deal.collaboration_id,
        PostCheck.purpose == CheckPurpose.KEEP_LIVE_SPOT.value))).all()
    assert len(spot) == 1
    outcomes = (await db.scalars(sa.select(MetricFetch.outcome).where(
        MetricFetch.collaboration_id == deal.collaboration_id, MetricFetch.done_at.is_not(None)))).all()
    assert outcomes.count("deleted") == 1 and "removed" in outcomes


async def test_the_metrics_api_and_the_creators_accounts(
    runtime: Any, people: Any, make_web: Any, social: Any, queue: Any, db: Any, oembed: Any, limiter: Any,
    client: Any
) -> None:
    from tests.support.deals import bearer

    deal = await posted_through_the_page(runtime, people, make_web, social, queue)
    await run_jobs(runtime, queue)
    runtime.clock.advance(timedelta(hours=2))
    await social_jobs.queue_metric_fetches(runtime.job_context())
    await run_jobs(runtime, queue)
    brand_headers = await bearer(runtime, deal.brand)
    answer = await client.get(f"/api/v1/collaborations/{deal.collaboration_id}/metrics", headers=brand_headers)
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["latest"]["views"] == 1_000 and body["engagement_rate_bps"] == 1150
    assert body["cost_per_engagement"]["currency"] and body["pending_fetches"] == 3
    other = await bearer(runtime, await people.brand())
    missing = await client.get(f"/api/v1/collaborations/{deal.collaboration_id}/metrics", headers=other)
    assert missing.status_code == 404 and missing.headers["content-type"].startswith("application/problem+json")

    creator_headers = await bearer(runtime, deal.creator)
    accounts = (await client.get("/api/v1/creator/social-accounts", headers=creator_headers)).json()
    mine = [a for a in accounts["accounts"] if a["handle"] == deal.handle]
    assert mine[0]["verification"] == "verified" and mine[0]["followers"] == 8_000
    assert accounts["connections"][0]["status"] == "active"
    assert all(token not in str(accounts) for token in social.tokens_issued())
    assert (await client.get("/api/v1/creator/social-accounts", headers=brand_headers)).status_code == 403


async def test_a_youtube_video_gets_its_real_publish_date_from_the_account(
    runtime: Any, make_web: Any, social: Any, queue: Any, db: Any, oembed: Any, limiter: Any
) -> None:
    from tests.support.deals import make_deal as make_offer_deal

    deal = await make_offer_deal(runtime, CollabState.DRAFT_APPROVED, platform="youtube")
    runtime.clock.advance(timedelta(hours=2))
    published = runtime.clock.now() - timedelta(minutes=30)
    social.add_account("youtube", deal.handle, followers=3_000)
    social.add_media("youtube", deal.handle, "abcdefghijk", caption="My serum routine\nWith @glowlab #ad #glowlab",
                     published_at=published, views=50)
    web = await make_web()
    await web.sign_in(deal.creator.email, deal.creator.password)
    assert (await connect(web, social, "youtube", deal.handle)).status_code == 303
    url = "https://www.youtube.com/watch?v=abcdefghijk"
    queue.jobs.clear()
    assert (await web.post(f"/collaborations/{deal.id}/submit-post", {"url": url})).status_code == 303
    await run_jobs(runtime, queue)
    check = await db.scalar(sa.select(PostCheck).where(PostCheck.collaboration_id == deal.id))
    assert check.published_at is not None and abs(check.published_at - published) < timedelta(seconds=1)
    assert check.author_handle == deal.handle and oembed.request_count(url) == 0
    assert check.status == "verified", check.checks
    assert (await load(runtime, deal.id)).status == CollabState.VERIFIED


async def test_the_brands_engagement_report_page_csv_and_api_agree(
    runtime: Any, people: Any, make_web: Any, social: Any, queue: Any, db: Any, oembed: Any, limiter: Any,
    client: Any
) -> None:
    from tests.support.deals import bearer

    deal = await posted_through_the_page(runtime, people, make_web, social, queue)
    await run_jobs(runtime, queue)
    runtime.clock.advance(timedelta(hours=2))
    await social_jobs.queue_metric_fetches(runtime.job_context())
    await run_jobs(runtime, queue)
    # 1,000 views, 100 + 10 + 5 engagements: 11.50%; the fee over 1,000 views and over 115 engagements.
    collab = await load(runtime, deal.collaboration_id)
    fee, currency = collab.terms["fee_amount"], collab.terms["currency"]

    brand = await make_web()
    await brand.sign_in(deal.brand.email, deal.brand.password)
    page = await brand.get("/brand/engagement")
    assert page.status_code == 200, page.text[:500]
    assert "11.50%" in page.text and "1,000" in page.text and "verified" in page.text
    fragment = await brand.get("/brand/engagement", htmx=True)
    assert fragment.status_code == 200 and "<html" not in fragment.text and "11.50%" in fragment.text
    csv_text = (await brand.get("/brand/engagement/report.csv")).content.decode("utf-8-sig")
    deal_row = next(line for line in csv_text.splitlines() if line.startswith("deal,"))
    assert f",1000,100,10,5,115,11.50,{currency},{fee},{round(fee * 1000 / 1000)},{round(fee / 115)}," in deal_row
    creator_row = next(line for line in csv_text.splitlines() if line.startswith("creator,"))
    assert creator_row.endswith(",11.50,8000")

    headers = await bearer(runtime, deal.brand)
    body = (await client.get("/api/v1/reports/engagement", headers=headers)).json()
    assert body["deals"][0]["engagement_rate_bps"] == 1150 and body["deals"][0]["views"] == 1_000
    assert body["deals"][0]["cost_per_engagement"] == {"amount": round(fee / 115), "currency": currency}
    assert body["gigs"][0]["deals"] == 1 and body["gigs"][0]["engagement_rate_bps"] == 1150
    assert body["creators"][0]["median_engagement_bps"] == 1150 and body["creators"][0]["verified_followers"] == 8_000
    one_gig = await client.get(f"/api/v1/reports/engagement?gig_id={collab.gig_id}", headers=headers)
    assert one_gig.json()["deals"][0]["collaboration_id"] == str(deal.collaboration_id)

    # Another brand sees none of it, and not this brand's gig either.
    other = await bearer(runtime, await people.brand())
    assert (await client.get("/api/v1/reports/engagement", headers=other)).json() == {
        "deals": [], "gigs": [], "creators": []}
    assert (await client.get(f"/api/v1/reports/engagement?gig_id={collab.gig_id}", headers=other)).status_code == 404
    assert (await client.get("/api/v1/reports/engagement?gig_id=nope", headers=headers)).status_code == 422
    creator = await bearer(runtime, deal.creator)
    assert (await client.get("/api/v1/reports/engagement", headers=creator)).status_code == 403


async def test_a_creators_median_engagement_on_the_brands_creator_page_and_api(
    runtime: Any, people: Any, make_web: Any, social: Any, queue: Any, db: Any, oembed: Any, limiter: Any,
    client: Any
) -> None:
    from tests.support.deals import bearer

    deal = await posted_through_the_page(runtime, people, make_web, social, queue)
    await run_jobs(runtime, queue)
    runtime.clock.advance(timedelta(hours=2))
    await social_jobs.queue_metric_fetches(runtime.job_context())
    await run_jobs(runtime, queue)
    creator_id = (await load(runtime, deal.collaboration_id)).creator_id

    # Any brand deciding whether to invite the creator sees it, not only the one the deal was with.
    other = await people.brand()
    web = await make_web()
    await web.sign_in(other.email, other.password)
    card = await web.get(f"/brand/creators/{creator_id}")
    assert f'href="/brand/engagement/creators/{creator_id}"' in card.text
    page = await web.get(f"/brand/engagement/creators/{creator_id}")
    assert page.status_code == 200 and "11.50%" in page.text and "8,000 followers" in page.text
    fragment = await web.get(f"/brand/engagement/creators/{creator_id}", htmx=True)
    assert "<html" not in fragment.text and "11.50%" in fragment.text and "1 deal(s)" in fragment.text
    headers = await bearer(runtime, other)
    body = (await client.get(f"/api/v1/creators/{creator_id}/engagement", headers=headers)).json()
    assert body["median_engagement_bps"] == 1150 and body["deals_counted"] == 1
    assert body["verified_followers"] == 8_000
    missing = await client.get(f"/api/v1/creators/{uuid.uuid4()}/engagement", headers=headers)
    assert missing.status_code == 404
    as_creator = await bearer(runtime, deal.creator)
    assert (await client.get(f"/api/v1/creators/{creator_id}/engagement", headers=as_creator)).status_code == 403
