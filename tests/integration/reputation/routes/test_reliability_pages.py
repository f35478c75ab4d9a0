"""Reliability pages (public summary, details to the owner) and the rating form, with and without htmx."""

from __future__ import annotations

import re

import sqlalchemy as sa

from marketplace.brands.models import BrandRole
from reputation.models import Rating, ReliabilityScore, ReputationEvent, SubjectKind
from tests.support.reputation import deliver, ghost, make_collaboration


def _text(html: str) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html))


async def test_creator_page_shows_the_public_summary_to_anyone(runtime, clock, web) -> None:
    deal = await make_collaboration(runtime)
    await deliver(runtime, clock, deal)
    await ghost(runtime, clock, await make_collaboration(runtime, creator=deal.creator))
    page = await web.get(f"/creators/{deal.creator.creator_id}/reliability")
    assert page.status_code == 200
    text = _text(page.text)
    assert "Ava Brooks · reliability" in text
    assert "Posted on time and kept live 1" in text and "Ghosted 1" in text
    assert "Completed deals 1 with 1 different brand" in text
    assert "New / probation" in text
    # Details stay with the owner: no event list, no standing, no next-tier advice.
    assert 'data-testid="events"' not in page.text and "Your standing" not in text
    assert 'data-testid="needs"' not in page.text


async def test_the_owner_sees_events_standing_and_what_the_next_tier_needs(runtime, clock, web) -> None:
    deal = await make_collaboration(runtime)
    await ghost(runtime, clock, deal)
    await web.sign_in(deal.creator.email, deal.creator.password)
    page = await web.get(f"/creators/{deal.creator.creator_id}/reliability")
    text = _text(page.text)
    assert page.status_code == 200
    assert "probation (New tier caps) until" in text
    assert "never posted (or posted more than 7 days late)" in text
    assert f'href="/collaborations/{deal.id}"' in page.text
    assert "No ghosting until" in text and "more completed deal" in text


async def test_another_creator_gets_only_the_summary(runtime, clock, web, people) -> None:
    deal = await make_collaboration(runtime)
    await ghost(runtime, clock, deal)
    other = await people.creator()
    await web.sign_in(other.email, other.password)
    page = await web.get(f"/creators/{deal.creator.creator_id}/reliability")
    assert page.status_code == 200
    assert "Your standing" not in page.text and str(deal.id) not in page.text


async def test_brand_page_for_its_team_and_for_creators(runtime, clock, web, make_web) -> None:
    deal = await make_collaboration(runtime)
    await deliver(runtime, clock, deal)
    public = await web.get(f"/brands/{deal.brand.brand_id}/reliability")
    text = _text(public.text)
    assert public.status_code == 200 and "Reviewed and paid on time 1" in text and "Never shipped the product 0" in text
    assert "Your standing" not in text
    team = await make_web()
    await team.sign_in(deal.brand.email, deal.brand.password)
    owner = _text((await team.get(f"/brands/{deal.brand.brand_id}/reliability")).text)
    assert "Your standing" in owner and "reviewed and released payment on time" in owner
    # One $195 deal proves 49% (a little less as it ages): Bronze needs 50%; deals and creators are enough.
    assert re.search(r"Proven reliability of 50% for Bronze \(now 4\d%\): review and release payment on time\.", owner)
    assert "more completed deal" not in owner and "more creator" not in owner


async def test_htmx_gets_the_summary_fragment_only(runtime, clock, web) -> None:
    deal = await make_collaboration(runtime)
    await deliver(runtime, clock, deal)
    fragment = await web.get(f"/creators/{deal.creator.creator_id}/reliability", htmx=True)
    assert fragment.status_code == 200
    assert fragment.text.lstrip().startswith('<section id="reliability"') and "<html" not in fragment.text


async def test_unknown_subjects_are_404(web) -> None:
    import uuid

    assert (await web.get(f"/creators/{uuid.uuid4()}/reliability")).status_code == 404
    assert (await web.get(f"/brands/{uuid.uuid4()}/reliability")).status_code == 404


async def test_newcomer_page_explains_the_starting_point(runtime, web, people) -> None:
    creator = await people.creator()
    page = await web.get(f"/creators/{creator.creator_id}/reliability")
    assert "No deals scored yet" in page.text
    assert 'data-testid="proven">0%' in page.text and 'data-testid="expected">50%' in page.text


# --- the rating form ---------------------------------------------------------------------------------------------


