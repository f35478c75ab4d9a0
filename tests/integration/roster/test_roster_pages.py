"""Roster pages: the table with and without htmx, tagging "all matching", saved views, entry forms, CSV import
steps, and a fixed number of statements per page whatever its size."""

from __future__ import annotations

import re
from contextlib import contextmanager
from html import unescape

import sqlalchemy as sa
from sqlalchemy import event

from marketplace.brands.models import BrandRole
from marketplace.roster.models import RosterEntry, RosterEntryTag, RosterTag, RosterView
from tests.support.deals import bearer
from tests.support.marketplace import make_collaboration
from tests.support.roster import BAD_CELLS, creators_csv, entries, row_number


@contextmanager
def count_statements(runtime):
    engine = runtime.alchemy.get_engine().sync_engine
    statements: list[str] = []

    def listener(conn, cursor, statement, parameters, context, executemany) -> None:
        statements.append(statement)

    event.listen(engine, "before_cursor_execute", listener)
    try:
        yield statements
    finally:
        event.remove(engine, "before_cursor_execute", listener)


async def import_people(client, runtime, brand, count: int, prefix: str = "p") -> None:
    auth = await bearer(runtime, brand) | {"Content-Type": "text/csv"}
    response = await client.post("/api/v1/roster/import", headers=auth,
                                 content=creators_csv(count, prefix=prefix).encode())
    assert response.status_code == 200 and response.json()["created"] == count, response.text


async def tagged_with(db, brand_id, tag: str) -> set[str]:
    rows = await db.scalars(
        sa.select(RosterEntry.email).join(RosterEntryTag, RosterEntryTag.entry_id == RosterEntry.id)
        .join(RosterTag, RosterTag.id == RosterEntryTag.tag_id)
        .where(RosterTag.brand_id == brand_id, RosterTag.name == tag))
    return set(rows)


async def test_table_with_and_without_htmx(web, client, runtime, people) -> None:
    brand = await people.brand()
    await import_people(client, runtime, brand, 30)
    await web.sign_in(brand.email, brand.password)
    full = await web.get("/brand/roster?country=US&sort=-followers&cols=email&cols=tags")
    assert full.status_code == 200 and "<h1>Roster</h1>" in full.text and 'id="roster-table"' in full.text
    assert "15</strong> people match" in full.text
    assert full.text.index("p29@example.test") < full.text.index("p27@example.test")  # most followers first
    assert "<th>Email</th>" in full.text and "<th>Followers</th>" not in full.text  # the chosen columns
    fragment = await web.get("/brand/roster?tag=fitness", htmx=True)
    assert fragment.status_code == 200 and fragment.text.lstrip().startswith('<section id="roster-table"')
    assert "<html" not in fragment.text and "15</strong> people match" in fragment.text
    page2 = await web.get("/brand/roster?per_page=25&page=2")
    assert page2.status_code == 200 and "Page 2 of 2" in page2.text


async def test_tag_all_matching_not_only_the_page_and_untag_ticked_rows(web, client, runtime, people, db) -> None:
    brand = await people.brand()
    await import_people(client, runtime, brand, 60)
    await web.sign_in(brand.email, brand.password)
    done = await web.post("/brand/roster/tag", {"all_matching": "1", "country": "US", "tag_name": "Wave-1",
                                                "action": "tag"})
    assert done.status_code == 303 and done.headers["location"] == "/brand/roster?country=US"
    us = {f"p{i}@example.test" for i in range(60) if i % 2}
    assert await tagged_with(db, brand.brand_id, "wave-1") == us  # 30 people, though a page shows 25 or 50
    ticked = [e for e in await entries(db, brand.brand_id) if e.email in ("p1@example.test", "p3@example.test")]
    fragment = await web.post("/brand/roster/tag", [("entry_id", str(e.id)) for e in ticked] + [
        ("tag_name", "wave-1"), ("action", "untag")], htmx=True)
    assert fragment.status_code == 200 and "Untagged 2 people" in unescape(fragment.text)
    assert await tagged_with(db, brand.brand_id, "wave-1") == us - {"p1@example.test", "p3@example.test"}
    nothing = await web.post("/brand/roster/tag", {"tag_name": "x", "action": "tag"}, htmx=True)
    assert nothing.status_code == 422 and "Tick at least one" in nothing.text


async def test_saved_views_are_shared_with_the_team_and_private_to_the_brand(web, make_web, runtime, people,
                                                                             db) -> None:
    brand = await people.brand()
    teammate = await people.brand(brand_id=brand.brand_id, role=BrandRole.FINANCE)
    other = await people.brand()
    await web.sign_in(brand.email, brand.password)
    saved = await web.post("/brand/roster/views", {"view_name": "US fitness", "query": "country=US&tag=fitness"})
    assert saved.status_code == 303 and saved.headers["location"] == "/brand/roster?country=US&tag=fitness"
    view = await db.scalar(sa.select(RosterView).where(RosterView.brand_id == brand.brand_id))
    mate = await make_web()
    await mate.sign_in(teammate.email, teammate.password)
    assert "US fitness" in (await mate.get("/brand/roster")).text
    assert (await mate.post("/brand/roster/views", {"view_name": "x", "query": ""})).status_code == 403
    stranger = await make_web()
    await stranger.sign_in(other.email, other.password)
    assert "US fitness" not in (await stranger.get("/brand/roster")).text
    assert (await stranger.post(f"/brand/roster/views/{view.id}/delete")).status_code == 404
    assert await db.get(RosterView, view.id) is not None


