"""Sign-up, sign-in, sign-out and role guards through the real pages."""

from __future__ import annotations

import re

import sqlalchemy as sa

from marketplace.accounts.models import User, UserKind
from marketplace.brands.models import Brand, BrandMember, BrandRole
from marketplace.creators.models import Creator
from marketplace.notifications.models import OutboxEmail

PASSWORD = "a-decent-passphrase"
CHECK_EMAIL = "Check your email"


async def emailed_link(db, to: str, path: str) -> str:
    """The link under ``path`` in the newest email to ``to`` (from the outbox), as a path on this site."""
    body = await db.scalar(sa.select(OutboxEmail.body_text).where(OutboxEmail.to_address == to)
                           .order_by(OutboxEmail.created_at.desc()).limit(1))
    match = re.search(r"https?://[^/\s]+(" + re.escape(path) + r"\S*)", body or "")
    assert match, body
    return match.group(1)


async def test_brand_sign_up_creates_the_organisation_with_the_user_as_owner(web, db) -> None:
    response = await web.post(
        "/signup",
        {
            "kind": "brand",
            "full_name": "Maya Chen",
            "email": "Maya@GlowLab.test ",
            "password": PASSWORD,
            "brand_name": "GlowLab",
        },
    )
    # Not signed in yet: the page says to check the email, which carries a one-time sign-in link.
    assert response.status_code == 200 and CHECK_EMAIL in response.text and "maya@glowlab.test" in response.text
    assert (await web.get("/brand")).status_code == 303
    link = await emailed_link(db, "maya@glowlab.test", "/signup/welcome/")
    welcomed = await web.get(link)
    assert welcomed.status_code == 303 and welcomed.headers["location"] == "/brand"
    assert (await web.get(link)).status_code == 400  # once only
    user = await db.scalar(sa.select(User).where(User.email == "maya@glowlab.test"))
    assert user is not None and user.kind is UserKind.BRAND
    member = await db.scalar(sa.select(BrandMember).where(BrandMember.user_id == user.id))
    assert member is not None and member.role is BrandRole.OWNER
    brand = await db.get(Brand, member.brand_id)
    assert brand is not None and brand.name == "GlowLab"
    page = await web.get("/brand")
    assert page.status_code == 200 and "Welcome, Maya Chen" in page.text
    welcome = await db.scalar(sa.select(OutboxEmail).where(OutboxEmail.to_address == "maya@glowlab.test"))
    assert welcome is not None and welcome.subject == "Welcome to PostPact"


async def test_creator_sign_up_creates_a_creator_profile(web, db) -> None:
    response = await web.post(
        "/signup", {"kind": "creator", "full_name": "Ava Brooks", "email": "ava@example.test", "password": PASSWORD}
    )
    assert response.status_code == 200 and CHECK_EMAIL in response.text
    await web.sign_in("ava@example.test", PASSWORD)  # the password works at once too, without the link
    assert (await web.get("/creator")).status_code == 200
    user = await db.scalar(sa.select(User).where(User.email == "ava@example.test"))
    creator = await db.scalar(sa.select(Creator).where(Creator.user_id == user.id))
    assert creator is not None and creator.display_name == "Ava Brooks"


async def test_stored_password_hashes_are_argon2id(web, db) -> None:
    await web.post(
        "/signup", {"kind": "creator", "full_name": "Ben", "email": "ben@example.test", "password": PASSWORD}
    )
    stored = await db.scalar(sa.select(User.password_hash).where(User.email == "ben@example.test"))
    assert stored.startswith("$argon2id$")
    assert PASSWORD not in stored