async def test_rating_through_the_form_without_javascript(runtime, clock, web, make_web, db) -> None:
    deal = await make_collaboration(runtime)
    await deliver(runtime, clock, deal)
    await web.sign_in(deal.creator.email, deal.creator.password)
    form = await web.get(f"/collaborations/{deal.id}/rating?next=/collaborations/{deal.id}")
    assert form.status_code == 200 and 'name="stars"' in form.text
    done = await web.post(
        f"/collaborations/{deal.id}/rating",
        {"stars": "4", "comment": "Clear brief, paid fast.", "next": f"/collaborations/{deal.id}"},
    )
    assert done.status_code == 303 and done.headers["location"] == f"/collaborations/{deal.id}"

    brand = await make_web()
    await brand.sign_in(deal.brand.email, deal.brand.password)
    hidden = await brand.get(f"/collaborations/{deal.id}/rating")
    assert 'data-testid="their-rating-hidden"' in hidden.text and "Clear brief" not in hidden.text
    answered = await brand.post(f"/collaborations/{deal.id}/rating", {"stars": "5"}, htmx=True)
    assert answered.status_code == 200 and answered.text.lstrip().startswith('<section id="rating"')
    assert "Clear brief, paid fast." in answered.text and "Thanks, your rating is saved." in answered.text
    revealed = await web.get(f"/collaborations/{deal.id}/rating")
    assert 'data-testid="their-rating"' in revealed.text
    assert await db.scalar(sa.select(sa.func.count()).select_from(Rating)) == 2


async def test_bad_input_re_renders_with_field_messages(runtime, clock, web, db) -> None:
    deal = await make_collaboration(runtime)
    await deliver(runtime, clock, deal)
    await web.sign_in(deal.creator.email, deal.creator.password)
    for htmx in (False, True):
        response = await web.post(f"/collaborations/{deal.id}/rating", {"stars": "9", "comment": "ok"}, htmx=htmx)
        assert response.status_code == 422
        assert "Choose from 1 to 5 stars." in response.text and ">ok</textarea>" in response.text
        assert ("<html" in response.text) is not htmx
    assert await db.scalar(sa.select(sa.func.count()).select_from(Rating)) == 0
    assert (
        await db.scalar(
            sa.select(sa.func.count()).select_from(ReliabilityScore).where(ReliabilityScore.ratings_given > 0)
        )
        == 0
    )


async def test_rating_twice_is_a_conflict_and_changes_nothing(runtime, clock, web, db) -> None:
    deal = await make_collaboration(runtime)
    await deliver(runtime, clock, deal)
    await web.sign_in(deal.creator.email, deal.creator.password)
    assert (await web.post(f"/collaborations/{deal.id}/rating", {"stars": "5"})).status_code == 303
    again = await web.post(f"/collaborations/{deal.id}/rating", {"stars": "1"})
    assert again.status_code == 409 and "already rated" in again.text
    stars = (await db.scalars(sa.select(Rating.stars))).all()
    assert stars == [5]


async def test_rating_before_completion_is_refused(runtime, clock, web, db) -> None:
    deal = await make_collaboration(runtime)
    await deliver(runtime, clock, deal, complete=False)
    await web.sign_in(deal.creator.email, deal.creator.password)
    page = await web.get(f"/collaborations/{deal.id}/rating")
    assert 'data-testid="why-not"' in page.text and 'name="stars"' not in page.text
    refused = await web.post(f"/collaborations/{deal.id}/rating", {"stars": "5"})
    assert refused.status_code == 409 and "once the deal is completed" in refused.text
    assert await db.scalar(sa.select(sa.func.count()).select_from(Rating)) == 0


async def test_outsiders_get_404_and_finance_members_403(runtime, clock, web, people, db) -> None:
    deal = await make_collaboration(runtime)
    await deliver(runtime, clock, deal)
    before = await db.scalar(sa.select(sa.func.count()).select_from(ReputationEvent))
    stranger = await people.brand(brand_name="Nosy Co")
    await web.sign_in(stranger.email, stranger.password)
    assert (await web.get(f"/collaborations/{deal.id}/rating")).status_code == 404
    assert (await web.post(f"/collaborations/{deal.id}/rating", {"stars": "1"})).status_code == 404
    await web.sign_out()
    finance = await people.brand(role=BrandRole.FINANCE, brand_id=deal.brand.brand_id)
    await web.sign_in(finance.email, finance.password)
    page = await web.get(f"/collaborations/{deal.id}/rating")
    assert page.status_code == 200 and "owner or managers" in page.text and 'name="stars"' not in page.text
    assert (await web.post(f"/collaborations/{deal.id}/rating", {"stars": "1"})).status_code == 403
    await web.sign_out()
    admin = await people.admin()
    await web.sign_in(admin.email, admin.password)
    assert (await web.post(f"/collaborations/{deal.id}/rating", {"stars": "1"})).status_code == 403
    assert await db.scalar(sa.select(sa.func.count()).select_from(Rating)) == 0
    assert await db.scalar(sa.select(sa.func.count()).select_from(ReputationEvent)) == before
    score = await db.get(ReliabilityScore, (SubjectKind.BRAND, deal.brand.brand_id))
    assert score.ratings_given == 0


async def test_signed_out_visitors_are_sent_to_sign_in(runtime, clock, web) -> None:
    deal = await make_collaboration(runtime)
    response = await web.get(f"/collaborations/{deal.id}/rating")
    assert response.status_code == 303 and response.headers["location"].startswith("/signin")
