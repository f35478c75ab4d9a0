"""Roster pages (table, entry, CSV import and export, claim links) and the roster JSON API.

Long because the pages and the API of one area share their selection, import and export helpers here: each route is
short, and splitting them would only scatter the same few helpers over two modules.
"""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import urlencode
from uuid import UUID

import sqlalchemy as sa
from litestar import Controller, Request, Response, delete, get, patch, post
from litestar.datastructures import UploadFile
from litestar.di import NamedDependency, Provide
from litestar.exceptions import HTTPException
from litestar.params import FromPath, FromQuery, JSONBody
from litestar.status_codes import HTTP_200_OK, HTTP_201_CREATED, HTTP_202_ACCEPTED, HTTP_204_NO_CONTENT
from sqlalchemy.ext.asyncio import AsyncSession

from marketplace.accounts.auth import Actor
from marketplace.accounts.controllers import provide_accounts, start_session
from marketplace.accounts.guards import brand_member
from marketplace.accounts.models import UserKind
from marketplace.accounts.services import AccountService, SignUp
from marketplace.brands.models import BrandRole
from marketplace.brands.services import member_of
from marketplace.bulk.actions import MERGE_FIELDS
from marketplace.bulk.models import BulkJob
from marketplace.bulk.schemas import JobOut, job_out
from marketplace.bulk.services import BulkService, NewItem, Selection
from marketplace.creators.models import Creator
from marketplace.creators.services import ids_from
from marketplace.csvfiles import CSV_MEDIA_TYPE, attachment_headers, read_csv
from marketplace.errors import Forbidden, InvalidInput, NotFound, PostPactError
from marketplace.forms import FormReader
from marketplace.gigs.models import Gig, GigStatus
from marketplace.i18n import gettext
from marketplace.roster import claims
from marketplace.roster.csvio import (
    IMPORT_FIELDS,
    MAX_IMPORT_ROWS,
    RosterImporter,
    auto_mapping,
    export_csv,
    load_upload,
    store_upload,
)
from marketplace.roster.inputs import ENTRY_FIELDS
from marketplace.roster.models import HANDLE_COLUMNS
from marketplace.roster.query import (
    COLUMNS,
    DEFAULT_PER_PAGE,
    PER_PAGE_CHOICES,
    SORTS,
    RosterFilter,
    parse_columns,
)
from marketplace.roster.schemas import (
    ImportReportOut,
    RosterEntryIn,
    RosterEntryOut,
    RosterEntryPatch,
    RosterListOut,
    RosterTagIn,
    RosterTagOut,
    entry_out,
    list_out,
    problems,
    raw_from_in,
    report_out,
)
from marketplace.roster.services import RosterService
from marketplace.verification.posts import platform_label
from marketplace.web import PageController, client_ip, flash, is_htmx, redirect, render, runtime_of

MANAGERS = brand_member(BrandRole.MANAGER)


class UnsupportedMediaType(HTTPException):
    status_code = 415
PREVIEW_ROWS = 5


def provide_roster(db_session: NamedDependency[AsyncSession], request: Request[Any, Any, Any]) -> RosterService:
    return RosterService(db_session, runtime_of(request))


def _int(value: object, default: int) -> int:
    try:
        return int(str(value))
    except ValueError:
        return default


def _selection(form: Any) -> RosterFilter:
    """Ticked rows, or — with "all matching" — the filter the page was showing (never only the visible page)."""
    filters = RosterFilter.from_params(form)
    if form.get("all_matching") == "1":
        return filters
    ids, _ = ids_from(FormReader(form).values("entry_id"))
    if not ids:
        raise InvalidInput({"selection": gettext('Tick at least one person, or choose "all matching".')})
    return filters.with_ids(ids)


