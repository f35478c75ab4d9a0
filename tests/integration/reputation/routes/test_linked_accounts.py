"""Whitewashing: a ghoster who opens a new account still needs the product delivered somewhere. Deals ghosted at a
delivery address count against every account that takes products there, so the new account gains nothing; an admin
can lift that for an account that isn't the same person (a housemate)."""

from __future__ import annotations

import sqlalchemy as sa

from marketplace.admin.models import AdminAuditEntry
from marketplace.collaborations.models import Collaboration
from marketplace.creators.addresses import address_key
from reputation.models import ReliabilityScore, SubjectKind
from tests.support.reputation import creator_at, ghost, make_collaboration, make_gig

GHOSTERS_DOOR = {"recipient_name": "Sam Vale", "line1": "12 Baker Street", "line2": "Apt. 4", "city": "London",
                 "region": "", "postal_code": "NW1 6XE", "address_country": "GB", "phone": ""}
SAME_DOOR_TYPED_ANOTHER_WAY = {**GHOSTERS_DOOR, "recipient_name": "S. Vale", "line1": "12 baker st", "line2": "#4",
                               "city": "LONDON", "postal_code": "nw16xe"}
NEXT_DOOR = {**GHOSTERS_DOOR, "recipient_name": "Kit Lane", "line1": "14 Baker Street", "line2": ""}
LINKED = "Deals shipped to your delivery address under another PostPact account were ghosted."


def test_the_key_ignores_how_an_address_is_typed_but_not_which_door_it_is() -> None:
    key = address_key(line1="12 Baker Street", line2="Apt. 4", postal_code="NW1 6XE", country="GB")
    assert key == address_key(line1="12 baker st", line2="#4", postal_code="nw16xe", country="gb")
    assert key == address_key(line1="12 Baker St., Apartment 4", postal_code="NW1  6XE", country="GB")
    berlin = address_key(line1="Hauptstraße 5", postal_code="10115", country="DE")
    assert berlin == address_key(line1="HAUPTSTRASSE 5", postal_code="10115", country="DE")
    assert address_key(line1="Haupt Straße 5", postal_code="10115", country="DE") == address_key(
        line1="Haupt Str. 5", postal_code="10115", country="DE")
    assert key != address_key(line1="12 Baker Street", line2="Apt. 5", postal_code="NW1 6XE", country="GB")
    assert key != address_key(line1="14 Baker Street", line2="Apt. 4", postal_code="NW1 6XE", country="GB")
    assert key != address_key(line1="12 Baker Street", line2="Apt. 4", postal_code="NW1 6XE", country="IE")


async def _sign(runtime, web, deal_id):
    async with runtime.session_maker() as session:
        terms_hash = await session.scalar(sa.select(Collaboration.terms_hash).where(Collaboration.id == deal_id))
    return await web.post(f"/collaborations/{deal_id}/sign", {"terms_hash": terms_hash})


async def _status(db, deal_id) -> str:
    return str(await db.scalar(sa.select(Collaboration.status).where(Collaboration.id == deal_id)))


