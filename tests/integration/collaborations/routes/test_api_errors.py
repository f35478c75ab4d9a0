"""The collaborations API refuses impossible steps with 409 and bad input with problem details, writing nothing."""

from __future__ import annotations

import uuid

from marketplace.collaborations.states import CollabState
from tests.support.deals import Cast, bearer, make_deal, snapshot


def problem(response, status: int) -> dict:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    return response.json()


async def test_illegal_transitions_are_409_and_leave_no_event(client, runtime, db, cast: Cast) -> None:
    brand, creator = await bearer(runtime, cast.brand), await bearer(runtime, cast.creator)
    base = "/api/v1/collaborations"
    ids = [d.id for d in cast.deals]
    before = await snapshot(db, ids)
    cases = [
        # A post before signing.
        (creator, f"{base}/{cast.offered.id}/submit-post", {"url": cast.offered.post_url()}),
        # Steps out of order.
        (creator, f"{base}/{cast.funded.id}/confirm-receipt", None),
        (creator, f"{base}/{cast.offered.id}/submit-draft", {"caption": "x", "media_url": "https://a.example/b"}),
        (brand, f"{base}/{cast.approved.id}/approve-draft", {}),
        (brand, f"{base}/{cast.shipped.id}/cancel", {}),
        (creator, f"{base}/{cast.funded.id}/cancel", {"no_show": True}),  # the brand still has time to ship
    ]
    for headers, path, body in cases:
        body_out = problem(await client.post(path, json=body, headers=headers), 409)
        assert body_out["type"] == "/problems/illegal-transition", (path, body_out)
        assert body_out["detail"]
    # The other party's steps are not allowed (403), whatever the state: the creator approving their own draft,
    # the brand signing, the creator shipping.
    for headers, path, body in [
        (creator, f"{base}/{cast.reviewing.id}/approve-draft", {}),
        (brand, f"{base}/{cast.offered.id}/sign", {"terms_hash": "0" * 64}),
        (creator, f"{base}/{cast.funded.id}/ship", {"carrier": "UPS", "tracking_number": "1Z999"}),
        (creator, f"{base}/{cast.offered.id}/ship", {"carrier": "UPS", "tracking_number": "1Z999"}),
    ]:
        body_out = problem(await client.post(path, json=body, headers=headers), 403)
        assert body_out["type"] == "/problems/role-not-allowed", (path, body_out)
    assert await snapshot(db, ids) == before


async def test_approving_a_draft_twice_is_refused_the_second_time(client, runtime, db) -> None:
    deal = await make_deal(runtime, CollabState.DRAFT_SUBMITTED)
    headers = await bearer(runtime, deal.brand)
    path = f"/api/v1/collaborations/{deal.id}/approve-draft"
    assert (await client.post(path, json={}, headers=headers)).status_code == 200
    before = await snapshot(db, [deal.id])
    assert "draft approved" in problem(await client.post(path, json={}, headers=headers), 409)["detail"]
    assert await snapshot(db, [deal.id]) == before


BAD_VALUES: list[tuple[str, dict, str]] = [
        ("submit-draft", {"caption": "x" * (10 * 1024 * 1024), "media_url": "https://a.example/v"}, "caption"),
        ("submit-draft", {"caption": "", "media_url": "https://a.example/v"}, "caption"),
        ("submit-draft", {"caption": "ok", "media_url": "ftp://a.example/v"}, "media_url"),
        ("submit-draft", {"caption": "ok", "media_url": "https://exa mple.com/v"}, "media_url"),
        ("submit-draft", {"caption": "nul\x00byte", "media_url": "https://a.example/v"}, "caption"),
        ("submit-post", {"url": "https://www.tiktok.com/@someone/video/abc"}, "url"),
        ("submit-post", {"url": "http://[::1"}, "url"),
        ("submit-post", {"url": "x" * 5000}, "url"),
        ("request-changes", {"comment": "   "}, "comment"),
        ("ship", {"carrier": "UPS", "tracking_number": "-1"}, "tracking_number"),
        ("ship", {"carrier": "UPS", "tracking_number": "1Z999", "tracking_url": "not a url"}, "tracking_url"),
        ("sign", {"terms_hash": "abc"}, "terms_hash"),
        ("report-problem", {"problem": ""}, "problem"),
        ("cancel", {"reason": "r" * 3000}, "reason"),
]


async def test_bad_values_are_field_errors_and_write_nothing(client, runtime, db, cast: Cast) -> None:
    target = {"submit-draft": cast.received, "submit-post": cast.approved, "request-changes": cast.reviewing,
              "ship": cast.funded, "sign": cast.offered, "report-problem": cast.shipped, "cancel": cast.offered}
    headers = {"brand": await bearer(runtime, cast.brand), "creator": await bearer(runtime, cast.creator)}
    ids = [d.id for d in cast.deals]
    before = await snapshot(db, ids)
    for step, body, field in BAD_VALUES:
        who = "brand" if step in {"request-changes", "ship"} else "creator"
        response = await client.post(f"/api/v1/collaborations/{target[step].id}/{step}", json=body,
                                     headers=headers[who])
        out = problem(response, 422)
        assert [e["field"] for e in out["errors"]] == [field], (step, out)
    assert await snapshot(db, ids) == before


async def test_malformed_bodies_and_unknown_ids_are_problem_details(client, runtime, cast: Cast) -> None:
    headers = await bearer(runtime, cast.creator)
    base = f"/api/v1/collaborations/{cast.received.id}"
    for body in ("{not json", "[]", '{"caption": 5, "media_url": "https://a.example/v"}',
                 '{"caption": "x", "media_url": "https://a.example/v", "surprise": 1}', '{"caption": "x"}', "",
                 # A lone surrogate escape would decode to a string no database can store.
                 '{"caption": "lone \\ud800 surrogate", "media_url": "https://a.example/v"}'):
        response = await client.post(f"{base}/submit-draft", content=body,
                                     headers={**headers, "Content-Type": "application/json"})
        assert response.status_code == 400, (body, response.text)
        assert response.headers["content-type"].startswith("application/problem+json")
    missing = uuid.uuid4()
    problem(await client.get(f"/api/v1/collaborations/{missing}", headers=headers), 404)
    problem(await client.post(f"/api/v1/collaborations/{missing}/confirm-receipt", headers=headers), 404)
    problem(await client.get(f"/api/v1/collaborations/{cast.reviewing.id}/drafts/{missing}/file", headers=headers),
            404)
    problem(await client.get("/api/v1/collaborations/not-a-uuid", headers=headers), 404)
    # A draft id that exists, asked for through another deal of the same people, is still not found.
    problem(await client.get(f"{base}/drafts/{cast.draft_id}/file", headers=headers), 404)
