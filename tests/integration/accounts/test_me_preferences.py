"""GET/PATCH /api/v1/me: the account's language and time zone, read and changed through the API, refused with
problem details when they are not a language offered or an IANA zone, and stated as such in the OpenAPI schema."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from marketplace.accounts.models import User
from tests.support.deals import bearer


async def test_me_shows_and_changes_language_and_zone(client: Any, runtime: Any, people: Any, db: Any) -> None:
    person = await people.brand()
    headers = await bearer(runtime, person)
    before = (await client.get("/api/v1/me", headers=headers)).json()
    assert before["timezone"] == "UTC"

    changed = await client.patch("/api/v1/me", json={"locale": "zh_Hans", "timezone": "Asia/Shanghai"},
                                 headers=headers)
    assert changed.status_code == 200, changed.text
    assert (changed.json()["locale"], changed.json()["timezone"]) == ("zh_Hans", "Asia/Shanghai")
    user = await db.scalar(sa.select(User).where(User.id == person.user_id))
    assert (user.locale, user.timezone) == ("zh_Hans", "Asia/Shanghai")
    # The next request speaks the saved language; a PATCH of one field leaves the other alone.
    again = await client.patch("/api/v1/me", json={"timezone": "America/Los_Angeles"}, headers=headers)
    assert again.headers["content-language"] == "zh-Hans"
    assert (again.json()["locale"], again.json()["timezone"]) == ("zh_Hans", "America/Los_Angeles")
    # null: back to following Accept-Language.
    cleared = await client.patch("/api/v1/me", json={"locale": None}, headers=headers)
    assert cleared.json()["locale"] is None
    assert (await client.get("/api/v1/me", headers={**headers, "Accept-Language": "zh-CN"})).json()["locale"] is None


async def test_bad_language_or_zone_is_a_problem_per_field_and_changes_nothing(client: Any, runtime: Any,
                                                                                 people: Any, db: Any) -> None:
    person = await people.creator()
    headers = await bearer(runtime, person)
    for body, field in (({"locale": "fr"}, "locale"), ({"timezone": "Mars/Olympus"}, "timezone"),
                        ({"locale": "zh_Hans", "timezone": " utc"}, "timezone")):
        refused = await client.patch("/api/v1/me", json=body, headers=headers)
        assert refused.status_code == 422, (body, refused.text)
        assert refused.headers["content-type"].startswith("application/problem+json")
        assert [e["field"] for e in refused.json()["errors"]] == [field], body
    # Not the schema's shape (a zone must be text; no other fields): 400, problem details too.
    for body in ({"timezone": None}, {"language": "en"}):
        wrong = await client.patch("/api/v1/me", json=body, headers=headers)
        assert wrong.status_code == 400 and wrong.headers["content-type"].startswith("application/problem+json")
    user = await db.scalar(sa.select(User).where(User.id == person.user_id))
    assert (user.locale, user.timezone) == (None, "UTC")
    assert (await client.patch("/api/v1/me", json={"locale": "en"})).status_code == 401


async def test_the_schema_states_the_languages_zones_and_errors(client: Any) -> None:
    schema = (await client.get("/schema/openapi.json")).json()
    operation = schema["paths"]["/api/v1/me"]["patch"]
    assert {"400", "401", "422"} <= set(operation["responses"])
    assert "application/problem+json" in operation["responses"]["422"]["content"]
    ref = operation["requestBody"]["content"]["application/json"]["schema"]["$ref"].rsplit("/", 1)[-1]
    body = schema["components"]["schemas"][ref]
    assert body["additionalProperties"] is False
    text = str(body["properties"])
    assert "'zh_Hans'" in text and "'Asia/Shanghai'" in text and "'Mars/Olympus'" not in text
    me = schema["paths"]["/api/v1/me"]["get"]["responses"]["200"]["content"]["application/json"]["schema"]["$ref"]
    assert {"locale", "timezone"} <= set(schema["components"]["schemas"][me.rsplit("/", 1)[-1]]["properties"])
