"""Telling people what happened: an in-app notification, and optionally an email, per recipient.

Kinds are ``"<area>.<event>"`` strings (``"application.received"``, ``"collaboration.funded"``...). The part before
the first dot picks an email group (``email_group()``); users choose per group whether they want email on
/notifications/settings. Disputes and account security always email. In-app notifications are always created.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession
from uuid_utils.compat import uuid7

from marketplace import i18n
from marketplace.accounts.auth import Actor
from marketplace.accounts.models import User, UserKind
from marketplace.brands.models import BrandMember, BrandRole
from marketplace.creators.models import Creator
from marketplace.db import insert_rows, insert_stmt
from marketplace.errors import InvalidInput, NotFound
from marketplace.i18n import gettext
from marketplace.messaging.queries import unread_total_for
from marketplace.notifications.mail import NoticeEmail, queue_notice_emails, send_email
from marketplace.notifications.models import Notification, NotificationPreference

#: Email groups a user can switch off, with the label the settings page shows.
EMAIL_GROUPS: dict[str, str] = {
    "applications": "Applications: new applications to your gigs, and answers to yours",
    "deals": "Deals: offers, signing, shipping, drafts, posts and deadlines",
    "payments": "Payments: funding, releases, refunds and payouts",
    "messages": "Messages: one email summing up unread messages, not one per message",
    "reputation": "Reviews and reputation",
    "other": "Everything else",
}
#: Groups that always email, whatever the settings: money at stake in a dispute, and account security.
ALWAYS_EMAILED: dict[str, str] = {
    "disputes": "Disputes",
    "account": "Account and security",
}
#: The area prefix of a kind → its email group; unknown prefixes fall into "other".
KIND_PREFIX_GROUPS: dict[str, str] = {
    "gig": "applications",
    "invitation": "applications",
    "application": "applications",
    "collaboration": "deals",
    "deal": "deals",
    "shipment": "deals",
    "draft": "deals",
    "post": "deals",
    "deadline": "deals",
    "extension": "deals",
    "verification": "deals",
    "escrow": "payments",
    "payment": "payments",
    "payout": "payments",
    "refund": "payments",
    "message": "messages",
    "messaging": "messages",
    "review": "reputation",
    "reputation": "reputation",
    "dispute": "disputes",
    "account": "account",
    "security": "account",
    "team": "account",
}

#: Notifications per page of the list.
NOTIFICATIONS_PER_PAGE = 30


def email_group(kind: str) -> str:
    return KIND_PREFIX_GROUPS.get(kind.partition(".")[0].lower(), "other")


async def users_without_email(session: AsyncSession, user_ids: Iterable[UUID], group: str) -> set[UUID]:
    """Those of ``user_ids`` who switched email off for ``group`` (always empty for groups that always email)."""
    ids = list(user_ids)
    if not ids or group in ALWAYS_EMAILED:
        return set()
    rows = await session.scalars(
        sa.select(NotificationPreference.user_id).where(
            NotificationPreference.user_id.in_(ids),
            NotificationPreference.kind_group == group,
            NotificationPreference.email.is_(False),
        )
    )
    return set(rows.all())


async def notify(session: AsyncSession, user_ids: Iterable[UUID], *, kind: str, title: Any, body: Any = "",
                 link: str | None = None, email_template: str | None = None, email_at_delivery: bool = False,
                 **email_context: Any) -> list[Notification]:
    """One in-app notification per user; with ``email_template`` also one email each (in the same transaction,
    delivered after commit) — except to users who switched email off for the kind's group (see ``email_group``).
    The template gets ``user``, ``title``, ``body``, ``link``, ``settings_link`` and ``email_context``. With
    ``email_at_delivery`` the emails are queued as template + parameters and written when delivered (see
    ``mail.queue_notice_emails``), as ``notify_many`` does."""
    ids = list(dict.fromkeys(user_ids))
    if not ids:
        return []
    users = (await session.scalars(sa.select(User).where(User.id.in_(ids), User.is_active.is_(True)))).all()
    no_email = await users_without_email(session, [u.id for u in users], email_group(kind)) if email_template else set()
    created = []
    later: list[NoticeEmail] = []
    for user in users:
        # Each reader gets the notice in their own language and zone (title/body may be i18n.Message).
        with i18n.use_locale(user.locale, user.timezone):
            title_text, body_text = i18n.render_text(title), i18n.render_text(body)
        note = Notification(user_id=user.id, kind=kind, title=title_text[:200], body=body_text, link=link)
        session.add(note)
        created.append(note)
        if email_template and user.id not in no_email:
            email_context.setdefault("settings_link", "/notifications/settings")
            if email_at_delivery:
                later.append(NoticeEmail(user.id, user.email, email_template, kind,
                                         {**email_context, "title": title, "body": body, "link": link}))
            else:
                await send_email(session, user.email, email_template, category=kind, user=user, title=title_text,
                                 body=body_text, link=link, **email_context)
    await session.flush()
    await queue_notice_emails(session, later)
    return created


@dataclass(frozen=True)
class Notice:
    """One notice for ``notify_many``: what ``notify`` takes, for one event."""

    user_ids: tuple[UUID, ...]
    kind: str
    title: Any
    body: Any = ""
    link: str | None = None


async def notify_many(session: AsyncSession, notices: Sequence[Notice], *, email_template: str | None = None,
                      **email_context: Any) -> list[UUID]:
    """``notify`` for many notices at once (a bulk step on hundreds of deals): the recipients and their email
    settings are read once, and the notifications and the emails are written with one table insert each; the
    emails are queued as template + parameters and written at delivery, in each reader's language (see
    ``mail.queue_notice_emails``). Returns the notifications' ids."""
    ids = list(dict.fromkeys(uid for notice in notices for uid in notice.user_ids))
    if not ids:
        return []
    users = {u.id: u for u in (await session.scalars(
        sa.select(User).where(User.id.in_(ids), User.is_active.is_(True)))).all()}
    no_email: dict[str, set[UUID]] = {}
    if email_template:
        for group in {email_group(notice.kind) for notice in notices}:
            no_email[group] = await users_without_email(session, list(users), group)
    now = datetime.now(UTC)
    created: list[dict[str, Any]] = []
    emails: list[NoticeEmail] = []
    shown: dict[tuple[Any, ...], str] = {}

    def text_for(user: User, value: Any) -> str:
        # A batch tells many readers the same message (a brand's team; one gig's creators): rendered once per
        # message, language and zone.
        if not isinstance(value, i18n.Message):
            return value  # type: ignore[no-any-return]
        key = (user.locale, user.timezone, _message_key(value))
        if key not in shown:
            with i18n.use_locale(user.locale, user.timezone):
                shown[key] = i18n.render_text(value)
        return shown[key]

    for notice in notices:
        for user_id in dict.fromkeys(notice.user_ids):
            user = users.get(user_id)
            if user is None:
                continue
            created.append({"id": uuid7(), "user_id": user.id, "kind": notice.kind,
                            "title": text_for(user, notice.title)[:200], "body": text_for(user, notice.body),
                            "link": notice.link, "read_at": None, "created_at": now, "updated_at": now})
            if email_template and user.id not in no_email[email_group(notice.kind)]:
                emails.append(NoticeEmail(user.id, user.email, email_template, notice.kind, {
                    "settings_link": "/notifications/settings", **email_context, "title": notice.title,
                    "body": notice.body, "link": notice.link}))
    # A table insert (not ORM objects and a flush): the rows are plain dicts and nothing needs them back as objects.
    if created:
        await insert_rows(session, Notification.__table__, created)
    await queue_notice_emails(session, emails, together=True)
    return [row["id"] for row in created]


