"""What PostPact does itself when a due time passes: ghosting, the brand no-show notice, review-window release.

Each function runs in the caller's transaction, locks the collaboration, checks its rule again at ``now`` (the
sweeper's reading may be stale, or a second delivery of the same job may arrive) and acts at most once. It returns a
short word saying what it decided, which the job logs.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime
from uuid import UUID

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession
from uuid_utils.compat import uuid7

from marketplace.collaborations.models import Collaboration
from marketplace.collaborations.states import SYSTEM, Action
from marketplace.collaborations.terms import Terms
from marketplace.collaborations.transition import lock_collaboration, transition
from marketplace.db import insert_stmt
from marketplace.deadlines.models import DeadlineNotice
from marketplace.deadlines.recipients import admin_ids, deal_parties
from marketplace.deadlines.reminders import collaboration_link, format_due
from marketplace.deadlines.rules import (
    auto_accept_due,
    auto_approve_due,
    brand_no_show_due,
    ghost_at,
    ghosting_due,
    held_for_admin,
)
from marketplace.notifications.services import notify

log = logging.getLogger(__name__)


DueRule = Callable[[Collaboration, datetime], bool]


async def _due_deal(
    session: AsyncSession, collaboration_id: UUID, now: datetime, is_due: DueRule
) -> tuple[Collaboration, Terms] | str:
    """Lock the deal and check its rule again: the deal and its terms when the step is to be taken, else the word
    the job logs ("not due", "held for admin review")."""
    collab = await lock_collaboration(session, collaboration_id)
    if not is_due(collab, now):
        return "not due"
    if held_for_admin(collab):
        return "held for admin review"
    return collab, Terms.from_dict(collab.terms)


async def _tell_both(
    session: AsyncSession,
    collab: Collaboration,
    *,
    kind: str,
    creator: tuple[str, str],
    brand: tuple[str, str],
    deadline: datetime | None,
    public_url: str,
) -> None:
    """Tell the creator, then the brand's team, what happened: (title, body) each, with the deadline it was about."""
    brand_ids, creator_ids = await deal_parties(session, collab)
    for user_ids, (title, body) in ((creator_ids, creator), (brand_ids, brand)):
        await notify(
            session,
            user_ids,
            kind=kind,
            title=title,
            body=body,
            link=collaboration_link(collab.id),
            email_template="deadline_notice",
            deadline=format_due(deadline) if deadline else "",
            public_url=public_url,
        )


async def ghost_collaboration(session: AsyncSession, collaboration_id: UUID, now: datetime, *, public_url: str) -> str:
    """The creator missed the post deadline plus the grace period: end the deal, refund the brand, tell both."""
    due = await _due_deal(session, collaboration_id, now, ghosting_due)
    if isinstance(due, str):
        return due
    collab, terms = due
    post_due = collab.due("post")
    assert post_due is not None  # ghosting_due implies it
    extended = "post" in (collab.due_overrides or {})
    payload = {
        "reason": "no post by the post deadline plus the grace period",
        "post_due_at": post_due.isoformat(),
        "grace_hours": terms.ghost_grace_hours,
        "ghosted_at_due": (ghost_at(collab) or now).isoformat(),
        "extension_agreed": extended,
    }
    # The refund and the reputation outcome follow the move (marketplace/listeners.py).
    await transition(session, collab.id, Action.GHOST, SYSTEM, now=now, payload=payload, collab=collab)
    title = terms.gig_title
    deadline_words = f"The post was due {format_due(post_due)}" + (" (after an agreed extension)" if extended else "")
    await _tell_both(
        session,
        collab,
        kind="deadline.ghosted",
        creator=(
            f"“{title}” ended: no post by the deadline",
            (
                f"{deadline_words}, and the {terms.ghost_grace_hours}-hour grace period passed without a post or an "
                f"agreed extension. PostPact ended the deal and is refunding {terms.brand_name}'s payment. "
                "This counts against your reliability score."
            ),
        ),
        brand=(
            f"“{title}”: {terms.creator_display_name} didn't post; your payment is being refunded",
            (
                f"{deadline_words}, and {terms.ghost_grace_hours} hours of grace passed without a post or an agreed "
                "extension. PostPact ended the deal, is refunding the escrowed payment to you, and recorded this on "
                "the creator's reliability."
            ),
        ),
        deadline=post_due,
        public_url=public_url,
    )
    log.info("collaboration %s ghosted (post was due %s)", collab.id, post_due.isoformat())
    return "ghosted"


async def auto_approve_post(session: AsyncSession, collaboration_id: UUID, now: datetime, *, public_url: str) -> str:
    """The brand neither approved nor disputed the verified post in the review window: approve it and pay."""
    due = await _due_deal(session, collaboration_id, now, auto_approve_due)
    if isinstance(due, str):
        return due
    collab, terms = due
    window_end = collab.due("approve")
    assert window_end is not None
    payload = {
        "reason": "review window passed without approval or dispute",
        "review_window_hours": terms.review_window_hours,
        "window_ended_at": window_end.isoformat(),
        "automatic": True,
    }
    await transition(session, collab.id, Action.APPROVE_POST, SYSTEM, now=now, payload=payload, collab=collab)
    await _tell_both(
        session,
        collab,
        kind="deadline.auto_approved",
        creator=(
            f"“{terms.gig_title}”: your post was approved automatically; payment is on its way",
            (
                f"{terms.brand_name} didn't review your verified post within {terms.review_window_hours} hours, so "
                "PostPact approved it and is releasing your payment."
            ),
        ),
        brand=(
            f"“{terms.gig_title}”: the verified post was approved automatically",
            (
                f"The review window of {terms.review_window_hours} hours ended without an approval or a dispute, so "
                f"PostPact approved {terms.creator_display_name}'s verified post and released the payment."
            ),
        ),
        deadline=window_end,
        public_url=public_url,
    )
    log.info("collaboration %s auto-approved after the review window", collab.id)
    return "approved"


