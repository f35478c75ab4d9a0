"""Brand profile and team: owners invite by signed, expiring email links; the invited person joins; roles."""

from __future__ import annotations

import re
from html import unescape

import sqlalchemy as sa

from marketplace.accounts.models import User
from marketplace.brands.models import Brand, BrandInvitation, BrandMember, BrandRole
from marketplace.notifications.models import OutboxEmail


async def invite_link(db, email: str) -> str:
    mail = await db.scalar(sa.select(OutboxEmail).where(OutboxEmail.to_address == email)
                           .order_by(OutboxEmail.created_at.desc()))
    assert mail is not None and mail.category == "team"
    match = re.search(r"http://testserver\.local(/team/join/\S+)", mail.body_text)
    assert match, mail.body_text
    return match.group(1)


async def test_owner_invites_and_the_new_person_joins_with_a_new_account(web, make_web, people, db) -> None:
    owner = await people.brand(brand_name="GlowLab")
    await web.sign_in(owner.email, owner.password)
    sent = await web.post("/brand/team/invitations", {"email": "Sam@GlowLab.test", "role": "manager"}, htmx=True)
    assert sent.status_code == 200 and 'id="team"' in sent.text and "sam@glowlab.test" in sent.text
    link = await invite_link(db, "sam@glowlab.test")
    newcomer = await make_web()
    page = await newcomer.get(link)
    assert page.status_code == 200 and "Join GlowLab" in page.text and "Create account and join" in page.text
    weak = await newcomer.post(link, {"full_name": "Sam", "password": "short"})
    assert weak.status_code == 422 and "at least 10 characters" in weak.text
    joined = await newcomer.post(link, {"full_name": "Sam Ortiz", "password": "a-decent-passphrase"})
    assert joined.status_code == 303 and joined.headers["location"] == "/brand"
    user = await db.scalar(sa.select(User).where(User.email == "sam@glowlab.test"))
    member = await db.scalar(sa.select(BrandMember).where(BrandMember.user_id == user.id))
    assert member.brand_id == owner.brand_id and member.role is BrandRole.MANAGER
    assert (await newcomer.get("/brand/gigs")).status_code == 200  # signed in, as a manager of GlowLab
    reused = await make_web()
    again = await reused.get(link)
    assert again.status_code == 400 and "can't be used" in unescape(again.text)


async def test_invitation_links_expire_and_can_be_revoked(web, make_web, people, db, clock) -> None:
    owner = await people.brand()
    await web.sign_in(owner.email, owner.password)
    await web.post("/brand/team/invitations", {"email": "late@example.test", "role": "finance"})
    link = await invite_link(db, "late@example.test")
    clock.advance(days=8)
    stranger = await make_web()
    assert (await stranger.get(link)).status_code == 400
    assert (await stranger.post(link, {"full_name": "Late", "password": "a-decent-passphrase"})).status_code == 400
    await web.post("/brand/team/invitations", {"email": "gone@example.test", "role": "manager"})
    invitation = await db.scalar(sa.select(BrandInvitation).where(BrandInvitation.email == "gone@example.test"))
    link = await invite_link(db, "gone@example.test")
    assert (await web.post(f"/brand/team/invitations/{invitation.id}/revoke")).status_code == 303
    assert (await stranger.get(link)).status_code == 400
    tampered = link[:-3] + ("aaa" if not link.endswith("aaa") else "bbb")
    assert (await stranger.get(tampered)).status_code == 400
    assert await db.scalar(sa.select(sa.func.count(User.id)).where(User.email.in_(
        ["late@example.test", "gone@example.test"]))) == 0


