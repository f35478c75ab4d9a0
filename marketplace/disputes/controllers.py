"""Dispute pages for the parties (/collaborations/{id}/dispute), the admin case pages (/admin/disputes), and the
JSON API for both (/api/v1/collaborations/{id}/disputes, /api/v1/admin/disputes)."""

from __future__ import annotations

import base64
import binascii
from typing import Any
from uuid import UUID

from litestar import Controller, MediaType, Request, Response, get, post
from litestar.datastructures import UploadFile
from litestar.di import NamedDependency
from litestar.params import FromPath, FromQuery, JSONBody
from litestar.response import File
from litestar.status_codes import HTTP_201_CREATED
from sqlalchemy.ext.asyncio import AsyncSession

from escrow.money import CURRENCY_EXPONENTS
from escrow.states import EscrowState
from marketplace.accounts.auth import Actor
from marketplace.accounts.guards import RECENT_AUTH_WINDOW, ReauthenticationRequired, admin_only, recent_auth, signed_in
from marketplace.admin.reauth import needs_password
from marketplace.admin.services import check_password
from marketplace.collaborations import uploads
from marketplace.collaborations.states import TRANSITIONS, Action, CollabState, Party, TransitionActor
from marketplace.disputes import decisions, services
from marketplace.disputes.attachments import (
    ATTACHMENT_DESCRIPTION,
    MAX_ATTACHMENT_BYTES,
    MAX_ATTACHMENTS,
    IncomingFile,
    clean_filename,
)
from marketplace.disputes.evidence import load_case_file
from marketplace.disputes.models import OUTCOME_LABELS, PARTY_REASONS, DisputeKind, DisputeStatus
from marketplace.disputes.schemas import (
    AdminDisputeOut,
    AttachmentBody,
    DecisionBody,
    DisputeOut,
    DisputePageOut,
    EscrowOut,
    MoneyOut,
    OpenDisputeBody,
    StatementBody,
    dispute_out,
    summary_out,
)
from marketplace.errors import Conflict, InvalidInput, NotFound, TooManyRequests
from marketplace.forms import FormReader, parse_uuid, text_problem
from marketplace.i18n import N_, gettext
from marketplace.web import PageController, client_ip, flash, redirect, render, runtime_of

REASON_OPTIONS = [("", "Choose…"), *((r.value, label) for r, label in PARTY_REASONS.items())]
AT_FAULT_OPTIONS = [("", "As the outcome says"), *services.AT_FAULT_CHOICES.items()]



async def _files(form: Any) -> list[IncomingFile]:
    uploads_in = form.getall("attachments") if hasattr(form, "getall") and "attachments" in form else []
    files = []
    for item in uploads_in:
        if isinstance(item, UploadFile) and item.filename:
            files.append(IncomingFile(item.filename, await item.read(MAX_ATTACHMENT_BYTES + 1)))
    return files


def _decoded(attachments: list[AttachmentBody]) -> list[IncomingFile]:
    """The API's base64 attachments as files; the count and each file's size are checked before decoding it."""
    if len(attachments) > MAX_ATTACHMENTS:
        raise InvalidInput(
            {"attachments": gettext("Attach at most %(max_attachments)s files.", max_attachments=MAX_ATTACHMENTS)}
        )
    files = []
    for n, item in enumerate(attachments):
        if problem := text_problem(item.filename):
            raise InvalidInput(
                {"attachments": gettext("The name of attachment %(n)s %(problem)s.", n=n + 1, problem=problem)}
            )
        name = clean_filename(item.filename)
        if len(item.content_base64) > (MAX_ATTACHMENT_BYTES + 2) // 3 * 4 + 4:
            raise InvalidInput(
                {
                    "attachments": gettext(
                        "%(name)s is larger than %(max_attachment_bytes)s MB.",
                        name=name,
                        max_attachment_bytes=MAX_ATTACHMENT_BYTES // 1048576,
                    )
                }
            )
        try:
            data = base64.b64decode(item.content_base64, validate=True)
        except (binascii.Error, ValueError):
            raise InvalidInput(
                {"attachments": gettext("%(name)s: content_base64 isn't valid base64.", name=name)}
            ) from None
        files.append(IncomingFile(item.filename, data))
    return files


def _unreadable_form(_: Request[Any, Any, Any], __: Exception) -> Response[Any]:
    return Response(content="The form couldn't be read: a text field isn't valid UTF-8. Nothing was changed.",
                    status_code=400, media_type=MediaType.TEXT)


