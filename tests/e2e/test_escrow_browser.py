"""Escrow in a real browser on the embedded default (simulated payments), with the live server running its own
background jobs: the brand funds through the simulated checkout, the creator sets up payouts, PostPact verifies the
live post against (local) oEmbed, and the brand's click on "Approve and release payment" pays the creator; a
creator who never posts is ghosted by the deadline sweep and the brand is refunded."""

from __future__ import annotations

import re
import secrets
import time
from datetime import timedelta

import sqlalchemy as sa
from playwright.async_api import Page, expect

from escrow import ledger
from escrow.models import CallStatus, EscrowHold, LedgerTransaction, ProviderCall
from escrow.states import EscrowState
from marketplace.collaborations.due_dates import ghosting_due_at
from marketplace.collaborations.models import Collaboration, CollaborationEvent, PostSubmission
from marketplace.collaborations.states import CollabState
from marketplace.deadlines import jobs as deadline_jobs
from marketplace.runtime import Runtime
from tests.support.browser import server_jobs_done, sign_in
from tests.support.deals import Deal, advance_deal, make_deal
from tests.support.escrow import run_jobs


async def status_is(page: Page, status: str) -> None:
    await expect(page.get_by_test_id("deal-status")).to_have_text(status)


async def fund_through_checkout(page: Page, deal: Deal, amount: str) -> None:
    """The signed-in brand pays for ``deal`` on its payments page and the simulated checkout."""
    await page.goto("/brand/payments")
    await expect(page.get_by_text("Payments are simulated")).to_be_visible()
    await expect(page.get_by_role("cell", name=amount)).to_be_visible()
    await page.get_by_role("button", name="Fund selected deals").click()
    await expect(page).to_have_url(re.compile(r"/brand/payments/checkout\?c="))
    # The page refreshes itself until the payment is ready at the provider.
    await page.get_by_role("link", name=f"Pay {amount}").click()
    await expect(page.get_by_role("heading", name="Checkout simulated")).to_be_visible()
    await page.get_by_role("button", name="Pay (simulated)").click()
    await expect(page.get_by_text("Payment received (simulated).")).to_be_visible()
    await expect(page.locator(".tag.ok", has_text="funded")).to_be_visible()
    await page.goto(f"/payments/timeline/{deal.id}")
    await expect(page.get_by_text("Funded — money held in escrow").first).to_be_visible()
    await page.goto(deal.url)
    await status_is(page, "funded")


async def escrow_of(runtime: Runtime, deal: Deal) -> tuple[Collaboration, EscrowHold, list[ProviderCall], list[str]]:
    """The deal, its escrow hold, the hold's provider calls and its deal events, as committed now."""
    async with runtime.session_maker() as session:
        collab = await session.get(Collaboration, deal.id)
        hold = await session.scalar(sa.select(EscrowHold).where(EscrowHold.collaboration_id == deal.id))
        assert collab is not None and hold is not None
        calls = list(await session.scalars(
            sa.select(ProviderCall).where(ProviderCall.escrow_id == hold.id).order_by(ProviderCall.created_at)))
        events = list(await session.scalars(
            sa.select(CollaborationEvent.action).where(CollaborationEvent.collaboration_id == deal.id)
            .order_by(CollaborationEvent.seq)))
        return collab, hold, calls, events


async def test_brand_approves_the_verified_post_on_the_deal_page_and_the_creator_is_paid(
    browser, live_server, live_people, live_oembed
) -> None:
    runtime = live_people.runtime
    deal = await make_deal(runtime, CollabState.SIGNED, fee_amount=15_000, password=live_people.password)
    brand_context = await browser.new_context(base_url=live_server.url)
    creator_context = await browser.new_context(base_url=live_server.url)
    brand_context.set_default_timeout(15_000)
    creator_context.set_default_timeout(15_000)
    try:
        brand, creator = await brand_context.new_page(), await creator_context.new_page()
        await sign_in(brand, deal.brand)
        await sign_in(creator, deal.creator)

        # The brand funds the escrow: $150 fee + 8% platform fee.
        await fund_through_checkout(brand, deal, "$162.00")

        # The creator sets up payouts; nothing has been earned yet.
        await creator.goto("/creator/payments")
        await expect(creator.get_by_text("No earnings yet.")).to_be_visible()
        await creator.get_by_role("button", name="Set up payouts").click()
        await expect(creator.get_by_role("heading", name="Payout onboarding simulated")).to_be_visible()
        await creator.get_by_role("button", name="Complete onboarding (simulated)").click()
        await expect(creator).to_have_url(re.compile(r"/creator/payments\?onboarded=1$"))
        await expect(creator.get_by_text("Payouts ready.")).to_be_visible()

        # Shipping, receipt and the draft have browser tests of their own (test_deal_browser.py).
        await advance_deal(runtime, deal, CollabState.DRAFT_APPROVED)

        # The creator publishes on TikTok (the local oEmbed stand-in) and submits the link on the deal page;
        # the live server's verification job checks it there.
        video_id = (int(time.time()) << 32) | secrets.randbits(32)
        post_url = f"https://www.tiktok.com/@{deal.handle}/video/{video_id}"
        live_oembed.add_post("tiktok", post_url, author=deal.handle,
                             caption="Morning glow with @glowlab #glowlab #ad")
        await creator.goto(deal.url)
        await creator.get_by_label("Link to your live post").fill(post_url)
        await creator.get_by_role("button", name="Submit the post").click()
        await status_is(creator, "posted")
        await server_jobs_done(live_server)
        assert live_oembed.request_count(post_url) >= 1
        async with runtime.session_maker() as session:
            submission = await session.scalar(
                sa.select(PostSubmission).where(PostSubmission.collaboration_id == deal.id))
            assert submission is not None and submission.verification_status == "verified"
        _, hold, _, _ = await escrow_of(runtime, deal)
        assert hold.state is EscrowState.FUNDED and hold.held_amount == 16_200

        # The brand opens the deal, sees the verified post, and approves it.
        await brand.goto(deal.url)
        await status_is(brand, "verified")
        await brand.get_by_label("Note for the creator (optional)").fill("Great post, thank you!")
        await brand.get_by_role("button", name="Approve and release payment").click()
        await expect(brand.get_by_text("Post approved: the creator's fee is being released from escrow.")
                     ).to_be_visible()
        # The transfer to the creator runs in the background; escrow then records the release on the deal.
        await server_jobs_done(live_server)
        await brand.reload()
        await status_is(brand, "released")

        # The creator sees the payment.
        await creator.goto("/creator/payments")
        await expect(creator.get_by_text("No earnings yet.")).to_have_count(0)
        await expect(creator.get_by_role("cell", name="$150.00").first).to_be_visible()
        await creator.goto(f"/payments/timeline/{deal.id}")
        await expect(creator.get_by_text("Paid to the creator").first).to_be_visible()

        # And the database agrees: approved by the brand, released once, the ledger's escrow account emptied.
        collab, hold, calls, events = await escrow_of(runtime, deal)
        assert collab.status is CollabState.RELEASED and collab.approved_at is not None
        assert events[-3:] == ["mark_verified", "approve_post", "mark_released"]
        assert hold.state is EscrowState.RELEASED
        assert (hold.released_creator_amount, hold.released_fee_amount, hold.held_amount) == (15_000, 1_200, 0)
        transfers = [(c.status, c.amount) for c in calls if c.operation == "transfer"]
        assert transfers == [(CallStatus.SUCCEEDED, 15_000)]
        async with runtime.session_maker() as session:
            assert await ledger.balance_of(session, ledger.escrow_held(hold.id), "USD") == 0
            kinds = list(await session.scalars(
                sa.select(LedgerTransaction.kind).where(LedgerTransaction.escrow_id == hold.id)))
            assert any("release" in str(kind) for kind in kinds), kinds
    finally:
        await brand_context.close()
        await creator_context.close()


