"""The immutable terms of a deal: a snapshot of the gig as accepted, with a content hash both sides can cite."""

from __future__ import annotations

import contextlib
import hashlib
import json
from collections.abc import Iterator
from contextvars import ContextVar
from dataclasses import MISSING, asdict, dataclass, field, fields
from typing import Any

TERMS_VERSION = 1


@dataclass(frozen=True)
class DeliverableTerms:
    platform: str
    kind: str
    count: int
    required_hashtags: tuple[str, ...] = ()
    required_mentions: tuple[str, ...] = ()
    disclosure_required: bool = True
    disclosure_text: str = "#ad"


@dataclass(frozen=True)
class Terms:
    """Everything both parties agreed to. Deadlines, verification and escrow read these, never the live gig."""

    gig_id: str
    gig_title: str
    brief: str
    brand_name: str
    creator_display_name: str
    currency: str
    #: The creator's fee in minor units: the gig's base fee, or the accepted counter-offer.
    fee_amount: int
    commission_bps: int | None
    product_included: bool
    product_name: str
    product_retail_value: int
    deliverables: tuple[DeliverableTerms, ...]
    #: The creator's social account the deal is for (verification checks the post's author against it).
    platform: str
    handle: str
    revision_rounds: int
    sign_within_hours: int = 72
    fund_within_hours: int = 72
    ship_within_days: int = 7
    receipt_within_days: int = 14
    post_within_days: int = 14
    review_window_hours: int = 72
    keep_live_days: int = 14
    ghost_grace_hours: int = 72
    reminder_offsets_hours: tuple[int, ...] = (-72, -24, 24, 72)
    disclosure_clause: str = (
        "The creator discloses the paid partnership in every post as required by the platform and the law "
        "(FTC 16 CFR Part 255, ASA/CAP code): the disclosure text appears in the caption, not hidden in hashtags."
    )
    version: int = field(default=TERMS_VERSION)
    #: The store variant (size, colour) the creator chose while signing, when the product comes from a connected
    #: store and has options: added at the signature, so the signed hash covers the choice (stores.signing).
    store_variant_id: str | None = None
    product_variant: str | None = None

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["deliverables"] = [asdict(d) for d in self.deliverables]
        data["reminder_offsets_hours"] = list(self.reminder_offsets_hours)
        for d in data["deliverables"]:
            d["required_hashtags"] = list(d["required_hashtags"])
            d["required_mentions"] = list(d["required_mentions"])
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Terms:
        values = dict(data)
        values["deliverables"] = tuple(
            DeliverableTerms(
                **{
                    **d,
                    "required_hashtags": tuple(d.get("required_hashtags", ())),
                    "required_mentions": tuple(d.get("required_mentions", ())),
                }
            )
            for d in values.get("deliverables", ())
        )
        values["reminder_offsets_hours"] = tuple(values.get("reminder_offsets_hours", (-72, -24, 24, 72)))
        return cls(**values)

    def content_hash(self) -> str:
        return terms_hash(self.to_dict())


#: Each field's default as ``Terms.from_dict`` fills it in when the stored terms lack it.
TERMS_DEFAULTS: dict[str, Any] = {f.name: f.default for f in fields(Terms) if f.default is not MISSING}


def ghost_grace_hours(data: dict[str, Any]) -> int:
    """``Terms.from_dict(data).ghost_grace_hours`` without parsing the rest: the deadline sweep needs only this
    field of each due deal's terms (and reads it, with the few others it needs, in its SELECT)."""
    value = data.get("ghost_grace_hours")
    return TERMS_DEFAULTS["ghost_grace_hours"] if value is None else value


def canonical_json(data: dict[str, Any]) -> bytes:
    return json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def terms_hash(data: dict[str, Any]) -> str:
    """SHA-256 of the canonical JSON: the same terms always give the same hash, any edit a different one."""
    return hashlib.sha256(canonical_json(data)).hexdigest()


#: While a batch of deals is worked on (``parsing_once``): each terms dict's parsed ``Terms``, by the dict's identity
#: (the dict is kept beside it, so its id can't be reused by another dict during the batch).
_parsed: ContextVar[dict[int, tuple[dict[str, Any], Terms]] | None] = ContextVar("postpact_parsed_terms", default=None)


def parsed_terms(data: dict[str, Any]) -> Terms:
    """``Terms.from_dict(data)``; inside ``parsing_once()`` each deal's terms are parsed once, however many steps of
    the batch (due dates, deadline watch, caption check...) ask for them. Terms are immutable once agreed, so the
    same dict means the same terms for the batch's duration."""
    memo = _parsed.get()
    if memo is None:
        return Terms.from_dict(data)
    hit = memo.get(id(data))
    if hit is not None and hit[0] is data:
        return hit[1]
    terms = Terms.from_dict(data)
    memo[id(data)] = (data, terms)
    return terms


@contextlib.contextmanager
def parsing_once() -> Iterator[None]:
    """Parse each deal's terms once for the duration (a bulk step's batch); nested uses share the outer memo."""
    if _parsed.get() is not None:
        yield
        return
    token = _parsed.set({})
    try:
        yield
    finally:
        _parsed.reset(token)
