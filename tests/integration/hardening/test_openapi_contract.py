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

from tests.support.contract import LiveApi, live_api

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


def _exercise(api: LiveApi) -> list[str]:
    """Every operation as every person; one line per failing operation."""
    sessions = api.sessions()
    failures = [_failure_of(operation, sessions, api.url) for operation in api.operations()]
    return [line for line in failures if line]


async def test_every_operation_keeps_to_the_schema_as_brand_and_creator(runtime, people) -> None:
    async with live_api(runtime, people) as api:
        assert len(api.operations()) >= 80, "the schema lost its operations"
        failures = await asyncio.to_thread(_exercise, api)
    assert not failures, f"{len(failures)} operations break the contract:\n\n" + "\n\n".join(failures)
