"""What the OpenAPI schema promises, read from ``/schema/openapi.json``: every API operation lists its error responses
as problem details, closed bodies say so, documented rules are there, and Swagger UI loads nothing from outside."""

from __future__ import annotations

import re

import pytest

from tests.conftest import IN_CI

METHODS = ("get", "post", "put", "patch", "delete")
#: Anyone may call these: sign-up, token, and a custom store's signed order push (its signature is the credential).
PUBLIC = {("post", "/api/v1/auth/signup"), ("post", "/api/v1/auth/token"), ("post", "/api/v1/stores/{store_id}/orders")}


@pytest.fixture
async def schema(client) -> dict:
    response = await client.get("/schema/openapi.json")
    assert response.status_code == 200
    return response.json()


def _operations(schema: dict):
    for path, item in schema["paths"].items():
        for method in METHODS:
            if method in item:
                yield method, path, item[method]


async def test_every_operation_lists_problem_responses(schema) -> None:
    problems = []
    operations = [op for op in _operations(schema) if op[1].startswith("/api/")]
    assert len(operations) >= 100
    for method, path, operation in operations:
        responses = operation["responses"]
        wanted = {"400", "422", "429"}
        if (method, path) not in PUBLIC:
            wanted |= {"401", "403"}
        if "{" in path:
            wanted.add("404")
        if method != "get" and (method, path) not in PUBLIC:
            wanted.add("409")
        if "requestBody" in operation:
            wanted |= {"413", "415"}
        missing = wanted - set(responses)
        if missing:
            problems.append(f"{method.upper()} {path}: no {sorted(missing)}")
        for status in sorted(wanted & set(responses)):
            content = responses[status].get("content") or {}
            if "application/problem+json" not in content:
                problems.append(f"{method.upper()} {path} {status}: not application/problem+json")
                continue
            ref = content["application/problem+json"]["schema"].get("$ref", "")
            body = schema["components"]["schemas"][ref.rsplit("/", 1)[-1]] if ref else {}
            if not {"type", "title", "status", "detail", "instance"} <= set(body.get("required", [])):
                problems.append(f"{method.upper()} {path} {status}: the body is not problem details")
    assert not problems, "\n".join(problems)


async def test_closed_bodies_and_documented_rules_are_in_the_schema(schema) -> None:
    components = schema["components"]["schemas"]
    assert components["GigIn"]["additionalProperties"] is False
    assert components["SignUpBody"]["properties"]["kind"]["enum"] == ["brand", "creator"]
    assert components["MoneyIn"]["properties"]["amount"]["minimum"] == 0
    assert "USD" in components["MoneyIn"]["properties"]["currency"]["enum"]
    gig_list = {p["name"]: p["schema"] for p in schema["paths"]["/api/v1/gigs"]["get"]["parameters"]}
    assert gig_list["status"]["enum"][:4] == ["draft", "open", "closed", "archived"]
    assert set(gig_list["sort"]["enum"]) == {"newest", "fee", "deadline", None}
    assert components["EndpointIn"]["properties"]["url"]["maxLength"] == 2000


async def test_swagger_ui_is_served_from_our_static_files(client) -> None:
    page = await client.get("/schema")
    assert page.status_code == 200
    assets = re.findall(r'(?:src|href)="([^"]+)"', page.text)
    assert "/static/vendor/swagger-ui/swagger-ui-bundle.js" in assets
    assert "/static/vendor/swagger-ui/swagger-ui.css" in assets
    assert not [a for a in assets if a.startswith(("http://", "https://", "//"))], assets
    if IN_CI:  # `make test` copies the pinned npm package first; a bare checkout may not have run it
        for asset in ("swagger-ui-bundle.js", "swagger-ui-standalone-preset.js", "swagger-ui.css"):
            response = await client.get(f"/static/vendor/swagger-ui/{asset}")
            assert response.status_code == 200 and len(response.content) > 1000, asset
