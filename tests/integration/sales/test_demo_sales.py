"""The demo's sales (`make run`): codes created in the simulated shop, clicks, orders through the store intake by
code and by link, a refund inside the hold and one after payout, commission pending, approved and paid through
escrow (budget, weekly charge), and the brand's report."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import sqlalchemy as sa

from escrow.commission_models import CommissionFunding, CommissionPayout, FundingKind, PayoutStatus
from marketplace.collaborations.models import Collaboration
from marketplace.sales.demo import seed_demo_sales
from marketplace.sales.models import CodeStatus, DealTracking, LinkClick, SaleAttribution
from marketplace.sales.payouts import balances
from marketplace.sales.reports import brand_report
from marketplace.seed import CREATORS, Seeder
from marketplace.stores.demo import seed_demo_store
from tests.support.escrow import assert_ledger_invariants


async def test_the_demo_sells_through_the_shop_and_pays_commission_through_escrow(runtime: Any, clock: Any,
                                                                                    queue: Any, db: Any) -> None:
    seeder = Seeder(runtime, clock, queue)
    await seeder.people()
    dev, finn = CREATORS[3][0], CREATORS[5][0]
    today = clock.now()
    await seed_demo_store(seeder, "owner@glowlab.test", [finn, dev], today)
    await seed_demo_sales(seeder, "owner@glowlab.test", today)
    assert clock.now() == today

    trackings = (await db.scalars(sa.select(DealTracking).where(DealTracking.code.like("%-VITAMIN15%")))).all()
    assert len(trackings) == 2 and {t.code_status for t in trackings} == {CodeStatus.CREATED}
    assert await db.scalar(sa.select(sa.func.count()).select_from(LinkClick)) >= 10
    codes = {t.collaboration_id for t in trackings}
    rows = (await db.scalars(sa.select(SaleAttribution).where(SaleAttribution.collaboration_id.in_(codes)))).all()
    assert {r.reason for r in rows} == {"code", "link"} and len(rows) == 11
    assert {r.state.value for r in rows} >= {"pending", "approved", "paid"}
    posted = (await db.scalars(sa.select(Collaboration.posted_at).where(Collaboration.id.in_(codes)))).all()
    assert len(posted) == 2 and all(posted)
    refunded_after_payout = [r for r in rows if r.state.value == "paid" and r.commission_amount < r.paid_amount]
    assert len(refunded_after_payout) == 1
    payouts = (await db.scalars(sa.select(CommissionPayout))).all()
    assert len(payouts) == 2 and {p.status for p in payouts} == {PayoutStatus.PAID}
    charges = (await db.scalars(sa.select(CommissionFunding).where(CommissionFunding.kind == FundingKind.CHARGE))
               ).all()
    assert len(charges) == 1 and charges[0].status.value == "succeeded"
    owed = await balances(db, brand_id=trackings[0].brand_id)
    carried = {b.carried for b in owed.values()}
    assert min(carried) < 0  # the refund after payout is carried against future commission
    report = await brand_report(db, trackings[0].brand_id, today - timedelta(days=90), today + timedelta(days=1),
                                fee_bps=800)
    [total] = report.totals
    assert total.orders >= 8 and total.gmv > 0 and total.commission > 0 and total.clicks >= 10
    await assert_ledger_invariants(db)
