"""Disputes in a real browser on the embedded default (simulated payments): the creator opens a dispute on a shipped
deal, an admin reads the case and decides — release, refund or split — and the escrow timeline and the creator's
dispute page show the result."""

from __future__ import annotations

import re

import pytest
from playwright.async_api import expect

from marketplace.collaborations.states import CollabState
from tests.support.browser import sign_in, sign_out
from tests.support.deals import advance_deal, make_deal
from tests.support.escrow import fund, onboard_creator

EXPECTED = {
    "release": ("Release in full to the creator", "Paid to the creator"),
    "refund": ("Refund in full to the brand", "Refunded to the brand"),
    "split": ("Split between them", "Settled"),
}




@pytest.mark.parametrize("outcome", ["release", "refund", "split"])
async def test_open_and_decide_a_dispute(page, live_server, live_people, outcome) -> None:
    runtime = live_people.runtime
    deal = await make_deal(runtime, CollabState.SIGNED, fee_amount=12_000, password=live_people.password,
                           title=f"Dispute {outcome} serum")
    await fund(runtime, deal)
    await onboard_creator(runtime, deal.creator)
    await advance_deal(runtime, deal, CollabState.SHIPPED)
    admin = await live_people.admin()

    await sign_in(page, deal.creator)
    await page.goto(f"/collaborations/{deal.id}/dispute")
    await page.get_by_label("What is it about?").select_option("product_not_received")
    await page.get_by_label("What happened").fill("Tracking stopped at the depot two weeks ago; nothing arrived.")
    await page.get_by_role("button", name="Open the dispute").click()
    await expect(page.get_by_text("Your dispute is open.")).to_be_visible()
    await expect(page.get_by_test_id("dispute-status")).to_have_text("open")
    await sign_out(page)

    await sign_in(page, admin)
    await page.goto("/admin/disputes")
    await page.get_by_role("link", name=f"Dispute {outcome} serum").click()
    await expect(page.get_by_text("Tracking stopped at the depot").first).to_be_visible()
    await expect(page.get_by_test_id("chronology")).to_contain_text("Shipped with UPS")
    await page.get_by_label(EXPECTED[outcome][0]).check()
    if outcome == "split":
        await page.get_by_label(re.compile("For a split")).fill("40.00")
    await page.get_by_label("Rationale (sent to both sides)").fill("The parcel was lost by the carrier in transit.")
    await page.get_by_role("button", name="Decide").click()
    await expect(page.get_by_test_id("decision")).to_contain_text(EXPECTED[outcome][0])
    # The provider call runs in the server's own job queue; the timeline shows it once it has.
    await page.goto(f"/payments/timeline/{deal.id}")
    for _ in range(20):
        if await page.get_by_text(EXPECTED[outcome][1]).count():
            break
        await page.wait_for_timeout(250)
        await page.reload()
    await expect(page.get_by_text(EXPECTED[outcome][1]).first).to_be_visible()
    await sign_out(page)

    await sign_in(page, deal.creator)
    await page.goto(f"/collaborations/{deal.id}/dispute")
    await expect(page.get_by_test_id("decision")).to_contain_text("The parcel was lost by the carrier")
    await expect(page.get_by_test_id("dispute-status")).to_have_text("decided")
