"""The board's stage of a creator on a gig, derived from the real invitation, application and deal state (pure)."""

from __future__ import annotations

import enum

from marketplace.applications.models import ApplicationStatus
from marketplace.collaborations.states import CollabState


class Stage(enum.StrEnum):
    INVITED = "invited"
    APPLIED = "applied"
    ACCEPTED = "accepted"
    SIGNED = "signed"
    FUNDED = "funded"
    SHIPPED = "shipped"
    DRAFT = "draft"
    POSTED = "posted"
    PAID = "paid"
    GHOSTED = "ghosted"
    CANCELLED = "cancelled"
    DISPUTED = "disputed"


#: The board's columns, left to right.
COLUMNS: tuple[Stage, ...] = tuple(Stage)
LABELS = {
    Stage.INVITED: "Invited", Stage.APPLIED: "Applied", Stage.ACCEPTED: "Accepted (offer sent)",
    Stage.SIGNED: "Signed", Stage.FUNDED: "Funded", Stage.SHIPPED: "Shipped", Stage.DRAFT: "Draft",
    Stage.POSTED: "Posted", Stage.PAID: "Paid", Stage.GHOSTED: "Ghosted", Stage.CANCELLED: "Cancelled",
    Stage.DISPUTED: "Disputed",
}

S = CollabState
_DEAL_STAGES: dict[CollabState, Stage] = {
    S.OFFERED: Stage.ACCEPTED,
    S.SIGNED: Stage.SIGNED,
    S.FUNDED: Stage.FUNDED,
    S.SHIPPED: Stage.SHIPPED,
    S.RECEIVED: Stage.SHIPPED,
    S.DRAFT_SUBMITTED: Stage.DRAFT,
    S.CHANGES_REQUESTED: Stage.DRAFT,
    S.DRAFT_APPROVED: Stage.DRAFT,
    S.POSTED: Stage.POSTED,
    S.VERIFIED: Stage.POSTED,
    S.RELEASED: Stage.PAID,
    S.COMPLETED: Stage.PAID,
    S.GHOSTED: Stage.GHOSTED,
    S.CANCELLED: Stage.CANCELLED,
    # A dispute, and how an admin ended it (refund or split), stay in one column: the brand reads them together.
    S.DISPUTED: Stage.DISPUTED,
    S.REFUNDED: Stage.DISPUTED,
    S.SETTLED: Stage.DISPUTED,
}
#: Deal states each column holds (what "select all in this column" acts on).
DEAL_STATES: dict[Stage, tuple[str, ...]] = {
    stage: tuple(s.value for s, st in _DEAL_STAGES.items() if st is stage) for stage in COLUMNS
}


def stage_of(*, invited: bool, application: ApplicationStatus | str | None,
             deal: CollabState | str | None) -> Stage | None:
    """The furthest thing that exists wins: a deal's state, else the application's, else the invitation.
    A declined or withdrawn application without a deal is off the board (None), as is a creator with nothing."""
    if deal is not None:
        return _DEAL_STAGES[CollabState(deal)]
    if application is not None:
        status = ApplicationStatus(application)
        if status is ApplicationStatus.PENDING:
            return Stage.APPLIED
        if status is ApplicationStatus.ACCEPTED:
            return Stage.ACCEPTED
        return None
    return Stage.INVITED if invited else None