async def test_creator_who_never_posts_is_ghosted_and_the_brand_sees_the_refund(
    page, live_server, live_people, live_runtime_at
) -> None:
    runtime = live_people.runtime
    # No product to ship, so from funding on the post is the creator's to make.
    deal = await make_deal(runtime, CollabState.SIGNED, fee_amount=10_000, product_included=False,
                           password=live_people.password)
    await sign_in(page, deal.brand)
    await fund_through_checkout(page, deal, "$108.00")
    funded_at = runtime.clock.now()

    async with runtime.session_maker() as session:
        collab = await session.get(Collaboration, deal.id)
        assert collab is not None
        ghost_at = ghosting_due_at(collab)
    assert ghost_at is not None and ghost_at > runtime.clock.now()

    async def sweep_at(when) -> Runtime:
        """The periodic deadline sweep, run at ``when``; returns the runtime whose queue holds what it handed on."""
        later = live_runtime_at(when)
        await deadline_jobs.sweep(later.job_context())
        return later

    def jobs_for_deal(later: Runtime) -> list[str]:
        return [j.name for j in later.queue.jobs if str(deal.id) in map(str, j.args)]

    # Just before the post deadline's grace period ends, the sweep leaves the deal alone.
    assert "deadlines.ghost_collaboration" not in jobs_for_deal(await sweep_at(ghost_at - timedelta(minutes=5)))

    # Past it, the sweep hands the deal to the ghosting job; run it (and the refund it starts) at that time. Other
    # browser tests' deals share this database: only this deal's jobs run here.
    ghosted_at = ghost_at + timedelta(minutes=5)
    later = await sweep_at(ghosted_at)
    assert jobs_for_deal(later) == ["deadlines.ghost_collaboration"]
    later.queue.jobs[:] = [j for j in later.queue.jobs if str(deal.id) in map(str, j.args)]
    await run_jobs(later)

    collab, hold, calls, events = await escrow_of(runtime, deal)
    assert collab.status is CollabState.GHOSTED and events[-1] == "ghost"
    assert hold.state is EscrowState.REFUNDED
    assert hold.refunded_amount == hold.funded_amount == 10_800 and hold.held_amount == 0
    assert hold.released_creator_amount == 0
    assert [(c.status, c.amount) for c in calls if c.operation == "refund"] == [(CallStatus.SUCCEEDED, 10_800)]

    # The brand sees it on its pages.
    await page.goto(deal.url)
    await status_is(page, "ghosted")
    await page.goto(f"/payments/timeline/{deal.id}")
    await expect(page.get_by_text("Refunded to the brand").first).to_be_visible()
    # The statement: $108.00 paid into escrow when funded, $108.00 refunded when ghosted (a later month, perhaps).
    await page.goto("/brand/payments")
    statement = page.locator("section", has=page.get_by_role("heading", name="Spend by month"))
    paid_row = statement.get_by_role("row").filter(has_text=f"{funded_at:%Y-%m} · USD")
    refund_row = statement.get_by_role("row").filter(has_text=f"{ghosted_at:%Y-%m} · USD")
    await expect(paid_row.locator('[data-label="Paid"]')).to_have_text("$108.00")
    await expect(refund_row.locator('[data-label="Refunded"]')).to_have_text("$108.00")
    if f"{funded_at:%Y-%m}" == f"{ghosted_at:%Y-%m}":
        await expect(paid_row.locator('[data-label="Net spend"]')).to_have_text("$0.00")
    await page.goto("/notifications")
    await expect(page.get_by_text("didn't post; your payment is being refunded").first).to_be_visible()
