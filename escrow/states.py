"""The escrow state machine per collaboration, pure: states, actions, the transition table and ``check_transition``.

No database here: ``escrow.transition.transition()`` locks the hold, applies what ``check_transition`` decides and
records the event row. ``EscrowHold.status`` changes nowhere else (the model refuses other writes).

    awaiting_funding ─start─▶ funding ─succeeded─▶ funded ─release─▶ release_pending ─posted─▶ released
           │                     │  ▲                 │    ▲                │ voided ▲ (partial: back to funded)
           └─cancel─▶ cancelled  ▼  │retry            │    └────────────────┘        │
                         funding_failed               ├─refund─▶ refund_pending ─posted─▶ refunded
                                                      └─freeze─▶ frozen ─resolve─▶ split_pending ─posted─▶ settled
                                                                   (also resolve to release_pending / refund_pending)
A voided release or refund returns to the state it started from (``funded`` or ``frozen``).
"""

from __future__ import annotations

import enum
from dataclasses import dataclass


class EscrowState(enum.StrEnum):
    AWAITING_FUNDING = "awaiting_funding"
    FUNDING = "funding"
    FUNDING_FAILED = "funding_failed"
    FUNDED = "funded"
    RELEASE_PENDING = "release_pending"
    RELEASED = "released"
    REFUND_PENDING = "refund_pending"
    REFUNDED = "refunded"
    FROZEN = "frozen"
    SPLIT_PENDING = "split_pending"
    SETTLED = "settled"
    #: The deal ended before any money arrived; a late payment is returned automatically.
    CANCELLED = "cancelled"


class EscrowAction(enum.StrEnum):
    START_FUNDING = "start_funding"
    FUNDING_SUCCEEDED = "funding_succeeded"
    FUNDING_FAILED = "funding_failed"
    CANCEL = "cancel"
    REQUEST_RELEASE = "request_release"
    RELEASE_POSTED = "release_posted"
    RELEASE_POSTED_PARTIAL = "release_posted_partial"
    RELEASE_VOIDED = "release_voided"
    REQUEST_REFUND = "request_refund"
    REFUND_POSTED = "refund_posted"
    REFUND_POSTED_PARTIAL = "refund_posted_partial"
    REFUND_VOIDED = "refund_voided"
    FREEZE = "freeze"
    RESOLVE_RELEASE = "resolve_release"
    RESOLVE_REFUND = "resolve_refund"
    RESOLVE_SPLIT = "resolve_split"
    SPLIT_POSTED = "split_posted"
    SPLIT_VOIDED = "split_voided"
    #: Recorded without a state change (a chargeback on a frozen escrow, a fee booked, a note).
    NOTE = "note"


S = EscrowState
A = EscrowAction

#: Money sits in escrow_held and is not reserved by a pending posting.
HOLDING = frozenset({S.FUNDED, S.FROZEN})
#: A release, refund or split is reserved and waiting for the provider.
PENDING = frozenset({S.RELEASE_PENDING, S.REFUND_PENDING, S.SPLIT_PENDING})
#: Target meaning "back to the state the pending posting started from" (funded or frozen).
RESUME = "resume"

_ANY = frozenset(S)

