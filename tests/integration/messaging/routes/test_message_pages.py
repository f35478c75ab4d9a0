"""Messaging pages: inbox, thread (plain and htmx), posting as a form, refusals, and the inbox's query count."""

from __future__ import annotations

import re
from contextlib import contextmanager
from typing import Any

import pytest
import sqlalchemy as sa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import event

from marketplace.applications.models import ApplicationStatus
from marketplace.brands.models import BrandRole
from marketplace.db import session_scope
from marketplace.messaging import queries
from marketplace.messaging import services as messaging
from marketplace.messaging.models import Message, Thread, ThreadReadState
from tests.support.messaging import actor_for, make_application, make_collaboration


async def signed_in(make_web: Any, person: Any) -> Any:
    web = await make_web()
    await web.sign_in(person.email, person.password)
    return web


async def post_as(runtime, person, subject, body) -> Message:
    actor = await actor_for(runtime, person)
    async with session_scope(runtime.session_maker) as session:
        return await messaging.post_to_subject(session, actor, subject, body, now=runtime.clock.now())


async def counts(db) -> tuple[int, int, int]:
    return (
        await db.scalar(sa.select(sa.func.count()).select_from(Thread)),
        await db.scalar(sa.select(sa.func.count()).select_from(Message)),
        await db.scalar(sa.select(sa.func.count()).select_from(ThreadReadState)),
    )


@contextmanager
def count_queries(runtime) -> Any:
    statements: list[str] = []

    def before(_conn, _cursor, statement, *_args) -> None:
        if not statement.lstrip().upper().startswith(("BEGIN", "COMMIT", "ROLLBACK", "PRAGMA", "SAVEPOINT", "RELEASE")):
            statements.append(statement)

    engine = runtime.alchemy.get_engine().sync_engine
    event.listen(engine, "before_cursor_execute", before)
    try:
        yield statements
    finally:
        event.remove(engine, "before_cursor_execute", before)


async def test_a_conversation_through_plain_forms(make_web, people, runtime, db) -> None:
    talk = await make_collaboration(runtime, await people.brand(), await people.creator())
    creator = await signed_in(make_web, talk.creator)
    opened = await creator.get(f"/messages/collaboration/{talk.collaboration_id}")
    assert opened.status_code == 303
    thread_url = opened.headers["location"]
    thread_id = thread_url.rsplit("/", 1)[1]
    page = await creator.get(thread_url)
    assert page.status_code == 200 and "<html" in page.text and "No messages yet" in page.text
    assert 'name="body"' in page.text and f'hx-get="/messages/{thread_id}?known=0"' in page.text

    sent = await creator.post(thread_url, {"body": "Hi! Can I film on Friday?"})
    assert sent.status_code == 303 and sent.headers["location"] == f"{thread_url}#m-1"

    brand = await signed_in(make_web, talk.brand)
    brand_view = await brand.get(thread_url)
    assert brand_view.status_code == 200
    assert "Hi! Can I film on Friday?" in brand_view.text and "New messages" not in brand_view.text
    assert 'class="message from-creator new"' in brand_view.text  # unread when the page was rendered
    state = await db.scalar(sa.select(ThreadReadState).where(ThreadReadState.user_id == talk.brand.user_id))
    assert state.last_read_seq == 1  # and now it is read
    # The same link from the deal page finds the same thread.
    again = await brand.get(f"/messages/collaboration/{talk.collaboration_id}")
    assert again.headers["location"] == thread_url
    assert (await counts(db))[0] == 1


