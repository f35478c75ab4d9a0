"""Pure gig rules: what a valid gig is, and whether a creator is eligible for one (with reasons they can act on)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from functools import cached_property
from typing import Any, NamedTuple

from marketplace.creators.models import ContentKind, Platform
from marketplace.gigs.models import DEFAULT_REMINDER_OFFSETS_HOURS
from marketplace.gigs.validation import HASHTAG_RE, MENTION_RE, NICHE_RE, Checker
from marketplace.i18n import N_, gettext
from marketplace.reputation.deal_values import gig_value_minor, to_usd_minor
from marketplace.verification.posts import platform_label
from reputation.tiers import CreatorStanding, Tier, TrackRecord, creator_standing, judge
from reputation.tiers import GigRequirements as ReputationBar

TITLE_MAX = 140
BRIEF_MAX = 20_000
PRODUCT_NAME_MAX = 140
MAX_DELIVERABLES = 10
MAX_SLOTS = 1_000
MAX_FOLLOWERS = 10_000_000_000
APPLY_BY_MAX_DAYS = 366
#: Commission in basis points (the pages take a percentage, 0 to 100).
COMMISSION_BPS_MAX = 10_000
MAX_COUNTRIES = 60
MAX_NICHES = 10
MIN_RELIABILITY_RANGE = (0.0, 1.0)
#: Per deliverable: how many posts, and at most this many required hashtags and mentions.
DELIVERABLE_COUNT_MAX = 20
MAX_TAGS = 20
DISCLOSURE_MAX = 40
#: Reminders: at most this many per deadline, each a non-zero number of hours within this many either side.
MAX_REMINDERS = 8
REMINDER_HOURS_MAX = 720


class Bounds(NamedTuple):
    """An optional whole number's range and the value it takes when left out."""

    minimum: int
    maximum: int
    default: int


SHIP_WITHIN_DAYS = Bounds(1, 90, 7)
POST_WITHIN_DAYS = Bounds(1, 180, 14)
REVISION_ROUNDS = Bounds(0, 5, 1)
REVIEW_WINDOW_HOURS = Bounds(24, 336, 72)
KEEP_LIVE_DAYS = Bounds(0, 365, 14)
SLOTS = Bounds(1, MAX_SLOTS, 1)


@dataclass(frozen=True)
class DeliverableFields:
    platform: Platform
    kind: ContentKind
    count: int = 1
    required_hashtags: tuple[str, ...] = ()
    required_mentions: tuple[str, ...] = ()
    disclosure_required: bool = True
    disclosure_text: str = "#ad"


@dataclass(frozen=True)
class GigFields:
    """A gig's editable content after every check passed; the services copy it onto the row."""

    title: str
    brief: str
    currency: str
    base_fee_amount: int
    deliverables: tuple[DeliverableFields, ...]
    product_name: str = ""
    product_retail_value: int = 0
    product_image_url: str | None = None
    product_included: bool = True
    commission_bps: int | None = None
    apply_by: datetime | None = None
    ship_within_days: int = 7
    post_within_days: int = 14
    revision_rounds: int = 1
    review_window_hours: int = 72
    keep_live_days: int = 14
    reminder_offsets_hours: tuple[int, ...] = tuple(DEFAULT_REMINDER_OFFSETS_HOURS)
    slots: int = 1
    eligible_platforms: tuple[Platform, ...] = ()
    min_followers: int | None = None
    max_followers: int | None = None
    eligible_countries: tuple[str, ...] = ()
    niches: tuple[str, ...] = ()
    min_reliability: float | None = None
    min_tier: str | None = None
    verified_audience_required: bool = False