async def auto_accept_post(session: AsyncSession, collaboration_id: UUID, now: datetime, *, public_url: str) -> str:
    """The automatic check couldn't confirm the post and the brand neither checked it by hand nor opened a dispute
    within the review window: accept it as delivered and approve it, so the creator's money doesn't sit in escrow
    because nobody looked (the rule the brand was told when the review was asked for)."""
    due = await _due_deal(session, collaboration_id, now, auto_accept_due)
    if isinstance(due, str):
        return due
    collab, terms = due
    window_end = collab.due("check")
    assert window_end is not None
    payload = {
        "reason": (
            f"the brand didn't check the post within the {terms.review_window_hours}-hour review window "
            "or open a dispute"
        ),
        "review_window_hours": terms.review_window_hours,
        "window_ended_at": window_end.isoformat(),
        "automatic": True,
        "accepted_unchecked": True,
    }
    await transition(session, collab.id, Action.MARK_VERIFIED, SYSTEM, now=now, payload=payload, collab=collab)
    await transition(session, collab.id, Action.APPROVE_POST, SYSTEM, now=now, payload=payload, collab=collab)
    await _tell_both(
        session,
        collab,
        kind="deadline.auto_accepted",
        creator=(
            f"“{terms.gig_title}”: your post was accepted; payment is on its way",
            (
                f"PostPact couldn't check your post automatically and {terms.brand_name} didn't review it within "
                f"{terms.review_window_hours} hours, so PostPact accepted it and is releasing your payment."
            ),
        ),
        brand=(
            f"“{terms.gig_title}”: the post you didn't review was accepted automatically",
            (
                f"PostPact couldn't check {terms.creator_display_name}'s post automatically and asked you to check it "
                f"by hand. The {terms.review_window_hours}-hour review window ended without a review or a dispute, so "
                "PostPact accepted the post and released the payment."
            ),
        ),
        deadline=window_end,
        public_url=public_url,
    )
    log.info("collaboration %s: unreviewed post accepted after the review window", collab.id)
    return "accepted"


def _insert_notice(dialect_name: str, row: dict[str, object]) -> sa.Insert:
    table = DeadlineNotice.__table__
    return (
        insert_stmt(dialect_name, table)
        .values(row)
        .on_conflict_do_nothing(index_elements=["collaboration_id", "kind", "due_at"])
        .returning(table.c.id)
    )


async def announce_brand_no_show(
    session: AsyncSession, collaboration_id: UUID, now: datetime, *, public_url: str
) -> str:
    """The brand didn't ship by the ship-by date: tell the creator they may cancel without penalty; record it."""

    due = await _due_deal(session, collaboration_id, now, brand_no_show_due)
    if isinstance(due, str):
        return due
    collab, terms = due
    ship_due = collab.due("ship")
    assert ship_due is not None
    assert session.bind is not None
    row = {
        "id": uuid7(),
        "collaboration_id": collab.id,
        "kind": "brand_no_show",
        "due_at": ship_due,
        "sent_at": now,
        "created_at": now,
        "updated_at": now,
    }
    claimed = (await session.execute(_insert_notice(session.bind.dialect.name, row))).first()
    if claimed is None:
        return "already announced"
    payload = {"ship_due_at": ship_due.isoformat()}
    await transition(session, collab.id, Action.NOTE_BRAND_NO_SHOW, SYSTEM, now=now, payload=payload, collab=collab)
    await _tell_both(
        session,
        collab,
        kind="deadline.brand_no_show",
        creator=(
            f"“{terms.gig_title}”: the product didn't ship; you may cancel without penalty",
            (
                f"{terms.brand_name} was due to ship by {format_due(ship_due)} and hasn't. You can cancel this deal "
                "from its page without any effect on your reliability (the brand's payment is returned to them), or "
                "wait if they tell you it's on its way."
            ),
        ),
        brand=(
            f"“{terms.gig_title}”: the ship-by date passed",
            (
                f"The product was due to ship by {format_due(ship_due)}. {terms.creator_display_name} may now cancel "
                "without penalty, and the late shipment is recorded on your brand's reliability. Ship it and add the "
                "tracking number as soon as you can."
            ),
        ),
        deadline=ship_due,
        public_url=public_url,
    )
    log.info("collaboration %s: brand no-show announced (ship-by %s)", collab.id, ship_due.isoformat())
    return "announced"


async def hold_for_admin(session: AsyncSession, collaboration_id: UUID, *, why: str, public_url: str) -> bool:
    """Escrow refused an automatic step: flag the deal for an admin (once) and tell the admins why."""
    collab = await lock_collaboration(session, collaboration_id)
    if collab.needs_admin_review:
        return False
    collab.needs_admin_review = True
    terms = Terms.from_dict(collab.terms)
    await notify(
        session,
        await admin_ids(session),
        kind="deadline.needs_admin",
        title=f"“{terms.gig_title}”: an automatic deadline step needs an admin",
        body=why,
        link=collaboration_link(collab.id),
    )
    log.error("collaboration %s held for admin review: %s", collab.id, why)
    return True
