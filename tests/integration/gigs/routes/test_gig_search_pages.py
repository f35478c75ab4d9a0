"""The creator's gig search page: filters, htmx fragments, the eligibility flag, and a fixed number of queries."""

from __future__ import annotations

from contextlib import contextmanager
from html import unescape

from sqlalchemy import event

from tests.support.marketplace import make_creator_with_account, make_gig

#: Statements one search page may run, whatever its size: the transaction and actor, the creator's facts (profile,
#: accounts, niches, reputation standing), the page, its deliverables, niches, brand names, and the creator's
#: applications and invitations among the results (13 on SQLite today, which counts its BEGIN too).
MAX_SEARCH_QUERIES = 15


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


async def test_search_page_runs_a_fixed_number_of_queries(web, runtime, people) -> None:
    brand = await people.brand()
    for i in range(24):
        await make_gig(runtime, brand, title=f"Gig number {i}", niches=["skincare", "wellness"],
                       deliverables=[{"platform": "tiktok", "kind": "video", "count": 1},
                                     {"platform": "instagram", "kind": "story", "count": 2}])
    creator = await make_creator_with_account(runtime, people, niches=["skincare"])
    await web.sign_in(creator.person.email, creator.person.password)
    await web.get("/gigs?limit=2")  # warm-up: first-request work (template compile, caches) is not per page
    for sort in ("newest", "deadline"):
        counts = {}
        for size in (2, 20):
            with count_statements(runtime) as statements:
                response = await web.get(f"/gigs?limit={size}&sort={sort}")
            assert response.status_code == 200
            assert response.text.count('class="card gig-card"') == size
            counts[size] = len(statements)
        assert counts[2] == counts[20], (sort, counts)
        assert counts[20] <= MAX_SEARCH_QUERIES, (sort, counts)


async def test_search_with_and_without_htmx(web, runtime, people) -> None:
    brand = await people.brand()
    await make_gig(runtime, brand, title="Serum routine", base_fee_amount=20_000)
    await make_gig(runtime, brand, title="Protein bars", base_fee_amount=4_000, eligible_countries=["DE"])
    creator = await make_creator_with_account(runtime, people, country="US")
    await web.sign_in(creator.person.email, creator.person.password)
    full = await web.get("/gigs?fee_min=100")
    assert full.status_code == 200 and "<html" in full.text and 'role="search"' in full.text
    assert "Serum routine" in full.text and "Protein bars" not in full.text
    fragment = await web.get("/gigs?fee_min=100", htmx=True)
    assert fragment.status_code == 200 and "<html" not in fragment.text
    assert fragment.text.lstrip().startswith('<section id="results"') and "Serum routine" in fragment.text
    everything = unescape((await web.get("/gigs")).text)
    assert "Eligible for you" in everything
    assert "This gig is open to creators in DE." in everything


async def test_bad_filters_are_shown_in_place(web, runtime, people) -> None:
    creator = await make_creator_with_account(runtime, people)
    await web.sign_in(creator.person.email, creator.person.password)
    for htmx in (False, True):
        response = await web.get("/gigs?fee_min=-4&platform=myspace&cursor=zzz&apply_before=tomorrow", htmx=htmx)
        assert response.status_code == 422
        text = unescape(response.text)
        assert "Platform must be one of" in text and "must be a date like" in text


async def test_pages_are_for_creators(web, runtime, people) -> None:
    brand = await people.brand()
    gig = await make_gig(runtime, brand)
    anonymous = await web.get("/gigs")
    assert anonymous.status_code == 303 and anonymous.headers["location"].startswith("/signin")
    await web.sign_in(brand.email, brand.password)
    assert (await web.get("/gigs")).status_code == 403
    assert (await web.get(f"/gigs/{gig.id}")).status_code == 403
