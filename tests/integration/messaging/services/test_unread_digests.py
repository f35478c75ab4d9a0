"""The batched unread-message email: real SMTP, the frozen clock, never twice, safe to run concurrently."""

from __future__ import annotations

import asyncio

import sqlalchemy as sa

from marketplace.brands.models import BrandMember, BrandRole
from marketplace.db import session_scope
from marketplace.jobs import load_jobs
from marketplace.messaging import services as messaging
from marketplace.messaging.jobs import DIGEST_DELAY, email_unread_digests
from marketplace.notifications import services as notifications
from marketplace.notifications.models import OutboxEmail
from tests.support.messaging import actor_for, make_collaboration


async def post(runtime, person, talk, body):
    actor = await actor_for(runtime, person)
    async with session_scope(runtime.session_maker) as session:
        return await messaging.post_to_subject(
            session, actor, messaging.Subject("collaboration", talk.collaboration_id), body, now=runtime.clock.now()
        )


async def digests(db) -> list[OutboxEmail]:
    query = sa.select(OutboxEmail).where(OutboxEmail.category == "message.digest").order_by(OutboxEmail.created_at)
    return list((await db.scalars(query)).all())


async def run_and_deliver(runtime, queue) -> int:
    queued = await email_unread_digests(runtime.job_context())
    await queue.run_all(runtime.job_context())
    return queued


def test_the_sweep_is_a_registered_periodic_job() -> None:
    spec = load_jobs()["messaging.email_unread_digests"]
    assert spec.every is not None and spec.every <= 600


def digest_mails(smtp, count: int) -> list:
    """Digests received over SMTP (sign-up welcome emails go through the same server)."""
    smtp.wait_for(count)
    return [m for m in smtp.messages if "unread message" in m.subject]


async def test_one_digest_per_person_after_the_delay_and_never_twice(
    smtp_env, runtime, queue, people, db, clock
) -> None:
    owner = await people.brand(name="Olive Owner")
    manager = await people.brand(brand_id=owner.brand_id, role=BrandRole.MANAGER, name="Max Manager")
    talk = await make_collaboration(runtime, owner, await people.creator(), title="Spring launch")
    other = await make_collaboration(runtime, owner, talk.creator, title="Autumn drop")
    await post(runtime, talk.creator, talk, "Hi! Is the 12th OK?")
    await post(runtime, talk.creator, talk, "Also: do you need a draft first?")
    await post(runtime, talk.creator, other, "And about the autumn one…")

    assert await run_and_deliver(runtime, queue) == 0, "too early: the messages may still be read in the app"
    clock.advance(DIGEST_DELAY)
    assert await run_and_deliver(runtime, queue) == 2  # owner and manager; the creator has nothing unread
    await queue.run_all(runtime.job_context())
    welcomes = len(smtp_env.messages)
    received = {m.recipients[0]: m for m in digest_mails(smtp_env, welcomes)}
    assert set(received) == {owner.email, manager.email}
    mail = received[manager.email]
    assert mail.subject == "You have 3 unread messages on PostPact"
    assert "Hi Max Manager" in mail.body
    assert "Hi! Is the 12th OK?" in mail.body and "do you need a draft first?" in mail.body
    assert "And about the autumn one" in mail.body and "Spring launch" in mail.body and "Autumn drop" in mail.body
    assert f"http://testserver.local/messages/{(await post_thread_id(db, talk))}" in mail.body
    assert "http://testserver.local/notifications/settings" in mail.body

    # Nothing new: nothing sent, however often the job runs.
    clock.advance(minutes=30)
    assert await run_and_deliver(runtime, queue) == 0
    assert len(digest_mails(smtp_env, welcomes)) == 2

    # A new message gets its own digest, without repeating the old ones.
    await post(runtime, talk.creator, talk, "Shipping address updated.")
    clock.advance(DIGEST_DELAY)
    assert await run_and_deliver(runtime, queue) == 2
    latest = [m for m in digest_mails(smtp_env, welcomes + 2) if m.recipients == [owner.email]][-1]
    assert latest.subject == "You have 1 unread message on PostPact"
    assert "Shipping address updated." in latest.body and "Is the 12th OK?" not in latest.body


async def post_thread_id(db, talk):
    from marketplace.messaging.models import Thread

    return await db.scalar(sa.select(Thread.id).where(Thread.collaboration_id == talk.collaboration_id))


async def test_read_replied_removed_and_opted_out_people_get_no_digest(runtime, queue, people, db, clock) -> None:
    owner = await people.brand()
    reader = await people.brand(brand_id=owner.brand_id, role=BrandRole.MANAGER)
    leaver = await people.brand(brand_id=owner.brand_id, role=BrandRole.FINANCE)
    talk = await make_collaboration(runtime, owner, await people.creator())
    message = await post(runtime, talk.creator, talk, "Question for the team")
    reader_actor = await actor_for(runtime, reader)
    async with session_scope(runtime.session_maker) as session:
        await notifications.set_email_preferences(session, owner.user_id, {"messages": False})
        thread = await messaging.find_thread(session, messaging.Subject("collaboration", talk.collaboration_id))
        await messaging.mark_read(session, reader_actor, thread)
        await session.execute(sa.delete(BrandMember).where(BrandMember.user_id == leaver.user_id))
    clock.advance(DIGEST_DELAY)
    assert await run_and_deliver(runtime, queue) == 0
    assert await digests(db) == []
    # The creator's own message never comes back to them.
    assert message.sender_user_id == talk.creator.user_id


async def test_concurrent_runs_send_each_digest_once(runtime, queue, people, db, clock) -> None:
    brand = await people.brand()
    teammates = [await people.brand(brand_id=brand.brand_id, role=BrandRole.MANAGER) for _ in range(3)]
    talks = [await make_collaboration(runtime, brand, await people.creator(), title=f"Gig {i}") for i in range(3)]
    for talk in talks:
        await post(runtime, talk.creator, talk, f"hello from {talk.creator.email}")
    clock.advance(DIGEST_DELAY)
    results = await asyncio.gather(*[email_unread_digests(runtime.job_context()) for _ in range(3)])
    assert sum(results) == 4  # the owner and three managers, once each
    recipients = sorted(e.to_address for e in await digests(db))
    assert recipients == sorted([brand.email, *(t.email for t in teammates)])
    assert all("3 unread messages" in e.subject for e in await digests(db))
    assert await email_unread_digests(runtime.job_context()) == 0


async def test_system_messages_reach_both_sides(runtime, queue, people, db, clock) -> None:
    talk = await make_collaboration(runtime, await people.brand(), await people.creator())
    async with session_scope(runtime.session_maker) as session:
        await messaging.post_system_message(
            session, collaboration_id=talk.collaboration_id, body="Escrow funded: $50.00", now=clock.now()
        )
    clock.advance(DIGEST_DELAY)
    assert await email_unread_digests(runtime.job_context()) == 2
    bodies = {e.to_address: e.body_text for e in await digests(db)}
    assert set(bodies) == {talk.brand.email, talk.creator.email}
    assert "PostPact, " in bodies[talk.creator.email] and "Escrow funded: $50.00" in bodies[talk.creator.email]
    assert "(with Acme Goods)" in bodies[talk.creator.email]
    assert "(with Casey Creator)" in bodies[talk.brand.email]
