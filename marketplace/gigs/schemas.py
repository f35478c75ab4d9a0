"""JSON shapes of the gig API (msgspec Structs, documented in the OpenAPI schema) and their conversions."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, ClassVar
from uuid import UUID

import msgspec

from escrow.money import CURRENCY_EXPONENTS, MAX_AMOUNT
from marketplace.clock import as_utc
from marketplace.creators.models import ContentKind, Platform
from marketplace.gigs import rules
from marketplace.gigs.models import Gig
from marketplace.gigs.services import MAX_INVITES_PER_REQUEST, GigDetails, InviteResult
from marketplace.gigs.validation import COUNTRY_CODES, HASHTAG_RE, MENTION_RE, NICHE_RE, minimum_fee
from marketplace.openapi import FILLED_TEXT, NO_NUL, TEXT, UUID_ITEMS, WEB_ADDRESS, documented, object_rules
from reputation.tiers import Tier


class MoneyIn(msgspec.Struct, forbid_unknown_fields=True):
    """An amount in integer minor units (cents) and an ISO 4217 currency: {"amount": 1500, "currency": "USD"}."""

    amount: Annotated[int | None, documented(minimum=0, maximum=MAX_AMOUNT)] = None
    currency: Annotated[str | None, documented(enum=[*sorted(CURRENCY_EXPONENTS), None])] = None


class MoneyOut(msgspec.Struct):
    amount: int
    currency: str


def _fee_minimums() -> dict[str, Any]:
    """The base fee's lowest amount for each currency (``minimum_fee``): the lowest of them as the amount's
    ``minimum``, and an ``if``/``then`` for each currency whose minimum is higher (KRW)."""
    by_minimum: dict[int, list[str]] = {}
    for code in sorted(CURRENCY_EXPONENTS):
        by_minimum.setdefault(minimum_fee(code), []).append(code)
    lowest = min(by_minimum)
    higher = [
        {"if": {"properties": {"currency": {"enum": codes}}, "required": ["currency"]},
         "then": {"properties": {"amount": {"minimum": minimum}}}}
        for minimum, codes in sorted(by_minimum.items()) if minimum != lowest
    ]
    return {"lowest": lowest, "all_of": higher}


FEE_MINIMUMS = _fee_minimums()


class FeeIn(msgspec.Struct, forbid_unknown_fields=True):
    """A fee: an amount in integer minor units of at least the currency's minimum fee (100 minor units, KRW 1,000),
    and an ISO 4217 currency: {"amount": 1500, "currency": "USD"}."""

    __openapi_rules__: ClassVar[dict[str, Any]] = object_rules(required=["amount", "currency"],
                                                               all_of=FEE_MINIMUMS["all_of"])

    amount: Annotated[int | None, documented(minimum=FEE_MINIMUMS["lowest"], maximum=MAX_AMOUNT)] = None
    currency: Annotated[str | None, documented(enum=sorted(CURRENCY_EXPONENTS))] = None


def _range(bounds: rules.Bounds) -> msgspec.Meta:
    return documented(minimum=bounds.minimum, maximum=bounds.maximum)


TITLE = documented(min_length=1, max_length=rules.TITLE_MAX, pattern=FILLED_TEXT)
BRIEF = documented(min_length=1, max_length=rules.BRIEF_MAX, pattern=FILLED_TEXT)
PRODUCT_NAME = documented(max_length=rules.PRODUCT_NAME_MAX, pattern=TEXT)
PRODUCT_IMAGE_URL = documented(max_length=2000, pattern=WEB_ADDRESS)
COMMISSION_BPS = documented(minimum=0, maximum=rules.COMMISSION_BPS_MAX)
#: Hours from a due time (negative: before it); zero is not a reminder.
REMINDER_OFFSETS = documented(max_items=rules.MAX_REMINDERS, items={
    "type": "integer", "minimum": -rules.REMINDER_HOURS_MAX, "maximum": rules.REMINDER_HOURS_MAX, "not": {"const": 0}})
PLATFORMS = documented(items={"type": "string", "enum": [p.value for p in Platform]})
FOLLOWERS = documented(minimum=0, maximum=rules.MAX_FOLLOWERS)
COUNTRIES = documented(max_items=rules.MAX_COUNTRIES, items={"type": "string", "enum": sorted(COUNTRY_CODES)})
NICHES = documented(max_items=rules.MAX_NICHES, items={"type": "string", "pattern": NICHE_RE.pattern})
RELIABILITY = documented(minimum=rules.MIN_RELIABILITY_RANGE[0], maximum=rules.MIN_RELIABILITY_RANGE[1])
TIERS = [t.name.lower() for t in Tier]
#: What the schema can't say about a gig; each is answered with a 422 and a message on the field.
GIG_RULES_ELSEWHERE = (
    "Also checked, answered 422 with a message on the field: `apply_by` in the future and at most "
    f"{rules.APPLY_BY_MAX_DAYS} days ahead; `max_followers` at least `min_followers`; "
    "`product_retail_value.currency`, if given, the same as `base_fee.currency`."
)


class DeliverableIn(msgspec.Struct, forbid_unknown_fields=True):
    """What the creator posts: ``count`` posts of ``kind`` on ``platform``. ``disclosure_text`` may be blank only
    when ``disclosure_required`` is false."""

    __openapi_rules__: ClassVar[dict[str, Any]] = object_rules(
        required=["platform", "kind"],
        **{"if": {"properties": {"disclosure_required": {"const": False}}, "required": ["disclosure_required"]},
           "else": {"properties": {"disclosure_text": {"pattern": FILLED_TEXT}}}},
    )

    platform: Annotated[str | None, documented(enum=[p.value for p in Platform])] = None
    kind: Annotated[str | None, documented(enum=[k.value for k in ContentKind])] = None
    count: Annotated[int, documented(minimum=1, maximum=rules.DELIVERABLE_COUNT_MAX)] = 1
    required_hashtags: Annotated[list[str], documented(max_items=rules.MAX_TAGS, items={
        "type": "string", "pattern": HASHTAG_RE.pattern})] = []
    required_mentions: Annotated[list[str], documented(max_items=rules.MAX_TAGS, items={
        "type": "string", "pattern": MENTION_RE.pattern})] = []
    disclosure_required: bool = True
    disclosure_text: Annotated[str, documented(max_length=rules.DISCLOSURE_MAX, pattern=TEXT)] = "#ad"


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

    __openapi_rules__: ClassVar[dict[str, Any]] = object_rules(
        required=["title", "brief", "base_fee", "deliverables"],
        description="A new gig, saved as a draft (publish it to open applications). `product_name` is required "
        "unless `product_included` is false. " + GIG_RULES_ELSEWHERE,
        **{"if": {"properties": {"product_included": {"const": False}}, "required": ["product_included"]},
           "else": {"properties": {"product_name": {"pattern": FILLED_TEXT}}, "required": ["product_name"]}},
    )

    title: Annotated[str | None, TITLE] = None
    brief: Annotated[str | None, BRIEF] = None
    base_fee: FeeIn | None = None
    deliverables: Annotated[list[DeliverableIn] | None, documented(min_items=1, max_items=rules.MAX_DELIVERABLES)] = (
        None)
    product_name: Annotated[str, PRODUCT_NAME] = ""
    product_retail_value: MoneyIn | None = None
    product_image_url: Annotated[str | None, PRODUCT_IMAGE_URL] = None
    product_included: bool = True
    commission_bps: Annotated[int | None, COMMISSION_BPS] = None
    apply_by: datetime | None = None
    ship_within_days: Annotated[int | None, _range(rules.SHIP_WITHIN_DAYS)] = None
    post_within_days: Annotated[int | None, _range(rules.POST_WITHIN_DAYS)] = None
    revision_rounds: Annotated[int | None, _range(rules.REVISION_ROUNDS)] = None
    review_window_hours: Annotated[int | None, _range(rules.REVIEW_WINDOW_HOURS)] = None
    keep_live_days: Annotated[int | None, _range(rules.KEEP_LIVE_DAYS)] = None
    reminder_offsets_hours: Annotated[list[int] | None, REMINDER_OFFSETS] = None
    slots: Annotated[int | None, _range(rules.SLOTS)] = None
    eligible_platforms: Annotated[list[str], PLATFORMS] = []
    min_followers: Annotated[int | None, FOLLOWERS] = None
    max_followers: Annotated[int | None, FOLLOWERS] = None
    eligible_countries: Annotated[list[str], COUNTRIES] = []
    niches: Annotated[list[str], NICHES] = []
    min_reliability: Annotated[float | None, RELIABILITY] = None
    min_tier: Annotated[str | None, documented(enum=["", *TIERS, None])] = None
    #: Only creators whose followers a connected account verifies may apply.
    verified_audience_required: bool = False


class GigPatch(msgspec.Struct, forbid_unknown_fields=True):
    """Only the fields present change. Deals already made keep the terms they were accepted under."""

    __openapi_rules__: ClassVar[dict[str, Any]] = object_rules(
        description="Only the fields present change; deals already made keep the terms they were accepted under. "
        "The changed gig must meet the rules of a new one (`product_name` is required while the product is "
        "included), and `slots` can't drop below the applications already accepted. " + GIG_RULES_ELSEWHERE,
    )

    title: Annotated[str | msgspec.UnsetType, TITLE] = msgspec.UNSET
    brief: Annotated[str | msgspec.UnsetType, BRIEF] = msgspec.UNSET
    base_fee: FeeIn | msgspec.UnsetType = msgspec.UNSET
    deliverables: Annotated[list[DeliverableIn] | msgspec.UnsetType,
                            documented(min_items=1, max_items=rules.MAX_DELIVERABLES)] = msgspec.UNSET
    product_name: Annotated[str | msgspec.UnsetType, PRODUCT_NAME] = msgspec.UNSET
    product_retail_value: MoneyIn | msgspec.UnsetType | None = msgspec.UNSET
    product_image_url: Annotated[str | msgspec.UnsetType | None, PRODUCT_IMAGE_URL] = msgspec.UNSET
    product_included: bool | msgspec.UnsetType = msgspec.UNSET
    commission_bps: Annotated[int | msgspec.UnsetType | None, COMMISSION_BPS] = msgspec.UNSET
    apply_by: datetime | msgspec.UnsetType | None = msgspec.UNSET
    ship_within_days: Annotated[int | msgspec.UnsetType, _range(rules.SHIP_WITHIN_DAYS)] = msgspec.UNSET
    post_within_days: Annotated[int | msgspec.UnsetType, _range(rules.POST_WITHIN_DAYS)] = msgspec.UNSET
    revision_rounds: Annotated[int | msgspec.UnsetType, _range(rules.REVISION_ROUNDS)] = msgspec.UNSET
    review_window_hours: Annotated[int | msgspec.UnsetType, _range(rules.REVIEW_WINDOW_HOURS)] = msgspec.UNSET
    keep_live_days: Annotated[int | msgspec.UnsetType, _range(rules.KEEP_LIVE_DAYS)] = msgspec.UNSET
    reminder_offsets_hours: Annotated[list[int] | msgspec.UnsetType, REMINDER_OFFSETS] = msgspec.UNSET
    slots: Annotated[int | msgspec.UnsetType, _range(rules.SLOTS)] = msgspec.UNSET
    eligible_platforms: Annotated[list[str] | msgspec.UnsetType, PLATFORMS] = msgspec.UNSET
    min_followers: Annotated[int | msgspec.UnsetType | None, FOLLOWERS] = msgspec.UNSET
    max_followers: Annotated[int | msgspec.UnsetType | None, FOLLOWERS] = msgspec.UNSET
    eligible_countries: Annotated[list[str] | msgspec.UnsetType, COUNTRIES] = msgspec.UNSET
    niches: Annotated[list[str] | msgspec.UnsetType, NICHES] = msgspec.UNSET
    min_reliability: Annotated[float | msgspec.UnsetType | None, RELIABILITY] = msgspec.UNSET
    min_tier: Annotated[str | msgspec.UnsetType | None, documented(enum=["", *TIERS, None])] = msgspec.UNSET
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
