"""/admin/reconciliation: where the ledger and the payment provider disagree, and webhook events left unprocessed."""

from __future__ import annotations

from typing import Any
from uuid import UUID

import sqlalchemy as sa
from litestar import Request, Response, get, post
from litestar.di import NamedDependency
from litestar.params import FromPath, FromQuery
from sqlalchemy.ext.asyncio import AsyncSession

from escrow.reconcile import LABELS, MismatchKind
from escrow.records import ReconciliationMismatch, ReconciliationRun, WebhookEvent
from marketplace.accounts.guards import admin_only, current_actor
from marketplace.admin import audit
from marketplace.errors import NotFound
from marketplace.i18n import gettext
from marketplace.jobs import enqueue
from marketplace.payments.webhooks import PROCESS_JOB, RECONCILE_JOB
from marketplace.web import PageController, client_ip, flash, redirect, render, runtime_of

RUNS_SHOWN = 20
EVENTS_SHOWN = 50


class ReconciliationPages(PageController):
    path = "/admin/reconciliation"
    guards = [admin_only]

    @get("/", name="admin_reconciliation")
    async def show(self, request: Request[Any, Any, Any], db_session: NamedDependency[AsyncSession],
                   run: FromQuery[UUID | None] = None) -> Response[Any]:
        """The latest runs, one run's mismatches (the newest unless ``?run=`` picks another), and stuck events."""

        runs = list(await db_session.scalars(
            sa.select(ReconciliationRun).order_by(ReconciliationRun.started_at.desc(), ReconciliationRun.id.desc())
            .limit(RUNS_SHOWN)))
        selected = None
        if run is not None:
            selected = await db_session.get(ReconciliationRun, run)
            if selected is None:
                raise NotFound(gettext('No such reconciliation run.'))
        elif runs:
            selected = runs[0]
        mismatches = []
        if selected is not None:
            mismatches = list(await db_session.scalars(
                sa.select(ReconciliationMismatch).where(ReconciliationMismatch.run_id == selected.id)
                .order_by(ReconciliationMismatch.kind, ReconciliationMismatch.created_at)))
        unprocessed = int(await db_session.scalar(
            sa.select(sa.func.count()).select_from(WebhookEvent).where(WebhookEvent.processed_at.is_(None))) or 0)
        troubled = list(await db_session.scalars(
            sa.select(WebhookEvent)
            .where(WebhookEvent.processed_at.is_(None), WebhookEvent.attempts > 0)
            .order_by(WebhookEvent.received_at).limit(EVENTS_SHOWN)))
        labels = {kind.value: LABELS[kind] for kind in MismatchKind}
        return render(request, "payments/admin_reconciliation.html", {
            "runs": runs, "selected": selected, "mismatches": mismatches, "labels": labels,
            "unprocessed": unprocessed, "troubled": troubled,
        }, block="run")

    @post("/run", name="admin_reconciliation_run")
    async def start(self, request: Request[Any, Any, Any], db_session: NamedDependency[AsyncSession]) -> Response[Any]:
        """Queue a full run now (it may take a while on many deals: it reads each one back from the provider)."""
        actor = current_actor(request)
        await audit.record(db_session, actor, "reconciliation.run", target_type="reconciliation", target_id="all",
                           summary="Started a full reconciliation with the payment provider.",
                           now=runtime_of(request).clock.now(), ip=client_ip(request))
        enqueue(db_session, RECONCILE_JOB, f"admin:{actor.email}")
        flash(request, gettext('Reconciliation started; refresh in a minute to see the result.'), "info")
        return redirect(request, "/admin/reconciliation")

    @post("/events/{event_id:uuid}/retry", name="admin_webhook_retry")
    async def retry_event(self, request: Request[Any, Any, Any], db_session: NamedDependency[AsyncSession],
                          event_id: FromPath[UUID]) -> Response[Any]:
        """Process a stored webhook event again (e.g. after fixing what made it fail)."""
        row = await db_session.get(WebhookEvent, event_id)
        if row is None:
            raise NotFound(gettext('No such webhook event.'))
        if row.processed_at is None:
            await audit.record(db_session, current_actor(request), "webhook.retry", target_type="webhook_event",
                               target_id=row.id, summary=f"Queued webhook event {row.event_id} ({row.type}) "
                               f"again after {row.attempts} failed attempt(s).", now=runtime_of(request).clock.now(),
                               before={"attempts": row.attempts}, ip=client_ip(request))
            enqueue(db_session, PROCESS_JOB, str(row.id))
            flash(request, gettext('Event %(event_id)s queued again.', event_id=row.event_id), "info")
        else:
            flash(request, gettext('Event %(event_id)s was already processed.', event_id=row.event_id), "info")
        return redirect(request, "/admin/reconciliation")
