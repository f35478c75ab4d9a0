"""Batched email about unread messages: one digest per person every few minutes, never one mail per message."""

from __future__ import annotations

import logging
from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime, timedelta
from uuid import UUID

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from marketplace.accounts.models import User, UserKind
from marketplace.brands.models import BrandMember
from marketplace.clock import as_utc
from marketplace.creators.models import Creator
from marketplace.db import session_scope
from marketplace.jobs import JobContext, job
from marketplace.messaging.models import Message, Thread, ThreadReadState
from marketplace.messaging.queries import message_rows, message_views, thread_labels
from marketplace.messaging.services import MessageView
from marketplace.notifications.mail import send_email
from marketplace.notifications.models import NotificationPreference

log = logging.getLogger(__name__)

#: A message is emailed about only after it has stayed unread this long (a quick reply needs no email).
DIGEST_DELAY = timedelta(minutes=10)
#: Threads quiet for longer than this are not scanned (keeps the sweep bounded; nobody wants a month-old digest).
DIGEST_LOOKBACK = timedelta(days=14)
#: How often the sweep runs.
DIGEST_EVERY_SECONDS = 300
#: People handled per run; the next run continues with the rest.
DIGEST_USERS_PER_RUN = 500
#: Newest unread messages quoted per conversation in a digest.
QUOTED_PER_THREAD = 3


@dataclass(frozen=True)
class DueThread:
    thread_id: UUID
    #: The newest message old enough to email about; the digest covers messages up to it.
    upto_seq: int


@dataclass
class DigestThread:
    thread_id: UUID
    title: str
    counterpart: str
    count: int
    messages: list[MessageView]


async def due_digests(
    session: AsyncSession, *, now: datetime, delay: timedelta = DIGEST_DELAY, limit_users: int = DIGEST_USERS_PER_RUN
) -> dict[UUID, list[DueThread]]:
    """Who should get a digest, about which threads: messages unread for ``delay``, newer than anything the person
    read or was emailed about, in threads they still take part in, unless they switched message emails off."""
    cutoff = now - delay
    read = ThreadReadState
    still_participant = sa.or_(
        sa.exists().where(Creator.id == Thread.creator_id, Creator.user_id == read.user_id),
        sa.exists().where(BrandMember.brand_id == Thread.brand_id, BrandMember.user_id == read.user_id),
    )
    opted_out = sa.exists().where(
        NotificationPreference.user_id == read.user_id,
        NotificationPreference.kind_group == "messages",
        NotificationPreference.email.is_(False),
    )
    users = (
        sa.select(read.user_id)
        .join(Thread, Thread.id == read.thread_id)
        .join(User, User.id == read.user_id)
        .where(
            Thread.last_message_at >= now - DIGEST_LOOKBACK,
            Thread.message_count > read.last_read_seq,
            Thread.message_count > read.last_emailed_seq,
            User.is_active.is_(True),
            still_participant,
            ~opted_out,
        )
        .distinct()
        .order_by(read.user_id)
        .limit(limit_users)
        .subquery()
    )
    rows = (
        await session.execute(
            sa.select(read.user_id, read.thread_id, sa.func.max(Message.seq).label("upto_seq"))
            .join(users, users.c.user_id == read.user_id)
            .join(Thread, Thread.id == read.thread_id)
            .join(
                Message,
                sa.and_(
                    Message.thread_id == read.thread_id,
                    Message.seq > read.last_read_seq,
                    Message.seq > read.last_emailed_seq,
                    Message.created_at <= cutoff,
                ),
            )
            .where(Thread.last_message_at >= now - DIGEST_LOOKBACK, still_participant)
            .group_by(read.user_id, read.thread_id)
        )
    ).all()
    due: dict[UUID, list[DueThread]] = defaultdict(list)
    for row in rows:
        due[row.user_id].append(DueThread(row.thread_id, int(row.upto_seq)))
    return dict(due)