async def test_existing_accounts_join_only_when_they_may(web, make_web, people, db) -> None:
    owner = await people.brand(brand_name="GlowLab")
    creator = await people.creator()
    other_owner = await people.brand(brand_name="Elsewhere")
    await web.sign_in(owner.email, owner.password)
    for person in (creator, other_owner):
        await web.post("/brand/team/invitations", {"email": person.email, "role": "manager"})
        link = await invite_link(db, person.email)
        visitor = await make_web()
        await visitor.sign_in(person.email, person.password)
        page = unescape((await visitor.get(link)).text)
        assert "creator account" in page or "another brand" in page
        refused = await visitor.post(link)
        assert refused.status_code == 409
    assert await db.scalar(sa.select(sa.func.count(BrandMember.id)).where(
        BrandMember.brand_id == owner.brand_id)) == 1
    wrong_person = await make_web()
    await wrong_person.sign_in(other_owner.email, other_owner.password)
    await web.post("/brand/team/invitations", {"email": "someone@example.test", "role": "manager"})
    link = await invite_link(db, "someone@example.test")
    assert "This invitation is for someone@example.test" in unescape((await wrong_person.get(link)).text)
    assert (await wrong_person.post(link)).status_code == 403


async def test_only_owners_manage_the_team_and_a_brand_keeps_an_owner(web, make_web, people, db) -> None:
    owner = await people.brand()
    manager = await people.brand(brand_id=owner.brand_id, role=BrandRole.MANAGER)
    manager_web = await make_web()
    await manager_web.sign_in(manager.email, manager.password)
    assert (await manager_web.get("/brand/team")).status_code == 200
    assert (await manager_web.post("/brand/team/invitations", {"email": "x@example.test",
                                                                "role": "owner"})).status_code == 403
    member = await db.scalar(sa.select(BrandMember).where(BrandMember.user_id == manager.user_id))
    owner_member = await db.scalar(sa.select(BrandMember).where(BrandMember.user_id == owner.user_id))
    assert (await manager_web.post(f"/brand/team/members/{owner_member.id}/remove")).status_code == 403
    await web.sign_in(owner.email, owner.password)
    last_owner = await web.post(f"/brand/team/members/{owner_member.id}/role", {"role": "manager"}, htmx=True)
    assert last_owner.status_code == 409 and "at least one owner" in last_owner.text
    assert (await web.post(f"/brand/team/members/{member.id}/role", {"role": "finance"})).status_code == 303
    assert (await db.get(BrandMember, member.id)).role is BrandRole.FINANCE
    rival = await people.brand(brand_name="Rival")
    rival_member = await db.scalar(sa.select(BrandMember).where(BrandMember.user_id == rival.user_id))
    assert (await web.post(f"/brand/team/members/{rival_member.id}/remove")).status_code == 404
    assert (await web.post(f"/brand/team/members/{member.id}/remove")).status_code == 303
    assert await db.get(BrandMember, member.id) is None
    assert await db.get(BrandMember, rival_member.id) is not None
    assert await db.scalar(sa.select(sa.func.count(BrandInvitation.id))) == 0


async def test_brand_profile(web, make_web, people, db) -> None:
    owner = await people.brand(brand_name="GlowLab")
    await web.sign_in(owner.email, owner.password)
    bad = await web.post("/brand/profile", {"name": "", "website": "glowlab", "country": "Narnia"}, htmx=True)
    assert bad.status_code == 422 and "<html" not in bad.text
    assert "Brand name is required." in bad.text and "two-letter country code" in bad.text
    good = await web.post("/brand/profile", {"name": "GlowLab Skincare", "website": "https://glowlab.test",
                                             "country": "us", "description": "Serums."})
    assert good.status_code == 303
    brand = await db.get(Brand, owner.brand_id)
    assert (brand.name, brand.website, brand.country) == ("GlowLab Skincare", "https://glowlab.test", "US")
    finance = await people.brand(brand_id=owner.brand_id, role=BrandRole.FINANCE)
    finance_web = await make_web()
    await finance_web.sign_in(finance.email, finance.password)
    assert (await finance_web.get("/brand/profile")).status_code == 200
    assert (await finance_web.post("/brand/profile", {"name": "Hacked"})).status_code == 403
    creator = await people.creator()
    creator_web = await make_web()
    await creator_web.sign_in(creator.email, creator.password)
    assert (await creator_web.post("/brand/profile", {"name": "Hacked"})).status_code == 403
    assert (await db.get(Brand, owner.brand_id)).name == "GlowLab Skincare"
