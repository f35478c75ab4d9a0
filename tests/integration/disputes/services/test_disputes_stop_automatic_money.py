"""While a dispute is open, nothing releases or refunds the money but the admin's decision: not the brand's
approval, not a cancellation, not the deadline sweeper's auto-release after the review window, nor its ghosting
refund. Tested through the sweeper and its jobs, with an undisputed deal beside it as the control."""

from __future__ import annotations

import pytest

from escrow.states import EscrowState
from marketplace.collaborations.models import Collaboration
from marketplace.collaborations.states import Action, CollabState, IllegalTransition
from marketplace.collaborations.transition import transition
from marketplace.db import session_scope
from marketplace.deadlines.sweeper import sweep_deadlines
from marketplace.jobs import REGISTRY
from marketplace.payments import hooks
from tests.support.deals import brand_actor
from tests.support.disputes import drop_jobs, funded, open_dispute
from tests.support.escrow import calls_of, collab_state, hold_of


async def sweep_and_run(runtime, clock) -> dict[str, int]:
    report = await sweep_deadlines(runtime.session_maker, clock.now(), public_url="http://testserver.local")
    drop_jobs(runtime)
    queue = runtime.queue
    while queue.jobs:
        pending = queue.jobs.pop(0)
        if not pending.name.startswith(("mail.", "verification.")):
            await REGISTRY[pending.name].function(runtime.job_context(), *pending.args)
        drop_jobs(runtime)
    return report.consequences


async def test_the_sweeper_neither_auto_releases_nor_ghosts_a_disputed_deal(runtime, db, clock) -> None:
    disputed = await funded(runtime, CollabState.VERIFIED, title="Disputed after verification")
    control = await funded(runtime, CollabState.VERIFIED, title="Undisputed control")
    ghostable = await funded(runtime, CollabState.FUNDED, product_included=False, title="Disputed before posting")
    await open_dispute(runtime, disputed, by="brand")
    await open_dispute(runtime, ghostable, by="brand", reason="not_posted")

    clock.advance(days=40)  # far past the review window, the post deadline and the ghosting grace
    consequences = await sweep_and_run(runtime, clock)

    assert consequences.get("auto_approve") == 1  # the control only
    assert "ghost" not in consequences
    control_hold = await hold_of(db, control.id)
    assert control_hold.state is EscrowState.RELEASED
    for deal in (disputed, ghostable):
        hold = await hold_of(db, deal.id)
        assert hold.state is EscrowState.FROZEN and hold.held_amount == hold.funded_amount
        assert await calls_of(db, hold.id, "transfer") == [] and await calls_of(db, hold.id, "refund") == []
        assert await collab_state(db, deal.id) is CollabState.DISPUTED

    # The consequence jobs themselves, handed a disputed deal (a stale sweep, a duplicate delivery), do nothing.
    for job in ("deadlines.auto_approve_post", "deadlines.ghost_collaboration"):
        for deal in (disputed, ghostable):
            decision = await REGISTRY[job].function(runtime.job_context(), str(deal.id))
            assert decision == "not due"
    assert (await hold_of(db, disputed.id)).state is EscrowState.FROZEN
    assert (await hold_of(db, ghostable.id)).state is EscrowState.FROZEN


async def test_the_deal_flow_cannot_release_or_refund_a_frozen_escrow(runtime, db) -> None:
    deal = await funded(runtime, CollabState.VERIFIED)
    await open_dispute(runtime, deal, by="creator", reason="payment_withheld")

    with pytest.raises(IllegalTransition):
        async with session_scope(runtime.session_maker) as session:
            await transition(session, deal.id, Action.APPROVE_POST, brand_actor(deal.brand),
                             now=runtime.clock.now())
    for hook in (hooks.release_to_creator, hooks.refund_to_brand):
        with pytest.raises(hooks.EscrowRefused):
            async with session_scope(runtime.session_maker) as session:
                collab = await session.get(Collaboration, deal.id)
                await hook(session, collab, now=runtime.clock.now(), reason="test", settings=runtime.settings)
    hold = await hold_of(db, deal.id)
    assert hold.state is EscrowState.FROZEN and hold.reserved_amount == 0
    collab = await db.get(Collaboration, deal.id)
    assert collab.deadlines_paused_at is not None and collab.next_due_at is None
