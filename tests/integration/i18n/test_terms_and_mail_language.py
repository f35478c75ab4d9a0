"""A Chinese-speaking brand and an English-speaking creator: the offer remembers the brand's language, each side's
mail is in their own language, and API problem details speak the caller's language."""

from __future__ import annotations

import re
from typing import Any

import sqlalchemy as sa

from marketplace.accounts.models import User
from marketplace.collaborations.models import Collaboration
from marketplace.notifications.models import OutboxEmail
from tests.support.deals import bearer
from tests.support.marketplace import apply_to_gig, make_creator_with_account, make_open_gig

CJK = re.compile(r"[\u4e00-\u9fff]")


async def test_offer_in_the_brands_language_and_mail_in_the_creators(client: Any, runtime: Any, people: Any,
                                                                    db: Any) -> None:
    brand = await people.brand()
    made = await make_creator_with_account(runtime, people)
    creator, account = made.person, made.account
    await db.execute(sa.update(User).where(User.id == brand.user_id).values(locale="zh_Hans", timezone="Asia/Shanghai"))
    await db.execute(sa.update(User).where(User.id == creator.user_id).values(locale="en",
                                                                              timezone="America/Los_Angeles"))
    gig = await make_open_gig(runtime, brand)
    application = await apply_to_gig(runtime, creator, gig.id, account.id)

    headers = await bearer(runtime, brand)
    accepted = await client.post(f"/api/v1/applications/{application.id}/accept", headers=headers)
    assert accepted.status_code == 200, accepted.text
    collab = await db.scalar(sa.select(Collaboration).where(Collaboration.application_id == application.id))
    assert collab.terms_locale == "zh_Hans" and collab.signed_locale is None

    mail = (await db.scalars(sa.select(OutboxEmail).where(OutboxEmail.to_address == creator.email))).all()
    assert mail, "the creator hears about the offer by email"
    assert all(not CJK.search(m.subject + m.body_text) for m in mail)
    assert any("Open it in PostPact" in m.body_text for m in mail)

    missing = await client.get("/api/v1/collaborations/00000000-0000-0000-0000-000000000000", headers=headers)
    assert missing.status_code == 404
    assert missing.headers["content-type"].startswith("application/problem+json")
    assert missing.json()["title"] == "未找到"
    english = await client.get("/api/v1/collaborations/00000000-0000-0000-0000-000000000000",
                               headers=await bearer(runtime, creator))
    assert english.json()["title"] == "Not found"


async def test_form_errors_in_the_viewers_language(web: Any, people: Any, db: Any) -> None:
    person = await people.creator()
    await db.execute(sa.update(User).where(User.id == person.user_id).values(locale="zh_Hans"))
    await web.sign_in(person.email, person.password)
    response = await web.post("/account/tokens", {"name": ""})
    assert response.status_code == 422
    assert "请为令牌命名" in response.text  # "Give the token a name, like 'Shopify sync'." in Chinese


async def test_offers_accepted_in_bulk_keep_the_brands_language(client: Any, runtime: Any, people: Any,
                                                                db: Any) -> None:
    """A bulk accept runs later in a worker, in no one's request: the offers still record the language of the brand
    that started it (their setting, else their request's Accept-Language), as a single accept does."""
    from marketplace.i18n import use_locale
    from tests.support.escrow import run_jobs

    saved, browser = await people.brand(brand_name="Saved"), await people.brand(brand_name="Browser")
    await db.execute(sa.update(User).where(User.id == saved.user_id).values(locale="zh_Hans"))
    for brand, accept_language in ((saved, "en"), (browser, "zh-CN,zh;q=0.9")):
        made = await make_creator_with_account(runtime, people)
        gig = await make_open_gig(runtime, brand)
        application = await apply_to_gig(runtime, made.person, gig.id, made.account.id)
        headers = {**await bearer(runtime, brand), "Accept-Language": accept_language}
        started = await client.post("/api/v1/bulk/accept", headers=headers,
                                    json={"filter": {"gig_id": str(gig.id), "status": ["pending"]}})
        assert started.status_code == 202, started.text
        with use_locale("en", "UTC"):  # the worker's own context: nobody's language
            await run_jobs(runtime)
        collab = await db.scalar(sa.select(Collaboration).where(Collaboration.application_id == application.id))
        assert collab is not None and collab.terms_locale == "zh_Hans", brand.email
