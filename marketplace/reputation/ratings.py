"""Rating a completed deal: who may rate, the double-blind panel each party sees, and revealing ratings."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from uuid import UUID

from sqlalchemy.ext.asyncio import AsyncSession

from marketplace.accounts.auth import Actor
from marketplace.brands.models import BrandRole
from marketplace.clock import as_utc
from marketplace.collaborations.models import Collaboration
from marketplace.collaborations.states import CollabState
from marketplace.errors import Conflict, Forbidden, InvalidInput, NotFound
from marketplace.i18n import gettext
from marketplace.notifications.services import brand_user_ids, creator_user_id, notify
from reputation.models import Rating, SubjectKind
from reputation.ratings import (
    RatingRefused,
    is_visible,
    ratings_for_collaboration,
    reveal_due_ratings,
    submit_rating,
)
from reputation.scoring import RATING_REVEAL_WINDOW, rating_window_open
from reputation.services import Subject

#: Brand roles that judge a deal; finance members pay, they don't rate.
RATING_ROLES = frozenset({BrandRole.OWNER, BrandRole.MANAGER})
COMMENT_MAX = 2_000


@dataclass(frozen=True)
class RatingPanel:
    """What one viewer sees of a deal's ratings (the rating fragment renders exactly this)."""

    collaboration: Collaboration
    #: The viewer's side, or None for an admin looking on.
    viewer: SubjectKind | None
    counterpart_name: str
    completed_at: datetime | None
    window_closes_at: datetime | None
    mine: Rating | None
    #: The other side's rating, only once the viewer may see it (double-blind).
    theirs: Rating | None
    #: The other side has rated, whether or not it is visible yet.
    theirs_given: bool
    can_rate: bool
    #: Why the viewer can't rate (None when they can, or already did).
    why_not: str | None
    #: Admins see both ratings, revealed or not.
    both: tuple[Rating, ...] = ()

    @property
    def gig_title(self) -> str:
        return str((self.collaboration.terms or {}).get("gig_title") or "this deal")


def _viewer(actor: Actor | None, collab: Collaboration) -> SubjectKind | None:
    """The viewer's side of the deal; None for an admin. Anyone else gets 404 (the deal's existence stays private)."""
    if actor is not None and actor.is_creator and actor.creator_id == collab.creator_id:
        return SubjectKind.CREATOR
    if actor is not None and actor.is_brand and actor.brand_id == collab.brand_id:
        return SubjectKind.BRAND
    if actor is not None and actor.is_admin:
        return None
    raise NotFound(gettext('No such collaboration.'))


def _completed_at(collab: Collaboration) -> datetime | None:
    if CollabState(collab.status) is not CollabState.COMPLETED or collab.funded_at is None or collab.ended_at is None:
        return None
    return as_utc(collab.ended_at)


def _why_not(actor: Actor, viewer: SubjectKind | None, collab: Collaboration, now: datetime) -> str | None:
    if viewer is None:
        return "PostPact admins don't rate deals."
    if viewer is SubjectKind.BRAND and actor.brand_role not in RATING_ROLES:
        return "Only the brand's owner or managers rate deals."
    completed_at = _completed_at(collab)
    if completed_at is None:
        if CollabState(collab.status) is CollabState.COMPLETED:
            return "Only deals that were funded through PostPact can be rated."
        return "You can rate the other side once the deal is completed."
    if not rating_window_open(completed_at, now):
        return f"Ratings could be given until {completed_at + RATING_REVEAL_WINDOW:%d %b %Y}; the window has closed."
    return None


async def _load(
    session: AsyncSession, actor: Actor | None, collaboration_id: UUID
) -> tuple[Collaboration, SubjectKind | None]:
    collab = await session.get(Collaboration, collaboration_id)
    if collab is None:
        raise NotFound(gettext('No such collaboration.'))
    return collab, _viewer(actor, collab)


def _names(collab: Collaboration) -> dict[SubjectKind, str]:
    terms = collab.terms or {}
    return {
        SubjectKind.BRAND: str(terms.get("brand_name") or "the brand"),
        SubjectKind.CREATOR: str(terms.get("creator_display_name") or "the creator"),
    }


async def rating_panel(session: AsyncSession, actor: Actor, collaboration_id: UUID, now: datetime) -> RatingPanel:
    """The ratings of one deal as `actor` may see them, and whether they may rate now."""
    collab, viewer = await _load(session, actor, collaboration_id)
    ratings = await ratings_for_collaboration(session, collab.id)
    completed_at = _completed_at(collab)
    mine = next((r for r in ratings if viewer is not None and r.rater_side is viewer), None)
    other = next((r for r in ratings if viewer is not None and r.rater_side is not viewer), None)
    why_not = None if mine is not None else _why_not(actor, viewer, collab, now)
    other_side = SubjectKind.BRAND if viewer is SubjectKind.CREATOR else SubjectKind.CREATOR
    return RatingPanel(
        collaboration=collab,
        viewer=viewer,
        counterpart_name=_names(collab)[other_side],
        completed_at=completed_at,
        window_closes_at=completed_at + RATING_REVEAL_WINDOW if completed_at else None,
        mine=mine,
        theirs=other if other is not None and is_visible(other, now) else None,
        theirs_given=other is not None,
        can_rate=mine is None and why_not is None,
        why_not=why_not,
        both=tuple(ratings) if viewer is None else (),
    )


