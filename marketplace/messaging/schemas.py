"""JSON shapes of the messaging API."""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

import msgspec

from marketplace.messaging.queries import InboxEntry
from marketplace.messaging.services import MessageView

#: ``encode_cursor``'s shape, so the schema admits only cursors ``decode_cursor`` reads: a real date and time (a year
#: from 1, months' own lengths, 29 February in leap years), UTC, then ``~`` and the thread's id.
_YEAR = r"(?:[0-9]{3}[1-9]|[0-9]{2}[1-9]0|[0-9][1-9]00|[1-9]000)"
_LEAP_YEAR = r"(?:[0-9]{2}(?:0[48]|[2468][048]|[13579][26])|(?:0[48]|[2468][048]|[13579][26])00)"
_MONTH_DAY = (
    r"(?:(?:0[13578]|1[02])-(?:0[1-9]|[12][0-9]|3[01])|(?:0[469]|11)-(?:0[1-9]|[12][0-9]|30)"
    r"|02-(?:0[1-9]|1[0-9]|2[0-8]))"
)
_TIME = r"T(?:[01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9](?:\.[0-9]{6})?(?:\+00:00)?"
_ID = r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}"
INBOX_CURSOR = rf"^(?:{_YEAR}-{_MONTH_DAY}|{_LEAP_YEAR}-02-29){_TIME}~{_ID}$"


class MessageIn(msgspec.Struct, forbid_unknown_fields=True):
    #: The message text (trimmed; 1 to 5,000 characters).
    body: str


class MessageOut(msgspec.Struct):
    id: UUID
    seq: int
    #: brand, creator, admin or system.
    sender_party: str
    sender_name: str
    body: str
    created_at: datetime
    #: True when the caller wrote it.
    mine: bool


class ThreadMessagesOut(msgspec.Struct):
    #: None until the first message is written.
    thread_id: UUID | None
    message_count: int
    #: The caller's unread messages in this thread before this call.
    unread: int
    messages: list[MessageOut]
    #: Pass as ``after_seq`` to fetch the next messages, or None when there are no more yet.
    next_after_seq: int | None


class ThreadSummaryOut(msgspec.Struct):
    thread_id: UUID
    application_id: UUID | None
    collaboration_id: UUID | None
    title: str
    brand_name: str
    creator_name: str
    message_count: int
    unread: int
    last_message_at: datetime | None
    last_message: str


class InboxOut(msgspec.Struct):
    threads: list[ThreadSummaryOut]
    #: Pass as ``before`` for older threads, or None at the end.
    next_cursor: str | None


def message_out(view: MessageView, caller_user_id: UUID) -> MessageOut:
    return MessageOut(
        id=view.id,
        seq=view.seq,
        sender_party=view.sender_party,
        sender_name=view.sender_name,
        body=view.body,
        created_at=view.created_at,
        mine=view.sender_user_id == caller_user_id,
    )


def thread_summary_out(entry: InboxEntry) -> ThreadSummaryOut:
    return ThreadSummaryOut(
        thread_id=entry.thread_id,
        application_id=entry.subject.id if entry.subject.kind == "application" else None,
        collaboration_id=entry.subject.id if entry.subject.kind == "collaboration" else None,
        title=entry.title,
        brand_name=entry.brand_name,
        creator_name=entry.creator_name,
        message_count=entry.message_count,
        unread=entry.unread,
        last_message_at=entry.last_message_at,
        last_message=entry.last_body[:280],
    )
