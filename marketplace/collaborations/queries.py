"""Reading deals, always scoped to who is asking: lists with keyset pagination, and one deal with its history."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from uuid import UUID

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from marketplace.accounts.models import User
from marketplace.collaborations.models import (
    Collaboration,
    CollaborationEvent,
    ContentDraft,
    PostSubmission,
    Shipment,
)
from marketplace.collaborations.states import (
    DEAL_ROLES,
    MONEY_ROLES,
    TERMINAL,
    Action,
    AvailableAction,
    CollabState,
    Party,
    TransitionActor,
    actions_for,
)
from marketplace.collaborations.terms import Terms
from marketplace.creators.models import ShippingAddress
from marketplace.errors import InvalidInput, NotFound
from marketplace.i18n import gettext
from marketplace.verification.checks import check_label
from marketplace.verification.drafts import CaptionGap, caption_gaps

DEFAULT_PAGE_SIZE = 25
MAX_PAGE_SIZE = 100

#: Status filters beyond single states: groups the lists offer.
STATUS_GROUPS: dict[str, str] = {
    "active": "In progress",
    "waiting": "Waiting for you",
    "ended": "Ended",
}

#: What each due stage asks, for "what's due next and by whom".
STAGE_LABELS: dict[str, str] = {
    "sign": "Sign the terms",
    "fund": "Fund the escrow",
    "ship": "Ship the product",
    "receipt": "Confirm receipt",
    "draft": "Submit a draft",
    "review": "Review the draft",
    "post": "Publish the post",
    "check": "Check the post by hand",
    "approve": "Approve the post",
    "keep_live": "Keep the post live",
}

#: How the timeline words each event.
EVENT_LABELS: dict[str, str] = {
    "offer": "Offer made",
    "sign": "Signed the terms",
    "decline_offer": "Declined the offer",
    "withdraw_offer": "Withdrew the offer",
    "cancel": "Cancelled the deal",
    "cancel_no_show": "Cancelled: the product never shipped",
    "mark_funded": "Escrow funded",
    "ship": "Shipped the product",
    "confirm_receipt": "Confirmed receipt",
    "report_problem": "Reported a delivery problem",
    "submit_draft": "Submitted a draft",
    "request_changes": "Requested changes",
    "approve_draft": "Approved the draft",
    "submit_post": "Submitted the live post",
    "record_verification": "Checked the post",
    "mark_verified": "Post verified",
    "approve_post": "Approved the post",
    "mark_released": "Payment released to the creator",
    "mark_post_removed": "Post removed",
    "complete": "Deal completed",
    "ghost": "Marked as ghosted",
    "open_dispute": "Opened a dispute",
    "resolve_release": "Dispute resolved for the creator",
    "resolve_refund": "Dispute resolved for the brand",
    "resolve_split": "Dispute settled with a split",
    "extend_deadline": "Moved a deadline",
    "admin_note": "Admin note",
}

#: Deal steps that have a form on the deal page (POST /collaborations/{id}/<slug>); the page shows the ones the
#: transition table lets the viewer take now. Steps of later work (verification, disputes, extensions) add theirs.
STEP_SLUGS: dict[Action, str] = {
    Action.SIGN: "sign",
    Action.DECLINE_OFFER: "decline",
    Action.WITHDRAW_OFFER: "withdraw",
    Action.CANCEL: "cancel",
    Action.CANCEL_NO_SHOW: "cancel-no-show",
    Action.SHIP: "ship",
    Action.CONFIRM_RECEIPT: "confirm-receipt",
    Action.REPORT_PROBLEM: "report-problem",
    Action.SUBMIT_DRAFT: "submit-draft",
    Action.REQUEST_CHANGES: "request-changes",
    Action.APPROVE_DRAFT: "approve-draft",
    Action.SUBMIT_POST: "submit-post",
    Action.MARK_VERIFIED: "accept-post",
    Action.APPROVE_POST: "approve-post",
}

#: Steps that end the deal: shown after the steps that move it on.
ENDING_ACTIONS = frozenset({Action.CANCEL, Action.CANCEL_NO_SHOW, Action.WITHDRAW_OFFER, Action.DECLINE_OFFER})

#: Events only admins see (their notes about a case).
ADMIN_ONLY_ACTIONS = frozenset({Action.ADMIN_NOTE.value})


def visible_to(viewer: TransitionActor) -> sa.ColumnElement[bool]:
    """The one scoping rule: a brand sees its own deals, a creator theirs, admins (and PostPact) all."""
    if viewer.party is Party.BRAND:
        return Collaboration.brand_id == viewer.brand_id
    if viewer.party is Party.CREATOR:
        return Collaboration.creator_id == viewer.creator_id
    return sa.true()


async def get_collaboration(session: AsyncSession, collab_id: UUID, viewer: TransitionActor) -> Collaboration:
    """The deal if the viewer is one of its parties (or an admin); otherwise 404, never a hint it exists."""
    collab = await session.scalar(sa.select(Collaboration).where(Collaboration.id == collab_id, visible_to(viewer)))
    if collab is None:
        raise NotFound(gettext('No such collaboration.'))
    return collab


def parse_status_filter(raw: str | None) -> list[str]:
    """``"draft_submitted,changes_requested"`` or a group name; unknown values are a field error."""
    values = [v.strip().lower() for v in (raw or "").split(",") if v.strip()]
    known = {s.value for s in CollabState} | set(STATUS_GROUPS)
    unknown = [v for v in values if v not in known]
    if unknown:
        raise InvalidInput(
            {
                "status": gettext(
                    "Unknown status %(unknown)s; use a deal state or one of %(status_groups)s.",
                    unknown=repr(unknown[0]),
                    status_groups=", ".join(STATUS_GROUPS),
                )
            }
        )
    return values


@dataclass
class Page:
    items: list[Collaboration]
    next_cursor: str | None


async def list_collaborations(session: AsyncSession, viewer: TransitionActor, *, statuses: list[str] | None = None,
                              gig_id: UUID | None = None, after: UUID | None = None,
                              limit: int = DEFAULT_PAGE_SIZE) -> Page:
    """Newest first, keyset-paginated on the (time-ordered UUIDv7) id: page 100 costs what page 1 does."""
    limit = max(1, min(limit, MAX_PAGE_SIZE))
    query = sa.select(Collaboration).where(visible_to(viewer))
    conditions: list[sa.ColumnElement[bool]] = []
    states = [s for s in statuses or [] if s not in STATUS_GROUPS]
    if states:
        conditions.append(Collaboration.status.in_([CollabState(s) for s in states]))
    if "active" in (statuses or []):
        conditions.append(Collaboration.status.not_in(list(TERMINAL)))
    if "ended" in (statuses or []):
        conditions.append(Collaboration.status.in_(list(TERMINAL)))
    if "waiting" in (statuses or []):
        conditions.append(Collaboration.next_due_party == viewer.party.value)
    if conditions:
        query = query.where(sa.or_(*conditions))
    if gig_id is not None:
        query = query.where(Collaboration.gig_id == gig_id)
    if after is not None:
        query = query.where(Collaboration.id < after)
    rows = list((await session.scalars(query.order_by(Collaboration.id.desc()).limit(limit + 1))).all())
    more = len(rows) > limit
    rows = rows[:limit]
    return Page(rows, str(rows[-1].id) if more and rows else None)


def address_visible(collab: Collaboration, viewer: TransitionActor) -> bool:
    """The creator always sees their own; the brand's deal managers only on a product deal they own, once it is
    signed and while it runs. Nobody else (other brands, finance members, admins) ever does."""
    if viewer.party is Party.CREATOR:
        return viewer.creator_id == collab.creator_id
    if viewer.party is Party.BRAND:
        return (
            viewer.brand_id == collab.brand_id
            and viewer.brand_role in DEAL_ROLES
            and collab.product_included
            and collab.signed_at is not None
            and CollabState(collab.status) not in TERMINAL
        )
    return False


@dataclass
class TimelineEntry:
    event: CollaborationEvent
    actor_name: str | None


@dataclass(frozen=True)
class PostAcceptance:
    #: "checks" (every required check passed), "by_hand" (a brand member accepted it), "review_window" (PostPact
    #: accepted it because nobody reviewed it in time).
    how: str
    who: str
    at: datetime
    #: The checks that couldn't run (or failed, when the brand accepted a failed post), in words.
    unchecked: list[str]
    note: str
    check_status: str


@dataclass
class DealView:
    """Everything the deal page and the API detail show, loaded in a fixed handful of queries."""

    collab: Collaboration
    terms: Terms
    viewer: TransitionActor
    timeline: list[TimelineEntry]
    shipments: list[Shipment]
    drafts: list[ContentDraft]
    posts: list[PostSubmission]
    shipping_address: ShippingAddress | None
    actions: list[AvailableAction]
    names: dict[UUID, str] = field(default_factory=dict)

    @property
    def steps(self) -> list[tuple[str, AvailableAction]]:
        """(slug, action) for each step the viewer may take now that has a form here, in table order, except that
        the steps that end the deal come last (never above "Record shipment")."""
        found = [(STEP_SLUGS[a.action], a) for a in self.actions if a.action in STEP_SLUGS]
        return sorted(found, key=lambda step: step[1].action in ENDING_ACTIONS)

    @property
    def can_fund(self) -> bool:
        """The brand's money roles fund a signed deal (escrow's page takes it from there)."""
        return (self.viewer.party is Party.BRAND and self.viewer.brand_role in MONEY_ROLES
                and self.state is CollabState.SIGNED)

    @property
    def is_party(self) -> bool:
        return self.viewer.party in (Party.BRAND, Party.CREATOR)

    @property
    def state(self) -> CollabState:
        return CollabState(self.collab.status)

    @property
    def next_due_label(self) -> str | None:
        stage = self.collab.next_due_stage
        return STAGE_LABELS.get(stage, stage) if stage else None

    @property
    def platform_label(self) -> str:
        labels = {"tiktok": "TikTok", "youtube": "YouTube", "instagram": "Instagram"}
        return labels.get(self.terms.platform, self.terms.platform)

    @property
    def viewer_party(self) -> str:
        return self.viewer.party.value

    def party_label(self, party: str | None) -> str:
        if party is None:
            return "—"
        if party == self.viewer.party.value:
            return "You"
        return {"brand": str(self.terms.brand_name), "creator": str(self.terms.creator_display_name)}.get(
            party, "PostPact"
        )

    def event_actor(self, entry: TimelineEntry) -> str:
        """Who did it, as the viewer reads it: "You", "GlowLab (Maya Chen)", "Ava Brooks", "PostPact"."""
        event = entry.event
        if event.actor_user_id is not None and event.actor_user_id == self.viewer.user_id:
            return "You"
        if event.actor_party == "brand":
            name = str(self.terms.brand_name)
            return f"{name} ({entry.actor_name})" if entry.actor_name else name
        if event.actor_party == "creator":
            return str(self.terms.creator_display_name)
        return "PostPact admin" if event.actor_party == "admin" else "PostPact"

    def due_dates(self) -> dict[str, datetime | None]:
        return {stage: self.collab.due(stage) for stage in STAGE_LABELS}

    def caption_gaps(self, draft: ContentDraft) -> list[CaptionGap]:
        """What the draft's caption lacks against the terms (disclosure, hashtags, mentions); both sides see it."""
        return caption_gaps(self.terms, draft.caption)

    @property
    def pending_draft_gaps(self) -> list[CaptionGap]:
        pending = [d for d in self.drafts if d.review.value == "pending"]
        return self.caption_gaps(pending[-1]) if pending else []

    @property
    def acceptance(self) -> PostAcceptance | None:
        """How the current post came to count as delivered: PostPact's checks, a person, or the review rule."""
        verified = next((e for e in reversed(self.timeline) if e.event.action == Action.MARK_VERIFIED.value), None)
        if verified is None:
            return None
        check = next((e for e in reversed(self.timeline) if e.event.action == Action.RECORD_VERIFICATION.value
                      and e.event.seq < verified.event.seq), None)
        said = verified.event.payload or {}
        unchecked: list[str] = []
        if check is not None and (said.get("by_hand") or said.get("accepted_unchecked")):
            found = check.event.payload or {}
            unchecked = list(found.get("unchecked") or [])
            failed = [check_label(str(name)) for name in found.get("failed_checks") or []]
            if found.get("status") == "failed":
                unchecked = failed  # the brand accepted a post whose checks failed: say which ones
        how = "checks"
        if said.get("by_hand"):
            how = "by_hand"
        elif said.get("accepted_unchecked"):
            how = "review_window"
        unchecked = [u[:1].lower() + u[1:] for u in unchecked]
        return PostAcceptance(how, self.event_actor(verified), verified.event.created_at, unchecked,
                              str(said.get("note") or ""), str(check.event.payload.get("status", "")) if check else "")