async def test_htmx_poll_and_post(make_web, people, runtime, db) -> None:
    talk = await make_collaboration(runtime, await people.brand(), await people.creator())
    subject = messaging.Subject("collaboration", talk.collaboration_id)
    first = await post_as(runtime, talk.brand, subject, "Welcome aboard")
    creator = await signed_in(make_web, talk.creator)
    url = f"/messages/{first.thread_id}"

    fragment = await creator.get(url, htmx=True)
    assert fragment.status_code == 200
    assert "<html" not in fragment.text and fragment.text.lstrip().startswith('<div id="messages"')
    assert "Welcome aboard" in fragment.text and "known=1" in fragment.text
    # Nothing new since: the poll is answered with 204 and no body (htmx leaves the page alone).
    unchanged = await creator.get(f"{url}?known=1", htmx=True)
    assert unchanged.status_code == 204 and unchanged.content == b""
    await post_as(runtime, talk.brand, subject, "Tracking: 1Z999")
    changed = await creator.get(f"{url}?known=1", htmx=True)
    assert changed.status_code == 200 and "Tracking: 1Z999" in changed.text and "known=2" in changed.text
    # Without HX-Request the same URL is the whole page, whatever ``known`` says.
    whole = await creator.get(f"{url}?known=2")
    assert whole.status_code == 200 and "<html" in whole.text

    posted = await creator.post(url, {"body": "Got it, thanks"}, htmx=True)
    assert posted.status_code == 201
    assert posted.text.lstrip().startswith('<section id="conversation"') and "<html" not in posted.text
    assert "Got it, thanks" in posted.text
    assert re.search(r'<textarea[^>]*name="body"[^>]*>\s*</textarea>', posted.text), "the form is emptied"
    assert (await counts(db))[1] == 3


@pytest.mark.parametrize("htmx", [False, True])
async def test_bad_messages_rerender_with_field_errors_and_write_nothing(make_web, people, runtime, db, htmx) -> None:
    talk = await make_collaboration(runtime, await people.brand(), await people.creator())
    first = await post_as(runtime, talk.brand, messaging.Subject("collaboration", talk.collaboration_id), "Hello")
    creator = await signed_in(make_web, talk.creator)
    url = f"/messages/{first.thread_id}"
    before = await counts(db)
    for body, expected in (
        ("   ", "Write a message before sending."),
        ("x" * 10_000_000, "at most 5,000 characters"),
        ("bad \x00 byte", "be stored; remove them"),
    ):
        response = await creator.post(url, {"body": body}, htmx=htmx)
        assert response.status_code == 422, response.text[:300]
        assert expected in response.text
        assert len(response.content) < 200_000, "a huge body is never echoed back whole"
        assert ("<html" in response.text) is not htmx
    missing = await creator.post(url, {}, htmx=htmx)
    assert missing.status_code == 422
    assert await counts(db) == before


async def test_message_text_is_escaped(make_web, people, runtime) -> None:
    talk = await make_collaboration(runtime, await people.brand(), await people.creator())
    message = await post_as(
        runtime, talk.creator, messaging.Subject("collaboration", talk.collaboration_id), "<script>alert(1)</script>"
    )
    brand = await signed_in(make_web, talk.brand)
    page = await brand.get(f"/messages/{message.thread_id}")
    assert "<script>alert(1)</script>" not in page.text and "&lt;script&gt;alert(1)&lt;/script&gt;" in page.text


async def test_outsiders_are_refused_everywhere_and_nothing_is_written(make_web, web, people, runtime, db) -> None:
    talk = await make_collaboration(runtime, await people.brand(), await people.creator())
    pending = await make_application(runtime, talk.brand, talk.creator, title="Other gig")
    message = await post_as(runtime, talk.brand, messaging.Subject("collaboration", talk.collaboration_id), "Private")
    thread_url = f"/messages/{message.thread_id}"
    other_brand = await signed_in(make_web, await people.brand(brand_name="Rival Goods"))
    other_creator = await signed_in(make_web, await people.creator())
    before = await counts(db)
    gets = [
        thread_url,
        f"{thread_url}?known=0",
        f"/messages/collaboration/{talk.collaboration_id}",
        f"/messages/application/{pending.application_id}",
    ]
    for outsider in (other_brand, other_creator):
        for path in gets:
            for htmx in (False, True):
                response = await outsider.get(path, htmx=htmx)
                assert response.status_code == 404, (path, response.status_code)
                assert "Private" not in response.text
        refused = await outsider.post(thread_url, {"body": "let me in"})
        assert refused.status_code == 404
        inbox = await outsider.get("/messages")
        assert inbox.status_code == 200 and "Private" not in inbox.text and "Summer glow serum" not in inbox.text
    # Signed out: pages send you to sign in (htmx gets 401 + HX-Redirect); nothing is shown or written.
    for path in [*gets, "/messages"]:
        response = await web.get(path)
        assert response.status_code == 303 and response.headers["location"].startswith("/signin?next=")
        htmx_response = await web.get(path, htmx=True)
        assert htmx_response.status_code == 401 and htmx_response.headers["hx-redirect"].startswith("/signin")
    anonymous_post = await web.post(thread_url, {"body": "anon"})
    assert anonymous_post.status_code == 303 and "/signin" in anonymous_post.headers["location"]
    assert await counts(db) == before