def _message_key(message: i18n.Message) -> tuple[Any, ...]:
    """What makes two messages read the same: the id and the parameters (nested messages by theirs); a parameter
    that can't be compared by value (not hashable) makes the message its own key."""
    params = []
    for name, value in sorted(message.params.items()):
        item = _message_key(value) if isinstance(value, i18n.Message) else value
        try:
            hash(item)
        except TypeError:
            return (id(message),)
        params.append((name, type(item), item))
    return (message.msgid, *params)


async def admin_user_ids(session: AsyncSession) -> list[UUID]:
    """Every active admin (they share the queues: disputes, reviews)."""
    return list((await session.scalars(
        sa.select(User.id).where(User.kind == UserKind.ADMIN, User.is_active.is_(True)).order_by(User.id))).all())


async def brand_user_ids(session: AsyncSession, brand_id: UUID,
                         roles: Iterable[BrandRole] | None = None) -> list[UUID]:
    """The brand team members who should hear about something (all members, or only some roles)."""
    query = sa.select(BrandMember.user_id).where(BrandMember.brand_id == brand_id)
    if roles is not None:
        query = query.where(BrandMember.role.in_(list(roles)))
    return list((await session.scalars(query)).all())


async def creator_user_id(session: AsyncSession, creator_id: UUID) -> UUID | None:
    return await session.scalar(sa.select(Creator.user_id).where(Creator.id == creator_id))


# --- the notification list --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class NotificationPage:
    items: list[Notification]
    #: Pass as ``before`` for the next (older) page, or None at the end.
    next_before: UUID | None
    unread: int