def _deal_view_statements() -> dict[str, sa.Select[Any]]:
    """The deal page's reads of one deal's rows, built once (``:collab_id`` bound per page): building a statement
    and its cache key cost more than running it."""
    deal = sa.bindparam("collab_id", type_=Collaboration.__table__.c.id.type)
    events = sa.select(CollaborationEvent).where(CollaborationEvent.collaboration_id == deal)
    hide = CollaborationEvent.action.not_in(sorted(ADMIN_ONLY_ACTIONS))
    return {
        "events": events.order_by(CollaborationEvent.seq),
        "events_not_admin": events.where(hide).order_by(CollaborationEvent.seq),
        "shipments": sa.select(Shipment).where(Shipment.collaboration_id == deal).order_by(Shipment.shipped_at),
        "drafts": sa.select(ContentDraft).where(ContentDraft.collaboration_id == deal).order_by(ContentDraft.round),
        "posts": sa.select(PostSubmission).where(PostSubmission.collaboration_id == deal)
                 .order_by(PostSubmission.created_at, PostSubmission.id),
    }


_DEAL_VIEW = _deal_view_statements()


async def load_deal_view(session: AsyncSession, collab_id: UUID, viewer: TransitionActor, now: datetime
                         ) -> DealView:
    collab = await get_collaboration(session, collab_id, viewer)
    deal = {"collab_id": collab.id}
    events_query = _DEAL_VIEW["events" if viewer.party is Party.ADMIN else "events_not_admin"]
    events = list((await session.scalars(events_query, deal)).all())
    shipments = list((await session.scalars(_DEAL_VIEW["shipments"], deal)).all())
    drafts = list((await session.scalars(_DEAL_VIEW["drafts"], deal)).all())
    posts = list((await session.scalars(_DEAL_VIEW["posts"], deal)).all())
    address = None
    if address_visible(collab, viewer):
        address = await session.scalar(
            sa.select(ShippingAddress).where(ShippingAddress.creator_id == collab.creator_id)
        )
    user_ids = {e.actor_user_id for e in events if e.actor_user_id}
    user_ids |= {d.reviewed_by_id for d in drafts if d.reviewed_by_id}
    names: dict[UUID, str] = {}
    if user_ids:
        rows = await session.execute(sa.select(User.id, User.full_name, User.email).where(User.id.in_(user_ids)))
        names = {uid: full_name or email for uid, full_name, email in rows}
    return DealView(
        collab=collab,
        terms=Terms.from_dict(collab.terms),
        viewer=viewer,
        timeline=[TimelineEntry(e, names.get(e.actor_user_id) if e.actor_user_id else None) for e in events],
        shipments=shipments,
        drafts=drafts,
        posts=posts,
        shipping_address=address,
        actions=actions_for(collab, viewer, now),
        names=names,
    )


