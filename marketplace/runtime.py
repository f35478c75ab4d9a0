"""Everything a process builds once from settings: database config, clock, queue, hashers, limiters."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from advanced_alchemy.extensions.litestar import SQLAlchemyAsyncConfig
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from marketplace.clock import Clock, SystemClock
from marketplace.db import make_alchemy_config
from marketplace.jobs import QUEUE_KEY, SETTINGS_KEY, CeleryQueue, InProcessQueue, JobContext, JobQueue
from marketplace.listeners import install_listeners
from marketplace.ratelimit import MemoryRateLimiter, RateLimiter, RedisRateLimiter
from marketplace.security import Passwords, Signer
from marketplace.settings import Settings


@dataclass
class Runtime:
    settings: Settings
    clock: Clock
    passwords: Passwords
    signer: Signer
    rate_limiter: RateLimiter
    queue: JobQueue
    alchemy: SQLAlchemyAsyncConfig
    htmx_available: bool = False
    resources: dict[str, Any] = field(default_factory=dict)

    @property
    def session_maker(self) -> async_sessionmaker[AsyncSession]:
        return self.alchemy.create_session_maker()  # type: ignore[return-value]

    def job_context(self) -> JobContext:
        return JobContext(
            settings=self.settings, session_maker=self.session_maker, clock=self.clock, resources=self.resources
        )


def build_runtime(
    settings: Settings,
    *,
    clock: Clock | None = None,
    queue: JobQueue | None = None,
    passwords: Passwords | None = None,
    rate_limiter: RateLimiter | None = None,
) -> Runtime:
    from marketplace.settings import PROJECT_ROOT

    holder: dict[str, Runtime] = {}
    if queue is None:
        if settings.runs_tasks_in_process:
            queue = InProcessQueue(lambda: holder["runtime"].job_context())
        else:
            assert settings.redis.url is not None
            queue = CeleryQueue(settings.redis.url)
    if rate_limiter is None:
        rate_limiter = RedisRateLimiter(settings.redis.url) if settings.redis.url else MemoryRateLimiter()
    runtime = Runtime(
        settings=settings,
        clock=clock or SystemClock(),
        passwords=passwords or Passwords(),
        signer=Signer(settings.app.secret_key),
        rate_limiter=rate_limiter,
        queue=queue,
        alchemy=make_alchemy_config(settings, session_info={QUEUE_KEY: queue, SETTINGS_KEY: settings}),
        htmx_available=(PROJECT_ROOT / "static" / "vendor" / "htmx.min.js").exists(),
    )
    holder["runtime"] = runtime
    install_listeners(settings)
    return runtime
