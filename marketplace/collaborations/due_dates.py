"""Due dates for each stage of a collaboration, computed from its terms and milestones (pure, no I/O)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, Protocol

from marketplace.clock import as_utc
from marketplace.collaborations.states import CREATOR_TO_POST, CollabState
from marketplace.collaborations.terms import ghost_grace_hours, parsed_terms

if TYPE_CHECKING:
    from marketplace.collaborations.models import Collaboration

HOUR = timedelta(hours=1)
DAY = timedelta(days=1)


class DueView(Protocol):
    """What ``ghosting_due_at`` reads: a collaboration, or a narrower read of one with the same names."""

    status: Any
    deadlines_paused_at: datetime | None
    product_included: bool
    terms: dict[str, Any]

    def due(self, stage: str) -> datetime | None: ...
#: After a draft is approved the creator always gets at least this long to publish, however late the brand was.
MIN_TIME_TO_POST_AFTER_APPROVAL = 48 * HOUR
#: Drafts are due this long before the post deadline (or the review window, if shorter), to leave time to review.
DRAFT_LEAD = 48 * HOUR


@dataclass(frozen=True)
class NextDue:
    stage: str
    party: str
    at: datetime


#: Who must act next in each state, and on which stage's clock.
NEXT_STAGE: dict[CollabState, tuple[str, str]] = {
    CollabState.OFFERED: ("sign", "creator"),
    CollabState.SIGNED: ("fund", "brand"),
    CollabState.SHIPPED: ("receipt", "creator"),
    CollabState.RECEIVED: ("draft", "creator"),
    CollabState.CHANGES_REQUESTED: ("draft", "creator"),
    CollabState.DRAFT_SUBMITTED: ("review", "brand"),
    CollabState.DRAFT_APPROVED: ("post", "creator"),
    CollabState.VERIFIED: ("approve", "brand"),
    # POSTED is the creator's wait for the automatic check, unless the check asked the brand to look ("check").
    CollabState.RELEASED: ("keep_live", "system"),
}


def _opt(value: datetime | None) -> datetime | None:
    return as_utc(value) if value is not None else None


def compute_due_dates(c: Collaboration) -> dict[str, datetime | None]:
    """Every stage's due time from the terms and the milestones reached so far (accepted extensions win)."""
    t = parsed_terms(c.terms)
    created, signed, funded = _opt(c.created_at), _opt(c.signed_at), _opt(c.funded_at)
    shipped, received = _opt(c.shipped_at), _opt(c.received_at)
    submitted, approved = _opt(c.draft_submitted_at), _opt(c.draft_approved_at)
    verified, posted = _opt(c.verified_at), _opt(c.posted_at)

    due: dict[str, datetime | None] = dict.fromkeys(
        ("sign", "fund", "ship", "receipt", "draft", "review", "post", "check", "approve", "keep_live")
    )
    due["sign"] = created + t.sign_within_hours * HOUR if created else None
    due["fund"] = signed + t.fund_within_hours * HOUR if signed else None
    if t.product_included:
        due["ship"] = funded + t.ship_within_days * DAY if funded else None
        due["receipt"] = shipped + t.receipt_within_days * DAY if shipped else None
        # A creator who never confirms receipt can't stop the clock: it starts when the parcel should have arrived.
        creator_clock = received or due["receipt"]
    else:
        creator_clock = funded
    if creator_clock is not None:
        post = creator_clock + t.post_within_days * DAY
        if approved is not None:
            post = max(post, approved + MIN_TIME_TO_POST_AFTER_APPROVAL)
        due["post"] = post
        lead = min(DRAFT_LEAD, t.review_window_hours * HOUR)
        due["draft"] = max(post - lead, creator_clock + DAY)
    due["review"] = submitted + t.review_window_hours * HOUR if submitted else None
    # A post the automatic check could not confirm waits on the brand for the same review window as a verified post;
    # when it passes, PostPact accepts and approves it (deadlines.rules.auto_accept_at) unless the brand disputes.
    review_requested = _opt(c.post_review_requested_at)
    due["check"] = review_requested + t.review_window_hours * HOUR if review_requested else None
    due["approve"] = verified + t.review_window_hours * HOUR if verified else None
    due["keep_live"] = posted + t.keep_live_days * DAY if posted else None

    for stage, value in (c.due_overrides or {}).items():
        if stage in due and value:
            due[stage] = as_utc(datetime.fromisoformat(value))
    return due


def next_due(c: Collaboration, due: dict[str, datetime | None]) -> NextDue | None:
    if c.deadlines_paused_at is not None:
        return None
    state = CollabState(c.status)
    stage_party: tuple[str, str] | None
    if state is CollabState.FUNDED:
        stage_party = ("ship", "brand") if c.product_included else ("draft", "creator")
    elif state is CollabState.POSTED:
        stage_party = ("check", "brand") if c.post_review_requested_at is not None else None
    else:
        stage_party = NEXT_STAGE.get(state)
    if stage_party is None:
        return None
    at = due.get(stage_party[0])
    return NextDue(stage_party[0], stage_party[1], at) if at is not None else None


def due_columns(c: Collaboration) -> dict[str, datetime | str | None]:
    """Every stage's due time and the next one, by column attribute (``due_<stage>``, ``next_due_*``)."""
    due = compute_due_dates(c)
    values: dict[str, datetime | str | None] = {f"due_{stage}": value for stage, value in due.items()}
    nxt = next_due(c, due)
    values.update(next_due_stage=nxt.stage if nxt else None, next_due_party=nxt.party if nxt else None,
                  next_due_at=nxt.at if nxt else None)
    return values


#: The columns ``recompute_due_dates`` writes.
DUE_COLUMNS: tuple[str, ...] = (*(f"due_{stage}" for stage in (
    "sign", "fund", "ship", "receipt", "draft", "review", "post", "check", "approve", "keep_live")),
    "next_due_stage", "next_due_party", "next_due_at")


def recompute_due_dates(c: Collaboration, now: datetime) -> None:
    """Store every stage's due time and the next one, after any milestone or extension."""
    for name, value in due_columns(c).items():
        setattr(c, name, value)


def ghosting_due_at(c: Collaboration | DueView) -> datetime | None:
    """When the creator counts as ghosted if nothing was posted: the post deadline (moved by agreed extensions) plus
    the grace period. The grace is read from the terms alone (``terms.ghost_grace_hours``), so the deadline sweep's
    narrow ``DueDeal`` (which carries only the terms it needs) is judged by this same rule."""
    if CollabState(c.status) not in CREATOR_TO_POST or c.deadlines_paused_at is not None:
        return None
    if CollabState(c.status) is CollabState.FUNDED and c.product_included:
        return None  # the brand hasn't shipped yet: nothing is the creator's fault
    post = c.due("post")
    if post is None:
        return None
    return post + ghost_grace_hours(c.terms or {}) * HOUR
