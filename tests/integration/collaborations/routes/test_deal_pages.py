"""The deal pages: lists, the deal page, and each step as a plain form post or an htmx fragment swap."""

from __future__ import annotations

import re

from marketplace.collaborations.models import Collaboration
from marketplace.collaborations.states import CollabState
from tests.support.deals import make_deal, snapshot


def is_fragment(html: str) -> bool:
    return "<html" not in html and "<body" not in html


async def signed_in(make_web, person):
    web = await make_web()
    await web.sign_in(person.email, person.password)
    return web


async def test_lists_show_whats_due_next_and_by_whom_with_and_without_htmx(make_web, runtime) -> None:
    offered = await make_deal(runtime, title="Serum launch")
    reviewing = await make_deal(runtime, CollabState.DRAFT_SUBMITTED, brand=offered.brand, creator=offered.creator,
                                title="Cleanser reel")
    brand = await signed_in(make_web, offered.brand)

    full = await brand.get("/brand/collaborations")
    assert full.status_code == 200 and "<html" in full.text
    rows = re.findall(r"<tr>(.*?)</tr>", full.text, re.S)
    cleanser = next(r for r in rows if "Cleanser reel" in r)
    assert "Review the draft" in cleanser and "<strong>You</strong>" in cleanser and "in 3 days" in cleanser
    serum = next(r for r in rows if "Serum launch" in r)
    assert "Sign the terms" in serum and "Creator" in serum

    waiting = await brand.get("/brand/collaborations?status=waiting", htmx=True)
    assert waiting.status_code == 200 and is_fragment(waiting.text)
    assert 'id="deal-list"' in waiting.text
    assert "Cleanser reel" in waiting.text and "Serum launch" not in waiting.text

    bad = await brand.get("/brand/collaborations?status=bogus&gig=nope", htmx=True)
    assert bad.status_code == 422 and is_fragment(bad.text) and "Unknown status" in bad.text

    creator = await signed_in(make_web, offered.creator)
    theirs = await creator.get("/creator/collaborations?status=waiting")
    assert theirs.status_code == 200 and "Serum launch" in theirs.text and "Cleanser reel" not in theirs.text
    assert f"/collaborations/{reviewing.id}" not in theirs.text


async def test_the_deal_page_shows_terms_timeline_and_the_viewers_steps(make_web, runtime, db) -> None:
    deal = await make_deal(runtime)
    collab = await db.get(Collaboration, deal.id)
    creator = await signed_in(make_web, deal.creator)
    page = await creator.get(deal.url)
    assert page.status_code == 200
    assert collab.terms_hash in page.text and "Offer made" in page.text
    assert f'action="/collaborations/{deal.id}/sign"' in page.text
    assert f'action="/collaborations/{deal.id}/decline"' in page.text
    assert "/withdraw" not in page.text  # the brand's step, not the creator's

    brand = await signed_in(make_web, deal.brand)
    brand_page = await brand.get(deal.url)
    assert f'action="/collaborations/{deal.id}/withdraw"' in brand_page.text
    assert "/sign\"" not in brand_page.text
    fragment = await brand.get(deal.url, htmx=True)
    assert fragment.status_code == 200 and is_fragment(fragment.text) and 'id="deal-panel"' in fragment.text


async def test_a_step_posts_plainly_and_redirects_or_swaps_the_panel_for_htmx(make_web, runtime, db) -> None:
    deal = await make_deal(runtime)
    collab = await db.get(Collaboration, deal.id)
    creator = await signed_in(make_web, deal.creator)
    plain = await creator.post(f"{deal.url}/sign", {"terms_hash": collab.terms_hash})
    assert plain.status_code == 303 and plain.headers["location"] == deal.url
    followed = await creator.get(deal.url)
    assert "You signed the deal" in followed.text and "Signed the terms" in followed.text
    assert (await db.get(Collaboration, deal.id)).status is CollabState.SIGNED

    # A second creator (a newcomer may hold only one signed, unposted deal at a time).
    other = await make_deal(runtime, brand=deal.brand)
    other_hash = (await db.get(Collaboration, other.id)).terms_hash
    other_creator = await signed_in(make_web, other.creator)
    swapped = await other_creator.post(f"{other.url}/sign", {"terms_hash": other_hash}, htmx=True)
    assert swapped.status_code == 200 and is_fragment(swapped.text)
    assert 'id="deal-panel"' in swapped.text and "You signed the deal" in swapped.text
    assert 'data-testid="deal-status">signed<' in swapped.text


async def test_bad_input_re_renders_the_step_with_field_errors_and_changes_nothing(make_web, runtime, db) -> None:
    deal = await make_deal(runtime, CollabState.FUNDED)
    before = await snapshot(db, [deal.id])
    brand = await signed_in(make_web, deal.brand)
    for htmx in (False, True):
        response = await brand.post(f"{deal.url}/ship", {"carrier": "U", "tracking_number": "%%%",
                                                         "tracking_url": "javascript:alert(1)"}, htmx=htmx)
        assert response.status_code == 422
        assert is_fragment(response.text) is htmx
        assert "Carrier must be at least 2 characters." in response.text
        assert "Enter the tracking number as the carrier shows it" in response.text
        assert "Tracking link must be a full web address" in response.text
        assert 'aria-invalid="true"' in response.text
        assert 'value="U"' in response.text  # what was typed stays in the form
    assert await snapshot(db, [deal.id]) == before


async def test_an_impossible_step_answers_409_on_the_page_and_records_nothing(make_web, runtime, db) -> None:
    deal = await make_deal(runtime, CollabState.DRAFT_SUBMITTED)
    brand = await signed_in(make_web, deal.brand)
    assert (await brand.post(f"{deal.url}/approve-draft", {})).status_code == 303
    before = await snapshot(db, [deal.id])
    for htmx in (False, True):
        twice = await brand.post(f"{deal.url}/approve-draft", {}, htmx=htmx)
        assert twice.status_code == 409
        assert "can&#39;t approve the draft while the collaboration is draft approved" in twice.text
    creator = await signed_in(make_web, deal.creator)
    own = await creator.post(f"{deal.url}/request-changes", {"comment": "hm"})
    assert own.status_code == 403  # not the creator's step: not allowed, whatever the state
    unknown = await creator.post(f"{deal.url}/teleport", {})
    assert unknown.status_code == 404
    assert await snapshot(db, [deal.id]) == before


async def test_a_signed_deal_offers_funding_to_the_brands_money_roles_only(make_web, runtime, people) -> None:
    from marketplace.brands.models import BrandRole

    deal = await make_deal(runtime, CollabState.SIGNED)
    finance = await people.brand(brand_id=deal.brand.brand_id, role=BrandRole.FINANCE)
    for person in (deal.brand, finance):
        page = await (await signed_in(make_web, person)).get(deal.url)
        assert 'action="/brand/payments/fund"' in page.text
        assert f'name="collaboration_id" value="{deal.id}"' in page.text
        assert f'href="/payments/timeline/{deal.id}"' in page.text
    creator_page = await (await signed_in(make_web, deal.creator)).get(deal.url)
    assert "/brand/payments/fund" not in creator_page.text
    assert "Waiting for GlowLab: fund the escrow." in creator_page.text
    assert f'href="/messages/collaboration/{deal.id}"' in creator_page.text
