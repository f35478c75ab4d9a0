"""The brand and creator dashboards: what waits on whom, and the money in escrow, scoped to the viewer."""

from __future__ import annotations

from marketplace.collaborations.states import CollabState
from tests.support.deals import make_deal
from tests.support.escrow import funded_deal


async def test_dashboards_show_whats_waiting_on_each_side(runtime, make_web) -> None:
    reviewing = await funded_deal(runtime, CollabState.DRAFT_SUBMITTED)  # the brand must review
    to_sign = await make_deal(runtime, CollabState.OFFERED, brand=reviewing.brand)  # the creator must sign

    brand = await make_web()
    await brand.sign_in(reviewing.brand.email, reviewing.brand.password)
    page = await brand.get("/brand")
    assert page.status_code == 200
    assert f'href="/collaborations/{reviewing.id}"' in page.text and "Review the draft" in page.text
    assert f'href="/collaborations/{to_sign.id}"' not in page.text  # waiting on the creator, not the brand
    assert "1 deal(s) are waiting on the other side" in page.text
    assert "$162.00" in page.text  # $150 fee + 8% held in escrow

    creator = await make_web()
    await creator.sign_in(to_sign.creator.email, to_sign.creator.password)
    mine = await creator.get("/creator")
    assert f'href="/collaborations/{to_sign.id}"' in mine.text and "Sign the terms" in mine.text
    assert f'href="/collaborations/{reviewing.id}"' not in mine.text  # someone else's deal
    assert "Set up payouts" in mine.text

    reviewer = await make_web()
    await reviewer.sign_in(reviewing.creator.email, reviewing.creator.password)
    theirs = await reviewer.get("/creator")
    assert "$150.00" in theirs.text  # the creator's own fee in escrow, not PostPact's share
