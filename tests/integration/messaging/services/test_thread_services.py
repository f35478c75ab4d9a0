"""Messaging services in real transactions: lazy threads, seq and counters, unread fan-out, access, immutability."""

from __future__ import annotations

import asyncio

import pytest
import sqlalchemy as sa
from sqlalchemy.exc import DBAPIError, IntegrityError

from marketplace.applications.models import ApplicationStatus
from marketplace.brands.models import BrandRole
from marketplace.db import session_scope
from marketplace.errors import Conflict, Forbidden, NotFound
from marketplace.messaging import queries
from marketplace.messaging import services as messaging
from marketplace.messaging.models import Message, Thread, ThreadReadState
from tests.support.messaging import actor_for, make_application, make_collaboration


async def _post(runtime, person, subject, body):
    actor = await actor_for(runtime, person)
    async with session_scope(runtime.session_maker) as session:
        return await messaging.post_to_subject(session, actor, subject, body, now=runtime.clock.now())


async def _unread(runtime, person) -> int:
    actor = await actor_for(runtime, person)
    async with runtime.session_maker() as session:
        return await queries.unread_message_total(session, actor)


async def test_first_message_creates_the_thread_and_numbers_messages(runtime, people, db, clock) -> None:
    talk = await make_collaboration(runtime, await people.brand(), await people.creator())
    subject = messaging.Subject("collaboration", talk.collaboration_id)
    first = await _post(runtime, talk.creator, subject, "Hi! When do you ship?")
    clock.advance(minutes=3)
    second = await _post(runtime, talk.brand, subject, "  Tomorrow.  ")
    thread = await db.scalar(sa.select(Thread).where(Thread.collaboration_id == talk.collaboration_id))
    assert (first.seq, second.seq) == (1, 2)
    assert thread.message_count == 2 and thread.brand_id == talk.brand.brand_id
    assert thread.creator_id == talk.creator.creator_id
    assert thread.last_message_at == clock.now()
    bodies = (
        await db.scalars(sa.select(Message.body).where(Message.thread_id == thread.id).order_by(Message.seq))
    ).all()
    assert bodies == ["Hi! When do you ship?", "Tomorrow."]
    assert await db.scalar(sa.select(sa.func.count()).select_from(Thread)) == 1


async def test_unread_counts_follow_each_side(runtime, people) -> None:
    brand = await people.brand()
    teammate = await people.brand(brand_id=brand.brand_id, role=BrandRole.MANAGER, name="Max Manager")
    talk = await make_collaboration(runtime, brand, await people.creator())
    subject = messaging.Subject("collaboration", talk.collaboration_id)
    await _post(runtime, talk.creator, subject, "one")
    await _post(runtime, talk.creator, subject, "two")
    assert await _unread(runtime, brand) == 2
    assert await _unread(runtime, teammate) == 2
    assert await _unread(runtime, talk.creator) == 0
    # A teammate's reply means the team handled it: the whole brand side is caught up; the creator has one new.
    await _post(runtime, teammate, subject, "Thanks, on it")
    assert await _unread(runtime, brand) == 0 and await _unread(runtime, teammate) == 0
    assert await _unread(runtime, talk.creator) == 1


async def test_someone_joining_later_has_nothing_unread_until_the_next_message(runtime, people) -> None:
    brand = await people.brand()
    talk = await make_collaboration(runtime, brand, await people.creator())
    subject = messaging.Subject("collaboration", talk.collaboration_id)
    for text in ("a", "b", "c"):
        await _post(runtime, talk.creator, subject, text)
    newcomer = await people.brand(brand_id=brand.brand_id, role=BrandRole.FINANCE)
    assert await _unread(runtime, newcomer) == 0
    newcomer_actor = await actor_for(runtime, newcomer)
    async with runtime.session_maker() as session:
        thread = await messaging.find_thread(session, subject)
        view = await queries.open_thread(session, newcomer_actor, thread.id)
    assert view.unread == 0 and view.last_read_seq == 3 and len(view.messages) == 3
    await _post(runtime, talk.creator, subject, "d")
    assert await _unread(runtime, newcomer) == 1
    assert await _unread(runtime, brand) == 4


async def test_mark_read_never_moves_back(runtime, people, db) -> None:
    talk = await make_collaboration(runtime, await people.brand(), await people.creator())
    subject = messaging.Subject("collaboration", talk.collaboration_id)
    for text in ("a", "b", "c"):
        await _post(runtime, talk.creator, subject, text)
    actor = await actor_for(runtime, talk.brand)
    async with session_scope(runtime.session_maker) as session:
        thread = await messaging.find_thread(session, subject)
        await messaging.mark_read(session, actor, thread)
        await messaging.mark_read(session, actor, thread, 1)
    state = await db.scalar(sa.select(ThreadReadState).where(ThreadReadState.user_id == talk.brand.user_id))
    assert state.last_read_seq == 3
    assert await _unread(runtime, talk.brand) == 0


