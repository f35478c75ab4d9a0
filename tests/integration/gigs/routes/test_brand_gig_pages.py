"""Brand gig pages: drafting through the form (with and without htmx), field errors, publishing, closing, roles."""

from __future__ import annotations

from html import unescape

import sqlalchemy as sa

from marketplace.brands.models import BrandRole
from marketplace.gigs.models import Deliverable, Gig, GigStatus
from tests.support.marketplace import GIG_FORM, make_gig

GOOD_FORM = GIG_FORM


async def gig_count(db) -> int:
    return await db.scalar(sa.select(sa.func.count(Gig.id)))


async def test_brand_drafts_a_gig_through_the_form(web, people, db) -> None:
    brand = await people.brand()
    await web.sign_in(brand.email, brand.password)
    page = await web.get("/brand/gigs/new")
    assert page.status_code == 200 and 'name="base_fee.amount"' in page.text
    response = await web.post("/brand/gigs", GOOD_FORM)
    assert response.status_code == 303, response.text[:500]
    gig = await db.scalar(sa.select(Gig).where(Gig.brand_id == brand.brand_id))
    assert response.headers["location"] == f"/brand/gigs/{gig.id}"
    assert gig.status is GigStatus.DRAFT
    assert (gig.base_fee_amount, gig.currency, gig.commission_bps, gig.product_retail_value) == (15_000, "USD", 1250,
                                                                                                4_500)
    assert gig.eligible_countries == ["US", "CA"] and gig.reminder_offsets_hours == [-48, 24] and gig.slots == 5
    deliverable = await db.scalar(sa.select(Deliverable).where(Deliverable.gig_id == gig.id))
    assert deliverable.count == 2 and deliverable.required_hashtags == ["#glowlab", "#vitaminc"]
    shown = await web.get(f"/brand/gigs/{gig.id}")
    assert shown.status_code == 200 and "Morning routine video" in shown.text and "Publish" in shown.text


async def test_bad_form_rerenders_with_field_errors_and_writes_nothing(web, people, db) -> None:
    brand = await people.brand()
    await web.sign_in(brand.email, brand.password)
    bad = {**GOOD_FORM, "base_fee.amount": "-5", "base_fee.currency": "XXX", "apply_by": "2020-01-01T10:00",
           "product_image_url": "not a url", "brief": "x" * 10_000_001, "deliverables[0].kind": "podcast"}
    for htmx in (False, True):
        response = await web.post("/brand/gigs", bad, htmx=htmx)
        assert response.status_code == 422
        text = unescape(response.text)
        assert "Base fee can't be negative." in text
        assert "Currency must be one of" in text
        assert "Product image URL must be a full web address" in text
        assert "Kind must be one of" in text
        assert "Brief must be at most 20,000 characters." in text
        # htmx gets the form fragment only, a plain browser the whole page.
        assert ("<html" in response.text) is (not htmx)
        assert 'id="gig-form"' in response.text
    missing = await web.post("/brand/gigs", {**GOOD_FORM, "base_fee.amount": "", "apply_by": "2020-01-01T10:00"})
    assert missing.status_code == 422
    assert "Base fee is required." in missing.text and "Apply-by must be in the future." in missing.text
    assert await gig_count(db) == 0


async def test_publish_close_archive_and_the_draft_rules(web, runtime, people, db) -> None:
    brand = await people.brand()
    gig = await make_gig(runtime, brand, publish=False)
    await web.sign_in(brand.email, brand.password)
    archived_too_early = await web.post(f"/brand/gigs/{gig.id}/close", htmx=True)
    assert archived_too_early.status_code == 409 and "Only open gigs can be closed" in archived_too_early.text
    published = await web.post(f"/brand/gigs/{gig.id}/publish")
    assert published.status_code == 303
    assert (await db.get(Gig, gig.id)).status is GigStatus.OPEN
    closed = await web.post(f"/brand/gigs/{gig.id}/close", htmx=True)
    assert closed.status_code == 200 and closed.headers["hx-redirect"] == f"/brand/gigs/{gig.id}"
    assert (await db.get(Gig, gig.id)).status is GigStatus.CLOSED
    edit = await web.post(f"/brand/gigs/{gig.id}", GOOD_FORM)
    assert edit.status_code == 409
    assert (await db.get(Gig, gig.id)).title != GOOD_FORM["title"]
    assert (await web.post(f"/brand/gigs/{gig.id}/archive")).status_code == 303
    assert (await db.get(Gig, gig.id)).status is GigStatus.ARCHIVED


async def test_finance_reads_gigs_but_cannot_change_them(web, runtime, people, db) -> None:
    owner = await people.brand()
    gig = await make_gig(runtime, owner, publish=False)
    finance = await people.brand(brand_id=owner.brand_id, role=BrandRole.FINANCE)
    await web.sign_in(finance.email, finance.password)
    assert (await web.get("/brand/gigs")).status_code == 200
    shown = await web.get(f"/brand/gigs/{gig.id}")
    assert shown.status_code == 200 and "Publish" not in shown.text
    assert (await web.get("/brand/gigs/new")).status_code == 403
    assert (await web.post("/brand/gigs", GOOD_FORM)).status_code == 403
    assert (await web.post(f"/brand/gigs/{gig.id}/publish")).status_code == 403
    assert (await web.post(f"/brand/gigs/{gig.id}", GOOD_FORM)).status_code == 403
    row = await db.get(Gig, gig.id)
    assert row.status is GigStatus.DRAFT and row.title != GOOD_FORM["title"]
    assert await gig_count(db) == 1


async def test_reminder_offsets_can_be_changed_per_gig(web, runtime, people, db) -> None:
    brand = await people.brand()
    gig = await make_gig(runtime, brand)
    await web.sign_in(brand.email, brand.password)
    saved = await web.post(f"/brand/gigs/{gig.id}/reminders", {"reminder_offsets_hours": "-24, 12, 48"}, htmx=True)
    assert saved.status_code == 200 and 'id="gig-reminders"' in saved.text and "<html" not in saved.text
    assert (await db.get(Gig, gig.id)).reminder_offsets_hours == [-24, 12, 48]
    bad = await web.post(f"/brand/gigs/{gig.id}/reminders", {"reminder_offsets_hours": "soon"})
    assert bad.status_code == 422 and "whole hours" in bad.text
    assert (await db.get(Gig, gig.id)).reminder_offsets_hours == [-24, 12, 48]
