"""Pages and JSON API routes for collaborations: the deal lists, the deal page with its steps, and the API."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Annotated, Any
from uuid import UUID

from litestar import Controller, MediaType, Request, Response, get, post
from litestar.datastructures import UploadFile
from litestar.di import NamedDependency, Provide
from litestar.params import FromPath, FromQuery, JSONBody, QueryParameter
from litestar.response import File
from sqlalchemy.ext.asyncio import AsyncSession

from marketplace.accounts.auth import READ_ONLY, Actor
from marketplace.accounts.guards import brand_member, creator_only, not_suspended, signed_in
from marketplace.collaborations import uploads
from marketplace.collaborations.queries import (
    DEFAULT_PAGE_SIZE,
    EVENT_LABELS,
    MAX_PAGE_SIZE,
    STAGE_LABELS,
    STATUS_GROUPS,
    STEP_SLUGS,
    get_draft,
    list_collaborations,
    list_events,
    load_deal_view,
    parse_status_filter,
)
from marketplace.collaborations.schemas import (
    STATUS_FILTER,
    STATUS_FILTERS,
    AcceptPostBody,
    ApproveDraftBody,
    CancelBody,
    CollaborationOut,
    CollaborationPageOut,
    EventOut,
    ReportProblemBody,
    RequestChangesBody,
    ReviewBody,
    ShipBody,
    SignBody,
    SubmitDraftBody,
    SubmitPostBody,
    collaboration_out,
    event_out,
    summary_out,
)
from marketplace.collaborations.services import DealService, StepResult
from marketplace.collaborations.states import CollabState, TransitionActor
from marketplace.errors import InvalidInput, NotFound, PostPactError
from marketplace.forms import parse_uuid
from marketplace.i18n import gettext
from marketplace.payments import services as payments
from marketplace.stores.signing import signing_choices
from marketplace.web import PageController, flash, is_htmx, redirect, render, runtime_of


def provide_deals(db_session: NamedDependency[AsyncSession], request: Request[Any, Any, Any]) -> DealService:
    return DealService.of(db_session, runtime_of(request))


def viewer_of(request: Request[Any, Any, Any]) -> TransitionActor:
    actor: Actor = request.user
    return TransitionActor.of(actor)


# --- pages ----------------------------------------------------------------------------------------------------------

#: Flash messages after each step (the deal page shows what changed; this says it worked).
STEP_DONE: dict[str, str] = {
    "sign": "You signed the deal. The brand funds the escrow next.",
    "decline": "You declined the offer.",
    "withdraw": "The offer was withdrawn.",
    "cancel": "The deal was cancelled.",
    "cancel-no-show": "The deal was cancelled because the product never shipped.",
    "ship": "Shipment recorded; the creator has been told.",
    "confirm-receipt": "Receipt confirmed. The draft is next.",
    "report-problem": "Problem reported; the brand has been told.",
    "submit-draft": "Draft submitted for review.",
    "request-changes": "Changes requested; the creator has been told.",
    "approve-draft": "Draft approved; the creator can publish now.",
    "submit-post": "Post link submitted. PostPact checks it next.",
    "accept-post": "You accepted the post; approve it to release the payment.",
    "approve-post": "Post approved: the creator's fee is being released from escrow.",
}

FORM_FIELDS = ("terms_hash", "reason", "carrier", "tracking_number", "tracking_url", "problem", "caption",
               "media_url", "comment", "url", "note", "approve_anyway", "store_variant_id", "confirm")

Step = Callable[[DealService, UUID, Actor, dict[str, str], UploadFile | None], Awaitable[StepResult]]


def _form_values(form: Any) -> tuple[dict[str, str], UploadFile | None]:
    values: dict[str, str] = {}
    for name in FORM_FIELDS:
        raw = form.get(name)
        values[name] = raw if isinstance(raw, str) else ""
    upload = form.get("file")
    return values, upload if isinstance(upload, UploadFile) else None


async def _read_upload(upload: UploadFile | None, max_bytes: int) -> uploads.DraftUpload | None:
    if upload is None or not upload.filename:
        return None  # an empty file input still sends a nameless part
    # One byte over the limit is enough to know it is too big, without holding more of it.
    data = await upload.read(max_bytes + 1)
    return uploads.DraftUpload(upload.filename, data, upload.content_type)


async def _submit_draft(deals: DealService, cid: UUID, actor: Actor, v: dict[str, str], up: UploadFile | None
                        ) -> StepResult:
    upload = await _read_upload(up, deals.settings.storage.max_upload_bytes)
    return await deals.submit_draft(cid, actor, caption=v["caption"], media_url=v["media_url"] or None,
                                    upload=upload)


STEPS: dict[str, Step] = {
    "sign": lambda d, cid, a, v, _: d.sign(cid, a, terms_hash=v["terms_hash"],
                                           store_variant_id=v["store_variant_id"] or None),
    "decline": lambda d, cid, a, v, _: d.decline_offer(cid, a, reason=v["reason"]),
    "withdraw": lambda d, cid, a, v, _: d.withdraw_offer(cid, a, reason=v["reason"]),
    "cancel": lambda d, cid, a, v, _: d.cancel(cid, a, reason=v["reason"], confirmed=bool(v["confirm"])),
    "cancel-no-show": lambda d, cid, a, v, _: d.cancel(cid, a, reason=v["reason"], no_show=True),
    "ship": lambda d, cid, a, v, _: d.ship(cid, a, carrier=v["carrier"], tracking_number=v["tracking_number"],
                                           tracking_url=v["tracking_url"] or None),
    "confirm-receipt": lambda d, cid, a, v, _: d.confirm_receipt(cid, a),
    "report-problem": lambda d, cid, a, v, _: d.report_problem(cid, a, problem=v["problem"]),
    "submit-draft": _submit_draft,
    "request-changes": lambda d, cid, a, v, _: d.request_changes(cid, a, comment=v["comment"]),
    "approve-draft": lambda d, cid, a, v, _: d.approve_draft(cid, a, comment=v["comment"],
                                                             approve_anyway=bool(v["approve_anyway"])),
    "submit-post": lambda d, cid, a, v, _: d.submit_post(cid, a, url=v["url"]),
    "accept-post": lambda d, cid, a, v, _: d.accept_post_by_hand(cid, a, note=v["note"]),
    "approve-post": lambda d, cid, a, v, _: d.approve_post(cid, a, comment=v["comment"]),
}
assert set(STEPS) == set(STEP_SLUGS.values()), "every step slug needs a handler"


def unreadable_form(_request: Request[Any, Any, Any], _exc: Exception) -> Response[Any]:
    """A multipart text part that isn't UTF-8 fails inside Litestar's form parser (already in the CSRF check, before
    the page runs, so no page can be rendered): answer 400 instead of a 500."""
    return Response(content="The form couldn't be read: a text field isn't valid UTF-8. Nothing was changed.",
                    status_code=400, media_type=MediaType.TEXT)


class CollaborationPages(PageController):
    dependencies = {"deals": Provide(provide_deals, sync_to_thread=False)}
    exception_handlers = {UnicodeDecodeError: unreadable_form}

    async def _list(self, request: Request[Any, Any, Any], db_session: AsyncSession, template_side: str
                    ) -> Response[Any]:
        viewer = viewer_of(request)
        params = request.query_params
        errors: dict[str, str] = {}
        status_raw = params.get("status") or ""
        try:
            statuses = parse_status_filter(status_raw)
        except InvalidInput as exc:
            errors.update(exc.errors)
            statuses = []
        gig_id = parse_uuid(params.get("gig"), "gig", errors)
        after = parse_uuid(params.get("after"), "after", errors)
        page = await list_collaborations(db_session, viewer, statuses=statuses, gig_id=gig_id, after=after)
        context = {
            "side": template_side,
            "page": page,
            "filters": {"status": status_raw, "gig": params.get("gig") or ""},
            "status_options": [("", "All deals"), *STATUS_GROUPS.items(),
                               *((s.value, s.value.replace("_", " ").capitalize()) for s in CollabState)],
            "errors": errors,
            "viewer_party": viewer.party.value,
            "stage_labels": STAGE_LABELS,
        }
        return render(request, "collaborations/list.html", context, block="deal_list",
                      status_code=422 if errors else 200)

    @get("/brand/collaborations", name="brand_collaborations", guards=[brand_member()], opt={READ_ONLY: True})
    async def brand_list(self, request: Request[Any, Any, Any], db_session: NamedDependency[AsyncSession]
                         ) -> Response[Any]:
        return await self._list(request, db_session, "brand")

    @get("/creator/collaborations", name="creator_collaborations", guards=[creator_only], opt={READ_ONLY: True})
    async def creator_list(self, request: Request[Any, Any, Any], db_session: NamedDependency[AsyncSession]
                           ) -> Response[Any]:
        return await self._list(request, db_session, "creator")

    async def _deal(self, request: Request[Any, Any, Any], db_session: AsyncSession, collab_id: UUID, *,
                    status_code: int = 200, **extra: Any) -> Response[Any]:
        runtime = runtime_of(request)
        view = await load_deal_view(db_session, collab_id, viewer_of(request), runtime.clock.now())
        escrow = await payments.timeline_for(db_session, request.user, collab_id)
        # The variant choice belongs to the sign step's form: only a viewer who may sign now is shown it.
        signing_product, signing_variants = await signing_choices(db_session, view.collab.gig_id,
                                                                  view.collab.product_included) \
            if any(slug == "sign" for slug, _ in view.steps) else (None, [])
        context = {"signing_product": signing_product, "signing_variants": signing_variants,
                   "view": view, "c": view.collab, "terms": view.terms, "errors": {}, "failed_step": None,
                   "escrow": escrow, "collaboration_id": collab_id,
                   "form": {}, "problem": None, "notice": None, "stage_labels": STAGE_LABELS,
                   "event_labels": EVENT_LABELS,
                   "max_upload_mb": runtime.settings.storage.max_upload_bytes // (1024 * 1024), **extra}
        return render(request, "collaborations/detail.html", context, block="deal_panel", status_code=status_code)

    @get("/collaborations/{collab_id:uuid}", name="collaboration", guards=[signed_in], opt={READ_ONLY: True})
    async def detail(self, request: Request[Any, Any, Any], db_session: NamedDependency[AsyncSession],
                     collab_id: FromPath[UUID]) -> Response[Any]:
        return await self._deal(request, db_session, collab_id)

    @get("/collaborations/{collab_id:uuid}/drafts/{draft_id:uuid}/file", guards=[signed_in])
    async def draft_file(self, request: Request[Any, Any, Any], db_session: NamedDependency[AsyncSession],
                         collab_id: FromPath[UUID], draft_id: FromPath[UUID]) -> File:
        return await _draft_file(request, db_session, collab_id, draft_id)

    # One explicit path per step (not a catch-all), so other areas' routes under /collaborations/{id}/ stay theirs.
    @post([f"/collaborations/{{collab_id:uuid}}/{slug}" for slug in STEPS], guards=[signed_in, not_suspended])
    async def take_step(self, request: Request[Any, Any, Any], db_session: NamedDependency[AsyncSession],
                        deals: NamedDependency[DealService], collab_id: FromPath[UUID]) -> Response[Any]:
        step = request.url.path.rstrip("/").rsplit("/", 1)[-1]
        handler = STEPS.get(step)
        if handler is None:
            raise NotFound(gettext('No such step.'))
        values, upload = _form_values(await request.form())
        try:
            await handler(deals, collab_id, request.user, values, upload)
        except PostPactError as exc:
            if exc.status_code in (401, 403, 404):
                raise
            # The request's transaction is thrown away, so the page shows the deal as it still is.
            await db_session.rollback()
            errors = exc.errors if isinstance(exc, InvalidInput) else {}
            return await self._deal(request, db_session, collab_id, status_code=exc.status_code, errors=errors,
                                    failed_step=step, form=values, problem=None if errors else exc.message)
        message = STEP_DONE[step]
        if is_htmx(request):
            return await self._deal(request, db_session, collab_id, notice=message)
        flash(request, message)
        return redirect(request, f"/collaborations/{collab_id}")


async def _draft_file(request: Request[Any, Any, Any], db_session: AsyncSession, collab_id: UUID, draft_id: UUID
                      ) -> File:
    draft = await get_draft(db_session, collab_id, draft_id, viewer_of(request))
    if not draft.upload_path or not draft.upload_content_type:
        raise NotFound(gettext('This draft has no uploaded file.'))
    path = uploads.resolve(runtime_of(request).settings.storage.upload_dir, draft.upload_path)
    if not path.is_file():
        raise NotFound(gettext('The file is missing.'))
    return File(path, media_type=draft.upload_content_type, content_disposition_type="inline",
                filename=f"draft-{draft.round}{path.suffix}", headers=uploads.serving_headers())


# --- JSON API -------------------------------------------------------------------------------------------------------


class CollaborationApi(Controller):
    path = "/api/v1/collaborations"
    tags = ["collaborations"]
    guards = [signed_in]
    dependencies = {"deals": Provide(provide_deals, sync_to_thread=False)}

    async def _out(self, request: Request[Any, Any, Any], db_session: AsyncSession, collab_id: UUID
                   ) -> CollaborationOut:
        view = await load_deal_view(db_session, collab_id, viewer_of(request), runtime_of(request).clock.now())
        return collaboration_out(view)

    @get("/", summary="Your collaborations, newest first (keyset pagination)")
    async def list_deals(
        self,
        request: Request[Any, Any, Any],
        db_session: NamedDependency[AsyncSession],
        status: Annotated[str | None, QueryParameter(
            description="One or more of " + ", ".join(STATUS_FILTERS) + ", separated by commas.",
            schema_extra={"pattern": STATUS_FILTER})] = None,
        gig: FromQuery[UUID | None] = None,
        after: FromQuery[UUID | None] = None,
        limit: Annotated[int, QueryParameter(schema_extra={"minimum": 1, "maximum": MAX_PAGE_SIZE})] = (
            DEFAULT_PAGE_SIZE),
    ) -> CollaborationPageOut:
        """``status``: one or more deal states separated by commas, or ``active``, ``waiting`` (your move) or
        ``ended``. ``gig``: only deals of that gig. ``after``: the ``next_cursor`` of the previous page."""
        if not 1 <= limit <= MAX_PAGE_SIZE:
            raise InvalidInput(
                {"limit": gettext("limit must be between 1 and %(max_page_size)s.", max_page_size=MAX_PAGE_SIZE)}
            )
        page = await list_collaborations(db_session, viewer_of(request), statuses=parse_status_filter(status),
                                         gig_id=gig, after=after, limit=limit)
        return CollaborationPageOut([summary_out(c) for c in page.items], page.next_cursor)

    @get("/{collab_id:uuid}", summary="One collaboration: terms, shipping, drafts, posts and your next steps")
    async def get_deal(self, request: Request[Any, Any, Any], db_session: NamedDependency[AsyncSession],
                       collab_id: FromPath[UUID]) -> CollaborationOut:
        return await self._out(request, db_session, collab_id)

    @get("/{collab_id:uuid}/events", summary="The collaboration's history, oldest first")
    async def events(self, request: Request[Any, Any, Any], db_session: NamedDependency[AsyncSession],
                     collab_id: FromPath[UUID]) -> list[EventOut]:
        return [event_out(e) for e in await list_events(db_session, collab_id, viewer_of(request))]

    @get("/{collab_id:uuid}/drafts/{draft_id:uuid}/file", summary="A draft's uploaded photo or video",
         media_type="application/octet-stream")
    async def draft_file(self, request: Request[Any, Any, Any], db_session: NamedDependency[AsyncSession],
                         collab_id: FromPath[UUID], draft_id: FromPath[UUID]) -> File:
        return await _draft_file(request, db_session, collab_id, draft_id)

    @post("/{collab_id:uuid}/sign", status_code=200, guards=[not_suspended], summary="Creator: sign the terms")
    async def sign(self, request: Request[Any, Any, Any], db_session: NamedDependency[AsyncSession],
                   deals: NamedDependency[DealService], collab_id: FromPath[UUID], data: JSONBody[SignBody]
                   ) -> CollaborationOut:
        await deals.sign(collab_id, request.user, terms_hash=data.terms_hash, store_variant_id=data.store_variant_id)
        return await self._out(request, db_session, collab_id)

    @post("/{collab_id:uuid}/cancel", status_code=200, guards=[not_suspended],
          summary="Decline or withdraw an offer, or cancel a signed or funded deal (funded deals are refunded)")
    async def cancel(self, request: Request[Any, Any, Any], db_session: NamedDependency[AsyncSession],
                     deals: NamedDependency[DealService], collab_id: FromPath[UUID], data: JSONBody[CancelBody]
                     ) -> CollaborationOut:
        await deals.end_deal(collab_id, request.user, reason=data.reason, no_show=data.no_show)
        return await self._out(request, db_session, collab_id)

    @post("/{collab_id:uuid}/ship", status_code=200, guards=[not_suspended],
          summary="Brand: record the shipment (carrier and tracking number)")
    async def ship(self, request: Request[Any, Any, Any], db_session: NamedDependency[AsyncSession],
                   deals: NamedDependency[DealService], collab_id: FromPath[UUID], data: JSONBody[ShipBody]
                   ) -> CollaborationOut:
        await deals.ship(collab_id, request.user, carrier=data.carrier, tracking_number=data.tracking_number,
                         tracking_url=data.tracking_url)
        return await self._out(request, db_session, collab_id)

    @post("/{collab_id:uuid}/confirm-receipt", status_code=200, guards=[not_suspended],
          summary="Creator: the product arrived")
    async def confirm_receipt(self, request: Request[Any, Any, Any], db_session: NamedDependency[AsyncSession],
                              deals: NamedDependency[DealService], collab_id: FromPath[UUID]) -> CollaborationOut:
        await deals.confirm_receipt(collab_id, request.user)
        return await self._out(request, db_session, collab_id)

    @post("/{collab_id:uuid}/report-problem", status_code=200, guards=[not_suspended],
          summary="Creator: the parcel is late, damaged or wrong")
    async def report_problem(self, request: Request[Any, Any, Any], db_session: NamedDependency[AsyncSession],
                             deals: NamedDependency[DealService], collab_id: FromPath[UUID],
                             data: JSONBody[ReportProblemBody]) -> CollaborationOut:
        await deals.report_problem(collab_id, request.user, problem=data.problem)
        return await self._out(request, db_session, collab_id)

    @post("/{collab_id:uuid}/submit-draft", status_code=200, guards=[not_suspended],
          summary="Creator: submit a draft (caption and a media URL; file uploads are on the deal page)")
    async def submit_draft(self, request: Request[Any, Any, Any], db_session: NamedDependency[AsyncSession],
                           deals: NamedDependency[DealService], collab_id: FromPath[UUID],
                           data: JSONBody[SubmitDraftBody]) -> CollaborationOut:
        await deals.submit_draft(collab_id, request.user, caption=data.caption, media_url=data.media_url)
        return await self._out(request, db_session, collab_id)

    @post("/{collab_id:uuid}/approve-draft", status_code=200, guards=[not_suspended],
          summary="Brand: approve the draft under review")
    async def approve_draft(self, request: Request[Any, Any, Any], db_session: NamedDependency[AsyncSession],
                            deals: NamedDependency[DealService], collab_id: FromPath[UUID],
                            data: JSONBody[ApproveDraftBody]) -> CollaborationOut:
        await deals.approve_draft(collab_id, request.user, comment=data.comment, approve_anyway=data.approve_anyway)
        return await self._out(request, db_session, collab_id)

    @post("/{collab_id:uuid}/request-changes", status_code=200, guards=[not_suspended],
          summary="Brand: ask for changes (uses one of the agreed revision rounds)")
    async def request_changes(self, request: Request[Any, Any, Any], db_session: NamedDependency[AsyncSession],
                              deals: NamedDependency[DealService], collab_id: FromPath[UUID],
                              data: JSONBody[RequestChangesBody]) -> CollaborationOut:
        await deals.request_changes(collab_id, request.user, comment=data.comment)
        return await self._out(request, db_session, collab_id)

    @post("/{collab_id:uuid}/submit-post", status_code=200, guards=[not_suspended],
          summary="Creator: submit the live post's link")
    async def submit_post(self, request: Request[Any, Any, Any], db_session: NamedDependency[AsyncSession],
                          deals: NamedDependency[DealService], collab_id: FromPath[UUID],
                          data: JSONBody[SubmitPostBody]) -> CollaborationOut:
        await deals.submit_post(collab_id, request.user, url=data.url)
        return await self._out(request, db_session, collab_id)

    @post("/{collab_id:uuid}/accept-post", status_code=200, guards=[not_suspended],
          summary="Brand: accept the post by hand when verification needs review or failed")
    async def accept_post(self, request: Request[Any, Any, Any], db_session: NamedDependency[AsyncSession],
                          deals: NamedDependency[DealService], collab_id: FromPath[UUID],
                          data: JSONBody[AcceptPostBody]) -> CollaborationOut:
        await deals.accept_post_by_hand(collab_id, request.user, note=data.note)
        return await self._out(request, db_session, collab_id)

    @post("/{collab_id:uuid}/approve-post", status_code=200, guards=[not_suspended],
          summary="Brand: approve the verified post, which releases the creator's fee from escrow")
    async def approve_post(self, request: Request[Any, Any, Any], db_session: NamedDependency[AsyncSession],
                           deals: NamedDependency[DealService], collab_id: FromPath[UUID],
                           data: JSONBody[ReviewBody]) -> CollaborationOut:
        await deals.approve_post(collab_id, request.user, comment=data.comment)
        return await self._out(request, db_session, collab_id)


#: Route handlers (controllers) this area contributes to the app; create_app() includes them in order.
ROUTES: list[Any] = [CollaborationPages, CollaborationApi]