async def test_system_messages_are_unread_for_both_sides(runtime, people) -> None:
    talk = await make_collaboration(runtime, await people.brand(), await people.creator())
    async with session_scope(runtime.session_maker) as session:
        message = await messaging.post_system_message(
            session, collaboration_id=talk.collaboration_id, body="Product shipped: UPS 1Z999", now=runtime.clock.now()
        )
    assert message.sender_party == "system" and message.sender_user_id is None
    assert await _unread(runtime, talk.brand) == 1 and await _unread(runtime, talk.creator) == 1
    with pytest.raises(ValueError):
        async with session_scope(runtime.session_maker) as session:
            await messaging.post_system_message(
                session, collaboration_id=talk.collaboration_id, body="x", now=runtime.clock.now(),
                party=messaging.Party.BRAND,
            )


async def test_outsiders_get_not_found_and_nothing_is_written(runtime, people, db) -> None:
    talk = await make_application(runtime, await people.brand(), await people.creator())
    subject = messaging.Subject("application", talk.application_id)
    for outsider in (await people.brand(brand_name="Other Co"), await people.creator()):
        actor = await actor_for(runtime, outsider)
        with pytest.raises(NotFound):
            async with session_scope(runtime.session_maker) as session:
                await messaging.post_to_subject(session, actor, subject, "hello", now=runtime.clock.now())
        with pytest.raises(NotFound):
            async with session_scope(runtime.session_maker) as session:
                await messaging.thread_for_actor(session, actor, subject)
    assert await db.scalar(sa.select(sa.func.count()).select_from(Thread)) == 0
    assert await db.scalar(sa.select(sa.func.count()).select_from(Message)) == 0


async def test_admins_read_but_never_write_and_leave_no_read_state(runtime, people, db) -> None:
    talk = await make_collaboration(runtime, await people.brand(), await people.creator())
    subject = messaging.Subject("collaboration", talk.collaboration_id)
    admin = await actor_for(runtime, await people.admin())
    async with session_scope(runtime.session_maker) as session:
        assert await messaging.thread_for_actor(session, admin, subject) is None  # admins never create threads
    await _post(runtime, talk.creator, subject, "Evidence: the box arrived empty")
    with pytest.raises(Forbidden):
        async with session_scope(runtime.session_maker) as session:
            await messaging.post_to_subject(session, admin, subject, "hello", now=runtime.clock.now())
    async with session_scope(runtime.session_maker) as session:
        thread = await messaging.thread_for_actor(session, admin, subject)
        view = await queries.open_thread(session, admin, thread.id)
        await messaging.mark_read(session, admin, thread)
    assert view.party is messaging.Party.ADMIN and not view.can_write
    assert [m.body for m in view.messages] == ["Evidence: the box arrived empty"]
    readers = await db.scalars(sa.select(ThreadReadState.user_id).where(ThreadReadState.thread_id == thread.id))
    assert admin.user_id not in set(readers.all())


async def test_suspended_users_read_but_do_not_write(runtime, people, db) -> None:
    talk = await make_collaboration(runtime, await people.brand(), await people.creator())
    subject = messaging.Subject("collaboration", talk.collaboration_id)
    from marketplace.accounts.models import User

    await db.execute(sa.update(User).where(User.id == talk.creator.user_id).values(suspended_at=runtime.clock.now()))
    actor = await actor_for(runtime, talk.creator)
    with pytest.raises(Forbidden):
        async with session_scope(runtime.session_maker) as session:
            await messaging.post_to_subject(session, actor, subject, "hi", now=runtime.clock.now())
    async with session_scope(runtime.session_maker) as session:
        thread = await messaging.thread_for_actor(session, actor, subject)
        assert thread is not None


@pytest.mark.parametrize("status", [ApplicationStatus.DECLINED, ApplicationStatus.WITHDRAWN])
async def test_declined_or_withdrawn_application_threads_are_closed(runtime, people, db, status) -> None:
    talk = await make_application(runtime, await people.brand(), await people.creator(), status=status)
    actor = await actor_for(runtime, talk.creator)
    with pytest.raises(Conflict):
        async with session_scope(runtime.session_maker) as session:
            await messaging.post_to_subject(
                session, actor, messaging.Subject("application", talk.application_id), "why?", now=runtime.clock.now()
            )
    assert await db.scalar(sa.select(sa.func.count()).select_from(Message)) == 0


async def test_unread_by_subject_for_list_pages(runtime, people) -> None:
    brand, creator = await people.brand(), await people.creator()
    one = await make_collaboration(runtime, brand, creator, title="One")
    two = await make_collaboration(runtime, brand, creator, title="Two")
    pending = await make_application(runtime, brand, creator, title="Three")
    await _post(runtime, creator, messaging.Subject("collaboration", one.collaboration_id), "x")
    await _post(runtime, creator, messaging.Subject("collaboration", one.collaboration_id), "y")
    await _post(runtime, creator, messaging.Subject("application", pending.application_id), "z")
    actor = await actor_for(runtime, brand)
    stranger = await actor_for(runtime, await people.brand(brand_name="Stranger"))
    async with runtime.session_maker() as session:
        counts = await queries.unread_by_subject(
            session,
            actor,
            collaboration_ids=[one.collaboration_id, two.collaboration_id],
            application_ids=[pending.application_id],
        )
        assert await queries.unread_by_subject(session, stranger, collaboration_ids=[one.collaboration_id]) == {}
    assert counts == {one.collaboration_id: 2, pending.application_id: 1}


