"""The creator's own profile: details, social accounts (handles, claimed handles, totals), rates and address."""

from __future__ import annotations

from html import unescape

import sqlalchemy as sa

from marketplace.creators.models import Creator, CreatorNiche, RateCardEntry, ShippingAddress, SocialAccount
from tests.support.marketplace import apply_to_gig, make_creator_with_account, make_gig

ACCOUNT = {"platform": "tiktok", "handle": "@Glow.With.Ava", "profile_url": "https://www.tiktok.com/@glow.with.ava",
           "followers": "12000", "average_views": "4000", "engagement_rate": "4.25"}


async def test_details_and_accounts_keep_the_directory_totals(web, people, db) -> None:
    creator = await people.creator()
    await web.sign_in(creator.email, creator.password)
    assert (await web.get("/creator/profile")).status_code == 200
    saved = await web.post("/creator/profile", {"display_name": "Ava", "bio": "Skincare nerd", "country": "gb",
                                                "languages": "en, fr", "niches": "Skincare, wellness"}, htmx=True)
    assert saved.status_code == 200 and 'id="details"' in saved.text and "<html" not in saved.text
    row = await db.get(Creator, creator.creator_id)
    assert (row.display_name, row.country, row.languages) == ("Ava", "GB", ["en", "fr"])
    assert sorted(await db.scalars(sa.select(CreatorNiche.niche))) == ["skincare", "wellness"]
    added = await web.post("/creator/profile/accounts", ACCOUNT)
    assert added.status_code == 303
    account = await db.scalar(sa.select(SocialAccount).where(SocialAccount.creator_id == creator.creator_id))
    assert account.handle == "glow.with.ava" and account.engagement_bps == 425
    await web.post("/creator/profile/accounts", {**ACCOUNT, "platform": "youtube", "handle": "avaglow",
                                                 "followers": "3000", "engagement_rate": "6"})
    row = await db.get(Creator, creator.creator_id)
    assert (row.total_followers, row.best_engagement_bps) == (15_000, 600)
    await web.post(f"/creator/profile/accounts/{account.id}", {**ACCOUNT, "followers": "20000"})
    assert (await db.get(Creator, creator.creator_id)).total_followers == 23_000
    youtube = await db.scalar(sa.select(SocialAccount).where(SocialAccount.platform == "youtube"))
    await web.post(f"/creator/profile/accounts/{youtube.id}/remove")
    row = await db.get(Creator, creator.creator_id)
    assert (row.total_followers, row.best_engagement_bps) == (20_000, 425)


async def test_claimed_handles_and_bad_input_are_refused_clearly(web, make_web, people, db) -> None:
    first = await people.creator()
    await web.sign_in(first.email, first.password)
    assert (await web.post("/creator/profile/accounts", ACCOUNT)).status_code == 303
    second = await people.creator()
    other = await make_web()
    await other.sign_in(second.email, second.password)
    claimed = await other.post("/creator/profile/accounts", {**ACCOUNT, "handle": "GLOW.WITH.AVA"}, htmx=True)
    assert claimed.status_code == 422 and "<html" not in claimed.text
    assert "@glow.with.ava on TikTok is already linked to another PostPact creator" in unescape(claimed.text)
    bad = await other.post("/creator/profile/accounts", {"platform": "myspace", "handle": "no spaces!",
                                                         "profile_url": "ftp://x", "followers": "-3",
                                                         "engagement_rate": "abc"})
    text = unescape(bad.text)
    assert bad.status_code == 422
    assert "Platform must be one of" in text and "A handle has letters" in text
    assert "Profile URL must be a full web address" in text and "Followers can't be negative." in text
    assert await db.scalar(sa.select(sa.func.count(SocialAccount.id)).where(
        SocialAccount.creator_id == second.creator_id)) == 0
    assert (await db.get(Creator, second.creator_id)).total_followers == 0


async def test_accounts_named_in_applications_stay_linked(web, runtime, people, db) -> None:
    made = await make_creator_with_account(runtime, people)
    gig = await make_gig(runtime, await people.brand())
    await apply_to_gig(runtime, made.person, gig.id, made.account.id)
    await web.sign_in(made.person.email, made.person.password)
    refused = await web.post(f"/creator/profile/accounts/{made.account.id}/remove")
    assert refused.status_code == 422 and "stays linked" in refused.text
    assert await db.get(SocialAccount, made.account.id) is not None


async def test_rate_card_and_address(web, make_web, people, db) -> None:
    creator = await people.creator()
    await web.sign_in(creator.email, creator.password)
    await web.post("/creator/profile/rates", {"rate.platform": "tiktok", "rate.kind": "video", "rate.amount": "120",
                                             "rate.currency": "USD"})
    await web.post("/creator/profile/rates", {"rate.platform": "tiktok", "rate.kind": "video", "rate.amount": "150",
                                             "rate.currency": "USD"})
    rates = list(await db.scalars(sa.select(RateCardEntry)))
    assert [(r.base_fee_amount, r.currency) for r in rates] == [(15_000, "USD")]
    yen = await web.post("/creator/profile/rates", {"rate.platform": "youtube", "rate.kind": "video",
                                                    "rate.amount": "1500.50", "rate.currency": "JPY"})
    assert yen.status_code == 422 and "no decimal places" in yen.text
    incomplete = await web.post("/creator/profile/address", {"recipient_name": "Ava", "address_country": "ZZ"},
                                htmx=True)
    assert incomplete.status_code == 422 and 'id="address"' in incomplete.text
    assert "City is required." in incomplete.text
    saved = await web.post("/creator/profile/address", {
        "recipient_name": "Ava Brooks", "line1": "1 High St", "city": "Leeds", "postal_code": "LS1 1AA",
        "address_country": "gb"})
    assert saved.status_code == 303
    address = await db.scalar(sa.select(ShippingAddress).where(ShippingAddress.creator_id == creator.creator_id))
    assert address.country == "GB" and address.city == "Leeds"
    page = await web.get("/creator/profile")
    assert "1 High St" in page.text and 'id="payouts"' in page.text
    other = await people.creator()
    other_web = await make_web()
    await other_web.sign_in(other.email, other.password)
    assert "1 High St" not in (await other_web.get("/creator/profile")).text
    assert (await other_web.post(f"/creator/profile/rates/{rates[0].id}/remove")).status_code == 404
    assert await db.get(RateCardEntry, rates[0].id) is not None


async def test_the_profile_shows_the_real_payout_status(web, runtime, people) -> None:
    from tests.support.escrow import onboard_creator

    creator = await people.creator()
    await web.sign_in(creator.email, creator.password)
    before = unescape((await web.get("/creator/profile")).text)
    assert "No payout account yet" in before and 'href="/creator/payments"' in before
    assert "Payouts ready" not in before

    await onboard_creator(runtime, creator)

    after = unescape((await web.get("/creator/profile")).text)
    assert "Payouts ready" in after and "No payout account yet" not in after
