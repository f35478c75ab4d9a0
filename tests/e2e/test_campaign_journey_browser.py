"""The issue's campaign in Chromium, with htmx on, as one brand runs it on the pages: import a 300-row CSV under its
own headers (mapped on the page) with 7 bad rows shown by row and field, tag the 293 ("select all matching"), invite
them all to a gig with a template and watch the progress bar finish, accept the 120 who applied (all in the board's
column), fund them in one checkout, upload a tracking CSV that ships 118 (2 rows reported), approve and release 50
posts in one action. What creators do (sign up, apply, sign, post) is done through the services they use, each step
for all of them in one transaction.
"""

from __future__ import annotations

import re

import pytest
import sqlalchemy as sa
from playwright.async_api import expect

from marketplace.collaborations.models import Collaboration
from marketplace.collaborations.states import Action, CollabState
from marketplace.collaborations.transition import transition
from marketplace.csvfiles import csv_text
from marketplace.db import session_scope
from tests.support.browser import live_backends, server_jobs_done, sign_in
from tests.support.deals import Deal, advance_deals, creator_actor
from tests.support.escrow import onboard_creators
from tests.support.marketplace import apply_to_gig_all, make_creators_with_accounts, make_open_gig

HEADER = ["Full name", "E-mail", "Land", "TikTok", "Audience", "Labels"]
MAPPING = {"Full name": "name", "E-mail": "email", "Land": "country", "TikTok": "tiktok", "Audience": "followers",
           "Labels": "tags"}
BAD: dict[int, tuple[int, str, str]] = {  # row index -> (column, field, bad value)
    3: (1, "email", "not-an-email"), 50: (2, "country", "Narnia"), 99: (4, "followers", "lots"),
    140: (3, "tiktok", "bad handle!"), 200: (0, "name", ""), 250: (5, "tags", "a-tag-far-too-long-to-be-accepted-by"
                                                                           "-anyone-at-all"),
    299: (1, "email", "two@@example.test")}


async def _finished(page, live_server, done: int, failed: int = 0) -> None:
    """The job page: the progress bar fills (htmx polling) until the job is finished."""
    await expect(page).to_have_url(re.compile(r"/brand/jobs/"))
    await expect(page.get_by_text("Finished")).to_be_visible(timeout=120_000)
    await server_jobs_done(live_server)
    await expect(page.locator("#job-bar")).to_have_attribute("value", str(done + failed))
    await expect(page.locator("#job-progress")).to_contain_text(f"{done} done")
    await expect(page.locator("#job-progress")).to_contain_text(f"{failed} failed")