async def test_a_taken_email_gets_the_same_answer_and_its_owner_an_email(web, people, db) -> None:
    """Sign-up must not tell who has an account: the page is the one a new address gets; the owner is told."""
    person = await people.creator(email="chloe@example.test")
    fresh = await web.post("/signup", {"kind": "brand", "full_name": "Other", "email": "dana@example.test",
                                       "password": PASSWORD, "brand_name": "Dana brand"})
    response = await web.post(
        "/signup",
        {
            "kind": "brand",
            "full_name": "Other",
            "email": "CHLOE@Example.TEST",
            "password": PASSWORD,
            "brand_name": "Other brand",
        },
    )
    assert response.status_code == fresh.status_code == 200
    assert response.text.replace("chloe@example.test", "dana@example.test") == fresh.text
    assert "already exists" not in response.text
    told = await db.scalar(sa.select(OutboxEmail).where(OutboxEmail.to_address == "chloe@example.test")
                           .order_by(OutboxEmail.created_at.desc()).limit(1))
    assert told.subject == "Someone tried to sign up to PostPact with your address"
    assert "/password/forgot" in told.body_text and "/signup/welcome/" not in told.body_text
    # Nothing written for the taken address.
    assert await db.scalar(sa.select(sa.func.count(Brand.id)).where(Brand.name == "Other brand")) == 0
    assert await db.scalar(sa.select(sa.func.count(User.id)).where(User.email == person.email)) == 1


async def test_sign_up_field_errors_are_shown_in_place(web, db) -> None:
    response = await web.post(
        "/signup", {"kind": "brand", "full_name": "", "email": "not-an-email", "password": "short", "brand_name": ""}
    )
    assert response.status_code == 422
    text = response.text
    assert "Enter a valid email address" in text
    assert "Password must be at least 10 characters." in text
    assert "Your name is required." in text
    assert "Brand name is required." in text
    assert 'aria-invalid="true"' in text
    assert await db.scalar(sa.select(sa.func.count(User.id))) == 0


async def test_sign_up_cannot_create_an_admin(web, db) -> None:
    response = await web.post(
        "/signup", {"kind": "admin", "full_name": "Mallory", "email": "m@example.test", "password": PASSWORD}
    )
    assert response.status_code == 422
    assert await db.scalar(sa.select(sa.func.count(User.id))) == 0


async def test_htmx_sign_up_error_returns_only_the_form(web) -> None:
    response = await web.post(
        "/signup", {"kind": "creator", "full_name": "X", "email": "bad", "password": PASSWORD}, htmx=True
    )
    assert response.status_code == 422
    assert response.text.lstrip().startswith("<form")
    assert "<html" not in response.text


async def test_sign_in_and_out(web, people) -> None:
    person = await people.brand()
    response = await web.post("/signin", {"email": person.email.upper(), "password": person.password})
    assert response.status_code == 303 and response.headers["location"] == "/brand"
    assert (await web.get("/brand")).status_code == 200
    await web.sign_out()
    response = await web.get("/brand")
    assert response.status_code == 303
    assert response.headers["location"].startswith("/signin?next=/brand")


async def test_wrong_password_is_refused_without_saying_which_part(web, people) -> None:
    person = await people.creator()
    response = await web.post("/signin", {"email": person.email, "password": "not-the-password"})
    assert response.status_code == 422
    assert "Email or password is not right." in response.text
    unknown = await web.post("/signin", {"email": "nobody@example.test", "password": "not-the-password"})
    assert "Email or password is not right." in unknown.text
    assert (await web.get("/creator")).status_code == 303


async def test_sign_in_returns_to_the_page_asked_for_but_never_off_site(web, people) -> None:
    person = await people.brand()
    response = await web.post("/signin", {"email": person.email, "password": person.password, "next": "/account"})
    assert response.headers["location"] == "/account"
    await web.sign_out()
    response = await web.post(
        "/signin", {"email": person.email, "password": person.password, "next": "https://evil.test/phish"}
    )
    assert response.headers["location"] == "/brand"


async def test_sign_in_rotates_the_session_id(web, people) -> None:
    person = await people.creator()
    # Planted before the page is loaded, so the form's CSRF token belongs to the planted session (as it would
    # for a victim browsing with an attacker's cookie).
    web.client.cookies.set("postpact_session", "planted-by-attacker", domain="testserver.local")
    await web.get("/signin")
    response = await web.post("/signin", {"email": person.email, "password": person.password})
    assert response.status_code == 303
    cookie = next(v for k, v in response.headers.multi_items() if k == "set-cookie" and "postpact_session=" in v)
    new_id = cookie.split(";")[0].split("=", 1)[1]
    assert new_id not in ("", "null", "planted-by-attacker")


