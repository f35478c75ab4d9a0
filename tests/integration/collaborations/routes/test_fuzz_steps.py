"""Random payloads thrown at every deal step (JSON API and page forms) never cause a 500 or a partial write.

Most examples start from a valid request for a deal in the right state and mutate a few fields, so the fuzzing
reaches the code behind the checks; the rest aim at the wrong deal or side, or send junk. A deal that a successful
example moved on is replaced by a fresh one in the state its step needs.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest
import sqlalchemy as sa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from marketplace.collaborations.models import Collaboration
from marketplace.collaborations.states import CollabState
from tests.support.deals import Cast, Deal, bearer, make_deal, snapshot

Template = Callable[[Deal, str], dict[str, Any]]

#: step → (state it starts from, who takes it, a valid body for a deal and its terms hash)
API_STEPS: dict[str, tuple[CollabState, str, Template]] = {
    "sign": (CollabState.OFFERED, "creator", lambda d, h: {"terms_hash": h}),
    "cancel": (CollabState.OFFERED, "creator", lambda d, h: {"reason": "Busy", "no_show": False}),
    "ship": (CollabState.FUNDED, "brand", lambda d, h: {"carrier": "UPS", "tracking_number": "1Z999AA10123456784",
                                                        "tracking_url": "https://ups.example/t/1"}),
    "confirm-receipt": (CollabState.SHIPPED, "creator", lambda d, h: {}),
    "report-problem": (CollabState.SHIPPED, "creator", lambda d, h: {"problem": "Box was crushed"}),
    "submit-draft": (CollabState.RECEIVED, "creator", lambda d, h: {"caption": "Glow #ad",
                                                                    "media_url": "https://drive.example/v.mp4"}),
    "approve-draft": (CollabState.DRAFT_SUBMITTED, "brand", lambda d, h: {"comment": "Great"}),
    "request-changes": (CollabState.DRAFT_SUBMITTED, "brand", lambda d, h: {"comment": "Show the label"}),
    "submit-post": (CollabState.DRAFT_APPROVED, "creator", lambda d, h: {"url": d.post_url()}),
}
PAGE_STEPS: dict[str, tuple[CollabState, str, Template]] = {
    **{k: v for k, v in API_STEPS.items() if k != "cancel"},
    "decline": (CollabState.OFFERED, "creator", lambda d, h: {"reason": "Busy"}),
    "withdraw": (CollabState.OFFERED, "brand", lambda d, h: {"reason": "Budget"}),
    "cancel": (CollabState.SIGNED, "brand", lambda d, h: {"reason": "Budget"}),
    "cancel-no-show": (CollabState.FUNDED, "creator", lambda d, h: {}),
}
FIELDS = ["terms_hash", "reason", "no_show", "carrier", "tracking_number", "tracking_url", "problem", "caption",
          "media_url", "comment", "url"]

nasty = st.sampled_from(["", " ", "-1", "0", "1e309", "NaN", "\x00", "a\x00b", "https://", "javascript:alert(1)",
                     "https://www.tiktok.com/@ava/video/7312345678901234567", "https://www.youtube.com/watch?v=",
                     "http://[::1", "https://exa mple.com/x", "https://a.example/\r\nx", "x" * 6000,
                     "1Z999AA10123456784", "UPS", "0" * 64, "\u202e\u0301\ufeff", "💥" * 300])
#: Strings worth trying more often than random text finds them.
texts = st.one_of(nasty, nasty, st.text(max_size=40))
json_values = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(min_value=-(2**70), max_value=2**70),
              st.floats(allow_nan=False), texts),
    lambda children: st.one_of(st.lists(children, max_size=3),
                               st.dictionaries(st.text(max_size=8), children, max_size=3)),
    max_leaves=8,
)
#: How an example aims: mostly right, sometimes at the wrong side, another deal, or with junk instead of a body.
aims = st.sampled_from(["right", "right", "right", "right", "wrong_side", "wrong_deal", "junk"])


@pytest.fixture
async def arena(cast: Cast, runtime, make_web) -> dict[str, Any]:
    """Signed-in browsers and API tokens for both sides, and a pool of deals per starting state."""
    webs = {}
    for side, person in (("brand", cast.brand), ("creator", cast.creator)):
        web = await make_web()
        await web.sign_in(person.email, person.password)
        webs[side] = web
    tokens = {"brand": await bearer(runtime, cast.brand), "creator": await bearer(runtime, cast.creator)}
    return {"cast": cast, "webs": webs, "tokens": tokens, "pool": {}, "runtime": runtime}


async def deal_for(arena: dict[str, Any], db, state: CollabState) -> tuple[Deal, str]:
    """A deal of the cast's brand and creator in ``state`` (made anew if the last one moved on), and its hash."""
    deal = arena["pool"].get(state)
    if deal is not None:
        current = await db.scalar(sa.select(Collaboration.status).where(Collaboration.id == deal.id))
        if current is not state:
            deal = None
    if deal is None:
        cast = arena["cast"]
        deal = await make_deal(arena["runtime"], state, brand=cast.brand, creator=cast.creator)
        arena["pool"][state] = deal
    return deal, await db.scalar(sa.select(Collaboration.terms_hash).where(Collaboration.id == deal.id))


