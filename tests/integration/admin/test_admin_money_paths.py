"""Admins move money only through a dispute decision (fresh password + audit entry), never through the deal API."""

from __future__ import annotations

import sqlalchemy as sa
from litestar.testing import AsyncTestClient
from sqlalchemy.ext.asyncio import AsyncSession

from escrow.states import EscrowState
from marketplace.admin.models import AdminAuditEntry
from marketplace.collaborations.models import CollaborationEvent
from marketplace.collaborations.states import CollabState
from marketplace.runtime import Runtime
from tests.support.deals import bearer
from tests.support.escrow import collab_state, funded_deal, hold_of, run_jobs


async def test_an_admin_cannot_refund_a_funded_deal_by_cancelling_it(client: AsyncTestClient, runtime: Runtime,
                                                                    people, db: AsyncSession) -> None:
    deal = await funded_deal(runtime)
    events_before = await db.scalar(sa.select(sa.func.count()).select_from(CollaborationEvent)
                                    .where(CollaborationEvent.collaboration_id == deal.id))
    admin = await bearer(runtime, await people.admin())

    response = await client.post(f"/api/v1/collaborations/{deal.id}/cancel", json={"reason": "admin did it"},
                                 headers=admin)
    await run_jobs(runtime)

    assert response.status_code in (403, 409), response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    db.expire_all()
    assert await collab_state(db, deal.id) is CollabState.FUNDED
    hold = await hold_of(db, deal.id)
    assert (hold.state, hold.refunded_amount) == (EscrowState.FUNDED, 0)
    assert await db.scalar(sa.select(sa.func.count()).select_from(CollaborationEvent)
                           .where(CollaborationEvent.collaboration_id == deal.id)) == events_before
    assert await db.scalar(sa.select(sa.func.count()).select_from(AdminAuditEntry)) == 0
