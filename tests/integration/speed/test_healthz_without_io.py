"""/healthz is liveness without I/O: answered before the session, actor, locale and CSRF layers."""

from __future__ import annotations

from litestar.testing import AsyncTestClient

from marketplace.app import create_app
from marketplace.runtime import build_runtime
from marketplace.settings import Settings


async def test_healthz_answers_with_database_and_redis_unreachable(test_env, runtime, clock, queue) -> None:
    """Nothing listens on port 1: any database or Redis call (a session load, a user lookup) would fail the request.
    The cookies are those a signed-in browser sends, so the session and actor layers would have had work to do."""
    broken = Settings.from_env({**test_env, "DATABASE_URL": "postgresql://postgres@127.0.0.1:1/nowhere",
                                "REDIS_URL": "redis://127.0.0.1:1/0"})
    rt = build_runtime(broken, clock=clock, queue=queue, passwords=runtime.passwords, rate_limiter=runtime.rate_limiter)
    async with AsyncTestClient(app=create_app(runtime=rt, run_scheduler=False)) as c:
        c.cookies.set("session", "a" * 40)
        c.cookies.set("lang", "de")
        alive = await c.get("/healthz", headers={"accept-language": "fr"})
        ready = await c.get("/readyz")
        wrong_method = await c.post("/healthz")
    assert alive.status_code == 200 and alive.json() == {"status": "ok"}
    assert alive.headers["cache-control"] == "no-store"
    assert alive.headers["x-content-type-options"] == "nosniff"  # the security headers, once each
    assert alive.headers.get_list("content-security-policy") == [alive.headers["content-security-policy"]]
    assert "content-language" not in alive.headers  # the locale layer never ran
    assert "set-cookie" not in alive.headers  # nor the session or CSRF layers
    assert ready.status_code == 503 and ready.json()["database"].startswith("error")
    assert wrong_method.status_code == 405