def _file_response(request: Request[Any, Any, Any], path: str, content_type: str, filename: str) -> File:
    full = uploads.resolve(runtime_of(request).settings.storage.upload_dir, path)
    if not full.is_file():
        raise NotFound(gettext('No such file.'))
    return File(full, media_type=content_type, filename=filename, content_disposition_type="attachment",
                headers=uploads.serving_headers())


# --- parties ------------------------------------------------------------------------------------------------------


class DisputePages(PageController):
    """The brand team's and the creator's view of a deal's dispute: open one, answer, add evidence."""

    exception_handlers = {UnicodeDecodeError: _unreadable_form}

    async def _page(self, request: Request[Any, Any, Any], db_session: AsyncSession, collab_id: UUID, *,
                    errors: dict[str, str] | None = None, form: dict[str, str] | None = None,
                    status_code: int = 200, block: str = "dispute") -> Response[Any]:
        actor: Actor = request.user
        now = runtime_of(request).clock.now()
        collab, cases = await services.party_cases(db_session, actor, collab_id)
        viewer = TransitionActor.of(actor)
        rule = TRANSITIONS.get((CollabState(collab.status), Action.OPEN_DISPUTE))
        may_open = rule is not None and viewer.party in rule.parties and (
            viewer.party is not Party.BRAND or viewer.brand_role in rule.brand_roles)
        open_case = next((c for c in cases if c.dispute.status is DisputeStatus.OPEN), None)
        context = {
            "collab": collab, "cases": cases, "open_case": open_case, "may_open": may_open and open_case is None,
            "viewer_party": viewer.party.value, "reason_options": REASON_OPTIONS, "errors": errors or {},
            "form": form or {}, "max_files": MAX_ATTACHMENTS, "max_mb": MAX_ATTACHMENT_BYTES // (1024 * 1024),
            "file_types": ATTACHMENT_DESCRIPTION, "now": now,
            "response_days": runtime_of(request).settings.disputes.response_days,
        }
        return render(request, "disputes/party.html", context, block=block, status_code=status_code)

    @get("/collaborations/{collab_id:uuid}/dispute", name="collaboration_dispute", guards=[signed_in])
    async def show(self, request: Request[Any, Any, Any], db_session: NamedDependency[AsyncSession],
                   collab_id: FromPath[UUID]) -> Response[Any]:
        return await self._page(request, db_session, collab_id)

    @post("/collaborations/{collab_id:uuid}/dispute", guards=[signed_in])
    async def open(self, request: Request[Any, Any, Any], db_session: NamedDependency[AsyncSession],
                   collab_id: FromPath[UUID]) -> Response[Any]:
        runtime = runtime_of(request)
        form = await request.form()
        f = FormReader(form)
        reason = f.text("reason", max_length=40)
        statement = f.text("statement", max_length=20_000)
        try:
            await services.open_dispute(db_session, request.user, collab_id, reason=reason, statement=statement,
                                        files=await _files(form), now=runtime.clock.now(), settings=runtime.settings)
        except InvalidInput as exc:
            await db_session.rollback()
            return await self._page(request, db_session, collab_id, errors=exc.errors,
                                    form={"reason": reason, "statement": statement}, status_code=422)
        except Conflict as exc:
            await db_session.rollback()
            return await self._page(request, db_session, collab_id, errors={"form": exc.message},
                                    form={"reason": reason, "statement": statement}, status_code=409)
        flash(request, gettext('Your dispute is open. The payment is frozen until a PostPact admin decides.'))
        return redirect(request, services.dispute_link(collab_id))

    @post("/collaborations/{collab_id:uuid}/dispute/statements", guards=[signed_in])
    async def add_statement(self, request: Request[Any, Any, Any], db_session: NamedDependency[AsyncSession],
                            collab_id: FromPath[UUID]) -> Response[Any]:
        runtime = runtime_of(request)
        form = await request.form()
        statement = FormReader(form).text("statement", max_length=20_000)
        try:
            await services.add_statement(db_session, request.user, collab_id, body=statement,
                                         files=await _files(form), now=runtime.clock.now(), settings=runtime.settings)
        except InvalidInput as exc:
            await db_session.rollback()
            return await self._page(request, db_session, collab_id, errors=exc.errors,
                                    form={"statement": statement}, status_code=422)
        except Conflict as exc:
            await db_session.rollback()
            return await self._page(request, db_session, collab_id, errors={"form": exc.message},
                                    form={"statement": statement}, status_code=409)
        flash(request, gettext("Added to the dispute. The other side and PostPact's admins can read it now."))
        return redirect(request, services.dispute_link(collab_id))

    @get("/collaborations/{collab_id:uuid}/dispute/attachments/{attachment_id:uuid}", guards=[signed_in])
    async def attachment(self, request: Request[Any, Any, Any], db_session: NamedDependency[AsyncSession],
                         collab_id: FromPath[UUID], attachment_id: FromPath[UUID]) -> File:
        found = await services.party_attachment(db_session, request.user, collab_id, attachment_id)
        return _file_response(request, found.path, found.content_type, found.filename)


