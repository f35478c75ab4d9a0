"""Who may open or change a gig, an application, a profile or an address through the pages: another brand gets
404, a creator 403 on brand pages (404 for things that are not theirs), an anonymous visitor is sent to sign in —
and nothing changes."""

from __future__ import annotations

from urllib.parse import quote

import sqlalchemy as sa

from marketplace.applications.models import Application
from marketplace.creators.models import Creator, CreatorNiche, RateCardEntry, ShippingAddress, SocialAccount
from marketplace.creators.services import CreatorProfileService
from marketplace.db import session_scope
from marketplace.gigs.models import Deliverable, Gig, GigInvitation
from marketplace.notifications.models import Notification, OutboxEmail
from tests.support.marketplace import actor_for, apply_to_gig, make_creator_with_account, make_gig


async def snapshot(db) -> tuple:
    gigs = [(g.id, g.title, str(g.status), g.base_fee_amount, tuple(g.reminder_offsets_hours))
            for g in await db.scalars(sa.select(Gig).order_by(Gig.id))]
    applications = [(a.id, str(a.status)) for a in await db.scalars(sa.select(Application).order_by(Application.id))]
    accounts = [(a.id, a.handle, a.followers) for a in await db.scalars(sa.select(SocialAccount).order_by(
        SocialAccount.id))]
    creators = [(c.id, c.display_name) for c in await db.scalars(sa.select(Creator).order_by(Creator.id))]
    counts = [await db.scalar(sa.select(sa.func.count(m.id))) for m in (Deliverable, GigInvitation, RateCardEntry)]
    return gigs, applications, accounts, creators, counts


async def test_page_matrix(web, make_web, runtime, people, db) -> None:
    brand = await people.brand()
    open_gig = await make_gig(runtime, brand, title="Open gig")
    draft = await make_gig(runtime, brand, title="Draft gig", publish=False)
    owner_of_account = await make_creator_with_account(runtime, people)
    application = await apply_to_gig(runtime, owner_of_account.person, open_gig.id, owner_of_account.account.id)
    rival = await people.brand(brand_name="Rival")
    stranger = await make_creator_with_account(runtime, people)
    gig_form = {"title": "Hijacked", "brief": "x", "base_fee.amount": "1", "base_fee.currency": "USD",
                "product_name": "x", "deliverables[0].platform": "tiktok", "deliverables[0].kind": "video"}
    brand_pages = [
        ("GET", f"/brand/gigs/{open_gig.id}", None),
        ("GET", f"/brand/gigs/{draft.id}", None),
        ("POST", f"/brand/gigs/{open_gig.id}", gig_form),
        ("POST", f"/brand/gigs/{draft.id}/publish", {}),
        ("POST", f"/brand/gigs/{open_gig.id}/close", {}),
        ("POST", f"/brand/gigs/{draft.id}/archive", {}),
        ("POST", f"/brand/gigs/{open_gig.id}/reminders", {"reminder_offsets_hours": "1"}),
        ("GET", f"/brand/gigs/{open_gig.id}/applications", None),
        ("POST", f"/brand/gigs/{open_gig.id}/applications/decide", {"accept_one": str(application.id)}),
        ("POST", "/brand/creators/invite", {"gig_id": str(open_gig.id), "creator_ids": str(stranger.creator_id)}),
    ]
    creator_pages = [
        ("GET", f"/gigs/{draft.id}", None),
        ("POST", f"/gigs/{draft.id}/apply", {"pitch": "x", "social_account_id": str(stranger.account.id)}),
        ("POST", f"/creator/applications/{application.id}/withdraw", {}),
        ("POST", f"/creator/profile/accounts/{owner_of_account.account.id}", {
            "platform": "tiktok", "handle": "stolen", "profile_url": "https://x.test/a", "followers": "1"}),
        ("POST", f"/creator/profile/accounts/{owner_of_account.account.id}/remove", {}),
    ]
    before = await snapshot(db)

    async def call(client, method, path, data):
        return await (client.get(path) if method == "GET" else client.post(path, data or {}))

    rival_web = await make_web()
    await rival_web.sign_in(rival.email, rival.password)
    stranger_web = await make_web()
    await stranger_web.sign_in(stranger.person.email, stranger.person.password)
    anonymous = await make_web()
    for method, path, data in brand_pages:
        assert (await call(rival_web, method, path, data)).status_code == 404, path
        assert (await call(stranger_web, method, path, data)).status_code == 403, path
        anon = await call(anonymous, method, path, data)
        assert anon.status_code in (303, 403) and (anon.status_code == 403 or "/signin" in anon.headers["location"])
    for method, path, data in creator_pages:
        assert (await call(stranger_web, method, path, data)).status_code == 404, path
        assert (await call(rival_web, method, path, data)).status_code == 403, path
    # A brand sees a creator's profile page, but another creator does not get the brand-side view.
    assert (await stranger_web.get(f"/brand/creators/{owner_of_account.creator_id}")).status_code == 403
    assert await snapshot(db) == before


