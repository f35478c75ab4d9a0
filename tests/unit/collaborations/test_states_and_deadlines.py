"""The collaboration transition table and deadline arithmetic, without a database."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest

import marketplace.all_models  # noqa: F401 - mapper configuration needs every model
from marketplace.collaborations.due_dates import compute_due_dates, ghosting_due_at, recompute_due_dates
from marketplace.collaborations.models import Collaboration
from marketplace.collaborations.states import (
    CREATOR_TO_POST,
    RULES,
    TERMINAL,
    TRANSITIONS,
    Action,
    CollabState,
    Party,
    allowed_actions,
)
from marketplace.collaborations.terms import DeliverableTerms, Terms, terms_hash

T0 = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)


def make_terms(**overrides) -> Terms:
    values = dict(
        gig_id=str(uuid.uuid4()),
        gig_title="Glow serum launch",
        brief="Show your morning routine",
        brand_name="GlowLab",
        creator_display_name="Ava",
        currency="USD",
        fee_amount=15000,
        commission_bps=None,
        product_included=True,
        product_name="Glow serum",
        product_retail_value=4500,
        deliverables=(DeliverableTerms("tiktok", "video", 1, ("#glowlab",), ("@glowlab",)),),
        platform="tiktok",
        handle="ava",
        revision_rounds=1,
    )
    values.update(overrides)
    return Terms(**values)


def make_collab(terms: Terms | None = None, **fields) -> Collaboration:
    terms = terms or make_terms()
    collab = Collaboration(
        gig_id=uuid.uuid4(),
        application_id=uuid.uuid4(),
        brand_id=uuid.uuid4(),
        creator_id=uuid.uuid4(),
        social_account_id=uuid.uuid4(),
        status=fields.pop("status", CollabState.OFFERED),
        state_changed_at=T0,
        terms=terms.to_dict(),
        terms_hash=terms.content_hash(),
        fee_amount=terms.fee_amount,
        currency="USD",
        product_included=terms.product_included,
        due_overrides={},
        created_at=T0,
    )
    for key, value in fields.items():
        setattr(collab, key, value)
    return collab


def test_terminal_states_have_no_way_out_except_admin_notes_and_chargebacks() -> None:
    for state in TERMINAL:
        actions = {a for (s, a) in TRANSITIONS if s == state}
        assert actions <= {Action.ADMIN_NOTE, Action.RECORD_DECISION, Action.MARK_POST_REMOVED, Action.OPEN_DISPUTE}, (
            state, actions)


def test_only_the_system_moves_money_states() -> None:
    for action in (Action.MARK_FUNDED, Action.MARK_RELEASED, Action.GHOST, Action.COMPLETE):
        for rule in (r for r in RULES if r.action is action):
            assert rule.parties == {Party.SYSTEM}


def test_a_creator_cannot_approve_drafts_and_a_brand_cannot_sign() -> None:
    assert Action.APPROVE_DRAFT not in allowed_actions(CollabState.DRAFT_SUBMITTED, Party.CREATOR)
    assert Action.APPROVE_DRAFT in allowed_actions(CollabState.DRAFT_SUBMITTED, Party.BRAND)
    assert Action.SIGN not in allowed_actions(CollabState.OFFERED, Party.BRAND)
    assert (CollabState.OFFERED, Action.SUBMIT_POST) not in TRANSITIONS


def test_happy_path_is_connected() -> None:
    path = [
        (CollabState.OFFERED, Action.SIGN),
        (CollabState.SIGNED, Action.MARK_FUNDED),
        (CollabState.FUNDED, Action.SHIP),
        (CollabState.SHIPPED, Action.CONFIRM_RECEIPT),
        (CollabState.RECEIVED, Action.SUBMIT_DRAFT),
        (CollabState.DRAFT_SUBMITTED, Action.REQUEST_CHANGES),
        (CollabState.CHANGES_REQUESTED, Action.SUBMIT_DRAFT),
        (CollabState.DRAFT_SUBMITTED, Action.APPROVE_DRAFT),
        (CollabState.DRAFT_APPROVED, Action.SUBMIT_POST),
        (CollabState.POSTED, Action.MARK_VERIFIED),
        (CollabState.VERIFIED, Action.MARK_RELEASED),
        (CollabState.RELEASED, Action.COMPLETE),
    ]
    state = CollabState.OFFERED
    for source, action in path:
        assert state == source
        state = TRANSITIONS[(source, action)].target or state
    assert state is CollabState.COMPLETED


def test_status_cannot_be_set_outside_transition() -> None:
    collab = make_collab()
    with pytest.raises(RuntimeError, match="only through"):
        collab.status = CollabState.RELEASED


def test_terms_hash_is_stable_and_changes_with_any_edit() -> None:
    terms = make_terms()
    assert terms.content_hash() == Terms.from_dict(terms.to_dict()).content_hash()
    assert terms.content_hash() == terms_hash(terms.to_dict())
    assert make_terms(gig_id=terms.gig_id, fee_amount=15001).content_hash() != terms.content_hash()


def test_due_dates_follow_the_product_journey() -> None:
    collab = make_collab(
        signed_at=T0 + timedelta(hours=5),
        funded_at=T0 + timedelta(days=1),
        shipped_at=T0 + timedelta(days=3),
        status=CollabState.SHIPPED,
    )
    due = compute_due_dates(collab)
    assert due["sign"] == T0 + timedelta(hours=72)
    assert due["fund"] == T0 + timedelta(hours=77)
    assert due["ship"] == T0 + timedelta(days=8)
    assert due["receipt"] == T0 + timedelta(days=17)
    # Not yet confirmed: the creator's clock starts when the parcel should have arrived.
    assert due["post"] == T0 + timedelta(days=31)
    collab.received_at = T0 + timedelta(days=5)
    due = compute_due_dates(collab)
    assert due["post"] == T0 + timedelta(days=19)
    assert due["draft"] == T0 + timedelta(days=17)


def test_late_draft_approval_still_leaves_time_to_post() -> None:
    collab = make_collab(
        funded_at=T0,
        received_at=T0 + timedelta(days=2),
        draft_approved_at=T0 + timedelta(days=15, hours=20),
        status=CollabState.DRAFT_APPROVED,
    )
    assert compute_due_dates(collab)["post"] == T0 + timedelta(days=17, hours=20)


def test_productless_deals_start_the_creator_clock_at_funding() -> None:
    terms = make_terms(product_included=False)
    collab = make_collab(terms, funded_at=T0, status=CollabState.FUNDED)
    recompute_due_dates(collab, T0)
    assert collab.due_ship is None
    assert collab.next_due_stage == "draft" and collab.next_due_party == "creator"
    assert collab.due_post == T0 + timedelta(days=14)
    assert ghosting_due_at(collab) == T0 + timedelta(days=17)


def test_no_ghosting_clock_before_the_brand_ships() -> None:
    collab = make_collab(funded_at=T0, status=CollabState.FUNDED)
    recompute_due_dates(collab, T0)
    assert collab.next_due_stage == "ship" and collab.next_due_party == "brand"
    assert ghosting_due_at(collab) is None


def test_accepted_extension_overrides_the_computed_due_time() -> None:
    new_post = T0 + timedelta(days=40)
    collab = make_collab(
        funded_at=T0,
        received_at=T0 + timedelta(days=2),
        status=CollabState.RECEIVED,
        due_overrides={"post": new_post.isoformat()},
    )
    recompute_due_dates(collab, T0)
    assert collab.due_post == new_post
    assert ghosting_due_at(collab) == new_post + timedelta(hours=72)


def test_paused_deadlines_have_no_next_due_and_no_ghosting() -> None:
    collab = make_collab(funded_at=T0, received_at=T0, status=CollabState.RECEIVED, deadlines_paused_at=T0)
    recompute_due_dates(collab, T0)
    assert collab.next_due_at is None
    assert ghosting_due_at(collab) is None


def test_ghosting_is_judged_only_where_the_creator_must_act() -> None:
    assert CollabState.DRAFT_SUBMITTED not in CREATOR_TO_POST
    collab = make_collab(
        funded_at=T0, received_at=T0, draft_submitted_at=T0 + timedelta(days=1), status=CollabState.DRAFT_SUBMITTED
    )
    recompute_due_dates(collab, T0)
    assert collab.next_due_party == "brand"
    assert ghosting_due_at(collab) is None


# Added with the deal steps: a brand member whose role the rule doesn't allow gets 403 (the right organisation,
# the wrong role — the house rule), not 409; and pages/the API list the viewer's steps from the table.


def test_a_wrong_team_role_is_forbidden_not_a_conflict() -> None:
    from marketplace.brands.models import BrandRole
    from marketplace.collaborations.states import IllegalTransition, RoleNotAllowed, TransitionActor, check_transition

    collab = make_collab(status=CollabState.DRAFT_SUBMITTED)
    finance = TransitionActor(Party.BRAND, uuid.uuid4(), brand_id=collab.brand_id, brand_role=BrandRole.FINANCE)
    with pytest.raises(RoleNotAllowed) as caught:
        check_transition(collab, Action.APPROVE_DRAFT, finance, T0)
    assert caught.value.status_code == 403
    # The other party is not allowed either (403), in any state; a step the party may take, but not now, is 409.
    creator = TransitionActor(Party.CREATOR, uuid.uuid4(), creator_id=collab.creator_id)
    for state in (CollabState.DRAFT_SUBMITTED, CollabState.OFFERED):
        with pytest.raises(RoleNotAllowed):
            check_transition(make_collab(status=state, creator_id=collab.creator_id), Action.APPROVE_DRAFT, creator,
                             T0)
    with pytest.raises(IllegalTransition):
        check_transition(collab, Action.SUBMIT_POST, creator, T0)
    # Finance may still open a dispute: that rule allows the money roles.
    funded = make_collab(status=CollabState.FUNDED)
    finance_of_funded = TransitionActor(Party.BRAND, uuid.uuid4(), brand_id=funded.brand_id,
                                        brand_role=BrandRole.FINANCE)
    assert check_transition(funded, Action.OPEN_DISPUTE, finance_of_funded, T0).action is Action.OPEN_DISPUTE


def test_actions_for_reads_the_table_with_roles_and_conditions() -> None:
    from marketplace.brands.models import BrandRole
    from marketplace.collaborations.states import TransitionActor, actions_for

    collab = make_collab(status=CollabState.DRAFT_SUBMITTED, revision_rounds_used=1, revision_rounds_allowed=1)
    manager = TransitionActor(Party.BRAND, uuid.uuid4(), brand_id=collab.brand_id, brand_role=BrandRole.MANAGER)
    steps = {a.action: a.blocked for a in actions_for(collab, manager, T0)}
    assert steps[Action.APPROVE_DRAFT] is None
    assert "revision round" in steps[Action.REQUEST_CHANGES]  # shown, with the reason it can't be taken
    finance = TransitionActor(Party.BRAND, uuid.uuid4(), brand_id=collab.brand_id, brand_role=BrandRole.FINANCE)
    assert Action.APPROVE_DRAFT not in {a.action for a in actions_for(collab, finance, T0)}
    creator = TransitionActor(Party.CREATOR, uuid.uuid4(), creator_id=collab.creator_id)
    assert Action.APPROVE_DRAFT not in {a.action for a in actions_for(collab, creator, T0)}
