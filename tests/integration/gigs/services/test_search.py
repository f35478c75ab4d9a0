"""Gig discovery: only open gigs taking applications, every filter, full text on both databases, keyset pages."""

from __future__ import annotations

from datetime import timedelta

import pytest

from marketplace.db import session_scope
from marketplace.errors import InvalidInput
from marketplace.gigs.search import GigFilters, parse_gig_filters
from marketplace.gigs.services import GigService
from tests.support.marketplace import actor_for, make_creator_with_account, make_gig

IG_POST = [{"platform": "instagram", "kind": "post", "count": 1}]


async def search(runtime, filters: GigFilters, creator=None) -> list:
    async with session_scope(runtime.session_maker) as session:
        from marketplace.creators.services import creator_facts

        facts = await creator_facts(session, creator.creator_id, runtime.clock.now()) if creator else None
        page = await GigService(session, runtime).search(facts, creator.creator_id if creator else None, filters)
        return page


async def titles(runtime, **params) -> list[str]:
    page = await search(runtime, parse_gig_filters(params, major_units=False))
    return [card.gig.title for card in page.items]


async def test_only_open_gigs_still_taking_applications_are_found(runtime, people, clock) -> None:
    brand = await people.brand()
    await make_gig(runtime, brand, title="Draft gig", publish=False)
    closing = await make_gig(runtime, brand, title="Closes tomorrow", apply_by=clock.now() + timedelta(days=1))
    await make_gig(runtime, brand, title="Open for long", apply_by=None)
    closed = await make_gig(runtime, brand, title="Closed gig")
    async with session_scope(runtime.session_maker) as session:
        await GigService(session, runtime).close_gig(await actor_for(runtime, brand), closed.id)
    assert sorted(await titles(runtime)) == ["Closes tomorrow", "Open for long"]
    clock.advance(days=2)  # apply-by passed: applications closed, so the gig drops out of discovery
    assert await titles(runtime) == ["Open for long"]
    assert closing.id


async def test_each_filter(runtime, people) -> None:
    brand = await people.brand()
    await make_gig(runtime, brand, title="Serum routine", brief="Morning routines with our serums.",
                   niches=["skincare"], eligible_countries=["US", "CA"], base_fee_amount=20_000,
                   product_retail_value=6_000)
    await make_gig(runtime, brand, title="Protein bar haul", brief="Taste test on a trail run.", deliverables=IG_POST,
                   niches=["fitness"], eligible_countries=["DE"], base_fee_amount=5_000, product_retail_value=1_500)
    await make_gig(runtime, brand, title="Euro gig", brief="Anything goes.", currency="EUR", base_fee_amount=9_000,
                   apply_by=None)
    assert await titles(runtime, platform="instagram") == ["Protein bar haul"]
    assert await titles(runtime, niche="skincare") == ["Serum routine"]
    assert sorted(await titles(runtime, country="CA")) == ["Euro gig", "Serum routine"]  # empty list = anywhere
    assert sorted(await titles(runtime, country="DE")) == ["Euro gig", "Protein bar haul"]
    assert await titles(runtime, fee_min="10000") == ["Serum routine"]  # USD unless a currency is given
    assert await titles(runtime, fee_min="1000", fee_max="9000", currency="EUR") == ["Euro gig"]
    assert await titles(runtime, product_value_max="2000") == ["Protein bar haul"]
    assert sorted(await titles(runtime, currency="USD")) == ["Protein bar haul", "Serum routine"]
    soon = (runtime.clock.now() + timedelta(days=20)).date().isoformat()
    assert "Euro gig" not in await titles(runtime, apply_before=soon)  # no deadline: not "closing by"
    # Full text: every word must match, each as a prefix; title and brief are both searched.
    assert await titles(runtime, q="serum") == ["Serum routine"]
    assert await titles(runtime, q="routine serum") == ["Serum routine"]
    assert await titles(runtime, q="trail") == ["Protein bar haul"]
    assert await titles(runtime, q="prot") == ["Protein bar haul"]
    assert await titles(runtime, q="serum trail") == []
    assert await titles(runtime, q="'); DROP TABLE gig; --") == []
    assert sorted(await titles(runtime, q="!!!")) == ["Euro gig", "Protein bar haul", "Serum routine"]


@pytest.mark.parametrize("sort", ["newest", "fee", "deadline"])
async def test_keyset_pages_visit_every_gig_once_in_order(runtime, people, clock, sort) -> None:
    brand = await people.brand()
    made = []
    for i, (fee, days) in enumerate([(5_000, 3), (9_000, None), (5_000, 8), (12_000, 3), (7_000, None),
                                     (9_000, 5), (1_000, 12)]):
        clock.advance(minutes=1)
        made.append(await make_gig(runtime, brand, title=f"Gig {i}", base_fee_amount=fee,
                                   apply_by=clock.now() + timedelta(days=days) if days else None))
    seen: list = []
    filters = parse_gig_filters({"sort": sort, "limit": "3"}, major_units=False)
    while True:
        page = await search(runtime, filters)
        seen.extend(card.gig for card in page.items)
        if page.next_cursor is None:
            break
        filters = parse_gig_filters({"sort": sort, "limit": "3", "cursor": page.next_cursor}, major_units=False)
    assert len(seen) == len(made) and len({g.id for g in seen}) == len(made)
    if sort == "newest":
        assert [g.title for g in seen] == [f"Gig {i}" for i in reversed(range(7))]
    elif sort == "fee":
        assert [g.base_fee_amount for g in seen] == sorted((g.base_fee_amount for g in made), reverse=True)
    else:
        deadlines = [g.apply_by for g in seen]
        dated = [d for d in deadlines if d is not None]
        assert dated == sorted(dated) and deadlines[len(dated):] == [None, None]  # no deadline sorts last


async def test_damaged_cursor_is_a_field_error() -> None:
    with pytest.raises(InvalidInput) as caught:
        parse_gig_filters({"cursor": "not-a-cursor"}, major_units=False)
    assert "cursor" in caught.value.errors


async def test_cards_say_whether_the_creator_is_eligible_and_why_not(runtime, people) -> None:
    brand = await people.brand()
    await make_gig(runtime, brand, title="TikTok for Americans", eligible_countries=["US"])
    await make_gig(runtime, brand, title="Instagram post", deliverables=IG_POST)
    await make_gig(runtime, brand, title="Big accounts only", min_followers=50_000)
    creator = await make_creator_with_account(runtime, people, platform="tiktok", followers=12_000, country="US")
    page = await search(runtime, GigFilters(), creator.person)
    by_title = {card.gig.title: card.eligibility for card in page.items}
    assert by_title["TikTok for Americans"].eligible
    assert not by_title["Instagram post"].eligible
    assert by_title["Instagram post"].reason == (
        "This gig is for Instagram; add your Instagram account to your profile.")
    assert not by_title["Big accounts only"].eligible
    assert "at least 50,000 followers" in by_title["Big accounts only"].reason
