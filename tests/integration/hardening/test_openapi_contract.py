"""The OpenAPI schema is the API's contract: schemathesis generates requests for every operation from the schema,
sends them as a brand and as a creator to the real app (uvicorn, on SQLite and PostgreSQL), and every answer must be
no 5xx, a status the operation lists, with the content type and body shape the schema gives for it.

Bounded for ``make test`` (``SCHEMATHESIS_MAX_EXAMPLES``, default 4 per operation, person and mode); a longer run:
``SCHEMATHESIS_MAX_EXAMPLES=200 .venv/bin/python -m pytest -q tests/integration/hardening/test_openapi_contract.py``.
"""

from __future__ import annotations

import asyncio
import os
from typing import Any

import httpx
import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, Phase, given
from hypothesis import settings as hypothesis_settings
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from tests.support.deals import bearer
from tests.support.live import start_live_server
from tests.support.marketplace import make_creator_with_account, make_gig

pytestmark = pytest.mark.slow

MAX_EXAMPLES = int(os.environ.get("SCHEMATHESIS_MAX_EXAMPLES", "4"))
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]


def _failure_of(operation: Any, sessions: dict[str, requests.Session], base_url: str) -> str | None:
    """``MAX_EXAMPLES`` generated cases of one operation, each sent as every person (generated once: generating
    costs about as much as answering); a line saying what broke, or None."""
    sent_as = ""

    @hypothesis_settings(max_examples=MAX_EXAMPLES, deadline=None, database=None, derandomize=True,
                         phases=[Phase.explicit, Phase.generate], suppress_health_check=list(HealthCheck))
    @given(case=operation.as_strategy(GenerationMode.POSITIVE) | operation.as_strategy(GenerationMode.NEGATIVE))
    def check(case: schemathesis.Case) -> None:
        nonlocal sent_as
        for who, session in sessions.items():
            sent_as = who
            response = case.call(base_url=base_url, session=session, timeout=30)
            case.validate_response(response, checks=CHECKS)

    try:
        check()
    except (Exception, BaseExceptionGroup) as exc:  # one entry per operation: a run reports every broken one
        return f"[{sent_as}] {operation.method.upper()} {operation.path}: {str(exc).strip()[:1500]}"
    return None


def _exercise(schema: Any, tokens: dict[str, dict[str, str]], base_url: str) -> list[str]:
    """Every operation as every person; one line per failing operation."""
    sessions = {who: requests.Session() for who in tokens}
    for who, session in sessions.items():
        session.headers.update(tokens[who])
    failures = [_failure_of(result.ok(), sessions, base_url) for result in schema.get_all_operations()]
    return [line for line in failures if line]


async def test_every_operation_keeps_to_the_schema_as_brand_and_creator(runtime, people) -> None:
    brand = await people.brand()
    await make_gig(runtime, brand, title="Contract gig")
    creator = await make_creator_with_account(runtime, people)
    tokens = {"brand": await bearer(runtime, brand), "creator": await bearer(runtime, creator.person)}
    server = await asyncio.to_thread(start_live_server, runtime)
    try:
        raw = (await asyncio.to_thread(httpx.get, f"{server.url}/schema/openapi.json", timeout=30)).json()
        schema = schemathesis.openapi.from_dict(raw)
        assert len(list(schema.get_all_operations())) >= 80, "the schema lost its operations"
        failures = await asyncio.to_thread(_exercise, schema, tokens, server.url)
    finally:
        await asyncio.to_thread(server.stop)
    assert not failures, f"{len(failures)} operations break the contract:\n\n" + "\n\n".join(failures)
