"""The search table (gig_search, PostgreSQL) stays in step with every gig write, and pages picked from it are the
pages the gig table itself gives, for every filter mix and sort."""

from __future__ import annotations

import random
from datetime import timedelta
from typing import Any

import pytest
import sqlalchemy as sa
from uuid_utils.compat import uuid7

from marketplace.db import session_scope
from marketplace.gigs.keyset import page_of
from marketplace.gigs.models import Deliverable, Gig, GigNiche
from marketplace.gigs.search import next_cursor, open_gigs_queries, parse_gig_filters
from marketplace.gigs.services import GigService
from tests.support.marketplace import actor_for, make_gig

IG_POST = {"platform": "instagram", "kind": "post", "count": 1}
TIKTOK_VIDEO = {"platform": "tiktok", "kind": "video", "count": 1}
YOUTUBE_VIDEO = {"platform": "youtube", "kind": "video", "count": 2}


async def search_rows(db) -> dict[Any, tuple]:
    rows = await db.execute(
        sa.text(
            "SELECT gig_id, published_at, base_fee_amount, apply_by, currency, product_retail_value, tags, "
            "search_vector::text FROM gig_search"
        )
    )
    return {r[0]: (*r[1:6], sorted(r[6]), r[7]) for r in rows}


async def expected_rows(db) -> dict[Any, tuple]:
    """What the search table should hold, worked out from the gig, gig_niche and gig_deliverable rows."""
    niches: dict[Any, set[str]] = {}
    for gig_id, niche in await db.execute(sa.text("SELECT gig_id, niche FROM gig_niche")):
        niches.setdefault(gig_id, set()).add(niche)
    platforms: dict[Any, set[str]] = {}
    for gig_id, platform in await db.execute(sa.text("SELECT gig_id, platform FROM gig_deliverable")):
        platforms.setdefault(gig_id, set()).add(platform)
    expected = {}
    for r in await db.execute(
        sa.text(
            "SELECT id, published_at, base_fee_amount, apply_by, currency, product_retail_value, "
            "eligible_countries, strip(search_vector)::text FROM gig WHERE status = 'open'"
        )
    ):
        countries = r[6] or []
        tags = (
            [f"n:{n}" for n in niches.get(r[0], ())]
            + [f"p:{p}" for p in platforms.get(r[0], ())]
            + ([f"c:{c}" for c in countries] if countries else ["c:*"])
        )
        expected[r[0]] = (*r[1:6], sorted(tags), r[7])
    return expected


async def check_in_step(db, database_url: str) -> None:
    if not database_url.startswith("postgresql"):
        # SQLite searches gig_search_term and leaves the search table empty.
        assert await db.scalar(sa.text("SELECT count(*) FROM gig_search")) == 0
        return
    assert await search_rows(db) == await expected_rows(db)


async def test_the_search_table_follows_every_gig_write(runtime, people, db, database_url) -> None:
    brand = await people.brand()
    actor = await actor_for(runtime, brand)
    draft = await make_gig(runtime, brand, title="Draft serum", publish=False, niches=["skincare"])
    await check_in_step(db, database_url)
    assert await db.scalar(sa.text("SELECT count(*) FROM gig_search")) == 0  # drafts are not searchable
    open_gig = await make_gig(
        runtime,
        brand,
        title="Open serum",
        niches=["skincare", "beauty"],
        eligible_countries=["US", "DE"],
        deliverables=[TIKTOK_VIDEO, IG_POST],
    )
    anywhere = await make_gig(runtime, brand, title="Anywhere protein", apply_by=None, deliverables=[YOUTUBE_VIDEO])
    await check_in_step(db, database_url)
    if database_url.startswith("postgresql"):
        assert len(await search_rows(db)) == 2
    async with session_scope(runtime.session_maker) as session:
        gigs = GigService(session, runtime)
        await gigs.publish_gig(actor, draft.id)
        # An edit rewrites niches, deliverables, countries, money and the words.
        await gigs.update_gig(
            actor,
            open_gig.id,
            {
                "title": "Matte lipstick",
                "brief": "Swatch it on camera.",
                "niches": ["beauty"],
                "eligible_countries": [],
                "base_fee_amount": 22_000,
                "product_retail_value": 3_100,
                "deliverables": [YOUTUBE_VIDEO],
                "apply_by": runtime.clock.now() + timedelta(days=3),
            },
        )
    await check_in_step(db, database_url)
    async with session_scope(runtime.session_maker) as session:
        await GigService(session, runtime).update_gig(
            actor, anywhere.id, {"niches": ["fitness", "food"], "eligible_countries": ["FR"]}
        )
    await check_in_step(db, database_url)
    # Closing and archiving take a gig out; a deleted gig's row goes with it.
    async with session_scope(runtime.session_maker) as session:
        await GigService(session, runtime).close_gig(actor, open_gig.id)
    await check_in_step(db, database_url)
    async with session_scope(runtime.session_maker) as session:
        await GigService(session, runtime).archive_gig(actor, open_gig.id)
    await check_in_step(db, database_url)
    # Writes from outside the services (an admin's SQL, a bulk job) are followed too.
    gig, niche, deliverable = Gig.__table__, GigNiche.__table__, Deliverable.__table__
    await db.execute(sa.delete(niche).where(niche.c.gig_id == anywhere.id, niche.c.niche == "food"))
    await db.execute(sa.delete(deliverable).where(deliverable.c.gig_id == draft.id))
    await db.execute(sa.update(gig).where(gig.c.id == anywhere.id).values(base_fee_amount=99_900, currency="EUR"))
    await check_in_step(db, database_url)
    # One statement over several gigs' niches (a bulk import): the niche copy on each gig row and its search row
    # follow, kept per statement (a row trigger made a set-based insert of 200k niche rows run for minutes).
    now = runtime.clock.now()
    await db.execute(sa.insert(niche), [{"id": uuid7(), "gig_id": g, "niche": "pets", "created_at": now,
                                         "updated_at": now} for g in (anywhere.id, draft.id, open_gig.id)])
    await check_in_step(db, database_url)
    await db.execute(sa.update(niche).where(niche.c.niche == "pets", niche.c.gig_id.in_([anywhere.id, draft.id]))
                     .values(niche="outdoors"))
    await check_in_step(db, database_url)
    if database_url.startswith("postgresql"):
        copies = dict((await db.execute(sa.text("SELECT id, niches FROM gig"))).all())
        listed: dict[Any, list[str]] = {}
        for gig_id, name in await db.execute(sa.text("SELECT gig_id, niche FROM gig_niche ORDER BY niche")):
            listed.setdefault(gig_id, []).append(name)
        assert {g: list(v or []) for g, v in copies.items()} == {g: listed.get(g, []) for g in copies}
        row_triggers = await db.scalar(sa.text(
            "SELECT count(*) FROM pg_trigger WHERE tgrelid IN ('gig_niche'::regclass, 'gig'::regclass, "
            "'gig_deliverable'::regclass) AND NOT tgisinternal AND (tgtype & 1) = 1 AND (tgtype & 2) = 0"))
        assert row_triggers == 0  # AFTER triggers per statement only: a bulk write is one refresh, not one per row
    await db.execute(sa.update(gig).where(gig.c.id == open_gig.id).values(status="open"))
    await check_in_step(db, database_url)
    await db.execute(sa.delete(gig).where(gig.c.id == anywhere.id))
    await check_in_step(db, database_url)
    if database_url.startswith("postgresql"):
        assert set(await search_rows(db)) == {draft.id, open_gig.id}


