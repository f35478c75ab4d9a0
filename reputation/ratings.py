"""Double-blind ratings: one per side of a completed deal, revealed when both rated or after 14 days, then scored.

A rating enters the ratee's evidence only when revealed, as v = (stars-3)/2 with weight 0.5 times the rater's weight
(raters who only give 1s and 5s count less; the weight is fixed when the rating is given, so rebuilds agree).
"""

from __future__ import annotations

import math
from datetime import datetime
from uuid import UUID

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from reputation.events import EventKind
from reputation.models import Rating, ReliabilityScore
from reputation.scoring import RATING_REVEAL_WINDOW, rater_weight_from_counts, rating_outcome, rating_window_open
from reputation.services import Subject, append_outcome, lock_scores


class RatingRefused(ValueError):
    """A rating that may not be given (window closed, already rated, wrong stars); the message says why."""


async def submit_rating(
    session: AsyncSession,
    *,
    collaboration_id: UUID,
    rater: Subject,
    ratee: Subject,
    stars: int,
    comment: str,
    completed_at: datetime,
    now: datetime,
    rater_user_id: UUID | None = None,
) -> Rating:
    """Store one side's rating of the other; when both sides have now rated, reveal both (and score them).

    The caller has checked that the rater is a party of a funded, completed collaboration. Raises RatingRefused
    when the 14-day window is closed, this side already rated, or the stars are not 1-5.
    """
    if rater.kind is ratee.kind:
        raise ValueError("a rating goes from one side of a deal to the other")
    if isinstance(stars, bool) or not isinstance(stars, int) or not 1 <= stars <= 5:
        raise RatingRefused("Choose from 1 to 5 stars.")
    if not rating_window_open(completed_at, now):
        raise RatingRefused(
            f"Ratings could be given for 14 days after completion; the window closed on "
            f"{completed_at + RATING_REVEAL_WINDOW:%Y-%m-%d}."
        )
    rows = await lock_scores(session, [rater, ratee])
    ratings = await ratings_for_collaboration(session, collaboration_id)
    if any(r.rater_side is rater.kind for r in ratings):
        raise RatingRefused("You already rated this collaboration; a rating can't be changed.")
    rater_row = rows[rater]
    rater_row.ratings_given = (rater_row.ratings_given or 0) + 1
    rater_row.extreme_ratings_given = (rater_row.extreme_ratings_given or 0) + (stars in (1, 5))
    rating = Rating(
        collaboration_id=collaboration_id,
        rater_side=rater.kind,
        rater_id=rater.id,
        rater_user_id=rater_user_id,
        ratee_kind=ratee.kind,
        ratee_id=ratee.id,
        stars=stars,
        comment=comment,
        rater_weight=rater_weight_from_counts(rater_row.extreme_ratings_given, rater_row.ratings_given),
        created_at=now,
        window_closes_at=completed_at + RATING_REVEAL_WINDOW,
    )
    session.add(rating)
    await session.flush()
    other = next((r for r in ratings if r.rater_side is ratee.kind), None)
    if other is not None:
        for each in (other, rating):
            if each.revealed_at is None:
                await _reveal(session, each, rows[Subject(each.ratee_kind, each.ratee_id)], now, now)
    return rating


async def _reveal(
    session: AsyncSession, rating: Rating, ratee_row: ReliabilityScore, at: datetime, recorded_at: datetime
) -> None:
    rating.revealed_at = at
    await append_outcome(
        session,
        ratee_row,
        Subject(rating.ratee_kind, rating.ratee_id),
        EventKind.RATING,
        rating_outcome(rating.stars, at, rating.rater_weight),
        collaboration_id=rating.collaboration_id,
        counterparty_id=rating.rater_id,
        # A rating's weight does not scale with the deal: stars say the same about a $20 and a $2,000 deal.
        deal_value_minor=0,
        currency_exponent=0,
        recorded_at=recorded_at,
    )


async def reveal_due_ratings(session: AsyncSession, now: datetime, limit: int = 500) -> list[Rating]:
    """Reveal (and score) ratings whose 14-day window has closed without the other side rating; safe to re-run.

    A rating revealed by the window counts as of the window's end, so a late job run changes nothing.
    """
    due = list(
        await session.scalars(
            sa.select(Rating)
            .where(Rating.revealed_at.is_(None), Rating.window_closes_at <= now)
            .order_by(Rating.window_closes_at, Rating.id)
            .limit(limit)
        )
    )
    if not due:
        return []
    rows = await lock_scores(session, {Subject(r.ratee_kind, r.ratee_id) for r in due})
    revealed: list[Rating] = []
    for rating in due:
        # Re-read under the ratee's lock: another run (or the other side's rating) may have revealed it meanwhile.
        await session.refresh(rating)
        if rating.revealed_at is not None:
            continue
        await _reveal(session, rating, rows[Subject(rating.ratee_kind, rating.ratee_id)], rating.window_closes_at, now)
        revealed.append(rating)
    await session.flush()
    return revealed


async def ratings_for_collaboration(session: AsyncSession, collaboration_id: UUID) -> list[Rating]:
    """Both sides' ratings of one deal (zero to two). Callers decide what each viewer may see: `is_visible`."""
    result = await session.scalars(
        sa.select(Rating).where(Rating.collaboration_id == collaboration_id).order_by(Rating.created_at)
    )
    return list(result)


def is_visible(rating: Rating, now: datetime) -> bool:
    """Double-blind: the ratee (and everyone else but the rater) sees a rating once revealed or the window closed."""
    return rating.revealed_at is not None or now >= rating.window_closes_at


async def ratings_received(
    session: AsyncSession, subject: Subject, now: datetime, limit: int = 20
) -> tuple[list[Rating], int, float | None]:
    """Visible ratings the subject received, newest first; plus how many there are and their mean stars."""
    visible = sa.and_(
        Rating.ratee_kind == subject.kind,
        Rating.ratee_id == subject.id,
        sa.or_(Rating.revealed_at.is_not(None), Rating.window_closes_at <= now),
    )
    count, mean = (await session.execute(sa.select(sa.func.count(), sa.func.avg(Rating.stars)).where(visible))).one()
    items = list(
        await session.scalars(sa.select(Rating).where(visible).order_by(Rating.created_at.desc()).limit(limit))
    )
    return items, int(count or 0), (float(mean) if mean is not None and math.isfinite(float(mean)) else None)
