"""The integration API's routes for gigs, creators and applications are in the OpenAPI schema; pages are not."""

from __future__ import annotations


async def test_schema_lists_the_funnel_routes(client) -> None:
    response = await client.get("/schema/openapi.json")
    assert response.status_code == 200, response.text[:500]
    paths = response.json()["paths"]
    for path, methods in {
        "/api/v1/gigs": {"get", "post"},
        "/api/v1/gigs/{gig_id}": {"get", "patch"},
        "/api/v1/gigs/{gig_id}/publish": {"post"},
        "/api/v1/gigs/{gig_id}/close": {"post"},
        "/api/v1/gigs/{gig_id}/invitations": {"post"},
        "/api/v1/creators": {"get"},
        "/api/v1/gigs/{gig_id}/applications": {"get", "post"},
        "/api/v1/gigs/{gig_id}/applications/accept": {"post"},
        "/api/v1/gigs/{gig_id}/applications/decline": {"post"},
        "/api/v1/applications/{application_id}/accept": {"post"},
        "/api/v1/applications/{application_id}/decline": {"post"},
        "/api/v1/applications/{application_id}/withdraw": {"post"},
    }.items():
        assert path in paths, path
        assert methods <= set(paths[path]), (path, set(paths[path]))
    assert not any(p.startswith(("/brand", "/gigs", "/creator")) for p in paths)
    gig_in = response.json()["components"]["schemas"]["GigIn"]["properties"]
    assert {"base_fee", "deliverables", "apply_by", "reminder_offsets_hours"} <= set(gig_in)
