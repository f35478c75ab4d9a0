"""Catalogue of observed outcomes that feed reputation, and the rules for which one a delivery earns."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum


class Side(StrEnum):
    """Whose reputation an outcome kind belongs to."""

    CREATOR = "creator"
    BRAND = "brand"
    EITHER = "either"


@dataclass(frozen=True, slots=True)
class OutcomeSpec:
    """How one kind of observed outcome enters the Beta model: its value v and a weight multiplier."""

    value: float
    weight: float
    side: Side
    description: str


class EventKind(StrEnum):
    """Observed outcome kinds; the database stores the string value, so never rename a member's value."""

    CREATOR_ON_TIME = "creator.on_time"
    CREATOR_LATE = "creator.late"
    CREATOR_GHOSTED = "creator.ghosted"
    CREATOR_POST_REMOVED = "creator.post_removed"
    CREATOR_CANCELLED_AFTER_SIGNING = "creator.cancelled_after_signing"
    CREATOR_DISPUTE_LOST = "creator.dispute_lost"
    BRAND_RELEASED_ON_TIME = "brand.released_on_time"
    BRAND_LATE_RELEASE = "brand.late_release"
    BRAND_DID_NOT_SHIP = "brand.did_not_ship"
    BRAND_DISPUTE_LOST = "brand.dispute_lost"
    RATING = "rating"

    @property
    def spec(self) -> OutcomeSpec:
        return CATALOGUE[self]


# Weights follow the issue: a ghosting is the marketplace's worst failure (the brand loses the product and the
# campaign slot), so it counts three deliveries' worth; deleting a paid post or losing a dispute counts double;
# cancelling after signing costs the brand only time, so it counts half. A rating's own weight is 0.5 because stars
# are inflated and subjective, while the other kinds are facts the system observed itself.
CATALOGUE: dict[EventKind, OutcomeSpec] = {
    EventKind.CREATOR_ON_TIME: OutcomeSpec(1.0, 1.0, Side.CREATOR, "posted on time and kept the post live"),
    EventKind.CREATOR_LATE: OutcomeSpec(0.0, 1.0, Side.CREATOR, "posted up to 7 days late"),
    EventKind.CREATOR_GHOSTED: OutcomeSpec(-1.0, 3.0, Side.CREATOR, "never posted (or posted more than 7 days late)"),
    EventKind.CREATOR_POST_REMOVED: OutcomeSpec(-1.0, 2.0, Side.CREATOR, "removed the post before keep-live ended"),
    EventKind.CREATOR_CANCELLED_AFTER_SIGNING: OutcomeSpec(-1.0, 0.5, Side.CREATOR, "cancelled after signing"),
    EventKind.CREATOR_DISPUTE_LOST: OutcomeSpec(-1.0, 2.0, Side.CREATOR, "lost a dispute"),
    EventKind.BRAND_RELEASED_ON_TIME: OutcomeSpec(1.0, 1.0, Side.BRAND, "reviewed and released payment on time"),
    EventKind.BRAND_LATE_RELEASE: OutcomeSpec(0.0, 1.0, Side.BRAND, "reviewed or released payment late"),
    EventKind.BRAND_DID_NOT_SHIP: OutcomeSpec(-1.0, 1.0, Side.BRAND, "never shipped the product"),
    EventKind.BRAND_DISPUTE_LOST: OutcomeSpec(-1.0, 3.0, Side.BRAND, "lost a dispute"),
    # v is derived from the stars, so the table's value is only a placeholder for "neutral".
    EventKind.RATING: OutcomeSpec(0.0, 0.5, Side.EITHER, "star rating from the other side (1-5)"),
}

# A post more than this late no longer serves the brand's campaign; it is treated like no post at all.
LATE_GRACE = timedelta(days=7)
# Field practice: review windows are a few days (Fiverr 3, Upwork 14 with auto-release); 7 is our default.
REVIEW_WINDOW = timedelta(days=7)


def creator_delivery_kind(
    *,
    due_at: datetime,
    brand_shipped: bool,
    posted_at: datetime | None,
    removed_at: datetime | None,
    keep_live_until: datetime | None,
    at: datetime,
) -> EventKind | None:
    """The creator's outcome for one deal as known at `at`, or None when it is not final or not the creator's doing.

    `due_at` is the posting deadline the collaboration service computed (it should already be shifted when the brand
    shipped late). A deal whose product never shipped yields None: the brand is scored for that, the creator is not.
    `keep_live_until` is when the keep-live period of a made post ends (None when the post is not made yet).
    """
    if not brand_shipped:
        return None
    ghost_cutoff = due_at + LATE_GRACE
    if posted_at is None or posted_at > ghost_cutoff:
        return EventKind.CREATOR_GHOSTED if at >= ghost_cutoff else None
    if removed_at is not None and (keep_live_until is None or removed_at < keep_live_until):
        return EventKind.CREATOR_POST_REMOVED if at >= removed_at else None
    if keep_live_until is None or at < keep_live_until:
        return None  # "kept live" is only a fact once the keep-live period is over
    return EventKind.CREATOR_ON_TIME if posted_at <= due_at else EventKind.CREATOR_LATE


def brand_release_kind(
    *,
    shipped: bool,
    ship_due_at: datetime,
    review_due_at: datetime | None,
    released_at: datetime | None,
    at: datetime,
) -> EventKind | None:
    """The brand's outcome for one deal as known at `at`, or None while it is still open.

    `review_due_at` is when the brand's review window ends (None when the post is not made yet, so nothing is due).
    An automatic release after the window counts as a late review: the creator waited for their money.
    """
    if not shipped:
        return EventKind.BRAND_DID_NOT_SHIP if at >= ship_due_at else None
    if review_due_at is None:
        return None
    if released_at is not None and released_at <= review_due_at:
        return EventKind.BRAND_RELEASED_ON_TIME
    if released_at is not None or at > review_due_at:
        return EventKind.BRAND_LATE_RELEASE
    return None