async def list_events(session: AsyncSession, collab_id: UUID, viewer: TransitionActor) -> list[CollaborationEvent]:
    collab = await get_collaboration(session, collab_id, viewer)
    query = sa.select(CollaborationEvent).where(CollaborationEvent.collaboration_id == collab.id)
    if viewer.party is not Party.ADMIN:
        query = query.where(CollaborationEvent.action.not_in(list(ADMIN_ONLY_ACTIONS)))
    return list((await session.scalars(query.order_by(CollaborationEvent.seq))).all())


async def get_draft(session: AsyncSession, collab_id: UUID, draft_id: UUID, viewer: TransitionActor
                    ) -> ContentDraft:
    """A draft of a deal the viewer may see; 404 for anything else (other deals' drafts included)."""
    collab = await get_collaboration(session, collab_id, viewer)
    draft = await session.scalar(
        sa.select(ContentDraft).where(ContentDraft.id == draft_id, ContentDraft.collaboration_id == collab.id)
    )
    if draft is None:
        raise NotFound(gettext('No such draft.'))
    return draft


def summary_fields(collab: Collaboration) -> dict[str, Any]:
    """The bits of the terms lists show, read from the snapshot (no joins per row)."""
    terms = collab.terms
    return {
        "title": terms.get("gig_title", ""),
        "brand_name": terms.get("brand_name", ""),
        "creator_name": terms.get("creator_display_name", ""),
        "platform": terms.get("platform", ""),
        "handle": terms.get("handle", ""),
    }
