"""Deadline rules: which reminder and which consequence are due for a collaboration at a given time (pure, no I/O).

Every function takes the time as an argument; nothing here reads a clock or the database, so tests travel in
time by passing another ``now``. The sweeper (``sweeper.py``) loads what these functions read, in batches.
"""

from __future__ import annotations

import enum
import functools
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from marketplace.clock import as_utc
from marketplace.collaborations.due_dates import ghosting_due_at
from marketplace.collaborations.states import TERMINAL, CollabState

if TYPE_CHECKING:
    from marketplace.collaborations.models import Collaboration
    from marketplace.deadlines.due_deals import DueDeal

    #: What the rules read: a collaboration, or the sweep's narrower read of one (the same attribute names).
    DeadlineView = Collaboration | DueDeal

HOUR = timedelta(hours=1)

DEFAULT_REMINDER_OFFSETS_HOURS: tuple[int, ...] = (-72, -24, 24, 72)
#: Reminders go to people; stages PostPact watches itself (keep-live) get none.
REMINDED_PARTIES = frozenset({"brand", "creator"})
#: When the review window of a verified post passes PostPact approves it, so nagging the brand afterwards is moot.
NO_OVERDUE_REMINDERS = frozenset({"check", "approve"})
#: After handing a consequence to a job, look again this much later in case the job was lost; the job's own
#: transition moves the next look earlier or clears it.
ACTION_LEASE = timedelta(minutes=15)
#: Offsets further out than this are refused when a gig is saved, and ignored here (a typo must not mail people
#: a year ahead).
MAX_OFFSET_HOURS = 24 * 30

#: What each stage asks of whoever must act, for reminders ("… is due …").
STAGE_ASKS: dict[str, str] = {
    "sign": "sign the deal terms",
    "fund": "fund the escrow",
    "ship": "ship the product",
    "receipt": "confirm the product arrived",
    "draft": "submit the draft",
    "review": "review the creator's draft",
    "post": "publish the post and submit its link",
    "check": "check the post by hand (the automatic check couldn't confirm it)",
    "approve": "approve the verified post",
    "keep_live": "keep the post live",
}


class Consequence(enum.StrEnum):
    """What PostPact does itself when a due time passes."""

    GHOST = "ghost"
    BRAND_NO_SHOW = "brand_no_show"
    AUTO_APPROVE = "auto_approve"
    #: The brand didn't check a post that needs review within the review window: PostPact accepts and approves it.
    AUTO_ACCEPT = "auto_accept"
    KEEP_LIVE_MIDPOINT = "keep_live_midpoint"
    KEEP_LIVE_FINAL = "keep_live_final"


@dataclass(frozen=True)
class ReminderDue:
    stage: str
    party: str
    due_at: datetime
    offset_hours: int

    @property
    def fire_at(self) -> datetime:
        return self.due_at + timedelta(hours=self.offset_hours)

    @property
    def overdue(self) -> bool:
        return self.offset_hours > 0


@dataclass(frozen=True)
class History:
    """What was already done about a collaboration, as far as the rules need to know."""

    #: Offsets of the reminders already sent for the collaboration's current stage and due time.
    sent_offsets: frozenset[int] = frozenset()
    #: Notices given for their current due time (e.g. ``brand_no_show`` for the current ship-by time).
    notices: frozenset[str] = frozenset()
    #: The keep-live check halfway through the period has run (or is running).
    midpoint_checked: bool = False


@dataclass(frozen=True)
class FollowUp:
    """What the sweeper should do now, and when it must look at this collaboration again (None: not unless it
    changes)."""

    reminder: ReminderDue | None
    consequences: tuple[Consequence, ...]
    check_at: datetime | None


def _opt(value: datetime | None) -> datetime | None:
    return as_utc(value) if value is not None else None


def reminder_offsets(c: DeadlineView) -> tuple[int, ...]:
    """The deal's reminder offsets in hours (from its terms), sorted, without duplicates or absurd values."""
    raw = (c.terms or {}).get("reminder_offsets_hours")
    if raw is None:
        return _DEFAULT_OFFSETS
    try:
        return _clean_offsets(tuple(raw))
    except TypeError:  # an unhashable value among them (a list): cleaned without the memo
        return _clean_offsets.__wrapped__(tuple(raw))


@functools.lru_cache(maxsize=256)
def _clean_offsets(raw: tuple[object, ...]) -> tuple[int, ...]:
    # Memoised: a gig's deals share their terms' offsets, and the sweep and every deal's move read them.
    offsets: set[int] = set()
    for value in raw:
        try:
            hours = int(value)  # type: ignore[call-overload]
        except (TypeError, ValueError):
            continue
        if abs(hours) <= MAX_OFFSET_HOURS:
            offsets.add(hours)
    return tuple(sorted(offsets))


