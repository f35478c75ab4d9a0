"""Background jobs: one registry of named async jobs, run in-process (embedded default) or by Celery workers.

A job is enqueued inside a database transaction and dispatched only after that transaction commits, so a
worker never sees ids that were rolled back. Jobs take ids, open their own sessions and are safe to run twice.
The Celery app in ``worker/`` wraps every registered job as a task of the same name; the web process only
ever sends by name, so it never imports the worker.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib
import logging
import random
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlalchemy.orm import Session

from marketplace.clock import Clock, SystemClock
from marketplace.settings import Settings

log = logging.getLogger(__name__)

PENDING_KEY = "postpact.pending_jobs"
QUEUE_KEY = "postpact.job_queue"
#: Session info key holding the Settings, so code deep in a transaction (emails) can read the public URL.
SETTINGS_KEY = "postpact.settings"

#: Modules that define jobs; imported once so the registry is complete in every process.
JOB_MODULES: list[str] = [
    "marketplace.notifications.mail",
    "marketplace.payments.webhooks",
    "marketplace.payments.jobs",
    "marketplace.messaging.jobs",
    "marketplace.notifications.jobs",
    "marketplace.reputation.jobs",
    "marketplace.deadlines.jobs",
    "marketplace.verification.jobs",
    "marketplace.disputes.jobs",
    "marketplace.stores.jobs",
    "marketplace.social.jobs",
    "marketplace.sales.jobs",
    "marketplace.bulk.services",
    "marketplace.webhooks.delivery",
]


class RetryLater(Exception):
    """Raised by a job that hit a transient failure (a 500, a timeout): run me again later."""

    def __init__(self, reason: str, retry_after: float | None = None) -> None:
        super().__init__(reason)
        self.retry_after = retry_after


@dataclass
class JobContext:
    """What a job may use: settings, sessions, the clock, and resources built once per process."""

    settings: Settings
    session_maker: async_sessionmaker[AsyncSession]
    clock: Clock = field(default_factory=SystemClock)
    resources: dict[str, Any] = field(default_factory=dict)

    def resource(self, key: str, factory: Callable[[], Any]) -> Any:
        if key not in self.resources:
            self.resources[key] = factory()
        return self.resources[key]


JobFunction = Callable[..., Awaitable[Any]]


@dataclass(frozen=True)
class JobSpec:
    name: str
    function: JobFunction
    queue: str = "default"
    max_retries: int = 5
    #: Seconds between runs for periodic jobs (beat schedule / in-process scheduler).
    every: float | None = None


@dataclass(frozen=True)
class PendingJob:
    name: str
    args: tuple[Any, ...]
    countdown: float | None = None


REGISTRY: dict[str, JobSpec] = {}


def job(
    name: str, *, queue: str = "default", max_retries: int = 5, every: float | None = None
) -> Callable[[JobFunction], JobFunction]:
    """Register ``async def fn(ctx: JobContext, *ids)`` under a stable name."""

    def register(fn: JobFunction) -> JobFunction:
        if name in REGISTRY and REGISTRY[name].function is not fn:
            raise ValueError(f"job {name!r} registered twice")
        REGISTRY[name] = JobSpec(name=name, function=fn, queue=queue, max_retries=max_retries, every=every)
        return fn

    return register


def load_jobs() -> dict[str, JobSpec]:
    for module in JOB_MODULES:
        importlib.import_module(module)
    return REGISTRY


def periodic_jobs() -> list[JobSpec]:
    return [spec for spec in load_jobs().values() if spec.every]


def enqueue(session: AsyncSession | Session, name: str, *args: Any, countdown: float | None = None) -> None:
    """Queue a job to start once the current transaction commits (discarded if it rolls back)."""
    if name not in REGISTRY:
        load_jobs()
        if name not in REGISTRY:
            raise KeyError(f"unknown job {name!r}")
    session.info.setdefault(PENDING_KEY, []).append(PendingJob(name, tuple(args), countdown))


def backoff_seconds(attempt: int, base: float = 2.0, cap: float = 600.0) -> float:
    """Exponential backoff with full jitter, so retries from many jobs don't arrive together."""
    return random.uniform(0, min(cap, base * (2**attempt)))


class JobQueue(Protocol):
    def dispatch(self, jobs: list[PendingJob]) -> None: ...


