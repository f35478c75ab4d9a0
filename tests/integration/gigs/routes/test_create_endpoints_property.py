"""Property test: random payloads thrown at the create endpoints (gig, application, invitations) never cause a
500, and a refused request writes nothing."""

from __future__ import annotations

import json
from typing import Any

import sqlalchemy as sa
from hypothesis import strategies as st

from marketplace.applications.models import Application
from marketplace.gigs.models import Deliverable, Gig, GigInvitation, GigNiche, gig_search_term
from tests.support.marketplace import make_creator_with_account, make_gig
from tests.support.properties import run_property

EXAMPLES = 60

json_scalars = st.one_of(
    st.none(), st.booleans(), st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=False, allow_infinity=False), st.text(max_size=30),
    st.sampled_from(["", "\x00", "\ud800", "USD", "usd", "tiktok", "video", "2020-01-01T00:00:00Z",
                     "2030-01-01T00:00:00+00:00", "2027-06-01", "https://example.com/x.png", "javascript:x",
                     "00000000-0000-0000-0000-000000000000", "x" * 25_000]),
)
json_values = st.recursive(json_scalars, lambda inner: st.lists(inner, max_size=4)
                           | st.dictionaries(st.text(max_size=8), inner, max_size=4), max_leaves=12)


def fields(mapping: dict[str, st.SearchStrategy[Any]]) -> st.SearchStrategy[dict[str, Any]]:
    """Objects with any subset of the known fields, each either a plausible or an arbitrary value."""
    return st.fixed_dictionaries({}, optional={k: st.one_of(v, json_values) for k, v in mapping.items()})


money = fields({"amount": st.integers(min_value=-10, max_value=10**12), "currency": st.sampled_from(["USD", "EUR",
                                                                                                   "XXX", ""])})
deliverable = fields({
    "platform": st.sampled_from(["tiktok", "instagram", "youtube", "myspace"]),
    "kind": st.sampled_from(["video", "post", "story", "reel"]),
    "count": st.integers(min_value=-2, max_value=50),
    "required_hashtags": st.lists(st.text(max_size=70), max_size=25),
    "required_mentions": st.lists(st.text(max_size=70), max_size=3),
    "disclosure_required": st.booleans(),
    "disclosure_text": st.text(max_size=50),
})
gig_payload = st.one_of(json_values, fields({
    "title": st.text(max_size=200),
    "brief": st.text(max_size=50),
    "base_fee": money,
    "product_retail_value": money,
    "product_name": st.text(max_size=150),
    "product_image_url": st.sampled_from(["https://cdn.example/x.png", "ftp://x", "not a url"]),
    "product_included": st.booleans(),
    "commission_bps": st.integers(min_value=-5, max_value=20_000),
    "apply_by": st.sampled_from(["2026-12-01T00:00:00Z", "2019-01-01T00:00:00Z", "2026-12-01T00:00:00",
                                 "9999-12-31T23:59:59Z"]),
    "ship_within_days": st.integers(min_value=-5, max_value=400),
    "reminder_offsets_hours": st.lists(st.integers(min_value=-1000, max_value=1000), max_size=10),
    "slots": st.integers(min_value=-1, max_value=2000),
    "eligible_platforms": st.lists(st.sampled_from(["tiktok", "youtube", "vine"]), max_size=3),
    "min_followers": st.integers(min_value=-1, max_value=10**11),
    "max_followers": st.integers(min_value=-1, max_value=10**11),
    "eligible_countries": st.lists(st.sampled_from(["US", "de", "XX", "USA"]), max_size=3),
    "niches": st.lists(st.text(max_size=45), max_size=12),
    "min_reliability": st.floats(min_value=-1, max_value=2, allow_nan=False),
    "min_tier": st.sampled_from(["gold", "SILVER", "platinum"]),
    "deliverables": st.lists(deliverable, max_size=12),
}))



def as_json(payload: Any) -> bytes:
    # ASCII-escaped, so lone surrogates travel as "\\ud800" escapes for the server to cope with.
    return json.dumps(payload).encode()


async def post_json(client, path: str, payload: Any, headers: dict[str, str]) -> Any:
    return await client.post(path, content=as_json(payload), headers={**headers, "Content-Type": "application/json"})


async def counts(db) -> tuple[int, ...]:
    tables = (Gig.id, Deliverable.id, GigNiche.id, GigInvitation.id, Application.id)
    values = [await db.scalar(sa.select(sa.func.count(col))) for col in tables]
    values.append(await db.scalar(sa.select(sa.func.count()).select_from(gig_search_term)))
    return tuple(values)


async def bearer(client, person) -> dict[str, str]:
    response = await client.post("/api/v1/auth/token", json={"email": person.email, "password": person.password})
    return {"Authorization": f"Bearer {response.json()['token']}"}


async def test_random_gig_payloads(client, runtime, people, db) -> None:
    headers = await bearer(client, await people.brand())

    async def check(payload: Any) -> None:
        before = await counts(db)
        response = await post_json(client, "/api/v1/gigs", payload, headers)
        assert response.status_code < 500, response.text[:500]
        if response.status_code == 201:
            assert (await counts(db))[0] == before[0] + 1
        else:
            assert 400 <= response.status_code < 500
            assert response.headers["content-type"].startswith("application/problem+json")
            assert await counts(db) == before, payload

    await run_property(gig_payload, check, examples=EXAMPLES)


async def test_random_application_and_invitation_payloads(client, runtime, people, db) -> None:
    brand = await people.brand()
    gig = await make_gig(runtime, brand)
    creator = await make_creator_with_account(runtime, people)
    creator_headers = await bearer(client, creator.person)
    brand_headers = await bearer(client, brand)
    application_payload = st.one_of(json_values, fields({
        "pitch": st.text(max_size=100),
        "social_account_id": st.sampled_from([str(creator.account.id), "nope", ""]),
        "counter_offer": money,
    }))
    invitation_payload = st.one_of(json_values, fields({
        "creator_ids": st.lists(st.sampled_from([str(creator.creator_id), "nope", str(gig.id), ""]), max_size=5),
        "message": st.text(max_size=100),
    }))

    async def check_application(payload: Any) -> None:
        before = await counts(db)
        response = await post_json(client, f"/api/v1/gigs/{gig.id}/applications", payload, creator_headers)
        assert response.status_code < 500, response.text[:500]
        if response.status_code != 201:
            assert await counts(db) == before, payload

    async def check_invitation(payload: Any) -> None:
        before = await counts(db)
        response = await post_json(client, f"/api/v1/gigs/{gig.id}/invitations", payload, brand_headers)
        assert response.status_code < 500, response.text[:500]
        if response.status_code != 200:
            assert await counts(db) == before, payload

    await run_property(application_payload, check_application, examples=EXAMPLES)
    await run_property(invitation_payload, check_invitation, examples=EXAMPLES)