async def test_a_new_account_at_a_ghosters_address_gains_nothing(make_web, runtime, people, clock, db) -> None:
    ghoster, _ = await creator_at(make_web, people, GHOSTERS_DOOR)
    await ghost(runtime, clock, await make_collaboration(runtime, creator=ghoster))
    clock.advance(days=100)
    await ghost(runtime, clock, await make_collaboration(runtime, creator=ghoster))
    row = await db.get(ReliabilityScore, (SubjectKind.CREATOR, ghoster.creator_id))
    assert row is not None and row.suspended_at is not None

    fresh, fresh_web = await creator_at(make_web, people, SAME_DOOR_TYPED_ANOTHER_WAY)
    neighbour, neighbour_web = await creator_at(make_web, people, NEXT_DOOR)
    fresh_deal = await make_collaboration(runtime, creator=fresh, fee_amount=5_000)
    neighbour_deal = await make_collaboration(runtime, creator=neighbour, fee_amount=5_000)

    refused = await _sign(runtime, fresh_web, fresh_deal.id)
    assert refused.status_code == 409
    assert LINKED in refused.text and "until an admin reviews it" in refused.text
    assert await _status(db, fresh_deal.id) == "offered"
    other_gig = await make_gig(runtime, await people.brand(), fee_amount=5_000)
    gig_page = await fresh_web.get(f"/gigs/{other_gig}")
    assert gig_page.status_code == 200 and LINKED in gig_page.text
    own_page = await fresh_web.get(f"/creators/{fresh.creator_id}/reliability")
    assert "An admin must review the account first. " + LINKED in own_page.text
    public_page = await neighbour_web.get(f"/creators/{fresh.creator_id}/reliability")
    assert public_page.status_code == 200 and "delivery address" not in public_page.text
    # A different door (next door, same street and postal code) is another person's.
    assert (await _sign(runtime, neighbour_web, neighbour_deal.id)).status_code == 303
    assert await _status(db, neighbour_deal.id) == "signed"

    admin = await people.admin()
    admin_web = await make_web()
    await admin_web.sign_in(admin.email, admin.password)
    fresh_user = await admin_web.get(f"/admin/users/{fresh.user_id}")
    assert "suspended by the record" in fresh_user.text
    assert f'href="/admin/users/{ghoster.user_id}"' in fresh_user.text.split('data-testid="same-address"')[1]
    neighbour_user = await admin_web.get(f"/admin/users/{neighbour.user_id}")
    assert 'data-testid="same-address"' not in neighbour_user.text

    # The admin finds it isn't the same person and clears the account: the ghoster's record stops counting for it.
    cleared = await admin_web.post(f"/admin/creators/{fresh.creator_id}/clear-reliability-suspension", {})
    assert cleared.status_code == 303
    entry = await db.scalar(sa.select(AdminAuditEntry).where(
        AdminAuditEntry.action == "creator.clear_reliability_suspension",
        AdminAuditEntry.target_id == str(fresh.creator_id)))
    assert entry is not None
    assert (await _sign(runtime, fresh_web, fresh_deal.id)).status_code == 303
    assert await _status(db, fresh_deal.id) == "signed"
    # The ghoster's own suspension is untouched.
    row = await db.get(ReliabilityScore, (SubjectKind.CREATOR, ghoster.creator_id))
    assert row is not None and row.suspended_at is not None


async def test_one_ghosting_at_the_address_puts_a_new_account_on_probation(make_web, runtime, people, clock) -> None:
    ghoster, _ = await creator_at(make_web, people, GHOSTERS_DOOR)
    await ghost(runtime, clock, await make_collaboration(runtime, creator=ghoster))
    fresh, fresh_web = await creator_at(make_web, people, SAME_DOOR_TYPED_ANOTHER_WAY)
    bronze_deal = await make_collaboration(runtime, creator=fresh, fee_amount=5_000, min_tier="BRONZE")
    refused = await _sign(runtime, fresh_web, bronze_deal.id)
    assert refused.status_code == 409
    assert "on probation until" in refused.text and "deals shipped to your delivery address" in refused.text


async def test_trying_address_after_address_is_capped(make_web, people) -> None:
    _, web = await creator_at(make_web, people, GHOSTERS_DOOR)
    for n in range(2, 11):
        saved = await web.post("/creator/profile/address", {**GHOSTERS_DOOR, "line1": f"{n} Baker Street"})
        assert saved.status_code in (200, 303)
    refused = await web.post("/creator/profile/address", {**GHOSTERS_DOOR, "line1": "99 Baker Street"})
    assert refused.status_code == 429
    assert "You&#39;ve changed your address often today; try again in 24 hours." in refused.text
    profile = await web.get("/creator/profile")
    assert 'value="10 Baker Street"' in profile.text  # the last save that was allowed
