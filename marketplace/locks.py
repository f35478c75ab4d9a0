"""Row locks in the one order every writer takes them: deal → dispute → escrow hold (→ ledger accounts, in escrow).

Each combination a business action needs has one named function here (saleor's ``lock_objects`` habit), so no
service composes its own sequence of ``FOR UPDATE`` and two decisions on one deal queue instead of deadlocking.
"""

from __future__ import annotations

from uuid import UUID

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from escrow.models import EscrowHold
from escrow.transition import lock_hold
from marketplace.collaborations.models import Collaboration
from marketplace.collaborations.transition import lock_collaboration
from marketplace.disputes.models import Dispute
from marketplace.errors import NotFound
from marketplace.i18n import gettext


async def lock_deal_dispute_and_hold(session: AsyncSession, dispute_id: UUID
                                     ) -> tuple[Collaboration, Dispute, EscrowHold | None]:
    """A dispute's deal, the dispute and the deal's escrow hold, locked in that order (the dispute is found first
    without a lock, only to learn its deal)."""
    collaboration_id = await session.scalar(sa.select(Dispute.collaboration_id).where(Dispute.id == dispute_id))
    if collaboration_id is None:
        raise NotFound(gettext('No such dispute.'))
    collab = await lock_collaboration(session, collaboration_id)
    dispute = await session.scalar(sa.select(Dispute).where(Dispute.id == dispute_id).with_for_update()
                                   .execution_options(populate_existing=True))
    assert dispute is not None
    return collab, dispute, await lock_hold(session, collaboration_id=collab.id)
