"""The dispute response window comes from DISPUTE_RESPONSE_DAYS (5 days when unset): the due time, what both sides
are told, and when the missed-window job marks the case all follow it."""

from __future__ import annotations

from datetime import timedelta

import pytest
import sqlalchemy as sa

from marketplace.collaborations.states import CollabState
from marketplace.db import session_scope
from marketplace.disputes import services
from marketplace.disputes.models import Dispute, DisputeStatement
from marketplace.notifications.models import Notification
from marketplace.settings import ConfigurationError, Settings
from tests.support.disputes import disputed_deal


@pytest.fixture
def test_env(test_env: dict[str, str]) -> dict[str, str]:
    return {**test_env, "DISPUTE_RESPONSE_DAYS": "2"}


async def test_a_two_day_window(runtime, db, clock) -> None:
    deal, dispute_id = await disputed_deal(runtime, CollabState.VERIFIED, by="brand")
    dispute = await db.get(Dispute, dispute_id)
    assert dispute.response_due_at - dispute.opened_at == timedelta(days=2)
    told = await db.scalar(sa.select(Notification.body).where(Notification.kind == "dispute.opened",
                                                               Notification.user_id == deal.creator.user_id))
    assert "(2 days)" in told

    clock.advance(days=2, hours=-1)
    async with session_scope(runtime.session_maker) as session:
        assert await services.note_missed_responses(session, clock.now()) == 0
    clock.advance(hours=2)
    async with session_scope(runtime.session_maker) as session:
        assert await services.note_missed_responses(session, clock.now()) == 1
    note = await db.scalar(sa.select(DisputeStatement.body).where(DisputeStatement.dispute_id == dispute_id,
                                                                  DisputeStatement.kind == "system"))
    assert note.endswith("did not respond within 2 days.")


@pytest.mark.parametrize("raw", ["0", "31", "five"])
def test_a_window_out_of_range_is_refused_at_start(raw: str) -> None:
    with pytest.raises(ConfigurationError, match="DISPUTE_RESPONSE_DAYS"):
        Settings.from_env({"POSTPACT_ENV": "test", "SECRET_KEY": "x" * 40, "DISPUTE_RESPONSE_DAYS": raw})


def test_five_days_when_unset() -> None:
    assert Settings.from_env({"POSTPACT_ENV": "test", "SECRET_KEY": "x" * 40}).disputes.response_days == 5
