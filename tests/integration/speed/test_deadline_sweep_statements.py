"""The deadline sweep's statements per batch do not grow with the deals in it (bench/deadline_sweep.py times it)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from marketplace.collaborations.states import CollabState
from marketplace.deadlines.sweeper import sweep_deadlines
from tests.conftest import START
from tests.integration.speed.test_signed_in_statements import count_statements
from tests.support.deadlines import load, make_deal

#: Due rows with their deals (1), reminders and notices already sent (2), the reminder claim (1), recipients (1),
#: email preferences (1), notifications and emails (2), the watch update (1).
MAX_SWEEP_STATEMENTS = 9


async def _sweep_due(runtime: Any, people: Any, clock: Any, deals: int) -> tuple[int, list[str]]:
    made = [await make_deal(runtime, people, until=CollabState.FUNDED, start=START) for _ in range(deals)]
    ship_due = (await load(runtime, made[-1].collaboration_id)).due("ship")
    assert ship_due is not None
    clock.set(ship_due - timedelta(hours=20))
    with count_statements(runtime) as statements:
        report = await sweep_deadlines(runtime.session_maker, clock.now(), public_url="http://testserver.local")
    assert report.reminders == report.examined
    return report.examined, [s for s in statements if not s.lstrip().upper().startswith(("PRAGMA", "SAVEPOINT"))]


async def test_sweep_statements_do_not_grow_with_the_deals(runtime, people, clock) -> None:
    examined_one, one = await _sweep_due(runtime, people, clock, 1)
    examined_many, many = await _sweep_due(runtime, people, clock, 4)
    assert (examined_one, examined_many) == (1, 4)
    assert len(many) == len(one), (one, many)  # four brands and creators, still one statement per step
    assert len(many) <= MAX_SWEEP_STATEMENTS, many
