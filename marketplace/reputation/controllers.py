"""Reliability pages for creators and brands (public summary, details to the owner) and the deal rating form."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from litestar import Request, Response, get, post
from litestar.di import NamedDependency
from litestar.params import FromPath
from sqlalchemy.ext.asyncio import AsyncSession

from marketplace.accounts.auth import Actor
from marketplace.accounts.guards import signed_in
from marketplace.brands.models import Brand
from marketplace.creators.models import Creator
from marketplace.errors import Conflict, InvalidInput, NotFound
from marketplace.forms import FormReader
from marketplace.i18n import N_, gettext
from marketplace.reputation.ratings import COMMENT_MAX, rate_collaboration, rating_panel
from marketplace.reputation.services import creator_standing
from marketplace.web import PageController, flash, is_htmx, redirect, render, runtime_of, safe_next
from reputation.events import CATALOGUE, EventKind
from reputation.models import SubjectKind
from reputation.ratings import ratings_received
from reputation.services import Subject, next_tier_needs_for, recent_events, score_for
from reputation.tiers import RULES, TIER_RULES

#: How each outcome kind reads on a reliability page.
EVENT_LABELS: dict[str, str] = {kind.value: CATALOGUE[kind].description for kind in EventKind}
RECENT_EVENTS = 20


def _is_owner(actor: Actor | None, subject: Subject) -> bool:
    if actor is None:
        return False
    if actor.is_admin:
        return True
    if subject.kind is SubjectKind.CREATOR:
        return actor.is_creator and actor.creator_id == subject.id
    return actor.is_brand and actor.brand_id == subject.id


async def _reliability_page(
    request: Request[Any, Any, Any], session: AsyncSession, subject: Subject, name: str
) -> Response[Any]:
    now = runtime_of(request).clock.now()
    actor: Actor | None = request.user
    owner = _is_owner(actor, subject)
    if owner and subject.kind is SubjectKind.CREATOR:
        # Sanctions carried over from accounts at the same delivery address are the owner's (and admins') to see.
        view, _ = await creator_standing(session, subject.id, now)
    else:
        view = await score_for(session, subject, now)
    ratings, rating_count, mean_stars = await ratings_received(session, subject, now, limit=RECENT_EVENTS)
    context = {
        "subject": subject,
        "name": name,
        "is_creator": subject.kind is SubjectKind.CREATOR,
        "owner": owner,
        "view": view,
        "rule": RULES[view.tier],
        "tier_rules": TIER_RULES,
        "rating_count": rating_count,
        "mean_stars": mean_stars,
        # Details (what each deal did, comments, what is held against you) are for the owner and admins only.
        "ratings": ratings if owner else [],
        "events": await recent_events(session, subject, RECENT_EVENTS) if owner else [],
        "needs": next_tier_needs_for(view) if owner else [],
        "event_labels": EVENT_LABELS,
    }
    return render(request, "reliability/page.html", context, block="summary")


class ReliabilityPages(PageController):
    """`/creators/{id}/reliability`, `/brands/{id}/reliability` and `/collaborations/{id}/rating`."""

    @get("/creators/{creator_id:uuid}/reliability", name="creator_reliability")
    async def creator_page(
        self, request: Request[Any, Any, Any], db_session: NamedDependency[AsyncSession], creator_id: FromPath[UUID]
    ) -> Response[Any]:
        creator = await db_session.get(Creator, creator_id)
        if creator is None:
            raise NotFound(gettext('No such creator.'))
        return await _reliability_page(request, db_session, Subject.creator(creator_id), creator.display_name)

    @get("/brands/{brand_id:uuid}/reliability", name="brand_reliability")
    async def brand_page(
        self, request: Request[Any, Any, Any], db_session: NamedDependency[AsyncSession], brand_id: FromPath[UUID]
    ) -> Response[Any]:
        brand = await db_session.get(Brand, brand_id)
        if brand is None:
            raise NotFound(gettext('No such brand.'))
        return await _reliability_page(request, db_session, Subject.brand(brand_id), brand.name)

    @get("/collaborations/{collab_id:uuid}/rating", name="collaboration_rating", guards=[signed_in])
    async def rating(
        self, request: Request[Any, Any, Any], db_session: NamedDependency[AsyncSession], collab_id: FromPath[UUID]
    ) -> Response[Any]:
        return await _rating(request, db_session, collab_id)

    @post("/collaborations/{collab_id:uuid}/rating", guards=[signed_in])
    async def rate(
        self, request: Request[Any, Any, Any], db_session: NamedDependency[AsyncSession], collab_id: FromPath[UUID]
    ) -> Response[Any]:
        f = FormReader(await request.form())
        stars = f.integer("stars", label=N_('Stars'))
        comment = f.text("comment", max_length=100_000)
        target = safe_next(f.text("next", max_length=2000), default=f"/collaborations/{collab_id}/rating")
        form = {"stars": "" if stars is None else str(stars), "comment": comment, "next": target}
        try:
            await rate_collaboration(
                db_session, request.user, collab_id, stars=stars, comment=comment, now=runtime_of(request).clock.now()
            )
        except (InvalidInput, Conflict) as exc:
            # Nothing was written that matters: the request's transaction rolls back with the error status.
            await db_session.rollback()
            errors = exc.errors if isinstance(exc, InvalidInput) else {"form": exc.message}
            return await _rating(request, db_session, collab_id, errors=errors, form=form, status_code=exc.status_code)
        if is_htmx(request):
            return await _rating(request, db_session, collab_id, notice="Thanks, your rating is saved.")
        flash(request, gettext('Thanks, your rating is saved.'))
        return redirect(request, target)


async def _rating(
    request: Request[Any, Any, Any],
    session: AsyncSession,
    collab_id: UUID,
    *,
    errors: dict[str, str] | None = None,
    form: dict[str, str] | None = None,
    notice: str | None = None,
    status_code: int = 200,
) -> Response[Any]:
    panel = await rating_panel(session, request.user, collab_id, runtime_of(request).clock.now())
    context = {
        "panel": panel,
        "errors": errors or {},
        "form": form or {"next": request.query_params.get("next", "")},
        "notice": notice,
        "comment_max": COMMENT_MAX,
    }
    return render(request, "reliability/rating.html", context, block="rating", status_code=status_code)


#: Route handlers (controllers) this area contributes to the app.
ROUTES: list[Any] = [ReliabilityPages]