async def creator_side_snapshot(db) -> tuple:
    """Everything a creator-side page or action could change: the shared snapshot plus the creator's own records."""
    applications = [(a.id, str(a.status), a.pitch, a.counter_offer_amount, a.social_account_id)
                    for a in await db.scalars(sa.select(Application).order_by(Application.id))]
    creators = [(c.id, c.display_name, c.bio, c.country, tuple(c.languages or []))
                for c in await db.scalars(sa.select(Creator).order_by(Creator.id))]
    rates = [(r.id, r.base_fee_amount) for r in await db.scalars(sa.select(RateCardEntry).order_by(RateCardEntry.id))]
    addresses = [(a.id, a.line1, a.city) for a in await db.scalars(sa.select(ShippingAddress).order_by(
        ShippingAddress.id))]
    counts = [await db.scalar(sa.select(sa.func.count(m.id))) for m in (CreatorNiche, Notification, OutboxEmail)]
    return await snapshot(db), applications, creators, rates, addresses, counts


async def test_anonymous_creator_side_matrix(make_web, client, runtime, people, db) -> None:
    """An anonymous visitor on the creator side: pages send them to sign in (htmx gets a 401 with HX-Redirect),
    actions are refused (sign-in redirect with a CSRF token, 403 without), the API answers 401 — nothing changes."""
    brand = await people.brand()
    gig = await make_gig(runtime, brand, title="Open gig")
    creator = await make_creator_with_account(runtime, people)
    application = await apply_to_gig(runtime, creator.person, gig.id, creator.account.id)
    actor = await actor_for(runtime, creator.person)
    async with session_scope(runtime.session_maker) as session:
        profiles = CreatorProfileService(session)
        rate = await profiles.save_rate(actor, {"platform": "tiktok", "kind": "video", "currency": "USD",
                                                "base_fee_amount": 20_000})
        await profiles.save_address(actor, {"recipient_name": "Ava", "line1": "1 Main St", "line2": "",
                                            "city": "Austin", "region": "TX", "postal_code": "78701", "phone": "",
                                            "country": "US"})
    account_form = {"platform": "tiktok", "handle": "stolen", "profile_url": "https://x.test/a", "followers": "1"}
    pages = ["/creator", "/gigs", "/gigs?q=serum", f"/gigs/{gig.id}", "/creator/applications", "/creator/profile"]
    actions = [
        (f"/gigs/{gig.id}/apply", {"pitch": "x", "social_account_id": str(creator.account.id)}),
        (f"/creator/applications/{application.id}/withdraw", {}),
        ("/creator/profile", {"display_name": "Hijacked", "bio": "x", "country": "DE"}),
        ("/creator/profile/accounts", account_form),
        (f"/creator/profile/accounts/{creator.account.id}", account_form),
        (f"/creator/profile/accounts/{creator.account.id}/remove", {}),
        ("/creator/profile/rates", {"rate.platform": "tiktok", "rate.kind": "video", "rate.amount": "1"}),
        (f"/creator/profile/rates/{rate.id}/remove", {}),
        ("/creator/profile/address", {"recipient_name": "X", "line1": "2 Other St", "city": "Elsewhere",
                                      "postal_code": "1", "address_country": "US"}),
    ]
    api_reads = ["/api/v1/gigs", f"/api/v1/gigs/{gig.id}", f"/api/v1/gigs/{gig.id}/applications"]
    api_writes = [
        (f"/api/v1/gigs/{gig.id}/applications", {"pitch": "x", "social_account_id": str(creator.account.id)}),
        (f"/api/v1/applications/{application.id}/withdraw", {}),
    ]
    before = await creator_side_snapshot(db)

    anonymous = await make_web()
    for path in pages:
        response = await anonymous.get(path)
        assert response.status_code == 303, (path, response.status_code)
        assert response.headers["location"] == "/signin?next=" + quote(path), (path, response.headers["location"])
        response = await anonymous.get(path, htmx=True)
        assert response.status_code == 401, (path, response.status_code)
        assert response.headers["hx-redirect"] == "/signin?next=" + quote(path), path
    for path, data in actions:
        with_token = await anonymous.post(path, data)
        assert with_token.status_code == 303, (path, with_token.status_code)
        assert with_token.headers["location"] == "/signin?next=" + quote(path), path
        without_token = await anonymous.post(path, data, csrf=False)
        assert without_token.status_code == 403, (path, without_token.status_code)
    for headers in ({}, {"Authorization": "Bearer pp_not-a-real-token"}):
        for path in api_reads:
            response = await client.get(path, headers=headers)
            assert response.status_code == 401, (path, headers, response.status_code)
            assert response.headers["content-type"].startswith("application/problem+json"), path
            assert response.headers["www-authenticate"].startswith("Bearer"), path
        for path, body in api_writes:
            response = await client.post(path, json=body, headers=headers)
            assert response.status_code == 401, (path, headers, response.status_code)
            assert response.headers["content-type"].startswith("application/problem+json"), path
    assert await creator_side_snapshot(db) == before
    # The records the actions aimed at are still there (so the snapshot compared something real).
    assert (await db.get(Application, application.id)).status.value == "pending"
    assert await db.get(RateCardEntry, rate.id) is not None
