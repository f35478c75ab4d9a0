"""``earliest_check_at`` (asked for every deal a bulk step moves, so it asks only the rules of the deal's state) gives
what its definition gives: the first reminder of the full schedule and every consequence's time, whatever the state,
milestones, pause and reminder offsets."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from marketplace.collaborations.due_dates import recompute_due_dates
from marketplace.collaborations.models import Collaboration
from marketplace.collaborations.states import CollabState
from marketplace.collaborations.terms import DeliverableTerms, Terms
from marketplace.deadlines.rules import (
    auto_accept_at,
    auto_approve_at,
    brand_no_show_at,
    earliest_check_at,
    first_reminder_at,
    ghost_at,
    keep_live_end_at,
    keep_live_midpoint_at,
    reminder_offsets,
    reminder_schedule,
)

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
MILESTONES = ("funded_at", "shipped_at", "received_at", "draft_submitted_at", "draft_approved_at", "posted_at",
              "verified_at", "approved_at", "post_review_requested_at", "deadlines_paused_at")


def by_definition(c: Collaboration) -> datetime | None:
    """The rule as first written: the whole reminder schedule's first entry, and every consequence asked."""
    times = [r.fire_at for r in reminder_schedule(c)[:1]]
    times += [t for t in (ghost_at(c), brand_no_show_at(c), auto_approve_at(c), auto_accept_at(c),
                          keep_live_midpoint_at(c), keep_live_end_at(c)) if t is not None]
    return min(times, default=None)


def _terms(product: bool, offsets: list[Any] | None) -> dict[str, Any]:
    terms = Terms(gig_id="g", gig_title="Glow", brief="b", brand_name="Acme", creator_display_name="Casey",
                  currency="USD", fee_amount=15000, commission_bps=None, product_included=product,
                  product_name="Serum", product_retail_value=3900,
                  deliverables=(DeliverableTerms("tiktok", "video", 1),), platform="tiktok", handle="casey",
                  revision_rounds=1).to_dict()
    if offsets is not None:
        terms["reminder_offsets_hours"] = offsets
    return terms


offset_values = st.one_of(st.integers(-1000, 1000), st.sampled_from(["24", "x", None, "-48"]))


@settings(max_examples=400, deadline=None)
@given(
    state=st.sampled_from(list(CollabState)),
    product=st.booleans(),
    offsets=st.one_of(st.none(), st.lists(offset_values, max_size=6)),
    hours=st.fixed_dictionaries({name: st.one_of(st.none(), st.integers(-400, 400)) for name in MILESTONES}),
    needs_review=st.booleans(),
)
def test_earliest_check_is_its_definition(state: CollabState, product: bool, offsets: list[Any] | None,
                                          hours: dict[str, int | None], needs_review: bool) -> None:
    c = Collaboration(status=state, terms=_terms(product, offsets), product_included=product, fee_amount=15000,
                      currency="USD", created_at=T0 - timedelta(days=10), signed_at=T0 - timedelta(days=9),
                      due_overrides={}, needs_admin_review=needs_review,
                      **{name: None if h is None else T0 + timedelta(hours=h) for name, h in hours.items()})
    recompute_due_dates(c, T0)
    assert earliest_check_at(c) == by_definition(c)
    schedule = reminder_schedule(c)
    assert first_reminder_at(c) == (schedule[0].fire_at if schedule else None)


def test_offsets_memo_gives_the_same_for_lists_and_odd_values() -> None:
    c = Collaboration(status=CollabState.FUNDED, terms=_terms(True, ["24", 24, -72, "x", None, 10_000]))
    assert reminder_offsets(c) == (-72, 24)
    c.terms = {**c.terms, "reminder_offsets_hours": [[1], 24]}  # unhashable: cleaned without the memo
    assert reminder_offsets(c) == (24,)
    c.terms = {**c.terms, "reminder_offsets_hours": None}
    assert reminder_offsets(c) == (-72, -24, 24, 72)
