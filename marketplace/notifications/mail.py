"""The mailer: emails are queued in the outbox inside the caller's transaction and delivered by a job.

An email is either written when queued (``send_email``: a password reset, an invitation — one at a time), or queued
as its template and parameters for a known account (``queue_notice_emails``: the notices a step on hundreds of deals
sends) and written at delivery (``write_pending``), in the recipient's language and time zone as they are then.
Parameters that are ``i18n.Message`` are kept as message id + parameters (``stored``/``restored``), so they are
translated for the reader, not for whoever took the step.
"""

from __future__ import annotations

import asyncio
import logging
import smtplib
import ssl
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from functools import lru_cache
from types import SimpleNamespace
from typing import Any
from urllib.parse import unquote, urlparse
from uuid import UUID

import jinja2
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession
from uuid_utils.compat import uuid7

from marketplace import i18n
from marketplace.accounts.models import User
from marketplace.db import insert_rows
from marketplace.jobs import SETTINGS_KEY, JobContext, RetryLater, backoff_seconds, enqueue, job
from marketplace.notifications.models import EmailStatus, OutboxEmail
from marketplace.settings import PROJECT_ROOT

log = logging.getLogger(__name__)

EMAIL_TEMPLATES = PROJECT_ROOT / "templates" / "email"


@lru_cache(maxsize=1)
def _email_env() -> jinja2.Environment:
    # Plain-text mail: no HTML escaping, but undefined variables are errors rather than silent blanks.
    env = jinja2.Environment(  # noqa: S701
        loader=jinja2.FileSystemLoader(EMAIL_TEMPLATES),
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=True,
        # Email templates change with a deploy, not while a process runs: no file-time check per email rendered.
        auto_reload=False,
        trim_blocks=True,
        lstrip_blocks=True,
        extensions=["jinja2.ext.i18n"],
    )
    # In the recipient's language: send_email renders inside i18n.use_locale(<theirs>).
    env.install_gettext_translations(i18n.ContextTranslations(), newstyle=True)  # type: ignore[attr-defined]
    env.filters["dt"] = i18n.format_datetime
    env.filters["date"] = i18n.format_date
    env.filters["money"] = i18n.format_money
    env.filters["number"] = i18n.format_number
    return env


def render_email(template: str, **context: Any) -> tuple[str, str]:
    """Templates start with a ``Subject: ...`` line; the rest is the body."""
    text = _email_env().get_template(f"{template}.txt").render(**context)
    first, _, body = text.partition("\n")
    if not first.startswith("Subject:"):
        raise ValueError(f"email template {template!r} must start with 'Subject:'")
    return first.removeprefix("Subject:").strip(), body.lstrip("\n")


async def send_email(
    session: AsyncSession, to: str, template: str, *, category: str = "general", **context: Any
) -> OutboxEmail:
    """Render ``templates/email/<template>.txt`` and queue it; ``public_url`` defaults to the configured one."""
    if not context.get("public_url"):
        settings = session.info.get(SETTINGS_KEY)
        context["public_url"] = settings.app.public_url if settings is not None else ""
    locale, zone = await recipient_locale(session, to, context.get("user"))
    with i18n.use_locale(locale, zone):
        shown = {key: i18n.render_text(value) for key, value in context.items()}
        subject, body = render_email(template, **shown)
    return await queue_email(session, to, subject, body, category=category)


#: Exact types ``stored`` keeps as they are (the common case; subclasses go through the checks).
_PLAIN = frozenset({str, int, float, bool, type(None)})


def stored(value: Any) -> Any:
    """A template parameter as JSON: an ``i18n.Message`` as its message id and parameters (translated when the email
    is written, for its reader), a datetime as ISO 8601, an ``(amount, currency)`` pair as money; lists and dicts
    of those item by item."""
    if type(value) in _PLAIN:  # most parameters: kept as they are, without the chain of isinstance checks below
        return value
    if isinstance(value, i18n.Message):
        return {"$msg": value.msgid, "params": {key: stored(item) for key, item in value.params.items()}}
    if isinstance(value, datetime):
        return {"$dt": value.isoformat()}
    if isinstance(value, tuple) and len(value) == 2 and isinstance(value[0], int) and isinstance(value[1], str):
        return {"$money": list(value)}
    if isinstance(value, list):
        return [stored(item) for item in value]
    if isinstance(value, dict):
        return {key: stored(item) for key, item in value.items()}
    if value is None or isinstance(value, str | int | float | bool):
        return value
    return str(value)


