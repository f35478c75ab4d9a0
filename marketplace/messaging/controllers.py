"""Pages and JSON API routes for messaging: the inbox, a thread (refreshed by htmx), posting, and the API."""

from __future__ import annotations

from typing import Annotated, Any
from uuid import UUID

import sqlalchemy as sa
from litestar import Controller, Request, Response, get, post
from litestar.di import NamedDependency
from litestar.params import FromPath, JSONBody, QueryParameter
from litestar.status_codes import HTTP_201_CREATED
from sqlalchemy.ext.asyncio import AsyncSession

from marketplace.accounts.auth import READ_ONLY, Actor
from marketplace.accounts.guards import signed_in
from marketplace.errors import Conflict, Forbidden, InvalidInput, NotFound
from marketplace.forms import FormReader
from marketplace.i18n import gettext
from marketplace.messaging import queries
from marketplace.messaging import services as messaging
from marketplace.messaging.models import Thread
from marketplace.messaging.schemas import (
    INBOX_CURSOR,
    InboxOut,
    MessageIn,
    MessageOut,
    ThreadMessagesOut,
    message_out,
    thread_summary_out,
)
from marketplace.web import PageController, is_htmx, redirect, render, runtime_of

#: Largest ``seq`` a query parameter may name (keeps numbers inside the database's integer range).
MAX_SEQ = 2**31 - 1

THREAD_TEMPLATE = "messaging/thread.html"


def _small_int(raw: str | None) -> int | None:
    """A query-string number for pages: anything that isn't a sane non-negative integer counts as absent."""
    if raw is None or not raw.isdigit() or len(raw) > 10:
        return None
    value = int(raw)
    return value if value <= MAX_SEQ else None


class MessagePages(PageController):
    path = "/messages"
    guards = [signed_in]

    @get("/", name="messages_inbox", opt={READ_ONLY: True})
    async def inbox(self, request: Request[Any, Any, Any], db_session: NamedDependency[AsyncSession]) -> Response[Any]:
        actor: Actor = request.user
        before = request.query_params.get("before")
        try:
            page = await queries.inbox(db_session, actor, before=before)
        except InvalidInput:
            before, page = None, await queries.inbox(db_session, actor)
        return render(request, "messaging/inbox.html", {"page": page, "paged": bool(before)}, block="threads")

    @get("/{thread_id:uuid}", name="message_thread")
    async def thread(
        self, request: Request[Any, Any, Any], thread_id: FromPath[UUID], db_session: NamedDependency[AsyncSession]
    ) -> Response[Any]:
        actor: Actor = request.user
        known = _small_int(request.query_params.get("known"))
        before_seq = _small_int(request.query_params.get("before_seq"))
        if is_htmx(request) and known is not None and before_seq is None:
            # The poll every few seconds: when nothing new arrived, answer 204 (htmx keeps the page as it is).
            row = (
                await db_session.execute(
                    sa.select(Thread.brand_id, Thread.creator_id, Thread.message_count).where(Thread.id == thread_id)
                )
            ).first()
            if row is None or messaging.reader_party(actor, row.brand_id, row.creator_id) is None:
                raise NotFound(gettext('No such conversation.'))
            if row.message_count == known:
                return Response(content=b"", status_code=204)
        view = await queries.open_thread(db_session, actor, thread_id, before_seq=before_seq)
        if before_seq is None and view.unread:
            await messaging.mark_read(db_session, actor, view.thread)
        return render(
            request,
            THREAD_TEMPLATE,
            {"view": view, "paged": before_seq is not None, "form": {}, "errors": {}},
            block="messages",
        )

    @post("/{thread_id:uuid}", name="message_post")
    async def post_message(
        self, request: Request[Any, Any, Any], thread_id: FromPath[UUID], db_session: NamedDependency[AsyncSession]
    ) -> Response[Any]:
        actor: Actor = request.user
        form = await request.form()
        # Length and content are checked by the service (one set of rules for the page and the API).
        raw = FormReader(form).text("body", strip=False, max_length=2**63)
        try:
            message = await messaging.post_message(
                db_session, actor, thread_id, raw, now=runtime_of(request).clock.now()
            )
        except (InvalidInput, Conflict, Forbidden) as exc:
            errors = exc.errors if isinstance(exc, InvalidInput) else {"form": exc.message}
            view = await queries.open_thread(db_session, actor, thread_id)
            # Echo at most one message's worth of text back into the form (never megabytes).
            echo = raw[: messaging.MESSAGE_MAX_CHARS]
            return render(
                request,
                THREAD_TEMPLATE,
                {"view": view, "paged": False, "form": {"body": echo}, "errors": errors},
                block="conversation",
                status_code=exc.status_code,
            )
        if is_htmx(request):
            view = await queries.open_thread(db_session, actor, thread_id)
            await messaging.mark_read(db_session, actor, view.thread)
            return render(
                request,
                THREAD_TEMPLATE,
                {"view": view, "paged": False, "form": {}, "errors": {}},
                block="conversation",
                status_code=HTTP_201_CREATED,
            )
        return redirect(request, f"/messages/{thread_id}#m-{message.seq}")

    @get("/application/{application_id:uuid}", name="application_thread")
    async def application_thread(
        self, request: Request[Any, Any, Any], application_id: FromPath[UUID], db_session: NamedDependency[AsyncSession]
    ) -> Response[Any]:
        return await _to_thread(request, db_session, messaging.Subject("application", application_id))

    @get("/collaboration/{collaboration_id:uuid}", name="collaboration_thread")
    async def collaboration_thread(
        self,
        request: Request[Any, Any, Any],
        collaboration_id: FromPath[UUID],
        db_session: NamedDependency[AsyncSession],
    ) -> Response[Any]:
        return await _to_thread(request, db_session, messaging.Subject("collaboration", collaboration_id))