# --- admins -------------------------------------------------------------------------------------------------------


def _status_filter(raw: str | None) -> DisputeStatus | None:
    if raw in (None, "", "open"):
        return DisputeStatus.OPEN
    if raw == "decided":
        return DisputeStatus.DECIDED
    if raw == "all":
        return None
    raise InvalidInput({"status": gettext('Show open, decided or all disputes.')})


def _uuid_or_none(raw: str | None, name: str) -> UUID | None:
    errors: dict[str, str] = {}
    value = parse_uuid(raw, name, errors, "Not a valid cursor.")
    if errors:
        raise InvalidInput(errors)
    return value


class AdminDisputePages(PageController):
    path = "/admin/disputes"
    guards = [admin_only]
    exception_handlers = {ReauthenticationRequired: needs_password}

    @get("/", name="admin_disputes")
    async def index(self, request: Request[Any, Any, Any], db_session: NamedDependency[AsyncSession],
                    status: FromQuery[str | None] = None, after: FromQuery[str | None] = None) -> Response[Any]:
        now = runtime_of(request).clock.now()
        chosen = _status_filter(status)
        rows, next_cursor = await services.list_cases(db_session, status=chosen,
                                                      before=_uuid_or_none(after, "after"))
        return render(request, "disputes/admin_list.html", {
            "rows": rows, "status": status or "open", "next_cursor": next_cursor, "now": now,
            "outcome_labels": OUTCOME_LABELS}, block="cases")

    async def _case(self, request: Request[Any, Any, Any], db_session: AsyncSession, dispute_id: UUID, *,
                    errors: dict[str, str] | None = None, form: dict[str, str] | None = None,
                    status_code: int = 200) -> Response[Any]:
        runtime = runtime_of(request)
        now = runtime.clock.now()
        actor: Actor = request.user
        file = await load_case_file(db_session, actor, dispute_id, now)

        return render(request, "disputes/admin_case.html", {
            "file": file, "case": file.case, "deal": file.deal, "c": file.case.collab, "terms": file.terms,
            "evidence": file.verification, "escrow": file.escrow, "collaboration_id": file.case.collab.id,
            "errors": errors or {}, "form": form or {}, "now": now,
            "auth_recent": actor.auth_is_recent(now, RECENT_AUTH_WINDOW),
            "outcome_options": list(OUTCOME_LABELS.items()), "at_fault_options": AT_FAULT_OPTIONS,
            "frozen": file.hold is not None and file.hold.state is EscrowState.FROZEN,
        }, block="decision", status_code=status_code)

    @get("/{dispute_id:uuid}", name="admin_dispute")
    async def case(self, request: Request[Any, Any, Any], db_session: NamedDependency[AsyncSession],
                   dispute_id: FromPath[UUID]) -> Response[Any]:
        return await self._case(request, db_session, dispute_id)

    @post("/{dispute_id:uuid}/decision", guards=[recent_auth])
    async def decide(self, request: Request[Any, Any, Any], db_session: NamedDependency[AsyncSession],
                     dispute_id: FromPath[UUID]) -> Response[Any]:
        runtime = runtime_of(request)
        f = FormReader(await request.form())
        form = {k: f.text(k, max_length=20_000) for k in ("outcome", "rationale", "at_fault", "creator_amount")}
        case = await services.admin_case(db_session, dispute_id)
        exponent = _exponent(case.collab.currency)
        amount = f.decimal_minor("creator_amount", exponent=exponent, label=N_("The creator's part"))
        data = decisions.DecisionInput(outcome=form["outcome"], rationale=form["rationale"], creator_amount=amount,
                                      at_fault=form["at_fault"] or None)
        try:
            f.raise_if_invalid()
            decision = await decisions.decide(db_session, request.user, dispute_id, data, now=runtime.clock.now(),
                                             settings=runtime.settings, ip=client_ip(request))
        except InvalidInput as exc:
            await db_session.rollback()
            return await self._case(request, db_session, dispute_id, errors=exc.errors, form=form, status_code=422)
        except Conflict as exc:
            await db_session.rollback()
            return await self._case(request, db_session, dispute_id, errors={"form": exc.message}, form=form,
                                    status_code=409)
        flash(
            request,
            gettext(
                "Decided: %(outcome)s. Both sides were told.", outcome=OUTCOME_LABELS[decision.outcome.value].lower()
            ),
        )
        return redirect(request, services.admin_link(dispute_id))

    @post("/{dispute_id:uuid}/notes")
    async def note(self, request: Request[Any, Any, Any], db_session: NamedDependency[AsyncSession],
                   dispute_id: FromPath[UUID]) -> Response[Any]:
        runtime = runtime_of(request)
        body = FormReader(await request.form()).text("note", max_length=20_000)
        try:
            await services.add_admin_note(db_session, request.user, dispute_id, body=body, now=runtime.clock.now(),
                                          ip=client_ip(request))
        except InvalidInput as exc:
            await db_session.rollback()
            return await self._case(request, db_session, dispute_id, errors=exc.errors, form={"note": body},
                                    status_code=422)
        flash(request, gettext('Note added to the case (admins only).'))
        return redirect(request, services.admin_link(dispute_id))

    @get("/{dispute_id:uuid}/attachments/{attachment_id:uuid}")
    async def attachment(self, request: Request[Any, Any, Any], db_session: NamedDependency[AsyncSession],
                         dispute_id: FromPath[UUID], attachment_id: FromPath[UUID]) -> File:
        case = await services.admin_case(db_session, dispute_id)
        for sv in case.statements:
            for a in sv.attachments:
                if a.id == attachment_id:
                    return _file_response(request, a.path, a.content_type, a.filename)
        raise NotFound(gettext('No such file.'))


