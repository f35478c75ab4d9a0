"""The /gigs page reads the creator's standing in one statement (``creator_standing_at_once``): the same standing
as ``creator_standing`` for a newcomer, a creator with open deals, a ghoster, and a new account at a ghoster's door."""

from __future__ import annotations

from marketplace.reputation.services import creator_standing, creator_standing_at_once
from tests.integration.speed.test_signed_in_statements import count_statements
from tests.support.marketplace import make_gig
from tests.support.reputation import creator_at, ghost, make_collaboration

DOOR = {
    "recipient_name": "Sam Vale",
    "line1": "12 Baker Street",
    "line2": "Apt. 4",
    "city": "London",
    "region": "",
    "postal_code": "NW1 6XE",
    "address_country": "GB",
    "phone": "",
}
SAME_DOOR = {**DOOR, "recipient_name": "S. Vale", "line1": "12 baker st", "line2": "#4"}
NEXT_DOOR = {**DOOR, "line1": "14 Baker Street", "line2": ""}


async def _both(runtime, creator_id):
    async with runtime.session_maker() as session:
        two = await creator_standing(session, creator_id, runtime.clock.now())
        with count_statements(runtime) as statements:
            one = await creator_standing_at_once(session, creator_id, runtime.clock.now())
    return two, one, len(statements)


async def test_one_statement_standing_is_the_two_statement_standing(make_web, runtime, people, clock) -> None:
    ghoster, _ = await creator_at(make_web, people, DOOR)
    await ghost(runtime, clock, await make_collaboration(runtime, creator=ghoster))
    clock.advance(days=3)
    await ghost(runtime, clock, await make_collaboration(runtime, creator=ghoster))
    fresh, fresh_web = await creator_at(make_web, people, SAME_DOOR)
    neighbour, _ = await creator_at(make_web, people, NEXT_DOOR)
    await make_collaboration(runtime, creator=neighbour, fee_amount=5_000)
    newcomer = await people.creator()
    for person in (ghoster, fresh, neighbour, newcomer):
        two, one, statements = await _both(runtime, person.creator_id)
        assert one == two, person.email
        assert statements == 1
    two, _, _ = await _both(runtime, fresh.creator_id)
    assert len(two[0].record.linked_ghosted_at) == 2  # both of the ghoster's deals count at the shared door
    # And the search page says so on the card.
    await make_gig(runtime, await people.brand(), title="Serum for anyone")
    page = await fresh_web.get("/gigs")
    assert page.status_code == 200 and "Serum for anyone" in page.text
    assert "Deals shipped to your delivery address under another PostPact account were ghosted." in page.text


#: A signed-in /gigs page: the actor, the page's gigs (two statements in deadline order), one UNION for everything
#: about them and the creator's profile, and the creator's standing in one statement.
GIGS_PAGE_STATEMENTS = 4


async def test_a_signed_in_gigs_page_is_four_statements(web, runtime, people) -> None:
    from tests.support.marketplace import make_creator_with_account

    brand = await people.brand()
    for i in range(4):
        await make_gig(runtime, brand, title=f"Serum gig {i}", niches=["skincare"])
    creator = await make_creator_with_account(runtime, people, niches=["skincare"])
    await web.sign_in(creator.person.email, creator.person.password)
    for path in ("/gigs", "/gigs?q=serum&niche=skincare&country=US&fee_min=20&sort=fee", "/gigs?sort=deadline"):
        await web.get(path)  # warm-up: template compile and statement caches are first-request work
        with count_statements(runtime) as statements:
            response = await web.get(path)
        assert response.status_code == 200 and response.text.count('class="card gig-card"') == 4, path
        assert len(statements) <= GIGS_PAGE_STATEMENTS + (1 if "deadline" in path else 0), (path, statements)
