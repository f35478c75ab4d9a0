"""The deadline sweeper against a real database and a real SMTP server: reminders at each offset, never twice,
one email per recipient per sweep, consequences handed to their jobs, and the watch kept in step."""

from __future__ import annotations

from datetime import timedelta
from email.header import decode_header, make_header
from typing import Any

import sqlalchemy as sa

from marketplace.collaborations.states import CollabState
from marketplace.deadlines.models import DeadlineReminder, DeadlineWatch
from marketplace.deadlines.reminders import format_due
from marketplace.deadlines.sweeper import sweep_deadlines
from marketplace.notifications.models import Notification, OutboxEmail
from tests.conftest import START
from tests.support.deadlines import load, make_deal

H = timedelta(hours=1)


def subject(mail: Any) -> str:
    """The Subject header decoded (non-ASCII subjects travel MIME-encoded)."""
    return str(make_header(decode_header(mail.subject)))


async def sweep(runtime: Any, clock: Any) -> Any:
    return await sweep_deadlines(runtime.session_maker, clock.now(), public_url="http://testserver.local")


async def test_reminder_email_reaches_the_creator_with_subject_and_deadline(
    smtp_env: Any, runtime: Any, people: Any, clock: Any, queue: Any, db: Any
) -> None:
    deal = await make_deal(runtime, people, until=CollabState.RECEIVED, start=START)
    collab = await load(runtime, deal.collaboration_id)
    draft_due = collab.due("draft")
    assert collab.next_due_stage == "draft" and draft_due is not None

    queue.jobs.clear()  # the sign-up welcome emails are not what this test is about
    clock.set(draft_due - 72 * H + timedelta(minutes=1))
    report = await sweep(runtime, clock)
    assert report.reminders == 1 and report.emails == 1
    assert await queue.run_all(runtime.job_context()) == 1

    mails = smtp_env.to(deal.creator.email)
    assert len(mails) == 1
    assert subject(mails[0]) == f"Reminder: submit the draft for “Glow serum launch” (due {draft_due:%a %d %b})"
    assert format_due(draft_due) in mails[0].body
    assert "due in 3 days" in mails[0].body
    assert f"http://testserver.local/collaborations/{deal.collaboration_id}" in mails[0].body
    assert smtp_env.to(deal.brand.email) == []
    notes = (await db.scalars(sa.select(Notification).where(Notification.user_id == deal.creator.user_id))).all()
    assert [n.kind for n in notes if not n.kind.startswith("deal.")] == ["deadline.reminder"]

    # A second sweep at the same time (or a re-run of the job) sends nothing more.
    assert (await sweep(runtime, clock)).reminders == 0
    clock.advance(hours=10)
    assert (await sweep(runtime, clock)).reminders == 0
    # The next offset (24 h before) and the overdue ones each go out once.
    for hours in (-24, 24, 72):
        clock.set(draft_due + hours * H)
        assert (await sweep(runtime, clock)).reminders == 1
        assert (await sweep(runtime, clock)).reminders == 0
    await queue.run_all(runtime.job_context())
    subjects = [subject(m) for m in smtp_env.to(deal.creator.email)]
    assert len(subjects) == 4 and subjects[-1].startswith("Overdue: submit the draft")
    offsets = (
        await db.scalars(
            sa.select(DeadlineReminder.offset_hours)
            .where(DeadlineReminder.collaboration_id == deal.collaboration_id)
            .order_by(DeadlineReminder.sent_at)
        )
    ).all()
    assert offsets == [-72, -24, 24, 72]


async def test_a_brand_gets_one_email_listing_all_its_due_deals(
    smtp_env: Any, runtime: Any, people: Any, clock: Any, queue: Any
) -> None:
    brand = await people.brand()
    deals = [await make_deal(runtime, people, until=CollabState.FUNDED, start=START, brand=brand) for _ in range(3)]
    ship_due = (await load(runtime, deals[-1].collaboration_id)).due("ship")
    assert ship_due is not None
    queue.jobs.clear()
    clock.set(ship_due - 20 * H)
    report = await sweep(runtime, clock)
    assert report.reminders == 3
    assert report.emails == 1
    await queue.run_all(runtime.job_context())
    mails = smtp_env.to(brand.email)
    assert len(mails) == 1
    assert subject(mails[0]) == "Reminder: 3 PostPact deadlines need you"
    assert mails[0].body.count("Ship the product") == 3
    for deal in deals:
        assert f"/collaborations/{deal.collaboration_id}" in mails[0].body
    for deal in deals:
        assert smtp_env.to(deal.creator.email) == []


