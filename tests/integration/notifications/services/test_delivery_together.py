"""Notices queued together (a bulk step's) go to the broker as one delivery job per ``DELIVERY_BATCH`` emails, not one
job each; every email is still delivered once, and one that must wait is retried on its own."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from marketplace.db import session_scope
from marketplace.i18n import N_, Message
from marketplace.jobs import REGISTRY, RetryLater
from marketplace.notifications import mail
from marketplace.notifications.models import EmailStatus, OutboxEmail
from marketplace.notifications.services import Notice, notify_many


async def _notify(runtime: Any, user_ids: list[Any]) -> list[Any]:
    async with session_scope(runtime.session_maker) as session:
        await notify_many(
            session,
            [
                Notice(
                    (uid,),
                    "deal.draft_approved",
                    Message(N_("Your draft was approved")),
                    "Publish it.",
                    "/collaborations/x",
                )
                for uid in user_ids
            ],
            email_template="notification",
        )
    return user_ids


async def test_notices_queued_together_are_delivered_by_batch_jobs(runtime, people, db, queue, monkeypatch) -> None:
    monkeypatch.setattr(mail, "DELIVERY_BATCH", 2)
    creators = [await people.creator() for _ in range(3)]
    queue.jobs.clear()
    await _notify(runtime, [c.user_id for c in creators])
    jobs = [j for j in queue.jobs if j.name.startswith("mail.")]
    assert [j.name for j in jobs] == ["mail.deliver_emails"] * 2
    assert [len(j.args) for j in jobs] == [2, 1]
    for pending in jobs:
        assert await REGISTRY[pending.name].function(runtime.job_context(), *pending.args) == {
            "stored": len(pending.args)
        }
    statuses = list(
        await db.scalars(sa.select(OutboxEmail.status).where(OutboxEmail.category == "deal.draft_approved"))
    )
    assert statuses == [EmailStatus.STORED] * 3
    # Run again (a redelivered task): nothing is sent twice.
    for pending in jobs:
        assert await REGISTRY[pending.name].function(runtime.job_context(), *pending.args) == {
            "skipped": len(pending.args)
        }


async def test_an_email_that_must_wait_is_retried_on_its_own(runtime, people, db, queue, monkeypatch) -> None:
    creators = [await people.creator() for _ in range(3)]
    queue.jobs.clear()
    await _notify(runtime, [c.user_id for c in creators])
    (pending,) = [j for j in queue.jobs if j.name == "mail.deliver_emails"]
    waiting = pending.args[1]
    real = mail.deliver_email

    async def smtp_down_for_one(ctx: Any, email_id: str) -> str:
        if email_id == waiting:
            raise RetryLater("SMTP delivery failed: try later")
        return await real(ctx, email_id)

    monkeypatch.setattr(mail, "deliver_email", smtp_down_for_one)
    queue.jobs.clear()
    assert await REGISTRY["mail.deliver_emails"].function(runtime.job_context(), *pending.args) == {
        "stored": 2,
        "retried": 1,
    }
    assert [(j.name, j.args) for j in queue.jobs] == [("mail.deliver_email", (waiting,))]
    monkeypatch.setattr(mail, "deliver_email", real)
    assert await REGISTRY["mail.deliver_email"].function(runtime.job_context(), waiting) == "stored"
    statuses = list(
        await db.scalars(sa.select(OutboxEmail.status).where(OutboxEmail.category == "deal.draft_approved"))
    )
    assert statuses == [EmailStatus.STORED] * 3