class RosterPages(PageController):
    path = "/brand/roster"
    guards = [brand_member()]
    dependencies = {"roster": Provide(provide_roster, sync_to_thread=False)}

    async def _table(self, request: Request[Any, Any, Any], roster: RosterService, *, status_code: int = 200,
                     errors: dict[str, str] | None = None, message: str | None = None,
                     params: Any = None) -> Response[Any]:
        params = params if params is not None else request.query_params
        actor: Actor = request.user
        brand_id = member_of(actor)
        filters = RosterFilter.from_params(params)
        sort = str(params.get("sort") or "name")
        per_page = _int(params.get("per_page"), DEFAULT_PER_PAGE)
        page = await roster.page(actor, filters, sort=sort, page=_int(params.get("page"), 1), per_page=per_page)
        fields = await roster.fields(brand_id)
        cols = parse_columns(FormReader(params).values("cols"), [f.key for f in fields])
        state = {**filters.to_params(), "sort": page.sort, "per_page": str(page.per_page)}
        tags, lists = await roster.tags(brand_id), await roster.lists(brand_id)
        query = urlencode([*state.items(), *(("cols", c) for c in cols)])
        return render(request, "roster/index.html", {
            "page": page, "filters": filters, "state": state, "cols": cols, "columns": COLUMNS, "fields": fields,
            "sorts": SORTS, "query": query,
            "tags": tags, "lists": lists, "views": await roster.views(actor), "platforms": HANDLE_COLUMNS,
            "tag_options": [(name, f"{name} ({count})") for name, count in tags],
            "list_options": [(str(item.id), item.name) for item in lists],
            "platform_options": [(p, platform_label(p)) for p in HANDLE_COLUMNS],
            "team_options": [(str(t.user_id), t.name) for t in await roster.team(brand_id)],
            "per_page_options": [(str(n), str(n)) for n in PER_PAGE_CHOICES],
            "gig_options": [(str(gig_id), title) for gig_id, title in await roster.session.execute(
                sa.select(Gig.id, Gig.title).where(Gig.brand_id == brand_id, Gig.status == GigStatus.OPEN)
                .order_by(Gig.title))],
            "merge_fields": MERGE_FIELDS,
            "errors": errors or {}, "message": message,
            "can_edit": actor.brand_role in (BrandRole.OWNER, BrandRole.MANAGER),
            "page_url": lambda n: "/brand/roster?" + urlencode([*state.items(), ("page", str(n)),
                                                              *(("cols", c) for c in cols)]),
        }, block="table", status_code=status_code)

    @get("/", name="brand_roster")
    async def index(self, request: Request[Any, Any, Any], roster: NamedDependency[RosterService]) -> Response[Any]:
        return await self._table(request, roster)

    async def _after(self, request: Request[Any, Any, Any], roster: RosterService, form: Any,
                     message: str) -> Response[Any]:
        if is_htmx(request):
            return await self._table(request, roster, message=message, params=form)
        flash(request, message)
        back = urlencode(RosterFilter.from_params(form).to_params())
        return redirect(request, "/brand/roster" + (f"?{back}" if back else ""))

    @post("/tag", guards=[MANAGERS])
    async def tag(self, request: Request[Any, Any, Any], roster: NamedDependency[RosterService]) -> Response[Any]:
        form = await request.form()
        add = form.get("action") != "untag"
        try:
            count = await roster.tag_selection(request.user, _selection(form), form.get("tag_name"), add=add)
        except InvalidInput as exc:
            return await self._table(request, roster, errors=exc.errors, status_code=422, params=form)
        tag = str(form.get("tag_name", "")).strip().lower()
        verb = "Tagged" if add else "Untagged"
        return await self._after(request, roster, form, f"{verb} {count} {'person' if count == 1 else 'people'} "
                                                        f"{'with' if add else 'from'} “{tag}”.")

    @post("/list", guards=[MANAGERS])
    async def add_to_list(self, request: Request[Any, Any, Any],
                          roster: NamedDependency[RosterService]) -> Response[Any]:
        form = await request.form()
        try:
            count = await roster.add_to_list(request.user, _selection(form), form.get("list_name"))
        except InvalidInput as exc:
            return await self._table(request, roster, errors=exc.errors, status_code=422, params=form)
        return await self._after(request, roster, form, f"Added {count} to the list “{form.get('list_name')}”.")

    @post("/views", guards=[MANAGERS])
    async def save_view(self, request: Request[Any, Any, Any],
                        roster: NamedDependency[RosterService]) -> Response[Any]:
        form = await request.form()
        try:
            view = await roster.save_view(request.user, form.get("view_name"), form.get("query", ""))
        except InvalidInput as exc:
            return await self._table(request, roster, errors=exc.errors, status_code=422)
        flash(request, gettext('View “%(name)s” saved for your team.', name=view.name))
        return redirect(request, "/brand/roster?" + view.query)

    @post("/views/{view_id:uuid}/delete", guards=[MANAGERS])
    async def delete_view(self, request: Request[Any, Any, Any], view_id: FromPath[UUID],
                          roster: NamedDependency[RosterService]) -> Response[Any]:
        await roster.delete_view(request.user, view_id)
        flash(request, gettext('View deleted.'))
        return redirect(request, "/brand/roster")

    @post("/fields", guards=[MANAGERS])
    async def add_field(self, request: Request[Any, Any, Any],
                        roster: NamedDependency[RosterService]) -> Response[Any]:
        form = await request.form()
        try:
            created = await roster.add_field(request.user, form.get("label"))
        except InvalidInput as exc:
            return await self._table(request, roster, errors=exc.errors, status_code=422)
        flash(
            request,
            gettext("Custom field “%(label)s” added (CSV column field:%(key)s).", label=created.label, key=created.key),
        )
        return redirect(request, "/brand/roster")

    # --- one entry -------------------------------------------------------------------------------------------

    async def _entry_page(self, request: Request[Any, Any, Any], roster: RosterService, entry_id: UUID | None, *,
                          form: dict[str, Any] | None = None, errors: dict[str, str] | None = None,
                          status_code: int = 200) -> Response[Any]:
        brand_id = member_of(request.user)
        row = await roster.row(request.user, entry_id) if entry_id else None
        team = await roster.team(brand_id)
        if form is None and row is not None:
            e = row.entry
            owner = next((t.email for t in team if t.user_id == e.owner_id), "")
            form = {"name": e.name, "email": e.email or "", "country": e.country or "", "followers": e.followers,
                    "notes": e.notes, "owner": owner, "tags": ", ".join(row.tags),
                    **{p: getattr(e, p) or "" for p in HANDLE_COLUMNS},
                    **{f"field:{k}": v for k, v in (e.custom_fields or {}).items()}}
        return render(request, "roster/entry.html", {
            "row": row, "form": form or {}, "errors": errors or {},
            "owner_options": [(t.email, t.name) for t in team],
            "fields": await roster.fields(brand_id), "platforms": HANDLE_COLUMNS,
        }, block="form" if errors else None, status_code=status_code)

    @get("/new", name="roster_new")
    async def new(self, request: Request[Any, Any, Any], roster: NamedDependency[RosterService]) -> Response[Any]:
        return await self._entry_page(request, roster, None)

    @staticmethod
    def _raw(form: Any, field_keys: list[str]) -> dict[str, Any]:
        f = FormReader(form)
        raw: dict[str, Any] = {name: f.text(name, max_length=10_000, strip=False) for name in (*ENTRY_FIELDS, "tags")}
        raw.update({f"field:{k}": f.text(f"field:{k}", max_length=10_000) for k in field_keys})
        return raw

    @post("/", guards=[MANAGERS])
    async def create(self, request: Request[Any, Any, Any], roster: NamedDependency[RosterService]) -> Response[Any]:
        form = await request.form()
        raw = self._raw(form, await roster.field_keys(member_of(request.user)))
        try:
            entry = await roster.create(request.user, raw)
        except (InvalidInput, PostPactError) as exc:
            errors = exc.errors if isinstance(exc, InvalidInput) else {"form": exc.message}
            return await self._entry_page(request, roster, None, form=raw, errors=errors, status_code=exc.status_code)
        flash(request, gettext('%(name)s added to your roster.', name=entry.name))
        return redirect(request, f"/brand/roster/{entry.id}")

    @get("/{entry_id:uuid}", name="roster_entry")
    async def show(self, request: Request[Any, Any, Any], entry_id: FromPath[UUID],
                   roster: NamedDependency[RosterService]) -> Response[Any]:
        return await self._entry_page(request, roster, entry_id)

    @post("/{entry_id:uuid}", guards=[MANAGERS])
    async def update(self, request: Request[Any, Any, Any], entry_id: FromPath[UUID],
                     roster: NamedDependency[RosterService]) -> Response[Any]:
        form = await request.form()
        raw = self._raw(form, await roster.field_keys(member_of(request.user)))
        try:
            await roster.update(request.user, entry_id, raw)
        except InvalidInput as exc:
            return await self._entry_page(request, roster, entry_id, form=raw, errors=exc.errors, status_code=422)
        flash(request, gettext('Saved.'))
        return redirect(request, f"/brand/roster/{entry_id}")

    @post("/{entry_id:uuid}/delete", guards=[MANAGERS])
    async def remove(self, request: Request[Any, Any, Any], entry_id: FromPath[UUID],
                     roster: NamedDependency[RosterService]) -> Response[Any]:
        await roster.delete(request.user, entry_id)
        flash(request, gettext('Removed from your roster.'))
        return redirect(request, "/brand/roster")

    # --- CSV ---------------------------------------------------------------------------------------------------

    @get("/export.csv", name="roster_export")
    async def export(self, request: Request[Any, Any, Any], roster: NamedDependency[RosterService]) -> Response[Any]:
        text = await export_csv(roster, member_of(request.user), RosterFilter.from_params(request.query_params))
        return Response(text, media_type=CSV_MEDIA_TYPE, headers=attachment_headers("roster.csv"))

    @get("/import", name="roster_import")
    async def import_form(self, request: Request[Any, Any, Any]) -> Response[Any]:
        return render(request, "roster/import.html", {"upload": None, "errors": {}, "max_rows": MAX_IMPORT_ROWS})

    @post("/import", guards=[MANAGERS])
    async def upload(self, request: Request[Any, Any, Any], roster: NamedDependency[RosterService]) -> Response[Any]:
        form = await request.form()
        file = form.get("file")
        actor: Actor = request.user
        try:
            if not isinstance(file, UploadFile) or not file.filename:
                raise InvalidInput({"file": gettext('Choose a CSV file to upload.')})
            stored = await store_upload(roster, member_of(actor), actor.user_id, file.filename, await file.read())
        except InvalidInput as exc:
            return render(request, "roster/import.html", {"upload": None, "errors": exc.errors,
                                                          "max_rows": MAX_IMPORT_ROWS}, status_code=422)
        return redirect(request, f"/brand/roster/imports/{stored.id}")

    async def _import_page(self, request: Request[Any, Any, Any], roster: RosterService, import_id: UUID, *,
                           mapping: dict[str, str] | None = None, status_code: int = 200,
                           errors: dict[str, str] | None = None) -> Response[Any]:
        brand_id = member_of(request.user)
        stored = await load_upload(roster, brand_id, import_id)
        table = read_csv(stored.content, max_rows=MAX_IMPORT_ROWS)
        field_keys = await roster.field_keys(brand_id)
        importer = RosterImporter(roster)
        mapping = mapping or stored.mapping or auto_mapping(table.header, field_keys,
                                                            await importer.saved_mapping(brand_id))
        gigs = list(await roster.session.execute(
            sa.select(Gig.id, Gig.title).where(Gig.brand_id == brand_id, Gig.status == GigStatus.OPEN)
            .order_by(Gig.title)))
        return render(request, "roster/import.html", {
            "upload": stored, "table": table, "preview": table.rows[:PREVIEW_ROWS], "mapping": mapping,
            "targets": [*IMPORT_FIELDS, *(f"field:{k}" for k in field_keys)], "report": stored.report or None,
            "errors": errors or {}, "gigs": gigs, "max_rows": MAX_IMPORT_ROWS,
        }, block="report", status_code=status_code)

    @get("/imports/{import_id:uuid}", name="roster_import_detail")
    async def import_detail(self, request: Request[Any, Any, Any], import_id: FromPath[UUID],
                            roster: NamedDependency[RosterService]) -> Response[Any]:
        return await self._import_page(request, roster, import_id)

    @post("/imports/{import_id:uuid}", guards=[MANAGERS])
    async def run_import(self, request: Request[Any, Any, Any], import_id: FromPath[UUID],
                         roster: NamedDependency[RosterService]) -> Response[Any]:
        form = await request.form()
        brand_id = member_of(request.user)
        stored = await load_upload(roster, brand_id, import_id)
        table = read_csv(stored.content, max_rows=MAX_IMPORT_ROWS)
        mapping = {column: str(form.get(f"map_{i}", "")) for i, column in enumerate(table.header)}
        dry_run = form.get("action") != "import"
        gig_ids, _ = ids_from([form.get("gig_id")] if form.get("gig_id") else [])
        if not dry_run and len(table.rows) > SYNC_IMPORT_ROWS:
            # A large file is imported by a background job: its page shows the progress, failures and a retry.
            stored.mapping, stored.gig_id = mapping, (gig_ids[0] if gig_ids else None)
            job = await start_import_job(roster, request.user, stored, invite=form.get("invite") == "1")
            return redirect(request, f"/brand/jobs/{job.id}")
        report = await RosterImporter(roster).run(brand_id, table, mapping, dry_run=dry_run,
                                                  invite=form.get("invite") == "1",
                                                  gig_id=gig_ids[0] if gig_ids else None)
        stored.mapping, stored.report = mapping, report.as_dict()
        stored.gig_id = gig_ids[0] if gig_ids else None
        if not dry_run:
            stored.imported_at = roster.now
            flash(
                request,
                gettext(
                    "Imported: %(created)s added, %(updated)s updated, %(unchanged)s unchanged, %(invalid)s rows "
                    "with problems (not imported).",
                    created=report.created,
                    updated=report.updated,
                    unchanged=report.unchanged,
                    invalid=report.invalid,
                ),
            )
            return redirect(request, f"/brand/roster/imports/{import_id}")
        status = 422 if report.errors else 200
        return await self._import_page(request, roster, import_id, mapping=mapping, status_code=status)


