"""A release's rows written inside the ledger's statement (``escrow.carried``, PostgreSQL) are left clean in the
session: the commit that follows has nothing to flush, and what the session holds is what the database holds.
Also the decision's read of the creator's payout account (two columns, no entity): an account that can't take
transfers yet makes the release wait, as no account does."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from escrow.events import NullListener
from escrow.executor import Attempt, ProviderCallExecutor
from escrow.models import CallStatus, EscrowHold, PayoutAccount, ProviderCall
from escrow.services import EscrowService
from escrow.states import EscrowState
from tests.support.escrow import assert_ledger_invariants, calls_of, funded_deal, hold_of, simulated

#: Columns whose value the database may render with another precision or zone than Python holds (compared apart).
_TIMES = {"created_at", "updated_at", "status_changed_at", "first_attempt_at", "last_attempt_at", "next_attempt_at",
          "completed_at", "freeze_requested_at"}


class Flushes:
    """Counts flushes of any session that had something to flush (``before_flush`` runs only then)."""

    def __init__(self) -> None:
        self.count = 0

    def _seen(self, *_args: Any) -> None:
        self.count += 1

    def __enter__(self) -> Flushes:
        sa.event.listen(Session, "before_flush", self._seen)
        return self

    def __exit__(self, *_exc: object) -> None:
        sa.event.remove(Session, "before_flush", self._seen)


def _columns(obj: Any) -> dict[str, Any]:
    return {attr.key: getattr(obj, attr.key) for attr in sa.inspect(type(obj)).column_attrs
            if attr.key not in _TIMES}


async def test_a_release_commits_without_flushing_and_keeps_what_it_wrote(runtime, db) -> None:
    first = await funded_deal(runtime, onboarded=True)
    deal = await funded_deal(runtime, brand=first.brand, creator=first.creator)
    listener = NullListener()
    fee_bps = runtime.settings.app.platform_fee_bps
    postgres = runtime.alchemy.get_engine().dialect.name == "postgresql"
    kept: dict[str, Any] = {}

    with Flushes() as flushes:
        async with runtime.session_maker() as session:
            loaded: list[Any] = []  # held on to: the identity map keeps only weak references
            sa.event.listen(session.sync_session, "loaded_as_persistent", lambda _s, obj: loaded.append(obj))
            async with session.begin():
                service = EscrowService(session, now=runtime.clock.now(), listener=listener,
                                        platform_fee_bps=fee_bps, attempt_calls=True)
                call = await service.request_release(deal.id)
                assert call is not None
                attempt = Attempt.of(call, collaboration_id=deal.id)
                at_write = flushes.count
            [hold] = [o for o in loaded if isinstance(o, EscrowHold)]
            assert not sa.inspect(hold).modified and not sa.inspect(call).modified
            # Nothing left marked changed: the commit wrote nothing more.
            assert not session.dirty and not session.new
            kept["decision_hold"] = _columns(hold)
            kept["decision_call"] = _columns(call)
        if postgres:
            assert flushes.count == at_write == 0, "the decision's rows ride in the ledger statement; no flush"
        executor = ProviderCallExecutor(runtime.session_maker, simulated(runtime), lambda _s: listener,
                                        runtime.clock, platform_fee_bps=fee_bps)
        before_result = flushes.count
        assert await executor.execute(call.id, attempt=attempt) == "done"
        if postgres:
            assert flushes.count == before_result == 0, "the result's rows ride in the ledger statement; no flush"

    hold = await hold_of(db, deal.id)
    assert hold.state is EscrowState.RELEASED and hold.reserved_amount == 0
    [stored_call] = await calls_of(db, hold.id, "transfer")
    assert stored_call.status is CallStatus.SUCCEEDED and stored_call.provider == "simulated"
    assert stored_call.attempts == 1
    # What the deciding session held after its commit is what was written (the decision's state, before the result).
    decided = kept["decision_hold"]
    assert decided["status"] == EscrowState.RELEASE_PENDING
    assert decided["reserved_amount"] == hold.released_creator_amount + hold.released_fee_amount
    assert decided["event_count"] == hold.event_count - 1
    assert kept["decision_call"]["idempotency_key"] == stored_call.idempotency_key
    assert kept["decision_call"]["params"] == stored_call.params
    await assert_ledger_invariants(db)


async def test_an_account_that_cannot_take_transfers_yet_makes_the_release_wait(runtime, db) -> None:
    deal = await funded_deal(runtime)
    listener = NullListener()
    fee_bps = runtime.settings.app.platform_fee_bps
    async with runtime.session_maker() as session, session.begin():
        service = EscrowService(session, now=runtime.clock.now(), listener=listener, platform_fee_bps=fee_bps)
        # Asked for, never completed: the account exists and can't take transfers.
        account, _call = await service.request_payout_account(deal.creator.creator_id, email="c@example.test",
                                                              country=None, provider="simulated")
        assert account.transfers_active is False
    async with runtime.session_maker() as session, session.begin():
        service = EscrowService(session, now=runtime.clock.now(), listener=listener, platform_fee_bps=fee_bps,
                                attempt_calls=True)
        call = await service.request_release(deal.id)
        assert call is not None and call.status is CallStatus.WAITING and call.attempts == 0
        assert "destination" not in call.params
    hold = await hold_of(db, deal.id)
    assert hold.state is EscrowState.RELEASE_PENDING and "set up payouts" in (hold.last_message or "")
    assert await db.scalar(sa.select(sa.func.count()).select_from(PayoutAccount)
                           .where(PayoutAccount.creator_id == deal.creator.creator_id)) == 1
    waiting = await db.scalar(sa.select(ProviderCall).where(ProviderCall.escrow_id == hold.id,
                                                            ProviderCall.operation == "transfer"))
    assert waiting is not None and waiting.status is CallStatus.WAITING
    await assert_ledger_invariants(db)
