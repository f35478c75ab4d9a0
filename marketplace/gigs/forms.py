"""The gig form: reading it into the values the gig rules check, and filling it from a saved gig."""

from __future__ import annotations

from typing import Any

from escrow.money import CURRENCY_EXPONENTS, major_units
from marketplace.forms import FormReader
from marketplace.gigs.models import DEFAULT_REMINDER_OFFSETS_HOURS, Gig
from marketplace.gigs.services import GigDetails
from marketplace.gigs.validation import split_words
from marketplace.i18n import N_, gettext, to_local_input

#: Deliverable rows the plain (no JavaScript) form offers; blank rows are ignored.
MIN_DELIVERABLE_ROWS = 3
MAX_DELIVERABLE_ROWS = 10
#: The reader only collects text; the gig rules apply the real limits (and word them), so nothing is capped here.
TEXT_LIMIT = 2**62


def read_offsets(f: FormReader, name: str) -> list[int] | None:
    raw = f.text(name, max_length=500)
    if not raw:
        return None
    offsets = []
    for part in split_words(raw):
        try:
            offsets.append(int(part))
        except ValueError:
            f.error(name, gettext('Reminder offsets are whole hours separated by commas, like -72, -24, 24.'))
            return None
    return offsets


def read_gig_form(form: Any) -> tuple[dict[str, Any], dict[str, str]]:
    """Form fields → (values for ``check_gig``, messages for fields that could not even be read)."""
    f = FormReader(form)
    currency = f.text("base_fee.currency", max_length=10).upper() or "USD"
    exponent = CURRENCY_EXPONENTS.get(currency, 2)
    raw: dict[str, Any] = {
        "title": f.text("title", max_length=TEXT_LIMIT, strip=False),
        "brief": f.text("brief", max_length=TEXT_LIMIT, strip=False),
        "currency": currency,
        "base_fee_amount": f.decimal_minor("base_fee.amount", exponent=exponent, label=N_('Base fee')),
        "product_name": f.text("product_name", max_length=TEXT_LIMIT),
        "product_retail_value": f.decimal_minor("product_retail_value.amount", exponent=exponent,
                                                label=N_('Product retail value')),
        "product_image_url": f.text("product_image_url", max_length=TEXT_LIMIT) or None,
        "product_included": f.boolean("product_included"),
        # A percentage with up to two decimals is exactly a number of basis points (12.5% → 1250).
        "commission_bps": f.decimal_minor("commission_bps", exponent=2, label=N_('Commission')),
        "apply_by": f.datetime("apply_by", label="Apply-by"),
        "ship_within_days": f.integer("ship_within_days", label=N_('Ship within (days)')),
        "post_within_days": f.integer("post_within_days", label=N_('Post within (days)')),
        "revision_rounds": f.integer("revision_rounds", label=N_('Revision rounds')),
        "review_window_hours": f.integer("review_window_hours", label=N_('Review window (hours)')),
        "keep_live_days": f.integer("keep_live_days", label=N_('Keep live (days)')),
        "reminder_offsets_hours": read_offsets(f, "reminder_offsets_hours"),
        "slots": f.integer("slots", label=N_('Slots')),
        "eligible_platforms": f.values("eligible_platforms"),
        "min_followers": f.integer("min_followers", label=N_('Minimum followers')),
        "max_followers": f.integer("max_followers", label=N_('Maximum followers')),
        "eligible_countries": split_words(f.text("eligible_countries", max_length=TEXT_LIMIT)),
        "niches": split_words(f.text("niches", max_length=TEXT_LIMIT)),
        "min_tier": f.text("min_tier", max_length=100) or None,
        "verified_audience_required": f.boolean("verified_audience_required"),
    }
    reliability = f.decimal_minor("min_reliability", exponent=0, label=N_('Minimum reliability'))
    if reliability is not None and not 0 <= reliability <= 100:
        f.error("min_reliability", gettext('Minimum reliability is a percentage from 0 to 100.'))
        reliability = None
    raw["min_reliability"] = reliability / 100 if reliability else None
    deliverables = []
    for i in range(MAX_DELIVERABLE_ROWS):
        key = f"deliverables[{i}]"
        platform = f.text(f"{key}.platform", max_length=100)
        if not platform:
            continue
        deliverables.append({
            "platform": platform,
            "kind": f.text(f"{key}.kind", max_length=100),
            "count": f.integer(f"{key}.count", label=N_('Count')) or 1,
            "required_hashtags": split_words(f.text(f"{key}.required_hashtags", max_length=TEXT_LIMIT)),
            "required_mentions": split_words(f.text(f"{key}.required_mentions", max_length=TEXT_LIMIT)),
            "disclosure_required": f.boolean(f"{key}.disclosure_required"),
            "disclosure_text": f.text(f"{key}.disclosure_text", max_length=TEXT_LIMIT) or "#ad",
        })
    raw["deliverables"] = deliverables
    return raw, dict(f.errors)


