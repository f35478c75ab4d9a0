"""Reading conversations: a thread as one reader sees it, the inbox, unread counts, and the admin evidence view.

Every function here is scoped to the actor (see ``messaging.services`` for the access rules) except
``evidence_transcript()``, which serves the admin-only dispute console. Nothing here writes; the thread page
calls ``services.mark_read()`` after showing messages.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from uuid import UUID

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from marketplace.accounts.auth import Actor
from marketplace.accounts.models import User
from marketplace.applications.models import Application
from marketplace.brands.models import Brand
from marketplace.clock import as_utc
from marketplace.collaborations.models import Collaboration
from marketplace.creators.models import Creator
from marketplace.errors import InvalidInput, NotFound
from marketplace.gigs.models import Gig
from marketplace.i18n import gettext
from marketplace.messaging.models import Message, Thread, ThreadReadState
from marketplace.messaging.services import (
    MESSAGES_PER_PAGE,
    THREADS_PER_PAGE,
    MessageView,
    Party,
    Subject,
    closed_reason,
    find_thread,
    reader_party,
    subject_parties,
    write_refusal,
)


@dataclass
class ThreadView:
    """A thread as one reader sees it."""

    thread: Thread
    subject: Subject
    title: str
    brand_name: str
    creator_name: str
    gig_id: UUID
    party: Party
    can_write: bool
    #: Why the reader can't write (shown instead of the form), or None.
    write_refusal: str | None
    #: The reader's read position before this view (messages after it are shown as new).
    last_read_seq: int
    messages: list[MessageView] = field(default_factory=list)
    #: ``seq`` to pass as ``before_seq`` for older messages, or None when the first message is shown.
    earlier_before_seq: int | None = None

    @property
    def unread(self) -> int:
        return max(0, self.thread.message_count - self.last_read_seq)

    def link_for_subject(self) -> str | None:
        """Where the reader sees the application or deal itself (the agreed URLs of the other areas)."""
        if self.subject.kind == "collaboration":
            return f"/collaborations/{self.subject.id}"
        if self.party is Party.BRAND:
            return f"/brand/gigs/{self.gig_id}/applications"
        if self.party is Party.CREATOR:
            return "/creator/applications"
        return None


@dataclass(frozen=True)
class InboxEntry:
    thread_id: UUID
    subject: Subject
    title: str
    brand_name: str
    creator_name: str
    message_count: int
    unread: int
    last_message_at: datetime | None
    last_sender_party: str | None
    last_body: str


@dataclass(frozen=True)
class InboxPage:
    entries: list[InboxEntry]
    #: Opaque cursor for the next (older) page, or None.
    next_cursor: str | None


@dataclass(frozen=True)
class Transcript:
    """A whole thread for the admin evidence view: every message, oldest first, with senders."""

    thread: Thread
    subject: Subject
    title: str
    brand_name: str
    creator_name: str
    messages: list[MessageView]


def thread_labels() -> list[sa.Label[Any]]:
    """What a thread is called, as correlated subqueries on ``Thread``: the brand's and creator's names, the gig's
    id and title, and (for application threads) the application's status. Subqueries instead of joins keep
    planning cheap (a seven-table join took PostgreSQL ~20 ms to plan) and run only for the rows returned."""
    # Explicitly correlated: nested two levels deep, auto-correlation would not reach the outer thread row.
    collab_application = (
        sa.select(Collaboration.application_id)
        .where(Collaboration.id == Thread.collaboration_id)
        .correlate(Thread)
        .scalar_subquery()
    )
    application_id = sa.func.coalesce(Thread.application_id, collab_application)

    def of_gig(column: Any) -> Any:
        return (
            sa.select(column)
            .join(Application, Application.gig_id == Gig.id)
            .where(Application.id == application_id)
            .correlate(Thread)
            .scalar_subquery()
        )

    return [
        sa.select(Brand.name).where(Brand.id == Thread.brand_id).scalar_subquery().label("brand_name"),
        sa.select(Creator.display_name).where(Creator.id == Thread.creator_id).scalar_subquery().label("creator_name"),
        of_gig(Gig.id).label("gig_id"),
        of_gig(Gig.title).label("title"),
        sa.select(Application.status)
        .where(Application.id == Thread.application_id)
        .scalar_subquery()
        .label("application_status"),
    ]


def _header_query(user_id: UUID | None) -> sa.Select[Any]:
    read = aliased(ThreadReadState)
    return sa.select(Thread, *thread_labels(), read.last_read_seq.label("last_read_seq")).outerjoin(
        read, sa.and_(read.thread_id == Thread.id, read.user_id == user_id)
    )


def _subject_of(thread: Thread) -> Subject:
    return Subject.of(application_id=thread.application_id, collaboration_id=thread.collaboration_id)


async def open_thread(
    session: AsyncSession, actor: Actor, thread_id: UUID, *, before_seq: int | None = None
) -> ThreadView:
    """A thread with its newest messages (or those before ``before_seq``) as the actor may see it.
    Records nothing; call ``mark_read()`` after showing it."""
    row = (await session.execute(_header_query(actor.user_id).where(Thread.id == thread_id))).first()
    if row is None:
        raise NotFound(gettext('No such conversation.'))
    thread: Thread = row.Thread
    party = reader_party(actor, thread.brand_id, thread.creator_id)
    if party is None:
        raise NotFound(gettext('No such conversation.'))
    closed = closed_reason(row.application_status, thread.application_id is not None)
    refusal = write_refusal(actor, party, closed)
    messages, earlier = await _messages(session, thread, row.brand_name, row.creator_name, before_seq=before_seq)
    # No read-state row means nothing unread (see services): admins, and people who joined after the last message.
    last_read = thread.message_count if party is Party.ADMIN or row.last_read_seq is None else row.last_read_seq
    return ThreadView(
        thread=thread,
        subject=_subject_of(thread),
        title=row.title,
        brand_name=row.brand_name,
        creator_name=row.creator_name,
        gig_id=row.gig_id,
        party=party,
        can_write=refusal is None,
        write_refusal=refusal,
        last_read_seq=last_read,
        messages=messages,
        earlier_before_seq=earlier,
    )


def _sender_name(party: str, user_name: str | None, brand_name: str, creator_name: str) -> str:
    if party == Party.CREATOR:
        return creator_name
    if party == Party.BRAND:
        return f"{user_name} ({brand_name})" if user_name else brand_name
    if party == Party.ADMIN:
        return "PostPact support"
    return "PostPact"


async def message_rows(
    session: AsyncSession, thread_ids: Sequence[UUID], *, where: Iterable[sa.ColumnElement[bool]] = (),
    newest_first: bool = False, limit: int | None = None,
) -> list[Any]:
    query = (
        sa.select(Message, User.full_name.label("user_name"))
        .outerjoin(User, User.id == Message.sender_user_id)
        .where(Message.thread_id.in_(list(thread_ids)), *where)
        .order_by(Message.thread_id, Message.seq.desc() if newest_first else Message.seq)
    )
    if limit is not None:
        query = query.limit(limit)
    return list((await session.execute(query)).all())


def message_views(rows: Iterable[Any], brand_name: str, creator_name: str) -> list[MessageView]:
    return [
        MessageView(
            id=r.Message.id,
            seq=r.Message.seq,
            sender_party=r.Message.sender_party,
            sender_user_id=r.Message.sender_user_id,
            sender_name=_sender_name(r.Message.sender_party, r.user_name, brand_name, creator_name),
            body=r.Message.body,
            created_at=as_utc(r.Message.created_at),
        )
        for r in rows
    ]


async def _messages(
    session: AsyncSession, thread: Thread, brand_name: str, creator_name: str, *, before_seq: int | None
) -> tuple[list[MessageView], int | None]:
    """The newest page of messages (before ``before_seq`` when given), oldest first."""
    if thread.message_count == 0:
        return [], None
    where = [Message.seq < before_seq] if before_seq is not None else []
    rows = await message_rows(session, [thread.id], where=where, newest_first=True, limit=MESSAGES_PER_PAGE)
    rows.reverse()
    views = message_views(rows, brand_name, creator_name)
    earlier = views[0].seq if views and views[0].seq > 1 else None
    return views, earlier


async def _names(session: AsyncSession, thread: Thread) -> tuple[str, str]:
    brand_name = sa.select(Brand.name).where(Brand.id == thread.brand_id).scalar_subquery()
    creator_name = sa.select(Creator.display_name).where(Creator.id == thread.creator_id).scalar_subquery()
    row = (await session.execute(sa.select(brand_name, creator_name))).one()
    return row[0], row[1]


async def messages_after(
    session: AsyncSession, actor: Actor, subject: Subject, *, after_seq: int = 0, limit: int = MESSAGES_PER_PAGE
) -> tuple[Thread | None, list[MessageView], int]:
    """For the API: the subject's thread (None if nobody wrote yet), messages with ``seq > after_seq`` oldest first,
    and the reader's unread count before this call."""
    parties = await subject_parties(session, subject)
    if parties is None or (party := reader_party(actor, parties.brand_id, parties.creator_id)) is None:
        raise NotFound(gettext('No such %(kind)s.', kind=subject.kind))
    thread = await find_thread(session, subject)
    if thread is None:
        return None, [], 0
    unread = 0
    if party is not Party.ADMIN:
        last_read = await session.scalar(
            sa.select(ThreadReadState.last_read_seq).where(
                ThreadReadState.thread_id == thread.id, ThreadReadState.user_id == actor.user_id
            )
        )
        unread = max(0, thread.message_count - (last_read if last_read is not None else thread.message_count))
    rows = await message_rows(session, [thread.id], where=[Message.seq > after_seq], limit=limit)
    brand_name, creator_name = await _names(session, thread)
    return thread, message_views(rows, brand_name, creator_name), unread