async def test_entry_form_rerenders_with_a_message_per_field(web, runtime, people, db) -> None:
    brand = await people.brand()
    await web.sign_in(brand.email, brand.password)
    bad = await web.post("/brand/roster", {"name": "Ada", "email": "nope", "country": "Atlantis"}, htmx=True)
    assert bad.status_code == 422 and 'id="entry-form"' in bad.text and "<html" not in bad.text
    assert "valid email" in bad.text and "two-letter country code" in bad.text
    plain = await web.post("/brand/roster", {"name": "", "email": ""})
    assert plain.status_code == 422 and "<h1>Add a person</h1>" in plain.text
    made = await web.post("/brand/roster", {"name": "Ada", "email": "ada@example.test", "tags": "vip, new"})
    assert made.status_code == 303
    entry = await db.scalar(sa.select(RosterEntry).where(RosterEntry.brand_id == brand.brand_id))
    page = await web.get(f"/brand/roster/{entry.id}")
    assert page.status_code == 200 and "Ada" in page.text and "new, vip" in page.text
    changed = await web.post(f"/brand/roster/{entry.id}", {"name": "Ada L", "email": "ada@example.test",
                                                          "tags": "vip", "notes": "Prefers email"})
    assert changed.status_code == 303
    assert (await db.get(RosterEntry, entry.id)).notes == "Prefers email"


async def test_csv_import_steps_upload_map_dry_run_import(web, runtime, people, db) -> None:
    brand = await people.brand()
    await web.sign_in(brand.email, brand.password)
    text = creators_csv(300, bad=BAD_CELLS)
    uploaded = await web.post("/brand/roster/import", files={"file": ("creators.csv", text.encode(), "text/csv")})
    assert uploaded.status_code == 303, uploaded.text
    url = uploaded.headers["location"]
    page = await web.get(url)
    assert page.status_code == 200 and "First rows" in page.text and "Person p0" in page.text
    selected = dict(re.findall(r'name="(map_\d+)">.*?<option value="([^"]*)" selected', page.text, re.S))
    assert selected["map_0"] == "name" and selected["map_7"] == "tags"
    dry = await web.post(url, {**selected, "action": "dry_run"}, htmx=True)
    assert dry.status_code == 422 and "<html" not in dry.text and "293 of 300 rows are fine" in dry.text
    for index, (field, _) in BAD_CELLS.items():
        assert f"<tr><td>{row_number(index)}</td><td>{field}</td>" in dry.text
    assert await entries(db, brand.brand_id) == []
    done = await web.post(url, {**selected, "action": "import"})
    assert done.status_code == 303 and len(await entries(db, brand.brand_id)) == 293
    export = await web.get("/brand/roster/export.csv?tag=spring")
    assert export.status_code == 200 and export.text.count("\r\n") == 1 + sum(
        1 for i in range(300) if i % 2 and i not in BAD_CELLS)


async def test_roster_page_runs_a_fixed_number_of_statements(web, client, runtime, people) -> None:
    deal = await make_collaboration(runtime, people)
    await import_people(client, runtime, deal.brand, 120)
    await web.sign_in(deal.brand.email, deal.brand.password)
    await web.get("/brand/roster?per_page=25")  # warm-up: template compile and first-request work
    counts = {}
    for size in (25, 100):
        with count_statements(runtime) as statements:
            response = await web.get(f"/brand/roster?per_page={size}&sort=-deals&cols=owner&cols=spend")
        assert response.status_code == 200 and response.text.count('<tr data-entry-id=') == size
        counts[size] = len(statements)
    assert counts[25] == counts[100], counts
    assert counts[100] <= 20, counts


async def test_add_all_matching_to_a_list_and_filter_by_it(web, client, runtime, people, db) -> None:
    brand = await people.brand()
    await import_people(client, runtime, brand, 20)
    await web.sign_in(brand.email, brand.password)
    added = await web.post("/brand/roster/list", {"all_matching": "1", "tag": "fitness", "list_name": "Spring box"})
    assert added.status_code == 303
    again = await web.post("/brand/roster/list", {"all_matching": "1", "tag": "fitness", "list_name": "Spring box"},
                           htmx=True)
    assert again.status_code == 200 and "Added 0 to the list" in unescape(again.text)  # already there: no duplicates
    page = await web.get("/brand/roster")
    list_id = re.search(r'<option value="([0-9a-f-]{36})"[^>]*>Spring box</option>', page.text).group(1)
    listed = await web.get(f"/brand/roster?list={list_id}", htmx=True)
    assert "10</strong> people match" in listed.text
