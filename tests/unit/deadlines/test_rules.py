"""Deadline rules with an injected clock: every reminder offset, ghosting with and without an extension, the review
window, the brand no-show and keep-live checks. No database, no sleeps."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from marketplace.collaborations.due_dates import recompute_due_dates
from marketplace.collaborations.models import Collaboration
from marketplace.collaborations.states import CollabState
from marketplace.collaborations.terms import DeliverableTerms, Terms
from marketplace.deadlines.rules import (
    ACTION_LEASE,
    Consequence,
    History,
    auto_approve_due,
    brand_no_show_due,
    earliest_check_at,
    follow_up,
    ghost_at,
    ghosting_due,
    keep_live_final_due,
    keep_live_midpoint_at,
    reminder_due,
    reminder_offsets,
)

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
H = timedelta(hours=1)
D = timedelta(days=1)


def terms(**overrides: Any) -> dict[str, Any]:
    values: dict[str, Any] = dict(
        gig_id="g",
        gig_title="Glow serum launch",
        brief="b",
        brand_name="Acme",
        creator_display_name="Casey",
        currency="USD",
        fee_amount=15000,
        commission_bps=None,
        product_included=True,
        product_name="Serum",
        product_retail_value=3900,
        deliverables=(DeliverableTerms("tiktok", "video", 1),),
        platform="tiktok",
        handle="casey",
        revision_rounds=1,
    )
    values.update(overrides)
    return Terms(**values).to_dict()


def deal(state: CollabState, *, product: bool = True, now: datetime = T0, **fields: Any) -> Collaboration:
    """A collaboration as it would stand in ``state``, milestones set by hand, due dates computed by the real code."""
    term_fields = {
        k: fields.pop(k)
        for k in list(fields)
        if k in {"reminder_offsets_hours", "ghost_grace_hours", "review_window_hours", "keep_live_days"}
    }
    c = Collaboration(
        status=state,
        terms=terms(product_included=product, **term_fields),
        product_included=product,
        fee_amount=15000,
        currency="USD",
        created_at=fields.pop("created_at", T0 - 10 * D),
        signed_at=fields.pop("signed_at", T0 - 9 * D),
        due_overrides=fields.pop("due_overrides", {}),
        **fields,
    )
    recompute_due_dates(c, now)
    return c


def received(**fields: Any) -> Collaboration:
    """Creator has the product since T0: draft due T0+12d, post due T0+14d, ghosted at T0+14d+72h."""
    return deal(CollabState.RECEIVED, funded_at=T0 - 8 * D, shipped_at=T0 - 2 * D, received_at=T0, **fields)


# --- reminders ------------------------------------------------------------------------------------------------------


def test_default_offsets_are_72_and_24_hours_before_then_24_and_72_after() -> None:
    assert reminder_offsets(received()) == (-72, -24, 24, 72)


@pytest.mark.parametrize(
    ("hours_from_due", "expected"),
    [
        (-73, None),
        (-72, -72),
        (-30, -72),
        (-24, -24),
        (-1, -24),
        (0, -24),
        (23, -24),
        (24, 24),
        (71, 24),
        (72, 72),
        (500, 72),
    ],
)
def test_each_reminder_offset_fires_at_its_time(hours_from_due: int, expected: int | None) -> None:
    c = received()
    due = c.due("draft")
    assert c.next_due_stage == "draft" and c.next_due_party == "creator" and due is not None
    reminder = reminder_due(c, due + hours_from_due * H)
    assert (reminder.offset_hours if reminder else None) == expected
    if reminder:
        assert (reminder.stage, reminder.party, reminder.due_at) == ("draft", "creator", due)


def test_a_reminder_is_never_sent_twice_nor_an_earlier_one_after_a_later() -> None:
    c = received()
    due = c.due("draft")
    assert due is not None
    assert reminder_due(c, due - 30 * H, frozenset({-72})) is None
    assert reminder_due(c, due - 20 * H, frozenset({-72})).offset_hours == -24  # type: ignore[union-attr]
    # The deal reached the -24 h slot before anyone swept the -72 h one: -72 h is skipped for good.
    assert reminder_due(c, due - 70 * H, frozenset({-24})) is None


def test_brand_can_change_offsets_per_gig() -> None:
    c = received(reminder_offsets_hours=(-48, 6))
    due = c.due("draft")
    assert due is not None
    assert reminder_offsets(c) == (-48, 6)
    assert reminder_due(c, due - 72 * H) is None
    assert reminder_due(c, due - 48 * H).offset_hours == -48  # type: ignore[union-attr]
    assert reminder_due(c, due + 6 * H).offset_hours == 6  # type: ignore[union-attr]


def test_brand_stages_remind_the_brand_and_approval_gets_no_overdue_reminders() -> None:
    shipped = deal(CollabState.FUNDED, funded_at=T0)
    assert (shipped.next_due_stage, shipped.next_due_party) == ("ship", "brand")
    verified = deal(
        CollabState.VERIFIED, funded_at=T0 - 30 * D, received_at=T0 - 20 * D, posted_at=T0 - H, verified_at=T0
    )
    due = verified.due("approve")
    assert due == T0 + 72 * H
    assert reminder_due(verified, due - 24 * H).offset_hours == -24  # type: ignore[union-attr]
    assert reminder_due(verified, due + 30 * H, frozenset({-24})) is None


def test_paused_or_finished_deals_get_no_reminders() -> None:
    paused = received(deadlines_paused_at=T0)
    assert reminder_due(paused, T0 + 20 * D) is None
    ghosted = deal(CollabState.GHOSTED, funded_at=T0, received_at=T0)
    assert reminder_due(ghosted, T0 + 20 * D) is None


# --- ghosting -------------------------------------------------------------------------------------------------------


def test_ghosting_is_due_after_post_deadline_plus_grace_not_before() -> None:
    c = received()
    post_due = c.due("post")
    assert post_due == T0 + 14 * D
    assert ghost_at(c) == post_due + 72 * H
    assert not ghosting_due(c, post_due + 72 * H - timedelta(seconds=1))
    assert ghosting_due(c, post_due + 72 * H)


def test_grace_period_comes_from_the_terms() -> None:
    c = received(ghost_grace_hours=24)
    assert ghost_at(c) == T0 + 14 * D + 24 * H


def test_an_agreed_extension_moves_the_ghosting_time() -> None:
    new_post_due = T0 + 20 * D
    c = received(due_overrides={"post": new_post_due.isoformat()})
    assert ghost_at(c) == new_post_due + 72 * H
    assert not ghosting_due(c, T0 + 14 * D + 72 * H)  # would have ghosted without the extension
    assert ghosting_due(c, new_post_due + 72 * H)


def test_no_ghosting_before_the_product_ships_or_for_posted_deals() -> None:
    waiting_for_brand = deal(CollabState.FUNDED, funded_at=T0 - 30 * D)
    assert not ghosting_due(waiting_for_brand, T0 + 60 * D)
    posted = deal(CollabState.POSTED, funded_at=T0 - 30 * D, received_at=T0 - 29 * D, posted_at=T0)
    assert not ghosting_due(posted, T0 + 60 * D)


def test_productless_deal_ghosts_from_funding() -> None:
    c = deal(CollabState.FUNDED, product=False, funded_at=T0)
    assert ghost_at(c) == T0 + 14 * D + 72 * H
    assert ghosting_due(c, T0 + 17 * D)


def test_ghosting_suppresses_the_last_overdue_reminder() -> None:
    c = received()
    plan = follow_up(c, T0 + 30 * D)
    assert plan.consequences == (Consequence.GHOST,)
    assert plan.reminder is None
    assert plan.check_at == T0 + 30 * D + ACTION_LEASE


# --- review window, brand no-show, keep-live ------------------------------------------------------------------------


def verified(**fields: Any) -> Collaboration:
    return deal(
        CollabState.VERIFIED, funded_at=T0 - 30 * D, received_at=T0 - 20 * D, posted_at=T0 - H, verified_at=T0, **fields
    )


def test_review_window_auto_approves_after_72_hours_unless_approved_or_disputed() -> None:
    c = verified()
    assert not auto_approve_due(c, T0 + 72 * H - timedelta(seconds=1))
    assert auto_approve_due(c, T0 + 72 * H)
    assert follow_up(c, T0 + 72 * H).consequences == (Consequence.AUTO_APPROVE,)
    assert not auto_approve_due(verified(approved_at=T0 + H), T0 + 100 * H)
    assert not auto_approve_due(verified(deadlines_paused_at=T0 + H), T0 + 100 * H)
    assert auto_approve_due(verified(review_window_hours=24), T0 + 24 * H)


def test_brand_no_show_after_ship_by_date_once() -> None:
    c = deal(CollabState.FUNDED, funded_at=T0)
    ship_by = c.due("ship")
    assert ship_by == T0 + 7 * D
    assert not brand_no_show_due(c, ship_by - H)
    assert brand_no_show_due(c, ship_by)
    assert Consequence.BRAND_NO_SHOW in follow_up(c, ship_by).consequences
    announced = follow_up(c, ship_by, History(notices=frozenset({"brand_no_show"})))
    assert Consequence.BRAND_NO_SHOW not in announced.consequences
    assert not brand_no_show_due(deal(CollabState.FUNDED, product=False, funded_at=T0), T0 + 30 * D)


def released(**fields: Any) -> Collaboration:
    return deal(
        CollabState.RELEASED,
        funded_at=T0 - 30 * D,
        received_at=T0 - 20 * D,
        posted_at=T0,
        verified_at=T0 + H,
        approved_at=T0 + 2 * H,
        **fields,
    )


def test_keep_live_is_checked_halfway_and_at_the_end() -> None:
    c = released()
    assert c.due("keep_live") == T0 + 14 * D
    assert keep_live_midpoint_at(c) == T0 + 7 * D
    assert follow_up(c, T0 + 6 * D).consequences == ()
    assert follow_up(c, T0 + 6 * D).check_at == T0 + 7 * D
    assert follow_up(c, T0 + 7 * D).consequences == (Consequence.KEEP_LIVE_MIDPOINT,)
    after_mid = follow_up(c, T0 + 8 * D, History(midpoint_checked=True))
    assert after_mid.consequences == () and after_mid.check_at == T0 + 14 * D
    assert not keep_live_final_due(c, T0 + 14 * D - H)
    assert follow_up(c, T0 + 14 * D, History(midpoint_checked=True)).consequences == (Consequence.KEEP_LIVE_FINAL,)
    # A sweep that only comes at the very end skips the midpoint: the final check says it all.
    assert follow_up(c, T0 + 15 * D).consequences == (Consequence.KEEP_LIVE_FINAL,)
    assert keep_live_midpoint_at(released(keep_live_days=30)) == T0 + 15 * D


# --- when to look again ---------------------------------------------------------------------------------------------


def test_next_check_is_the_next_reminder_or_consequence() -> None:
    c = received()
    draft_due = c.due("draft")
    assert draft_due is not None
    plan = follow_up(c, T0)
    assert plan.reminder is None and plan.consequences == ()
    assert plan.check_at == draft_due - 72 * H
    plan = follow_up(c, draft_due + 80 * H, History(sent_offsets=frozenset({72})))
    assert plan.check_at == ghost_at(c)


def test_earliest_check_is_never_later_than_anything_due() -> None:
    c = received()
    draft_due = c.due("draft")
    assert draft_due is not None
    assert earliest_check_at(c) == draft_due - 72 * H
    assert earliest_check_at(verified()) == T0 + 72 * H - 72 * H
    assert earliest_check_at(deal(CollabState.COMPLETED, funded_at=T0, posted_at=T0)) is None


def test_a_deal_held_for_an_admin_gets_reminders_but_no_automatic_step() -> None:
    c = received(needs_admin_review=True)
    draft_due = c.due("draft")
    assert draft_due is not None
    plan = follow_up(c, T0 + 40 * D)
    assert plan.consequences == ()
    assert plan.reminder is not None and plan.reminder.offset_hours == 72
    assert plan.check_at is None
    assert follow_up(verified(needs_admin_review=True), T0 + 100 * H).consequences == ()