def check_gig(raw: Mapping[str, Any], *, now: datetime, min_slots: int = 1,
              parse_errors: Mapping[str, str] | None = None) -> GigFields:
    """Every rule a gig must meet, with the message keyed by the field's name (``deliverables[0].count``...).

    ``raw`` holds already-typed values (the API's JSON, or a form read by FormReader); ``min_slots`` is the number of
    applications already accepted (slots can't drop below it); ``parse_errors`` are the form reader's own messages.
    """
    c = Checker()
    for key, message in (parse_errors or {}).items():
        c.error(key, message)
    title = c.text("title", raw.get("title"), label=N_('Title'), max_length=TITLE_MAX, required=True)
    brief = c.text("brief", raw.get("brief"), label=N_('Brief'), max_length=BRIEF_MAX, required=True, single_line=False)
    currency = c.currency("base_fee.currency", raw.get("currency"))
    fee = c.fee("base_fee.amount", raw.get("base_fee_amount"), currency, label=N_('Base fee'), required=True)
    product_included = bool(raw.get("product_included", True))
    product_name = c.text("product_name", raw.get("product_name"), label=N_('Product name'),
                          max_length=PRODUCT_NAME_MAX, required=product_included)
    product_value = c.amount("product_retail_value.amount", raw.get("product_retail_value"),
                             label=N_('Product retail value'))
    product_currency = raw.get("product_currency")
    if product_currency not in (None, "") and str(product_currency).strip().upper() != currency:
        c.error("product_retail_value.currency", gettext("The product value must be in the gig's currency."))
    image = c.url("product_image_url", raw.get("product_image_url"), label=N_('Product image URL'))
    # Pages take a percentage and the API basis points: the message speaks of both, never of one the user didn't type.
    commission = c.integer("commission_bps", raw.get("commission_bps"), label=N_('Commission'), minimum=0,
                           maximum=2**62)
    if commission is not None and commission > COMMISSION_BPS_MAX:
        c.error("commission_bps", gettext("Commission is a percentage from 0 to 100 (in the API, 0 to 10,000 basis "
                                          "points)."))
    apply_by = raw.get("apply_by")
    if apply_by is not None and not isinstance(apply_by, datetime):
        c.error("apply_by", gettext('Apply-by must be a date and time.'))
        apply_by = None
    if apply_by is not None and apply_by.tzinfo is None:
        c.error("apply_by", gettext('Apply-by needs a time zone (for example 2026-12-31T18:00:00Z).'))
        apply_by = None
    c.future("apply_by", apply_by, now=now, label="Apply-by", max_days=APPLY_BY_MAX_DAYS)

    def number(name: str, label: str, bounds: Bounds) -> int:
        value = raw.get(name)
        if value is None or value == "":
            return bounds.default
        checked = c.integer(name, value, label=label, minimum=bounds.minimum, maximum=bounds.maximum)
        return bounds.default if checked is None else checked

    ship_days = number("ship_within_days", "Ship within (days)", SHIP_WITHIN_DAYS)
    post_days = number("post_within_days", "Post within (days)", POST_WITHIN_DAYS)
    rounds = number("revision_rounds", "Revision rounds", REVISION_ROUNDS)
    review_hours = number("review_window_hours", "Review window (hours)", REVIEW_WINDOW_HOURS)
    keep_live = number("keep_live_days", "Keep live (days)", KEEP_LIVE_DAYS)
    slots = number("slots", "Slots", SLOTS)
    if c.ok("slots") and slots < min_slots:
        c.error(
            "slots",
            gettext("%(min_slots)s application(s) are already accepted; slots can't be fewer.", min_slots=min_slots),
        )
    offsets = check_reminder_offsets(c, raw.get("reminder_offsets_hours"))

    platforms = tuple(c.choices("eligible_platforms", raw.get("eligible_platforms"), Platform, label=N_('Platform')))
    min_followers = c.integer("min_followers", raw.get("min_followers"), label=N_('Minimum followers'), minimum=0,
                              maximum=MAX_FOLLOWERS)
    max_followers = c.integer("max_followers", raw.get("max_followers"), label=N_('Maximum followers'), minimum=0,
                              maximum=MAX_FOLLOWERS)
    if min_followers is not None and max_followers is not None and min_followers > max_followers:
        c.error("max_followers", gettext('Maximum followers must be at least the minimum.'))
    countries = tuple(c.countries("eligible_countries", raw.get("eligible_countries"), max_items=MAX_COUNTRIES))
    niches = tuple(c.words("niches", raw.get("niches"), pattern=NICHE_RE, label="niche", max_items=MAX_NICHES,
                           example="skincare or home-fitness"))
    min_reliability = raw.get("min_reliability")
    if min_reliability is not None:
        if isinstance(min_reliability, bool) or not isinstance(min_reliability, int | float) or not (
            MIN_RELIABILITY_RANGE[0] <= min_reliability <= MIN_RELIABILITY_RANGE[1]
        ):
            c.error("min_reliability", gettext('Minimum reliability must be a number from 0 to 1 (0.8 = 80%).'))
            min_reliability = None
        else:
            min_reliability = float(min_reliability)
    min_tier = raw.get("min_tier")
    if min_tier in (None, ""):
        min_tier = None
    elif not isinstance(min_tier, str) or min_tier.strip().upper() not in Tier.__members__:
        c.error(
            "min_tier",
            gettext("Minimum tier must be one of: %(tier)s.", tier=", ".join(t.name.lower() for t in Tier)),
        )
        min_tier = None
    else:
        min_tier = min_tier.strip().upper()

    deliverables = check_deliverables(c, raw.get("deliverables"))
    c.raise_if_invalid()
    assert fee is not None
    return GigFields(
        title=title,
        brief=brief,
        currency=currency,
        base_fee_amount=fee,
        deliverables=deliverables,
        product_name=product_name,
        product_retail_value=product_value or 0,
        product_image_url=image,
        product_included=product_included,
        commission_bps=commission or None,
        apply_by=apply_by,
        ship_within_days=ship_days,
        post_within_days=post_days,
        revision_rounds=rounds,
        review_window_hours=review_hours,
        keep_live_days=keep_live,
        reminder_offsets_hours=offsets,
        slots=slots,
        eligible_platforms=platforms,
        min_followers=min_followers,
        max_followers=max_followers,
        eligible_countries=countries,
        niches=niches,
        min_reliability=min_reliability,
        min_tier=min_tier,
        verified_audience_required=bool(raw.get("verified_audience_required", False)),
    )