async def test_nothing_is_read_that_is_not_due_and_the_watch_moves_on(
    runtime: Any, people: Any, clock: Any, queue: Any, db: Any
) -> None:
    deal = await make_deal(runtime, people, until=CollabState.RECEIVED, start=START)
    collab = await load(runtime, deal.collaboration_id)
    draft_due = collab.due("draft")
    assert draft_due is not None
    watch = await db.scalar(sa.select(DeadlineWatch).where(DeadlineWatch.collaboration_id == deal.collaboration_id))
    assert watch.check_at == draft_due - 72 * H  # set by the transition, before any sweep

    clock.set(draft_due - 100 * H)
    assert (await sweep(runtime, clock)).examined == 0
    clock.set(draft_due - 72 * H)
    report = await sweep(runtime, clock)
    assert report.examined == 1 and report.reminders == 1
    watch = await db.scalar(sa.select(DeadlineWatch).where(DeadlineWatch.collaboration_id == deal.collaboration_id))
    assert watch.check_at == draft_due - 24 * H
    assert (await sweep(runtime, clock)).examined == 0


async def test_consequences_are_handed_to_one_job_per_collaboration(
    runtime: Any, people: Any, clock: Any, queue: Any
) -> None:
    ghosting = await make_deal(runtime, people, until=CollabState.RECEIVED, start=START)
    no_show = await make_deal(runtime, people, until=CollabState.FUNDED, start=START)
    review = await make_deal(runtime, people, until=CollabState.VERIFIED, start=START)
    clock.set(START + 40 * timedelta(days=1))
    queue.jobs.clear()
    report = await sweep(runtime, clock)
    assert report.consequences == {"ghost": 1, "brand_no_show": 1, "auto_approve": 1}
    jobs = {(j.name, j.args) for j in queue.jobs if not j.name.startswith("mail.")}
    assert jobs == {
        ("deadlines.ghost_collaboration", (str(ghosting.collaboration_id),)),
        ("deadlines.announce_brand_no_show", (str(no_show.collaboration_id),)),
        ("deadlines.auto_approve_post", (str(review.collaboration_id),)),
    }
    queue.jobs.clear()
    # Within the lease the jobs are not handed out again.
    clock.advance(minutes=5)
    assert (await sweep(runtime, clock)).consequences == {}


async def test_emails_stay_in_the_outbox_without_smtp(
    runtime: Any, people: Any, clock: Any, queue: Any, db: Any
) -> None:
    deal = await make_deal(runtime, people, until=CollabState.DRAFT_SUBMITTED, start=START)
    review_due = (await load(runtime, deal.collaboration_id)).due("review")
    assert review_due is not None
    clock.set(review_due - 24 * H)
    assert (await sweep(runtime, clock)).reminders == 1
    await queue.run_all(runtime.job_context())
    emails = (
        await db.scalars(
            sa.select(OutboxEmail).where(
                OutboxEmail.to_address == deal.brand.email, OutboxEmail.category == "deadline.reminder"
            )
        )
    ).all()
    assert [e.status.value for e in emails] == ["stored"]
    assert "review the creator's draft" in emails[0].subject


async def test_people_who_switched_off_deal_emails_get_the_in_app_reminder_only(
    runtime: Any, people: Any, clock: Any, queue: Any, db: Any
) -> None:
    from marketplace.notifications.models import NotificationPreference

    deal = await make_deal(runtime, people, until=CollabState.RECEIVED, start=START)
    async with runtime.session_maker() as session, session.begin():
        session.add(NotificationPreference(user_id=deal.creator.user_id, kind_group="deals", email=False))
    draft_due = (await load(runtime, deal.collaboration_id)).due("draft")
    assert draft_due is not None
    clock.set(draft_due - 24 * H)
    report = await sweep(runtime, clock)
    assert (report.reminders, report.notifications, report.emails) == (1, 1, 0)
    emails = (await db.scalars(sa.select(OutboxEmail).where(OutboxEmail.category == "deadline.reminder"))).all()
    assert emails == []
    notes = (await db.scalars(sa.select(Notification).where(Notification.user_id == deal.creator.user_id))).all()
    assert [n.kind for n in notes if not n.kind.startswith("deal.")] == ["deadline.reminder"]


async def test_reconcile_gives_a_watch_to_open_deals_that_lack_one(runtime: Any, people: Any, db: Any) -> None:
    from marketplace.deadlines import jobs as deadline_jobs
    from marketplace.deadlines.rules import earliest_check_at

    deal = await make_deal(runtime, people, until=CollabState.RECEIVED, start=START)
    await db.execute(sa.delete(DeadlineWatch).where(DeadlineWatch.collaboration_id == deal.collaboration_id))
    assert await deadline_jobs.reconcile_watches(runtime.job_context()) == 1
    watch = await db.scalar(sa.select(DeadlineWatch).where(DeadlineWatch.collaboration_id == deal.collaboration_id))
    assert watch.check_at == earliest_check_at(await load(runtime, deal.collaboration_id))
    assert await deadline_jobs.reconcile_watches(runtime.job_context()) == 0