def restored(value: Any) -> Any:
    """``stored``'s inverse: the message, datetime or money pair again."""
    if isinstance(value, dict):
        if "$msg" in value:
            return i18n.Message(value["$msg"], **{key: restored(item) for key, item in value["params"].items()})
        if "$dt" in value:
            return datetime.fromisoformat(value["$dt"])
        if "$money" in value:
            return (int(value["$money"][0]), str(value["$money"][1]))
        return {key: restored(item) for key, item in value.items()}
    if isinstance(value, list):
        return [restored(item) for item in value]
    return value


@dataclass(frozen=True)
class NoticeEmail:
    """An email for ``queue_notice_emails``: to a known account, written at delivery."""

    user_id: UUID
    to_address: str
    template: str
    category: str
    context: dict[str, Any]


#: Emails one ``mail.deliver_emails`` job delivers (emails queued together: a bulk step's notices).
DELIVERY_BATCH = 50


async def queue_notice_emails(session: AsyncSession, emails: Sequence[NoticeEmail], *,
                              together: bool = False) -> list[UUID]:
    """Queue emails to known accounts as template + parameters, written at delivery in each recipient's language
    (``write_pending``): one table insert however many, nothing rendered now. Returns the outbox ids, in order.

    ``together``: delivered by one ``mail.deliver_emails`` job per ``DELIVERY_BATCH`` emails instead of one
    ``mail.deliver_email`` job each (a bulk step over 1,500 deals sends 30 jobs to the broker after its commit, not
    1,500); each email is still delivered, retried and recorded on its own."""
    if not emails:
        return []
    settings = session.info.get(SETTINGS_KEY)
    public_url = settings.app.public_url if settings is not None else ""
    now = datetime.now(UTC)
    rows: list[dict[str, Any]] = []
    for email in emails:
        context = {key: stored(value) for key, value in email.context.items()}
        context["public_url"] = context.get("public_url") or public_url
        rows.append({"id": uuid7(), "to_address": email.to_address, "subject": "", "body_text": "",
                     "template": email.template, "context": context, "user_id": email.user_id,
                     "category": email.category, "status": EmailStatus.QUEUED, "attempts": 0, "created_at": now,
                     "updated_at": now})
    # A table insert (not ORM objects and a flush): the rows are plain dicts and nothing needs them back as objects.
    await insert_rows(session, OutboxEmail.__table__, rows)
    ids = [str(row["id"]) for row in rows]
    if together:
        for start in range(0, len(ids), DELIVERY_BATCH):
            enqueue(session, "mail.deliver_emails", *ids[start:start + DELIVERY_BATCH])
    else:
        for email_id in ids:
            enqueue(session, "mail.deliver_email", email_id)
    return [row["id"] for row in rows]


def is_pending(email: OutboxEmail) -> bool:
    """Queued as template + parameters and not written yet."""
    return email.template is not None and not email.body_text


async def write_pending(session: AsyncSession, emails: Sequence[OutboxEmail]) -> None:
    """Write the subject and body of those ``emails`` queued as template + parameters, each in its recipient's
    language and time zone as they are now (the delivery job, the development outbox). The recipients' accounts
    are read in one query; an account gone since falls back to the address's account, else English in UTC."""
    pending = [email for email in emails if is_pending(email)]
    if not pending:
        return
    ids = {email.user_id for email in pending if email.user_id is not None}
    users = {user.id: user for user in (await session.scalars(sa.select(User).where(User.id.in_(ids)))).all()}
    for email in pending:
        user: Any = users.get(email.user_id) if email.user_id is not None else None
        if user is None:
            user = await session.scalar(sa.select(User).where(User.email == email.to_address.strip().lower()))
        locale, zone = (user.locale, user.timezone) if user is not None else (None, None)
        if user is None:
            user = SimpleNamespace(full_name=email.to_address, email=email.to_address)
        context = {key: restored(value) for key, value in (email.context or {}).items()}
        with i18n.use_locale(locale or i18n.DEFAULT_LOCALE, zone or i18n.DEFAULT_ZONE):
            shown = {key: i18n.render_text(value) for key, value in context.items()}
            subject, body = render_email(str(email.template), user=user, **shown)
        email.subject, email.body_text = subject[:300], body
    await session.flush()


async def recipient_locale(session: AsyncSession, to: str, user: Any = None) -> tuple[str, str]:
    """The language and zone an email is written in: its recipient's settings (an account with that address), else
    English in UTC (an invitation to someone not on PostPact yet)."""
    if not isinstance(user, User) or user.email != to.strip().lower():
        row = (await session.execute(sa.select(User.locale, User.timezone).where(User.email == to.strip().lower())
                                     )).first()
        if row is None:
            return i18n.DEFAULT_LOCALE, i18n.DEFAULT_ZONE
        return row.locale or i18n.DEFAULT_LOCALE, row.timezone or i18n.DEFAULT_ZONE
    return user.locale or i18n.DEFAULT_LOCALE, user.timezone or i18n.DEFAULT_ZONE