def check_reminder_offsets(c: Checker, value: object) -> tuple[int, ...]:
    """Hours relative to each due time (negative = before): at most 8, each within 30 days either side."""
    if value is None or value == "":
        return tuple(DEFAULT_REMINDER_OFFSETS_HOURS)
    if not isinstance(value, list | tuple):
        c.error("reminder_offsets_hours", gettext('Reminder offsets must be a list of hours, like -72, -24, 24.'))
        return tuple(DEFAULT_REMINDER_OFFSETS_HOURS)
    offsets: list[int] = []
    for item in value:
        in_range = isinstance(item, int) and -REMINDER_HOURS_MAX <= item <= REMINDER_HOURS_MAX
        if isinstance(item, bool) or not in_range or item == 0:
            c.error("reminder_offsets_hours",
                    gettext('Each reminder offset is a non-zero whole number of hours between -720 and 720.'))
            return tuple(DEFAULT_REMINDER_OFFSETS_HOURS)
        if item not in offsets:
            offsets.append(item)
    if len(offsets) > MAX_REMINDERS:
        c.error("reminder_offsets_hours", gettext('At most 8 reminders per deadline.'))
    return tuple(sorted(offsets))


def check_deliverables(c: Checker, value: object) -> tuple[DeliverableFields, ...]:
    if not isinstance(value, list | tuple) or not value:
        c.error("deliverables", gettext('Add at least one deliverable (platform, kind and count).'))
        return ()
    if len(value) > MAX_DELIVERABLES:
        c.error(
            "deliverables",
            gettext("At most %(max_deliverables)s deliverables per gig.", max_deliverables=MAX_DELIVERABLES),
        )
        return ()
    result: list[DeliverableFields] = []
    for i, item in enumerate(value):
        key = f"deliverables[{i}]"
        if not isinstance(item, Mapping):
            c.error(key, gettext('Each deliverable needs a platform, a kind and a count.'))
            continue
        platform = c.choice(f"{key}.platform", item.get("platform"), Platform, label=N_('Platform'))
        kind = c.choice(f"{key}.kind", item.get("kind"), ContentKind, label=N_('Kind'))
        count = c.integer(f"{key}.count", item.get("count", 1), label=N_('Count'), minimum=1,
                          maximum=DELIVERABLE_COUNT_MAX, required=True)
        hashtags = c.words(f"{key}.required_hashtags", item.get("required_hashtags"), pattern=HASHTAG_RE,
                           label="hashtag", max_items=MAX_TAGS, example="#glowlab", prefix="#")
        mentions = c.words(f"{key}.required_mentions", item.get("required_mentions"), pattern=MENTION_RE,
                           label="mention", max_items=MAX_TAGS, example="@glowlab", prefix="@")
        disclosure_required = bool(item.get("disclosure_required", True))
        disclosure = c.text(f"{key}.disclosure_text", item.get("disclosure_text", "#ad"), label=N_('Disclosure'),
                            max_length=DISCLOSURE_MAX, required=disclosure_required) or "#ad"
        if platform is not None and kind is not None and count is not None:
            result.append(DeliverableFields(platform, kind, count, tuple(hashtags), tuple(mentions),
                                            disclosure_required, disclosure))
    return tuple(result)