@pytest.mark.parametrize("live_server", live_backends(), indirect=True)
async def test_a_campaign_of_three_hundred_creators_on_the_pages(browser, live_server, live_people, tmp_path) -> None:
    runtime = live_people.runtime
    brand = await live_people.brand(brand_name="GlowLab")
    gig = await make_open_gig(runtime, brand, title="Summer glow campaign", slots=150)
    creators = await make_creators_with_accounts(runtime, live_people, [f"Ava{n} Brooks" for n in range(293)])
    rows: list[list[object]] = []
    good = iter(creators)
    for i in range(300):
        if i in BAD:
            row: list[object] = [f"Bad {i}", f"bad{i}@example.test", "US", f"bad_{i}", 1000, "summer"]
            column, _field, value = BAD[i]
            row[column] = value
        else:
            c = next(good)
            row = [f"Ava{i} Brooks", c.person.email, "US" if i % 2 else "DE", c.account.handle, 5000 + i, "skincare"]
        rows.append(row)
    upload = tmp_path / "creators.csv"
    upload.write_text(csv_text(HEADER, rows).replace(",", ";"), encoding="utf-8-sig")

    context = await browser.new_context(base_url=live_server.url)
    context.set_default_timeout(15_000)
    page = await context.new_page()
    await sign_in(page, brand)
    assert await page.evaluate("typeof window.htmx") == "object"

    # 1. Upload, map the columns on the preview, dry run (7 rows by row and field), import the 293.
    await page.goto("/brand/roster/import")
    await page.get_by_label("CSV file").set_input_files(str(upload))
    await page.get_by_role("button", name="Upload and preview").click()
    await expect(page).to_have_url(re.compile(r"/brand/roster/imports/"))
    for column, target in MAPPING.items():
        await page.get_by_label(column, exact=True).select_option(target)
    await page.get_by_role("button", name="Check (dry run)").click()
    errors = page.locator("#import-errors tbody tr")
    await expect(errors).to_have_count(7)
    shown = sorted([(int(await r.locator("td").nth(0).inner_text()), await r.locator("td").nth(1).inner_text())
                    for r in await errors.all()])
    assert shown == sorted((i + 2, field) for i, (_c, field, _v) in BAD.items())
    await page.get_by_role("button", name="Import", exact=True).click()
    await expect(page.get_by_text("Imported: 293 added")).to_be_visible()

    # 2. Tag everyone matching (more than a page of the table).
    await page.goto("/brand/roster?per_page=25")
    await page.get_by_label(re.compile(r"Select all 293 matching")).check()
    await page.locator("#f-tag-name").fill("summer-26")
    await page.get_by_role("button", name="Tag", exact=True).click()
    await expect(page.get_by_text("Tagged 293 people with “summer-26”.")).to_be_visible()

    # 3. Invite all 293 tagged to the gig with a template; the progress bar fills and stops.
    await page.goto("/brand/roster?tag=summer-26&per_page=25")
    await page.get_by_label(re.compile(r"Select all 293 matching")).check()
    await page.get_by_label("Invite to gig").select_option(str(gig.id))
    await page.get_by_label("Invitation message").fill("Hi {first_name}, {brand} would love you on {gig} ({fee})")
    await page.get_by_role("button", name="Invite to the gig").click()
    await _finished(page, live_server, 293)

    # 4. 120 apply; the brand accepts all of the board's "Applied" column at once.
    chosen = creators[:120]
    await apply_to_gig_all(runtime, chosen, gig.id)
    board = f"/brand/gigs/{gig.id}/board"
    await page.goto(board)
    applied = page.locator("#col-applied")
    await expect(applied.locator(".count")).to_have_text("120")
    await applied.get_by_label("All 120 in this column").check()
    await applied.get_by_label("Action").select_option("accept")
    await applied.get_by_role("button", name="Start").click()
    await _finished(page, live_server, 120)

    async with session_scope(runtime.session_maker) as session:  # each creator signs their offer
        collabs = {c.creator_id: c for c in await session.scalars(
            sa.select(Collaboration).where(Collaboration.gig_id == gig.id))}
        for c in chosen:
            collab = collabs[c.person.creator_id]
            await transition(session, collab.id, Action.SIGN, creator_actor(c.person), now=runtime.clock.now(),
                             payload={"terms_hash": collab.terms_hash})
    deals = [Deal(collabs[c.person.creator_id].id, brand, c.person, gig.id,
                  collabs[c.person.creator_id].application_id, c.account.id, "tiktok", c.account.handle, True)
             for c in chosen]

    # 5. Fund the 120 signed deals: one job, then one checkout for all of them.
    await page.goto(board)
    signed = page.locator("#col-signed")
    await signed.get_by_label("All 120 in this column").check()
    await signed.get_by_label("Action").select_option("fund")
    await signed.get_by_role("button", name="Start").click()
    await _finished(page, live_server, 120)
    await page.get_by_role("link", name="Pay for 120 deals in one checkout").click()
    await expect(page).to_have_url(re.compile(r"/brand/payments/checkout\?c="))
    await page.get_by_role("link", name="Pay all 120 at once (simulated)").click()
    await expect(page.get_by_role("heading", name="Checkout simulated")).to_be_visible()
    # One request settles the 120 payments: allow it the time a loaded machine needs.
    await page.get_by_role("button", name="Pay (simulated)").click(timeout=90_000)
    await expect(page.get_by_text("Payment received (simulated).")).to_be_visible(timeout=90_000)
    await server_jobs_done(live_server)
    await page.goto(board)
    await expect(page.locator("#col-funded .count")).to_have_text("120")

    # 6. A tracking CSV of 120 rows: 118 shipped, a stranger's row and a repeated deal reported by row.
    lines = ["email,carrier,tracking_number"]
    lines += [f"{d.creator.email},UPS,1Z999AA1{n:010d}" for n, d in enumerate(deals[:118])]
    lines += ["nobody@example.test,UPS,1Z999AA19999999998", f"{deals[0].creator.email},UPS,1Z999AA19999999999"]
    tracking = tmp_path / "tracking.csv"
    tracking.write_text("\r\n".join(lines) + "\r\n", encoding="utf-8")
    await page.goto("/brand/shipments/import")
    await page.get_by_label("Tracking CSV").set_input_files(str(tracking))
    await page.get_by_role("button", name="Ship").click()
    await _finished(page, live_server, 118, 2)
    stranger = re.compile(r"Row 120: no creator on PostPact is nobody@example\.test")
    await expect(page.get_by_text(stranger)).to_be_visible()
    await expect(page.get_by_text(re.compile(r"Row 121: The same deal is already on row 2"))).to_be_visible()

    # 7. Fifty creators post and are verified; the brand approves and releases the 50 at once.
    await onboard_creators(runtime, [deal.creator for deal in deals[:50]])
    await advance_deals(runtime, deals[:50], CollabState.VERIFIED)
    await page.goto(board)
    posted = page.locator("#col-posted")
    await expect(posted.locator(".count")).to_have_text("50")
    await posted.get_by_label("All 50 in this column").check()
    await posted.get_by_label("Action").select_option("approve_post")
    await posted.get_by_role("button", name="Start").click()
    await _finished(page, live_server, 50)
    await server_jobs_done(live_server)  # the 50 transfers at the (simulated) provider
    await page.goto(board)
    await expect(page.locator("#col-paid .count")).to_have_text("50")
    await context.close()
