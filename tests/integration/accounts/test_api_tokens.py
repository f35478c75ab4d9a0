"""Personal API tokens: created once, stored hashed, revocable; /api needs a bearer token and no CSRF."""

from __future__ import annotations

import re

import sqlalchemy as sa

from marketplace.accounts.models import ApiToken, User
from marketplace.brands.models import Brand


async def test_token_from_credentials_authenticates_api_calls(client, people) -> None:
    person = await people.brand()
    response = await client.post(
        "/api/v1/auth/token", json={"email": person.email, "password": person.password, "name": "Shopify sync"}
    )
    assert response.status_code == 201, response.text
    token = response.json()["token"]
    me = await client.get("/api/v1/me", headers={"Authorization": f"Bearer {token}"})
    assert me.status_code == 200
    assert me.json()["email"] == person.email
    assert me.json()["kind"] == "brand"
    assert me.json()["brand_id"] == str(person.brand_id)


async def test_missing_and_invalid_tokens_get_problem_details(client) -> None:
    missing = await client.get("/api/v1/me")
    assert missing.status_code == 401
    assert missing.headers["content-type"].startswith("application/problem+json")
    assert missing.json()["status"] == 401 and missing.json()["title"] == "Sign-in required"
    invalid = await client.get("/api/v1/me", headers={"Authorization": "Bearer pp_not-a-real-token"})
    assert invalid.status_code == 401


async def test_revoked_token_stops_working(client, people) -> None:
    person = await people.creator()
    issued = (await client.post("/api/v1/auth/token", json={"email": person.email, "password": person.password})).json()
    headers = {"Authorization": f"Bearer {issued['token']}"}
    assert (await client.get("/api/v1/me", headers=headers)).status_code == 200
    revoked = await client.post(f"/api/v1/tokens/{issued['id']}/revoke", headers=headers)
    assert revoked.status_code == 201
    assert revoked.json()["revoked_at"] is not None
    assert (await client.get("/api/v1/me", headers=headers)).status_code == 401


async def test_tokens_are_stored_as_digests_only(client, people, db) -> None:
    person = await people.creator()
    issued = (await client.post("/api/v1/auth/token", json={"email": person.email, "password": person.password})).json()
    row = await db.scalar(sa.select(ApiToken).where(ApiToken.user_id == person.user_id))
    assert row.token_digest != issued["token"]
    assert issued["token"] not in row.token_digest
    assert row.token_prefix == issued["token"][:10]


async def test_a_session_cookie_does_not_authorise_the_api(web, people) -> None:
    person = await people.creator()
    await web.sign_in(person.email, person.password)
    assert (await web.get("/api/v1/me")).status_code == 401


async def test_wrong_password_for_token_is_refused(client, people) -> None:
    person = await people.creator()
    response = await client.post("/api/v1/auth/token", json={"email": person.email, "password": "wrong-password"})
    assert response.status_code == 422
    assert response.json()["errors"] == [{"field": "password", "message": "Email or password is not right."}]


async def test_api_sign_up_and_bad_bodies(client, db) -> None:
    created = await client.post(
        "/api/v1/auth/signup",
        json={
            "kind": "creator",
            "email": "Api@Example.test",
            "password": "a-decent-passphrase",
            "full_name": "Api User",
        },
    )
    # The same answer for a new address and a taken one (sign-up can't tell who has an account); the token comes
    # from exchanging the email and password, as for any sign-in.
    assert created.status_code == 202, created.text
    assert created.json() == {"email": "api@example.test",
                              "detail": "Check your email to continue. Then get a token with POST /api/v1/auth/token."}
    token = await client.post("/api/v1/auth/token", json={"email": "api@example.test",
                                                          "password": "a-decent-passphrase"})
    me = await client.get("/api/v1/me", headers={"Authorization": f"Bearer {token.json()['token']}"})
    assert me.json()["email"] == "api@example.test"
    dup = await client.post(
        "/api/v1/auth/signup",
        json={
            "kind": "brand",
            "email": "API@example.test",
            "password": "a-decent-passphrase",
            "full_name": "X",
            "brand_name": "Y",
        },
    )
    assert (dup.status_code, dup.json()) == (created.status_code, created.json())
    assert await db.scalar(sa.select(sa.func.count(User.id)).where(User.email == "api@example.test")) == 1
    assert await db.scalar(sa.select(sa.func.count(Brand.id)).where(Brand.name == "Y")) == 0
    admin = await client.post(
        "/api/v1/auth/signup",
        json={"kind": "admin", "email": "adm@example.test", "password": "a-decent-passphrase", "full_name": "X"},
    )
    assert admin.status_code == 422
    malformed = await client.post(
        "/api/v1/auth/signup", content=b"{not json", headers={"Content-Type": "application/json"}
    )
    assert malformed.status_code == 400
    assert malformed.headers["content-type"].startswith("application/problem+json")
    unknown_field = await client.post(
        "/api/v1/auth/signup",
        json={
            "kind": "creator",
            "email": "z@example.test",
            "password": "a-decent-passphrase",
            "full_name": "Z",
            "role": "admin",
        },
    )
    assert unknown_field.status_code == 400


async def test_account_page_creates_and_revokes_tokens(web, people, db) -> None:
    person = await people.creator()
    await web.sign_in(person.email, person.password)
    created = await web.post("/account/tokens", {"name": "Zapier"})
    assert created.status_code == 201
    token = re.search(r'data-testid="new-token">(pp_[^<]+)<', created.text).group(1)
    assert (await web.client.get("/api/v1/me", headers={"Authorization": f"Bearer {token}"})).status_code == 200
    row = await db.scalar(sa.select(ApiToken).where(ApiToken.user_id == person.user_id))
    # Listed again later without the secret.
    page = await web.get("/account")
    assert "Zapier" in page.text and token not in page.text
    revoked = await web.post(f"/account/tokens/{row.id}/revoke", htmx=True)
    assert revoked.status_code == 200 and "revoked" in revoked.text
    assert (await web.client.get("/api/v1/me", headers={"Authorization": f"Bearer {token}"})).status_code == 401


async def test_one_user_cannot_revoke_anothers_token(make_web, people, db) -> None:
    alice, bob = await people.creator(), await people.creator()
    a, b = await make_web(), await make_web()
    await a.sign_in(alice.email, alice.password)
    await b.sign_in(bob.email, bob.password)
    await a.post("/account/tokens", {"name": "alice's"})
    row = await db.scalar(sa.select(ApiToken).where(ApiToken.user_id == alice.user_id))
    response = await b.post(f"/account/tokens/{row.id}/revoke")
    assert response.status_code == 404
    assert (await db.get(ApiToken, row.id)).revoked_at is None


async def test_openapi_schema_is_served(client) -> None:
    schema = await client.get("/schema/openapi.json")
    assert schema.status_code == 200
    paths = schema.json()["paths"]
    assert "/api/v1/auth/token" in paths
    assert "/signin" not in paths
