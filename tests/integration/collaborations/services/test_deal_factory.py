"""The deal factory reaches every state through the real services (other areas rely on it)."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from marketplace.collaborations.models import Collaboration, CollaborationEvent, ContentDraft, PostSubmission, Shipment
from marketplace.collaborations.states import CollabState
from tests.support.deals import make_deal


@pytest.mark.parametrize(
    "state",
    [s for s in CollabState if s is not CollabState.OFFERED],
    ids=lambda s: s.value,
)
async def test_make_deal_reaches_the_state(runtime, db, state) -> None:
    deal = await make_deal(runtime, state)
    collab = await db.get(Collaboration, deal.id)
    assert collab.status is state
    events = (await db.scalars(sa.select(CollaborationEvent).where(CollaborationEvent.collaboration_id == deal.id)
                               .order_by(CollaborationEvent.seq))).all()
    assert [e.seq for e in events] == list(range(1, collab.event_count + 1))
    assert events[-1].to_state == state.value


async def test_a_productless_deal_skips_shipping(runtime, db) -> None:
    deal = await make_deal(runtime, CollabState.POSTED, product_included=False)
    assert (await db.scalar(sa.select(sa.func.count(Shipment.id)).where(Shipment.collaboration_id == deal.id))) == 0
    assert await db.scalar(sa.select(sa.func.count(ContentDraft.id)).where(ContentDraft.collaboration_id == deal.id))
    post = await db.scalar(sa.select(PostSubmission).where(PostSubmission.collaboration_id == deal.id))
    assert post.is_current and post.platform == "tiktok"


async def test_a_deal_made_through_the_application_funnel_runs_the_same_way(runtime, db) -> None:
    deal = await make_deal(runtime, CollabState.POSTED, through_applications=True)
    collab = await db.get(Collaboration, deal.id)
    assert collab.status is CollabState.POSTED and collab.application_id == deal.application_id
    first = await db.scalar(sa.select(CollaborationEvent).where(CollaborationEvent.collaboration_id == deal.id,
                                                                CollaborationEvent.seq == 1))
    assert first.action == "offer" and first.actor_user_id == deal.brand.user_id