async def test_admins_read_threads_but_cannot_post(make_web, people, runtime, db) -> None:
    talk = await make_collaboration(runtime, await people.brand(), await people.creator())
    message = await post_as(runtime, talk.creator, messaging.Subject("collaboration", talk.collaboration_id), "Proof")
    admin = await signed_in(make_web, await people.admin())
    page = await admin.get(f"/messages/{message.thread_id}")
    assert page.status_code == 200 and "Proof" in page.text and "read-only" in page.text
    assert 'name="body"' not in page.text
    before = await counts(db)
    refused = await admin.post(f"/messages/{message.thread_id}", {"body": "admin says hi"})
    assert refused.status_code == 403 and "post in them" in refused.text
    assert await counts(db) == before
    inbox = await admin.get("/messages")
    assert inbox.status_code == 200 and "Summer glow serum" in inbox.text


async def test_read_only_roles_and_closed_threads(make_web, people, runtime, db) -> None:
    talk = await make_application(
        runtime, await people.brand(), await people.creator(), status=ApplicationStatus.DECLINED
    )
    creator = await signed_in(make_web, talk.creator)
    opened = await creator.get(f"/messages/application/{talk.application_id}")
    page = await creator.get(opened.headers["location"])
    assert "conversation is closed" in page.text and 'name="body"' not in page.text
    before = await counts(db)
    refused = await creator.post(opened.headers["location"], {"body": "Why?"})
    assert refused.status_code == 409 and "conversation is closed" in refused.text
    htmx_refused = await creator.post(opened.headers["location"], {"body": "Why?"}, htmx=True)
    assert htmx_refused.status_code == 409 and "<html" not in htmx_refused.text
    assert await counts(db) == before


async def test_finance_members_can_write(make_web, people, runtime, db) -> None:
    brand = await people.brand()
    finance = await people.brand(brand_id=brand.brand_id, role=BrandRole.FINANCE, name="Fin Ance")
    talk = await make_collaboration(runtime, brand, await people.creator())
    web = await signed_in(make_web, finance)
    opened = await web.get(f"/messages/collaboration/{talk.collaboration_id}")
    sent = await web.post(opened.headers["location"], {"body": "Payment goes out Friday."})
    assert sent.status_code == 303
    sender = await db.scalar(sa.select(Message.sender_user_id))
    assert sender == finance.user_id


async def test_inbox_lists_threads_with_unread_counts_in_a_fixed_number_of_queries(make_web, people, runtime) -> None:
    brand, creator = await people.brand(), await people.creator()
    web = await signed_in(make_web, brand)

    async def add_threads(n: int, start: int) -> None:
        for i in range(start, start + n):
            talk = await make_collaboration(runtime, brand, creator, title=f"Gig number {i}")
            subject = messaging.Subject("collaboration", talk.collaboration_id)
            await post_as(runtime, creator, subject, f"hello {i}")
            if i % 2:
                await post_as(runtime, creator, subject, f"again {i}")

    await add_threads(2, 0)
    await web.get("/messages")  # warm-up: the signed-in actor is cached while it is current
    with count_queries(runtime) as few:
        small = await web.get("/messages")
    await add_threads(8, 2)
    with count_queries(runtime) as many:
        large = await web.get("/messages")
    assert small.status_code == large.status_code == 200
    assert len(many) == len(few), (few, many)
    assert len(many) <= 3  # at most the signed-in actor, the inbox page (and nothing per thread)
    assert large.text.count('class="thread-row unread"') == 10
    assert "2 new" in large.text and "1 new" in large.text
    # Newest conversation first.
    assert large.text.index("Gig number 9") < large.text.index("Gig number 0")
    fragment = await web.get("/messages", htmx=True)
    assert fragment.status_code == 200 and "<html" not in fragment.text and 'id="threads"' in fragment.text