MIXES = [
    {},
    {"platform": "instagram"},
    {"niche": "skincare", "sort": "fee"},
    {"country": "US", "fee_min": "5000", "fee_max": "30000"},
    {"q": "serum"},
    {"q": "vegan protein", "platform": "tiktok"},
    {"sort": "deadline"},
    {"sort": "deadline", "apply_before": "DAYS20"},
    {"product_value_min": "2000", "product_value_max": "8000", "currency": "USD"},
    {"q": "matte", "niche": "beauty", "country": "DE", "fee_min": "2000", "sort": "fee"},
    {"currency": "EUR", "sort": "fee"},
    {"country": "FR", "sort": "deadline"},
    {"q": "ma", "platform": "youtube"},
]


@pytest.mark.parametrize("limit", [3, 50])
async def test_pages_from_the_search_table_are_the_gig_tables_pages(
    runtime, people, clock, database_url, limit
) -> None:
    rng = random.Random(17)
    brand = await people.brand()
    words = ["matte", "serum", "vegan", "protein", "glow", "mango"]
    for i in range(24):
        clock.advance(minutes=1)
        platforms = rng.sample([TIKTOK_VIDEO, IG_POST, YOUTUBE_VIDEO], rng.randint(1, 2))
        await make_gig(
            runtime,
            brand,
            title=f"{rng.choice(words).title()} {rng.choice(words)} {i}",
            brief=f"Show the {rng.choice(words)} in your routine.",
            deliverables=platforms,
            niches=rng.sample(["skincare", "beauty", "fitness"], rng.randint(0, 2)),
            eligible_countries=rng.choice([[], ["US"], ["DE", "FR"]]),
            currency=rng.choice(["USD", "USD", "EUR"]),
            base_fee_amount=rng.choice([5_000, 9_000, 15_000, 22_000]),
            product_retail_value=rng.randint(0, 9_000),
            apply_by=rng.choice([None, clock.now() + timedelta(days=rng.randint(1, 40))]),
        )
    soon = (clock.now() + timedelta(days=20)).date().isoformat()
    for mix in MIXES:
        params = {k: (soon if v == "DAYS20" else v) for k, v in mix.items()}
        pages = {}
        for search_table in (True, False):
            seen: list[Any] = []
            filters = parse_gig_filters({**params, "limit": str(limit)}, major_units=False)
            while True:
                rows = await page_rows(runtime, filters, search_table)
                page, more = page_of(rows, filters.limit)
                seen.extend(page)
                if not more:
                    break
                filters = parse_gig_filters(
                    {**params, "limit": str(limit), "cursor": next_cursor(filters, page[-1])}, major_units=False
                )
            pages[search_table] = seen
        assert pages[True] == pages[False], mix


async def page_rows(runtime, filters, search_table: bool) -> list[Any]:
    async with session_scope(runtime.session_maker) as session:
        dialect = session.get_bind().dialect.name
        rows: list[Any] = []
        for query in open_gigs_queries(filters, now=runtime.clock.now(), dialect=dialect, search_table=search_table):
            if rows:
                query = query.limit(filters.limit + 1 - len(rows))
            rows.extend((await session.execute(query)).all())
            if len(rows) > filters.limit:
                break
        return rows
