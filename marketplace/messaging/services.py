"""Conversations between a brand and a creator about one application or collaboration: access, threads, posting.

Who may do what (every function below enforces it; outsiders get NotFound so a thread's existence never leaks):

* the creator of the application/collaboration reads and writes its thread;
* every member of the brand reads it; ``WRITER_ROLES`` (owner, manager and finance — finance answers the payment
  questions creators ask most) write in it;
* PostPact admins read every thread and never write (``Forbidden``): threads are dispute evidence, and the admin
  console reads them through ``queries.evidence_transcript()``, which records no read state;
* suspended users read but don't write; an application thread closes for writing once the application is
  declined or withdrawn (``Conflict``); collaboration threads stay open in every state, disputes included.

Unread counts are ``Thread.message_count - ThreadReadState.last_read_seq`` per user. Posting fans out one read-state
row per participant (two statements whatever the team size): the sender's whole side is marked read up to the new
message (a shared team inbox: a teammate's reply means the conversation was handled), the other side gets a row if
it had none. A user with no row (e.g. someone who joined the brand after the last message) has nothing unread.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal
from uuid import UUID

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from marketplace.accounts.auth import Actor
from marketplace.applications.models import Application, ApplicationStatus
from marketplace.brands.models import BrandMember, BrandRole
from marketplace.collaborations.models import Collaboration
from marketplace.creators.models import Creator
from marketplace.db import insert_stmt
from marketplace.errors import Conflict, Forbidden, InvalidInput, NotFound
from marketplace.i18n import gettext
from marketplace.messaging.models import Message, Thread, ThreadReadState

#: Brand roles that may write in threads (all roles read).
WRITER_ROLES = frozenset({BrandRole.OWNER, BrandRole.MANAGER, BrandRole.FINANCE})
#: Longest message body, in characters.
MESSAGE_MAX_CHARS = 5000
#: Messages shown per thread page / returned per API call at most.
MESSAGES_PER_PAGE = 100
#: Threads per inbox page.
THREADS_PER_PAGE = 30
#: Application threads in these states are read-only.
CLOSED_APPLICATION_STATES = frozenset({ApplicationStatus.DECLINED, ApplicationStatus.WITHDRAWN})

SubjectKind = Literal["application", "collaboration"]


class Party(enum.StrEnum):
    BRAND = "brand"
    CREATOR = "creator"
    ADMIN = "admin"
    SYSTEM = "system"


@dataclass(frozen=True)
class Subject:
    """What a thread is about: an application or a collaboration."""

    kind: SubjectKind
    id: UUID

    @classmethod
    def of(cls, *, application_id: UUID | None = None, collaboration_id: UUID | None = None) -> Subject:
        if (application_id is None) == (collaboration_id is None):
            raise ValueError("give exactly one of application_id and collaboration_id")
        if application_id is not None:
            return cls("application", application_id)
        assert collaboration_id is not None
        return cls("collaboration", collaboration_id)

    @property
    def thread_clause(self) -> sa.ColumnElement[bool]:
        column = Thread.application_id if self.kind == "application" else Thread.collaboration_id
        return column == self.id


@dataclass(frozen=True)
class SubjectParties:
    brand_id: UUID
    creator_id: UUID
    closed_reason: str | None


@dataclass(frozen=True)
class MessageView:
    id: UUID
    seq: int
    sender_party: str
    sender_user_id: UUID | None
    sender_name: str
    body: str
    created_at: datetime


# --- input ------------------------------------------------------------------------------------------------------


def clean_body(raw: Any, field_name: str = "body") -> str:
    """The message as stored: trimmed, CRLF normalised; empty, over-long or unstorable text is a field error."""
    if not isinstance(raw, str):
        raise InvalidInput({field_name: gettext('The message must be text.')})
    text = raw.replace("\r\n", "\n").replace("\r", "\n").strip()
    if not text:
        raise InvalidInput({field_name: gettext('Write a message before sending.')})
    if len(text) > MESSAGE_MAX_CHARS:
        raise InvalidInput(
            {
                field_name: gettext(
                    "A message can be at most %(message_max_chars)s characters (this one has %(text)s).",
                    message_max_chars=format(MESSAGE_MAX_CHARS, ","),
                    text=format(len(text), ","),
                )
            }
        )
    # NUL can't be stored in PostgreSQL text and lone surrogates can't be encoded: refuse rather than fail later.
    if "\x00" in text or _has_unencodable(text):
        raise InvalidInput({field_name: gettext("The message contains characters that can't be stored; remove them.")})
    return text


def _has_unencodable(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False


# --- access -----------------------------------------------------------------------------------------------------


def reader_party(actor: Actor, brand_id: UUID, creator_id: UUID) -> Party | None:
    """The side the actor reads a thread as, or None when they may not read it at all."""
    if actor.is_creator and actor.creator_id == creator_id:
        return Party.CREATOR
    if actor.is_brand and actor.brand_id == brand_id:
        return Party.BRAND
    if actor.is_admin:
        return Party.ADMIN
    return None


def write_refusal(actor: Actor, party: Party, closed: str | None) -> str | None:
    """Why this reader may not write, or None if they may."""
    if party is Party.ADMIN:
        return "Admins can read conversations but don't post in them."
    if actor.suspended:
        return "Your account is suspended, so you can't send messages."
    if party is Party.BRAND and actor.brand_role not in WRITER_ROLES:
        return "Your role can read this conversation but not write in it."
    return closed


def _require_writer(actor: Actor, party: Party, closed: str | None) -> None:
    reason = write_refusal(actor, party, closed)
    if reason is None:
        return
    if reason == closed:
        raise Conflict(reason)
    raise Forbidden(reason)


def closed_reason(application_status: ApplicationStatus | str | None, is_application_thread: bool) -> str | None:
    if not is_application_thread or application_status is None:
        return None
    status = ApplicationStatus(application_status)
    if status in CLOSED_APPLICATION_STATES:
        return f"This application was {status.value}, so the conversation is closed."
    return None


async def subject_parties(session: AsyncSession, subject: Subject) -> SubjectParties | None:
    """Brand, creator and open/closed state of an application or collaboration (None if it doesn't exist)."""
    if subject.kind == "application":
        row = (
            await session.execute(
                sa.select(Application.brand_id, Application.creator_id, Application.status).where(
                    Application.id == subject.id
                )
            )
        ).first()
        if row is None:
            return None
        return SubjectParties(row.brand_id, row.creator_id, closed_reason(row.status, True))
    row = (
        await session.execute(
            sa.select(Collaboration.brand_id, Collaboration.creator_id).where(Collaboration.id == subject.id)
        )
    ).first()
    if row is None:
        return None
    return SubjectParties(row.brand_id, row.creator_id, None)


# --- threads ----------------------------------------------------------------------------------------------------


async def find_thread(session: AsyncSession, subject: Subject) -> Thread | None:
    return await session.scalar(sa.select(Thread).where(subject.thread_clause))


async def ensure_thread(session: AsyncSession, subject: Subject, parties: SubjectParties | None = None) -> Thread:
    """The subject's thread, created if it has none yet. Race-safe: two requests creating it at once both end up
    with the same row (the unique constraint decides, the loser re-reads). No access check: callers do that."""
    existing = await find_thread(session, subject)
    if existing is not None:
        return existing
    parties = parties or await subject_parties(session, subject)
    if parties is None:
        raise NotFound(gettext('No such %(kind)s.', kind=subject.kind))
    thread = Thread(
        application_id=subject.id if subject.kind == "application" else None,
        collaboration_id=subject.id if subject.kind == "collaboration" else None,
        brand_id=parties.brand_id,
        creator_id=parties.creator_id,
        message_count=0,
    )
    try:
        async with session.begin_nested():
            session.add(thread)
            await session.flush()
    except IntegrityError:
        existing = await find_thread(session, subject)
        if existing is None:
            raise
        return existing
    return thread


async def thread_for_actor(session: AsyncSession, actor: Actor, subject: Subject) -> Thread | None:
    """The subject's thread for a participant, created on first look; for admins only if it exists.
    Outsiders (and unknown subjects) get NotFound."""
    parties = await subject_parties(session, subject)
    if parties is None or reader_party(actor, parties.brand_id, parties.creator_id) is None:
        raise NotFound(gettext('No such %(kind)s.', kind=subject.kind))
    if actor.is_admin:
        return await find_thread(session, subject)
    return await ensure_thread(session, subject, parties)


# --- read state -------------------------------------------------------------------------------------------------


async def mark_read(session: AsyncSession, actor: Actor, thread: Thread, seq: int | None = None) -> None:
    """Record that the actor has read the thread up to ``seq`` (default: its last message). Never moves back;
    admins leave no trace (their reading is not participation)."""
    if actor.is_admin:
        return
    seq = thread.message_count if seq is None else min(seq, thread.message_count)
    insert = insert_stmt(session, ThreadReadState)
    statement = insert.on_conflict_do_update(
        index_elements=[ThreadReadState.thread_id, ThreadReadState.user_id],
        set_={
            "last_read_seq": sa.case(
                (insert.excluded.last_read_seq > ThreadReadState.last_read_seq, insert.excluded.last_read_seq),
                else_=ThreadReadState.last_read_seq,
            ),
            "updated_at": insert.excluded.updated_at,
        },
    )
    await session.execute(statement, [{"thread_id": thread.id, "user_id": actor.user_id, "last_read_seq": seq}])


async def thread_participants(session: AsyncSession, thread: Thread) -> list[tuple[UUID, Party]]:
    """Everyone who may currently read and be told about the thread: the creator's user and the brand's team."""
    creator_side = sa.select(Creator.user_id.label("user_id"), sa.literal(Party.CREATOR.value).label("party")).where(
        Creator.id == thread.creator_id
    )
    brand_side = sa.select(BrandMember.user_id.label("user_id"), sa.literal(Party.BRAND.value).label("party")).where(
        BrandMember.brand_id == thread.brand_id
    )
    rows = (await session.execute(sa.union_all(creator_side, brand_side))).all()
    return [(row.user_id, Party(row.party)) for row in rows]


async def _fan_out_read_states(session: AsyncSession, thread: Thread, seq: int, party: Party) -> None:
    participants = await thread_participants(session, thread)
    if not participants:
        return
    rows = [
        {"thread_id": thread.id, "user_id": user_id, "last_read_seq": seq if side is party else seq - 1}
        for user_id, side in participants
    ]
    insert = insert_stmt(session, ThreadReadState)
    await session.execute(
        insert.on_conflict_do_nothing(index_elements=[ThreadReadState.thread_id, ThreadReadState.user_id]), rows
    )
    same_side = [user_id for user_id, side in participants if side is party]
    if same_side:
        await session.execute(
            sa.update(ThreadReadState)
            .where(
                ThreadReadState.thread_id == thread.id,
                ThreadReadState.user_id.in_(same_side),
                ThreadReadState.last_read_seq < seq,
            )
            .values(last_read_seq=seq)
            .execution_options(synchronize_session=False)
        )


# --- posting ----------------------------------------------------------------------------------------------------


async def _append(
    session: AsyncSession, thread_id: UUID, *, party: Party, sender_user_id: UUID | None, body: str, now: datetime
) -> Message:
    """Add a message under the thread's row lock, so ``seq`` is gap-free and unique per thread."""
    thread = await session.scalar(
        sa.select(Thread).where(Thread.id == thread_id).with_for_update().execution_options(populate_existing=True)
    )
    if thread is None:
        raise NotFound(gettext('No such conversation.'))
    thread.message_count += 1
    thread.last_message_at = now
    message = Message(
        thread_id=thread.id,
        seq=thread.message_count,
        sender_user_id=sender_user_id,
        sender_party=party.value,
        body=body,
        created_at=now,
    )
    session.add(message)
    await session.flush()
    await _fan_out_read_states(session, thread, message.seq, party)
    return message


async def post_message(session: AsyncSession, actor: Actor, thread_id: UUID, body: Any, *, now: datetime) -> Message:
    """The actor writes in a thread they take part in (see the module docstring for who may)."""
    row = (
        await session.execute(
            sa.select(Thread.brand_id, Thread.creator_id, Thread.application_id, Application.status)
            .outerjoin(Application, Application.id == Thread.application_id)
            .where(Thread.id == thread_id)
        )
    ).first()
    if row is None or (party := reader_party(actor, row.brand_id, row.creator_id)) is None:
        raise NotFound(gettext('No such conversation.'))
    _require_writer(actor, party, closed_reason(row.status, row.application_id is not None))
    text = clean_body(body)
    return await _append(session, thread_id, party=party, sender_user_id=actor.user_id, body=text, now=now)


async def post_to_subject(
    session: AsyncSession, actor: Actor, subject: Subject, body: Any, *, now: datetime
) -> Message:
    """Write about an application or collaboration, creating its thread on the first message."""
    parties = await subject_parties(session, subject)
    if parties is None or (party := reader_party(actor, parties.brand_id, parties.creator_id)) is None:
        raise NotFound(gettext('No such %(kind)s.', kind=subject.kind))
    _require_writer(actor, party, parties.closed_reason)
    text = clean_body(body)
    thread = await ensure_thread(session, subject, parties)
    return await _append(session, thread.id, party=party, sender_user_id=actor.user_id, body=text, now=now)


async def post_system_message(
    session: AsyncSession,
    *,
    body: str,
    now: datetime,
    collaboration_id: UUID | None = None,
    application_id: UUID | None = None,
    party: Party = Party.SYSTEM,
    sender_user_id: UUID | None = None,
) -> Message:
    """PostPact writes into a deal's or application's thread ("Product shipped: tracking 1Z…", an admin's note in a
    dispute). No access check: the calling service has done its own. Both sides see it as unread."""
    if party not in (Party.SYSTEM, Party.ADMIN):
        raise ValueError("system messages are written as 'system' or 'admin'")
    subject = Subject.of(application_id=application_id, collaboration_id=collaboration_id)
    thread = await ensure_thread(session, subject)
    return await _append(session, thread.id, party=party, sender_user_id=sender_user_id, body=clean_body(body), now=now)
