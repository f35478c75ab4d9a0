"""Properties of CSV import: importing a file twice changes nothing the second time; export then import is the
identity on the roster (Hypothesis draws the people)."""

from __future__ import annotations

import uuid

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from marketplace.csvfiles import csv_text
from tests.support.deals import bearer
from tests.support.roster import entries, snapshot

names = st.text(alphabet=st.characters(whitelist_categories=["L", "N", "Zs", "P", "S"]), min_size=1, max_size=40)
handles = st.from_regex(r"[a-z0-9][a-z0-9._-]{0,14}", fullmatch=True)
person = st.fixed_dictionaries({
    "name": names.map(lambda s: " ".join(s.split())).filter(bool),
    "tiktok": handles,
    "instagram": st.one_of(st.just(""), handles),
    "country": st.sampled_from(["", "US", "DE", "FR", "BR"]),
    "followers": st.integers(min_value=0, max_value=10**9),
    "tags": st.lists(st.from_regex(r"[a-z][a-z0-9-]{0,10}", fullmatch=True), max_size=3),
    "notes": st.one_of(st.just(""), names),
})
people_lists = st.lists(person, min_size=1, max_size=12, unique_by=lambda p: p["tiktok"]).filter(
    lambda ps: len({p["instagram"] for p in ps if p["instagram"]}) == sum(1 for p in ps if p["instagram"]))

SETTINGS = settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


def as_csv(rows: list[dict], salt: str) -> bytes:
    header = ["name", "tiktok", "instagram", "country", "followers", "tags", "notes"]
    body = [[r["name"], f"{salt}{r['tiktok']}", f"{salt}{r['instagram']}" if r["instagram"] else "", r["country"],
             r["followers"], ", ".join(r["tags"]), r["notes"]] for r in rows]
    return csv_text(header, body).encode()


@pytest.fixture
async def brand_auth(runtime, people):
    brand = await people.brand()
    return brand, await bearer(runtime, brand) | {"Content-Type": "text/csv"}


@SETTINGS
@given(rows=people_lists)
async def test_the_same_file_twice_changes_nothing(client, db, brand_auth, rows) -> None:
    brand, auth = brand_auth
    salt = uuid.uuid4().hex[:6]  # each example's people are new to the brand
    data = as_csv(rows, salt)
    first = await client.post("/api/v1/roster/import", headers=auth, content=data)
    assert first.status_code == 200 and first.json()["invalid"] == 0, first.text
    mine = lambda es: [e for e in es if (e.tiktok or "").startswith(salt)]  # noqa: E731
    before = snapshot(mine(await entries(db, brand.brand_id)))
    second = await client.post("/api/v1/roster/import", headers=auth, content=data)
    assert second.json()["unchanged"] == len(rows) and second.json()["created"] == second.json()["updated"] == 0
    assert snapshot(mine(await entries(db, brand.brand_id))) == before


@SETTINGS
@given(rows=people_lists)
async def test_export_then_import_round_trips(client, db, brand_auth, rows) -> None:
    brand, auth = brand_auth
    salt = uuid.uuid4().hex[:6]
    await client.post("/api/v1/roster/import", headers=auth, content=as_csv(rows, salt))
    before = snapshot(await entries(db, brand.brand_id))
    exported = await client.get("/api/v1/roster/export.csv", headers=auth)
    back = await client.post("/api/v1/roster/import", headers=auth, content=exported.content)
    assert back.status_code == 200 and back.json()["invalid"] == 0, back.text
    assert back.json()["created"] == back.json()["updated"] == 0
    assert snapshot(await entries(db, brand.brand_id)) == before
