"""Inviting a roster selection to a gig: by the roster's filter, ticked entries or a saved view; people not on
PostPact yet are listed as not invitable; another brand's roster is out of reach."""

from __future__ import annotations

from html import unescape

import sqlalchemy as sa

from marketplace.db import session_scope
from marketplace.gigs.models import GigInvitation
from marketplace.notifications.models import Notification
from marketplace.roster.models import RosterEntry, RosterEntryTag, RosterTag, RosterView
from tests.support.deals import bearer
from tests.support.escrow import run_jobs
from tests.support.marketplace import make_creator_with_account, make_gig


async def _roster(runtime, brand, creators) -> tuple[list[RosterEntry], RosterView]:
    async with session_scope(runtime.session_maker) as session:
        tag = RosterTag(brand_id=brand.brand_id, name="summer")
        entries = [RosterEntry(brand_id=brand.brand_id, creator_id=c.creator_id, name=f"Creator {n}", country="US")
                   for n, c in enumerate(creators)]
        entries.append(RosterEntry(brand_id=brand.brand_id, name="Not Yet", email="not.yet@example.test",
                                   country="US"))
        session.add_all([tag, *entries])
        await session.flush()
        session.add_all([RosterEntryTag(entry_id=e.id, tag_id=tag.id) for e in entries[1:]])
        view = RosterView(brand_id=brand.brand_id, name="Summer", query="tag=summer&sort=name")
        session.add(view)
    return entries, view


async def test_invite_a_roster_selection_with_a_template(client, web, runtime, people, db) -> None:
    brand = await people.brand(brand_name="GlowLab")
    gig = await make_gig(runtime, brand, title="Summer glow")
    creators = [await make_creator_with_account(runtime, people, name=f"Ava {n} Brooks") for n in range(3)]
    entries, view = await _roster(runtime, brand, creators)
    headers = await bearer(runtime, brand)
    # Everyone tagged "summer": two on PostPact are invited, the one who isn't is listed with the reason.
    started = await client.post("/api/v1/bulk/invite", headers=headers, json={
        "filter": {"roster": {"tag": "summer"}},
        "parameters": {"gig_id": str(gig.id), "message": "Hi {first_name}, {brand} would love you on {gig} ({fee})"}})
    assert started.status_code == 202, started.text[:300]
    await run_jobs(runtime)
    body = (await client.get(f"/api/v1/jobs/{started.json()['id']}", headers=headers)).json()
    assert (body["total"], body["done"], body["failed"]) == (3, 2, 1)
    assert "isn't on PostPact yet" in body["errors"][0]["error"]
    invited = set(await db.scalars(sa.select(GigInvitation.creator_id).where(GigInvitation.gig_id == gig.id)))
    assert invited == {creators[1].creator_id, creators[2].creator_id}
    message = await db.scalar(sa.select(GigInvitation.message).where(
        GigInvitation.creator_id == creators[1].creator_id))
    assert message.startswith("Hi Ava, GlowLab would love you on Summer glow ($")
    # A saved view and the page form (ticked entries) reach the same people; nobody is invited twice.
    by_view = await client.post("/api/v1/bulk/invite", headers=headers, json={
        "filter": {"roster_view_id": str(view.id)}, "parameters": {"gig_id": str(gig.id)}})
    assert by_view.status_code == 202 and by_view.json()["total"] == 3
    await web.sign_in(brand.email, brand.password)
    ticked = await web.post("/brand/bulk", [("action", "invite"), ("gig_id", str(gig.id)), ("message", "Hi {name}"),
                                            ("roster_ids", str(entries[0].id)), ("back", "/brand/roster")])
    assert ticked.status_code == 303
    await run_jobs(runtime)
    assert await db.scalar(sa.select(sa.func.count()).select_from(GigInvitation)) == 3
    notices = await db.scalar(sa.select(sa.func.count()).select_from(Notification).where(
        Notification.kind == "gig.invitation"))
    assert notices == 3
    # Another brand can't use this brand's entries or views.
    rival_person = await people.brand(brand_name="Rival")
    rival, rival_gig = await bearer(runtime, rival_person), await make_gig(runtime, rival_person)
    assert (await client.post("/api/v1/bulk/invite", headers=rival, json={
        "filter": {"roster_view_id": str(view.id)}, "parameters": {"gig_id": str(rival_gig.id)}})).status_code == 404
    assert (await client.post("/api/v1/bulk/invite", headers=rival, json={
        "filter": {"roster_ids": [str(entries[0].id)]}, "parameters": {"gig_id": str(rival_gig.id)}}
    )).status_code == 404
    assert (await client.post("/api/v1/bulk/invite", headers=headers, json={
        "filter": {"roster": {"tag": "summer"}, "status": []}, "parameters": {"gig_id": str(rival_gig.id)}}
    )).status_code == 422


async def test_the_roster_page_invites_all_matching_or_the_ticked_people(web, runtime, people, db) -> None:
    brand = await people.brand(brand_name="GlowLab")
    gig = await make_gig(runtime, brand, title="Summer glow")
    await make_gig(runtime, brand, publish=False, title="Still a draft")
    creators = [await make_creator_with_account(runtime, people, name=f"Ava {n} Brooks") for n in range(3)]
    entries, _view = await _roster(runtime, brand, creators)
    await web.sign_in(brand.email, brand.password)
    page = await web.get("/brand/roster?tag=summer")
    assert "Invite to the gig" in page.text and "Summer glow" in page.text and "Still a draft" not in page.text

    # Everyone the filter matches (tag "summer": two on PostPact and one who isn't yet), not only ticked rows.
    started = await web.post("/brand/bulk", {"from_roster": "1", "all_matching": "1", "tag": "summer",
                                             "action": "invite", "gig_id": str(gig.id),
                                             "message": "Hi {first_name}, join {gig}"})
    assert started.status_code == 303 and started.headers["location"].startswith("/brand/jobs/")
    await run_jobs(runtime)
    job = await web.get(started.headers["location"])
    assert "<strong>2</strong> done" in job.text and "isn't on PostPact yet" in unescape(job.text)
    invited = set(await db.scalars(sa.select(GigInvitation.creator_id).where(GigInvitation.gig_id == gig.id)))
    assert invited == {creators[1].creator_id, creators[2].creator_id}

    # Ticked rows only; nothing ticked (and not "all matching") is refused with a message, nothing started.
    ticked = await web.post("/brand/bulk", [("from_roster", "1"), ("action", "invite"), ("gig_id", str(gig.id)),
                                            ("entry_id", str(entries[0].id))])
    assert ticked.status_code == 303
    await run_jobs(runtime)
    assert creators[0].creator_id in set(await db.scalars(sa.select(GigInvitation.creator_id)))
    refused = await web.post("/brand/bulk", {"from_roster": "1", "action": "invite", "gig_id": str(gig.id)})
    assert refused.status_code == 422 and "Tick at least one person" in refused.text