async def test_evidence_transcript_has_every_message_in_order(runtime, people, db) -> None:
    talk = await make_collaboration(runtime, await people.brand(), await people.creator())
    subject = messaging.Subject("collaboration", talk.collaboration_id)
    brand, creator = await actor_for(runtime, talk.brand), await actor_for(runtime, talk.creator)
    async with session_scope(runtime.session_maker) as session:
        for i in range(messaging.MESSAGES_PER_PAGE + 5):
            sender = creator if i % 2 else brand
            await messaging.post_to_subject(session, sender, subject, f"m{i}", now=runtime.clock.now())
    reads_before = await db.scalar(sa.select(sa.func.count()).select_from(ThreadReadState))
    async with runtime.session_maker() as session:
        transcript = await queries.evidence_transcript(session, collaboration_id=talk.collaboration_id)
        assert await queries.evidence_transcript(session, application_id=talk.application_id) is None
    assert [m.seq for m in transcript.messages] == list(range(1, messaging.MESSAGES_PER_PAGE + 6))
    assert transcript.messages[0].sender_party == "brand" and transcript.messages[1].sender_party == "creator"
    assert transcript.title == "Summer glow serum"
    assert await db.scalar(sa.select(sa.func.count()).select_from(ThreadReadState)) == reads_before


async def test_deal_transcripts_include_the_talk_before_acceptance(runtime, people) -> None:
    talk = await make_collaboration(runtime, await people.brand(), await people.creator())
    async with runtime.session_maker() as session:
        assert await queries.deal_transcripts(session, talk.collaboration_id) == []
    await _post(runtime, talk.creator, messaging.Subject("application", talk.application_id), "Can I use my dog?")
    await _post(runtime, talk.brand, messaging.Subject("collaboration", talk.collaboration_id), "Signed, shipping now")
    async with runtime.session_maker() as session:
        transcripts = await queries.deal_transcripts(session, talk.collaboration_id)
        assert await queries.deal_transcripts(session, talk.application_id) == []  # not a collaboration id
    assert [t.subject.kind for t in transcripts] == ["application", "collaboration"]
    assert [[m.body for m in t.messages] for t in transcripts] == [["Can I use my dog?"], ["Signed, shipping now"]]


async def test_thread_creation_is_race_safe(runtime, people, db, is_postgres) -> None:
    talk = await make_collaboration(runtime, await people.brand(), await people.creator())
    subject = messaging.Subject("collaboration", talk.collaboration_id)
    start = asyncio.Event()

    async def create() -> Thread:
        async with session_scope(runtime.session_maker) as session:
            await start.wait()
            thread = await messaging.ensure_thread(session, subject)
            await asyncio.sleep(0.05)  # hold the transaction open so the two overlap
            return thread.id

    tasks = [asyncio.create_task(create()) for _ in range(4)]
    start.set()
    ids = await asyncio.gather(*tasks)
    assert len(set(ids)) == 1
    assert await db.scalar(sa.select(sa.func.count()).select_from(Thread)) == 1


async def test_concurrent_posts_get_distinct_consecutive_seqs(runtime, people, db) -> None:
    talk = await make_collaboration(runtime, await people.brand(), await people.creator())
    subject = messaging.Subject("collaboration", talk.collaboration_id)
    await _post(runtime, talk.brand, subject, "start")
    await asyncio.gather(*[_post(runtime, talk.creator if i % 2 else talk.brand, subject, f"m{i}") for i in range(6)])
    seqs = (await db.scalars(sa.select(Message.seq).order_by(Message.seq))).all()
    assert seqs == list(range(1, 8))
    assert await db.scalar(sa.select(Thread.message_count)) == 7


async def test_the_database_refuses_to_edit_or_delete_messages(runtime, people, db) -> None:
    talk = await make_collaboration(runtime, await people.brand(), await people.creator())
    message = await _post(runtime, talk.creator, messaging.Subject("collaboration", talk.collaboration_id), "original")
    for statement in (
        sa.update(Message).where(Message.id == message.id).values(body="rewritten"),
        sa.update(Message).where(Message.id == message.id).values(sender_party="brand"),
        sa.delete(Message).where(Message.id == message.id),
        sa.delete(Thread),
    ):
        with pytest.raises((IntegrityError, DBAPIError)) as caught:
            async with session_scope(runtime.session_maker) as session:
                await session.execute(statement)
        assert "immutable" in str(caught.value)
    assert await db.scalar(sa.select(Message.body).where(Message.id == message.id)) == "original"
    # Erasing a user clears the sender (ON DELETE SET NULL) and keeps the message.
    async with session_scope(runtime.session_maker) as session:
        await session.execute(sa.update(Message).where(Message.id == message.id).values(sender_user_id=None))
    row = await db.scalar(sa.select(Message).where(Message.id == message.id))
    assert row.sender_user_id is None and row.body == "original"