def other_side(side: str) -> str:
    return "brand" if side == "creator" else "creator"


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(step=st.sampled_from(sorted(API_STEPS)), aim=aims,
       mutations=st.dictionaries(st.sampled_from(FIELDS), st.one_of(texts, json_values), max_size=2),
       junk=st.one_of(json_values.map(json.dumps), st.binary(max_size=120).map(lambda b: b.decode("latin-1"))))
async def test_random_api_payloads_never_cause_a_server_error(client, db, arena, step, aim, mutations, junk) -> None:
    state, side, template = API_STEPS[step]
    deal, terms_hash = await deal_for(arena, db, state)
    if aim == "wrong_deal":
        deal = arena["cast"].deals[hash(junk) % len(arena["cast"].deals)]
    side = other_side(side) if aim == "wrong_side" else side
    body = junk if aim == "junk" else json.dumps({**template(deal, terms_hash), **mutations})
    before = await snapshot(db, [deal.id])
    response = await client.post(f"/api/v1/collaborations/{deal.id}/{step}", content=body.encode("utf-8", "replace"),
                                 headers={**arena["tokens"][side], "Content-Type": "application/json"})
    assert response.status_code < 500, (step, body[:300], response.text[:500])
    if response.status_code >= 400:
        assert response.headers["content-type"].startswith("application/problem+json")
        assert await snapshot(db, [deal.id]) == before
    else:
        after = await snapshot(db, [deal.id])
        assert after["events"] == before["events"] + 1, "a successful step records exactly one event"


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(step=st.sampled_from(sorted(PAGE_STEPS)), aim=aims,
       mutations=st.dictionaries(st.sampled_from(FIELDS), texts, max_size=2),
       upload=st.none() | st.tuples(st.sampled_from(["a.png", "b.mp4", "c.html", "", "..\\..\\x.png", "d.webm"]),
                                    st.binary(max_size=64) | st.just(b"\x89PNG\r\n\x1a\n" + b"\0" * 20)),
       htmx=st.booleans())
async def test_random_page_forms_never_cause_a_server_error(db, arena, step, aim, mutations, upload, htmx) -> None:
    state, side, template = PAGE_STEPS[step]
    deal, terms_hash = await deal_for(arena, db, state)
    if aim == "wrong_deal":
        deal = arena["cast"].deals[len(mutations) % len(arena["cast"].deals)]
    side = other_side(side) if aim == "wrong_side" else side
    form = {k: str(v) for k, v in {**template(deal, terms_hash), **mutations}.items()}
    if aim == "junk":
        form = {k: "x" * 20_000 for k in form}
    files = {"file": (upload[0], upload[1], "image/png")} if upload and step == "submit-draft" else None
    before = await snapshot(db, [deal.id])
    response = await arena["webs"][side].post(f"{deal.url}/{step}", form, htmx=htmx, files=files)
    assert response.status_code < 500, (step, form, response.text[:500])
    if response.status_code >= 400:
        assert await snapshot(db, [deal.id]) == before