# --- inbox and unread counts ------------------------------------------------------------------------------------


def _scope(actor: Actor) -> sa.ColumnElement[bool]:
    if actor.is_creator:
        return Thread.creator_id == actor.creator_id
    if actor.is_brand:
        return Thread.brand_id == actor.brand_id
    if actor.is_admin:
        return sa.true()
    return sa.false()


def _unread_expression(read: Any) -> sa.ColumnElement[int]:
    # No read-state row: the user joined after the last message (or never took part), so nothing is unread.
    return Thread.message_count - sa.func.coalesce(read.last_read_seq, Thread.message_count)


def encode_cursor(last_message_at: datetime, thread_id: UUID) -> str:
    return f"{as_utc(last_message_at).isoformat()}~{thread_id}"


def decode_cursor(cursor: str | None) -> tuple[datetime, UUID] | None:
    """None for no cursor; raises InvalidInput for one we didn't make."""
    if not cursor:
        return None
    stamp, _, raw_id = cursor.partition("~")
    try:
        return as_utc(datetime.fromisoformat(stamp)), UUID(raw_id)
    except ValueError:
        raise InvalidInput({"before": gettext('Not a valid page cursor.')}) from None


async def inbox(
    session: AsyncSession, actor: Actor, *, before: str | None = None, limit: int = THREADS_PER_PAGE
) -> InboxPage:
    """The actor's threads with messages, most recent first, with unread counts — one query per page."""
    read = aliased(ThreadReadState)
    last = aliased(Message)
    unread = _unread_expression(read) if not actor.is_admin else sa.literal(0)
    query = (
        sa.select(
            Thread.id,
            Thread.application_id,
            Thread.collaboration_id,
            Thread.message_count,
            Thread.last_message_at,
            unread.label("unread"),
            *thread_labels(),
            last.sender_party.label("last_party"),
            last.body.label("last_body"),
        )
        .outerjoin(read, sa.and_(read.thread_id == Thread.id, read.user_id == actor.user_id))
        .outerjoin(last, sa.and_(last.thread_id == Thread.id, last.seq == Thread.message_count))
        .where(_scope(actor), Thread.message_count > 0)
        .order_by(Thread.last_message_at.desc(), Thread.id.desc())
        .limit(limit + 1)
    )
    position = decode_cursor(before)
    if position is not None:
        at, thread_id = position
        query = query.where(
            sa.or_(Thread.last_message_at < at, sa.and_(Thread.last_message_at == at, Thread.id < thread_id))
        )
    rows = (await session.execute(query)).all()
    entries = [
        InboxEntry(
            thread_id=r.id,
            subject=Subject.of(application_id=r.application_id, collaboration_id=r.collaboration_id),
            title=r.title,
            brand_name=r.brand_name,
            creator_name=r.creator_name,
            message_count=r.message_count,
            unread=max(0, int(r.unread or 0)),
            last_message_at=as_utc(r.last_message_at) if r.last_message_at else None,
            last_sender_party=r.last_party,
            last_body=r.last_body or "",
        )
        for r in rows[:limit]
    ]
    next_cursor = None
    if len(rows) > limit and entries[-1].last_message_at is not None:
        next_cursor = encode_cursor(entries[-1].last_message_at, entries[-1].thread_id)
    return InboxPage(entries, next_cursor)


