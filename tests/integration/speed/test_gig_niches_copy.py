"""The niche copy on the gig row that PostgreSQL's /gigs niche filter reads (migration 0027's trigger), and the
niche filter giving the same answers on both databases as the gig's niches change."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from marketplace.db import session_scope
from marketplace.gigs.models import GigNiche
from tests.support.marketplace import make_creator_with_account, make_gig


async def test_niche_filter_follows_edits(web, runtime, people) -> None:
    brand = await people.brand()
    matte = await make_gig(runtime, brand, title="Matte lipstick", niches=["beauty", "fashion"])
    await make_gig(runtime, brand, title="Matte yoga mat", niches=["fitness"])
    creator = await make_creator_with_account(runtime, people)
    await web.sign_in(creator.person.email, creator.person.password)

    async def found(path: str) -> list[str]:
        response = await web.get(path)
        assert response.status_code == 200
        return sorted(t for t in ("Matte lipstick", "Matte yoga mat") if t in response.text)

    assert await found("/gigs?niche=beauty") == ["Matte lipstick"]
    assert await found("/gigs?q=matte&niche=fashion") == ["Matte lipstick"]
    assert await found("/gigs?q=matte&niche=fitness") == ["Matte yoga mat"]
    async with session_scope(runtime.session_maker) as session:  # the brand drops a niche and adds one
        await session.execute(sa.delete(GigNiche).where(GigNiche.gig_id == matte.id, GigNiche.niche == "beauty"))
        session.add(GigNiche(gig_id=matte.id, niche="fitness"))
    assert await found("/gigs?niche=beauty") == []
    assert await found("/gigs?q=matte&niche=fitness") == ["Matte lipstick", "Matte yoga mat"]


async def test_postgres_trigger_keeps_the_copy(runtime, people, is_postgres: bool) -> None:
    if not is_postgres:
        pytest.skip("SQLite has no copy: its niche filter reads gig_niche")
    brand = await people.brand()
    gig = await make_gig(runtime, brand, niches=["wellness", "beauty"])

    async def copy() -> list[str] | None:
        async with session_scope(runtime.session_maker) as session:
            return await session.scalar(sa.text("SELECT niches FROM gig WHERE id = :id"), {"id": gig.id})

    assert await copy() == ["beauty", "wellness"]
    async with session_scope(runtime.session_maker) as session:
        await session.execute(sa.update(GigNiche).where(GigNiche.gig_id == gig.id, GigNiche.niche == "beauty")
                              .values(niche="home"))
    assert await copy() == ["home", "wellness"]
    async with session_scope(runtime.session_maker) as session:
        await session.execute(sa.delete(GigNiche).where(GigNiche.gig_id == gig.id))
    assert await copy() == []