#: Files up to this many rows are imported while the page waits; bigger ones by a background job.
SYNC_IMPORT_ROWS = 2_000


async def start_import_job(roster: RosterService, actor: Actor, stored: Any, *, invite: bool) -> BulkJob:
    return await BulkService(roster.session, roster.runtime.clock).start(
        actor, "import", {"invite": "1" if invite else ""}, Selection(),
        items=[NewItem(stored.id, (stored.filename or "roster.csv")[:200])])


class ClaimPages(PageController):
    """The link in a roster invitation: sign up (or sign in) as a creator, then land on the gig."""

    dependencies = {"roster": Provide(provide_roster, sync_to_thread=False),
                    "accounts": Provide(provide_accounts, sync_to_thread=False)}

    @get("/roster/claim/{token:str}", name="roster_claim")
    async def show(self, request: Request[Any, Any, Any], token: FromPath[str],
                   roster: NamedDependency[RosterService]) -> Response[Any]:
        pending = await claims.pending(roster, token)
        return render(request, "roster/claim.html", {"pending": pending, "token": token, "errors": {},
                                                     "form": {"email": pending.entry.email or "" if pending else "",
                                                              "full_name": pending.entry.name if pending else ""}},
                      status_code=200 if pending else 400)

    @post("/roster/claim/{token:str}")
    async def claim(self, request: Request[Any, Any, Any], token: FromPath[str],
                    roster: NamedDependency[RosterService], accounts: NamedDependency[AccountService]) -> Response[Any]:
        pending = await claims.pending(roster, token)
        if pending is None:
            return render(request, "roster/claim.html", {"pending": None, "token": token}, status_code=400)
        actor: Actor | None = request.scope.get("user")
        form = await request.form()
        f = FormReader(form)
        try:
            if actor is not None:
                if not actor.is_creator or actor.creator_id is None:
                    raise Forbidden(gettext('Sign in with a creator account to accept this invitation.'))
                await claims.link(roster, pending, actor.creator_id)
            else:
                name = f.text("full_name", max_length=10_000)
                user = await accounts.sign_up(SignUp(
                    kind=UserKind.CREATOR, email=f.text("email", max_length=320),
                    password=f.text("password", strip=False, max_length=10_000), full_name=name, display_name=name,
                ), ip=client_ip(request))
                creator_id = await roster.session.scalar(sa.select(Creator.id).where(Creator.user_id == user.id))
                assert creator_id is not None
                await claims.link(roster, pending, creator_id)
                start_session(request, user, roster.runtime)
        except (InvalidInput, PostPactError) as exc:
            errors = exc.errors if isinstance(exc, InvalidInput) else {"form": exc.message}
            values = {k: form.get(k, "") for k in ("email", "full_name")}
            return render(request, "roster/claim.html", {"pending": pending, "token": token, "errors": errors,
                                                         "form": values}, block="form", status_code=exc.status_code)
        flash(request, gettext('Welcome! %(name)s can now see you on PostPact.', name=pending.brand.name))
        return redirect(request, pending.target)