def unread_total_query(actor: Actor) -> sa.ScalarSelect[int]:
    """Unread messages over all the actor's threads, as a scalar subquery (the badge folds it into one query)."""
    party_id = actor.creator_id if actor.is_creator else actor.brand_id
    return unread_total_for(actor.is_creator, actor.is_brand, actor.user_id, party_id)


def unread_total_for(is_creator: bool, is_brand: bool, user_id: Any, party_id: Any) -> sa.ScalarSelect[int]:
    """``unread_total_query`` by the actor's side; the ids may be bind parameters, so a caller can build the
    statement once per side and run it for every user (the badge poll does)."""
    read = aliased(ThreadReadState)
    if not (is_creator or is_brand):
        return sa.select(sa.literal(0)).scalar_subquery()
    scope = Thread.creator_id == party_id if is_creator else Thread.brand_id == party_id
    return (
        sa.select(sa.func.coalesce(sa.func.sum(_unread_expression(read)), 0))
        .select_from(Thread)
        .join(read, sa.and_(read.thread_id == Thread.id, read.user_id == user_id))
        .where(scope, Thread.message_count > read.last_read_seq)
        .scalar_subquery()
    )


async def unread_message_total(session: AsyncSession, actor: Actor) -> int:
    return int(await session.scalar(sa.select(unread_total_query(actor))) or 0)


