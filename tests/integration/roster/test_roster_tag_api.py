"""POST /api/v1/roster/tags: tag or untag ticked entries, everything a filter matches ("all N matching", not only a
page) or a saved view — scoped to the caller's brand, with problem responses for what it refuses."""

from __future__ import annotations

import sqlalchemy as sa

from marketplace.db import session_scope
from marketplace.roster.models import RosterEntry, RosterEntryTag, RosterTag
from marketplace.roster.services import RosterService
from tests.support.deals import bearer
from tests.support.escrow import actor_of
from tests.support.roster import creators_csv


async def _tagged(db, brand_id, tag: str) -> set[str]:
    rows = await db.scalars(
        sa.select(RosterEntry.email).join(RosterEntryTag, RosterEntryTag.entry_id == RosterEntry.id)
        .join(RosterTag, RosterTag.id == RosterEntryTag.tag_id)
        .where(RosterEntry.brand_id == brand_id, RosterTag.name == tag))
    return set(rows)


async def _import(client, auth, text: str) -> None:
    response = await client.post("/api/v1/roster/import", headers=auth | {"Content-Type": "text/csv"},
                                 content=text.encode())
    assert response.status_code == 200, response.text


async def test_tagging_all_matching_a_filter_then_untagging_ticked_entries(client, runtime, people, db) -> None:
    brand = await people.brand()
    auth = await bearer(runtime, brand)
    await _import(client, auth, creators_csv(120))  # more than any page of the roster table
    us = {f"p{i}@example.test" for i in range(120) if i % 2}

    tagged = await client.post("/api/v1/roster/tags", headers=auth, json={"tag": "Summer-26",
                                                                          "filter": {"country": "us"}})
    assert tagged.status_code == 200, tagged.text
    assert tagged.json() == {"tag": "summer-26", "matched": 60, "changed": 60}
    assert await _tagged(db, brand.brand_id, "summer-26") == us
    again = await client.post("/api/v1/roster/tags", headers=auth, json={"tag": "summer-26", "filter": {}})
    assert again.json() == {"tag": "summer-26", "matched": 120, "changed": 60}  # the whole roster; 60 were new

    some = list(await db.scalars(sa.select(RosterEntry.id).where(RosterEntry.brand_id == brand.brand_id,
                                                                 RosterEntry.email.in_(["p1@example.test",
                                                                                        "p2@example.test"]))))
    untagged = await client.post("/api/v1/roster/tags", headers=auth, json={
        "tag": "summer-26", "untag": True, "ids": [str(i) for i in some]})
    assert untagged.json() == {"tag": "summer-26", "matched": 2, "changed": 2}
    assert len(await _tagged(db, brand.brand_id, "summer-26")) == 118


async def test_a_saved_view_is_a_selection(client, runtime, people, db) -> None:
    brand = await people.brand()
    auth = await bearer(runtime, brand)
    await _import(client, auth, creators_csv(10))
    async with session_scope(runtime.session_maker) as session:
        view = await RosterService(session, runtime).save_view(await actor_of(runtime, brand), "Germany",
                                                                     "country=DE&sort=name")
    response = await client.post("/api/v1/roster/tags", headers=auth, json={"tag": "de", "view_id": str(view.id)})
    assert response.json() == {"tag": "de", "matched": 5, "changed": 5}
    assert await _tagged(db, brand.brand_id, "de") == {f"p{i}@example.test" for i in range(0, 10, 2)}


async def test_another_brand_and_bad_requests_are_refused_and_change_nothing(client, runtime, people, db) -> None:
    a, b = await people.brand(), await people.brand()
    a_auth, b_auth = await bearer(runtime, a), await bearer(runtime, b)
    await _import(client, a_auth, creators_csv(4))
    await _import(client, b_auth, creators_csv(4, prefix="b"))
    a_ids = [str(i) for i in await db.scalars(sa.select(RosterEntry.id).where(RosterEntry.brand_id == a.brand_id))]
    async with session_scope(runtime.session_maker) as session:
        a_view = await RosterService(session, runtime).save_view(await actor_of(runtime, a), "All", "")

    for body in ({"tag": "mine", "ids": a_ids}, {"tag": "mine", "ids": a_ids[:1], "filter": {}},
                 {"tag": "mine", "view_id": str(a_view.id)}):
        refused = await client.post("/api/v1/roster/tags", headers=b_auth, json=body)
        assert refused.status_code == 404, body
        assert refused.headers["content-type"].startswith("application/problem+json")
    everything = await client.post("/api/v1/roster/tags", headers=b_auth, json={"tag": "mine", "filter": {}})
    assert everything.json()["matched"] == 4  # "all" is brand B's own four, never A's
    assert await _tagged(db, a.brand_id, "mine") == set()

    for body, field in (({"tag": "no/slashes!", "filter": {}}, "tag"), ({"tag": "x"}, "ids"),
                        ({"tag": "x", "ids": ["not-an-id"]}, "ids")):
        bad = await client.post("/api/v1/roster/tags", headers=a_auth, json=body)
        assert bad.status_code == 422, body
        assert [e["field"] for e in bad.json()["errors"]] == [field]
    unknown = await client.post("/api/v1/roster/tags", headers=a_auth, json={"tag": "x", "filter": {}, "oops": 1})
    assert unknown.status_code == 400
    creator = await people.creator()
    assert (await client.post("/api/v1/roster/tags", headers=await bearer(runtime, creator),
                              json={"tag": "x", "filter": {}})).status_code == 403
    assert await db.scalar(sa.select(sa.func.count()).select_from(RosterTag).where(RosterTag.name == "x")) == 0


async def test_the_route_is_in_the_openapi_schema_with_its_problems(client) -> None:
    responses = (await client.get("/schema/openapi.json")).json()["paths"]["/api/v1/roster/tags"]["post"]["responses"]
    assert {"200", "400", "401", "403", "404", "422"} <= set(responses)
    assert "application/problem+json" in responses["422"]["content"]
