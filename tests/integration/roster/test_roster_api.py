"""Roster JSON API: add, read, change and remove people; CSV import (dry run, per-row report, upsert) and export."""

from __future__ import annotations

import json

import sqlalchemy as sa

from marketplace.notifications.models import OutboxEmail
from marketplace.roster.models import RosterEntry
from tests.support.deals import bearer
from tests.support.marketplace import make_collaboration, make_creator_with_account
from tests.support.roster import BAD_CELLS, creators_csv, entries, row_number, snapshot


async def test_add_read_change_and_remove_a_person(client, runtime, people) -> None:
    brand = await people.brand()
    auth = await bearer(runtime, brand)
    made = await client.post("/api/v1/roster", headers=auth, json={
        "name": "Lina Park", "email": "Lina@Example.test", "tiktok": "@LinaMakes", "country": "kr",
        "followers": 12000, "tags": ["K-Beauty", "spring"], "notes": "Met at the fair"})
    assert made.status_code == 201, made.text
    body = made.json()
    assert body["email"] == "lina@example.test" and body["tiktok"] == "linamakes" and body["country"] == "KR"
    assert body["tags"] == ["k-beauty", "spring"] and body["deals"] == 0 and body["lifetime_spend"] == []
    entry_id = body["id"]
    changed = await client.patch(f"/api/v1/roster/{entry_id}", headers=auth, json={"tags": ["vip"],
                                                                                    "followers": 15000})
    assert changed.status_code == 200 and changed.json()["tags"] == ["vip"] and changed.json()["followers"] == 15000
    assert changed.json()["email"] == "lina@example.test"  # untouched by the PATCH
    listed = await client.get("/api/v1/roster", headers=auth, params={"tag": "vip"})
    assert listed.status_code == 200 and [i["id"] for i in listed.json()["items"]] == [entry_id]
    again = await client.post("/api/v1/roster", headers=auth, json={"name": "Lina again", "tiktok": "linamakes"})
    assert again.status_code == 422 and again.headers["content-type"].startswith("application/problem+json")
    assert {e["field"] for e in again.json()["errors"]} == {"tiktok"}
    gone = await client.delete(f"/api/v1/roster/{entry_id}", headers=auth)
    assert gone.status_code == 204
    assert (await client.get(f"/api/v1/roster/{entry_id}", headers=auth)).status_code == 404


async def test_bad_input_is_422_with_a_message_per_field(client, runtime, people) -> None:
    brand = await people.brand()
    auth = await bearer(runtime, brand)
    response = await client.post("/api/v1/roster", headers=auth, json={
        "name": "", "email": "nope", "country": "Narnia", "followers": -3, "instagram": "two words"})
    assert response.status_code == 422
    fields = {e["field"] for e in response.json()["errors"]}
    assert fields == {"name", "email", "country", "followers", "instagram"}


async def test_import_300_rows_with_7_bad_reports_exactly_those_and_writes_none_of_them(
        client, runtime, people, db) -> None:
    brand = await people.brand()
    auth = await bearer(runtime, brand) | {"Content-Type": "text/csv"}
    text = creators_csv(300, bad=BAD_CELLS)
    dry = await client.post("/api/v1/roster/import?dry_run=true", headers=auth, content=text.encode())
    assert dry.status_code == 200, dry.text
    report = dry.json()
    assert report["dry_run"] and report["rows"] == 300 and report["valid"] == 293 and report["invalid"] == 7
    assert report["created"] == 293
    assert sorted((e["row"], e["field"]) for e in report["errors"]) == sorted(
        (row_number(i), name) for i, (name, _) in BAD_CELLS.items())
    assert await entries(db, brand.brand_id) == []  # a dry run writes nothing

    done = await client.post("/api/v1/roster/import", headers=auth, content=text.encode())
    assert done.status_code == 200 and done.json()["created"] == 293 and done.json()["invalid"] == 7
    stored = await entries(db, brand.brand_id)
    assert len(stored) == 293
    bad_emails = {f"p{i}@example.test" for i in BAD_CELLS}
    assert not bad_emails & {e.email for e in stored}
    tagged = await client.get("/api/v1/roster", headers=auth, params={"tag": "spring", "per_page": 25})
    assert tagged.json()["total"] == sum(1 for i in range(300) if i % 2 and i not in BAD_CELLS)


