"""The whole funnel through services: a gig is published, a creator applies, the brand accepts → a collaboration."""

from __future__ import annotations

import sqlalchemy as sa

from marketplace.applications.models import Application, ApplicationStatus
from marketplace.collaborations.models import Collaboration
from marketplace.notifications.models import Notification, OutboxEmail
from tests.support.marketplace import make_collaboration


async def test_apply_and_accept_makes_an_offered_collaboration(runtime, people, db) -> None:
    deal = await make_collaboration(runtime, people)
    collab = await db.get(Collaboration, deal.collaboration.id)
    assert collab is not None and collab.status.value == "offered"
    assert collab.fee_amount == 15_000 and collab.currency == "USD"
    assert collab.terms["deliverables"][0]["required_hashtags"] == ["#glowlab"]
    application = await db.get(Application, deal.application.id)
    assert application.status is ApplicationStatus.ACCEPTED
    note = await db.scalar(sa.select(Notification).where(Notification.user_id == deal.creator.user_id,
                                                         Notification.kind == "application.accepted"))
    assert note is not None and note.link == f"/collaborations/{collab.id}"
    email = await db.scalar(sa.select(OutboxEmail).where(OutboxEmail.to_address == deal.creator.email,
                                                         OutboxEmail.category == "application.accepted"))
    assert email is not None and f"http://testserver.local/collaborations/{collab.id}" in email.body_text
