"""resolve_split books exactly what preview_split announced: the ledger postings, the hold's sums and the event."""

from __future__ import annotations

from typing import Any

import pytest
import sqlalchemy as sa

from escrow import ledger
from escrow.events import NullListener
from escrow.executor import ProviderCallExecutor
from escrow.models import EscrowEvent
from escrow.services import EscrowConflict, EscrowService
from escrow.split import SplitPreview
from escrow.states import EscrowState
from marketplace.collaborations.states import CollabState
from marketplace.db import session_scope
from tests.support.escrow import assert_ledger_invariants, funded_deal, hold_of, simulated


class _Escrow:
    """EscrowService and its executor on a listener that leaves the collaboration alone: escrow's numbers only."""

    def __init__(self, runtime: Any) -> None:
        self.runtime = runtime
        self.listener = NullListener()
        self.fee_bps = runtime.settings.app.platform_fee_bps

    async def __call__(self, method: str, *args: Any, **kwargs: Any) -> Any:
        async with session_scope(self.runtime.session_maker) as session:
            service = EscrowService(session, now=self.runtime.clock.now(), listener=self.listener,
                                    platform_fee_bps=self.fee_bps, actor="test")
            return await getattr(service, method)(*args, **kwargs)

    async def run(self, calls: list[Any]) -> None:
        executor = ProviderCallExecutor(self.runtime.session_maker, simulated(self.runtime),
                                        lambda _session: self.listener, self.runtime.clock,
                                        platform_fee_bps=self.fee_bps)
        for call in calls:
            assert await executor.execute(call.id) == "done"


async def _posted(db: Any, key: str) -> list[tuple[str, int, str]]:
    post = await ledger.find_transaction(db, f"{key}:post")
    return await ledger.entries_of(db, post.id) if post is not None else []


@pytest.mark.parametrize("released_before, creator_amount", [(0, 4_500), (0, 0), (0, 10_001), (3_333, 2_500),
                                                              (3_333, 6_668)])
async def test_resolve_split_posts_exactly_the_preview(runtime, db, released_before: int,
                                                       creator_amount: int) -> None:
    deal = await funded_deal(runtime, CollabState.FUNDED, onboarded=True, fee_amount=10_001)
    escrow = _Escrow(runtime)
    if released_before:
        await escrow.run([await escrow("request_release", deal.id, amount=released_before)])
    await escrow("freeze", deal.id, reason="dispute")
    frozen = await hold_of(db, deal.id)
    assert frozen.state is EscrowState.FROZEN
    # Plain values: the test session refreshes the same hold object on every read.
    available, released, released_fee, refunded = (frozen.available_amount, frozen.released_creator_amount,
                                                    frozen.released_fee_amount, frozen.refunded_amount)

    preview: SplitPreview = await escrow("preview_split", deal.id, creator_amount=creator_amount)
    assert preview.total == available
    calls = await escrow("resolve_split", deal.id, creator_amount=creator_amount, reason="admin")
    await escrow.run(calls)

    hold = await hold_of(db, deal.id)
    assert hold.state is EscrowState.SETTLED and hold.held_amount == 0
    base = f"collab:{deal.id}:split:1"
    held, usd = ledger.escrow_held(hold.id).code, "USD"
    creator_legs = [(held, preview.creator_amount + preview.platform_fee, usd),
                    (ledger.creator_payable(hold.creator_id).code, -preview.creator_amount, usd),
                    (ledger.platform_fee_revenue().code, -preview.platform_fee, usd)]
    assert await _posted(db, f"{base}:creator") == sorted(leg for leg in creator_legs if leg[1])
    brand_legs = [(held, preview.brand_amount, usd), (ledger.refunds(hold.brand_id).code, -preview.brand_amount, usd)]
    assert await _posted(db, f"{base}:brand") == (sorted(brand_legs) if preview.brand_amount else [])

    assert hold.released_creator_amount - released == preview.creator_amount
    assert hold.released_fee_amount - released_fee == preview.platform_fee
    assert hold.refunded_amount - refunded == preview.brand_amount
    assert hold.released_fee_amount + preview.brand_platform_fee_amount == hold.platform_fee_amount
    assert hold.released_creator_amount + preview.brand_fee_amount == hold.creator_amount
    decided = await db.scalar(sa.select(EscrowEvent.payload).where(
        EscrowEvent.escrow_id == hold.id, EscrowEvent.action == "resolve_split"))
    assert (decided["creator_amount"], decided["fee"], decided["brand_amount"]) == (
        preview.creator_amount, preview.platform_fee, preview.brand_amount)
    await assert_ledger_invariants(db)


async def test_preview_refuses_what_resolve_split_refuses(runtime, db) -> None:
    deal = await funded_deal(runtime, CollabState.FUNDED, onboarded=True, fee_amount=7_500)
    escrow = _Escrow(runtime)
    await escrow("freeze", deal.id, reason="dispute")
    for method in ("preview_split", "resolve_split"):
        with pytest.raises(EscrowConflict, match="between 0 and 7500"):
            await escrow(method, deal.id, creator_amount=7_501)
    preview = await escrow("preview_split", deal.id, creator_amount=4_500)
    assert (preview.creator_amount, preview.platform_fee, preview.brand_amount) == (4_500, 360, 3_240)
    assert (await hold_of(db, deal.id)).state is EscrowState.FROZEN


async def test_preview_of_a_deal_without_escrow_is_refused(runtime) -> None:
    deal = await funded_deal(runtime, CollabState.FUNDED, fee_amount=7_500)
    with pytest.raises(EscrowConflict, match="never funded"):
        await _Escrow(runtime)("preview_split", deal.creator.creator_id, creator_amount=0)
