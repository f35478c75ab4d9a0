"""Health check, the development outbox and email delivery."""

from __future__ import annotations

import smtplib

import pytest
import sqlalchemy as sa

from marketplace.db import session_scope
from marketplace.jobs import RetryLater
from marketplace.notifications.mail import deliver_email, queue_email
from marketplace.notifications.models import EmailStatus, OutboxEmail
from marketplace.settings import Settings


async def test_healthz_is_liveness_and_readyz_reports_the_database(client) -> None:
    response = await client.get("/healthz")
    assert response.status_code == 200 and response.json() == {"status": "ok"}
    response = await client.get("/readyz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok", "database": "ok", "redis": "not configured"}


async def test_readyz_reports_unreachable_redis_while_healthz_stays_up(test_env, runtime, clock, queue) -> None:
    from litestar.testing import AsyncTestClient

    from marketplace.app import create_app
    from marketplace.runtime import build_runtime

    broken = Settings.from_env({**test_env, "REDIS_URL": "redis://127.0.0.1:1/0"})
    rt = build_runtime(broken, clock=clock, queue=queue, passwords=runtime.passwords, rate_limiter=runtime.rate_limiter)
    async with AsyncTestClient(app=create_app(runtime=rt, run_scheduler=False)) as c:
        assert (await c.get("/healthz")).status_code == 200  # alive: no I/O
        response = await c.get("/readyz")
    assert response.status_code == 503
    assert response.json()["database"] == "ok"
    assert response.json()["redis"].startswith("error")


async def test_dev_outbox_lists_emails_to_admins_only(make_web, people) -> None:
    """Its emails carry password-reset links: nobody but an admin may read them, even in development."""
    person = await people.creator()
    brand, admin = await people.brand(), await people.admin()
    anonymous, as_creator, as_brand, as_admin = [await make_web() for _ in range(4)]
    await as_creator.sign_in(person.email, person.password)
    await as_brand.sign_in(brand.email, brand.password)
    await as_admin.sign_in(admin.email, admin.password)
    refused = await anonymous.get("/dev/outbox")
    assert refused.status_code == 303 and refused.headers["location"] == "/signin?next=/dev/outbox"
    for web in (as_creator, as_brand):
        page = await web.get("/dev/outbox")
        assert page.status_code == 403 and person.email not in page.text
    page = await as_admin.get("/dev/outbox")
    assert page.status_code == 200
    assert "Welcome to PostPact" in page.text and person.email in page.text


async def test_outbox_stores_mail_when_no_smtp_is_configured(runtime, db) -> None:
    async with session_scope(runtime.session_maker) as session:
        email = await queue_email(session, "x@example.test", "Hello", "Body")
    assert await deliver_email(runtime.job_context(), str(email.id)) == "stored"
    assert (await db.get(OutboxEmail, email.id)).status is EmailStatus.STORED
    # Running the job again changes nothing.
    assert await deliver_email(runtime.job_context(), str(email.id)) == "skipped"


async def test_smtp_delivery_and_retry(smtp_env, runtime, db, monkeypatch) -> None:
    async with session_scope(runtime.session_maker) as session:
        email = await queue_email(session, "y@example.test", "Your deal", "Body text")

    calls = {"n": 0}
    real = smtplib.SMTP.send_message

    def flaky(self, msg, *args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 1:
            raise smtplib.SMTPServerDisconnected("connection dropped")
        return real(self, msg, *args, **kwargs)

    monkeypatch.setattr(smtplib.SMTP, "send_message", flaky)
    with pytest.raises(RetryLater):
        await deliver_email(runtime.job_context(), str(email.id))
    row = await db.get(OutboxEmail, email.id)
    assert row.status is EmailStatus.QUEUED and row.attempts == 1 and "connection dropped" in row.last_error
    assert await deliver_email(runtime.job_context(), str(email.id)) == "sent"
    received = smtp_env.to("y@example.test")
    assert len(received) == 1 and received[0].subject == "Your deal" and "Body text" in received[0].body
    assert await deliver_email(runtime.job_context(), str(email.id)) == "skipped"
    assert len(smtp_env.to("y@example.test")) == 1
    assert await db.scalar(sa.select(OutboxEmail.status).where(OutboxEmail.id == email.id)) is EmailStatus.SENT


async def test_undecodable_multipart_text_is_a_400_not_a_500(web) -> None:
    token = await web.csrf_token()
    boundary = "postpactboundary"
    body = (
        f"--{boundary}\r\nContent-Disposition: form-data; name=\"_csrf_token\"\r\n\r\n{token}\r\n"
        f"--{boundary}\r\nContent-Disposition: form-data; name=\"email\"\r\n\r\n"
    ).encode() + b"\xff\xfe\xfa" + f"\r\n--{boundary}--\r\n".encode()
    response = await web.client.post("/signin", content=body,
                                      headers={"Content-Type": f"multipart/form-data; boundary={boundary}"})
    assert response.status_code == 400
    assert "valid UTF-8" in response.text


async def test_emails_link_to_the_configured_public_url(runtime, people, db) -> None:
    from marketplace.notifications.services import notify

    person = await people.creator()
    async with session_scope(runtime.session_maker) as session:
        await notify(session, [person.user_id], kind="deals.test", title="Your deal moved", body="See it.",
                     link="/collaborations/123", email_template="notification")
    mail = await db.scalar(sa.select(OutboxEmail).where(OutboxEmail.subject == "Your deal moved"))
    assert "http://testserver.local/collaborations/123" in mail.body_text


async def test_unknown_paths_get_a_readable_404_page(web) -> None:
    response = await web.get("/no/such/page")
    assert response.status_code == 404
    assert "<h1>Not found</h1>" in response.text
    api = await web.get("/api/v1/no-such-thing")
    assert api.status_code == 404 and api.headers["content-type"].startswith("application/problem+json")
