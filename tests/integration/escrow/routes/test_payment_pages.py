"""Payment pages through HTTP: funding (single and bulk) via the simulated checkout, payout onboarding, the escrow
timeline, statements as CSV — and the denials, with nothing changed."""

from __future__ import annotations

import csv
import io
import re

import sqlalchemy as sa

from escrow.models import EscrowHold, PayoutAccount, ProviderCall
from escrow.states import EscrowState
from marketplace.brands.models import BrandRole
from marketplace.collaborations.models import Collaboration
from marketplace.collaborations.states import CollabState
from marketplace.db import session_scope
from marketplace.payments import hooks
from tests.support.deals import make_deal
from tests.support.escrow import funded_deal, hold_of, run_jobs


async def _signed_in(make_web, person):
    web = await make_web()
    await web.sign_in(person.email, person.password)
    return web


async def test_brand_funds_two_deals_through_the_simulated_checkout(runtime, db, make_web) -> None:
    first = await make_deal(runtime, CollabState.SIGNED, fee_amount=10_000)
    second = await make_deal(runtime, CollabState.SIGNED, brand=first.brand, fee_amount=5_000)
    web = await _signed_in(make_web, first.brand)

    page = await web.get("/brand/payments")
    assert page.status_code == 200
    assert "$100.00" in page.text and "$108.00" in page.text and "Fund selected deals" in page.text

    response = await web.post("/brand/payments/fund", [("collaboration_id", str(first.id)),
                                                         ("collaboration_id", str(second.id))])
    assert response.status_code == 303
    checkout = response.headers["location"]
    assert checkout.startswith("/brand/payments/checkout?")
    waiting = await web.get(checkout)
    assert "Preparing your payment" in waiting.text and 'http-equiv="refresh"' in waiting.text
    await run_jobs(runtime)

    page = await web.get(checkout)
    assert "Pay all 2 at once (simulated)" in page.text
    link = re.search(r'href="([^"]+)">Pay all', page.text).group(1).replace("&amp;", "&")
    sim = await web.get(link)
    assert sim.status_code == 200 and "simulated" in sim.text and "$162.00" in sim.text
    refs = re.findall(r'name="ref" value="([^"]+)"', sim.text)
    paid = await web.post("/payments/simulated/checkout", [*(("ref", r) for r in refs), ("outcome", "pay")])
    assert paid.status_code == 303
    await run_jobs(runtime)
    for deal in (first, second):
        assert (await hold_of(db, deal.id)).state is EscrowState.FUNDED
        collab = await db.get(Collaboration, deal.id)
        assert CollabState(collab.status) is CollabState.FUNDED
    done = await web.get(checkout)
    assert done.text.count("tag ok") == 2


async def test_funding_someone_elses_deal_is_a_404_and_changes_nothing(runtime, db, make_web, people) -> None:
    deal = await make_deal(runtime, CollabState.SIGNED)
    outsider = await people.brand(brand_name="Other Co")
    web = await _signed_in(make_web, outsider)
    response = await web.post("/brand/payments/fund", {"collaboration_id": str(deal.id)})
    assert response.status_code == 404
    assert await db.scalar(sa.select(sa.func.count()).select_from(EscrowHold)) == 0
    assert await db.scalar(sa.select(sa.func.count()).select_from(ProviderCall)) == 0


async def test_funding_form_errors_rerender_with_422(runtime, db, make_web) -> None:
    deal = await make_deal(runtime, CollabState.OFFERED)
    web = await _signed_in(make_web, deal.brand)
    empty = await web.post("/brand/payments/fund", {})
    assert empty.status_code == 422 and "Choose at least one deal" in empty.text
    bad = await web.post("/brand/payments/fund", {"collaboration_id": "not-a-uuid"})
    assert bad.status_code == 422
    unsigned = await web.post("/brand/payments/fund", {"collaboration_id": str(deal.id)}, htmx=True)
    assert unsigned.status_code == 422 and "not signed" in unsigned.text and "<html" not in unsigned.text
    assert await db.scalar(sa.select(sa.func.count()).select_from(ProviderCall)) == 0


async def test_finance_members_fund_and_creators_are_refused(runtime, db, make_web, people) -> None:
    deal = await make_deal(runtime, CollabState.SIGNED)
    finance = await people.brand(brand_id=deal.brand.brand_id, role=BrandRole.FINANCE)
    web = await _signed_in(make_web, finance)
    assert (await web.post("/brand/payments/fund", {"collaboration_id": str(deal.id)})).status_code == 303
    creator_web = await _signed_in(make_web, deal.creator)
    assert (await creator_web.get("/brand/payments")).status_code == 403
    assert (await creator_web.post("/brand/payments/fund", {"collaboration_id": str(deal.id)})).status_code == 403
    brand_web = await _signed_in(make_web, deal.brand)
    assert (await brand_web.get("/creator/payments")).status_code == 403