def _exponent(currency: str) -> int:
    return CURRENCY_EXPONENTS.get(currency.upper(), 2)


# --- JSON API -----------------------------------------------------------------------------------------------------


class DisputeApi(Controller):
    """The parties' side: open a dispute on a deal, read it, answer it."""

    path = "/api/v1/collaborations"
    tags = ["disputes"]
    guards = [signed_in]

    @post("/{collab_id:uuid}/disputes", status_code=HTTP_201_CREATED, summary="Open a dispute on a funded deal")
    async def open(self, request: Request[Any, Any, Any], db_session: NamedDependency[AsyncSession],
                   collab_id: FromPath[UUID], data: JSONBody[OpenDisputeBody]) -> DisputeOut:
        runtime = runtime_of(request)
        now = runtime.clock.now()
        dispute = await services.open_dispute(db_session, request.user, collab_id, reason=data.reason,
                                              statement=data.statement, files=_decoded(data.attachments), now=now,
                                              settings=runtime.settings)
        _, cases = await services.party_cases(db_session, request.user, collab_id)
        return dispute_out(next(c for c in cases if c.dispute.id == dispute.id), now)

    @get("/{collab_id:uuid}/disputes", summary="The deal's disputes (newest first)")
    async def list(self, request: Request[Any, Any, Any], db_session: NamedDependency[AsyncSession],
                   collab_id: FromPath[UUID]) -> list[DisputeOut]:
        now = runtime_of(request).clock.now()
        _, cases = await services.party_cases(db_session, request.user, collab_id)
        return [dispute_out(c, now) for c in cases]

    @get("/{collab_id:uuid}/disputes/{dispute_id:uuid}", summary="One dispute of the deal")
    async def one(self, request: Request[Any, Any, Any], db_session: NamedDependency[AsyncSession],
                  collab_id: FromPath[UUID], dispute_id: FromPath[UUID]) -> DisputeOut:
        now = runtime_of(request).clock.now()
        _, cases = await services.party_cases(db_session, request.user, collab_id)
        for c in cases:
            if c.dispute.id == dispute_id:
                return dispute_out(c, now)
        raise NotFound(gettext('No such dispute.'))

    @post("/{collab_id:uuid}/disputes/statements", status_code=HTTP_201_CREATED,
          summary="Answer the open dispute or add to it")
    async def statement(self, request: Request[Any, Any, Any], db_session: NamedDependency[AsyncSession],
                        collab_id: FromPath[UUID], data: JSONBody[StatementBody]) -> DisputeOut:
        runtime = runtime_of(request)
        now = runtime.clock.now()
        stmt = await services.add_statement(db_session, request.user, collab_id, body=data.statement,
                                            files=_decoded(data.attachments), now=now, settings=runtime.settings)
        _, cases = await services.party_cases(db_session, request.user, collab_id)
        return dispute_out(next(c for c in cases if c.dispute.id == stmt.dispute_id), now)


