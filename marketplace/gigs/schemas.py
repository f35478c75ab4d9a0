"""JSON shapes of the gig API (msgspec Structs, documented in the OpenAPI schema) and their conversions."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any
from uuid import UUID

import msgspec

from escrow.money import CURRENCY_EXPONENTS, MAX_AMOUNT
from marketplace.clock import as_utc
from marketplace.gigs.models import Gig
from marketplace.gigs.services import MAX_INVITES_PER_REQUEST, GigDetails, InviteResult
from marketplace.openapi import NO_NUL, UUID_ITEMS, documented


class MoneyIn(msgspec.Struct, forbid_unknown_fields=True):
    """An amount in integer minor units (cents) and an ISO 4217 currency: {"amount": 1500, "currency": "USD"}."""

    amount: Annotated[int | None, documented(minimum=0, maximum=MAX_AMOUNT)] = None
    currency: Annotated[str | None, documented(enum=[*sorted(CURRENCY_EXPONENTS), None])] = None


class MoneyOut(msgspec.Struct):
    amount: int
    currency: str


class DeliverableIn(msgspec.Struct, forbid_unknown_fields=True):
    platform: str | None = None
    kind: str | None = None
    count: int = 1
    required_hashtags: list[str] = []
    required_mentions: list[str] = []
    disclosure_required: bool = True
    disclosure_text: str = "#ad"


class DeliverableOut(msgspec.Struct):
    platform: str
    kind: str
    count: int
    required_hashtags: list[str]
    required_mentions: list[str]
    disclosure_required: bool
    disclosure_text: str


class GigIn(msgspec.Struct, forbid_unknown_fields=True):
    """A new gig (saved as a draft; publish it to open applications). Missing required values come back as
    field errors (422), like every other rule."""

    title: str | None = None
    brief: str | None = None
    base_fee: MoneyIn | None = None
    deliverables: list[DeliverableIn] | None = None
    product_name: str = ""
    product_retail_value: MoneyIn | None = None
    product_image_url: str | None = None
    product_included: bool = True
    commission_bps: int | None = None
    apply_by: datetime | None = None
    ship_within_days: int | None = None
    post_within_days: int | None = None
    revision_rounds: int | None = None
    review_window_hours: int | None = None
    keep_live_days: int | None = None
    reminder_offsets_hours: list[int] | None = None
    slots: int | None = None
    eligible_platforms: list[str] = []
    min_followers: int | None = None
    max_followers: int | None = None
    eligible_countries: list[str] = []
    niches: list[str] = []
    min_reliability: float | None = None
    min_tier: str | None = None
    #: Only creators whose followers a connected account verifies may apply.
    verified_audience_required: bool = False


class GigPatch(msgspec.Struct, forbid_unknown_fields=True):
    """Only the fields present change. Deals already made keep the terms they were accepted under."""

    title: str | msgspec.UnsetType = msgspec.UNSET
    brief: str | msgspec.UnsetType = msgspec.UNSET
    base_fee: MoneyIn | msgspec.UnsetType = msgspec.UNSET
    deliverables: list[DeliverableIn] | msgspec.UnsetType = msgspec.UNSET
    product_name: str | msgspec.UnsetType = msgspec.UNSET
    product_retail_value: MoneyIn | msgspec.UnsetType | None = msgspec.UNSET
    product_image_url: str | msgspec.UnsetType | None = msgspec.UNSET
    product_included: bool | msgspec.UnsetType = msgspec.UNSET
    commission_bps: int | msgspec.UnsetType | None = msgspec.UNSET
    apply_by: datetime | msgspec.UnsetType | None = msgspec.UNSET
    ship_within_days: int | msgspec.UnsetType = msgspec.UNSET
    post_within_days: int | msgspec.UnsetType = msgspec.UNSET
    revision_rounds: int | msgspec.UnsetType = msgspec.UNSET
    review_window_hours: int | msgspec.UnsetType = msgspec.UNSET
    keep_live_days: int | msgspec.UnsetType = msgspec.UNSET
    reminder_offsets_hours: list[int] | msgspec.UnsetType = msgspec.UNSET
    slots: int | msgspec.UnsetType = msgspec.UNSET
    eligible_platforms: list[str] | msgspec.UnsetType = msgspec.UNSET
    min_followers: int | msgspec.UnsetType | None = msgspec.UNSET
    max_followers: int | msgspec.UnsetType | None = msgspec.UNSET
    eligible_countries: list[str] | msgspec.UnsetType = msgspec.UNSET
    niches: list[str] | msgspec.UnsetType = msgspec.UNSET
    min_reliability: float | msgspec.UnsetType | None = msgspec.UNSET
    min_tier: str | msgspec.UnsetType | None = msgspec.UNSET
    verified_audience_required: bool | msgspec.UnsetType = msgspec.UNSET


class EligibilityOut(msgspec.Struct):
    eligible: bool
    reasons: list[str]


class GigOut(msgspec.Struct):
    id: UUID
    brand_id: UUID
    status: str
    title: str
    brief: str
    base_fee: MoneyOut
    commission_bps: int | None
    product_name: str
    product_retail_value: MoneyOut
    product_image_url: str | None
    product_included: bool
    deliverables: list[DeliverableOut]
    apply_by: datetime | None
    ship_within_days: int
    post_within_days: int
    revision_rounds: int
    review_window_hours: int
    keep_live_days: int
    reminder_offsets_hours: list[int]
    slots: int
    eligible_platforms: list[str]
    min_followers: int | None
    max_followers: int | None
    eligible_countries: list[str]
    niches: list[str]
    min_reliability: float | None
    min_tier: str | None
    verified_audience_required: bool
    published_at: datetime | None
    closed_at: datetime | None
    created_at: datetime
    updated_at: datetime
    brand_name: str | None = None
    #: For creators: whether they may apply, and why not.
    eligibility: EligibilityOut | None = None
    #: For creators: their application's status on this gig, if any.
    application_status: str | None = None
    #: For the brand: how many applications are accepted (slots taken).
    slots_taken: int | None = None


class GigListOut(msgspec.Struct):
    items: list[GigOut]
    #: Pass as ``cursor`` for the next page; null on the last page.
    next_cursor: str | None = None


class InvitationsIn(msgspec.Struct, forbid_unknown_fields=True):
    creator_ids: Annotated[list[str], documented(min_items=1, max_items=MAX_INVITES_PER_REQUEST,
                                                 items=UUID_ITEMS)] = []
    message: Annotated[str, documented(max_length=2000, pattern=NO_NUL)] = ""


class InvitationsOut(msgspec.Struct):
    invited: list[UUID]
    already_invited: list[UUID]
    already_applied: list[UUID]
    unknown: list[UUID]


def raw_from_gig_in(data: GigIn | GigPatch) -> dict[str, Any]:
    """The API body in the shape the gig rules read (money unpacked into amount and currency)."""
    raw: dict[str, Any] = {}
    for name in data.__struct_fields__:
        value = getattr(data, name)
        if value is msgspec.UNSET:
            continue
        if name == "base_fee":
            raw["base_fee_amount"] = value.amount if value is not None else None
            raw["currency"] = value.currency if value is not None else None
        elif name == "product_retail_value":
            raw["product_retail_value"] = value.amount if value is not None else None
            raw["product_currency"] = value.currency if value is not None else None
        elif name == "deliverables":
            raw["deliverables"] = None if value is None else [msgspec.structs.asdict(d) for d in value]
        else:
            raw[name] = value
    return raw


def gig_out(gig: Gig, details: GigDetails, **extra: Any) -> GigOut:
    return GigOut(
        id=gig.id,
        brand_id=gig.brand_id,
        status=str(gig.status),
        title=gig.title,
        brief=gig.brief,
        base_fee=MoneyOut(gig.base_fee_amount, gig.currency),
        commission_bps=gig.commission_bps,
        product_name=gig.product_name,
        product_retail_value=MoneyOut(gig.product_retail_value, gig.currency),
        product_image_url=gig.product_image_url,
        product_included=gig.product_included,
        deliverables=[
            DeliverableOut(str(d.platform), str(d.kind), d.count, list(d.required_hashtags or []),
                           list(d.required_mentions or []), d.disclosure_required, d.disclosure_text)
            for d in details.deliverables
        ],
        apply_by=as_utc(gig.apply_by) if gig.apply_by else None,
        ship_within_days=gig.ship_within_days,
        post_within_days=gig.post_within_days,
        revision_rounds=gig.revision_rounds,
        review_window_hours=gig.review_window_hours,
        keep_live_days=gig.keep_live_days,
        reminder_offsets_hours=[int(h) for h in gig.reminder_offsets_hours or []],
        slots=gig.slots,
        eligible_platforms=list(gig.eligible_platforms or []),
        min_followers=gig.min_followers,
        max_followers=gig.max_followers,
        eligible_countries=list(gig.eligible_countries or []),
        niches=list(details.niches),
        min_reliability=gig.min_reliability,
        min_tier=gig.min_tier.lower() if gig.min_tier else None,
        verified_audience_required=gig.verified_audience_required,
        published_at=as_utc(gig.published_at) if gig.published_at else None,
        closed_at=as_utc(gig.closed_at) if gig.closed_at else None,
        created_at=as_utc(gig.created_at),
        updated_at=as_utc(gig.updated_at),
        **extra,
    )


def invitations_out(result: InviteResult) -> InvitationsOut:
    return InvitationsOut(result.invited, result.already_invited, result.already_applied, result.unknown)
