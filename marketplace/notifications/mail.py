"""The mailer: emails are written to the outbox inside the caller's transaction and delivered by a job."""

from __future__ import annotations

import asyncio
import logging
import smtplib
import ssl
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from functools import lru_cache
from typing import Any
from urllib.parse import unquote, urlparse
from uuid import UUID

import jinja2
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession
from uuid_utils.compat import uuid7

from marketplace import i18n
from marketplace.accounts.models import User
from marketplace.jobs import SETTINGS_KEY, JobContext, RetryLater, enqueue, job
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


async def send_emails(session: AsyncSession, messages: Sequence[tuple[User, str, str, dict[str, Any]]]
                      ) -> list[UUID]:
    """``send_email`` to many known users at once — (user, template, category, context) each, rendered in the
    user's language and zone — written with one table insert (a bulk step telling hundreds of creators); returns
    the outbox ids, in the order given."""
    settings = session.info.get(SETTINGS_KEY)
    public_url = settings.app.public_url if settings is not None else ""
    now = datetime.now(UTC)
    rows: list[dict[str, Any]] = []
    for user, template, category, context in messages:
        full = {**context, "user": user, "public_url": context.get("public_url") or public_url}
        with i18n.use_locale(user.locale or i18n.DEFAULT_LOCALE, user.timezone or i18n.DEFAULT_ZONE):
            shown = {key: i18n.render_text(value) for key, value in full.items()}
            subject, body = render_email(template, **shown)
        rows.append({"id": uuid7(), "to_address": user.email, "subject": subject[:300], "body_text": body,
                     "category": category, "status": EmailStatus.QUEUED, "attempts": 0, "created_at": now,
                     "updated_at": now})
    # A table insert (not ORM objects and a flush): the rows are plain dicts and nothing needs them back as objects.
    if rows:
        await session.execute(sa.insert(OutboxEmail.__table__), rows)
    for row in rows:
        enqueue(session, "mail.deliver_email", str(row["id"]))
    return [row["id"] for row in rows]


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