async def test_the_due_read_carries_what_the_rules_read_of_the_collaboration(
    runtime: Any, people: Any, clock: Any, queue: Any
) -> None:
    from marketplace.db import session_scope
    from marketplace.deadlines.due_deals import COLUMNS, TERMS_FIELDS, due_deals

    deal = await make_deal(runtime, people, until=CollabState.RECEIVED, start=START)
    collab = await load(runtime, deal.collaboration_id)
    draft_due = collab.due("draft")
    assert draft_due is not None
    clock.set(draft_due - 72 * H)
    async with session_scope(runtime.session_maker) as session:
        (read,) = await due_deals(session, clock.now(), 10)
    for name in COLUMNS:
        assert getattr(read, name) == getattr(collab, name), name
    assert read.terms == {name: collab.terms[name] for name in TERMS_FIELDS if name in collab.terms}
    assert read.terms["gig_title"] == "Glow serum launch" and read.terms["reminder_offsets_hours"] == [-72, -24, 24, 72]
    assert read.history.sent_offsets == frozenset() and not read.history.notices

    assert (await sweep(runtime, clock)).reminders == 1
    clock.set(draft_due - 24 * H)
    async with session_scope(runtime.session_maker) as session:
        (read,) = await due_deals(session, clock.now(), 10)
    assert read.history.sent_offsets == frozenset({-72})


async def test_two_sweeps_at_once_send_each_reminder_once(
    runtime: Any, people: Any, clock: Any, queue: Any, db: Any
) -> None:
    import asyncio

    deals = [await make_deal(runtime, people, until=CollabState.RECEIVED, start=START) for _ in range(4)]
    draft_due = (await load(runtime, deals[-1].collaboration_id)).due("draft")
    assert draft_due is not None
    clock.set(draft_due - 20 * H)
    queue.jobs.clear()
    reports = await asyncio.gather(
        *(
            sweep_deadlines(runtime.session_maker, clock.now(), public_url="http://testserver.local", batch_size=2)
            for _ in range(2)
        )
    )
    assert sum(r.reminders for r in reports) == 4
    assert sum(r.notifications for r in reports) == 4
    rows = (await db.execute(sa.select(DeadlineReminder.collaboration_id, DeadlineReminder.offset_hours))).all()
    assert sorted(rows) == sorted((d.collaboration_id, -24) for d in deals)
    assert len([j for j in queue.jobs if j.name == "mail.deliver_email"]) == 4
    assert (await sweep(runtime, clock)).reminders == 0


async def test_a_sweep_that_fails_after_claiming_leaves_the_reminders_to_the_next(
    runtime: Any, people: Any, clock: Any, queue: Any, db: Any, monkeypatch: Any
) -> None:
    from marketplace.deadlines import sweeper

    deal = await make_deal(runtime, people, until=CollabState.RECEIVED, start=START)
    draft_due = (await load(runtime, deal.collaboration_id)).due("draft")
    assert draft_due is not None
    clock.set(draft_due - 20 * H)

    async def broken(*_: Any, **__: Any) -> Any:
        raise RuntimeError("the notifications table is unreachable")

    monkeypatch.setattr(sweeper, "deliver_reminders", broken)
    queue.jobs.clear()
    try:
        await sweep(runtime, clock)
    except RuntimeError:
        pass
    else:
        raise AssertionError("the sweep should have failed")
    assert (await db.scalars(sa.select(DeadlineReminder))).all() == []  # the claim was rolled back with the rest
    monkeypatch.undo()
    report = await sweep(runtime, clock)
    assert (report.reminders, report.notifications, report.emails) == (1, 1, 1)
    assert (await sweep(runtime, clock)).reminders == 0


async def test_a_brand_no_show_once_announced_is_not_handed_out_again(
    runtime: Any, people: Any, clock: Any, queue: Any
) -> None:
    from marketplace.deadlines import jobs as deadline_jobs

    deal = await make_deal(runtime, people, until=CollabState.FUNDED, start=START)
    ship_due = (await load(runtime, deal.collaboration_id)).due("ship")
    assert ship_due is not None
    clock.set(ship_due + H)
    queue.jobs.clear()
    assert (await sweep(runtime, clock)).consequences == {"brand_no_show": 1}
    assert await deadline_jobs.announce_brand_no_show(runtime.job_context(), str(deal.collaboration_id)) == "announced"
    clock.advance(hours=2)  # past the lease: the sweep looks again, reads the notice and hands out nothing
    assert (await sweep(runtime, clock)).consequences == {}