async def send_digest(
    session: AsyncSession, user_id: UUID, threads: list[DueThread], *, now: datetime, public_url: str
) -> int:
    """Claim the threads for this person and queue one email about them, in the caller's transaction.

    The read-state rows are locked and re-checked first, so a concurrent run (or the person reading the thread
    meanwhile) makes this one skip them: the same messages are never emailed twice. Returns messages covered."""
    user = await session.get(User, user_id)
    if user is None or not user.is_active:
        return 0
    wanted = {t.thread_id: t.upto_seq for t in threads}
    states = (
        await session.scalars(
            sa.select(ThreadReadState)
            .where(ThreadReadState.user_id == user_id, ThreadReadState.thread_id.in_(list(wanted)))
            .order_by(ThreadReadState.thread_id)
            .with_for_update()
            .execution_options(populate_existing=True)
        )
    ).all()
    claimed: dict[UUID, tuple[int, int]] = {}
    for state in states:
        upto = wanted[state.thread_id]
        floor = max(state.last_read_seq, state.last_emailed_seq)
        if floor >= upto:
            continue
        claimed[state.thread_id] = (floor, upto)
        state.last_emailed_seq = upto
        state.last_emailed_at = now
    if not claimed:
        return 0
    await session.flush()
    digest = await _digest_threads(session, claimed, recipient_is_creator=user.kind is UserKind.CREATOR)
    total = sum(t.count for t in digest)
    await send_email(
        session,
        user.email,
        "message_digest",
        category="message.digest",
        user=user,
        threads=digest,
        total=total,
        public_url=public_url,
    )
    return total


async def _digest_threads(
    session: AsyncSession, claimed: dict[UUID, tuple[int, int]], *, recipient_is_creator: bool
) -> list[DigestThread]:
    headers = (
        await session.execute(
            sa.select(Thread.id, Thread.last_message_at, *thread_labels()).where(Thread.id.in_(list(claimed)))
        )
    ).all()
    quoted = [
        sa.and_(Message.thread_id == thread_id, Message.seq > max(floor, upto - QUOTED_PER_THREAD), Message.seq <= upto)
        for thread_id, (floor, upto) in claimed.items()
    ]
    rows = await message_rows(session, list(claimed), where=[sa.or_(*quoted)])
    by_thread: dict[UUID, list[object]] = defaultdict(list)
    for row in rows:
        by_thread[row.Message.thread_id].append(row)
    digest = []
    # Most recently active conversation first, as in the inbox.
    for header in sorted(headers, key=lambda h: as_utc(h.last_message_at), reverse=True):
        thread_id, brand_name, creator_name = header.id, header.brand_name, header.creator_name
        floor, upto = claimed[thread_id]
        digest.append(
            DigestThread(
                thread_id=thread_id,
                title=header.title,
                counterpart=brand_name if recipient_is_creator else creator_name,
                # seq has no gaps within a thread, so this is exactly the number of messages covered.
                count=upto - floor,
                messages=message_views(by_thread[thread_id], brand_name, creator_name),
            )
        )
    return digest


@job("messaging.email_unread_digests", every=DIGEST_EVERY_SECONDS)
async def email_unread_digests(ctx: JobContext) -> int:
    """Periodic sweep: one digest email per person with messages unread for a while. Safe to run twice, even at
    the same time (each person's claim is one transaction over locked rows). Returns emails queued."""
    now = ctx.clock.now()
    async with ctx.session_maker() as session:
        due = await due_digests(session, now=now)
    sent = 0
    for user_id, threads in due.items():
        try:
            async with session_scope(ctx.session_maker) as session:
                if await send_digest(session, user_id, threads, now=now, public_url=ctx.settings.app.public_url):
                    sent += 1
        except Exception:
            # One person's failure must not starve everyone else; their threads stay unclaimed for the next run.
            log.exception("message digest for user %s failed", user_id)
    if sent:
        log.info("queued %d message digest emails", sent)
    return sent
