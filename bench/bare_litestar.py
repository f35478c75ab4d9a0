"""The baseline for bench/web.py: a bare Litestar app (one plaintext route), served by the same server from the
same venv as PostPact, so every PostPact figure can be given as a share of what the stack alone does."""

from __future__ import annotations

from litestar import Litestar, MediaType, get


@get("/", media_type=MediaType.TEXT)
async def plaintext() -> bytes:
    return b"Hello, World!"


app = Litestar([plaintext], openapi_config=None)
