"""Deal values, currency conversion for caps, gig requirements, and the transition-to-outcome table's edge cases."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest

from marketplace.collaborations.due_dates import recompute_due_dates
from marketplace.collaborations.models import Collaboration
from marketplace.collaborations.states import Action, CollabState, Party
from marketplace.collaborations.terms import Terms
from marketplace.gigs.models import Gig
from marketplace.reputation.deal_values import collaboration_value_minor, gig_value_minor, to_usd_minor
from marketplace.reputation.outcomes import PlannedOutcome, outcomes_for_transition
from marketplace.reputation.services import gig_requirements
from reputation.events import EventKind
from reputation.models import SubjectKind
from reputation.tiers import Tier

T0 = datetime(2026, 5, 4, 9, 0, tzinfo=UTC)


def collaboration(*, product_included: bool = True, **milestones: datetime | None) -> Collaboration:
    """A real, unsaved collaboration with due dates computed from its terms and milestones."""
    terms = Terms(
        gig_id=str(uuid.uuid4()),
        gig_title="Glow",
        brief="",
        brand_name="GlowLab",
        creator_display_name="Ava",
        currency="EUR",
        fee_amount=12_000,
        commission_bps=None,
        product_included=product_included,
        product_name="Serum",
        product_retail_value=3_000 if product_included else 0,
        deliverables=(),
        platform="tiktok",
        handle="ava",
        revision_rounds=1,
    )
    collab = Collaboration(
        id=uuid.uuid4(),
        brand_id=uuid.uuid4(),
        creator_id=uuid.uuid4(),
        status=CollabState.FUNDED,
        state_changed_at=T0,
        terms=terms.to_dict(),
        terms_hash=terms.content_hash(),
        fee_amount=12_000,
        currency="EUR",
        product_included=product_included,
        created_at=T0,
        due_overrides={},
        signed_at=milestones.pop("signed_at", T0),
        funded_at=milestones.pop("funded_at", T0),
        **milestones,
    )
    recompute_due_dates(collab, T0)
    return collab


def test_deal_value_is_fee_plus_product() -> None:
    assert collaboration_value_minor(collaboration()) == 15_000
    assert collaboration_value_minor(collaboration(product_included=False)) == 12_000
    gig = Gig(base_fee_amount=10_000, product_retail_value=4_000, product_included=True, currency="USD")
    assert gig_value_minor(gig) == 14_000 and gig_value_minor(gig, fee_amount=5_000) == 9_000


@pytest.mark.parametrize(
    ("amount", "currency", "usd_cents"),
    [(25_000, "USD", 25_000), (10_000, "EUR", 11_000), (30_000, "JPY", 20_100), (1_000_000, "KRW", 72_000)],
)
def test_caps_compare_in_approximate_us_cents(amount: int, currency: str, usd_cents: int) -> None:
    assert to_usd_minor(amount, currency) == usd_cents


def test_gig_requirements_read_the_gig_columns() -> None:
    assert gig_requirements(Gig(min_reliability=0.8, min_tier="SILVER")) == gig_requirements(
        Gig(min_reliability=0.8, min_tier="silver")
    )
    required = gig_requirements(Gig(min_reliability=None, min_tier=None))
    assert (required.min_score, required.min_tier) == (0.0, Tier.NEW)


def test_ghosting_before_the_brand_shipped_blames_nobody_until_ship_by() -> None:
    collab = collaboration()
    before_ship_by = collab.due("ship") - timedelta(hours=1)
    assert outcomes_for_transition(collab, action=Action.GHOST, actor_party=Party.SYSTEM, now=before_ship_by) == []
    after = collab.due("ship") + timedelta(hours=1)
    assert outcomes_for_transition(collab, action=Action.GHOST, actor_party=Party.SYSTEM, now=after) == [
        PlannedOutcome(SubjectKind.BRAND, EventKind.BRAND_DID_NOT_SHIP)
    ]


def test_productless_deals_can_ghost_without_shipping() -> None:
    collab = collaboration(product_included=False)
    assert outcomes_for_transition(collab, action="ghost", actor_party="system", now=T0 + timedelta(days=30)) == [
        PlannedOutcome(SubjectKind.CREATOR, EventKind.CREATOR_GHOSTED)
    ]


def test_an_unknown_at_fault_value_falls_back_to_the_resolution_default() -> None:
    collab = collaboration()
    planned = outcomes_for_transition(
        collab, action=Action.RESOLVE_REFUND, actor_party=Party.ADMIN, now=T0, payload={"at_fault": "mars"}
    )
    assert planned == [PlannedOutcome(SubjectKind.CREATOR, EventKind.CREATOR_DISPUTE_LOST)]


@pytest.mark.parametrize(
    "action",
    [Action.SIGN, Action.MARK_FUNDED, Action.SHIP, Action.SUBMIT_POST, Action.MARK_RELEASED, Action.OPEN_DISPUTE],
)
def test_ordinary_steps_record_nothing(action: Action) -> None:
    assert outcomes_for_transition(collaboration(), action=action, actor_party=Party.SYSTEM, now=T0) == []