def form_values(form: Any) -> dict[str, Any]:
    """What the person typed, to show again next to the errors."""
    values: dict[str, Any] = {}
    for key in form:
        items = form.getall(key) if hasattr(form, "getall") else [form.get(key)]
        values[key] = items if key == "eligible_platforms" else items[-1]
    return values


def gig_form_values(gig: Gig | None, details: GigDetails | None) -> dict[str, Any]:
    """A saved gig as form values (money in major units), or the defaults for a new one."""
    if gig is None:
        return {
            "base_fee.currency": "USD",
            "product_included": "on",
            "ship_within_days": "7",
            "post_within_days": "14",
            "revision_rounds": "1",
            "review_window_hours": "72",
            "keep_live_days": "14",
            "slots": "1",
            "reminder_offsets_hours": ", ".join(str(h) for h in DEFAULT_REMINDER_OFFSETS_HOURS),
            "deliverables[0].count": "1",
            "deliverables[0].disclosure_required": "on",
            "deliverables[0].disclosure_text": "#ad",
        }
    values: dict[str, Any] = {
        "title": gig.title,
        "brief": gig.brief,
        "base_fee.currency": gig.currency,
        "base_fee.amount": major_units(gig.base_fee_amount, gig.currency),
        "product_name": gig.product_name,
        "product_retail_value.amount": major_units(gig.product_retail_value, gig.currency),
        "product_image_url": gig.product_image_url or "",
        "product_included": "on" if gig.product_included else "",
        "commission_bps": f"{gig.commission_bps / 100:g}" if gig.commission_bps else "",
        # Wall time in the editor's zone, as the datetime-local field is read back (marketplace.forms).
        "apply_by": to_local_input(gig.apply_by) if gig.apply_by else "",
        "ship_within_days": str(gig.ship_within_days),
        "post_within_days": str(gig.post_within_days),
        "revision_rounds": str(gig.revision_rounds),
        "review_window_hours": str(gig.review_window_hours),
        "keep_live_days": str(gig.keep_live_days),
        "reminder_offsets_hours": ", ".join(str(h) for h in gig.reminder_offsets_hours or []),
        "slots": str(gig.slots),
        "eligible_platforms": list(gig.eligible_platforms or []),
        "min_followers": "" if gig.min_followers is None else str(gig.min_followers),
        "max_followers": "" if gig.max_followers is None else str(gig.max_followers),
        "eligible_countries": ", ".join(gig.eligible_countries or []),
        "niches": ", ".join(details.niches) if details else "",
        "min_reliability": f"{gig.min_reliability * 100:g}" if gig.min_reliability else "",
        "min_tier": (gig.min_tier or "").lower(),
        "verified_audience_required": "on" if gig.verified_audience_required else "",
    }
    for i, d in enumerate(details.deliverables if details else []):
        key = f"deliverables[{i}]"
        values[f"{key}.platform"] = str(d.platform)
        values[f"{key}.kind"] = str(d.kind)
        values[f"{key}.count"] = str(d.count)
        values[f"{key}.required_hashtags"] = " ".join(d.required_hashtags or [])
        values[f"{key}.required_mentions"] = " ".join(d.required_mentions or [])
        values[f"{key}.disclosure_required"] = "on" if d.disclosure_required else ""
        values[f"{key}.disclosure_text"] = d.disclosure_text
    return values


def deliverable_rows(values: dict[str, Any]) -> int:
    used = [i for i in range(MAX_DELIVERABLE_ROWS) if values.get(f"deliverables[{i}].platform")]
    return min(MAX_DELIVERABLE_ROWS, max(MIN_DELIVERABLE_ROWS, (max(used) + 2) if used else 0))
