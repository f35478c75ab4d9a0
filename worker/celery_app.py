"""The Celery app: every job in ``marketplace.jobs.REGISTRY`` as a task of the same name, routed to its queue, with
periodic jobs on the beat schedule.

    celery -A worker.celery_app worker --beat -Q default,verification      (``make worker``)

Tasks are acknowledged only after they finish (``acks_late``) and put back when the process running them dies
(``reject_on_worker_lost``), so a killed worker loses nothing; every job takes ids and checks what was already done,
so running one twice does nothing twice. A job raising ``RetryLater`` is retried with exponential backoff and full
jitter, or after the platform's Retry-After when it gave one.
"""

from __future__ import annotations

import logging
import os
import random
from typing import Any

from celery import Celery, Task
from celery.signals import worker_process_init, worker_process_shutdown, worker_ready
from kombu import Exchange, Queue

from marketplace.app import freeze_startup_heap
from marketplace.jobs import JobSpec, RetryLater, backoff_seconds, load_jobs, periodic_jobs
from marketplace.settings import Settings, get_settings
from worker.runtime import close_worker_runtime, init_worker_runtime, worker_runtime

log = logging.getLogger("worker")

QUEUES = ("default", "verification")
#: Seconds before Redis hands an unacknowledged task (its worker died) to another worker. Long enough for the
#: slowest task; tests shorten it with CELERY_VISIBILITY_TIMEOUT.
DEFAULT_VISIBILITY_TIMEOUT = 3600


def retry_countdown(exc: RetryLater, retries: int) -> float:
    """Honour the platform's Retry-After (plus up to a second of jitter so retries don't line up); otherwise
    exponential backoff with full jitter."""
    if exc.retry_after is not None:
        return max(0.0, exc.retry_after) + random.uniform(0, 1.0)
    return backoff_seconds(retries)


def _jsonable(value: Any) -> Any:
    if value is None or isinstance(value, str | int | float | bool):
        return value
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    return str(value)


def register_job(app: Celery, spec: JobSpec) -> Task:
    """Wrap one registered job as a Celery task of the same name."""

    def run(self: Task, *args: Any) -> Any:
        runtime = worker_runtime()
        try:
            result = runtime.run(spec.function(runtime.job_context(), *args))
        except RetryLater as exc:
            countdown = retry_countdown(exc, self.request.retries)
            log.warning(
                "%s%r: %s; retry %d/%d in %.1fs",
                spec.name,
                args,
                exc,
                self.request.retries + 1,
                spec.max_retries,
                countdown,
            )
            raise self.retry(exc=exc, countdown=countdown, max_retries=spec.max_retries) from exc
        log.info("%s%r decided: %r", spec.name, args, result)
        return _jsonable(result)

    run.__name__ = spec.name.replace(".", "_")
    run.__doc__ = spec.function.__doc__
    task: Task = app.task(
        name=spec.name,
        bind=True,
        acks_late=True,
        reject_on_worker_lost=True,
        max_retries=spec.max_retries,
        queue=spec.queue,
    )(run)
    return task


def make_celery(settings: Settings | None = None) -> Celery:
    settings = settings or get_settings()
    broker = settings.redis.url or "memory://"
    app = Celery("postpact", broker=broker, backend=settings.redis.url or None, set_as_current=False)
    specs = load_jobs()
    app.conf.update(
        task_acks_late=True,
        task_reject_on_worker_lost=True,
        # One task at a time per process: a killed process then only ever holds one unacknowledged task.
        worker_prefetch_multiplier=1,
        task_default_queue="default",
        # Each queue on its own exchange and routing key, exactly as Celery declares a queue when a sender (the
        # web's CeleryQueue) names it, so the bindings agree whichever process declares them first.
        task_queues=[Queue(name, Exchange(name), routing_key=name) for name in QUEUES],
        task_routes={spec.name: {"queue": spec.queue} for spec in specs.values()},
        beat_schedule={
            spec.name: {"task": spec.name, "schedule": float(spec.every or 60), "options": {"queue": spec.queue}}
            for spec in periodic_jobs()
        },
        beat_schedule_filename=str(settings.storage.var_dir / "celerybeat-schedule"),
        broker_connection_retry_on_startup=True,
        broker_transport_options={
            "visibility_timeout": int(os.environ.get("CELERY_VISIBILITY_TIMEOUT") or DEFAULT_VISIBILITY_TIMEOUT)
        },
        task_serializer="json",
        result_serializer="json",
        accept_content=["json"],
        result_expires=24 * 3600,
        timezone="UTC",
        enable_utc=True,
        worker_hijack_root_logger=True,
    )
    for spec in specs.values():
        register_job(app, spec)
    return app


@worker_process_init.connect
def _start_process(**_: Any) -> None:
    init_worker_runtime()
    freeze_startup_heap()


@worker_process_shutdown.connect
def _stop_process(**_: Any) -> None:
    close_worker_runtime()


@worker_ready.connect
def _recover_at_start(sender: Any = None, **_: Any) -> None:
    """A worker that starts (after a crash, say) finishes the provider calls left in flight at once, before beat's
    first tick: a deal never waits on a dead process."""
    if sender is not None:
        sender.app.send_task("escrow.recover_provider_calls", queue="default")


app = make_celery()
celery = app
