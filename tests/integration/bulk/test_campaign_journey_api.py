"""The issue's campaign, end to end through the API, as one brand running it: import a 300-row CSV with its own
headers (mapped) of which 7 rows are bad, tag the 293, invite them all to a gig with a template, 120 of them apply
and are accepted, fund the 120 in one checkout, ship 118 from a tracking CSV (2 rows reported), approve and release
50 posts in one action. The creators' own steps (signing up, applying, signing, posting) are taken with the services
they use, each step for all of them in one transaction.
"""

from __future__ import annotations

import json
from typing import Any

import sqlalchemy as sa

from escrow.models import EscrowHold, ProviderCall
from marketplace.applications.models import Application
from marketplace.collaborations.models import Collaboration, Shipment
from marketplace.collaborations.states import Action, CollabState
from marketplace.collaborations.transition import transition
from marketplace.csvfiles import csv_text
from marketplace.db import session_scope
from marketplace.gigs.models import GigInvitation
from marketplace.payments import services as payments
from marketplace.roster.models import RosterEntry
from tests.support.deals import Deal, advance_deals, bearer, creator_actor
from tests.support.escrow import onboard_creators, run_jobs, simulated
from tests.support.marketplace import apply_to_gig_all, make_creators_with_accounts, make_open_gig

HEADER = ["Full name", "E-mail", "Land", "TikTok", "Audience", "Labels"]
MAPPING = {"Full name": "name", "E-mail": "email", "Land": "country", "TikTok": "tiktok", "Audience": "followers",
           "Labels": "tags"}
#: Seven rows that each break one rule (row index among the 300 -> field, bad value); nobody of them is written.
BAD: dict[int, tuple[str, str]] = {3: ("email", "not-an-email"), 50: ("country", "Narnia"),
                                   99: ("followers", "lots"), 140: ("tiktok", "bad handle!"), 200: ("name", ""),
                                   250: ("tags", "a-tag-far-too-long-to-be-accepted-by-anyone-at-all"),
                                   299: ("email", "two@@example.test")}
COLUMN = {"name": 0, "email": 1, "country": 2, "tiktok": 3, "followers": 4, "tags": 5}


async def _job(client: Any, runtime: Any, headers: dict[str, str], action: str, body: dict[str, Any]
               ) -> dict[str, Any]:
    started = await client.post(f"/api/v1/bulk/{action}", headers=headers, json=body)
    assert started.status_code == 202, started.text[:400]
    queued = await client.get(f"/api/v1/jobs/{started.json()['id']}", headers=headers)
    assert queued.json()["state"] == "queued" and queued.json()["done"] == 0
    await run_jobs(runtime)
    finished = (await client.get(f"/api/v1/jobs/{started.json()['id']}", headers=headers)).json()
    assert finished["state"] == "finished", finished
    return finished


