"""Text PostgreSQL can't store (NUL) in the account forms: a clear 4xx on both databases, never a 500."""

from __future__ import annotations

import sqlalchemy as sa

from marketplace.accounts.models import PasswordReset, User
from marketplace.accounts.services import SIGN_IN_FAILED

NUL_EMAIL = "ava\x00@example.test"


async def test_nul_in_sign_in_reset_and_token_requests_is_refused_not_a_500(web, client, people, db) -> None:
    person = await people.creator()
    users_before = await db.scalar(sa.select(sa.func.count()).select_from(User))

    signin = await web.post("/signin", {"email": NUL_EMAIL, "password": person.password})
    assert signin.status_code == 422 and SIGN_IN_FAILED in signin.text
    forgot = await web.post("/password/forgot", {"email": NUL_EMAIL})
    assert forgot.status_code == 422 and "valid email" in forgot.text
    token = await client.post("/api/v1/auth/token", json={"email": NUL_EMAIL, "password": person.password})
    assert token.status_code == 422 and token.headers["content-type"].startswith("application/problem+json")
    # The same person signs in fine with their real address.
    assert (await client.post("/api/v1/auth/token", json={"email": person.email, "password": person.password})
            ).status_code == 201

    assert await db.scalar(sa.select(sa.func.count()).select_from(User)) == users_before
    assert await db.scalar(sa.select(sa.func.count()).select_from(PasswordReset)) == 0
