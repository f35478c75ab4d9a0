"""Pages and JSON API for bulk jobs: start one from a selection or a filter, watch its progress, retry failures."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode
from uuid import UUID

from litestar import Controller, Request, Response, get, post
from litestar.datastructures import UploadFile
from litestar.di import NamedDependency, Provide
from litestar.params import FromPath, JSONBody
from litestar.status_codes import HTTP_202_ACCEPTED
from sqlalchemy.ext.asyncio import AsyncSession

from marketplace.accounts.auth import Actor
from marketplace.accounts.guards import brand_member, not_suspended, signed_in
from marketplace.bulk.actions import ACTIONS, MAX_FUND, MAX_ITEMS, MERGE_FIELDS
from marketplace.bulk.models import BulkJob, JobState
from marketplace.bulk.schemas import PROBLEMS, START_PROBLEMS, BulkIn, JobOut, job_out
from marketplace.bulk.services import BulkService, NewItem, Selection
from marketplace.bulk.tracking import tracking_items
from marketplace.creators.services import ids_from
from marketplace.errors import Forbidden, InvalidInput, NotFound
from marketplace.forms import FormReader
from marketplace.i18n import gettext
from marketplace.roster.query import RosterFilter
from marketplace.web import PageController, is_htmx, redirect, render, runtime_of, safe_next

#: Form fields that carry an action's parameters (the rest of the form is the selection).
PARAMETER_FIELDS = ("gig_id", "message", "body", "reason", "comment", "days", "stage")


def provide_bulk(db_session: NamedDependency[AsyncSession], request: Request[Any, Any, Any]) -> BulkService:
    return BulkService(db_session, runtime_of(request).clock)


def _ids(raw: list[str], field: str = "ids") -> list[UUID]:
    ids, bad = ids_from(raw)
    if bad:
        raise InvalidInput({field: gettext("Not ids PostPact knows: %(ids)s", ids=", ".join(bad[:10]))})
    return ids


async def checkout_url(bulk: BulkService, job: BulkJob) -> str | None:
    """A fund job's deals are paid in one checkout (the payments page's, which takes many deals)."""
    if job.action != "fund" or job.state is not JobState.FINISHED:
        return None
    targets = await bulk.done_targets(job)
    return "/brand/payments/checkout?" + urlencode([("c", str(t)) for t in targets]) if targets else None


ROSTER_FIELDS = ("q", "tag", "list", "platform", "country", "owner", "has_deals")


async def selection_from_form(f: FormReader, bulk: BulkService, actor: Actor) -> Selection:
    """Ticked ids, "all N matching" a gig/state filter, or (invitations) a roster selection: ``roster_match`` with
    the roster's filter fields, ``roster_ids`` for ticked entries, or ``roster_view`` for a saved view."""
    if f.text("from_roster", max_length=5):
        # The roster page's own form: its filter fields, then "all matching" or the ticked entries.
        roster = RosterFilter.from_params({k: f.text(k, max_length=200) for k in ROSTER_FIELDS})
        if f.text("all_matching", max_length=5) == "1":
            return Selection(roster=roster)
        ticked = _ids(f.values("entry_id"), "entry_id")
        if not ticked:
            raise InvalidInput({"selection": gettext('Tick at least one person, or choose "all matching".')})
        return Selection(roster=roster.with_ids(ticked))
    view = f.text("roster_view", max_length=100)
    if view:
        return Selection(roster=await bulk.roster_filter(actor, _ids([view], "roster_view")[0]))
    if f.text("roster_match", max_length=5) or f.values("roster_ids"):
        roster = RosterFilter.from_params({k: f.text(k, max_length=200) for k in ROSTER_FIELDS})
        return Selection(roster=roster.with_ids(_ids(f.values("roster_ids"), "roster_ids")))
    if f.text("match_all", max_length=5):
        gig = f.text("match_gig_id", max_length=100)
        gig_ids = _ids([gig], "match_gig_id") if gig else []
        return Selection(gig_id=gig_ids[0] if gig_ids else None,
                         states=[s for s in f.values("match_status") if s])
    return Selection(ids=_ids(f.values("ids")))


