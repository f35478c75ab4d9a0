"""The schemathesis runs' shared set-up: a brand with an open gig and a creator with an account, each with an API
token, a live server over the test's database, and the OpenAPI schema that server serves."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import httpx
import requests
import schemathesis

from marketplace.runtime import Runtime
from tests.support.deals import bearer
from tests.support.live import start_live_server
from tests.support.marketplace import make_creator_with_account, make_gig


@dataclass
class LiveApi:
    url: str
    #: schemathesis' view of the schema the server serves at /schema/openapi.json.
    schema: Any
    #: ``Authorization`` headers by person ("brand", "creator").
    tokens: dict[str, dict[str, str]]

    def operations(self) -> list[Any]:
        return [result.ok() for result in self.schema.get_all_operations()]

    def sessions(self) -> dict[str, requests.Session]:
        """One HTTP session per person, sending that person's token."""
        sessions = {who: requests.Session() for who in self.tokens}
        for who, session in sessions.items():
            session.headers.update(self.tokens[who])
        return sessions


@asynccontextmanager
async def live_api(runtime: Runtime, people: Any) -> AsyncIterator[LiveApi]:
    """The brand's and the creator's API over a live server (stopped after), with the schema it serves."""
    brand = await people.brand()
    await make_gig(runtime, brand, title="Contract gig")
    creator = await make_creator_with_account(runtime, people)
    tokens = {"brand": await bearer(runtime, brand), "creator": await bearer(runtime, creator.person)}
    server = await asyncio.to_thread(start_live_server, runtime)
    try:
        raw = (await asyncio.to_thread(httpx.get, f"{server.url}/schema/openapi.json", timeout=30)).json()
        yield LiveApi(server.url, schemathesis.openapi.from_dict(raw), tokens)
    finally:
        await asyncio.to_thread(server.stop)