async def unread_by_subject(
    session: AsyncSession,
    actor: Actor,
    *,
    collaboration_ids: Iterable[UUID] = (),
    application_ids: Iterable[UUID] = (),
) -> dict[UUID, int]:
    """Unread messages per application/collaboration id for list pages (one query for any number of ids);
    ids the actor can't see, or without unread messages, are absent."""
    collaboration_ids, application_ids = list(collaboration_ids), list(application_ids)
    if not (collaboration_ids or application_ids) or not (actor.is_creator or actor.is_brand):
        return {}
    read = aliased(ThreadReadState)
    rows = (
        await session.execute(
            sa.select(Thread.collaboration_id, Thread.application_id, _unread_expression(read).label("unread"))
            .join(read, sa.and_(read.thread_id == Thread.id, read.user_id == actor.user_id))
            .where(
                _scope(actor),
                Thread.message_count > read.last_read_seq,
                sa.or_(
                    Thread.collaboration_id.in_(collaboration_ids) if collaboration_ids else sa.false(),
                    Thread.application_id.in_(application_ids) if application_ids else sa.false(),
                ),
            )
        )
    ).all()
    return {(r.collaboration_id or r.application_id): int(r.unread) for r in rows}


# --- admin evidence ---------------------------------------------------------------------------------------------


async def evidence_transcript(
    session: AsyncSession,
    *,
    collaboration_id: UUID | None = None,
    application_id: UUID | None = None,
    thread_id: UUID | None = None,
) -> Transcript | None:
    """Every message of a thread, oldest first, for the admin dispute console. No access check (the console's
    route is admin-only) and no read state is written. None when the subject has no thread."""
    query = _header_query(None)
    if thread_id is not None:
        query = query.where(Thread.id == thread_id)
    else:
        query = query.where(Subject.of(application_id=application_id, collaboration_id=collaboration_id).thread_clause)
    row = (await session.execute(query)).first()
    if row is None:
        return None
    thread: Thread = row.Thread
    rows = await message_rows(session, [thread.id])
    return Transcript(
        thread=thread,
        subject=_subject_of(thread),
        title=row.title,
        brand_name=row.brand_name,
        creator_name=row.creator_name,
        messages=message_views(rows, row.brand_name, row.creator_name),
    )


async def deal_transcripts(session: AsyncSession, collaboration_id: UUID) -> list[Transcript]:
    """Everything the two sides wrote about a deal, for a dispute: the thread of the application it came from (the
    talk before acceptance) and the collaboration's own thread, in that order; absent threads are left out."""
    application_id = await session.scalar(
        sa.select(Collaboration.application_id).where(Collaboration.id == collaboration_id)
    )
    if application_id is None:
        return []
    found = [
        await evidence_transcript(session, application_id=application_id),
        await evidence_transcript(session, collaboration_id=collaboration_id),
    ]
    return [t for t in found if t is not None]
