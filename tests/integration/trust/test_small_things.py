"""Small things that misled people (issue 18, item 5), each through the page or service a person uses: messages in
the units typed and without field names, platform names as the platforms write them, what finance members are
offered, the cancel step's confirmation and place, no change-request form without rounds left, statements in money
with the other side named, the fees wording, email links on the served port, and disputes to answer on the
dashboard."""

from __future__ import annotations

import csv
import html
import io
import re
from typing import Any

import pytest
from click.testing import CliRunner

from marketplace.brands.models import BrandRole
from marketplace.collaborations.states import CollabState
from marketplace.errors import InvalidInput
from tests.support.deadlines import load
from tests.support.deals import PASSWORD, make_deal
from tests.support.escrow import funded_deal


def text_of(response: Any) -> str:
    return html.unescape(response.text)


async def test_messages_speak_of_percentages_and_never_of_field_names(runtime: Any, web: Any, people: Any) -> None:
    creator = await people.creator()
    await web.sign_in(creator.email, PASSWORD)
    saved = await web.post("/creator/profile/accounts", {
        "platform": "tiktok", "handle": "ava.films", "profile_url": "https://www.tiktok.com/@ava.films",
        "followers": "12000", "average_views": "3000", "engagement_rate": "250"})
    page = text_of(saved)
    assert saved.status_code == 422
    assert "Engagement rate is a percentage from 0 to 100" in page and "at most 10,000" not in page

    brand = await people.brand()
    await web.sign_out()
    await web.sign_in(brand.email, PASSWORD)
    invited = await web.post("/brand/creators/invite", {"gig_id": "", "back": "/brand/creators"},
                             follow_redirects=True)
    assert "Choose the gig to invite them to." in text_of(invited) and "gig_id:" not in invited.text
    assert InvalidInput({"creator_ids": "Choose at least one creator to invite."}).message == \
        "Choose at least one creator to invite."


async def test_commission_message_is_in_percent() -> None:
    from marketplace.gigs.rules import check_gig
    from tests.unit.gigs.test_rules import NOW, raw

    with pytest.raises(InvalidInput) as caught:
        check_gig(raw(commission_bps=25_000), now=NOW)
    assert caught.value.errors["commission_bps"].startswith("Commission is a percentage from 0 to 100")


async def test_platforms_are_named_as_they_write_themselves(runtime: Any, web: Any) -> None:
    deal = await make_deal(runtime, CollabState.DRAFT_APPROVED, platform="instagram")
    await web.sign_in(deal.creator.email, PASSWORD)
    wrong = await web.post(f"{deal.url}/submit-post", {"url": "https://www.tiktok.com/@someone/video/7300000000000000000"})
    assert "This deal is for an Instagram post; that is a TikTok link." in text_of(wrong)
    page = text_of(await web.get(deal.url))
    assert "on Instagram" in page and "Tiktok" not in page and "Youtube" not in page


async def test_finance_members_are_not_offered_to_post_a_gig(runtime: Any, web: Any, people: Any) -> None:
    owner = await people.brand()
    finance = await people.brand(role=BrandRole.FINANCE, brand_id=owner.brand_id)
    await web.sign_in(finance.email, PASSWORD)
    page = text_of(await web.get("/brand"))
    assert "Post a gig" not in page and "/brand/gigs/new" not in page
    assert "Payments and statements" in page
    await web.sign_out()
    await web.sign_in(owner.email, PASSWORD)
    assert "Post a gig" in text_of(await web.get("/brand"))


async def test_cancelling_a_funded_deal_needs_a_confirmation_and_sits_below_shipping(runtime: Any, web: Any) -> None:
    deal = await funded_deal(runtime, CollabState.FUNDED)
    await web.sign_in(deal.brand.email, PASSWORD)
    page = (await web.get(deal.url)).text
    assert page.index('id="step-ship"') < page.index('id="step-cancel"')
    assert "<details" in page[page.index('id="step-cancel"'):]
    refused = await web.post(f"{deal.url}/cancel", {"reason": "Changed plans"})
    assert refused.status_code == 422
    assert "Tick the box to confirm" in text_of(refused) and "goes back to the brand" in text_of(refused)
    assert (await load(runtime, deal.id)).status == CollabState.FUNDED
    done = await web.post(f"{deal.url}/cancel", {"reason": "Changed plans", "confirm": "1"})
    assert done.status_code in (302, 303)
    assert (await load(runtime, deal.id)).status == CollabState.CANCELLED