async def test_inbox_pages_by_keyset(people, runtime, clock) -> None:
    brand, creator = await people.brand(), await people.creator()
    for i in range(5):
        talk = await make_collaboration(runtime, brand, creator, title=f"Gig {i}")
        await post_as(runtime, creator, messaging.Subject("collaboration", talk.collaboration_id), f"m{i}")
        if i != 2:
            clock.advance(minutes=1)  # two threads share a timestamp: the id breaks the tie
    actor = await actor_for(runtime, brand)
    seen: list[str] = []
    cursor = None
    async with runtime.session_maker() as session:
        for _ in range(4):
            page = await queries.inbox(session, actor, before=cursor, limit=2)
            seen.extend(e.title for e in page.entries)
            cursor = page.next_cursor
            if cursor is None:
                break
    assert seen == ["Gig 4", "Gig 3", "Gig 2", "Gig 1", "Gig 0"]


async def test_earlier_messages_page(make_web, people, runtime) -> None:
    talk = await make_collaboration(runtime, await people.brand(), await people.creator())
    actor = await actor_for(runtime, talk.creator)
    subject = messaging.Subject("collaboration", talk.collaboration_id)
    async with session_scope(runtime.session_maker) as session:
        for i in range(1, messaging.MESSAGES_PER_PAGE + 3):
            message = await messaging.post_to_subject(session, actor, subject, f"note {i}.", now=runtime.clock.now())
    web = await signed_in(make_web, talk.brand)
    latest = await web.get(f"/messages/{message.thread_id}")
    assert "note 3." in latest.text and "note 2." not in latest.text
    assert "?before_seq=3" in latest.text
    earlier = await web.get(f"/messages/{message.thread_id}?before_seq=3")
    assert "note 1." in earlier.text and "note 2." in earlier.text and "note 3." not in earlier.text
    assert "hx-trigger" not in earlier.text.split('id="messages"')[1].split(">")[0]  # no polling on old pages
    nonsense = await web.get(f"/messages/{message.thread_id}?before_seq=-4&known=zz")
    assert nonsense.status_code == 200



@pytest.fixture
async def fuzz_thread(make_web, people, runtime):
    talk = await make_collaboration(runtime, await people.brand(), await people.creator())
    message = await post_as(runtime, talk.brand, messaging.Subject("collaboration", talk.collaboration_id), "Hi")
    return await signed_in(make_web, talk.creator), f"/messages/{message.thread_id}"


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    fields=st.lists(
        st.tuples(st.sampled_from(["body", "body", "seq", "sender_party", "thread_id"]), st.text(max_size=120)),
        max_size=4,
    ),
    raw=st.one_of(st.none(), st.binary(max_size=200)),
    htmx=st.booleans(),
)
async def test_random_form_posts_never_cause_a_server_error(db, fuzz_thread, fields, raw, htmx) -> None:
    web, url = fuzz_thread
    before = await db.scalar(sa.select(sa.func.count()).select_from(Message))
    if raw is None:
        response = await web.post(url, fields, htmx=htmx)
    else:
        token = await web.csrf_token()
        headers = {"Content-Type": "application/x-www-form-urlencoded", "x-csrftoken": token}
        if htmx:
            headers["HX-Request"] = "true"
        response = await web.client.post(url, content=raw, headers=headers, follow_redirects=False)
    assert response.status_code < 500, (fields, raw, response.text[:300])
    after = await db.scalar(sa.select(sa.func.count()).select_from(Message))
    assert after == before + (1 if response.status_code in (201, 303) else 0)
