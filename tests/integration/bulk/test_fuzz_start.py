"""Property: whatever JSON a client sends to start a bulk action, the answer is a job or a clear refusal (400, 404,
422), never a 500, and a refused request writes nothing."""

from __future__ import annotations

import sqlalchemy as sa
from hypothesis import strategies as st

from marketplace.bulk.actions import ACTIONS
from marketplace.bulk.models import BulkJob
from marketplace.collaborations.states import CollabState
from tests.support.deals import bearer, make_deal
from tests.support.properties import run_property

SCALARS = st.one_of(st.none(), st.booleans(), st.integers(-10**6, 10**6), st.text(max_size=40),
                    st.sampled_from(["{first_name}", "{nope}", "{", "}", "7", "61", "post", "verified"]))


async def test_starting_a_bulk_action_never_fails_with_a_500(client, runtime, db) -> None:
    deal = await make_deal(runtime, CollabState.DRAFT_SUBMITTED, product_included=False)
    headers = await bearer(runtime, deal.brand)
    ids = st.lists(st.one_of(st.just(str(deal.id)), st.uuids().map(str), st.text(max_size=10)), max_size=4)
    bodies = st.fixed_dictionaries({}, optional={
        "ids": st.one_of(ids, SCALARS),
        "filter": st.one_of(SCALARS, st.fixed_dictionaries({}, optional={
            "gig_id": st.one_of(st.just(str(deal.gig_id)), SCALARS), "status": st.lists(SCALARS, max_size=3)})),
        "parameters": st.one_of(SCALARS, st.dictionaries(
            st.sampled_from(["gig_id", "message", "body", "reason", "comment", "days", "stage", "x"]), SCALARS)),
        "csv": st.one_of(st.none(), st.text(max_size=80)),
    })
    cases = st.tuples(st.sampled_from([*ACTIONS, "nothing"]), bodies)

    async def check(case: tuple[str, dict]) -> None:
        action, body = case
        before = await db.scalar(sa.select(sa.func.count()).select_from(BulkJob))
        response = await client.post(f"/api/v1/bulk/{action}", json=body, headers=headers)
        assert response.status_code in (202, 400, 404, 422), (action, body, response.status_code, response.text[:300])
        after = await db.scalar(sa.select(sa.func.count()).select_from(BulkJob))
        assert after == before + (1 if response.status_code == 202 else 0)
        if response.status_code != 202:
            assert response.headers["content-type"].startswith("application/problem+json")

    await run_property(cases, check, examples=60)
