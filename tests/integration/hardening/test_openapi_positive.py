"""Schema-valid requests are accepted: schemathesis generates only requests the OpenAPI schema calls valid (positive
data), sends them as a brand and as a creator to the real app, and a 422 is allowed only where the schema cannot say
the rule (state, ownership, the clock, one field depending on another) and it is listed below with its reason.
Every operation is checked: a rule a service checks that the schema could state belongs in the schema
(``documented()``, ``object_rules()`` in marketplace/openapi.py), not in this list.

Bounded (``SCHEMATHESIS_POSITIVE_EXAMPLES``, default 5 per operation and person); a longer run:
``SCHEMATHESIS_POSITIVE_EXAMPLES=50 .venv/bin/python -m pytest -q
tests/integration/hardening/test_openapi_positive.py``.
"""

from __future__ import annotations

import asyncio
import os
from typing import Any

import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, Phase, given
from hypothesis import settings as hypothesis_settings
from schemathesis import GenerationMode

from tests.support.contract import LiveApi, live_api

pytestmark = pytest.mark.slow

MAX_EXAMPLES = int(os.environ.get("SCHEMATHESIS_POSITIVE_EXAMPLES", "5"))

#: JSON Schema counts 1.0 as an integer; the API wants amounts as JSON integers (``InputGuard``), so a generated
#: ``1500.0`` is refused on purpose. Allowed on every operation.
INTEGRAL_FLOAT = "Amounts are whole numbers of minor units"

#: Rules the schema cannot state, by operation: (start of the field's message, why it is not in the schema).
BUSINESS_RULES: dict[str, list[tuple[str, str]]] = {
    "POST /api/v1/roster": [
        ("Name is required", "name is required on create but optional on PATCH, which shares the body struct"),
        ("Give an email or at least one handle", "cross-field: an email or any handle"),
        ("The owner must be a member of your team", "ownership: the owner's email must be a team member"),
        ("on your roster.", "state: another entry already has this email or handle"),
    ],
    "POST /api/v1/roster/tags": [
        ("Send ids, a filter", "cross-field: one of ids, filter or view_id"),
    ],
    "POST /api/v1/stores": [
        # What shop_url must look like and which secrets are required depend on the platform.
        ("Enter the shop's myshopify.com domain", "cross-field: shop_url for platform shopify"),
        ("Enter the site's https:// address", "cross-field: shop_url for platform woocommerce"),
        ("Enter the shop's public address", "the address must not resolve inside our network (DNS, at call time)"),
        ("Admin API access token is required", "cross-field: shopify needs its access token"),
        ("App client secret is required", "cross-field: shopify needs its client secret"),
        ("Consumer key is required", "cross-field: woocommerce needs its consumer key"),
        ("Consumer secret is required", "cross-field: woocommerce needs its consumer secret"),
        ("Webhook secret is required", "cross-field: woocommerce needs its webhook secret"),
    ],
    "GET /api/v1/gigs": [
        ("This page link is out of date or damaged", "cursor: only a next_cursor the API gave is a cursor"),
        ("The highest fee must be at least the lowest", "cross-field: fee_max >= fee_min"),
        ("The highest product value must be at least the lowest", "cross-field: product_value_max >= min"),
    ],
    "POST /api/v1/gigs": [
        ("Apply-by must be in the future", "time: apply_by is judged against the clock"),
        ("Apply-by must be within", "time: apply_by at most 366 days ahead of the clock"),
        ("Maximum followers must be at least the minimum", "cross-field: max_followers >= min_followers"),
        ("The product value must be in the gig's currency", "cross-field: product currency = base_fee.currency"),
    ],
    "POST /api/v1/auth/signup": [
        ("Password must not contain your email name", "cross-field: the password against the email"),
    ],
    "POST /api/v1/auth/token": [
        ("Email or password is not right", "credentials: only a real account's password gets a token"),
    ],
    "POST /api/v1/commission/budget/refunds": [
        ("of the commission budget is unused", "state: only the budget's unused part can be refunded"),
    ],
    "POST /api/v1/webhooks/endpoints": [
        ("You can register at most", "state: a cap on the endpoints one owner has"),
    ],
    "POST /api/v1/gigs/{gig_id}/applications/accept": [
        ("Choose at least one application", "application_ids left out (its default, [], selects nothing)"),
    ],
    "POST /api/v1/gigs/{gig_id}/applications/decline": [
        ("Choose at least one application", "application_ids left out (its default, [], selects nothing)"),
    ],
}


#: Operations that change the language the person's messages are written in.
CHANGES_LANGUAGE = {"PATCH /api/v1/me"}


def _messages(response: requests.Response) -> list[str]:
    try:
        body = response.json()
    except ValueError:
        return [response.text[:200]]
    return [str(e.get("message", "")) for e in body.get("errors") or []] or [str(body.get("detail", ""))]


def _allowed(operation: str, message: str) -> bool:
    if message.startswith(INTEGRAL_FLOAT):
        return True
    return any(text in message for text, _why in BUSINESS_RULES.get(operation, []))


def _refusals_of(operation: Any, sessions: dict[str, requests.Session], base_url: str) -> list[str]:
    """``MAX_EXAMPLES`` schema-valid cases of one operation, each sent as every person (generated once: generating
    costs about as much as answering); one line per unexplained 422."""
    name = f"{operation.method.upper()} {operation.path}"
    found: list[str] = []

    @hypothesis_settings(max_examples=MAX_EXAMPLES, deadline=None, database=None, derandomize=True,
                         phases=[Phase.explicit, Phase.generate], suppress_health_check=list(HealthCheck))
    @given(case=operation.as_strategy(GenerationMode.POSITIVE))
    def check(case: schemathesis.Case) -> None:
        for who, session in sessions.items():
            response = case.call(base_url=base_url, session=session, timeout=30)
            if response.status_code == 422:
                unexplained = [m for m in _messages(response) if not _allowed(name, m)]
                if unexplained:
                    found.append(f"[{who}] {name} body={case.body!r:.300} query={case.query!r:.200}: {unexplained}")

    check()
    return found


def _refusals(api: LiveApi) -> list[str]:
    sessions = api.sessions()
    operations = api.operations()
    # Choosing another language changes the words of every later message: that operation goes last, so the
    # messages are matched against the listed ones in English.
    operations.sort(key=lambda op: f"{op.method.upper()} {op.path}" in CHANGES_LANGUAGE)
    found: list[str] = []
    for operation in operations:
        found += _refusals_of(operation, sessions, api.url)
    return found


async def test_schema_valid_requests_are_not_refused_as_brand_and_creator(runtime, people) -> None:
    async with live_api(runtime, people) as api:
        operations = {f"{o.method.upper()} {o.path}" for o in api.operations()}
        assert not set(BUSINESS_RULES) - operations, "an allow-listed operation is gone from the schema"
        found = await asyncio.to_thread(_refusals, api)
    assert not found, f"{len(found)} schema-valid requests refused with 422:\n" + "\n".join(found[:40])
