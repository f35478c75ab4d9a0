"""Property test: random bodies posted to ``POST /api/v1/auth/signup`` never cause a 500; a refused sign-up answers
with problem details and writes nothing, an accepted one creates exactly one account (and its brand or creator)."""

from __future__ import annotations

import json
import uuid
from typing import Any

import sqlalchemy as sa
from hypothesis import strategies as st

from marketplace.accounts.models import ApiToken, User
from marketplace.brands.models import Brand, BrandMember
from marketplace.creators.models import Creator
from marketplace.forms import text_problem
from marketplace.notifications.models import Notification, OutboxEmail
from tests.support.properties import run_property

EXAMPLES = 60
#: The test client's address as the app sees it (litestar.testing: scope["client"] == ("testclient", 50000)). The
#: limit (10 sign-ups an hour per address) is reset before each example, so that it does not decide the outcome.
SIGNUP_LIMIT_KEY = "signup-ip:testclient"
#: Replaced by a new address in each example, so valid bodies are not refused only because the address is taken.
FRESH_EMAIL = "<fresh>"

json_scalars = st.one_of(
    st.none(), st.booleans(), st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=False, allow_infinity=False), st.text(max_size=30),
    st.sampled_from(["", "\x00", "\ud800", "brand", "creator", "admin", "x" * 25_000]),
)
json_values = st.recursive(json_scalars, lambda inner: st.lists(inner, max_size=4)
                           | st.dictionaries(st.text(max_size=8), inner, max_size=4), max_leaves=12)
odd_text = st.one_of(st.text(max_size=40), st.sampled_from([
    "", " ", "\x00", "a\x00b", "\ud800", "\u200b", "x" * 121, "x" * 25_000, "<script>x</script>", "Ma\u0301ya",
]))

#: Text fields that must refuse NUL characters (PostgreSQL can't store them; SQLite would).
NUL_FIELDS = {"email", "full_name", "brand_name", "display_name"}

GOOD = {"kind": "creator", "email": FRESH_EMAIL, "password": "correct-horse-battery", "full_name": "Ava Brooks",
        "brand_name": "GlowLab", "display_name": "Ava"}
FIELD_VALUES: dict[str, st.SearchStrategy[Any]] = {
    "kind": st.sampled_from(["brand", "creator", "admin", "Brand", "CREATOR", " creator", ""]),
    "email": st.one_of(st.emails(), st.sampled_from([
        "ava@example.test", "AVA@Example.TEST ", "no-at-sign", "a@b", "@example.test", "a b@example.test",
        "x" * 65 + "@example.test", "a@" + "x" * 320 + ".test", "a\x00@example.test", "\ud800@example.test",
        "ava@exam\x00ple.test"])),
    "password": st.one_of(st.text(max_size=30), st.sampled_from(["short", "aaaaaaaaaaaa", "a-decent-passphrase",
                                                                 "x" * 5000, "pass\x00word-long-enough",
                                                                 "\ud800\ud800-long-enough"])),
    "full_name": odd_text,
    "brand_name": odd_text,
    "display_name": odd_text,
}


@st.composite
def signup_bodies(draw: st.DrawFn) -> Any:
    """Usually a good body with some fields dropped, changed or added; sometimes any JSON at all."""
    if draw(st.integers(min_value=0, max_value=9)) == 9:
        return draw(json_values)
    body: dict[str, Any] = dict(GOOD)
    for name in draw(st.lists(st.sampled_from(sorted(FIELD_VALUES)), unique=True, max_size=3)):
        value = draw(st.one_of(st.none(), FIELD_VALUES[name], json_values))
        if value is None:
            body.pop(name)
        else:
            body[name] = value
    body.update(draw(st.dictionaries(st.sampled_from(["unknown", "is_admin", "role"]), json_values, max_size=1)))
    return body



async def counts(db) -> tuple[int, ...]:
    return tuple([await db.scalar(sa.select(sa.func.count(m.id)))
                  for m in (User, Brand, BrandMember, Creator, ApiToken, OutboxEmail, Notification)])


async def test_random_api_signup_bodies(client, runtime, db) -> None:
    outcomes = {"created": 0, "refused": 0}

    async def check(payload: Any) -> None:
        if isinstance(payload, dict) and payload.get("email") == FRESH_EMAIL:
            payload = {**payload, "email": f"new-{uuid.uuid4().hex[:12]}@example.test"}
        await runtime.rate_limiter.reset(SIGNUP_LIMIT_KEY)
        before = await counts(db)
        email = str(payload.get("email")).strip().lower() if isinstance(payload, dict) else ""
        existed = text_problem(email) is None and await db.scalar(
            sa.select(User.id).where(User.email == email)) is not None
        # ASCII-escaped, so lone surrogates travel as "\\ud800" escapes for the server to cope with.
        response = await client.post("/api/v1/auth/signup", content=json.dumps(payload).encode(),
                                     headers={"Content-Type": "application/json"})
        assert response.status_code < 500, (payload, response.text[:500])
        assert response.status_code != 429, "the sign-up limit was not reset: is SIGNUP_LIMIT_KEY still right?"
        after = await counts(db)
        if response.status_code == 202:
            # Accepted, new address or taken: one email either way (a welcome, or a note to the owner), no token.
            assert response.headers["content-type"].startswith("application/json")
            assert response.json()["email"] == email and "token" not in response.json()
            users, brands, members, creators, tokens, emails, _ = (a - b for a, b in zip(after, before, strict=True))
            assert (users, tokens, emails) == (0 if existed else 1, 0, 1), (payload, after, before)
            brand_side = str(payload["kind"]).strip().lower() == "brand"
            expected = (0, 0, 0) if existed else (1, 1, 0) if brand_side else (0, 0, 1)
            assert (brands, members, creators) == expected, payload
            user = await db.scalar(sa.select(User).where(User.email == str(payload["email"]).strip().lower()))
            assert user is not None, payload
            outcomes["created"] += 1
        else:
            assert 400 <= response.status_code < 500, response.status_code
            assert response.headers["content-type"].startswith("application/problem+json"), response.headers
            assert response.json()["status"] == response.status_code
            assert after == before, payload
            outcomes["refused"] += 1

    await run_property(signup_bodies(), check, examples=EXAMPLES)
    # The generator reaches both sides: bodies that create an account and bodies that are refused.
    assert outcomes["created"] and outcomes["refused"], outcomes


async def test_nul_in_a_name_or_email_is_refused(client, runtime, db) -> None:
    """Found by the property test: a NUL in the email, the name, the brand name or the display name is refused like
    the gig rules refuse it (``marketplace.forms.text_problem``): 422 problem details naming the field, nothing
    written (PostgreSQL answered 500; SQLite stored the NUL)."""
    for field in sorted(NUL_FIELDS):
        body = {"kind": "brand", "email": "nul-test@example.test", "password": "correct-horse-battery",
                "full_name": "Ava Brooks", "brand_name": "GlowLab", "display_name": "Ava"}
        body[field] = "nul\x00" + body[field]
        before = await counts(db)
        response = await client.post("/api/v1/auth/signup", json=body)
        assert response.status_code == 422, (field, response.status_code, response.text[:300])
        assert response.headers["content-type"].startswith("application/problem+json")
        assert field in {e["field"] for e in response.json()["errors"]}, field
        assert await counts(db) == before, field