class BulkPages(PageController):
    guards = [brand_member()]
    dependencies = {"bulk": Provide(provide_bulk, sync_to_thread=False)}

    async def _refused(self, request: Request[Any, Any, Any], errors: dict[str, str], back: str,
                       status_code: int) -> Response[Any]:
        return render(request, "bulk/refused.html", {"errors": errors, "back": back}, status_code=status_code)

    @post("/brand/bulk", guards=[not_suspended])
    async def start(self, request: Request[Any, Any, Any], bulk: NamedDependency[BulkService]) -> Response[Any]:
        """Start a bulk action on the ticked items, or on every item matching the page's filter."""
        f = FormReader(await request.form())
        back = safe_next(f.text("back", max_length=2000), "/brand/collaborations")
        try:
            selection = await selection_from_form(f, bulk, request.user)
            parameters = {k: f.text(k, max_length=10_000) for k in PARAMETER_FIELDS}
            job = await bulk.start(request.user, f.text("action", max_length=40), parameters, selection)
        except InvalidInput as exc:
            await bulk.session.rollback()
            return await self._refused(request, exc.errors, back, 422)
        return redirect(request, f"/brand/jobs/{job.id}")

    @get("/brand/bulk/new", name="bulk_new")
    async def new(self, request: Request[Any, Any, Any], bulk: NamedDependency[BulkService]) -> Response[Any]:
        """Deals ticked on the deals list (or all matching its filter): choose what to do with them."""
        q = FormReader(request.query_params)
        back = safe_next(q.text("back", max_length=2000), "/brand/collaborations")
        try:
            selection = await selection_from_form(q, bulk, request.user)
            # Counted as a deal action counts them: same scope, same limit; each action re-checks on start.
            items = await bulk.preview(request.user, "message", selection)
        except InvalidInput as exc:
            return await self._refused(request, exc.errors, back, 422)
        names = [n for n, a in ACTIONS.items() if a.target == "deal" and n != "ship"]
        return render(request, "bulk/new.html", {
            "count": len(items), "selection": selection, "back": back, "names": names, "actions": ACTIONS,
            "merge_fields": MERGE_FIELDS, "match_all": bool(q.text("match_all", max_length=5)),
        })

    @get("/brand/shipments/import", name="bulk_ship_form")
    async def ship_form(self, request: Request[Any, Any, Any]) -> Response[Any]:
        return render(request, "bulk/ship.html", {"errors": {}})

    @post("/brand/shipments/import", guards=[not_suspended])
    async def ship_upload(self, request: Request[Any, Any, Any],
                          bulk: NamedDependency[BulkService]) -> Response[Any]:
        """A tracking CSV becomes a ship job; rows naming no deal are reported on the job page, row by row."""
        form = await request.form()
        upload = form.get("file")
        actor: Actor = request.user
        try:
            if not isinstance(upload, UploadFile):
                raise InvalidInput({"file": gettext('Choose the tracking CSV to upload.')})
            assert actor.brand_id is not None
            items = await tracking_items(bulk.session, actor.brand_id, await upload.read())
            job = await bulk.start(actor, "ship", {}, Selection(), items=items)
        except InvalidInput as exc:
            await bulk.session.rollback()
            return render(request, "bulk/ship.html", {"errors": exc.errors}, status_code=422)
        return redirect(request, f"/brand/jobs/{job.id}")

    @get("/brand/jobs", name="bulk_jobs")
    async def jobs(self, request: Request[Any, Any, Any], bulk: NamedDependency[BulkService]) -> Response[Any]:
        return render(request, "bulk/jobs.html", {"jobs": await bulk.recent(request.user), "actions": ACTIONS})

    @get("/brand/jobs/{job_id:uuid}", name="bulk_job")
    async def progress(self, request: Request[Any, Any, Any], job_id: FromPath[UUID],
                       bulk: NamedDependency[BulkService]) -> Response[Any]:
        """The whole page, or (htmx polling every second) only its progress block."""
        return await self._progress(request, bulk, job_id)

    async def _progress(self, request: Request[Any, Any, Any], bulk: BulkService, job_id: UUID) -> Response[Any]:
        job = await bulk.get(request.user, job_id)
        return render(request, "bulk/job.html", {
            "job": job, "spec": ACTIONS.get(job.action), "failures": await bulk.failures(job),
            "checkout_url": await checkout_url(bulk, job), "running": job.state is not JobState.FINISHED,
        }, block="progress")

    @post("/brand/jobs/{job_id:uuid}/retry", guards=[not_suspended])
    async def retry(self, request: Request[Any, Any, Any], job_id: FromPath[UUID],
                    bulk: NamedDependency[BulkService]) -> Response[Any]:
        await bulk.retry_failed(request.user, job_id)
        if is_htmx(request):
            return await self._progress(request, bulk, job_id)
        return redirect(request, f"/brand/jobs/{job_id}")


