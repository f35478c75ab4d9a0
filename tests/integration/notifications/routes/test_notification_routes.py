"""Notification pages (plain and htmx), the nav badge, email settings, and the notifications JSON API."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy import event

from marketplace.db import session_scope
from marketplace.messaging import services as messaging
from marketplace.notifications import services as notifications
from marketplace.notifications.models import Notification, NotificationPreference
from tests.support.messaging import actor_for, api_headers, make_collaboration

PROBLEM = "application/problem+json"


async def signed_in(make_web: Any, person: Any) -> Any:
    web = await make_web()
    await web.sign_in(person.email, person.password)
    return web


async def notify(runtime, person, title="Your application was accepted", link="/creator/applications", n=1):
    async with session_scope(runtime.session_maker) as session:
        created = []
        for i in range(n):
            created += await notifications.notify(
                session, [person.user_id], kind="application.accepted", title=f"{title}{'' if n == 1 else f' #{i}'}",
                body="Congratulations.", link=link,
            )
        return created


async def unread(db, person) -> int:
    return await db.scalar(
        sa.select(sa.func.count())
        .select_from(Notification)
        .where(Notification.user_id == person.user_id, Notification.read_at.is_(None))
    )


async def test_list_pages_and_fragment(make_web, people, runtime) -> None:
    person = await people.creator()
    await notify(runtime, person, title="Update", n=35)
    web = await signed_in(make_web, person)
    first = await web.get("/notifications")
    assert first.status_code == 200 and "<html" in first.text
    assert "Update #34" in first.text and "Update #5" in first.text and "Update #4" not in first.text
    assert "Mark all read (35)" in first.text
    older = first.text.split('href="/notifications?before=')[1].split('"')[0]
    second = await web.get(f"/notifications?before={older}")
    assert "Update #4" in second.text and "Update #0" in second.text and "Update #5" not in second.text
    fragment = await web.get("/notifications", htmx=True)
    assert fragment.status_code == 200 and "<html" not in fragment.text
    assert fragment.text.lstrip().startswith('<div id="notifications"')
    junk = await web.get("/notifications?before=not-a-uuid&unread=1")
    assert junk.status_code == 200


async def test_mark_read_plain_htmx_and_open(make_web, people, runtime, db) -> None:
    person = await people.creator()
    first, second, third = (await notify(runtime, person, n=3))
    web = await signed_in(make_web, person)
    plain = await web.post(f"/notifications/{first.id}/read")
    assert plain.status_code == 303 and plain.headers["location"] == "/notifications"
    htmx = await web.post(f"/notifications/{second.id}/read", htmx=True)
    assert htmx.status_code == 200 and htmx.text.lstrip().startswith(f'<li id="n-{second.id}"')
    assert "Mark read" not in htmx.text
    opened = await web.post(f"/notifications/{third.id}/read", {"open": "1"})
    assert opened.status_code == 303 and opened.headers["location"] == "/creator/applications"
    assert await unread(db, person) == 0


async def test_open_never_leaves_the_site(make_web, people, runtime) -> None:
    person = await people.creator()
    (note,) = await notify(runtime, person, link="https://evil.example/phish")
    web = await signed_in(make_web, person)
    opened = await web.post(f"/notifications/{note.id}/read", {"open": "1"})
    assert opened.status_code == 303 and opened.headers["location"] == "/notifications"


@pytest.mark.parametrize("htmx", [False, True])
async def test_mark_all_read(make_web, people, runtime, db, htmx) -> None:
    person, other = await people.creator(), await people.creator()
    await notify(runtime, person, n=3)
    await notify(runtime, other, n=2)
    web = await signed_in(make_web, person)
    response = await web.post("/notifications/read-all", htmx=htmx)
    if htmx:
        assert response.status_code == 200 and 'id="notifications"' in response.text and "<html" not in response.text
    else:
        assert response.status_code == 303
    assert await unread(db, person) == 0 and await unread(db, other) == 2


async def test_other_peoples_notifications_are_refused(make_web, web, people, runtime, db) -> None:
    owner, intruder = await people.creator(), await people.brand()
    (note,) = await notify(runtime, owner, title="Private news")
    intruder_web = await signed_in(make_web, intruder)
    for htmx in (False, True):
        response = await intruder_web.post(f"/notifications/{note.id}/read", htmx=htmx)
        assert response.status_code == 404
    assert "Private news" not in (await intruder_web.get("/notifications")).text
    unknown = await intruder_web.post(f"/notifications/{uuid.uuid4()}/read")
    assert unknown.status_code == 404
    # Signed out: sent to sign in; nothing changes.
    for path in ("/notifications", "/notifications/settings"):
        response = await web.get(path)
        assert response.status_code == 303 and response.headers["location"].startswith("/signin")
    assert (await web.post(f"/notifications/{note.id}/read")).status_code == 303
    assert (await web.post("/notifications/read-all")).status_code == 303
    assert await unread(db, owner) == 1


@pytest.mark.parametrize("htmx", [False, True])
async def test_badge_is_an_empty_200_when_signed_out(web, htmx) -> None:
    response = await web.get("/notifications/badge", htmx=htmx)
    assert response.status_code == 200 and response.text == ""
    assert response.headers["cache-control"] == "no-store"


async def test_badge_counts_both_kinds_in_one_query(make_web, people, runtime) -> None:
    talk = await make_collaboration(runtime, await people.brand(), await people.creator())
    creator = await actor_for(runtime, talk.creator)
    async with session_scope(runtime.session_maker) as session:
        for text in ("a", "b"):
            await messaging.post_to_subject(
                session, creator, messaging.Subject("collaboration", talk.collaboration_id), text,
                now=runtime.clock.now(),
            )
    await notify(runtime, talk.brand, n=3)
    web = await signed_in(make_web, talk.brand)
    statements: list[str] = []

    def before(_conn, _cursor, statement, *_args) -> None:
        if not statement.lstrip().upper().startswith(("BEGIN", "COMMIT", "ROLLBACK", "PRAGMA")):
            statements.append(statement)

    engine = runtime.alchemy.get_engine().sync_engine
    await web.get("/notifications/badge", htmx=True)  # warm-up: the signed-in actor is cached while it is current
    event.listen(engine, "before_cursor_execute", before)
    try:
        for htmx in (True, False):
            response = await web.get("/notifications/badge", htmx=htmx)
            assert response.status_code == 200 and ">5</span>" in response.text
            assert "3 unread notifications, 2 unread messages" in response.text
    finally:
        event.remove(engine, "before_cursor_execute", before)
    # Per call: one statement for both counts (the actor comes from the cache while it is current).
    assert len(statements) == 2, statements
    quiet = await signed_in(make_web, talk.creator)
    assert (await quiet.get("/notifications/badge", htmx=True)).text.strip() == ""


@pytest.mark.parametrize("htmx", [False, True])
async def test_email_settings_page(make_web, people, runtime, db, htmx) -> None:
    person = await people.brand()
    web = await signed_in(make_web, person)
    page = await web.get("/notifications/settings")
    assert page.status_code == 200
    assert page.text.count('type="checkbox" name="email"') == len(notifications.EMAIL_GROUPS)
    assert "always emailed" in page.text
    keep = [g for g in notifications.EMAIL_GROUPS if g not in {"deals", "messages"}]
    saved = await web.post("/notifications/settings", [("email", g) for g in keep], htmx=htmx)
    if htmx:
        assert saved.status_code == 200 and "Email settings saved." in saved.text and "<html" not in saved.text
    else:
        assert saved.status_code == 303
    mine = sa.select(NotificationPreference).where(NotificationPreference.user_id == person.user_id)
    rows = {p.kind_group: p.email for p in await db.scalars(mine)}
    assert rows["deals"] is False and rows["messages"] is False and rows["payments"] is True
    bad = await web.post("/notifications/settings", [("email", "payments"), ("email", "<script>")], htmx=htmx)
    assert bad.status_code == 422 and "Choose from the listed kinds of email." in bad.text
    assert {p.kind_group: p.email for p in await db.scalars(mine)} == rows


async def test_notifications_api(client, people, runtime, db) -> None:
    person, other = await people.creator(), await people.creator()
    notes = await notify(runtime, person, n=4)
    (theirs,) = await notify(runtime, other)
    headers = await api_headers(runtime, person)
    listing = await client.get("/api/v1/notifications?limit=3", headers=headers)
    assert listing.status_code == 200
    body = listing.json()
    assert body["unread"] == 4 and len(body["notifications"]) == 3 and body["next_before"] is not None
    assert body["notifications"][0]["title"].endswith("#3") and body["notifications"][0]["read_at"] is None
    rest = (await client.get(f"/api/v1/notifications?before={body['next_before']}", headers=headers)).json()
    assert [n["title"][-2:] for n in rest["notifications"]] == ["#0"] and rest["next_before"] is None

    read = await client.post(f"/api/v1/notifications/{notes[0].id}/read", headers=headers)
    assert read.status_code == 200 and read.json()["read_at"] is not None
    assert (await client.get("/api/v1/notifications?unread=true", headers=headers)).json()["unread"] == 3
    refused = await client.post(f"/api/v1/notifications/{theirs.id}/read", headers=headers)
    assert refused.status_code == 404 and refused.headers["content-type"].startswith(PROBLEM)
    assert (await client.post("/api/v1/notifications/read-all", headers=headers)).json() == {"marked_read": 3}
    assert await unread(db, other) == 1

    settings = (await client.get("/api/v1/notifications/settings", headers=headers)).json()
    assert settings["email"]["messages"] is True and settings["always_emailed"] == ["account", "disputes"]
    changed = await client.put("/api/v1/notifications/settings", json={"email": {"messages": False}}, headers=headers)
    assert changed.status_code == 200 and changed.json()["email"]["messages"] is False
    for payload in ({"email": {"disputes": False}}, {"email": {"bogus": True}}):
        response = await client.put("/api/v1/notifications/settings", json=payload, headers=headers)
        assert response.status_code == 422 and response.headers["content-type"].startswith(PROBLEM)
    for payload in ({"email": {"messages": "yes please"}}, {"email": []}, {}, {"email": {}, "x": 1}):
        response = await client.put("/api/v1/notifications/settings", json=payload, headers=headers)
        assert response.status_code == 400, payload

    for bad in ("before=nope", "limit=0", "limit=101", "unread=maybe"):
        assert (await client.get(f"/api/v1/notifications?{bad}", headers=headers)).status_code == 400, bad
    assert (await client.get("/api/v1/notifications")).status_code == 401
    assert (await client.post("/api/v1/notifications/read-all")).status_code == 401
