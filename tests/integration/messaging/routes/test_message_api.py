"""The messaging JSON API: reading and writing per application and collaboration, refusals, bad input, fuzzing."""

from __future__ import annotations

import json
import uuid

import pytest
import sqlalchemy as sa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from marketplace.applications.models import ApplicationStatus
from marketplace.messaging.models import Message, Thread, ThreadReadState
from tests.support.messaging import api_headers, make_application, make_collaboration

PROBLEM = "application/problem+json"


async def totals(db) -> tuple[int, int, int]:
    return (
        await db.scalar(sa.select(sa.func.count()).select_from(Thread)),
        await db.scalar(sa.select(sa.func.count()).select_from(Message)),
        await db.scalar(sa.select(sa.func.count()).select_from(ThreadReadState)),
    )


@pytest.mark.parametrize("kind", ["collaborations", "applications"])
async def test_write_and_read_a_thread(client, people, runtime, db, kind) -> None:
    talk = await make_collaboration(runtime, await people.brand(), await people.creator())
    subject_id = talk.collaboration_id if kind == "collaborations" else talk.application_id
    url = f"/api/v1/{kind}/{subject_id}/messages"
    brand, creator = await api_headers(runtime, talk.brand), await api_headers(runtime, talk.creator)

    empty = await client.get(url, headers=creator)
    assert empty.status_code == 200
    assert empty.json() == {"thread_id": None, "message_count": 0, "unread": 0, "messages": [], "next_after_seq": None}

    first = await client.post(url, json={"body": "  Is the 12th OK for posting?  "}, headers=creator)
    assert first.status_code == 201, first.text
    out = first.json()
    assert out["seq"] == 1 and out["body"] == "Is the 12th OK for posting?" and out["mine"] is True
    assert out["sender_party"] == "creator" and out["sender_name"] == "Casey Creator"
    await client.post(url, json={"body": "And do you need a draft?"}, headers=creator)

    page = await client.get(f"{url}?limit=1", headers=brand)
    body = page.json()
    assert body["unread"] == 2 and body["message_count"] == 2 and body["next_after_seq"] == 1
    assert [m["body"] for m in body["messages"]] == ["Is the 12th OK for posting?"]
    assert body["messages"][0]["mine"] is False
    rest = (await client.get(f"{url}?after_seq=1", headers=brand)).json()
    assert [m["seq"] for m in rest["messages"]] == [2] and rest["unread"] == 1 and rest["next_after_seq"] is None
    assert (await client.get(url, headers=brand)).json()["unread"] == 0

    reply = await client.post(url, json={"body": "Yes to both."}, headers=brand)
    assert reply.json()["sender_party"] == "brand" and reply.json()["sender_name"].endswith("(Acme Goods)")
    peek = (await client.get(f"{url}?after_seq=2&mark_read=false", headers=creator)).json()
    assert peek["unread"] == 1
    assert (await client.get(url, headers=creator)).json()["unread"] == 1  # peeking did not mark it read

    inbox = (await client.get("/api/v1/messages", headers=creator)).json()
    assert len(inbox["threads"]) == 1 and inbox["threads"][0]["last_message"] == "Yes to both."
    assert inbox["next_cursor"] is None


async def test_refusals_write_nothing(client, people, runtime, db) -> None:
    talk = await make_collaboration(runtime, await people.brand(), await people.creator())
    urls = [
        f"/api/v1/collaborations/{talk.collaboration_id}/messages",
        f"/api/v1/applications/{talk.application_id}/messages",
    ]
    await client.post(urls[0], json={"body": "secret terms"}, headers=await api_headers(runtime, talk.brand))
    before = await totals(db)
    outsiders = [await people.brand(brand_name="Rival"), await people.creator()]
    for outsider in outsiders:
        headers = await api_headers(runtime, outsider)
        for url in urls:
            read = await client.get(url, headers=headers)
            assert read.status_code == 404 and read.headers["content-type"].startswith(PROBLEM)
            assert "secret" not in read.text
            write = await client.post(url, json={"body": "hi"}, headers=headers)
            assert write.status_code == 404
        assert (await client.get("/api/v1/messages", headers=headers)).json()["threads"] == []
    for url in urls:
        assert (await client.get(url)).status_code == 401
        assert (await client.post(url, json={"body": "hi"})).status_code == 401
    admin = await api_headers(runtime, await people.admin())
    assert (await client.get(urls[0], headers=admin)).json()["messages"][0]["body"] == "secret terms"
    refused = await client.post(urls[0], json={"body": "hi"}, headers=admin)
    assert refused.status_code == 403 and refused.headers["content-type"].startswith(PROBLEM)
    # A page session cookie never authorises the API.
    assert await totals(db) == before