class BulkApi(Controller):
    path = "/api/v1"
    tags = ["bulk"]
    guards = [signed_in]
    dependencies = {"bulk": Provide(provide_bulk, sync_to_thread=False)}

    async def _out(self, bulk: BulkService, job: BulkJob) -> JobOut:
        return job_out(job, await bulk.failures(job, limit=None), await checkout_url(bulk, job))

    @post("/bulk/{action:str}", status_code=HTTP_202_ACCEPTED, responses=START_PROBLEMS,
          summary=f"Start a bulk action (at most {MAX_ITEMS:,} items a request; fund at most {MAX_FUND})",
          description="Actions: " + ", ".join(ACTIONS) + ". Returns the job at once; poll GET /api/v1/jobs/{id}. "
          "Merge fields for message templates: " + ", ".join("{" + k + "}" for k in MERGE_FIELDS) + ".")
    async def start(self, request: Request[Any, Any, Any], action: FromPath[str], data: JSONBody[BulkIn],
                    bulk: NamedDependency[BulkService]) -> JobOut:
        actor: Actor = request.user
        if not actor.is_brand:
            raise Forbidden(gettext('Bulk actions are for brand teams.'))
        if action not in ACTIONS:
            raise NotFound(
                gettext(
                    "There is no bulk action called %(action)s; use one of %(actions)s.",
                    action=repr(action),
                    actions=", ".join(ACTIONS),
                )
            )
        items: list[NewItem] | None = None
        selection = Selection()
        if action == "ship" and data.csv is not None:
            assert actor.brand_id is not None
            items = await tracking_items(bulk.session, actor.brand_id, data.csv)
        elif data.ids is not None and data.filter is not None:
            raise InvalidInput({"ids": gettext('Send ids or a filter, not both.')})
        elif data.ids is not None:
            selection = Selection(ids=_ids(data.ids))
        elif data.filter is not None and data.filter.roster_view_id is not None:
            selection = Selection(roster=await bulk.roster_filter(actor, data.filter.roster_view_id))
        elif data.filter is not None and (data.filter.roster is not None or data.filter.roster_ids):
            roster = RosterFilter.from_params(data.filter.roster or {})
            selection = Selection(roster=roster.with_ids(_ids(data.filter.roster_ids or [], "roster_ids")))
        elif data.filter is not None:
            selection = Selection(gig_id=data.filter.gig_id, states=list(data.filter.status))
        else:
            raise InvalidInput({"ids": gettext('Send the ids to act on, or a filter.')})
        job = await bulk.start(actor, action, data.parameters, selection, items=items)
        return await self._out(bulk, job)

    @get("/jobs/{job_id:uuid}", responses=PROBLEMS, summary="A bulk job: state, done, failed, total and errors")
    async def show(self, request: Request[Any, Any, Any], job_id: FromPath[UUID],
                   bulk: NamedDependency[BulkService]) -> JobOut:
        return await self._out(bulk, await bulk.get(request.user, job_id))

    @post("/jobs/{job_id:uuid}/retry", status_code=HTTP_202_ACCEPTED, responses=PROBLEMS,
          summary="Retry a job's failed items (done items are never redone)")
    async def retry(self, request: Request[Any, Any, Any], job_id: FromPath[UUID],
                    bulk: NamedDependency[BulkService]) -> JobOut:
        return await self._out(bulk, await bulk.retry_failed(request.user, job_id))


ROUTES: list[Any] = [BulkPages, BulkApi]