async def queue_email(
    session: AsyncSession, to: str, subject: str, body: str, *, category: str = "general"
) -> OutboxEmail:
    email = OutboxEmail(to_address=to, subject=subject[:300], body_text=body, category=category)
    session.add(email)
    await session.flush()
    enqueue(session, "mail.deliver_email", str(email.id))
    return email


def _smtp_send(smtp_url: str, sender: str, email: OutboxEmail) -> None:
    url = urlparse(smtp_url)
    host = url.hostname or "localhost"
    message = EmailMessage()
    message["From"] = sender
    message["To"] = email.to_address
    message["Subject"] = email.subject
    message["Message-ID"] = f"<{email.id}@postpact>"
    message.set_content(email.body_text)
    if url.scheme == "smtps":
        client: smtplib.SMTP = smtplib.SMTP_SSL(host, url.port or 465, timeout=20, context=ssl.create_default_context())
    else:
        client = smtplib.SMTP(host, url.port or 25, timeout=20)
    with client:
        if url.scheme in {"smtp+starttls", "submission"}:
            client.starttls(context=ssl.create_default_context())
        if url.username:
            client.login(unquote(url.username), unquote(url.password or ""))
        client.send_message(message)


@job("mail.deliver_email", max_retries=8)
async def deliver_email(ctx: JobContext, email_id: str) -> str:
    """Send one outbox email over SMTP (or leave it in the outbox when none is configured); idempotent."""
    async with ctx.session_maker() as session:
        email = await session.get(OutboxEmail, UUID(email_id), with_for_update=True)
        if email is None or email.status in {EmailStatus.SENT, EmailStatus.STORED}:
            return "skipped"
        # A notice queued as template + parameters is written now, in its reader's language and zone.
        await write_pending(session, [email])
        smtp_url = ctx.settings.email.smtp_url
        if not smtp_url:
            email.status = EmailStatus.STORED
            await session.commit()
            return "stored"
        email.attempts += 1
        try:
            await asyncio.to_thread(_smtp_send, smtp_url, ctx.settings.email.from_address, email)
        except (OSError, smtplib.SMTPException) as exc:
            email.last_error = f"{type(exc).__name__}: {exc}"[:1000]
            gave_up = isinstance(exc, smtplib.SMTPRecipientsRefused) or email.attempts >= 8
            if gave_up:
                email.status = EmailStatus.FAILED
                log.error("email %s to %s failed for good: %s", email.id, email.to_address, exc)
            await session.commit()
            if gave_up:
                return "failed"
            raise RetryLater(f"SMTP delivery failed: {exc}") from exc
        email.status = EmailStatus.SENT
        email.sent_at = ctx.clock.now()
        await session.commit()
        log.info("email %s sent to %s", email.id, email.to_address)
        return "sent"


@job("mail.deliver_emails", max_retries=8)
async def deliver_emails(ctx: JobContext, *email_ids: str) -> dict[str, int]:
    """Emails queued together (``queue_notice_emails(..., together=True)``), each delivered as ``deliver_email``
    delivers it (idempotent: a sent or stored one is skipped). One that can't be sent now goes on with its own
    ``mail.deliver_email`` job and retries, so the others are neither held back nor sent twice."""
    outcomes: dict[str, int] = {}
    later: list[str] = []
    for email_id in email_ids:
        try:
            outcome = await deliver_email(ctx, email_id)
        except RetryLater:
            outcome = "retried"
            later.append(email_id)
        outcomes[outcome] = outcomes.get(outcome, 0) + 1
    if later:
        async with ctx.session_maker() as session, session.begin():
            for email_id in later:
                enqueue(session, "mail.deliver_email", email_id, countdown=backoff_seconds(0))
    return outcomes


#: A queued email older than this was probably dispatched by a process that died; send it again.
STALE_QUEUED = timedelta(minutes=2)


@job("mail.deliver_pending", every=120)
async def deliver_pending(ctx: JobContext) -> int:
    """Recovery sweep: re-dispatch queued emails whose delivery job was lost (crash, restart, CLI exit)."""
    cutoff = ctx.clock.now() - STALE_QUEUED
    async with ctx.session_maker() as session:
        ids = (await session.scalars(
            sa.select(OutboxEmail.id)
            .where(OutboxEmail.status == EmailStatus.QUEUED, OutboxEmail.updated_at < cutoff)
            .order_by(OutboxEmail.created_at)
            .limit(500)
        )).all()
        for email_id in ids:
            enqueue(session, "mail.deliver_email", str(email_id))
        await session.commit()
    if ids:
        log.info("re-dispatched %d queued emails", len(ids))
    return len(ids)
