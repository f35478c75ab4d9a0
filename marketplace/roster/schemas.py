"""JSON shapes of the roster API, and the problem-details responses its routes declare in the OpenAPI schema."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any
from uuid import UUID

import msgspec
from litestar.openapi.datastructures import ResponseSpec

from marketplace.clock import as_utc
from marketplace.creators.services import MAX_FOLLOWERS
from marketplace.gigs.schemas import MoneyOut
from marketplace.gigs.validation import COUNTRY_CODES
from marketplace.openapi import EMAIL, FILLED_TEXT, NO_NUL, UUID_ITEMS, documented
from marketplace.roster.csvio import ImportReport
from marketplace.roster.inputs import MAX_TAGS_PER_ENTRY
from marketplace.roster.services import RosterPage, RosterRow


class ProblemFieldOut(msgspec.Struct):
    field: str
    message: str


class ProblemOut(msgspec.Struct):
    """RFC 9457 problem details (``application/problem+json``)."""

    type: str
    title: str
    status: int
    detail: str
    instance: str
    errors: list[ProblemFieldOut] | None = None


def problems(*statuses: int) -> dict[int, ResponseSpec]:
    """Error responses for a route's OpenAPI entry: always 401 and 403 (sign-in, brand teams only), plus these."""
    descriptions = {
        400: "The request body or parameters are not valid",
        401: "No valid API token",
        403: "Not a brand team member, or the role can't do this",
        404: "Not found for your brand: another brand's entries (or gigs) are never found",
        409: "The person is already on your roster",
        413: "The upload is too large",
        415: "Send text/csv or multipart/form-data with a file",
        422: "A field breaks a rule: one message per field",
    }
    return {
        status: ResponseSpec(data_container=ProblemOut, description=descriptions[status],
                             media_type="application/problem+json", generate_examples=False)
        for status in sorted({401, 403, *statuses})
    }


#: What ``inputs.TAG_RE`` takes once the tag is trimmed and lower-cased.
TAG = r"^[A-Za-z0-9][A-Za-z0-9 _-]{0,39}$"
#: A handle as ``inputs.normalise_handle`` and ``HANDLE_RE`` take it (an optional @), or nothing.
HANDLE = r"^@?[A-Za-z0-9._-]{1,100}$|^$"


class RosterTagIn(msgspec.Struct, forbid_unknown_fields=True):
    """Tag (or, with ``untag``, untag) a selection in one statement, whatever its size: ticked entries (``ids``),
    everything a ``filter`` matches — the roster page's query-string keys q, tag, list, platform, country, owner,
    has_deals; ``{}`` is the whole roster ("select all N matching") — or a saved view (``view_id``). ``ids`` may be
    combined with a filter or a view (the ticked entries among those matching)."""

    tag: Annotated[str, documented(pattern=TAG)]
    untag: bool = False
    ids: Annotated[list[str] | None, documented(min_items=1, items=UUID_ITEMS)] = None
    filter: dict[str, str] | None = None
    view_id: UUID | None = None


class RosterTagOut(msgspec.Struct):
    tag: str
    #: How many entries the selection matched, and how many gained (or lost) the tag now.
    matched: int
    changed: int


class RosterEntryIn(msgspec.Struct, forbid_unknown_fields=True):
    """Add a person. ``name`` and an email or at least one handle are required."""

    name: Annotated[str | None, documented(max_length=120, pattern=FILLED_TEXT)] = None
    email: Annotated[str | None, documented(max_length=320, pattern=EMAIL)] = None
    country: Annotated[str | None, documented(enum=["", *sorted(COUNTRY_CODES), None])] = None
    followers: Annotated[int | None, documented(minimum=0, maximum=MAX_FOLLOWERS)] = None
    tiktok: Annotated[str | None, documented(pattern=HANDLE)] = None
    instagram: Annotated[str | None, documented(pattern=HANDLE)] = None
    youtube: Annotated[str | None, documented(pattern=HANDLE)] = None
    tags: Annotated[list[str] | None, documented(max_items=MAX_TAGS_PER_ENTRY,
                                                 items={"type": "string", "pattern": TAG})] = None
    notes: Annotated[str | None, documented(max_length=5000, pattern=NO_NUL)] = None
    #: Email of a member of your team who looks after this person.
    owner: Annotated[str | None, documented(max_length=320, pattern=EMAIL)] = None
    #: Your custom fields by key.
    fields: Annotated[dict[str, str] | None,
                      documented(additionalProperties={"type": "string", "maxLength": 500, "pattern": NO_NUL})] = None


