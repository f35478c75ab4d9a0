"""JSON shapes of the collaborations API (money is integer minor units with its currency)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any
from uuid import UUID

import msgspec

from marketplace.clock import as_utc
from marketplace.collaborations.models import Collaboration, CollaborationEvent, ContentDraft, PostSubmission, Shipment
from marketplace.collaborations.queries import STAGE_LABELS, STATUS_GROUPS, STEP_SLUGS, DealView, summary_fields
from marketplace.collaborations.states import CollabState

# --- request bodies -------------------------------------------------------------------------------------------------


#: What ``status`` on the collaboration list takes (``parse_status_filter``): deal states and the groups.
STATUS_FILTERS = [*(state.value for state in CollabState), *STATUS_GROUPS]
#: One or more of them, separated by commas.
STATUS_FILTER = "^(?:{0})(?:,(?:{0}))*$".format("|".join(STATUS_FILTERS))


class SignBody(msgspec.Struct, forbid_unknown_fields=True):
    #: The SHA-256 of the terms being accepted (``terms_hash`` of the collaboration): you sign what you read.
    terms_hash: str
    #: The variant (size, colour) you choose when the product comes from the brand's store with options: one of
    #: the in-stock variants of ``GET /api/v1/stores/{id}/products`` (422 naming them when missing or sold out).
    #: It joins the terms, so the deal's ``terms_hash`` after signing covers it.
    store_variant_id: UUID | None = None


class CancelBody(msgspec.Struct, forbid_unknown_fields=True):
    """Declines (creator) or withdraws (brand) an offer, or cancels a signed or funded deal (funded: refunded)."""

    reason: str = ""
    #: Creator only: cancel without penalty because the brand didn't ship by the ship-by date.
    no_show: bool = False


class ShipBody(msgspec.Struct, forbid_unknown_fields=True):
    carrier: str
    tracking_number: str
    tracking_url: str | None = None


class ReportProblemBody(msgspec.Struct, forbid_unknown_fields=True):
    problem: str


class SubmitDraftBody(msgspec.Struct, forbid_unknown_fields=True):
    """Through the API a draft's media is a link only (``media_url``, https); file uploads are done on the deal
    page."""

    caption: str
    media_url: Annotated[str, msgspec.Meta(description="Link to the draft photo or video (API drafts take a "
                                                       "media URL only; upload files on the deal page).")]


class AcceptPostBody(msgspec.Struct, forbid_unknown_fields=True):
    note: str = ""


class ReviewBody(msgspec.Struct, forbid_unknown_fields=True):
    comment: str = ""


class ApproveDraftBody(msgspec.Struct, forbid_unknown_fields=True):
    comment: str = ""
    #: Required when the caption lacks the disclosure, a required hashtag or mention (else 422 naming them).
    approve_anyway: bool = False


class RequestChangesBody(msgspec.Struct, forbid_unknown_fields=True):
    comment: str


class SubmitPostBody(msgspec.Struct, forbid_unknown_fields=True):
    #: The live post's link on the deal's platform (TikTok, YouTube or Instagram).
    url: str


# --- responses ------------------------------------------------------------------------------------------------------


class MoneyOut(msgspec.Struct):
    amount: int
    currency: str


class NextDueOut(msgspec.Struct):
    stage: str
    label: str
    party: str
    at: datetime


class CollaborationSummaryOut(msgspec.Struct):
    id: UUID
    status: str
    gig_id: UUID
    brand_id: UUID
    creator_id: UUID
    title: str
    brand_name: str
    creator_name: str
    platform: str
    handle: str
    fee: MoneyOut
    product_included: bool
    next_due: NextDueOut | None
    created_at: datetime
    state_changed_at: datetime


class CollaborationPageOut(msgspec.Struct):
    items: list[CollaborationSummaryOut]
    #: Pass as ``after`` to get the next page; null on the last page.
    next_cursor: str | None


class ShipmentOut(msgspec.Struct):
    id: UUID
    carrier: str
    tracking_number: str
    tracking_url: str | None
    shipped_at: datetime
    received_at: datetime | None
    problem: str | None
    problem_reported_at: datetime | None


class AddressOut(msgspec.Struct):
    recipient_name: str
    line1: str
    line2: str
    city: str
    region: str
    postal_code: str
    country: str
    phone: str


class DraftOut(msgspec.Struct):
    id: UUID
    round: int
    caption: str
    media_url: str | None
    #: Where the uploaded file can be fetched (same authorisation as the deal), or null.
    upload_url: str | None
    upload_content_type: str | None
    upload_size: int | None
    review: str
    review_comment: str | None
    reviewed_at: datetime | None
    submitted_at: datetime


class PostOut(msgspec.Struct):
    id: UUID
    url: str
    platform: str
    post_ref: str | None
    verification_status: str
    is_current: bool
    submitted_at: datetime


class StepOut(msgspec.Struct):
    action: str
    label: str
    #: False when the step exists but a condition isn't met yet; ``reason`` says which.
    available: bool
    reason: str | None


class EventOut(msgspec.Struct):
    seq: int
    action: str
    from_state: str
    to_state: str
    actor_party: str
    actor_user_id: UUID | None
    payload: dict[str, Any]
    at: datetime


class CollaborationOut(CollaborationSummaryOut):
    application_id: UUID
    terms: dict[str, Any]
    terms_hash: str
    revision_rounds_allowed: int
    revision_rounds_used: int
    due: dict[str, datetime | None]
    shipments: list[ShipmentOut]
    #: Only for the creator, and the brand's deal managers once a product deal is signed; null otherwise.
    shipping_address: AddressOut | None
    drafts: list[DraftOut]
    posts: list[PostOut]
    #: The steps you may take now, read from the transition table.
    allowed_actions: list[StepOut]


def _dt(value: datetime | None) -> datetime | None:
    return as_utc(value) if value is not None else None


def _summary_values(c: Collaboration) -> dict[str, Any]:
    next_due = None
    if c.next_due_stage and c.next_due_party and c.next_due_at:
        next_due = NextDueOut(c.next_due_stage, STAGE_LABELS.get(c.next_due_stage, c.next_due_stage),
                              c.next_due_party, as_utc(c.next_due_at))
    return {
        "id": c.id,
        "status": c.status.value if hasattr(c.status, "value") else str(c.status),
        "gig_id": c.gig_id,
        "brand_id": c.brand_id,
        "creator_id": c.creator_id,
        **{k: str(v) for k, v in summary_fields(c).items()},
        "fee": MoneyOut(c.fee_amount, c.currency),
        "product_included": c.product_included,
        "next_due": next_due,
        "created_at": as_utc(c.created_at),
        "state_changed_at": as_utc(c.state_changed_at),
    }


def summary_out(c: Collaboration) -> CollaborationSummaryOut:
    return CollaborationSummaryOut(**_summary_values(c))


def shipment_out(s: Shipment) -> ShipmentOut:
    return ShipmentOut(s.id, s.carrier, s.tracking_number, s.tracking_url, as_utc(s.shipped_at), _dt(s.received_at),
                       s.problem, _dt(s.problem_reported_at))


def draft_out(d: ContentDraft) -> DraftOut:
    upload_url = f"/api/v1/collaborations/{d.collaboration_id}/drafts/{d.id}/file" if d.upload_path else None
    return DraftOut(d.id, d.round, d.caption, d.media_url, upload_url, d.upload_content_type, d.upload_size,
                    d.review.value, d.review_comment, _dt(d.reviewed_at), as_utc(d.created_at))


def post_out(p: PostSubmission) -> PostOut:
    return PostOut(p.id, p.url, p.platform, p.post_ref, p.verification_status, p.is_current, as_utc(p.created_at))


def event_out(e: CollaborationEvent) -> EventOut:
    return EventOut(e.seq, e.action, e.from_state, e.to_state, e.actor_party, e.actor_user_id, e.payload or {},
                    as_utc(e.created_at))


def collaboration_out(view: DealView) -> CollaborationOut:
    c = view.collab
    address = view.shipping_address
    return CollaborationOut(
        **_summary_values(c),
        application_id=c.application_id,
        terms=c.terms,
        terms_hash=c.terms_hash,
        revision_rounds_allowed=c.revision_rounds_allowed,
        revision_rounds_used=c.revision_rounds_used,
        due=view.due_dates(),
        shipments=[shipment_out(s) for s in view.shipments],
        shipping_address=AddressOut(address.recipient_name, address.line1, address.line2, address.city,
                                    address.region, address.postal_code, address.country, address.phone)
        if address else None,
        drafts=[draft_out(d) for d in view.drafts],
        posts=[post_out(p) for p in view.posts],
        allowed_actions=[StepOut(a.action.value, a.rule.label, a.blocked is None, a.blocked)
                         for a in view.actions if a.action in STEP_SLUGS],
    )
