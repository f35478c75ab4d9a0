"""Sales routes and services: who sees what (404 for other brands and creators), the redirect (bots, rate limit,
unknown slugs), codes entered by hand, the code job's idempotency, refunds after payout, the report's fixed number of
statements, the pages with and without htmx, and 422s for bad input."""

from __future__ import annotations

from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy import event

from marketplace.brands.models import Brand
from marketplace.clock import as_utc
from marketplace.collaborations.models import Collaboration
from marketplace.collaborations.states import CollabState
from marketplace.db import session_scope
from marketplace.jobs import REGISTRY
from marketplace.sales import rollup
from marketplace.sales.models import CodeStatus, CommissionState, DealTracking, LinkClick, SaleAttribution
from marketplace.sales.reports import brand_report
from marketplace.sales.services import CREATE_CODE_JOB, attribute_order
from marketplace.stores.models import StoreConnection, StoreOrder
from tests.fakes.shopify_server import ShopifyServer
from tests.integration.sales.helpers import connect_shopify, signed_deal
from tests.support.deals import bearer, make_deal


@contextmanager
def count_statements(runtime: Any) -> Any:
    engine = runtime.alchemy.get_engine().sync_engine
    seen: list[str] = []

    def listener(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        seen.append(statement)

    event.listen(engine, "before_cursor_execute", listener)
    try:
        yield seen
    finally:
        event.remove(engine, "before_cursor_execute", listener)


async def test_tracking_and_sales_are_only_the_deals_parties(client: Any, runtime: Any, people: Any) -> None:
    brand, other_brand = await people.brand(brand_name="GlowLab"), await people.brand(brand_name="Other")
    creator, other_creator = await people.creator(name="Ava"), await people.creator(name="Ben")
    deal = await signed_deal(runtime, brand, creator)
    for person, status in ((brand, 200), (creator, 200), (other_brand, 404), (other_creator, 404)):
        headers = await bearer(runtime, person)
        for path in ("tracking", "sales"):
            response = await client.get(f"/api/v1/collaborations/{deal.id}/{path}", headers=headers)
            assert response.status_code == status, (person.email, path, response.text)
    assert (await client.get(f"/api/v1/collaborations/{deal.id}/tracking")).status_code == 401
    # Reports are the brand's: another brand's gig is 404, a creator 403.
    assert (await client.get(f"/api/v1/gigs/{deal.gig_id}/report",
                             headers=await bearer(runtime, other_brand))).status_code == 404
    assert (await client.get("/api/v1/reports/creators", headers=await bearer(runtime, creator))).status_code == 403
    # The code can be entered by hand only by the deal's brand.
    response = await client.post(f"/api/v1/collaborations/{deal.id}/tracking/code", json={"code": "AVA10"},
                                 headers=await bearer(runtime, other_brand))
    assert response.status_code == 404


async def test_bad_report_input_is_422_per_field(client: Any, runtime: Any, people: Any) -> None:
    headers = await bearer(runtime, await people.brand(brand_name="GlowLab"))
    response = await client.get("/api/v1/reports/creators?from=yesterday&to=2026-13-01&gig_id=nope",
                                headers=headers)
    assert response.status_code == 422
    fields = {e["field"] for e in response.json()["errors"]}
    assert fields in ({"from", "to"}, {"gig_id"}), response.json()
    response = await client.get("/api/v1/reports/creators?from=2026-02-01&to=2026-01-01", headers=headers)
    assert response.status_code == 422 and response.json()["errors"][0]["field"] == "from"


async def test_manual_code_without_a_store(client: Any, runtime: Any, people: Any, db: Any) -> None:
    brand, creator = await people.brand(brand_name="GlowLab"), await people.creator(name="Ava")
    deal = await signed_deal(runtime, brand, creator)
    tracking = await db.scalar(sa.select(DealTracking).where(DealTracking.collaboration_id == deal.id))
    assert tracking.code_status is CodeStatus.BLOCKED and "create AVA-GLOW15" in tracking.message
    headers = await bearer(runtime, brand)
    bad = await client.post(f"/api/v1/collaborations/{deal.id}/tracking/code", json={"code": "a b"},
                            headers=headers)
    assert bad.status_code == 422 and bad.json()["errors"][0]["field"] == "code"
    good = await client.post(f"/api/v1/collaborations/{deal.id}/tracking/code", json={"code": "ava-summer"},
                             headers=headers)
    assert good.status_code == 200 and good.json()["code"] == "AVA-SUMMER" and good.json()["code_status"] == "manual"


async def test_the_code_job_creates_one_code_even_when_run_again(
        client: Any, brand_api: Any, people: Any, db: Any, shopify: ShopifyServer, queue: Any, runtime: Any) -> None:
    await connect_shopify(client, brand_api, shopify, queue, runtime)
    deal = await signed_deal(runtime, brand_api.person, await people.creator(name="Ava"))
    assert queue.names().count(CREATE_CODE_JOB) == 1
    # A run that was killed after the store created the code: the row is still pending, the code exists.
    await queue.run_all(runtime.job_context())
    await db.execute(sa.update(DealTracking).values(code_status=CodeStatus.PENDING))
    await db.commit()
    await REGISTRY[CREATE_CODE_JOB].function(runtime.job_context(), str(deal.id))
    assert list(shopify.state.discounts) == ["AVA-GLOW15"]
    db.expire_all()
    assert (await db.scalar(sa.select(DealTracking.code_status))) is CodeStatus.CREATED
    # A second deal for the same creator and gig wording gets its own code.
    second = await signed_deal(runtime, brand_api.person, await people.creator(name="Ava Two"), handle="a.va")
    await queue.run_all(runtime.job_context())
    codes = set((await db.scalars(sa.select(DealTracking.code))).all())
    assert codes == {"AVA-GLOW15", "AVA-GLOW15-2"} and second.id


async def test_redirect_counts_people_not_bots_and_is_rate_limited(client: Any, runtime: Any, people: Any,
                                                                   db: Any) -> None:
    brand, creator = await people.brand(brand_name="GlowLab"), await people.creator(name="Ava")
    await db.execute(sa.update(Brand).where(Brand.id == brand.brand_id).values(website="https://glowlab.example/shop"))
    await db.commit()
    deal = await signed_deal(runtime, brand, creator)
    tracking = await db.scalar(sa.select(DealTracking).where(DealTracking.collaboration_id == deal.id))
    human = {"User-Agent": "Mozilla/5.0 (iPhone) Safari"}
    first = await client.get(f"/r/{tracking.slug}", headers=human, follow_redirects=False)
    assert first.status_code == 302 and first.headers["cache-control"] == "no-store"
    assert first.headers["location"].startswith("https://glowlab.example/shop?utm_source=postpact&utm_medium=creator")
    assert first.headers["location"].endswith(f"&ref={tracking.slug}")
    await client.get(f"/r/{tracking.slug}", headers=human, follow_redirects=False)
    await client.get(f"/r/{tracking.slug}", headers={"User-Agent": "Googlebot/2.1"}, follow_redirects=False)
    await client.get(f"/r/{tracking.slug}", headers={"User-Agent": ""}, follow_redirects=False)
    clicks = (await db.scalars(sa.select(LinkClick))).all()
    assert len(clicks) == 2 and len({c.visitor for c in clicks}) == 1  # the same person twice: one visitor
    assert all("." not in c.visitor and len(c.visitor) == 32 for c in clicks)  # a hash, never the address
    assert (await client.get("/r/nothing-here", headers=human)).status_code == 404
    statuses = [(await client.get(f"/r/{tracking.slug}", headers=human, follow_redirects=False)).status_code
                for _ in range(30)]
    assert statuses[-1] == 429 and statuses.count(302) == 27  # 30 a minute, 3 used above (the 404 counts too)


async def test_refund_after_payout_keeps_the_paid_row_and_lowers_commission(runtime: Any, people: Any, db: Any) -> None:
    brand, creator = await people.brand(brand_name="GlowLab"), await people.creator(name="Ava")
    deal = await signed_deal(runtime, brand, creator)
    now = runtime.clock.now()
    store = StoreConnection(brand_id=brand.brand_id, platform="custom", name="Shop", secret_hints={})
    db.add(store)
    await db.flush()
    order = StoreOrder(store_id=store.id, external_id="1001", name="#1001", email="buyer@example.com",
                       currency="USD", total_amount=10_000, subtotal_amount=10_000, discount_codes=[
                           {"code": "AVA-GLOW15"}], refund_ids=[], placed_at=now + timedelta(hours=1))
    db.add(order)
    await db.flush()
    row = await attribute_order(db, order, brand.brand_id, now)
    assert row is not None and (row.reason, row.commission_amount, row.state) == ("code", 1_250, "pending")
    assert as_utc(row.payable_at) == now + timedelta(days=30, hours=1)
    # Escrow paid it (simulated here by the figure escrow would record), then the customer got half back.
    row.state, row.paid_amount = CommissionState.PAID, 1_250
    order.refunded_amount = 5_000
    row = await attribute_order(db, order, brand.brand_id, now + timedelta(days=40))
    assert (row.commission_amount, row.paid_amount, row.state) == (625, 1_250, CommissionState.PAID)
    # The same delivery again changes nothing.
    again = await attribute_order(db, order, brand.brand_id, now + timedelta(days=40))
    assert (again.commission_amount, again.base_amount) == (625, 5_000)
    # The balance this leaves (carried -625, nothing payable) comes from escrow's payouts: see the payout through
    # escrow in test_end_to_end.py.
    assert deal.id


async def test_brand_report_is_three_statements_whatever_its_size(runtime: Any, people: Any, db: Any) -> None:
    brand = await people.brand(brand_name="GlowLab")
    for n in range(3):
        await signed_deal(runtime, brand, await people.creator(name=f"Creator {n}"), handle=f"c{n}")
    start = runtime.clock.now() - timedelta(days=1)
    with count_statements(runtime) as seen:
        async with runtime.session_maker() as session:
            report = await brand_report(session, brand.brand_id, start, start + timedelta(days=30), fee_bps=800)
    assert len([s for s in seen if s.lstrip().upper().startswith("SELECT")]) == 3
    assert len(report.by_creator) == 3 and report.totals[0].deals == 3 and report.totals[0].fee == 45_000


async def test_pages_with_and_without_htmx(web: Any, runtime: Any, people: Any) -> None:
    brand, creator = await people.brand(brand_name="GlowLab"), await people.creator(name="Ava")
    await signed_deal(runtime, brand, creator)
    await web.sign_in(brand.email, brand.password)
    page = await web.get("/brand/sales")
    assert page.status_code == 200 and "AVA-GLOW15" in page.text and "<h1>Sales</h1>" in page.text
    fragment = await web.get("/brand/sales?from=2026-01-01&to=2026-02-01", htmx=True)
    assert fragment.status_code == 200 and 'id="report"' in fragment.text and "<h1>" not in fragment.text
    bad = await web.get("/brand/sales?from=soon")
    assert bad.status_code == 422 and "YYYY-MM-DD" in bad.text
    csv = await web.get("/brand/sales/report.csv")
    assert csv.status_code == 200 and csv.text.lstrip("\ufeff").startswith("creator,currency,deals,clicks")
    await web.sign_out()
    await web.sign_in(creator.email, creator.password)
    mine = await web.get("/creator/sales")
    assert mine.status_code == 200 and "AVA-GLOW15" in mine.text
    assert (await web.get("/brand/sales")).status_code in (403, 404)


async def test_sale_rows_record_reasons_for_odd_orders(runtime: Any, people: Any, db: Any) -> None:
    brand, creator = await people.brand(brand_name="GlowLab"), await people.creator(name="Ava")
    await signed_deal(runtime, brand, creator)
    store = StoreConnection(brand_id=brand.brand_id, platform="custom", name="Shop", secret_hints={})
    db.add(store)
    await db.flush()
    placed = runtime.clock.now() + timedelta(hours=1)
    cases = {
        "eur": dict(currency="EUR", discount_codes=[{"code": "AVA-GLOW15"}]),
        "huge-refund": dict(discount_codes=[{"code": "AVA-GLOW15"}], refunded_amount=50_000),
        "unknown": dict(discount_codes=[{"code": "NOPE"}]),
    }
    reasons = {}
    for key, fields in cases.items():
        order = StoreOrder(store_id=store.id, external_id=key, email="b@example.com", total_amount=10_000,
                           subtotal_amount=10_000, refund_ids=[], placed_at=placed,
                           **{"currency": "USD", **fields})
        db.add(order)
        await db.flush()
        row = await attribute_order(db, order, brand.brand_id, placed)
        reasons[key] = (row.reason, row.detail, row.commission_amount)
    assert reasons["eur"][0] == "currency_mismatch" and "order in EUR, deal in USD" in reasons["eur"][1]
    assert reasons["huge-refund"][0] == "code" and "larger than the order" in reasons["huge-refund"][1]
    assert reasons["huge-refund"][2] == 0
    assert reasons["unknown"][:1] == ("unknown_code",)
    rows = (await db.scalars(sa.select(SaleAttribution))).all()
    assert len(rows) == 3 and datetime.now(UTC)


async def test_the_api_is_in_the_openapi_schema_with_its_errors(client: Any) -> None:
    schema = (await client.get("/schema/openapi.json")).json()
    expected = {
        "/api/v1/collaborations/{collab_id}/tracking": ("get", {"401", "404"}),
        "/api/v1/collaborations/{collab_id}/sales": ("get", {"401", "404"}),
        "/api/v1/reports/creators": ("get", {"401", "403", "404", "422"}),
        "/api/v1/gigs/{gig_id}/report": ("get", {"401", "403", "404", "422"}),
        "/api/v1/commission/statements": ("get", {"401", "403"}),
        "/api/v1/gigs/{gig_id}/sales-settings": ("put", {"400", "401", "403", "404", "422"}),
        "/api/v1/commission/budget": ("get", {"401", "403"}),
        "/api/v1/commission/budget/deposits": ("post", {"400", "401", "403", "422"}),
        "/api/v1/commission/budget/refunds": ("post", {"400", "401", "403", "422"}),
    }
    for path, (method, errors) in expected.items():
        responses = schema["paths"][path][method]["responses"]
        assert errors <= set(responses), (path, sorted(responses))
    assert not any(p.startswith("/r/") for p in schema["paths"])


async def test_delivery_figures_cost_per_post_and_the_cost_chart(web: Any, client: Any, runtime: Any,
                                                                 people: Any) -> None:
    brand = await people.brand(brand_name="GlowLab")
    start = runtime.clock.now() - timedelta(days=1)
    on_time = await make_deal(runtime, CollabState.POSTED, brand=brand, creator=await people.creator(name="Ava"))
    late = await make_deal(runtime, CollabState.POSTED, brand=brand, creator=await people.creator(name="Bo"))
    await make_deal(runtime, CollabState.GHOSTED, brand=brand, creator=await people.creator(name="Cy"))
    async with session_scope(runtime.session_maker) as session:
        for deal, posted_days, due_days in ((on_time, 3, 5), (late, 6, 5)):
            collab = await session.get(Collaboration, deal.id)
            collab.received_at = start + timedelta(days=1)
            collab.posted_at = start + timedelta(days=1 + posted_days)
            collab.due_post = start + timedelta(days=1 + due_days)
        (await session.get(Collaboration, late.id)).post_removed_at = start + timedelta(days=9)
    async with runtime.session_maker() as session:
        report = await brand_report(session, brand.brand_id, start, start + timedelta(days=30), fee_bps=800)
    [total] = report.totals
    assert (total.deals, total.posts, total.posts_live, total.ghosted) == (3, 2, 1, 1)
    assert total.on_time_bps == 3_333 and total.ghost_bps == 3_333
    assert total.days_to_post == (3 + 6) / 2
    assert total.cost_per_post == total.total_cost // 2 and total.total_cost > 0
    by_name = {f.label: f for f in report.by_creator}
    assert by_name["Ava"].on_time_bps == 10_000 and by_name["Bo"].on_time_bps == 0
    assert by_name["Cy"].ghost_bps == 10_000 and by_name["Cy"].cost_per_post is None
    await web.sign_in(brand.email, brand.password)
    page = await web.get(f"/brand/sales?from={start.date()}")
    assert page.status_code == 200 and "GMV and total cost per creator" in page.text and 'class="cost"' in page.text
    csv = await web.get(f"/brand/sales/report.csv?from={start.date()}")
    header, *rows = csv.text.lstrip("\ufeff").splitlines()
    assert header.endswith("posts,cost_per_post,posts_live,ghosted,on_time_rate,ghost_rate,days_to_post")
    assert rows[-1].endswith(f"2,{total.total_cost // 2},1,1,0.3333,0.3333,4.5")
    api = (await client.get(f"/api/v1/reports/creators?from={start.date()}",
                            headers=await bearer(runtime, brand))).json()
    assert api["totals"][0]["cost_per_post"]["amount"] == total.total_cost // 2
    assert (api["totals"][0]["on_time_bps"], api["totals"][0]["ghost_bps"]) == (3_333, 3_333)
    # The page shows the same basis points: "33.33%" on time, "1 (33.33%)" ghosted.
    assert ">33.33%</td>" in page.text and ">1 (33.33%)</td>" in page.text


async def test_commission_budget_is_the_brands_own_and_money_roles_only(web: Any, client: Any, runtime: Any,
                                                                       people: Any, queue: Any) -> None:
    brand, other = await people.brand(brand_name="GlowLab"), await people.brand(brand_name="Other")
    await web.sign_in(brand.email, brand.password)
    bad = await web.post("/brand/sales/commission/fund", data={"amount": "12.50", "currency": "usd"})
    assert bad.status_code == 422 and "whole number" in bad.text and "ISO 4217" in bad.text
    assert (await web.get("/brand/sales/commission")).text.count("No commission budget yet") == 1
    ok = await web.post("/brand/sales/commission/fund", data={"amount": "5000", "currency": "USD"})
    assert ok.status_code in (302, 303)
    page = await web.get("/brand/sales/commission")
    assert page.status_code == 200 and "$50.00" in page.text and "being prepared" in page.text
    await queue.run_all(runtime.job_context())  # the provider call
    page = await web.get("/brand/sales/commission")
    assert "Pay (simulated)" in page.text
    headers = await bearer(runtime, other)
    assert (await client.get("/api/v1/commission/budget", headers=headers)).json() == []
    [budget] = (await client.get("/api/v1/commission/budget", headers=await bearer(runtime, brand))).json()
    funding_id = budget["fundings"][0]["id"]
    assert budget["available"]["amount"] == 0
    paid = await web.post(f"/brand/sales/commission/fundings/{funding_id}/simulated-pay", data={})
    assert paid.status_code in (302, 303)
    [budget] = (await client.get("/api/v1/commission/budget", headers=await bearer(runtime, brand))).json()
    assert budget["available"]["amount"] == 5_000 and budget["fundings"][0]["status"] == "succeeded"
    await web.sign_out()
    await web.sign_in(other.email, other.password)
    assert (await web.post(f"/brand/sales/commission/fundings/{funding_id}/simulated-pay", data={})).status_code == 404
    creator = await people.creator(name="Ava")
    response = await client.post("/api/v1/commission/budget/deposits", json={"amount": 100, "currency": "USD"},
                                 headers=await bearer(runtime, creator))
    assert response.status_code == 403
    bad_api = await client.post("/api/v1/commission/budget/deposits", json={"amount": 0, "currency": "XXX"},
                                headers=headers)
    assert bad_api.status_code == 422 and {"amount", "currency"} <= set(bad_api.text.replace('"', " ").split())


async def test_the_daily_rollup_gives_the_orders_figures_for_any_range(runtime: Any, people: Any, db: Any) -> None:
    brand = await people.brand(brand_name="GlowLab")
    creators = [await people.creator(name=f"C{n}") for n in range(2)]
    for n, creator in enumerate(creators):
        await signed_deal(runtime, brand, creator, handle=f"c{n}")
    store = StoreConnection(brand_id=brand.brand_id, platform="custom", name="Shop", secret_hints={})
    db.add(store)
    await db.flush()
    t0 = runtime.clock.now() + timedelta(hours=1)
    codes = list(await db.scalars(sa.select(DealTracking.code).order_by(DealTracking.code)))
    for n in range(24):
        placed = t0 + timedelta(hours=7 * n)
        order = StoreOrder(store_id=store.id, external_id=str(n), email="b@example.com", currency="USD",
                           total_amount=1_000 + n, subtotal_amount=1_000 + n, refund_ids=[], placed_at=placed,
                           discount_codes=[{"code": codes[n % 2]}], refunded_amount=500 if n % 5 == 0 else 0)
        db.add(order)
        await db.flush()
        await attribute_order(db, order, brand.brand_id, placed)
        if n % 7 == 0:  # a later refund changes the day's figures again
            order.refunded_amount = order.total_amount
            await attribute_order(db, order, brand.brand_id, placed + timedelta(days=1))
    await db.commit()
    async with runtime.session_maker() as session:
        assert await rollup.stored(session) == await rollup.recomputed(session) != {}
        for start, end in ((t0 - timedelta(days=1), t0 + timedelta(days=30)),
                           (t0 + timedelta(hours=5), t0 + timedelta(days=3, hours=2)),
                           (t0 + timedelta(hours=1), t0 + timedelta(hours=20))):
            fast = await brand_report(session, brand.brand_id, start, end, fee_bps=800)
            slow = await brand_report(session, brand.brand_id, start, end, fee_bps=800, use_rollup=False)
            assert [(f.label, f.orders, f.gmv, f.commission) for f in fast.by_creator] == [
                (f.label, f.orders, f.gmv, f.commission) for f in slow.by_creator]
            assert fast.series == slow.series and fast.totals[0].gmv > 0
        # A rebuild from the orders, set-based, lands on the same table.
        before = await rollup.stored(session)
        await rollup.rebuild(session, brand.brand_id)
        await session.commit()
        assert await rollup.stored(session) == before
