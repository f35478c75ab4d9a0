"""POST /webhooks/stripe, the jobs that apply stored provider events (and re-queue the ones left behind), and the
periodic reconciliation of the ledger with the provider."""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any
from uuid import UUID

from litestar import Controller, Request, Response, post
from litestar.di import NamedDependency
from sqlalchemy.ext.asyncio import AsyncSession

from escrow import webhooks
from escrow.providers.base import InvalidWebhook, TransientProviderError
from escrow.reconcile import reconcile
from marketplace.db import session_scope
from marketplace.input_guard import json_too_deep
from marketplace.jobs import JobContext, RetryLater, enqueue, job
from marketplace.payments.gateway import escrow_service, provider_for, stripe_provider
from marketplace.settings import Settings
from marketplace.web import Problem, problem_response, runtime_of

log = logging.getLogger(__name__)

PROCESS_JOB = "escrow.process_webhook_event"
REDELIVER_JOB = "escrow.redeliver_stuck_webhooks"
RECONCILE_JOB = "escrow.reconcile_payments"
#: Stripe events are a few kilobytes; anything this large is not one.
MAX_WEBHOOK_BYTES = 512 * 1024
def _bad_webhook(request: Request[Any, Any, Any], detail: str, status: int = 400) -> Response[Any]:
    return problem_response(request, Problem(status, "Invalid webhook", detail, "invalid-webhook"))


class StripeWebhookController(Controller):
    """Stripe's deliveries: verified on the raw body, stored once, answered at once; applied by a job."""

    path = "/webhooks/stripe"
    include_in_schema = False

    @post("/", status_code=200)
    async def receive(self, request: Request[Any, Any, Any],
                      db_session: NamedDependency[AsyncSession]) -> Response[Any]:
        runtime = runtime_of(request)
        provider = stripe_provider(runtime.settings, runtime.resources)
        if provider is None:
            return _bad_webhook(request, "Stripe is not configured on this PostPact (STRIPE_SECRET_KEY is unset).",
                                404)
        body = await request.body()
        if len(body) > MAX_WEBHOOK_BYTES:
            return _bad_webhook(request, "The payload is too large to be a Stripe event.", 413)
        if json_too_deep(body) or not body.lstrip().startswith(b"{"):
            # Every Stripe event is a JSON object; a signed array, number or null (or a document nested deep enough
            # to exhaust the parser) is not one, whatever its signature says.
            return _bad_webhook(request, "The payload is not a Stripe event (a JSON object).")
        try:
            received = await webhooks.receive_event(db_session, provider, body,
                                                    request.headers.get("stripe-signature"), now=runtime.clock.now())
        except InvalidWebhook as exc:
            log.warning("refused a Stripe webhook: %s", exc)
            return _bad_webhook(request, str(exc))
        if not received.processed:
            # A duplicate of an event still unprocessed is queued again: its first dispatch may have been lost.
            enqueue(db_session, PROCESS_JOB, str(received.id))
        return Response({"received": True, "duplicate": not received.first_delivery}, status_code=200)


# -- applying events through the escrow core -----------------------------------------------------------------------


class EscrowApplier:
    """Hands the provider's current state to the escrow core, inside the transaction that marks the event done;
    the collaboration moves (and people are told) through the marketplace's bridge in that same transaction."""

    def __init__(self, settings: Settings, actor: str = "stripe:webhook") -> None:
        self.settings = settings
        self.actor = actor

    async def __call__(self, session: AsyncSession, facts: webhooks.Facts, now: datetime) -> str:

        return await webhooks.apply_facts(escrow_service(session, now, settings=self.settings, actor=self.actor),
                                          facts)


# -- jobs ----------------------------------------------------------------------------------------------------------


@job(PROCESS_JOB, max_retries=8)
async def process_webhook_event(ctx: JobContext, webhook_event_id: str) -> None:
    """Re-read the event's object from Stripe and apply it through the escrow core (safe to run twice)."""
    provider = stripe_provider(ctx.settings, ctx.resources)
    if provider is None:
        log.error("webhook event %s can't be processed: Stripe is not configured", webhook_event_id)
        return
    try:
        outcome = await webhooks.process_event(ctx.session_maker, UUID(webhook_event_id), provider=provider,
                                               apply=EscrowApplier(ctx.settings), now=ctx.clock.now)
    except TransientProviderError as exc:
        raise RetryLater(f"Stripe unavailable: {exc.message}") from exc
    log.info("webhook %s %s: %s", outcome.type, outcome.event_id, outcome.outcome)


@job(REDELIVER_JOB, every=300)
async def redeliver_stuck_webhooks(ctx: JobContext) -> None:
    """Queue again every stored event left unprocessed (a lost dispatch, a crash mid-processing)."""
    async with session_scope(ctx.session_maker) as session:
        stuck = await webhooks.unprocessed_events(session, now=ctx.clock.now())
        for row_id in stuck:
            enqueue(session, PROCESS_JOB, str(row_id))
    if stuck:
        log.info("re-queued %d unprocessed webhook event(s)", len(stuck))


@job(RECONCILE_JOB, every=24 * 3600, max_retries=2)
async def reconcile_payments(ctx: JobContext, triggered_by: str = "job") -> None:
    """Compare every escrow's ledger with the provider and store what differs (the admin page lists it)."""

    provider = provider_for(ctx.settings, ctx.session_maker, ctx.resources)
    try:
        result = await reconcile(ctx.session_maker, provider, now=ctx.clock.now,
                                 triggered_by=triggered_by)
    except TransientProviderError as exc:
        raise RetryLater(f"provider unavailable: {exc.message}") from exc
    log.info("reconciliation %s: %d escrow(s) checked, %d mismatch(es)", result.run_id, result.checked,
             len(result.mismatches))