class InProcessQueue:
    """Runs jobs as asyncio tasks in this process: the embedded default, no broker needed."""

    def __init__(self, context_factory: Callable[[], JobContext]) -> None:
        self._context_factory = context_factory
        self._tasks: set[asyncio.Task[None]] = set()
        self.failures: list[tuple[str, BaseException]] = []

    def dispatch(self, jobs: list[PendingJob]) -> None:
        loop = asyncio.get_running_loop()
        for pending in jobs:
            task = loop.create_task(self._run(pending))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def _run(self, pending: PendingJob) -> None:
        if pending.countdown:
            await asyncio.sleep(pending.countdown)
        spec = REGISTRY[pending.name]
        for attempt in range(spec.max_retries + 1):
            try:
                await spec.function(self._context_factory(), *pending.args)
                return
            except RetryLater as exc:
                if attempt == spec.max_retries:
                    log.error("job %s%r gave up after %d attempts: %s", pending.name, pending.args, attempt + 1, exc)
                    self.failures.append((pending.name, exc))
                    return
                delay = exc.retry_after if exc.retry_after is not None else backoff_seconds(attempt)
                log.warning("job %s%r will retry in %.1fs: %s", pending.name, pending.args, delay, exc)
                await asyncio.sleep(delay)
            except Exception as exc:
                log.exception("job %s%r failed", pending.name, pending.args)
                self.failures.append((pending.name, exc))
                return

    async def drain(self) -> None:
        """Wait for every job dispatched so far, and any they dispatch in turn (tests, shutdown)."""
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)


class RecordingQueue:
    """Keeps dispatched jobs for a test to inspect and run when it chooses."""

    def __init__(self) -> None:
        self.jobs: list[PendingJob] = []

    def dispatch(self, jobs: list[PendingJob]) -> None:
        self.jobs.extend(jobs)

    def names(self) -> list[str]:
        return [j.name for j in self.jobs]

    async def run_all(self, ctx: JobContext) -> int:
        """Run queued jobs (and the jobs they queue) until none are left; returns how many ran."""
        ran = 0
        while self.jobs:
            pending = self.jobs.pop(0)
            await REGISTRY[pending.name].function(ctx, *pending.args)
            ran += 1
        return ran


class CeleryQueue:
    """Sends jobs to Celery workers over Redis by name; the worker package defines the tasks."""

    def __init__(self, broker_url: str) -> None:
        from celery import Celery

        self._app = Celery("postpact", broker=broker_url, set_as_current=False)
        self._app.conf.broker_connection_retry_on_startup = True

    def dispatch(self, jobs: list[PendingJob]) -> None:
        for pending in jobs:
            spec = REGISTRY[pending.name]
            self._app.send_task(pending.name, args=list(pending.args), countdown=pending.countdown, queue=spec.queue)


@event.listens_for(Session, "after_commit")
def _dispatch_after_commit(session: Session) -> None:
    pending = session.info.pop(PENDING_KEY, None)
    if not pending:
        return
    queue: JobQueue | None = session.info.get(QUEUE_KEY)
    if queue is None:
        log.warning("no job queue configured; dropped %s", [p.name for p in pending])
        return
    queue.dispatch(pending)


@event.listens_for(Session, "after_rollback")
def _discard_after_rollback(session: Session) -> None:
    session.info.pop(PENDING_KEY, None)


class InProcessScheduler:
    """Periodic jobs for the embedded default (Celery beat does this in production)."""

    def __init__(self, queue: JobQueue, specs: list[JobSpec], tick_seconds: float = 5.0) -> None:
        self._queue = queue
        self._specs = specs
        self._tick = tick_seconds
        self._task: asyncio.Task[None] | None = None

    @staticmethod
    def first_delay(every: float) -> float:
        """Frequent jobs start a few seconds after start-up; long-interval ones (hourly, daily) at a random point of
        their interval, so every restart doesn't run a daily re-ranking while people are using the site."""
        if every <= 600:
            return random.uniform(2.0, 10.0)
        return random.uniform(60.0, every)

    async def _loop(self) -> None:
        loop = asyncio.get_running_loop()
        next_run = {spec.name: loop.time() + self.first_delay(spec.every or 60.0) for spec in self._specs}
        while True:
            now = loop.time()
            due = [spec for spec in self._specs if next_run[spec.name] <= now]
            for spec in due:
                next_run[spec.name] = now + (spec.every or 60.0)
            if due:
                self._queue.dispatch([PendingJob(spec.name, ()) for spec in due])
            await asyncio.sleep(self._tick)

    def start(self) -> None:
        if self._specs and self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._loop())

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
