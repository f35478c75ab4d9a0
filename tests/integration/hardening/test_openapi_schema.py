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


async def test_the_rules_services_check_are_stated_from_their_own_constants(schema) -> None:
    from marketplace.collaborations.states import CollabState
    from marketplace.gigs import rules
    from marketplace.gigs.validation import COUNTRY_CODES
    from marketplace.notifications.services import EMAIL_GROUPS

    components = schema["components"]["schemas"]
    gig = components["GigIn"]
    assert {"title", "brief", "base_fee", "deliverables"} <= set(gig["required"])
    assert gig["properties"]["title"]["maxLength"] == rules.TITLE_MAX
    assert gig["properties"]["brief"]["maxLength"] == rules.BRIEF_MAX
    assert gig["properties"]["title"]["type"] == "string" and "oneOf" not in gig["properties"]["title"]
    assert (gig["properties"]["slots"]["minimum"], gig["properties"]["slots"]["maximum"]) == (1, rules.MAX_SLOTS)
    assert gig["properties"]["review_window_hours"]["maximum"] == rules.REVIEW_WINDOW_HOURS.maximum
    assert gig["else"]["required"] == ["product_name"]  # unless product_included is false
    fee = components["FeeIn"]
    assert fee["required"] == ["amount", "currency"] and fee["properties"]["amount"]["minimum"] == 100
    assert {
        "if": {"properties": {"currency": {"enum": ["KRW"]}}, "required": ["currency"]},
        "then": {"properties": {"amount": {"minimum": 1000}}},
    } in fee["allOf"]
    deliverable = components["DeliverableIn"]
    assert deliverable["properties"]["count"]["maximum"] == rules.DELIVERABLE_COUNT_MAX
    assert deliverable["required"] == ["kind", "platform"]
    sign_up = components["SignUpBody"]
    assert sign_up["then"]["required"] == ["brand_name"] and sign_up["if"]["properties"]["kind"]["const"] == "brand"
    countries = ["", *sorted(COUNTRY_CODES), None]
    assert components["BrandIn"]["properties"]["country"]["enum"] == countries
    assert components["CreatorProfileIn"]["properties"]["country"]["enum"] == countries
    groups = components["EmailSettingsIn"]["properties"]["email"]
    assert set(groups["properties"]) == set(EMAIL_GROUPS) and groups["additionalProperties"] is False
    deals = {p["name"]: p["schema"] for p in schema["paths"]["/api/v1/collaborations"]["get"]["parameters"]}
    status = re.compile(deals["status"]["pattern"])
    assert status.match("draft_submitted,changes_requested") and status.match("waiting")
    assert all(status.match(s.value) for s in CollabState) and not status.match("drafted")
    inbox = {p["name"]: p["schema"] for p in schema["paths"]["/api/v1/messages"]["get"]["parameters"]}
    cursor = re.compile(inbox["before"]["pattern"])
    assert cursor.match("2028-02-29T10:00:00.000001+00:00~0190f0aa-0000-7000-8000-000000000001")
    assert not cursor.match("2027-02-29T10:00:00+00:00~0190f0aa-0000-7000-8000-000000000001")
