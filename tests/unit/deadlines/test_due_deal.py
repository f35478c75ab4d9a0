"""The sweep decides on a ``DueDeal`` (its narrow read of a collaboration) exactly as on the collaboration itself:
the same ghosting time as ``due_dates.ghosting_due_at``, and the same follow-up (reminder, consequences, next look)
in every state, at every moment around the deal's deadlines. No database."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from marketplace.collaborations.due_dates import ghosting_due_at
from marketplace.collaborations.models import Collaboration
from marketplace.collaborations.states import CollabState
from marketplace.collaborations.terms import TERMS_DEFAULTS, ghost_grace_hours
from marketplace.deadlines.due_deals import COLUMNS, TERMS_FIELDS, DueDeal
from marketplace.deadlines.reminders import reminder_item
from marketplace.deadlines.rules import History, earliest_check_at, follow_up, ghost_at
from tests.unit.deadlines.test_rules import T0, D, H, deal

HISTORIES = [
    History(),
    History(sent_offsets=frozenset({-72})),
    History(sent_offsets=frozenset({24}), notices=frozenset({"brand_no_show"}), midpoint_checked=True),
]


def due_deal_of(c: Collaboration, history: History = History()) -> DueDeal:
    """What ``due_deals`` reads for ``c``: its columns, and the terms fields it has (a null one left out)."""
    terms = {name: c.terms[name] for name in TERMS_FIELDS if c.terms.get(name) is not None}
    return DueDeal(*(getattr(c, name) for name in COLUMNS), terms=terms, history=history)


def variants() -> list[Collaboration]:
    out = []
    for state in CollabState:
        for product in (True, False):
            milestones = {
                "funded_at": T0 - 8 * D,
                "shipped_at": T0 - 6 * D,
                "received_at": T0 - 5 * D,
                "draft_submitted_at": T0 - 3 * D,
                "verified_at": T0 - 2 * D,
            }
            if state in {CollabState.POSTED, CollabState.VERIFIED, CollabState.RELEASED, CollabState.COMPLETED}:
                milestones["posted_at"] = T0 - 2 * D
            if state is CollabState.POSTED:
                milestones["post_review_requested_at"] = T0 - D
            out.append(deal(state, product=product, **milestones))
            out.append(deal(state, product=product, ghost_grace_hours=24, **milestones))
            out.append(deal(state, product=product, deadlines_paused_at=T0 - D, **milestones))
            out.append(deal(state, product=product, needs_admin_review=True, **milestones))
            out.append(deal(state, product=product, reminder_offsets_hours=[-48, 12], **milestones))
            out.append(deal(state, product=product, due_overrides={"post": (T0 + 30 * D).isoformat()}, **milestones))
    return out


def moments(c: Collaboration) -> list[datetime]:
    times = [T0 - 20 * D, T0, T0 + 60 * D]
    for stage in ("ship", "draft", "post", "check", "approve", "keep_live"):
        due = c.due(stage)
        if due is not None:
            times += [due + offset * H for offset in (-73, -72, -25, -24, -1, 0, 1, 24, 72, 96, 97)]
    return times


def test_the_ghosting_time_is_due_dates_rule_in_every_state() -> None:
    times = set()
    for c in variants():
        assert ghost_at(c) == ghosting_due_at(c), (c.status, c.product_included, c.deadlines_paused_at)
        assert ghost_at(due_deal_of(c)) == ghosting_due_at(c)
        times.add(ghost_at(c))
    assert len(times) > 3  # none, and several grace periods and post deadlines


def test_the_grace_is_read_from_the_terms_or_defaults_as_parsing_them_would() -> None:
    assert ghost_grace_hours({"ghost_grace_hours": 24}) == 24
    assert ghost_grace_hours({}) == TERMS_DEFAULTS["ghost_grace_hours"] == 72


@pytest.mark.parametrize("history", HISTORIES, ids=["nothing sent", "3 days sent", "later steps done"])
def test_a_due_deal_gets_the_same_follow_up_as_its_collaboration(history: History) -> None:
    checked = 0
    for c in variants():
        view = due_deal_of(c, history)
        assert earliest_check_at(view) == earliest_check_at(c)
        for now in moments(c):
            expected = follow_up(c, now, history)
            assert follow_up(view, now, history) == expected, (c.status, now)
            if expected.reminder is not None:
                assert reminder_item(view, expected.reminder, now) == reminder_item(c, expected.reminder, now)  # type: ignore[arg-type]
            checked += 1
    assert checked > 1000


def test_a_deal_without_the_optional_terms_fields_reads_their_defaults() -> None:
    c = deal(CollabState.RECEIVED, funded_at=T0 - 8 * D, shipped_at=T0 - 6 * D, received_at=T0 - 5 * D)
    view = due_deal_of(c)
    view.terms = {}
    assert ghost_at(view) == c.due("post") + 72 * H  # type: ignore[operator]
    reminder = follow_up(view, c.due("draft") - 24 * H + timedelta(minutes=1)).reminder  # type: ignore[operator]
    assert reminder is not None and reminder.offset_hours == -24
    item = reminder_item(view, reminder, T0)
    assert (item.gig_title, item.counterpart) == ("your deal", "the brand")