async def test_closed_application_threads_refuse_with_conflict(client, people, runtime, db) -> None:
    talk = await make_application(
        runtime, await people.brand(), await people.creator(), status=ApplicationStatus.WITHDRAWN
    )
    response = await client.post(
        f"/api/v1/applications/{talk.application_id}/messages",
        json={"body": "hello?"},
        headers=await api_headers(runtime, talk.creator),
    )
    assert response.status_code == 409 and response.json()["detail"].startswith("This application was withdrawn")
    assert await totals(db) == (0, 0, 0)


async def test_bad_input_gets_problem_details(client, people, runtime, db) -> None:
    talk = await make_collaboration(runtime, await people.brand(), await people.creator())
    headers = await api_headers(runtime, talk.creator)
    url = f"/api/v1/collaborations/{talk.collaboration_id}/messages"
    cases = [
        ({"body": ""}, 422, "body"),
        ({"body": "   "}, 422, "body"),
        ({"body": "x" * 10_000_000}, 422, "body"),
        ({"body": "nul\u0000"}, 422, "body"),
        ({}, 400, "body"),
        ({"body": 12}, 400, "body"),
        ({"body": "ok", "sender_party": "admin"}, 400, None),
        ([], 400, None),
    ]
    for payload, status, field in cases:
        response = await client.post(url, json=payload, headers=headers)
        assert response.status_code == status, (str(payload)[:80], response.status_code, response.text[:300])
        problem = response.json()
        assert response.headers["content-type"].startswith(PROBLEM) and problem["status"] == status
        if field:
            assert field in [e["field"] for e in problem.get("errors", [])] or field in problem["detail"]
    lone_surrogate = b'{"body": "oops \\ud800"}'
    response = await client.post(url, content=lone_surrogate, headers={**headers, "Content-Type": "application/json"})
    assert 400 <= response.status_code < 500
    not_json = await client.post(url, content=b"{body: nope", headers={**headers, "Content-Type": "application/json"})
    assert not_json.status_code == 400
    for query in ("after_seq=-1", "after_seq=99999999999999999999", "after_seq=abc", "limit=0", "limit=1000"):
        assert (await client.get(f"{url}?{query}", headers=headers)).status_code == 400, query
    unknown = f"/api/v1/collaborations/{uuid.uuid4()}/messages"
    assert (await client.get(unknown, headers=headers)).status_code == 404
    assert (await client.post(unknown, json={"body": "hi"}, headers=headers)).status_code == 404
    assert (await client.get("/api/v1/collaborations/not-a-uuid/messages", headers=headers)).status_code in (400, 404)
    assert (await client.get("/api/v1/messages?before=garbage", headers=headers)).status_code == 422
    assert await totals(db) == (0, 0, 0)


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False) | st.text(max_size=50),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=10), children, max_size=4),
    max_leaves=10,
)
payloads = st.one_of(
    json_values,
    st.fixed_dictionaries({"body": st.text(max_size=300)}),
    st.fixed_dictionaries({"body": json_values}),
    st.fixed_dictionaries({"body": st.text(max_size=20)}, optional={"extra": json_values}),
)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(payload=payloads, raw=st.one_of(st.none(), st.binary(max_size=200)), to_application=st.booleans())
async def test_random_payloads_never_cause_a_server_error(
    client, people, runtime, db, fuzz_talk, payload, raw, to_application
) -> None:
    talk, headers = fuzz_talk
    kind, subject_id = ("applications", talk.application_id) if to_application else (
        "collaborations", talk.collaboration_id,
    )
    url = f"/api/v1/{kind}/{subject_id}/messages"
    before = await db.scalar(sa.select(sa.func.count()).select_from(Message))
    if raw is not None:
        response = await client.post(url, content=raw, headers={**headers, "Content-Type": "application/json"})
    else:
        response = await client.post(url, json=payload, headers=headers)
    assert response.status_code < 500, (payload, raw, response.text[:500])
    after = await db.scalar(sa.select(sa.func.count()).select_from(Message))
    if response.status_code == 201:
        assert after == before + 1
        stored = await db.scalar(sa.select(Message.body).where(Message.id == uuid.UUID(response.json()["id"])))
        assert stored == json.loads(response.text)["body"] and stored.strip() == stored and stored
    else:
        assert response.headers["content-type"].startswith(PROBLEM)
        assert after == before


@pytest.fixture
async def fuzz_talk(people, runtime):
    talk = await make_collaboration(runtime, await people.brand(), await people.creator())
    return talk, await api_headers(runtime, talk.creator)
