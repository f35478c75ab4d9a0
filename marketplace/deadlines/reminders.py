"""Reminder wording and delivery: one in-app notification per reminder, one email per recipient per sweep."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime, timedelta
from uuid import UUID

from sqlalchemy.ext.asyncio import AsyncSession
from uuid_utils.compat import uuid7

from marketplace import i18n
from marketplace.db import insert_rows
from marketplace.deadlines.due_deals import DueDeal
from marketplace.deadlines.recipients import Addressee
from marketplace.deadlines.rules import STAGE_ASKS, ReminderDue
from marketplace.notifications.mail import NoticeEmail, queue_notice_emails
from marketplace.notifications.models import Notification
from marketplace.notifications.services import email_group, users_without_email

REMINDER_KIND = "deadline.reminder"


def format_due(at: datetime) -> str:
    """A deadline in the reader's zone and language (the request's, or the email recipient's: i18n.use_locale)."""
    return i18n.format_datetime(at)


def format_span(delta: timedelta) -> str:
    hours = round(abs(delta).total_seconds() / 3600)
    if hours >= 48:
        days = round(hours / 24)
        return f"{days} days"
    if hours == 1:
        return "1 hour"
    return f"{hours} hours"


def collaboration_link(collaboration_id: UUID) -> str:
    return f"/collaborations/{collaboration_id}"


@dataclass(frozen=True)
class ReminderItem:
    """One reminder as people read it."""

    collaboration_id: UUID
    gig_title: str
    counterpart: str
    stage: str
    ask: str
    due_at: datetime
    offset_hours: int
    when_text: str

    @property
    def overdue(self) -> bool:
        return self.offset_hours > 0

    @property
    def due_text(self) -> str:
        return format_due(self.due_at)

    @property
    def headline(self) -> str:
        ask = self.ask[0].upper() + self.ask[1:]
        return f"Overdue: {self.ask}" if self.overdue else ask

    @property
    def link(self) -> str:
        return collaboration_link(self.collaboration_id)

    @property
    def title(self) -> str:
        return f"{self.headline} for “{self.gig_title}” — due {self.due_text}"[:200]


def reminder_item(c: DueDeal, reminder: ReminderDue, now: datetime) -> ReminderItem:
    terms = c.terms or {}
    counterpart = (
        terms.get("brand_name", "the brand")
        if reminder.party == "creator"
        else terms.get("creator_display_name", "the creator")
    )
    if reminder.due_at > now:
        when = f"due in {format_span(reminder.due_at - now)}"
    else:
        when = f"overdue by {format_span(now - reminder.due_at)}"
    return ReminderItem(
        collaboration_id=c.id,
        gig_title=str(terms.get("gig_title", "your deal")),
        counterpart=str(counterpart),
        stage=reminder.stage,
        ask=STAGE_ASKS.get(reminder.stage, reminder.stage.replace("_", " ")),
        due_at=reminder.due_at,
        offset_hours=reminder.offset_hours,
        when_text=when,
    )


def digest_subject(items: list[ReminderItem]) -> str:
    if len(items) == 1:
        item = items[0]
        prefix = "Overdue" if item.overdue else "Reminder"
        return f"{prefix}: {item.ask} for “{item.gig_title}” (due {item.due_at:%a %d %b})"
    overdue = sum(1 for item in items if item.overdue)
    extra = f", {overdue} overdue" if overdue else ""
    return f"Reminder: {len(items)} PostPact deadlines need you{extra}"


def _digest_line(item: ReminderItem) -> dict[str, object]:
    """What the digest template shows of a reminder; the due time stays a time, shown in the reader's zone."""
    return {
        "headline": item.headline,
        "gig_title": item.gig_title,
        "counterpart": item.counterpart,
        "due_at": item.due_at,
        "when_text": item.when_text,
        "link": item.link,
    }


async def deliver_reminders(
    session: AsyncSession, recipients: list[tuple[Addressee, ReminderItem]], *, public_url: str, now: datetime
) -> tuple[int, int]:
    """In-app notification per (user, reminder) and one digest email per user who wants deal emails; returns
    (notifications, emails).

    Rows go in with one multi-row INSERT per table (a sweep may write thousands); each email is queued as template
    + parameters, written by its delivery job (queued for after the commit).
    """
    by_user: dict[UUID, list[ReminderItem]] = defaultdict(list)
    users: dict[UUID, Addressee] = {}
    notifications: list[dict[str, object]] = []
    for user, item in recipients:
        users[user.id] = user
        by_user[user.id].append(item)
        notifications.append(
            {
                "id": uuid7(),
                "user_id": user.id,
                "kind": REMINDER_KIND,
                "title": item.title,
                "body": item.when_text,
                "link": item.link,
                "created_at": now,
                "updated_at": now,
            }
        )
    no_email = await users_without_email(session, list(users), email_group(REMINDER_KIND))
    emails: list[NoticeEmail] = []
    for user_id, items in by_user.items():
        if user_id in no_email:
            continue
        items.sort(key=lambda i: (i.due_at, i.gig_title))
        # Written at delivery in the reader's language and zone (mail.write_pending): a sweep of thousands of
        # reminders renders no email itself.
        context = {
            "items": [_digest_line(item) for item in items],
            "subject": digest_subject(items),
            "public_url": public_url,
        }
        emails.append(NoticeEmail(user_id, users[user_id].email, "reminder_digest", REMINDER_KIND, context))
    # One INSERT from arrays on PostgreSQL (db.insert_rows), not ORM objects: nothing needs the rows back.
    await insert_rows(session, Notification.__table__, notifications)
    await queue_notice_emails(session, emails)
    return len(notifications), len(emails)