async def test_importing_the_same_file_twice_changes_nothing_the_second_time(client, runtime, people, db) -> None:
    brand = await people.brand()
    auth = await bearer(runtime, brand) | {"Content-Type": "text/csv"}
    text = creators_csv(40, prefix="x", delimiter=";")
    first = await client.post("/api/v1/roster/import", headers=auth, content=text.encode())
    assert first.json()["created"] == 40
    before = snapshot(await entries(db, brand.brand_id))
    second = await client.post("/api/v1/roster/import", headers=auth, content=text.encode())
    assert second.json() | {"mapping": None} == first.json() | {"created": 0, "unchanged": 40, "mapping": None}
    assert snapshot(await entries(db, brand.brand_id)) == before


async def test_import_upserts_by_email_or_handle_and_links_postpact_creators(client, runtime, people, db) -> None:
    brand = await people.brand()
    auth = await bearer(runtime, brand)
    made = await make_creator_with_account(runtime, people, platform="instagram")
    csv = ("Full Name,E-mail,IG,Follower count,Tags\r\n"
           f"Ada,ada@example.test,,100,one\r\nInsta Person,,{made.account.handle},5000,two\r\n")
    first = await client.post("/api/v1/roster/import", headers=auth | {"Content-Type": "text/csv"},
                              content=csv.encode())
    assert first.status_code == 200 and first.json()["created"] == 2, first.text
    assert first.json()["mapping"] == {"Full Name": "name", "E-mail": "email", "IG": "instagram",
                                       "Follower count": "followers", "Tags": "tags"}
    linked = await db.scalar(sa.select(RosterEntry).where(RosterEntry.instagram == made.account.handle))
    assert linked.creator_id == made.person.creator_id
    update = "name,email,followers\r\nAda Lovelace,ADA@example.test,150\r\n"
    second = await client.post("/api/v1/roster/import", headers=auth,
                               files={"file": ("update.csv", update.encode(), "text/csv")})
    assert second.status_code == 200 and second.json()["updated"] == 1 and second.json()["created"] == 0
    ada = await db.scalar(sa.select(RosterEntry).where(RosterEntry.email == "ada@example.test"))
    assert ada.name == "Ada Lovelace" and ada.followers == 150
    mapped = await client.post(
        "/api/v1/roster/import", headers=auth | {"Content-Type": "text/csv"},
        params={"mapping": json.dumps({"who": "name", "mail": "email"}), "dry_run": "true"},
        content=b"who,mail\r\nBea,bea@example.test\r\n")
    assert mapped.json()["created"] == 1 and mapped.json()["dry_run"]


async def test_import_refuses_what_is_not_a_utf8_csv_with_a_clear_message(client, runtime, people) -> None:
    brand = await people.brand()
    auth = await bearer(runtime, brand)
    latin1 = "name,email\r\nJosé,jose@example.test\r\n".encode("latin-1")
    response = await client.post("/api/v1/roster/import", headers=auth | {"Content-Type": "text/csv"},
                                 content=latin1)
    assert response.status_code == 422 and "UTF-8" in response.json()["errors"][0]["message"]
    utf16 = await client.post("/api/v1/roster/import", headers=auth | {"Content-Type": "text/csv"},
                              content="name,email\r\n".encode("utf-16"))
    assert utf16.status_code == 422 and "UTF-16" in utf16.text
    json_body = await client.post("/api/v1/roster/import", headers=auth, json={"name": "x"})
    assert json_body.status_code == 415
    no_name = await client.post("/api/v1/roster/import", headers=auth | {"Content-Type": "text/csv"},
                                content=b"email\r\na@example.test\r\n")
    assert no_name.status_code == 200 and no_name.json()["errors"][0]["field"] == "mapping"