async def _api_csv(request: Request[Any, Any, Any]) -> bytes:
    """The CSV of an API import: a text/csv body, or the 'file' part of a multipart form."""
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if content_type == "multipart/form-data":
        upload = (await request.form()).get("file")
        if not isinstance(upload, UploadFile):
            raise InvalidInput({"file": gettext("Send the CSV as the multipart part named 'file'.")})
        return await upload.read()
    if content_type in ("text/csv", "text/plain", "application/csv", "application/vnd.ms-excel"):
        return await request.body()
    raise UnsupportedMediaType("Send the CSV as text/csv, or as multipart/form-data with a 'file' part.")


def _api_mapping(raw: str | None) -> dict[str, str] | None:
    if not raw:
        return None
    try:
        value = json.loads(raw)
    except ValueError as exc:
        raise InvalidInput({"mapping": gettext('Send the mapping as a JSON object: {"CSV column": "field"}.')}) from exc
    if not isinstance(value, dict) or not all(isinstance(k, str) and isinstance(v, str) for k, v in value.items()):
        raise InvalidInput({"mapping": gettext('Send the mapping as a JSON object: {"CSV column": "field"}.')})
    return value


# --- JSON API -----------------------------------------------------------------------------------------------------


class RosterApi(Controller):
    path = "/api/v1/roster"
    tags = ["roster"]
    guards = [brand_member()]
    dependencies = {"roster": Provide(provide_roster, sync_to_thread=False)}

    @get("/", summary="Your roster: filters (q, tag, list, platform, country, has_deals, owner), sort, page",
         responses=problems(400))
    async def list_entries(self, request: Request[Any, Any, Any], roster: NamedDependency[RosterService],
                           sort: FromQuery[str] = "name", page: FromQuery[int] = 1,
                           per_page: FromQuery[int] = DEFAULT_PER_PAGE) -> RosterListOut:
        filters = RosterFilter.from_params(request.query_params)
        return list_out(await roster.page(request.user, filters, sort=sort, page=page, per_page=per_page))

    @post("/", status_code=HTTP_201_CREATED, guards=[MANAGERS], summary="Add a person to your roster",
          responses=problems(400, 409, 422))
    async def create(self, request: Request[Any, Any, Any], data: JSONBody[RosterEntryIn],
                     roster: NamedDependency[RosterService]) -> RosterEntryOut:
        entry = await roster.create(request.user, raw_from_in(data))
        return entry_out(await roster.row(request.user, entry.id))

    @get("/{entry_id:uuid}", summary="One roster entry with its deals, spend, ghostings and reliability",
         responses=problems(404))
    async def show(self, request: Request[Any, Any, Any], entry_id: FromPath[UUID],
                   roster: NamedDependency[RosterService]) -> RosterEntryOut:
        return entry_out(await roster.row(request.user, entry_id))

    @patch("/{entry_id:uuid}", guards=[MANAGERS], summary="Change some fields (tags replaces the tags)",
           responses=problems(400, 404, 422))
    async def update(self, request: Request[Any, Any, Any], entry_id: FromPath[UUID],
                     data: JSONBody[RosterEntryPatch], roster: NamedDependency[RosterService]) -> RosterEntryOut:
        await roster.update(request.user, entry_id, raw_from_in(data))
        return entry_out(await roster.row(request.user, entry_id))

    @delete("/{entry_id:uuid}", status_code=HTTP_204_NO_CONTENT, guards=[MANAGERS],
            summary="Remove a person from your roster", responses=problems(404))
    async def remove(self, request: Request[Any, Any, Any], entry_id: FromPath[UUID],
                     roster: NamedDependency[RosterService]) -> None:
        await roster.delete(request.user, entry_id)

    @post("/tags", status_code=HTTP_200_OK, guards=[MANAGERS],
          summary="Tag or untag a selection: ids, a filter (all matching) or a saved view",
          responses=problems(400, 404, 422))
    async def tag_selection(self, request: Request[Any, Any, Any], data: JSONBody[RosterTagIn],
                            roster: NamedDependency[RosterService]) -> RosterTagOut:
        if data.ids is None and data.filter is None and data.view_id is None:
            raise InvalidInput({"ids": gettext('Send ids, a filter ({} for the whole roster) or a view_id.')})
        ids = None
        if data.ids is not None:
            ids, bad = ids_from(data.ids)
            if bad or not ids:
                raise InvalidInput({"ids": gettext('Send the ids of roster entries.')})
        filters = await roster.selection_of(request.user, ids=ids, params=data.filter, view_id=data.view_id)
        matched = await roster.count(member_of(request.user), filters)
        changed = await roster.tag_selection(request.user, filters, data.tag, add=not data.untag)
        return RosterTagOut(tag=data.tag.strip().lower(), matched=matched, changed=changed)

    @post("/import", status_code=HTTP_200_OK, guards=[MANAGERS],
          summary="Import a CSV (text/csv body or multipart 'file'); dry_run=true only reports",
          description="Obvious headers (name, email, country, tiktok, instagram, youtube, followers, tags, notes, "
                      "owner, field:<key>) map themselves; send `mapping` (JSON object: column -> field) to choose. "
                      "Rows with problems are reported by row number and field and change nothing; the others are "
                      "upserted (same email, handle or PostPact account = same person). `invite=true` emails a "
                      f"claim link to new people not on PostPact (with `gig_id`, it lands on that gig). "
                      f"At most {MAX_IMPORT_ROWS:,} rows; runs synchronously and returns the report.",
          responses=problems(400, 404, 413, 415, 422))
    async def import_csv(self, request: Request[Any, Any, Any], roster: NamedDependency[RosterService],
                         dry_run: FromQuery[bool] = False, invite: FromQuery[bool] = False,
                         gig_id: FromQuery[UUID | None] = None,
                         mapping: FromQuery[str | None] = None) -> ImportReportOut:
        table = read_csv(await _api_csv(request), max_rows=MAX_IMPORT_ROWS)
        report = await RosterImporter(roster).run(member_of(request.user), table, _api_mapping(mapping),
                                                  dry_run=dry_run, invite=invite, gig_id=gig_id)
        return report_out(report)

    @post("/import/jobs", status_code=HTTP_202_ACCEPTED, guards=[MANAGERS],
          summary="Import a large CSV in the background: returns the job (poll GET /api/v1/jobs/{id})",
          description="The same file, mapping and invitation choices as POST /api/v1/roster/import (dry runs stay "
                      "there); the job's one item is the file, its report is on the import "
                      "(GET /brand/roster/imports/{id}); a retried job never imports or invites twice.",
          responses=problems(400, 404, 413, 415, 422))
    async def import_job(self, request: Request[Any, Any, Any], roster: NamedDependency[RosterService],
                         invite: FromQuery[bool] = False, gig_id: FromQuery[UUID | None] = None,
                         mapping: FromQuery[str | None] = None) -> JobOut:
        actor: Actor = request.user
        brand_id = member_of(actor)
        stored = await store_upload(roster, brand_id, actor.user_id, "api.csv", await _api_csv(request))
        if gig_id is not None and await roster.session.scalar(
                sa.select(Gig.id).where(Gig.id == gig_id, Gig.brand_id == brand_id)) is None:
            raise NotFound(gettext("No such gig."))
        table = read_csv(stored.content, max_rows=MAX_IMPORT_ROWS)
        importer = RosterImporter(roster)
        stored.mapping = _api_mapping(mapping) or auto_mapping(table.header, await roster.field_keys(brand_id),
                                                               await importer.saved_mapping(brand_id))
        stored.gig_id = gig_id
        job = await start_import_job(roster, actor, stored, invite=invite)
        return job_out(job)

    @get("/export.csv", summary="Your roster (or the filtered part) as CSV: UTF-8 with BOM, formula-safe",
         responses=problems(400), media_type=CSV_MEDIA_TYPE)
    async def export(self, request: Request[Any, Any, Any], roster: NamedDependency[RosterService]) -> Response[str]:
        text = await export_csv(roster, member_of(request.user), RosterFilter.from_params(request.query_params))
        return Response(text, media_type=CSV_MEDIA_TYPE, headers=attachment_headers("roster.csv"))


#: Route handlers (controllers) this area contributes to the app; create_app() includes them in order.
ROUTES: list[Any] = [RosterPages, ClaimPages, RosterApi]
