"""Shared pieces of the property-based (Hypothesis) endpoint tests: driving async checks, posting raw forms."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import quote_plus

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

#: What a re-rendered form with a field message looks like.
FIELD_ERROR = re.compile(r'<p class="error"|class="alert error"')


async def run_property(strategy: st.SearchStrategy[Any], check: Callable[[Any], Awaitable[None]], *,
                       examples: int) -> None:
    """Hypothesis drives a synchronous function; each example runs on the test's own event loop (where the app and
    its test client live) while Hypothesis waits in a worker thread."""
    loop = asyncio.get_running_loop()

    @settings(max_examples=examples, deadline=None, suppress_health_check=list(HealthCheck))
    @given(strategy)
    def prop(payload: Any) -> None:
        asyncio.run_coroutine_threadsafe(check(payload), loop).result(timeout=120)

    await asyncio.to_thread(prop)


def encode_form(pairs: list[tuple[str, Any]]) -> bytes:
    """URL-encode like a browser, except that lone surrogates and raw bytes go out as bytes that are not UTF-8."""
    def enc(value: Any) -> str:
        return quote_plus(value) if isinstance(value, bytes) else quote_plus(value, errors="surrogatepass")
    return "&".join(f"{enc(k)}={enc(v)}" for k, v in pairs).encode()


async def post_form(web: Any, path: str, pairs: list[tuple[str, Any]]) -> Any:
    """POST a form with the session's CSRF token, as the raw bytes ``encode_form`` makes."""
    body = encode_form([*pairs, ("_csrf_token", await web.csrf_token())])
    return await web.client.post(path, content=body, follow_redirects=False,
                                 headers={"Content-Type": "application/x-www-form-urlencoded"})
