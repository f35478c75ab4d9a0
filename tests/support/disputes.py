"""Test factories for disputes and the admin console: "a funded deal with an open dispute", an admin Actor with a
fresh sign-in, deciding through the real service.

    deal, dispute_id = await disputed_deal(runtime, state=CollabState.VERIFIED, onboarded=True)
    await decide(runtime, admin, dispute_id, "split", creator_amount=5_000)
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any
from uuid import UUID

import sqlalchemy as sa

from marketplace.accounts.auth import Actor
from marketplace.admin.models import AdminAuditEntry
from marketplace.collaborations.states import CollabState
from marketplace.db import session_scope
from marketplace.disputes import decisions, services
from marketplace.disputes.attachments import IncomingFile
from marketplace.jobs import RecordingQueue
from marketplace.runtime import Runtime
from tests.support.deals import Deal
from tests.support.escrow import actor_of, funded_deal

STATEMENT = "The post went up two weeks late and without the #ad disclosure we agreed on."
RATIONALE = "The post was made and verified; the delay was agreed in messages on 3 November."
PDF_BYTES = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"


async def actor_now(runtime: Runtime, person: Any) -> Actor:
    """The person as an Actor who entered their password just now (admins deciding need that)."""
    actor = await actor_of(runtime, person)
    return replace(actor, authenticated_at=runtime.clock.now())


async def open_dispute(runtime: Runtime, deal: Deal, *, by: str = "brand", reason: str = "brief_mismatch",
                       statement: str = STATEMENT, files: list[IncomingFile] | None = None) -> UUID:
    person = deal.brand if by == "brand" else deal.creator
    actor = await actor_of(runtime, person)
    async with session_scope(runtime.session_maker) as session:
        dispute = await services.open_dispute(session, actor, deal.id, reason=reason, statement=statement,
                                              files=files, now=runtime.clock.now(), settings=runtime.settings)
        return dispute.id


def drop_jobs(runtime: Runtime, prefix: str = "verification.") -> None:
    """Forget queued jobs of another area (a submitted post queues its verification, which would reach for the
    real platforms): these tests are about money."""
    queue = runtime.queue
    if isinstance(queue, RecordingQueue):
        queue.jobs[:] = [j for j in queue.jobs if not j.name.startswith(prefix)]


async def funded(runtime: Runtime, state: CollabState = CollabState.FUNDED, *, onboarded: bool = True,
                 **deal_kwargs: Any) -> Deal:
    """``funded_deal`` without the post verification jobs it queues on the way."""
    deal = await funded_deal(runtime, state, onboarded=onboarded, **deal_kwargs)
    drop_jobs(runtime)
    return deal


async def disputed_deal(runtime: Runtime, state: CollabState = CollabState.VERIFIED, *, onboarded: bool = True,
                        by: str = "brand", **deal_kwargs: Any) -> tuple[Deal, UUID]:
    """A deal funded through escrow (simulated), moved to ``state``, with a dispute opened by ``by``."""
    deal = await funded(runtime, state, onboarded=onboarded, **deal_kwargs)
    return deal, await open_dispute(runtime, deal, by=by)


async def decide(runtime: Runtime, admin: Any, dispute_id: UUID, outcome: str, *, creator_amount: int | None = None,
                 rationale: str = RATIONALE, at_fault: str | None = None) -> Any:
    actor = await actor_now(runtime, admin)
    async with session_scope(runtime.session_maker) as session:
        return await decisions.decide(session, actor, dispute_id,
                                     decisions.DecisionInput(outcome, rationale, creator_amount, at_fault),
                                     now=runtime.clock.now(), settings=runtime.settings)


async def audit_entries(db: Any, action: str | None = None) -> list[AdminAuditEntry]:
    query = sa.select(AdminAuditEntry).order_by(AdminAuditEntry.id)
    if action:
        query = query.where(AdminAuditEntry.action == action)
    return list(await db.scalars(query))