async def test_no_change_request_form_once_the_rounds_are_used(runtime: Any, web: Any) -> None:
    deal = await make_deal(runtime, CollabState.DRAFT_SUBMITTED, revision_rounds=1)
    await web.sign_in(deal.brand.email, PASSWORD)
    assert 'action="/collaborations/' + str(deal.id) + '/request-changes"' in (await web.get(deal.url)).text
    assert (await web.post(f"{deal.url}/request-changes", {"comment": "Show the label"})).status_code in (302, 303)
    await web.sign_out()
    await web.sign_in(deal.creator.email, PASSWORD)
    resubmitted = await web.post(f"{deal.url}/submit-draft", {"caption": "Take two @glowlab #ad #glowlab",
                                                              "media_url": "https://drive.example/v2"})
    assert resubmitted.status_code in (302, 303)
    await web.sign_out()
    await web.sign_in(deal.brand.email, PASSWORD)
    page = text_of(await web.get(deal.url))
    assert "/request-changes" not in page
    assert 'data-testid="no-rounds-left"' in page and "All 1 revision round(s) are used" in page


async def test_statements_are_in_money_with_the_other_side_named(runtime: Any, web: Any) -> None:
    from tests.support.escrow import run_jobs

    deal = await funded_deal(runtime, CollabState.VERIFIED, onboarded=True, fee_amount=4_500)
    await web.sign_in(deal.brand.email, PASSWORD)
    assert (await web.post(f"{deal.url}/approve-post", {})).status_code in (302, 303)
    await run_jobs(runtime)
    rows = list(csv.DictReader(io.StringIO((await web.get("/brand/payments/statement.csv")).text.lstrip("\ufeff"))))
    assert rows and all(r["creator"] == "Ava Brooks" for r in rows)
    paid = [r for r in rows if r["kind"] == "paid"]
    assert paid and re.fullmatch(r"-?\d+\.\d\d", paid[0]["amount"]) and paid[0]["amount_minor"].lstrip("-").isdigit()
    page = text_of(await web.get("/brand/payments"))
    assert "of which PostPact fees" not in page and "PostPact fees kept" in page
    assert "PostPact keeps its fee when a deal's payment is released" in page

    await web.sign_out()
    await web.sign_in(deal.creator.email, PASSWORD)
    rows = list(csv.DictReader(io.StringIO((await web.get("/creator/payments/statement.csv")).text.lstrip("\ufeff"))))
    payout = [r for r in rows if r["kind"] == "paid_out"]
    assert payout and payout[0]["amount"] == "45.00" and payout[0]["amount_minor"] == "4500"
    assert payout[0]["brand"] == "GlowLab"


async def test_a_creator_sees_the_dispute_they_must_answer_on_the_dashboard(runtime: Any, web: Any) -> None:
    deal = await funded_deal(runtime, CollabState.SHIPPED)
    await web.sign_in(deal.brand.email, PASSWORD)
    opened = await web.post(f"{deal.url}/dispute", {"reason": "not_posted",
                                                    "statement": "Nothing has been posted and the creator is silent."})
    assert opened.status_code in (200, 302, 303)
    await web.sign_out()
    await web.sign_in(deal.creator.email, PASSWORD)
    page = text_of(await web.get("/creator"))
    assert 'data-testid="disputes-to-answer"' in page and "A dispute needs your answer" in page
    assert f"/collaborations/{deal.id}/dispute" in page and "Nothing needs you right now" not in page


def test_email_links_follow_the_served_port_in_development(monkeypatch: pytest.MonkeyPatch) -> None:
    import uvicorn

    from marketplace import cli
    from marketplace.settings import get_settings

    seen: dict[str, str] = {}
    monkeypatch.setenv("POSTPACT_ENV", "development")
    monkeypatch.delenv("PUBLIC_URL", raising=False)
    monkeypatch.delenv("REDIS_URL", raising=False)
    monkeypatch.setattr(uvicorn, "run", lambda *a, **k: seen.update(url=get_settings().app.public_url))
    get_settings.cache_clear()
    try:
        result = CliRunner().invoke(cli.main, ["run", "--port", "8123", "--server", "uvicorn"])
        assert result.exit_code == 0, result.output
        assert seen["url"] == "http://127.0.0.1:8123"
        monkeypatch.setenv("PUBLIC_URL", "https://postpact.example")
        get_settings.cache_clear()
        CliRunner().invoke(cli.main, ["run", "--port", "8124", "--server", "uvicorn"])
        assert seen["url"] == "https://postpact.example"
    finally:
        get_settings.cache_clear()
