"""No one but an admin reaches an admin page or endpoint: brand owners and creators get 403, anonymous visitors
are sent to sign in (pages) or get 401 (API); nothing changes."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from escrow.states import EscrowState
from marketplace.accounts.models import User
from marketplace.brands.models import Brand
from marketplace.collaborations.states import CollabState
from marketplace.disputes.models import Dispute, DisputeStatus
from tests.support.deals import bearer
from tests.support.disputes import audit_entries, disputed_deal
from tests.support.escrow import hold_of


def admin_pages(dispute_id, user_id) -> list[str]:
    return ["/admin", "/admin/disputes", f"/admin/disputes/{dispute_id}", "/admin/users", f"/admin/users/{user_id}",
            "/admin/audit", "/admin/audit.csv", "/admin/outbox", "/admin/reauth", "/admin/reconciliation"]


def admin_posts(dispute_id, user_id, brand_id, creator_id, collab_id) -> list[tuple[str, dict[str, str]]]:
    return [
        (f"/admin/disputes/{dispute_id}/decision", {"outcome": "refund", "rationale": "I am not an admin at all."}),
        (f"/admin/disputes/{dispute_id}/notes", {"note": "sneaky"}),
        (f"/admin/users/{user_id}/suspend", {"reason": "because"}),
        (f"/admin/users/{user_id}/unsuspend", {}),
        (f"/admin/brands/{brand_id}/verification", {"verified": "1"}),
        (f"/admin/creators/{creator_id}/clear-reliability-suspension", {}),
        (f"/admin/collaborations/{collab_id}/review-done", {"note": "x"}),
        ("/admin/reauth", {"password": "whatever"}),
    ]


@pytest.mark.parametrize("who", ["brand", "creator", "anonymous"])
async def test_non_admins_reach_no_admin_page_or_action(make_web, runtime, db, who) -> None:
    deal, dispute_id = await disputed_deal(runtime, CollabState.VERIFIED)
    web = await make_web()
    if who != "anonymous":
        person = deal.brand if who == "brand" else deal.creator
        await web.sign_in(person.email, person.password)
    for path in admin_pages(dispute_id, deal.creator.user_id):
        response = await web.get(path)
        if who == "anonymous":
            assert response.status_code == 303 and response.headers["location"].startswith("/signin"), path
        else:
            assert response.status_code == 403, (path, response.status_code)
    for path, data in admin_posts(dispute_id, deal.creator.user_id, deal.brand.brand_id, deal.creator.creator_id,
                                  deal.id):
        response = await web.post(path, data)
        expected = (303,) if who == "anonymous" else (403,)
        assert response.status_code in expected, (path, response.status_code)
        if who == "anonymous":
            assert response.headers["location"].startswith("/signin")
    assert (await db.get(Dispute, dispute_id)).status is DisputeStatus.OPEN
    assert (await hold_of(db, deal.id)).state is EscrowState.FROZEN
    assert (await db.get(User, deal.creator.user_id)).suspended_at is None
    assert (await db.get(Brand, deal.brand.brand_id)).verified_at is None
    assert await audit_entries(db) == []


@pytest.mark.parametrize("who", ["brand", "creator", "anonymous"])
async def test_non_admins_reach_no_admin_api(client, runtime, db, who) -> None:
    deal, dispute_id = await disputed_deal(runtime, CollabState.VERIFIED)
    headers = {}
    if who != "anonymous":
        headers = await bearer(runtime, deal.brand if who == "brand" else deal.creator)
    expected = 401 if who == "anonymous" else 403
    assert (await client.get("/api/v1/admin/disputes", headers=headers)).status_code == expected
    assert (await client.get(f"/api/v1/admin/disputes/{dispute_id}", headers=headers)).status_code == expected
    decided = await client.post(f"/api/v1/admin/disputes/{dispute_id}/decision", headers=headers,
                                json={"outcome": "refund", "rationale": "Not an admin here.", "password": "x"})
    assert decided.status_code == expected
    assert decided.headers["content-type"].startswith("application/problem+json")
    assert (await db.get(Dispute, dispute_id)).status is DisputeStatus.OPEN


async def test_a_session_cookie_never_authorises_the_admin_api(make_web, client, runtime, people) -> None:
    admin = await people.admin()
    web = await make_web()
    await web.sign_in(admin.email, admin.password)
    response = await web.get("/api/v1/admin/disputes")
    assert response.status_code == 401


async def test_parties_of_another_deal_see_nothing_of_a_dispute(client, runtime, people, db) -> None:
    deal, dispute_id = await disputed_deal(runtime, CollabState.VERIFIED)
    stranger = await bearer(runtime, await people.brand())
    assert (await client.get(f"/api/v1/collaborations/{deal.id}/disputes", headers=stranger)).status_code == 404
    one = await client.get(f"/api/v1/collaborations/{deal.id}/disputes/{dispute_id}", headers=stranger)
    assert one.status_code == 404
    posted = await client.post(f"/api/v1/collaborations/{deal.id}/disputes/statements", headers=stranger,
                               json={"statement": "I would like to add something here."})
    assert posted.status_code == 404
    count = await db.scalar(sa.select(sa.func.count()).select_from(Dispute))
    assert count == 1
