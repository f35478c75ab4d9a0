"""Pure escrow logic: balanced postings, fee shares that add up exactly, and the transition table."""

from __future__ import annotations

import uuid

import pytest
from hypothesis import given
from hypothesis import strategies as st

from escrow import ledger
from escrow.money import basis_points
from escrow.states import RESUME, TRANSITIONS, EscrowAction, EscrowState, IllegalEscrowTransition, target_of

E, C, B = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()


def test_unbalanced_zero_and_float_legs_are_refused() -> None:
    with pytest.raises(ledger.Unbalanced):
        ledger.check_balanced([ledger.dr(ledger.platform_cash(), 100, "USD"), ledger.cr(ledger.refunds(B), 99, "USD")])
    with pytest.raises(ledger.Unbalanced):
        ledger.check_balanced([ledger.dr(ledger.platform_cash(), 100, "USD"), ledger.cr(ledger.refunds(B), 100, "EUR")])
    with pytest.raises(ledger.Unbalanced):
        ledger.check_balanced([ledger.Leg(ledger.platform_cash(), 0, "USD"), ledger.Leg(ledger.refunds(B), 0, "USD")])
    with pytest.raises(ledger.Unbalanced):
        ledger.check_balanced([ledger.Leg(ledger.platform_cash(), 1.5, "USD"),  # type: ignore[arg-type]
                               ledger.Leg(ledger.refunds(B), -1.5, "USD")])  # type: ignore[arg-type]
    with pytest.raises(ledger.Unbalanced):
        ledger.check_balanced([ledger.dr(ledger.platform_cash(), 100, "USD")])


@given(fee=st.integers(0, 99_999_999), bps=st.integers(0, 3_000), parts=st.lists(st.integers(1, 100), max_size=6))
def test_fee_shares_of_partial_releases_add_up_to_the_platform_fee(fee: int, bps: int, parts: list[int]) -> None:
    platform_fee = basis_points(fee, bps)
    released = fee_released = 0
    total_weight = sum(parts) or 1
    for weight in parts:
        part = min(fee - released, fee * weight // total_weight)
        share = ledger.fee_share(platform_fee, fee, released, fee_released, part)
        assert share >= 0
        released += part
        fee_released += share
    last = ledger.fee_share(platform_fee, fee, released, fee_released, fee - released)
    assert fee_released + last == platform_fee
    legs = ledger.release_legs(E, C, fee - released, last, "USD")
    if legs:
        ledger.check_balanced(legs)


@given(amount=st.integers(1, 99_999_999), taken=st.integers(0, 99_999_999))
def test_every_posting_balances(amount: int, taken: int) -> None:
    taken = min(taken, amount)
    for legs in (
        ledger.fund_legs(B, amount, "USD"),
        ledger.hold_legs(B, E, amount, "USD"),
        ledger.refund_legs(E, B, amount, "USD"),
        ledger.refund_paid_legs(B, amount, "USD"),
        ledger.transfer_legs(C, amount, "USD"),
        ledger.provider_fee_legs(amount, "USD"),
        ledger.chargeback_legs(E, amount, taken, "USD"),
        ledger.reversal_legs(amount, "USD"),
        ledger.recoverable_legs(C, amount, "USD"),
        ledger.chargeback_won_legs(E, C, amount, taken, 0, "USD"),
    ):
        ledger.check_balanced(legs)


def test_escrow_table_refuses_double_moves() -> None:
    assert target_of(EscrowState.FUNDED, EscrowAction.REQUEST_RELEASE, None) is EscrowState.RELEASE_PENDING
    for state, action in [(EscrowState.RELEASE_PENDING, EscrowAction.REQUEST_RELEASE),
                          (EscrowState.RELEASE_PENDING, EscrowAction.REQUEST_REFUND),
                          (EscrowState.RELEASED, EscrowAction.REQUEST_REFUND),
                          (EscrowState.REFUNDED, EscrowAction.REQUEST_RELEASE),
                          (EscrowState.AWAITING_FUNDING, EscrowAction.REQUEST_RELEASE)]:
        with pytest.raises(IllegalEscrowTransition):
            target_of(state, action, None)
    assert target_of(EscrowState.RELEASE_PENDING, EscrowAction.RELEASE_VOIDED, EscrowState.FROZEN) is EscrowState.FROZEN
    assert target_of(EscrowState.REFUND_PENDING, EscrowAction.REFUND_VOIDED, None) is EscrowState.FUNDED
    assert all(t is None or t == RESUME or isinstance(t, EscrowState) for t in TRANSITIONS.values())
