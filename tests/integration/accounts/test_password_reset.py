"""Password reset by an emailed, signed, expiring, single-use link."""

from __future__ import annotations

import re

import sqlalchemy as sa

from marketplace.accounts.models import PasswordReset
from marketplace.jobs import RecordingQueue
from marketplace.notifications.models import OutboxEmail

NEW_PASSWORD = "a-brand-new-passphrase"


async def _reset_link(db, email: str) -> str:
    mail = await db.scalar(
        sa.select(OutboxEmail)
        .where(OutboxEmail.to_address == email, OutboxEmail.category == "account", OutboxEmail.subject.like("Reset%"))
        .order_by(OutboxEmail.created_at.desc())
    )
    assert mail is not None, "no reset email was queued"
    match = re.search(r"http://testserver\.local(/password/reset/\S+)", mail.body_text)
    assert match, mail.body_text
    return match.group(1)


async def test_reset_link_works_once(web, people, db) -> None:
    person = await people.creator()
    response = await web.post("/password/forgot", {"email": person.email})
    assert response.status_code == 200
    assert "If an account exists" in response.text
    link = await _reset_link(db, person.email)
    assert (await web.get(link)).status_code == 200
    changed = await web.post(link, {"password": NEW_PASSWORD, "password_confirm": NEW_PASSWORD})
    assert changed.status_code == 303
    await web.sign_out()
    # The old password no longer works; the new one does.
    old = await web.post("/signin", {"email": person.email, "password": person.password})
    assert old.status_code == 422
    await web.sign_in(person.email, NEW_PASSWORD)
    await web.sign_out()
    # Reusing the link is refused, and nothing changes.
    reused = await web.post(link, {"password": "yet-another-passphrase", "password_confirm": "yet-another-passphrase"})
    assert reused.status_code == 400
    assert "invalid or has expired" in reused.text
    await web.sign_in(person.email, NEW_PASSWORD)


async def test_expired_reset_link_is_refused(web, people, db, clock) -> None:
    person = await people.creator()
    await web.post("/password/forgot", {"email": person.email})
    link = await _reset_link(db, person.email)
    clock.advance(hours=1, minutes=1)
    page = await web.get(link)
    assert page.status_code == 400 and "invalid or has expired" in page.text
    response = await web.post(link, {"password": NEW_PASSWORD, "password_confirm": NEW_PASSWORD})
    assert response.status_code == 400
    await web.sign_in(person.email, person.password)


async def test_tampered_link_is_refused(web, people, db) -> None:
    person = await people.creator()
    await web.post("/password/forgot", {"email": person.email})
    link = await _reset_link(db, person.email)
    response = await web.post(link[:-3] + "abc", {"password": NEW_PASSWORD, "password_confirm": NEW_PASSWORD})
    assert response.status_code == 400


async def test_unknown_email_gets_the_same_answer_and_no_mail(web, db) -> None:
    response = await web.post("/password/forgot", {"email": "nobody@example.test"})
    assert response.status_code == 200 and "If an account exists" in response.text
    assert await db.scalar(sa.select(sa.func.count(PasswordReset.id))) == 0
    assert await db.scalar(sa.select(sa.func.count(OutboxEmail.id))) == 0


async def test_reset_signs_out_other_sessions(make_web, people, db) -> None:
    person = await people.brand()
    laptop, phone = await make_web(), await make_web()
    await laptop.sign_in(person.email, person.password)
    assert (await laptop.get("/brand")).status_code == 200
    await phone.post("/password/forgot", {"email": person.email})
    link = await _reset_link(db, person.email)
    await phone.post(link, {"password": NEW_PASSWORD, "password_confirm": NEW_PASSWORD})
    assert (await phone.get("/brand")).status_code == 200
    assert (await laptop.get("/brand")).status_code == 303


async def test_new_password_must_meet_the_rules(web, people, db) -> None:
    person = await people.creator()
    await web.post("/password/forgot", {"email": person.email})
    link = await _reset_link(db, person.email)
    response = await web.post(link, {"password": "short", "password_confirm": "short"})
    assert response.status_code == 422 and "at least 10 characters" in response.text
    mismatch = await web.post(link, {"password": NEW_PASSWORD, "password_confirm": NEW_PASSWORD + "x"})
    assert mismatch.status_code == 422 and "match" in mismatch.text
    # The link still works after rejected attempts.
    assert (await web.post(link, {"password": NEW_PASSWORD, "password_confirm": NEW_PASSWORD})).status_code == 303


async def test_reset_requests_are_rate_limited(web, people) -> None:
    person = await people.creator()
    statuses = [(await web.post("/password/forgot", {"email": person.email})).status_code for _ in range(6)]
    assert statuses[:5] == [200] * 5
    assert statuses[5] == 429


async def test_reset_email_is_delivered_over_smtp(smtp_env, web, people, runtime, queue: RecordingQueue) -> None:
    person = await people.creator()
    await web.post("/password/forgot", {"email": person.email})
    assert "mail.deliver_email" in queue.names()
    await queue.run_all(runtime.job_context())
    mails = smtp_env.to(person.email)
    reset = [m for m in mails if m.subject == "Reset your PostPact password"]
    assert len(reset) == 1
    assert "/password/reset/" in reset[0].body
    assert "expires in 60 minutes" in reset[0].body
