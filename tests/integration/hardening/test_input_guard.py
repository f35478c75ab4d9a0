"""Input no handler should see is refused with a 4xx problem in one place (marketplace/input_guard.py): over-deep JSON,
JSON under another content type on the API, NUL and unpaired surrogates in query parameters, form fields and JSON
strings. Checked on named routes and over every route of the app, on SQLite and PostgreSQL."""

from __future__ import annotations

import re
import uuid
from typing import Any

import pytest
import sqlalchemy as sa
from litestar.handlers import HTTPRouteHandler

from marketplace.accounts.models import User, UserKind
from marketplace.input_guard import MAX_JSON_DEPTH, json_too_deep
from tests.support.deals import bearer

PROBLEM = "application/problem+json"
DEEP = ("[" * 1000 + "]" * 1000).encode()
DEEP_OBJECT = ('{"a":' * 1000 + "1" + "}" * 1000).encode()


def assert_problem(response: Any, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.text[:500]
    assert response.headers["content-type"].startswith(PROBLEM)
    body: dict[str, Any] = response.json()
    assert body["status"] == status and body["detail"]
    return body


def test_depth_is_found_without_recursing_and_strings_do_not_count() -> None:
    assert json_too_deep(DEEP) and json_too_deep(DEEP_OBJECT)
    assert not json_too_deep(b'{"a": [[1, 2], {"b": "[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[["}]}')
    assert not json_too_deep(b'{"quoted": "\\"[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[\\""}')
    nested = ("[" * MAX_JSON_DEPTH + "]" * MAX_JSON_DEPTH).encode()
    assert not json_too_deep(nested) and json_too_deep(b"[" + nested + b"]")


@pytest.mark.parametrize("body", [DEEP, DEEP_OBJECT], ids=["arrays", "objects"])
async def test_deeply_nested_json_is_a_400_on_the_open_and_the_authenticated_api(client, runtime, people,
                                                                                  body: bytes) -> None:
    brand = await people.brand()
    headers = {"Content-Type": "application/json"}
    for path, extra in (("/api/v1/auth/signup", {}), ("/api/v1/auth/token", {}),
                        ("/api/v1/gigs", await bearer(runtime, brand))):
        response = await client.post(path, content=body, headers={**headers, **extra})
        assert "nested more than" in assert_problem(response, 400)["detail"], path


@pytest.mark.parametrize("content_type", ["text/plain", "application/x-www-form-urlencoded", "application/xml",
                                          "multipart/form-data; boundary=x", None])
async def test_the_api_takes_json_only_under_a_json_content_type(client, db, content_type: str | None) -> None:
    body = b'{"kind": "creator", "email": "plain@example.test", "password": "a-decent-passphrase", "full_name": "P"}'
    headers = {"Content-Type": content_type} if content_type else {}
    response = await client.post("/api/v1/auth/signup", content=body, headers=headers)
    assert "application/json" in assert_problem(response, 415)["detail"]
    assert await db.scalar(sa.select(sa.func.count()).select_from(User)) == 0
    accepted = await client.post("/api/v1/auth/signup", content=body,
                                 headers={"Content-Type": "application/json; charset=utf-8"})
    assert accepted.status_code in (201, 202), accepted.text


async def test_nul_and_lone_surrogates_in_json_strings_are_a_4xx(client, runtime, people, db) -> None:
    brand = await people.brand()
    body = b'{"title": "Glow\\u0000serum", "deliverables": [{"platform": "tiktok\\u0000"}]}'
    response = await client.post("/api/v1/gigs", content=body,
                                 headers={"Content-Type": "application/json", **await bearer(runtime, brand)})
    # Named by the gig rules, as the API's clients know the fields; nothing stored.
    errors = {e["field"] for e in assert_problem(response, 422)["errors"]}
    assert {"title", "deliverables[0].platform"} <= errors
    surrogate = await client.post("/api/v1/auth/token", content=b'{"email": "\\ud800", "password": "x"}',
                                  headers={"Content-Type": "application/json"})
    assert surrogate.status_code in (400, 422)


ADMIN_QUERIES = ["/admin/users?q=%00", "/admin/audit?q=%00", "/admin/audit?action=%00", "/admin/audit?target_id=%00",
                 "/admin/audit.csv?q=%00", "/admin/audit.csv?action=a%00b", "/admin/outbox?q=%00",
                 "/admin/outbox?status=%00", "/admin/users?q=%ED%A0%80", "/admin/users?q=%FF"]


async def test_nul_in_admin_search_and_filters_is_a_4xx_on_every_database(make_web, people) -> None:
    admin = await people.admin()
    web = await make_web()
    await web.sign_in(admin.email, admin.password)
    for path in ADMIN_QUERIES:
        response = await web.get(path)
        assert response.status_code in (400, 422), (path, response.status_code)
        assert "Some fields need attention" in response.text or "Invalid request" in response.text, path
    assert (await web.get("/admin/users?q=ava")).status_code == 200


async def test_nul_in_form_fields_is_refused_in_place(web, people, db) -> None:
    """Form fields are checked where they are read (FormReader): the form comes back with the message beside it."""
    person = await people.creator()
    await web.sign_in(person.email, person.password)
    response = await web.post("/account/tokens", {"name": "sync\x00"}, htmx=True)
    assert response.status_code == 422 and "<html" not in response.text
    assert "Name contains a NUL character." in response.text
    assert (await web.post("/account/tokens", {"name": "sync"})).status_code == 201


def _fill(path: str) -> str:
    def value(match: re.Match[str]) -> str:
        kind = match.group(1)
        return str(uuid.uuid4()) if kind == "uuid" else "1" if kind == "int" else "x"

    return re.sub(r"\{[^}:]+:([a-z]+)\}", value, path)


def _routes(app: Any) -> list[tuple[str, str]]:
    found = []
    for route in app.routes:
        for handler in getattr(route, "route_handlers", []):
            if not isinstance(handler, HTTPRouteHandler) or route.path.startswith("/static"):
                continue
            found.extend((method, route.path) for method in handler.http_methods if method != "HEAD")
    return sorted(set(found))


async def test_every_route_refuses_nul_in_query_and_deep_json_without_a_5xx(app, client, make_web, runtime,
                                                                             people) -> None:
    """Over every route the app has, as anonymous, brand, creator and admin: a NUL in a query parameter, a deep
    JSON body, and the JSON API under text/plain each get a 4xx; none gets a 5xx."""
    brand, creator, admin = await people.brand(), await people.creator(), await people.admin()
    pages = {}
    for name, person in (("brand", brand), ("creator", creator), ("admin", admin)):
        pages[name] = await make_web()
        await pages[name].sign_in(person.email, person.password)
    tokens = {"brand": await bearer(runtime, brand), "creator": await bearer(runtime, creator)}
    routes = _routes(app)
    assert len(routes) > 60
    failures = []
    for method, template in routes:
        path = _fill(template)
        for who in ("anonymous", "brand", "creator", "admin"):
            if path.startswith("/api/"):
                headers = tokens.get(who, {})
                sent = [await client.request(method, path + "?q=%00", headers=headers)]
                if method in ("POST", "PUT", "PATCH"):
                    sent.append(await client.request(method, path, content=DEEP,
                                                     headers={**headers, "Content-Type": "application/json"}))
                    sent.append(await client.request(method, path, content=b'{"a": 1}',
                                                     headers={**headers, "Content-Type": "text/plain"}))
                expected = [422] + ([400, 415] if len(sent) > 1 else [])
            else:
                web = pages.get(who)
                getter = web.get if web else (lambda p: client.get(p, follow_redirects=False))
                sent = [await getter(path + "?q=%00&page=%00")] if method == "GET" else []
                expected = [422] * len(sent)
            for response, status in zip(sent, expected, strict=True):
                if response.status_code != status:
                    failures.append((who, method, path, status, response.status_code))
    assert not failures, failures[:20]


async def test_the_database_never_receives_unstorable_text_whoever_forgot_to_check(app, runtime, db) -> None:
    """The last line (installed with the app): a statement carrying NUL or a lone surrogate is a 422, not a
    PostgreSQL error (a 500) and not a NUL stored by SQLite."""
    from marketplace.db import session_scope
    from marketplace.errors import InvalidInput

    for bad in ("nul\x00name", "lone \ud800 surrogate"):
        with pytest.raises(InvalidInput):
            async with session_scope(runtime.session_maker) as session:
                session.add(User(email=f"{uuid.uuid4().hex}@example.test", password_hash="x", kind=UserKind.CREATOR,
                                 full_name=bad))
    assert await db.scalar(sa.select(sa.func.count()).select_from(User)) == 0