# --- eligibility ------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class CreatorFacts:
    """What eligibility looks at for one creator (loaded once per page, not per gig)."""

    country: str | None
    niches: frozenset[str]
    #: (platform, followers) for each linked social account.
    accounts: tuple[tuple[str, int], ...]
    #: Proven reliability (0-1) and tier name; None for a newcomer.
    reliability: float | None = None
    tier: str | None = None
    #: The full track record, signed deals not yet posted, and the time they are judged at. With these the
    #: reputation rules apply in full: suspension, probation, and the tier's caps on deal value and open deals.
    record: TrackRecord | None = None
    open_unposted: int = 0
    at: datetime | None = None
    #: (platform, followers) for each account a live connection verifies (marketplace.social).
    verified_accounts: tuple[tuple[str, int], ...] = ()

    @cached_property
    def standing(self) -> CreatorStanding | None:
        """The record's suspension, tier and caps at ``at``: worked out once, however many gigs are judged."""
        return creator_standing(self.record, self.at) if self.record is not None and self.at is not None else None


@dataclass(frozen=True)
class GigRequirements:
    platforms: tuple[str, ...]
    min_followers: int | None = None
    max_followers: int | None = None
    countries: tuple[str, ...] = ()
    niches: tuple[str, ...] = ()
    min_reliability: float | None = None
    min_tier: str | None = None
    #: The deal's value (fee plus product) in approximate US cents, for the tier caps.
    deal_value_usd_minor: int = 0
    #: The follower bar is met only by numbers a connected account verifies.
    verified_audience: bool = False


@dataclass(frozen=True)
class Eligibility:
    eligible: bool
    reasons: tuple[str, ...] = field(default_factory=tuple)

    @property
    def reason(self) -> str:
        return " ".join(self.reasons)


def requirements_of(gig: Any, deliverable_platforms: Sequence[str], niches: Sequence[str] = ()) -> GigRequirements:
    """A gig's bar: its eligible platforms, or else the platforms its deliverables are for."""
    platforms = tuple(str(p) for p in (gig.eligible_platforms or [])) or tuple(dict.fromkeys(deliverable_platforms))
    return GigRequirements(
        platforms=platforms,
        min_followers=gig.min_followers,
        max_followers=gig.max_followers,
        countries=tuple(gig.eligible_countries or ()),
        niches=tuple(niches),
        min_reliability=gig.min_reliability,
        min_tier=gig.min_tier,
        deal_value_usd_minor=to_usd_minor(gig_value_minor(gig), gig.currency),
        verified_audience=bool(gig.verified_audience_required),
    )