async def test_new_people_get_one_claim_email_and_the_link_lands_on_the_gig(
        client, make_web, runtime, people, db) -> None:
    deal = await make_collaboration(runtime, people)
    auth = await bearer(runtime, deal.brand) | {"Content-Type": "text/csv"}
    csv = b"name,email\r\nNew Person,new.person@example.test\r\n"
    first = await client.post(f"/api/v1/roster/import?invite=true&gig_id={deal.gig.id}", headers=auth, content=csv)
    assert first.json()["invited"] == 1
    again = await client.post(f"/api/v1/roster/import?invite=true&gig_id={deal.gig.id}", headers=auth, content=csv)
    assert again.json()["invited"] == 0 and again.json()["unchanged"] == 1
    mails = list(await db.scalars(sa.select(OutboxEmail).where(OutboxEmail.to_address == "new.person@example.test")))
    assert len(mails) == 1 and mails[0].category == "roster"
    link = mails[0].body_text.split("http://testserver.local", 1)[1].split()[0]
    newcomer = await make_web()
    page = await newcomer.get(link)
    assert page.status_code == 200 and "Create my creator account" in page.text
    joined = await newcomer.post(link, {"full_name": "New Person", "email": "new.person@example.test",
                                        "password": "a-decent-passphrase"})
    assert joined.status_code == 303 and joined.headers["location"] == f"/gigs/{deal.gig.id}", joined.text
    entry = await db.scalar(sa.select(RosterEntry).where(RosterEntry.email == "new.person@example.test"))
    assert entry.creator_id is not None


async def test_export_is_excel_safe_and_round_trips(client, runtime, people, db) -> None:
    brand = await people.brand()
    auth = await bearer(runtime, brand)
    await client.post("/api/v1/roster", headers=auth, json={
        "name": "=HYPERLINK(\"http://evil\")", "email": "evil@example.test", "notes": "+1 call me", "tags": ["a"]})
    await client.post("/api/v1/roster", headers=auth, json={"name": "Plain", "youtube": "plainchannel"})
    exported = await client.get("/api/v1/roster/export.csv", headers=auth)
    assert exported.status_code == 200 and exported.headers["content-type"].startswith("text/csv")
    assert exported.content.startswith("\ufeff".encode())
    assert "'=HYPERLINK" in exported.text and "'+1 call me" in exported.text
    before = snapshot(await entries(db, brand.brand_id))
    back = await client.post("/api/v1/roster/import", headers=auth | {"Content-Type": "text/csv"},
                             content=exported.content)
    assert back.json()["unchanged"] == 2 and back.json()["invalid"] == 0, back.text
    assert snapshot(await entries(db, brand.brand_id)) == before


async def test_deals_spend_and_ghostings_come_from_real_deals(client, runtime, people) -> None:
    deal = await make_collaboration(runtime, people)
    auth = await bearer(runtime, deal.brand)
    listed = await client.get("/api/v1/roster", headers=auth, params={"has_deals": "yes"})
    assert listed.status_code == 200
    [item] = listed.json()["items"]
    assert item["creator_id"] == str(deal.creator.creator_id) and item["deals"] == 1 and item["source"] == "deal"
    assert item["lifetime_spend"] == [] and item["ghostings"] == 0
    none = await client.get("/api/v1/roster", headers=auth, params={"has_deals": "no"})
    assert none.json()["total"] == 0


async def test_a_signed_in_creator_accepts_a_claim_link_once(client, make_web, runtime, people, db) -> None:
    brand = await people.brand()
    auth = await bearer(runtime, brand) | {"Content-Type": "text/csv"}
    await client.post("/api/v1/roster/import?invite=true", headers=auth,
                      content=b"name,email\r\nKim,kim.outside@example.test\r\n")
    mail = await db.scalar(sa.select(OutboxEmail).where(OutboxEmail.to_address == "kim.outside@example.test"))
    link = mail.body_text.split("http://testserver.local", 1)[1].split()[0]
    creator = await people.creator()
    browser = await make_web()
    await browser.sign_in(creator.email, creator.password)
    accepted = await browser.post(link, {})
    assert accepted.status_code == 303 and accepted.headers["location"] == "/creator"
    entry = await db.scalar(sa.select(RosterEntry).where(RosterEntry.email == "kim.outside@example.test"))
    assert entry.creator_id == creator.creator_id
    other = await people.creator()
    second = await make_web()
    await second.sign_in(other.email, other.password)
    refused = await second.post(link, {})
    assert refused.status_code == 409 and "already claimed" in refused.text
    forged = await second.get(link[:-3] + "abc")
    assert forged.status_code == 400