_DEFAULT_OFFSETS = _clean_offsets(DEFAULT_REMINDER_OFFSETS_HOURS)


def _schedule(c: DeadlineView) -> tuple[str, str, datetime, tuple[int, ...]] | None:
    """The current stage, party, due time and reminder offsets (sorted), or None when nobody is to be reminded."""
    if c.deadlines_paused_at is not None or CollabState(c.status) in TERMINAL:
        return None
    stage, party, due = c.next_due_stage, c.next_due_party, _opt(c.next_due_at)
    if stage is None or due is None or party not in REMINDED_PARTIES:
        return None
    if stage == "approve" and c.approved_at is not None:
        return None  # approved; the payment is on its way
    offsets = reminder_offsets(c)
    if stage in NO_OVERDUE_REMINDERS:
        offsets = tuple(o for o in offsets if o < 0)
    return stage, party, due, offsets


def reminder_schedule(c: DeadlineView) -> list[ReminderDue]:
    """Every reminder of the collaboration's current stage, in time order (empty when nobody is to be reminded)."""
    schedule = _schedule(c)
    if schedule is None:
        return []
    stage, party, due, offsets = schedule
    return [ReminderDue(stage, party, due, offset) for offset in offsets]


def _latest_passed(
    schedule: tuple[str, str, datetime, tuple[int, ...]] | None, now: datetime, sent_offsets: frozenset[int]
) -> ReminderDue | None:
    if schedule is None:
        return None
    stage, party, due, offsets = schedule
    passed = [offset for offset in offsets if due + timedelta(hours=offset) <= now]
    if not passed or any(offset >= passed[-1] for offset in sent_offsets):
        return None
    return ReminderDue(stage, party, due, passed[-1])


def _next_fire_at(schedule: tuple[str, str, datetime, tuple[int, ...]] | None, now: datetime) -> datetime | None:
    if schedule is None:
        return None
    due, offsets = schedule[2], schedule[3]
    # Offsets are sorted, so the first time still ahead is the earliest.
    return next((at for at in (due + timedelta(hours=offset) for offset in offsets) if at > now), None)


def reminder_due(c: DeadlineView, now: datetime, sent_offsets: frozenset[int] = frozenset()) -> ReminderDue | None:
    """The one reminder to send now, if any: the latest whose time has come, unless it or a later one was sent.

    Only the latest counts, so a deal whose due time is already near never gets the "3 days left" reminder after
    the "1 day left" one; and never the same reminder twice.
    """
    return _latest_passed(_schedule(c), now, sent_offsets)


def next_reminder_at(c: DeadlineView, now: datetime) -> datetime | None:
    return _next_fire_at(_schedule(c), now)


# --- consequences ---------------------------------------------------------------------------------------------------


def ghost_at(c: DeadlineView) -> datetime | None:
    """When the creator counts as ghosted: ``collaborations.due_dates.ghosting_due_at`` (one rule for the deal page,
    the due dates and the sweep)."""
    return ghosting_due_at(c)


def ghosting_due(c: DeadlineView, now: datetime) -> bool:
    """The creator has the product (or signed a product-less deal), posted nothing, and the grace period is over."""
    at = ghost_at(c)
    return at is not None and now >= at


def brand_no_show_at(c: DeadlineView) -> datetime | None:
    if CollabState(c.status) is not CollabState.FUNDED or not c.product_included or c.deadlines_paused_at:
        return None
    return c.due("ship")


def brand_no_show_due(c: DeadlineView, now: datetime) -> bool:
    """The brand was funded but did not ship by the ship-by date: the creator may cancel without penalty."""
    at = brand_no_show_at(c)
    return at is not None and now >= at


def auto_approve_at(c: DeadlineView) -> datetime | None:
    if CollabState(c.status) is not CollabState.VERIFIED or c.approved_at is not None or c.deadlines_paused_at:
        return None
    return c.due("approve")


def auto_approve_due(c: DeadlineView, now: datetime) -> bool:
    """The brand neither approved nor disputed the verified post within the review window."""
    at = auto_approve_at(c)
    return at is not None and now >= at


def auto_accept_at(c: DeadlineView) -> datetime | None:
    """The documented rule for a post the automatic check couldn't confirm: the brand has the review window to
    check it by hand (or open a dispute); after that PostPact accepts it as delivered and pays, as for a verified
    post whose window passed."""
    if (
        CollabState(c.status) is not CollabState.POSTED
        or c.post_review_requested_at is None
        or c.deadlines_paused_at is not None
    ):
        return None
    return c.due("check")


