"""Pure pieces of campaign operations: the board's stage of a creator, and message templates with merge fields."""

from __future__ import annotations

import pytest

from marketplace.applications.models import ApplicationStatus
from marketplace.bulk.actions import check_template, fill_template, first_name
from marketplace.campaigns.stages import COLUMNS, DEAL_STATES, Stage, stage_of
from marketplace.collaborations.states import CollabState

S = CollabState


@pytest.mark.parametrize(("deal", "stage"), [
    (S.OFFERED, Stage.ACCEPTED), (S.SIGNED, Stage.SIGNED), (S.FUNDED, Stage.FUNDED), (S.SHIPPED, Stage.SHIPPED),
    (S.RECEIVED, Stage.SHIPPED), (S.DRAFT_SUBMITTED, Stage.DRAFT), (S.CHANGES_REQUESTED, Stage.DRAFT),
    (S.DRAFT_APPROVED, Stage.DRAFT), (S.POSTED, Stage.POSTED), (S.VERIFIED, Stage.POSTED), (S.RELEASED, Stage.PAID),
    (S.COMPLETED, Stage.PAID), (S.GHOSTED, Stage.GHOSTED), (S.CANCELLED, Stage.CANCELLED),
    (S.DISPUTED, Stage.DISPUTED), (S.REFUNDED, Stage.DISPUTED), (S.SETTLED, Stage.DISPUTED),
])
def test_a_deal_decides_the_column_whatever_came_before(deal: CollabState, stage: Stage) -> None:
    assert stage_of(invited=True, application=ApplicationStatus.ACCEPTED, deal=deal) is stage
    assert stage_of(invited=False, application=None, deal=deal.value) is stage


def test_without_a_deal_the_application_then_the_invitation_decides() -> None:
    assert stage_of(invited=True, application=ApplicationStatus.PENDING, deal=None) is Stage.APPLIED
    assert stage_of(invited=False, application="pending", deal=None) is Stage.APPLIED
    assert stage_of(invited=True, application=None, deal=None) is Stage.INVITED
    assert stage_of(invited=True, application=ApplicationStatus.DECLINED, deal=None) is None
    assert stage_of(invited=False, application=ApplicationStatus.WITHDRAWN, deal=None) is None
    assert stage_of(invited=False, application=None, deal=None) is None


def test_every_deal_state_belongs_to_exactly_one_column() -> None:
    placed = [state for stage in COLUMNS for state in DEAL_STATES[stage]]
    assert sorted(placed) == sorted(s.value for s in CollabState)
    assert [c.value for c in COLUMNS][:9] == ["invited", "applied", "accepted", "signed", "funded", "shipped",
                                              "draft", "posted", "paid"]


def test_templates_accept_known_merge_fields_and_name_unknown_ones() -> None:
    errors: dict[str, str] = {}
    check_template(errors, "body", "Hi {first_name}, {gig} pays {fee}. {{not a field}}", required=True,
                   label="Message")
    assert errors == {}
    check_template(errors, "body", "Hi {nickname}", required=True, label="Message")
    assert "{nickname}" in errors["body"] and "{first_name}" in errors["body"]
    for bad in ("Hi {first_name", "{gig.__class__}", "{fee!r}", "{0}", "{}"):
        errors = {}
        check_template(errors, "body", bad, required=True, label="Message")
        assert "body" in errors, bad
    errors = {}
    check_template(errors, "body", "  ", required=True, label="Message")
    assert errors["body"] == "Write the message."


def test_filling_a_template() -> None:
    values = {"first_name": "Ava", "gig": "Glow serum", "fee": "$150.00"}
    filled = fill_template("Hi {first_name}: {gig} for {fee}{brand}. {{x}}", values)
    assert filled == "Hi Ava: Glow serum for $150.00. {x}"
    assert first_name("Ava Brooks") == "Ava" and first_name("") == ""
