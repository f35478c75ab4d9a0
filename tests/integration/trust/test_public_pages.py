"""Public pages without signing in: open gigs (a summary, never the deal's private terms), brand and creator
profiles with reliability; drafts, closed gigs and deactivated creators stay hidden; gig and deal pages link the
brand's reliability."""

from __future__ import annotations

import html
from typing import Any

import sqlalchemy as sa

from marketplace.accounts.models import User
from marketplace.collaborations.states import CollabState
from marketplace.gigs.models import Gig, GigStatus
from tests.support.deals import PASSWORD, make_deal

SECRET_BRIEF_END = "The discount code for the launch is GLOW-SECRET-40."


async def open_gig(runtime: Any, db: Any) -> Any:
    deal = await make_deal(runtime, CollabState.OFFERED, through_applications=True)
    gig = await db.get(Gig, deal.gig_id)
    gig.brief = ("Show the serum in your real morning routine, natural light, no filters. " * 6) + SECRET_BRIEF_END
    gig.status = GigStatus.OPEN
    gig.apply_by = None
    await db.flush()
    return deal


async def test_open_gigs_are_public_without_private_terms(runtime: Any, web: Any, db: Any) -> None:
    deal = await open_gig(runtime, db)
    listing = await web.get("/explore/gigs")
    assert listing.status_code == 200
    page = html.unescape(listing.text)
    assert "Glow serum launch" in page and f"/explore/gigs/{deal.gig_id}" in page
    detail = html.unescape((await web.get(f"/explore/gigs/{deal.gig_id}")).text)
    assert "Glow serum launch" in detail and "1 \u00d7 TikTok video" in detail and "$150.00" in detail
    # The advert, not the deal: no end of the brief, no required tags, no deadlines or review window.
    assert SECRET_BRIEF_END not in detail and "#glowlab" not in detail and "keep live" not in detail.lower()
    assert "Sign up to apply" in detail
    assert f"/brands/{deal.brand.brand_id}/reliability" in detail and "Proven reliability" in detail

    gig = await db.get(Gig, deal.gig_id)
    gig.status = GigStatus.DRAFT
    await db.flush()
    assert (await web.get(f"/explore/gigs/{deal.gig_id}")).status_code == 404
    assert f"/explore/gigs/{deal.gig_id}" not in (await web.get("/explore/gigs")).text


async def test_brand_and_creator_profiles_are_public(runtime: Any, web: Any, db: Any) -> None:
    deal = await open_gig(runtime, db)
    brand = html.unescape((await web.get(f"/explore/brands/{deal.brand.brand_id}")).text)
    assert "GlowLab" in brand and "Glow serum launch" in brand and "Proven reliability" in brand
    creator_page = await web.get(f"/explore/creators/{deal.creator.creator_id}")
    text = html.unescape(creator_page.text)
    assert creator_page.status_code == 200 and "Ava Brooks" in text and f"TikTok @{deal.handle}" in text
    assert "Proven reliability" in text and f"/creators/{deal.creator.creator_id}/reliability" in text
    assert deal.creator.email not in text and "Orchard Lane" not in text  # no email, no address
    assert (await web.get(f"/creators/{deal.creator.creator_id}/reliability")).status_code == 200

    await db.execute(sa.update(User).where(User.id == deal.creator.user_id).values(is_active=False))
    assert (await web.get(f"/explore/creators/{deal.creator.creator_id}")).status_code == 404


async def test_gig_and_deal_pages_link_the_brands_reliability(runtime: Any, web: Any, db: Any) -> None:
    deal = await open_gig(runtime, db)
    await web.sign_in(deal.creator.email, PASSWORD)
    gig_page = (await web.get(f"/gigs/{deal.gig_id}")).text
    assert f'href="/brands/{deal.brand.brand_id}/reliability"' in gig_page
    deal_page = (await web.get(deal.url)).text
    assert f'href="/brands/{deal.brand.brand_id}/reliability"' in deal_page
    assert f'href="/creators/{deal.creator.creator_id}/reliability"' in deal_page
