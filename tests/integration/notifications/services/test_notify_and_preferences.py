"""notify() with email preferences, the notification list's keyset pages, marking read, and the badge counts."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from marketplace.db import session_scope
from marketplace.errors import InvalidInput, NotFound
from marketplace.messaging import services as messaging
from marketplace.notifications import services as notifications
from marketplace.notifications.models import Notification, OutboxEmail
from tests.support.messaging import actor_for, make_collaboration


async def _notify(runtime, user_ids, kind, title="Something happened", **kwargs):
    async with session_scope(runtime.session_maker) as session:
        return await notifications.notify(session, user_ids, kind=kind, title=title, **kwargs)


async def _emails_to(db, address: str) -> list[OutboxEmail]:
    return list((await db.scalars(sa.select(OutboxEmail).where(OutboxEmail.to_address == address))).all())


async def test_notify_keeps_its_old_signature_and_emails_by_default(runtime, people, db) -> None:
    person = await people.creator()
    created = await _notify(
        runtime, [person.user_id, person.user_id], "collaboration.funded", title="Your deal is funded",
        body="The fee is in escrow.", link="/collaborations/1", email_template="notification",
        public_url="http://testserver.local",
    )
    assert len(created) == 1
    note = await db.get(Notification, created[0].id)
    assert note.title == "Your deal is funded" and note.read_at is None
    emails = [e for e in await _emails_to(db, person.email) if e.category == "collaboration.funded"]
    assert len(emails) == 1 and "http://testserver.local/collaborations/1" in emails[0].body_text


async def test_email_preferences_switch_off_a_group_but_not_in_app_or_always_groups(runtime, people, db) -> None:
    quiet, loud = await people.brand(), await people.brand(brand_name="Loud Co")
    async with session_scope(runtime.session_maker) as session:
        saved = await notifications.set_email_preferences(session, quiet.user_id, {"deals": False, "payments": True})
    assert saved["deals"] is False and saved["payments"] is True and saved["applications"] is True
    ids = [quiet.user_id, loud.user_id]
    await _notify(runtime, ids, "collaboration.shipped", email_template="notification_event", public_url="http://x")
    await _notify(runtime, ids, "dispute.opened", email_template="notification_event", public_url="http://x")
    # (Sign-up's welcome email is in the outbox too; only the notifications' kinds matter here.)
    quiet_kinds = sorted(e.category for e in await _emails_to(db, quiet.email) if "." in e.category)
    loud_kinds = sorted(e.category for e in await _emails_to(db, loud.email) if "." in e.category)
    assert quiet_kinds == ["dispute.opened"]
    assert loud_kinds == ["collaboration.shipped", "dispute.opened"]
    # In-app notifications are always created.
    count = sa.select(sa.func.count()).select_from(Notification).where(Notification.user_id == quiet.user_id)
    assert await db.scalar(count) == 2
    # Every notification email links to the settings (the outbox has no order, so check each one).
    bodies = [e.body_text for e in await _emails_to(db, loud.email) if "." in e.category]
    assert len(bodies) == 2 and all("http://x/notifications/settings" in body for body in bodies)
    # Saving again (an upsert) changes the row instead of adding one, and unknown groups are refused.
    async with session_scope(runtime.session_maker) as session:
        again = await notifications.set_email_preferences(session, quiet.user_id, {"deals": True})
    assert again["deals"] is True
    with pytest.raises(InvalidInput):
        async with session_scope(runtime.session_maker) as session:
            await notifications.set_email_preferences(session, quiet.user_id, {"disputes": False})


async def test_list_is_newest_first_in_keyset_pages(runtime, people) -> None:
    person, other = await people.creator(), await people.creator()
    for i in range(7):
        await _notify(runtime, [person.user_id], "application.accepted", title=f"note {i}")
    await _notify(runtime, [other.user_id], "application.accepted", title="not yours")
    titles: list[str] = []
    before = None
    async with runtime.session_maker() as session:
        while True:
            page = await notifications.list_notifications(session, person.user_id, before=before, limit=3)
            titles.extend(n.title for n in page.items)
            assert page.unread == 7
            if page.next_before is None:
                break
            before = page.next_before
    assert titles == [f"note {i}" for i in reversed(range(7))]


async def test_mark_read_one_and_all(runtime, people, db, clock) -> None:
    person, other = await people.creator(), await people.creator()
    mine = await _notify(runtime, [person.user_id], "application.accepted")
    await _notify(runtime, [person.user_id], "application.accepted")
    theirs = await _notify(runtime, [other.user_id], "application.accepted")
    async with session_scope(runtime.session_maker) as session:
        await notifications.mark_notification_read(session, person.user_id, mine[0].id, now=clock.now())
    with pytest.raises(NotFound):
        async with session_scope(runtime.session_maker) as session:
            await notifications.mark_notification_read(session, person.user_id, theirs[0].id, now=clock.now())
    assert (await db.get(Notification, theirs[0].id)).read_at is None
    async with session_scope(runtime.session_maker) as session:
        assert await notifications.mark_all_notifications_read(session, person.user_id, now=clock.now()) == 1
    async with runtime.session_maker() as session:
        assert await notifications.unread_notification_count(session, person.user_id) == 0
        assert await notifications.unread_notification_count(session, other.user_id) == 1


async def test_badge_counts_notifications_and_messages_in_one_statement(runtime, people) -> None:
    talk = await make_collaboration(runtime, await people.brand(), await people.creator())
    creator = await actor_for(runtime, talk.creator)
    async with session_scope(runtime.session_maker) as session:
        subject = messaging.Subject("collaboration", talk.collaboration_id)
        for text in ("a", "b", "c"):
            await messaging.post_to_subject(session, creator, subject, text, now=runtime.clock.now())
    await _notify(runtime, [talk.brand.user_id], "collaboration.signed")
    brand = await actor_for(runtime, talk.brand)
    admin = await actor_for(runtime, await people.admin())
    async with runtime.session_maker() as session:
        counts = await notifications.badge_counts(session, brand)
        assert (counts.notifications, counts.messages, counts.total) == (1, 3, 4)
        assert (await notifications.badge_counts(session, creator)).total == 0
        assert (await notifications.badge_counts(session, admin)).total == 0


async def test_old_read_notifications_are_pruned_unread_ones_kept(runtime, people, db, clock) -> None:
    from datetime import timedelta

    from marketplace.jobs import load_jobs
    from marketplace.notifications.jobs import KEEP_READ, prune_read_notifications

    assert load_jobs()["notifications.prune_read_notifications"].every == 24 * 3600
    person = await people.creator()
    old_read, old_unread, recent_read = [
        (await _notify(runtime, [person.user_id], "application.accepted"))[0] for _ in range(3)
    ]
    await db.execute(sa.update(Notification).where(Notification.id == old_read.id).values(read_at=clock.now()))
    clock.advance(KEEP_READ + timedelta(days=1))
    await db.execute(sa.update(Notification).where(Notification.id == recent_read.id).values(read_at=clock.now()))
    assert await prune_read_notifications(runtime.job_context()) == 1
    assert await prune_read_notifications(runtime.job_context()) == 0
    left = set((await db.scalars(sa.select(Notification.id).where(Notification.user_id == person.user_id))).all())
    assert left == {old_unread.id, recent_read.id}