TRANSITIONS: dict[tuple[EscrowState, EscrowAction], EscrowState | str | None] = {
    (S.AWAITING_FUNDING, A.START_FUNDING): S.FUNDING,
    (S.FUNDING_FAILED, A.START_FUNDING): S.FUNDING,
    (S.FUNDING, A.FUNDING_SUCCEEDED): S.FUNDED,
    # A payer may retry on the same payment after a decline; its later success still funds the deal.
    (S.FUNDING_FAILED, A.FUNDING_SUCCEEDED): S.FUNDED,
    (S.FUNDING, A.FUNDING_FAILED): S.FUNDING_FAILED,
    (S.AWAITING_FUNDING, A.CANCEL): S.CANCELLED,
    (S.FUNDING, A.CANCEL): S.CANCELLED,
    (S.FUNDING_FAILED, A.CANCEL): S.CANCELLED,
    (S.FUNDED, A.REQUEST_RELEASE): S.RELEASE_PENDING,
    (S.RELEASE_PENDING, A.RELEASE_POSTED): S.RELEASED,
    (S.RELEASE_PENDING, A.RELEASE_POSTED_PARTIAL): S.FUNDED,
    (S.RELEASE_PENDING, A.RELEASE_VOIDED): RESUME,
    (S.FUNDED, A.REQUEST_REFUND): S.REFUND_PENDING,
    (S.REFUND_PENDING, A.REFUND_POSTED): S.REFUNDED,
    (S.REFUND_PENDING, A.REFUND_POSTED_PARTIAL): RESUME,
    (S.REFUND_PENDING, A.REFUND_VOIDED): RESUME,
    # Freezing a pending posting is only allowed before it was sent to the provider (the service checks).
    (S.FUNDED, A.FREEZE): S.FROZEN,
    (S.RELEASE_PENDING, A.FREEZE): S.FROZEN,
    (S.REFUND_PENDING, A.FREEZE): S.FROZEN,
    (S.RELEASED, A.FREEZE): S.FROZEN,
    (S.REFUNDED, A.FREEZE): S.FROZEN,
    (S.SETTLED, A.FREEZE): S.FROZEN,
    (S.FROZEN, A.FREEZE): None,
    (S.FROZEN, A.RESOLVE_RELEASE): S.RELEASE_PENDING,
    (S.FROZEN, A.RESOLVE_REFUND): S.REFUND_PENDING,
    (S.FROZEN, A.RESOLVE_SPLIT): S.SPLIT_PENDING,
    (S.SPLIT_PENDING, A.SPLIT_POSTED): S.SETTLED,
    (S.SPLIT_PENDING, A.SPLIT_VOIDED): S.FROZEN,
}
for _state in _ANY:
    TRANSITIONS[(_state, A.NOTE)] = None

LABELS: dict[EscrowState, str] = {
    S.AWAITING_FUNDING: "Waiting for the brand to fund",
    S.FUNDING: "Payment in progress",
    S.FUNDING_FAILED: "Payment failed",
    S.FUNDED: "Funded — money held in escrow",
    S.RELEASE_PENDING: "Paying the creator",
    S.RELEASED: "Paid to the creator",
    S.REFUND_PENDING: "Refunding the brand",
    S.REFUNDED: "Refunded to the brand",
    S.FROZEN: "Frozen while a dispute is open",
    S.SPLIT_PENDING: "Settling the dispute",
    S.SETTLED: "Settled",
    S.CANCELLED: "Cancelled before funding",
}


class IllegalEscrowTransition(Exception):
    """The move does not exist from this state (a double release, a refund after release...)."""

    def __init__(self, state: EscrowState, action: EscrowAction) -> None:
        super().__init__(f"escrow can't {action.value.replace('_', ' ')} while {state.value.replace('_', ' ')}")
        self.state = state
        self.action = action


def target_of(state: EscrowState, action: EscrowAction, resume: EscrowState | None) -> EscrowState:
    """Pure: where ``action`` takes an escrow in ``state``; raises IllegalEscrowTransition."""
    if (state, action) not in TRANSITIONS:
        raise IllegalEscrowTransition(state, action)
    target = TRANSITIONS[(state, action)]
    if target is None:
        return state
    if target == RESUME:
        return resume or S.FUNDED
    return EscrowState(target)


def can(state: EscrowState, action: EscrowAction) -> bool:
    return (state, action) in TRANSITIONS


@dataclass(frozen=True)
class EscrowChange:
    """What one legal move does to a hold: its new status and where a voided posting will return to."""

    action: EscrowAction
    from_state: EscrowState
    to_state: EscrowState
    #: The hold's ``resume_status`` after the move (set when a pending posting starts, cleared when it ends).
    resume_status: EscrowState | None


def check_transition(state: EscrowState, action: EscrowAction, resume: EscrowState | None) -> EscrowChange:
    """Pure: the change ``action`` makes to an escrow in ``state`` (``resume`` is its current ``resume_status``);
    raises IllegalEscrowTransition when the table has no such move."""
    target = target_of(state, action, resume)
    if target in PENDING and state not in PENDING:
        resume_after: EscrowState | None = state
    elif target not in PENDING:
        resume_after = None
    else:
        resume_after = resume
    return EscrowChange(action, state, target, resume_after)