async def test_creator_onboards_and_a_waiting_release_goes_out(runtime, db, make_web) -> None:
    deal = await funded_deal(runtime, CollabState.VERIFIED, fee_amount=15_000)
    async with session_scope(runtime.session_maker) as session:
        await hooks.release_to_creator(session, await session.get(Collaboration, deal.id), now=runtime.clock.now(),
                                       reason="post_approved", settings=runtime.settings)
    await run_jobs(runtime)
    web = await _signed_in(make_web, deal.creator)
    page = await web.get("/creator/payments")
    assert "Set up payouts" in page.text and "$150.00 is approved and waiting for you" in page.text
    timeline = await web.get(f"/payments/timeline/{deal.id}")
    assert "Paying the creator" in timeline.text and "set up payouts" in timeline.text.lower()

    started = await web.post("/creator/payments/onboarding")
    assert started.headers["location"] == "/creator/payments/onboarding"
    assert "Creating your payout account" in (await web.get("/creator/payments/onboarding")).text
    await run_jobs(runtime)
    to_provider = await web.get("/creator/payments/onboarding")
    assert to_provider.status_code == 303
    sim_url = to_provider.headers["location"]
    assert sim_url.startswith("/payments/simulated/onboarding/")
    assert "simulated" in (await web.get(sim_url)).text
    done = await web.post(sim_url.split("?")[0], {"return_to": "/creator/payments?onboarded=1"})
    assert done.headers["location"] == "/creator/payments?onboarded=1"
    await run_jobs(runtime)
    page = await web.get("/creator/payments")
    assert "Payouts ready" in page.text and "$150.00" in page.text
    assert (await hold_of(db, deal.id)).state is EscrowState.RELEASED

    rows = list(csv.DictReader(io.StringIO((await web.get("/creator/payments/statement.csv")).text)))
    assert [(r["kind"], r["amount_minor"], r["currency"]) for r in rows] == [("paid_out", "15000", "USD")]
    assert rows[0]["deal"] == "Glow serum launch"


async def test_onboarding_someone_elses_account_is_a_404(runtime, db, make_web, people) -> None:
    deal = await funded_deal(runtime, onboarded=True)
    account = await db.scalar(sa.select(PayoutAccount).where(PayoutAccount.creator_id == deal.creator.creator_id))
    other = await people.creator(name="Mallory")
    web = await _signed_in(make_web, other)
    assert (await web.get(f"/payments/simulated/onboarding/{account.account_ref}")).status_code == 404
    assert (await web.post(f"/payments/simulated/onboarding/{account.account_ref}", {})).status_code == 404


async def test_timeline_for_both_sides_and_hidden_from_others(runtime, db, make_web, people) -> None:
    deal = await funded_deal(runtime, fee_amount=20_000)
    brand_web = await _signed_in(make_web, deal.brand)
    page = await brand_web.get(f"/payments/timeline/{deal.id}")
    assert page.status_code == 200 and "Funded — money held in escrow" in page.text
    assert "$216.00" in page.text and "PostPact fee" in page.text
    fragment = await brand_web.get(f"/payments/timeline/{deal.id}", htmx=True)
    assert fragment.status_code == 200 and "<html" not in fragment.text and "escrow-timeline" in fragment.text
    creator_web = await _signed_in(make_web, deal.creator)
    mine = await creator_web.get(f"/payments/timeline/{deal.id}")
    assert "$200.00" in mine.text and "PostPact fee" not in mine.text and "$216.00" not in mine.text
    stranger = await _signed_in(make_web, await people.creator(name="Eve"))
    assert (await stranger.get(f"/payments/timeline/{deal.id}")).status_code == 404
    other_brand = await _signed_in(make_web, await people.brand(brand_name="Rival"))
    assert (await other_brand.get(f"/payments/timeline/{deal.id}")).status_code == 404


async def test_brand_statement_and_csv(runtime, db, make_web) -> None:
    deal = await funded_deal(runtime, CollabState.GHOSTED, fee_amount=10_000)  # the ghosting refunds the brand
    await run_jobs(runtime)
    web = await _signed_in(make_web, deal.brand)
    page = await web.get("/brand/payments")
    assert "2026-11 · USD" in page.text
    rows = list(csv.DictReader(io.StringIO((await web.get("/brand/payments/statement.csv?month=2026-11")).text)))
    assert sorted((r["kind"], r["amount_minor"]) for r in rows) == [("paid", "10800"), ("refunded", "-10800")]
    assert (await web.get("/brand/payments/statement.csv?month=November")).status_code == 422
    assert list(csv.DictReader(io.StringIO((await web.get("/brand/payments/statement.csv?month=2026-10")).text))) == []
