"""JSON shapes of the bulk-job API, and the problem-details responses its routes list in the OpenAPI schema."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

import msgspec
from litestar.openapi.datastructures import ResponseSpec

from marketplace.bulk.models import BulkJob, BulkJobItem
from marketplace.clock import as_utc


class FilterIn(msgspec.Struct, forbid_unknown_fields=True):
    """Act on everything that matches instead of a list of ids: deals or applications of one gig and/or states
    (deal states such as ``verified``, application states such as ``pending``). No states: the action's usual
    ones (e.g. ``verified`` for approve_post)."""

    gig_id: UUID | None = None
    status: list[str] = []
    #: Invitations only: the roster's filter as its query string keys (q, tag, list, platform, country, owner,
    #: has_deals), ticked roster entries, or a saved roster view. People not on PostPact yet are listed as failed.
    roster: dict[str, str] | None = None
    roster_ids: list[str] | None = None
    roster_view_id: UUID | None = None


class BulkIn(msgspec.Struct, forbid_unknown_fields=True):
    """Ids (deals; applications for accept/decline; creators for invite) or a filter, and the action's parameters:
    invite ``{gig_id, message}``, message ``{body}`` (merge fields {first_name} {name} {gig} {fee} {brand}),
    decline ``{reason}``, cancel ``{reason}`` (required), extend ``{days, stage?, reason?}``, approve_draft and
    approve_post ``{comment?}``. ship takes ``csv``: a tracking CSV (deal_id or email or handle, carrier,
    tracking_number) instead of ids."""

    ids: list[str] | None = None
    filter: FilterIn | None = None
    parameters: dict[str, Any] = {}
    csv: str | None = None


class JobErrorOut(msgspec.Struct):
    item_id: UUID
    target_id: UUID | None
    label: str
    error: str
    attempts: int


class JobOut(msgspec.Struct):
    id: UUID
    action: str
    #: queued, running or finished.
    state: str
    total: int
    done: int
    failed: int
    created_at: datetime
    finished_at: datetime | None
    parameters: dict[str, Any]
    #: Every failed item with the reason in words.
    errors: list[JobErrorOut] = []
    #: For fund jobs: one checkout page paying every deal the job started.
    checkout_url: str | None = None


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


def _problem(description: str) -> ResponseSpec:
    return ResponseSpec(data_container=ProblemOut, description=description, media_type="application/problem+json")


#: The error responses every bulk route can give.
PROBLEMS: dict[int, ResponseSpec] = {
    401: _problem("No valid API token"),
    403: _problem("Your role can't do this (or your account is suspended)"),
    404: _problem("No such job, or an id that isn't one of your brand's"),
}
START_PROBLEMS: dict[int, ResponseSpec] = {
    **PROBLEMS,
    400: _problem("The body isn't valid JSON of this shape"),
    422: _problem("A parameter is wrong, a merge field unknown, or the selection is over the action's maximum"),
}


def job_out(job: BulkJob, failures: list[BulkJobItem] | None = None, checkout_url: str | None = None) -> JobOut:
    return JobOut(
        id=job.id, action=job.action, state=str(job.state), total=job.total, done=job.done, failed=job.failed,
        created_at=as_utc(job.created_at), finished_at=as_utc(job.finished_at) if job.finished_at else None,
        parameters=dict(job.parameters or {}),
        errors=[JobErrorOut(i.id, i.target_id, i.label, i.error or "", i.attempts) for i in failures or []],
        checkout_url=checkout_url,
    )