def auto_accept_due(c: DeadlineView, now: datetime) -> bool:
    at = auto_accept_at(c)
    return at is not None and now >= at


def keep_live_midpoint_at(c: DeadlineView) -> datetime | None:
    """Halfway through the keep-live period: the one check between the start and the end."""
    if CollabState(c.status) is not CollabState.RELEASED or c.deadlines_paused_at is not None:
        return None
    posted, end = _opt(c.posted_at), c.due("keep_live")
    if posted is None or end is None or end <= posted:
        return None
    return posted + (end - posted) / 2


def keep_live_end_at(c: DeadlineView) -> datetime | None:
    if CollabState(c.status) is not CollabState.RELEASED or c.deadlines_paused_at is not None:
        return None
    return c.due("keep_live")


def keep_live_final_due(c: DeadlineView, now: datetime) -> bool:
    at = keep_live_end_at(c)
    return at is not None and now >= at


# --- the whole decision ---------------------------------------------------------------------------------------------


def follow_up(c: DeadlineView, now: datetime, history: History = History()) -> FollowUp:
    """What is due now and when to look again; ``history`` says what was already done."""
    schedule = _schedule(c)  # worked out once: the sweep calls this for every due deal
    reminder = _latest_passed(schedule, now, history.sent_offsets)
    consequences: list[Consequence] = []
    later: list[datetime] = []

    def consider(kind: Consequence, at: datetime | None, done: bool = False) -> None:
        if at is None or done:
            return
        if now >= at:
            consequences.append(kind)
        else:
            later.append(at)

    consider(Consequence.GHOST, ghost_at(c))
    consider(Consequence.BRAND_NO_SHOW, brand_no_show_at(c), "brand_no_show" in history.notices)
    consider(Consequence.AUTO_APPROVE, auto_approve_at(c))
    consider(Consequence.AUTO_ACCEPT, auto_accept_at(c))
    final_at = keep_live_end_at(c)
    if final_at is None or now < final_at:
        consider(Consequence.KEEP_LIVE_MIDPOINT, keep_live_midpoint_at(c), history.midpoint_checked)
    consider(Consequence.KEEP_LIVE_FINAL, final_at)

    if c.needs_admin_review:
        # An admin must look at this deal first (escrow refused, a suspension, a chargeback): reminders go on,
        # but PostPact takes no automatic step until the flag is cleared (which brings the sweeper back).
        consequences.clear()
        later.clear()
    if Consequence.GHOST in consequences:
        reminder = None  # the deal ends now; a last "you're late" would arrive beside the "deal ended" notice
    next_reminder = _next_fire_at(schedule, now)
    if next_reminder is not None and Consequence.GHOST not in consequences:
        later.append(next_reminder)
    if consequences:
        later.append(now + ACTION_LEASE)
    return FollowUp(reminder, tuple(consequences), min(later, default=None))


def held_for_admin(c: DeadlineView) -> bool:
    return bool(c.needs_admin_review)


def first_reminder_at(c: DeadlineView) -> datetime | None:
    """When the first reminder of the current stage fires (``reminder_schedule(c)[0].fire_at``), without building
    the schedule: the offsets are sorted, so the first is the smallest."""
    schedule = _schedule(c)
    if schedule is None or not schedule[3]:
        return None
    return schedule[2] + timedelta(hours=schedule[3][0])


#: The consequences a deal in each state can have, besides ghosting (``ghost_at`` decides its own states): each
#: rule below returns None outside its state, so ``earliest_check_at`` asks only the ones that can answer.
_CONSEQUENCES_IN: dict[CollabState, tuple[Callable[[DeadlineView], datetime | None], ...]] = {
    CollabState.FUNDED: (brand_no_show_at,),
    CollabState.VERIFIED: (auto_approve_at,),
    CollabState.POSTED: (auto_accept_at,),
    CollabState.RELEASED: (keep_live_midpoint_at, keep_live_end_at),
}


def earliest_check_at(c: DeadlineView) -> datetime | None:
    """The earliest moment anything could be due, ignoring what was already done.

    Used whenever a collaboration changes: it may be in the past, in which case the sweeper looks at once, finds
    out what was already done, and moves the time on. Never later than the true next time, so nothing is missed.
    The first reminder and every consequence's time, as ``reminder_schedule`` and the ``*_at`` rules give them;
    called for every deal a bulk step moves, so only the rules of the deal's state are asked.
    """
    times = [t for t in (first_reminder_at(c), ghost_at(c)) if t is not None]
    for rule in _CONSEQUENCES_IN.get(CollabState(c.status), ()):
        at = rule(c)
        if at is not None:
            times.append(at)
    return min(times, default=None)