async def list_notifications(
    session: AsyncSession,
    user_id: UUID,
    *,
    before: UUID | None = None,
    unread_only: bool = False,
    limit: int = NOTIFICATIONS_PER_PAGE,
) -> NotificationPage:
    """Newest first, paginated by id (UUIDv7 ids sort by creation time): no OFFSET, however long the list."""
    query = sa.select(Notification).where(Notification.user_id == user_id)
    if before is not None:
        query = query.where(Notification.id < before)
    if unread_only:
        query = query.where(Notification.read_at.is_(None))
    items = list((await session.scalars(query.order_by(Notification.id.desc()).limit(limit + 1))).all())
    next_before = items[limit - 1].id if len(items) > limit else None
    return NotificationPage(items[:limit], next_before, await unread_notification_count(session, user_id))


def unread_notifications_query(user_id: UUID | sa.BindParameter[Any]) -> sa.ScalarSelect[int]:
    # Served by ix_notification_user_unread (user_id, read_at, created_at).
    return (
        sa.select(sa.func.count())
        .select_from(Notification)
        .where(Notification.user_id == user_id, Notification.read_at.is_(None))
        .scalar_subquery()
    )


async def unread_notification_count(session: AsyncSession, user_id: UUID) -> int:
    return int(await session.scalar(sa.select(unread_notifications_query(user_id))) or 0)


async def mark_notification_read(session: AsyncSession, user_id: UUID, notification_id: UUID,
                                 *, now: datetime) -> Notification:
    """Mark one of the user's notifications read (someone else's is NotFound); already-read ones keep their time."""
    note = await session.scalar(
        sa.select(Notification).where(Notification.id == notification_id, Notification.user_id == user_id)
    )
    if note is None:
        raise NotFound(gettext('No such notification.'))
    if note.read_at is None:
        note.read_at = now
        await session.flush()
    return note


async def mark_all_notifications_read(session: AsyncSession, user_id: UUID, *, now: datetime) -> int:
    """Returns how many were unread."""
    result = await session.execute(
        sa.update(Notification)
        .where(Notification.user_id == user_id, Notification.read_at.is_(None))
        .values(read_at=now)
        .execution_options(synchronize_session=False)
    )
    return int(result.rowcount or 0)  # type: ignore[attr-defined]


@dataclass(frozen=True)
class BadgeCounts:
    notifications: int
    messages: int

    @property
    def total(self) -> int:
        return self.notifications + self.messages


@functools.cache
def badge_statement(is_creator: bool, is_brand: bool) -> sa.Select[tuple[int, int]]:
    """The badge's statement, built once per side (creator, brand, neither): building it per poll cost more than
    PostgreSQL took to run it. Parameters: ``user_id``, ``party_id`` (the creator's or brand's id)."""
    id_type = Notification.__table__.c.user_id.type
    user_id, party_id = sa.bindparam("user_id", type_=id_type), sa.bindparam("party_id", type_=id_type)
    return sa.select(unread_notifications_query(user_id), unread_total_for(is_creator, is_brand, user_id, party_id))


async def badge_counts(session: AsyncSession, actor: Actor) -> BadgeCounts:
    """Unread notifications and unread messages in ONE statement (two indexed scalar subqueries): the nav badge
    asks on every page load and every minute."""
    party_id = actor.creator_id if actor.is_creator else actor.brand_id
    statement = badge_statement(actor.is_creator, actor.is_brand)
    # On the session's connection: the ORM's execution layer reads nothing a row of two counts needs.
    connection = await session.connection()
    row = (await connection.execute(statement, {"user_id": actor.user_id, "party_id": party_id})).one()
    return BadgeCounts(int(row[0] or 0), int(row[1] or 0))


# --- email preferences ------------------------------------------------------------------------------------------


async def email_preferences(session: AsyncSession, user_id: UUID) -> dict[str, bool]:
    """Group → wants email, for every switchable group (default on)."""
    rows = (
        await session.execute(
            sa.select(NotificationPreference.kind_group, NotificationPreference.email).where(
                NotificationPreference.user_id == user_id
            )
        )
    ).all()
    chosen = {row.kind_group: row.email for row in rows}
    return {group: chosen.get(group, True) for group in EMAIL_GROUPS}


async def set_email_preferences(session: AsyncSession, user_id: UUID, wanted: dict[str, bool]) -> dict[str, bool]:
    """Save the user's choice per group; unknown groups are a field error. Returns the saved settings."""
    unknown = sorted(set(wanted) - set(EMAIL_GROUPS))
    if unknown:
        raise InvalidInput(
            {"groups": gettext("Unknown email group(s): %(unknown)s.", unknown=", ".join(unknown)[:200])}
        )
    if wanted:
        # An upsert, so two saves at once (double click, two tabs) can't collide on the unique constraint.
        insert = insert_stmt(session, NotificationPreference)
        await session.execute(
            insert.on_conflict_do_update(
                index_elements=[NotificationPreference.user_id, NotificationPreference.kind_group],
                set_={"email": insert.excluded.email, "updated_at": insert.excluded.updated_at},
            ),
            [{"user_id": user_id, "kind_group": group, "email": bool(email)} for group, email in wanted.items()],
        )
    return await email_preferences(session, user_id)



