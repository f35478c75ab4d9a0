"""The disputes JSON API end to end on the simulated provider: a party opens and the other answers with bearer
tokens, an admin decides (password in the body), the money lands in the ledger and at the provider, and both
parties get the decision by email over real SMTP."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from escrow.states import EscrowState
from marketplace.collaborations.states import CollabState
from marketplace.disputes.models import DisputeDecision
from tests.support.deals import bearer
from tests.support.disputes import RATIONALE, audit_entries, funded
from tests.support.escrow import assert_ledger_invariants, collab_state, hold_of, run_jobs, simulated

FEE = 15_000
GROSS = 16_200


@pytest.mark.parametrize("outcome,creator_part,state", [
    ("release", FEE, EscrowState.RELEASED),
    ("refund", 0, EscrowState.REFUNDED),
    ("split", 6_000, EscrowState.SETTLED),
])
async def test_each_decision_end_to_end(smtp_env, client, runtime, people, db, outcome, creator_part, state) -> None:
    deal = await funded(runtime, CollabState.VERIFIED, fee_amount=FEE)
    admin = await people.admin()
    brand_api, creator_api, admin_api = [await bearer(runtime, p) for p in (deal.brand, deal.creator, admin)]

    opened = await client.post(f"/api/v1/collaborations/{deal.id}/disputes", headers=brand_api,
                               json={"reason": "brief_mismatch", "statement": "No #ad in the caption, as agreed."})
    assert opened.status_code == 201, opened.text
    dispute_id = opened.json()["id"]
    assert opened.json()["status"] == "open" and opened.json()["respondent"] == "creator"
    answered = await client.post(f"/api/v1/collaborations/{deal.id}/disputes/statements", headers=creator_api,
                                 json={"statement": "The disclosure is in the video itself, second 2."})
    assert answered.status_code == 201 and answered.json()["responded_at"] is not None
    mine = await client.get(f"/api/v1/collaborations/{deal.id}/disputes/{dispute_id}", headers=creator_api)
    assert [s["kind"] for s in mine.json()["statements"]] == ["opening", "response"]

    listed = await client.get("/api/v1/admin/disputes", headers=admin_api)
    assert [d["id"] for d in listed.json()["items"]] == [dispute_id]
    detail = await client.get(f"/api/v1/admin/disputes/{dispute_id}", headers=admin_api)
    assert detail.status_code == 200
    assert detail.json()["escrow"]["state"] == "frozen" and detail.json()["escrow"]["held"]["amount"] == GROSS
    assert any(e["kind"] == "statement" for e in detail.json()["events"])

    body = {"outcome": outcome, "rationale": RATIONALE, "password": admin.password}
    if outcome == "split":
        body["creator_amount"] = {"amount": creator_part, "currency": "USD"}
    decided = await client.post(f"/api/v1/admin/disputes/{dispute_id}/decision", headers=admin_api, json=body)
    assert decided.status_code == 200, decided.text
    assert decided.json()["decision"]["to_creator"] == {"amount": creator_part, "currency": "USD"}
    await run_jobs(runtime)  # provider calls, then the emails over SMTP

    hold = await hold_of(db, deal.id)
    assert hold.state is state
    assert hold.released_creator_amount == creator_part
    transfers = [o.data for o in await simulated(runtime).objects("transfer")]
    refunds = [o.data for o in await simulated(runtime).objects("refund")]
    assert sum(t["amount"] for t in transfers) == creator_part
    assert sum(r["amount"] for r in refunds) == hold.refunded_amount == (
        0 if outcome == "release" else GROSS - creator_part - hold.released_fee_amount)
    await assert_ledger_invariants(db)
    expected_deal = {"release": CollabState.RELEASED, "refund": CollabState.REFUNDED, "split": CollabState.SETTLED}
    assert await collab_state(db, deal.id) is expected_deal[outcome]

    for person in (deal.brand, deal.creator):
        mails = [m for m in smtp_env.to(person.email) if "dispute was decided" in m.subject]
        assert len(mails) == 1, [m.subject for m in smtp_env.to(person.email)]
        assert RATIONALE in mails[0].body
    assert len(await audit_entries(db, "dispute.decide")) == 1


async def test_decisions_need_the_password_and_wrong_ones_are_limited(client, runtime, people, db) -> None:
    deal = await funded(runtime, CollabState.VERIFIED)
    admin = await people.admin()
    admin_api = await bearer(runtime, admin)
    brand_api = await bearer(runtime, deal.brand)
    opened = await client.post(f"/api/v1/collaborations/{deal.id}/disputes", headers=brand_api,
                               json={"reason": "not_posted", "statement": "Nothing was posted by the deadline."})
    dispute_id = opened.json()["id"]
    url = f"/api/v1/admin/disputes/{dispute_id}/decision"

    missing = await client.post(url, headers=admin_api, json={"outcome": "refund", "rationale": RATIONALE})
    assert missing.status_code == 400 and missing.headers["content-type"].startswith("application/problem+json")
    for _ in range(5):
        wrong = await client.post(url, headers=admin_api,
                                  json={"outcome": "refund", "rationale": RATIONALE, "password": "guess"})
        assert wrong.status_code == 422 and wrong.json()["errors"][0]["field"] == "password"
    limited = await client.post(url, headers=admin_api,
                                json={"outcome": "refund", "rationale": RATIONALE, "password": admin.password})
    assert limited.status_code == 429 and "Retry-After" in limited.headers
    assert await db.scalar(sa.select(sa.func.count()).select_from(DisputeDecision)) == 0
    assert (await hold_of(db, deal.id)).state is EscrowState.FROZEN


async def test_api_problem_details_for_bad_input(client, runtime, people) -> None:
    deal = await funded(runtime, CollabState.VERIFIED)
    admin = await people.admin()
    admin_api, brand_api = await bearer(runtime, admin), await bearer(runtime, deal.brand)
    bad = await client.post(f"/api/v1/collaborations/{deal.id}/disputes", headers=brand_api,
                            json={"reason": "vibes", "statement": "x"})
    assert bad.status_code == 422
    assert {e["field"] for e in bad.json()["errors"]} == {"reason", "statement"}
    unknown = await client.post(f"/api/v1/collaborations/{deal.id}/disputes", headers=brand_api,
                                json={"reason": "other", "statement": "Enough words here.", "amount": 5})
    assert unknown.status_code == 400
    opened = await client.post(f"/api/v1/collaborations/{deal.id}/disputes", headers=brand_api,
                               json={"reason": "other", "statement": "Enough words here."})
    dispute_id = opened.json()["id"]
    wrong_currency = await client.post(
        f"/api/v1/admin/disputes/{dispute_id}/decision", headers=admin_api,
        json={"outcome": "split", "rationale": RATIONALE, "password": admin.password,
              "creator_amount": {"amount": 100, "currency": "EUR"}})
    assert wrong_currency.status_code == 422
    bad_status = await client.get("/api/v1/admin/disputes?status=maybe", headers=admin_api)
    assert bad_status.status_code == 422
    assert (await client.get("/api/v1/admin/disputes/not-a-uuid", headers=admin_api)).status_code in (400, 404)
