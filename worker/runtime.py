"""One asyncio loop and one database engine per worker process: every task of that process runs on them.

Built after the pool forks (``worker_process_init``), never in the parent, because pooled async connections belong
to the loop and process that opened them. Tasks that run before the signal (the solo pool, eager tests) build it
on first use.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Coroutine
from typing import Any, TypeVar

from marketplace.jobs import JobContext
from marketplace.runtime import Runtime, build_runtime
from marketplace.sessions import session_store
from marketplace.settings import Settings

log = logging.getLogger(__name__)
T = TypeVar("T")


class WorkerRuntime:
    def __init__(self, settings: Settings) -> None:
        self.loop = asyncio.new_event_loop()
        self.runtime: Runtime = build_runtime(settings)
        # With Redis sessions, a change this process commits to a user, their membership or creator profile bumps
        # the actor generations there, so no web process keeps serving a cached actor from before it
        # (marketplace.sessions, accounts.auth): the store is known to the bumps while the runtime lives.
        self.session_store: Any = session_store(settings) if settings.redis.url else None
        if self.session_store is not None:
            self.run(self.session_store.__aenter__())

    def job_context(self) -> JobContext:
        return self.runtime.job_context()

    def run(self, coroutine: Coroutine[Any, Any, T]) -> T:
        return self.loop.run_until_complete(coroutine)

    def close(self) -> None:
        try:
            if self.session_store is not None:
                self.run(self.session_store.__aexit__(None, None, None))
            self.run(self.runtime.alchemy.get_engine().dispose())
        finally:
            self.loop.close()


_lock = threading.Lock()
_current: WorkerRuntime | None = None


def init_worker_runtime(settings: Settings | None = None) -> WorkerRuntime:
    """(Re)build this process's runtime; called by the pool for every child process."""
    global _current
    from marketplace.settings import get_settings

    with _lock:
        if _current is not None:
            _current.close()
        _current = WorkerRuntime(settings or get_settings())
        log.info("worker runtime ready: database %s", _current.runtime.settings.db.url.split("@")[-1])
        return _current


def worker_runtime() -> WorkerRuntime:
    if _current is None:
        return init_worker_runtime()
    return _current


def close_worker_runtime() -> None:
    global _current
    with _lock:
        if _current is not None:
            _current.close()
            _current = None