class AdminDisputeApi(Controller):
    """Admins: list cases, read one with its evidence summary, decide (password in the body, see DecisionBody)."""

    path = "/api/v1/admin/disputes"
    tags = ["admin"]
    guards = [admin_only]

    @get("/", summary="Disputes: open (oldest first, default), decided or all")
    async def index(self, request: Request[Any, Any, Any], db_session: NamedDependency[AsyncSession],
                    status: FromQuery[str | None] = None, kind: FromQuery[str | None] = None,
                    cursor: FromQuery[str | None] = None) -> DisputePageOut:
        now = runtime_of(request).clock.now()
        chosen_kind = None
        if kind:
            try:
                chosen_kind = DisputeKind(kind)
            except ValueError as exc:
                raise InvalidInput({"kind": gettext('dispute or chargeback')}) from exc
        rows, nxt = await services.list_cases(db_session, status=_status_filter(status), kind=chosen_kind,
                                              before=_uuid_or_none(cursor, "cursor"))
        return DisputePageOut([summary_out(r, now) for r in rows], str(nxt) if nxt else None)

    @get("/{dispute_id:uuid}", summary="One dispute with the deal's terms, escrow and events")
    async def one(self, request: Request[Any, Any, Any], db_session: NamedDependency[AsyncSession],
                  dispute_id: FromPath[UUID]) -> AdminDisputeOut:
        now = runtime_of(request).clock.now()
        file = await load_case_file(db_session, request.user, dispute_id, now)
        hold = file.hold
        escrow = EscrowOut(hold.state.value, MoneyOut(hold.held_amount, hold.currency),
                           MoneyOut(hold.available_amount, hold.currency),
                           MoneyOut(hold.creator_amount_remaining, hold.currency)) if hold else None
        events: list[dict[str, object]] = [
            {"at": i.at.isoformat(), "kind": i.kind, "title": i.title, "who": i.who, "detail": i.detail}
            for i in file.items]
        return AdminDisputeOut(dispute_out(file.case, now), file.case.collab.status.value, file.terms, escrow, events)

    @post("/{dispute_id:uuid}/decision", status_code=200,
          summary="Decide: release, refund or split (needs the admin's password in the body)")
    async def decide(self, request: Request[Any, Any, Any], db_session: NamedDependency[AsyncSession],
                     dispute_id: FromPath[UUID], data: JSONBody[DecisionBody]) -> DisputeOut:
        runtime = runtime_of(request)
        now = runtime.clock.now()
        try:
            await check_password(db_session, runtime, request.user, data.password)
        except TooManyRequests:
            raise
        except InvalidInput as exc:
            raise InvalidInput({"password": gettext('That password is not right.')},
                               message=gettext('Confirm the decision with your password.')) from exc
        case = await services.admin_case(db_session, dispute_id)
        amount = None
        if data.creator_amount is not None:
            if data.creator_amount.currency.upper() != case.collab.currency.upper():
                raise InvalidInput(
                    {
                        "creator_amount.currency": gettext(
                            "Use the deal's currency, %(currency)s.", currency=case.collab.currency
                        )
                    }
                )
            amount = data.creator_amount.amount
        await decisions.decide(db_session, request.user, dispute_id,
                              decisions.DecisionInput(outcome=data.outcome, rationale=data.rationale,
                                                     creator_amount=amount, at_fault=data.at_fault),
                              now=now, settings=runtime.settings, ip=client_ip(request))
        return dispute_out(await services.admin_case(db_session, dispute_id), now)


ROUTES = [DisputePages, AdminDisputePages, DisputeApi, AdminDisputeApi]
