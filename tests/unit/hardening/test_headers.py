"""The before-send hook: one charset per Content-Type, whoever named it twice."""

from __future__ import annotations

from typing import Any

from marketplace.headers import security_headers


async def content_type_after_hook(value: str) -> str:
    message: Any = {"type": "http.response.start", "status": 200, "headers": [(b"content-type", value.encode())]}
    await security_headers((), always_https=False)(message, {"type": "http", "path": "/x", "headers": []})
    return dict(message["headers"])[b"content-type"].decode()


async def test_a_charset_named_twice_goes_out_once() -> None:
    assert await content_type_after_hook("text/csv; charset=utf-8; charset=utf-8") == "text/csv; charset=utf-8"
    assert await content_type_after_hook("text/html; charset=utf-8") == "text/html; charset=utf-8"
    assert await content_type_after_hook("application/json") == "application/json"
