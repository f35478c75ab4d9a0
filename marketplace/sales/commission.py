"""The commission lifecycle and a creator's balance with a brand, as pure functions.

``pending`` (the hold: order time + the gig's ``hold_days``) → ``approved`` (the periodic job, once the hold
passed) → ``paid`` (only ever by escrow). A refund inside the hold lowers the commission or cancels it; a refund
after payment leaves ``commission < paid``: the difference is a negative balance offset against that creator's
next commission from the same brand — never taken back from the creator's bank.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from marketplace.sales.models import CommissionState

DEFAULT_HOLD_DAYS = 30
MAX_HOLD_DAYS = 90


def payable_at(placed_at: datetime | None, hold_days: int) -> datetime | None:
    """When an order's commission stops being pending."""
    return placed_at + timedelta(days=hold_days) if placed_at is not None else None


def next_state(*, attributed: bool, commission: int, paid: int, approved: bool) -> CommissionState:
    """The state an attribution row is in after its figures changed (a delivery, a refund, the approval job)."""
    if paid > 0:
        return CommissionState.PAID
    if not attributed:
        return CommissionState.NONE
    if commission <= 0:
        return CommissionState.CANCELLED
    return CommissionState.APPROVED if approved else CommissionState.PENDING


def due_for_approval(state: CommissionState, payable: datetime | None, now: datetime) -> bool:
    return state is CommissionState.PENDING and payable is not None and payable <= now


@dataclass(frozen=True)
class Line:
    state: CommissionState
    commission: int
    #: Carried by a payout (in flight or done): counts as settled, not as approved.
    in_payout: bool = False


@dataclass(frozen=True)
class Balance:
    """One creator's commission with one brand in one currency."""

    pending: int
    #: Approved and in no payout yet.
    approved: int
    #: Transferred to the creator (escrow payouts posted).
    paid: int
    #: Refunds after payment not yet recovered (≤ 0).
    carried: int
    #: Payouts reserved whose transfer hasn't posted yet.
    in_flight: int = 0

    @property
    def payable(self) -> int:
        """What the next payout sends: approved commission minus the carried negative balance, never below 0."""
        return max(self.approved + self.carried, 0)

    @property
    def carried_forward(self) -> int:
        """What stays negative after the next payout (the creator owes it from future commission, nothing else)."""
        return min(self.approved + self.carried, 0)


def balance(lines: Iterable[Line], *, sent: int = 0, paid: int = 0) -> Balance:
    """``sent``: escrow payouts reserved or paid to this creator by this brand in this currency (``paid``: of which
    posted). What those payouts carried is now worth ``settled``; when refunds made it less than was sent, the
    difference is the carried negative balance."""
    pending = approved = settled = 0
    for line in lines:
        if line.in_payout or line.state is CommissionState.PAID:
            settled += line.commission
        elif line.state is CommissionState.PENDING:
            pending += line.commission
        elif line.state is CommissionState.APPROVED:
            approved += line.commission
    return Balance(pending, approved, paid, min(settled - sent, 0), sent - paid)