async def test_rate_limit_trips_after_a_burst_of_failed_sign_ins(web, people) -> None:
    person = await people.creator()
    statuses = []
    for _ in range(5):
        statuses.append((await web.post("/signin", {"email": person.email, "password": "wrong-password!"})).status_code)
    assert statuses == [422] * 5
    blocked = await web.post("/signin", {"email": person.email, "password": person.password})
    assert blocked.status_code == 429
    assert "Too many failed sign-ins" in blocked.text
    assert int(blocked.headers["retry-after"]) > 0


async def test_sign_in_rehashes_when_hash_parameters_change(web, people, db, runtime) -> None:
    from argon2 import PasswordHasher, Type

    person = await people.creator()
    old_hash = await db.scalar(sa.select(User.password_hash).where(User.id == person.user_id))
    runtime.passwords.hasher = PasswordHasher(time_cost=2, memory_cost=2048, parallelism=1, type=Type.ID)
    await web.sign_in(person.email, person.password)
    new_hash = await db.scalar(sa.select(User.password_hash).where(User.id == person.user_id))
    assert new_hash != old_hash
    assert new_hash.startswith("$argon2id$v=19$m=2048,t=2,p=1$")


async def test_form_post_without_csrf_token_is_refused(web, people, db) -> None:
    person = await people.creator()
    response = await web.post("/signin", {"email": person.email, "password": person.password}, csrf=False)
    assert response.status_code == 403
    response = await web.post(
        "/signup",
        {"kind": "creator", "full_name": "Eve", "email": "eve@example.test", "password": PASSWORD},
        csrf=False,
    )
    assert response.status_code == 403
    assert await db.scalar(sa.select(sa.func.count(User.id)).where(User.email == "eve@example.test")) == 0


async def test_forged_csrf_token_is_refused(web, people) -> None:
    person = await people.creator()
    await web.get("/signin")
    response = await web.post(
        "/signin", [("email", person.email), ("password", person.password), ("_csrf_token", "forged-token")], csrf=False
    )
    assert response.status_code == 403


async def test_cookies_are_httponly_and_samesite(web, people) -> None:
    person = await people.creator()
    response = await web.post("/signin", {"email": person.email, "password": person.password})
    cookie = next(v for k, v in response.headers.multi_items() if k == "set-cookie" and "postpact_session=" in v)
    assert "HttpOnly" in cookie
    assert "SameSite=lax" in cookie or "SameSite=Lax" in cookie
    page = await web.client.get("/signup")
    csrf = (
        next(v for k, v in page.headers.multi_items() if k == "set-cookie" and "postpact_csrf=" in v)
        if "postpact_csrf" in page.headers.get("set-cookie", "")
        else None
    )
    if csrf is not None:
        assert "HttpOnly" in csrf


async def test_role_guards(make_web, people) -> None:
    brand, creator, admin = await people.brand(), await people.creator(), await people.admin()
    as_brand, as_creator, as_admin, anonymous = [await make_web() for _ in range(4)]
    await as_brand.sign_in(brand.email, brand.password)
    await as_creator.sign_in(creator.email, creator.password)
    await as_admin.sign_in(admin.email, admin.password)
    assert (await as_creator.get("/brand")).status_code == 403
    assert (await as_brand.get("/creator")).status_code == 403
    assert (await as_brand.get("/admin")).status_code == 403
    assert (await as_creator.get("/admin")).status_code == 403
    assert (await as_admin.get("/admin")).status_code == 200
    for path in ("/brand", "/creator", "/admin", "/account"):
        response = await anonymous.get(path)
        assert response.status_code == 303, path
        assert response.headers["location"] == f"/signin?next={path}"
    htmx = await anonymous.get("/brand", htmx=True)
    assert htmx.status_code == 401 and htmx.headers["hx-redirect"].startswith("/signin")


async def test_forbidden_page_explains_itself(web, people) -> None:
    creator = await people.creator()
    await web.sign_in(creator.email, creator.password)
    response = await web.get("/brand")
    assert response.status_code == 403
    assert "This page is for brand teams." in response.text
    assert re.search(r"<h1>\s*Forbidden\s*</h1>", response.text)
