"""The Celery app wraps every registered job as a task of the same name, on its queue, acknowledged late, with
the periodic jobs on the beat schedule; RetryLater becomes a retry with backoff and jitter or the Retry-After."""

from __future__ import annotations

import random

import pytest
from celery import Celery

from marketplace.jobs import RetryLater, load_jobs, periodic_jobs
from marketplace.settings import RedisSettings, Settings
from worker.celery_app import QUEUES, make_celery, retry_countdown


@pytest.fixture(scope="module")
def app() -> Celery:
    # Building the app connects to nothing; the broker URL is only read.
    return make_celery(Settings(redis=RedisSettings(url="redis://127.0.0.1:6379/14")))


def test_every_registered_job_is_a_task_of_the_same_name(app: Celery) -> None:
    specs = load_jobs()
    assert {"deadlines.sweep", "verification.verify_post", "mail.deliver_email"} <= set(specs)
    for name, spec in specs.items():
        task = app.tasks[name]
        assert task.acks_late is True
        assert task.reject_on_worker_lost is True
        assert task.max_retries == spec.max_retries


def test_tasks_are_routed_to_their_queue(app: Celery) -> None:
    routes = app.conf.task_routes
    for name, spec in load_jobs().items():
        assert routes[name] == {"queue": spec.queue}
        assert spec.queue in QUEUES
    assert routes["verification.verify_post"] == {"queue": "verification"}
    assert routes["verification.check_keep_live"] == {"queue": "verification"}
    assert routes["deadlines.sweep"] == {"queue": "default"}


def test_each_queue_has_its_own_exchange_and_key_like_a_queue_a_sender_creates(app: Celery) -> None:
    from marketplace.jobs import CeleryQueue

    queues = {q.name: (q.exchange.name, q.routing_key) for q in app.amqp.queues.values()}
    assert queues == {"default": ("default", "default"), "verification": ("verification", "verification")}
    sender = CeleryQueue("redis://127.0.0.1:6379/14")._app
    route = sender.amqp.router.route({"queue": "verification"}, "verification.verify_post", args=[], kwargs={})
    assert (route["queue"].exchange.name, route["queue"].routing_key) == queues["verification"]


def test_beat_schedule_is_the_periodic_jobs(app: Celery) -> None:
    schedule = app.conf.beat_schedule
    assert set(schedule) == {spec.name for spec in periodic_jobs()}
    assert schedule["deadlines.sweep"]["schedule"] == 300.0
    assert schedule["deadlines.reconcile_watches"]["schedule"] == 3600.0


def test_late_acknowledgement_and_one_task_at_a_time(app: Celery) -> None:
    assert app.conf.task_acks_late and app.conf.task_reject_on_worker_lost
    assert app.conf.worker_prefetch_multiplier == 1
    assert app.conf.broker_url == "redis://127.0.0.1:6379/14"
    assert app.conf.result_backend == "redis://127.0.0.1:6379/14"


def test_retry_honours_retry_after_with_a_little_jitter() -> None:
    random.seed(7)
    delays = [retry_countdown(RetryLater("429", retry_after=30), retries=n) for n in range(20)]
    assert all(30 <= d <= 31 for d in delays)
    assert len(set(delays)) > 1


def test_retry_without_retry_after_backs_off_exponentially_with_full_jitter() -> None:
    random.seed(11)
    for retries in range(6):
        delays = [retry_countdown(RetryLater("500"), retries) for _ in range(200)]
        assert all(0 <= d <= 2.0 * 2**retries for d in delays)
        assert max(delays) > 2.0 * 2**retries * 0.8  # spread over the whole window, not a fixed delay
    capped = [retry_countdown(RetryLater("500"), 30) for _ in range(50)]
    assert max(capped) <= 600