def _followers(n: int) -> str:
    return f"{n:,}"


def check_eligibility(creator: CreatorFacts, gig: GigRequirements) -> Eligibility:
    """May this creator apply? Every unmet rule becomes one sentence the creator can act on."""
    reasons: list[str] = []
    # A gig asking for a verified audience judges the numbers connected accounts verify, never typed ones.
    accounts, verified = (creator.verified_accounts, "verified ") if gig.verified_audience else (creator.accounts, "")
    if gig.platforms:
        on_platform = [(p, f) for p, f in accounts if p in gig.platforms]
        if not on_platform:
            names = " or ".join(platform_label(p) for p in gig.platforms)
            if gig.verified_audience:
                reasons.append(f"This gig needs a verified audience: connect your {names} account (Connected "
                               f"accounts) so your numbers come from {names} itself.")
            else:
                reasons.append(f"This gig is for {names}; add your {names} account to your profile.")
        else:
            in_range = [
                f for _, f in on_platform
                if (gig.min_followers is None or f >= gig.min_followers)
                and (gig.max_followers is None or f <= gig.max_followers)
            ]
            if not in_range:
                best = max(f for _, f in on_platform)
                if gig.min_followers is not None and best < gig.min_followers:
                    reasons.append(f"This gig needs at least {_followers(gig.min_followers)} {verified}followers; "
                                   f"your largest matching {'connected ' if verified else ''}account has "
                                   f"{_followers(best)}.")
                else:
                    assert gig.max_followers is not None
                    reasons.append(f"This gig is for accounts with up to {_followers(gig.max_followers)} followers.")
    elif gig.verified_audience and not accounts:
        reasons.append("This gig needs a verified audience: connect one of your accounts (Connected accounts) so "
                       "your numbers come from the platform itself.")
    elif accounts and (gig.min_followers is not None or gig.max_followers is not None):
        counts = [f for _, f in accounts]
        if not any((gig.min_followers is None or f >= gig.min_followers)
                   and (gig.max_followers is None or f <= gig.max_followers) for f in counts):
            reasons.append("None of your accounts is within this gig's follower range.")
    if gig.countries:
        if creator.country is None:
            reasons.append("Add your country to your profile: this gig is open to some countries only.")
        elif creator.country not in gig.countries:
            reasons.append(f"This gig is open to creators in {', '.join(gig.countries)}.")
    if gig.niches and not (set(gig.niches) & creator.niches):
        reasons.append(f"This gig is for creators in {', '.join(gig.niches)}; add a matching niche if it fits you.")
    standing = creator.standing
    if standing is not None:
        bar = ReputationBar(gig.min_reliability or 0.0, Tier[gig.min_tier] if gig.min_tier else Tier.NEW)
        judged = judge(standing, bar, gig.deal_value_usd_minor, creator.open_unposted)
        return Eligibility(eligible=not (reasons or judged.reasons), reasons=(*reasons, *judged.reasons))
    if gig.min_tier is not None:
        required = Tier[gig.min_tier]
        have = Tier[creator.tier] if creator.tier in Tier.__members__ else Tier.NEW
        if have < required:
            reasons.append(f"This gig is open to {required.label} creators and above; you are {have.label}.")
    if gig.min_reliability is not None and gig.min_reliability > 0:
        score = creator.reliability or 0.0
        if score < gig.min_reliability:
            reasons.append(f"This gig needs a proven reliability of {gig.min_reliability:.0%}; yours is {score:.0%}.")
    return Eligibility(eligible=not reasons, reasons=tuple(reasons))