def _check_input(stars: int | None, comment: str) -> None:
    errors: dict[str, str] = {}
    if stars is None or isinstance(stars, bool) or not 1 <= stars <= 5:
        errors["stars"] = gettext('Choose from 1 to 5 stars.')
    if len(comment) > COMMENT_MAX:
        errors["comment"] = gettext(
            "Keep the comment under %(comment_max)s characters (it has %(comment)s).",
            comment_max=format(COMMENT_MAX, ","),
            comment=format(len(comment), ","),
        )
    if errors:
        raise InvalidInput(errors)


async def rate_collaboration(
    session: AsyncSession, actor: Actor, collaboration_id: UUID, *, stars: int | None, comment: str, now: datetime
) -> Rating:
    """Rate the other side of a funded, completed deal, once, within 14 days of completion.

    404 for outsiders, 403 for admins and finance members, 409 when the deal can't be rated (now), 422 for bad input.
    """
    collab, viewer = await _load(session, actor, collaboration_id)
    if viewer is None or (viewer is SubjectKind.BRAND and actor.brand_role not in RATING_ROLES):
        raise Forbidden(_why_not(actor, viewer, collab, now))
    reason = _why_not(actor, viewer, collab, now)
    if reason is not None:
        raise Conflict(reason)
    comment = comment.strip()
    _check_input(stars, comment)
    completed_at = _completed_at(collab)
    assert completed_at is not None and stars is not None  # refused above otherwise
    if viewer is SubjectKind.CREATOR:
        rater, ratee = Subject.creator(collab.creator_id), Subject.brand(collab.brand_id)
    else:
        rater, ratee = Subject.brand(collab.brand_id), Subject.creator(collab.creator_id)
    try:
        rating = await submit_rating(
            session,
            collaboration_id=collab.id,
            rater=rater,
            ratee=ratee,
            stars=stars,
            comment=comment,
            completed_at=completed_at,
            now=now,
            rater_user_id=actor.user_id,
        )
    except RatingRefused as exc:
        raise Conflict(str(exc)) from exc
    await _tell_after_rating(session, collab, rating)
    return rating


async def _party_user_ids(session: AsyncSession, collab: Collaboration, side: SubjectKind) -> list[UUID]:
    if side is SubjectKind.BRAND:
        return await brand_user_ids(session, collab.brand_id, RATING_ROLES)
    user_id = await creator_user_id(session, collab.creator_id)
    return [user_id] if user_id is not None else []


async def _tell_after_rating(session: AsyncSession, collab: Collaboration, rating: Rating) -> None:
    names, link = _names(collab), f"/collaborations/{collab.id}"
    title = str((collab.terms or {}).get("gig_title") or "your deal")
    other = rating.ratee_kind
    if rating.revealed_at is not None:
        for side in (SubjectKind.BRAND, SubjectKind.CREATOR):
            await notify(
                session,
                await _party_user_ids(session, collab, side),
                kind="review.revealed",
                title=f"Ratings for “{title}” are visible",
                body="Both sides have rated the deal, so both ratings are now shown.",
                link=link,
            )
        return
    await notify(
        session,
        await _party_user_ids(session, collab, other),
        kind="review.received",
        title=f"{names[rating.rater_side]} rated “{title}”",
        body=(
            "Rate them too to see it: ratings are revealed when both sides have rated, "
            f"or on {as_utc(rating.window_closes_at):%d %b %Y}."
        ),
        link=link,
    )


async def reveal_expired_ratings(session: AsyncSession, now: datetime, limit: int = 500) -> list[Rating]:
    """Reveal ratings whose window closed with only one side rating, and tell the rated side."""
    revealed = await reveal_due_ratings(session, now, limit)
    for rating in revealed:
        collab = await session.get(Collaboration, rating.collaboration_id)
        if collab is None:
            continue
        title = str((collab.terms or {}).get("gig_title") or "your deal")
        await notify(
            session,
            await _party_user_ids(session, collab, rating.ratee_kind),
            kind="review.revealed",
            title=f"A rating for “{title}” is visible",
            body="The 14-day rating window closed, so the rating you received is now shown.",
            link=f"/collaborations/{collab.id}",
        )
    return revealed
