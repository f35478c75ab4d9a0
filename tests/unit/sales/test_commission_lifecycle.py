"""Commission states and a creator's balance with a brand, including a refund after payout."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from marketplace.sales.commission import Line, balance, due_for_approval, next_state, payable_at
from marketplace.sales.models import CommissionState as S

T0 = datetime(2026, 3, 1, tzinfo=UTC)


def test_states() -> None:
    assert next_state(attributed=False, commission=0, paid=0, approved=False) is S.NONE
    assert next_state(attributed=True, commission=500, paid=0, approved=False) is S.PENDING
    assert next_state(attributed=True, commission=500, paid=0, approved=True) is S.APPROVED
    assert next_state(attributed=True, commission=0, paid=0, approved=True) is S.CANCELLED
    # Paid stays paid whatever a later refund does; the difference is carried.
    assert next_state(attributed=True, commission=0, paid=500, approved=True) is S.PAID


def test_hold_and_approval() -> None:
    due = payable_at(T0, 30)
    assert due == T0 + timedelta(days=30) and payable_at(None, 30) is None
    assert not due_for_approval(S.PENDING, due, due - timedelta(seconds=1))
    assert due_for_approval(S.PENDING, due, due)
    assert not due_for_approval(S.APPROVED, due, due + timedelta(days=1))


def test_refund_after_payout_is_carried_against_future_commission_never_below_zero() -> None:
    # 600 was paid for an order since refunded down to 200 commission.
    lines = [Line(S.PAID, 200), Line(S.APPROVED, 300), Line(S.PENDING, 100)]
    owed = balance(lines, sent=600, paid=600)
    assert (owed.pending, owed.approved, owed.paid, owed.carried) == (100, 300, 600, -400)
    assert owed.payable == 0 and owed.carried_forward == -100
    later = balance([*lines, Line(S.APPROVED, 250)], sent=600, paid=600)
    assert later.payable == 150 and later.carried_forward == 0
    # Once a payout carries the approved lines (150 sent), nothing is carried any more and nothing is owed.
    settled = balance([Line(S.PAID, 200), Line(S.APPROVED, 300, True), Line(S.PENDING, 100),
                       Line(S.APPROVED, 250, True)], sent=750, paid=600)
    assert (settled.approved, settled.carried, settled.in_flight, settled.payable) == (0, 0, 150, 0)


def test_an_offset_payout_only_pays_back_the_carried_balance() -> None:
    lines = [Line(S.PAID, 0), Line(S.APPROVED, 100)]
    owed = balance(lines, sent=500, paid=500)
    assert (owed.payable, owed.carried_forward) == (0, -400)
    after = balance([Line(S.PAID, 0), Line(S.PAID, 100)], sent=500, paid=500)
    assert after.carried == -400 and after.approved == 0