async def test_a_campaign_of_three_hundred_creators_through_the_api(client, runtime, people, db) -> None:
    brand = await people.brand(brand_name="GlowLab")
    headers = await bearer(runtime, brand)
    gig = await make_open_gig(runtime, brand, title="Summer glow", slots=150)
    creators = await make_creators_with_accounts(runtime, people, [f"Ava{n} Brooks" for n in range(293)])

    # 1. Import: 293 creators on PostPact (matched by email) and 7 bad rows, under the brand's own headers.
    rows: list[list[object]] = []
    good = iter(creators)
    for i in range(300):
        if i in BAD:
            row: list[object] = [f"Bad {i}", f"bad{i}@example.test", "US", f"bad_{i}", 1000, "summer"]
            field, value = BAD[i]
            row[COLUMN[field]] = value
        else:
            c = next(good)
            row = [f"Ava{i} Brooks", c.person.email,
                   "US" if i % 2 else "DE", c.account.handle, 5000 + i, "summer; skincare"]
        rows.append(row)
    text = csv_text(HEADER, rows).replace(",", ";")  # Excel in much of Europe
    csv_headers = headers | {"Content-Type": "text/csv"}
    dry = await client.post("/api/v1/roster/import", headers=csv_headers, content=text.encode(),
                            params={"dry_run": "true", "mapping": json.dumps(MAPPING)})
    assert dry.status_code == 200, dry.text[:400]
    assert (dry.json()["valid"], dry.json()["invalid"]) == (293, 7)
    assert sorted((e["row"], e["field"]) for e in dry.json()["errors"]) == sorted(
        (i + 2, field) for i, (field, _) in BAD.items())
    done = await client.post("/api/v1/roster/import", headers=csv_headers, content=text.encode(),
                             params={"mapping": json.dumps(MAPPING)})
    assert done.status_code == 200 and done.json()["created"] == 293
    stored = list(await db.scalars(sa.select(RosterEntry).where(RosterEntry.brand_id == brand.brand_id)))
    assert len(stored) == 293 and all(e.creator_id is not None for e in stored)
    assert not {e.email for e in stored} & {f"bad{i}@example.test" for i in BAD}

    # 2. Tag the 293 (all matching, not a page).
    tagged = await client.post("/api/v1/roster/tags", headers=headers, json={"tag": "summer-26", "filter": {}})
    assert tagged.json() == {"tag": "summer-26", "matched": 293, "changed": 293}

    # 3. Invite them all to the gig with a template; the job finishes with every one done.
    invited = await _job(client, runtime, headers, "invite", {
        "filter": {"roster": {"tag": "summer-26"}},
        "parameters": {"gig_id": str(gig.id), "message": "Hi {first_name}, {brand} would love you on {gig} ({fee})"}})
    assert (invited["total"], invited["done"], invited["failed"]) == (293, 293, 0)
    assert await db.scalar(sa.select(sa.func.count()).select_from(GigInvitation)
                           .where(GigInvitation.gig_id == gig.id)) == 293

    # 4. 120 apply; the brand accepts all pending applications in one action.
    chosen = creators[:120]
    await apply_to_gig_all(runtime, chosen, gig.id)
    accepted = await _job(client, runtime, headers, "accept", {"filter": {"gig_id": str(gig.id),
                                                                          "status": ["pending"]}})
    assert (accepted["total"], accepted["done"], accepted["failed"]) == (120, 120, 0)
    collabs = {c.creator_id: c for c in await db.scalars(sa.select(Collaboration).where(
        Collaboration.gig_id == gig.id))}
    assert len(collabs) == 120
    deals = []
    for c in chosen:
        collab = collabs[c.person.creator_id]
        application = await db.get(Application, collab.application_id)
        deals.append(Deal(collab.id, brand, c.person, gig.id, application.id, c.account.id, "tiktok",
                          c.account.handle, True))
    async with session_scope(runtime.session_maker) as session:  # each creator signs their offer
        for deal in deals:
            collab = await session.get(Collaboration, deal.id)
            await transition(session, deal.id, Action.SIGN, creator_actor(deal.creator), now=runtime.clock.now(),
                             payload={"terms_hash": collab.terms_hash})

    # 5. Fund the 120 in one checkout.
    funded = await _job(client, runtime, headers, "fund", {"filter": {"gig_id": str(gig.id),
                                                                      "status": ["signed"]}})
    assert funded["done"] == 120 and funded["checkout_url"].count("c=") == 120
    async with session_scope(runtime.session_maker) as session:
        service = payments.escrow_service(session, runtime.clock.now(), settings=runtime.settings)
        for ref in list(await session.scalars(sa.select(EscrowHold.funding_ref).where(
                EscrowHold.collaboration_id.in_([d.id for d in deals])))):
            await service.apply_funding(await simulated(runtime).settle_funding(session, ref, succeed=True))
    await run_jobs(runtime)
    assert await db.scalar(sa.select(sa.func.count()).select_from(Collaboration).where(
        Collaboration.gig_id == gig.id, Collaboration.status == CollabState.FUNDED)) == 120

    # 6. A tracking CSV of 120 rows ships 118; a stranger's row and a repeated deal are reported by row.
    lines = ["email,carrier,tracking_number"]
    lines += [f"{d.creator.email},UPS,1Z999AA1{n:010d}" for n, d in enumerate(deals[:118])]
    lines += ["nobody@example.test,UPS,1Z999AA19999999998", f"{deals[0].creator.email},UPS,1Z999AA19999999999"]
    shipped = await _job(client, runtime, headers, "ship", {"csv": "\r\n".join(lines) + "\r\n"})
    assert (shipped["total"], shipped["done"], shipped["failed"]) == (120, 118, 2)
    assert sorted(int(e["error"].split(":")[0].removeprefix("Row ")) for e in shipped["errors"]) == [120, 121]
    assert await db.scalar(sa.select(sa.func.count()).select_from(Shipment)) == 118

    # 7. Fifty creators post; the brand approves their drafts, then approves and releases the 50 posts at once.
    posting = deals[:50]
    await onboard_creators(runtime, [c.person for c in chosen[:50]])
    await advance_deals(runtime, posting, CollabState.DRAFT_SUBMITTED)
    drafts = await _job(client, runtime, headers, "approve_draft", {"ids": [str(d.id) for d in posting]})
    assert (drafts["done"], drafts["failed"]) == (50, 0)
    await advance_deals(runtime, posting, CollabState.VERIFIED)
    released = await _job(client, runtime, headers, "approve_post", {"filter": {"gig_id": str(gig.id),
                                                                                "status": ["verified"]},
                                                                     "parameters": {"comment": "Thanks!"}})
    assert (released["total"], released["done"], released["failed"]) == (50, 50, 0)
    await run_jobs(runtime)
    for deal in posting:
        hold = await db.scalar(sa.select(EscrowHold).where(EscrowHold.collaboration_id == deal.id))
        transfers = await db.scalar(sa.select(sa.func.count()).select_from(ProviderCall).where(
            ProviderCall.escrow_id == hold.id, ProviderCall.operation == "transfer"))
        assert transfers == 1 and hold.released_creator_amount == 15_000
    states = dict((await db.execute(sa.select(Collaboration.status, sa.func.count()).where(
        Collaboration.gig_id == gig.id).group_by(Collaboration.status))).all())
    assert states.get(CollabState.RELEASED, 0) + states.get(CollabState.COMPLETED, 0) == 50
    assert states.get(CollabState.SHIPPED) == 68 and states.get(CollabState.FUNDED) == 2