class RosterEntryPatch(RosterEntryIn, forbid_unknown_fields=True):
    """Change some fields; ``tags`` replaces the entry's tags."""


def raw_from_in(data: RosterEntryIn) -> dict[str, Any]:
    """Only the fields that were sent (a PATCH leaves the others alone)."""
    raw: dict[str, Any] = {
        name: getattr(data, name) for name in ("name", "email", "country", "followers", "tiktok", "instagram",
                                               "youtube", "tags", "notes", "owner")
        if getattr(data, name) is not None
    }
    for key, value in (data.fields or {}).items():
        raw[f"field:{key}"] = value
    return raw


class ReliabilityOut(msgspec.Struct):
    #: Proven reliability (0-1) as the reputation engine last ranked it.
    score: float | None
    tier: str | None


class RosterEntryOut(msgspec.Struct):
    id: UUID
    name: str
    email: str | None
    country: str | None
    followers: int
    tiktok: str | None
    instagram: str | None
    youtube: str | None
    tags: list[str]
    notes: str
    owner_id: UUID | None
    fields: dict[str, Any]
    source: str
    #: The PostPact creator this person is, when known.
    creator_id: UUID | None
    deals: int
    ghostings: int
    #: Paid to the creator (released escrow), one amount per currency.
    lifetime_spend: list[MoneyOut]
    reliability: ReliabilityOut | None
    last_contact_at: datetime | None
    created_at: datetime


class RosterListOut(msgspec.Struct):
    items: list[RosterEntryOut]
    total: int
    page: int
    pages: int
    per_page: int


class ImportErrorOut(msgspec.Struct):
    #: The row as a spreadsheet numbers it (the header is row 1).
    row: int
    field: str
    message: str


class ImportReportOut(msgspec.Struct):
    dry_run: bool
    rows: int
    valid: int
    invalid: int
    created: int
    updated: int
    unchanged: int
    invited: int
    errors: list[ImportErrorOut]
    #: CSV column -> roster field ("" = skipped).
    mapping: dict[str, str]


def entry_out(row: RosterRow) -> RosterEntryOut:
    e = row.entry
    rep = row.reputation
    return RosterEntryOut(
        id=e.id, name=e.name, email=e.email, country=e.country, followers=e.followers, tiktok=e.tiktok,
        instagram=e.instagram, youtube=e.youtube, tags=row.tags, notes=e.notes, owner_id=e.owner_id,
        fields=dict(e.custom_fields or {}), source=e.source, creator_id=e.creator_id, deals=row.stats.deals,
        ghostings=row.stats.ghostings,
        lifetime_spend=[MoneyOut(amount, currency) for currency, amount in sorted(row.stats.spend.items())],
        reliability=ReliabilityOut(rep.reliability, rep.tier) if rep is not None else None,
        last_contact_at=as_utc(row.last_contact) if row.last_contact else None, created_at=as_utc(e.created_at),
    )


def list_out(page: RosterPage) -> RosterListOut:
    return RosterListOut([entry_out(r) for r in page.rows], page.total, page.page, page.pages, page.per_page)


def report_out(report: ImportReport) -> ImportReportOut:
    return ImportReportOut(
        dry_run=report.dry_run, rows=report.rows, valid=report.valid, invalid=report.invalid, created=report.created,
        updated=report.updated, unchanged=report.unchanged, invited=report.invited,
        errors=[ImportErrorOut(e.row, e.field, e.message) for e in report.errors], mapping=report.mapping,
    )