async def _to_thread(
    request: Request[Any, Any, Any], session: AsyncSession, subject: messaging.Subject
) -> Response[Any]:
    """The stable link other pages use ("Messages" on a deal): opens, and on first use creates, the thread."""
    thread = await messaging.thread_for_actor(session, request.user, subject)
    if thread is None:
        raise NotFound(gettext('Nobody has written about this yet.'))
    return redirect(request, f"/messages/{thread.id}")


# --- JSON API ---------------------------------------------------------------------------------------------------

AfterSeq = Annotated[int, QueryParameter(ge=0, le=MAX_SEQ, description="Return messages after this seq.")]
Limit = Annotated[int, QueryParameter(ge=1, le=messaging.MESSAGES_PER_PAGE, description="At most this many.")]
MarkRead = Annotated[bool, QueryParameter(description="Record the returned messages as read by the caller.")]


async def _list(
    request: Request[Any, Any, Any],
    session: AsyncSession,
    subject: messaging.Subject,
    after_seq: int,
    limit: int,
    mark_read: bool,
) -> ThreadMessagesOut:
    actor: Actor = request.user
    thread, views, unread = await queries.messages_after(session, actor, subject, after_seq=after_seq, limit=limit)
    if thread is not None and views and mark_read:
        await messaging.mark_read(session, actor, thread, views[-1].seq)
    last_seq = views[-1].seq if views else after_seq
    return ThreadMessagesOut(
        thread_id=thread.id if thread else None,
        message_count=thread.message_count if thread else 0,
        unread=unread,
        messages=[message_out(v, actor.user_id) for v in views],
        next_after_seq=last_seq if thread is not None and last_seq < thread.message_count else None,
    )


async def _post(
    request: Request[Any, Any, Any], session: AsyncSession, subject: messaging.Subject, data: MessageIn
) -> MessageOut:
    actor: Actor = request.user
    message = await messaging.post_to_subject(session, actor, subject, data.body, now=runtime_of(request).clock.now())
    _, views, _ = await queries.messages_after(session, actor, subject, after_seq=message.seq - 1, limit=1)
    return message_out(views[0], actor.user_id)


class MessageApi(Controller):
    path = "/api/v1"
    tags = ["messages"]
    guards = [signed_in]

    @get("/collaborations/{collaboration_id:uuid}/messages", summary="Messages about a collaboration")
    async def collaboration_messages(
        self,
        request: Request[Any, Any, Any],
        collaboration_id: FromPath[UUID],
        db_session: NamedDependency[AsyncSession],
        after_seq: AfterSeq = 0,
        limit: Limit = messaging.MESSAGES_PER_PAGE,
        mark_read: MarkRead = True,
    ) -> ThreadMessagesOut:
        subject = messaging.Subject("collaboration", collaboration_id)
        return await _list(request, db_session, subject, after_seq, limit, mark_read)

    @post(
        "/collaborations/{collaboration_id:uuid}/messages",
        status_code=HTTP_201_CREATED,
        summary="Write to the other side of a collaboration (messages can't be edited or deleted)",
    )
    async def post_collaboration_message(
        self,
        request: Request[Any, Any, Any],
        collaboration_id: FromPath[UUID],
        data: JSONBody[MessageIn],
        db_session: NamedDependency[AsyncSession],
    ) -> MessageOut:
        return await _post(request, db_session, messaging.Subject("collaboration", collaboration_id), data)

    @get("/applications/{application_id:uuid}/messages", summary="Messages about an application")
    async def application_messages(
        self,
        request: Request[Any, Any, Any],
        application_id: FromPath[UUID],
        db_session: NamedDependency[AsyncSession],
        after_seq: AfterSeq = 0,
        limit: Limit = messaging.MESSAGES_PER_PAGE,
        mark_read: MarkRead = True,
    ) -> ThreadMessagesOut:
        subject = messaging.Subject("application", application_id)
        return await _list(request, db_session, subject, after_seq, limit, mark_read)

    @post(
        "/applications/{application_id:uuid}/messages",
        status_code=HTTP_201_CREATED,
        summary="Write to the other side of an application (messages can't be edited or deleted)",
    )
    async def post_application_message(
        self,
        request: Request[Any, Any, Any],
        application_id: FromPath[UUID],
        data: JSONBody[MessageIn],
        db_session: NamedDependency[AsyncSession],
    ) -> MessageOut:
        return await _post(request, db_session, messaging.Subject("application", application_id), data)

    @get("/messages", summary="Your conversations, most recent first, with unread counts")
    async def inbox(
        self,
        request: Request[Any, Any, Any],
        db_session: NamedDependency[AsyncSession],
        before: Annotated[str | None, QueryParameter(
            description="The next_cursor of the previous page.",
            schema_extra={"pattern": INBOX_CURSOR})] = None,
    ) -> InboxOut:
        page = await queries.inbox(db_session, request.user, before=before)
        return InboxOut(threads=[thread_summary_out(e) for e in page.entries], next_cursor=page.next_cursor)


#: Route handlers (controllers) this area contributes to the app; create_app() includes them in order.
ROUTES: list[Any] = [MessagePages, MessageApi]
