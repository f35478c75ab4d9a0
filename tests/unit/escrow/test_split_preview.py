"""preview_split, pure: where every unit held goes in an admin's split (rounding, edges, refused parts)."""

from __future__ import annotations

from dataclasses import replace

import pytest
from hypothesis import given
from hypothesis import strategies as st

from escrow import ledger
from escrow.errors import EscrowConflict
from escrow.money import basis_points
from escrow.split import HoldFigures, SplitPreview, preview_split


def figures(fee: int = 7_500, bps: int = 800, *, released: int = 0, released_fee: int | None = None,
            taken: int = 0) -> HoldFigures:
    """A funded hold: fee + PostPact's fee paid, ``released`` already paid out, ``taken`` refunded/charged back."""
    platform = basis_points(fee, bps)
    if released_fee is None:
        released_fee = ledger.fee_share(platform, fee, 0, 0, released)
    return HoldFigures(currency="USD", creator_fee=fee, platform_fee=platform, released_creator=released,
                       released_fee=released_fee, available=fee + platform - released - released_fee - taken)


def test_the_issue_example_45_of_75_dollars() -> None:
    # $75 fee, 8% = $6 on top, $81 held. $45 to the creator earns PostPact 8% of it; the brand gets $32.40 back.
    preview = preview_split(figures(7_500), 4_500)
    assert preview == SplitPreview(currency="USD", creator_amount=4_500, platform_fee=360, brand_amount=3_240,
                                   brand_fee_amount=3_000, brand_platform_fee_amount=240)
    assert preview.total == 8_100


def test_the_fee_share_rounds_down_and_the_last_part_earns_the_rest() -> None:
    # 8% of 10,001 is 800 (rounded); a third of the fee earns floor(800 * 3,333 / 10,001) = 266.
    preview = preview_split(figures(10_001), 3_333)
    assert (preview.platform_fee, preview.brand_amount) == (266, 10_801 - 3_333 - 266)
    assert preview.brand_platform_fee_amount == 800 - 266
    # After 3,333 was released (with 266), paying the rest earns exactly what is left of the 800.
    rest = preview_split(figures(10_001, released=3_333), 10_001 - 3_333)
    assert rest.platform_fee == 800 - 266
    assert (rest.brand_amount, rest.brand_fee_amount, rest.brand_platform_fee_amount) == (0, 0, 0)


def test_full_split_pays_everything_to_the_creator_and_postpact() -> None:
    preview = preview_split(figures(7_500), 7_500)
    assert (preview.creator_amount, preview.platform_fee, preview.brand_amount) == (7_500, 600, 0)


def test_zero_split_returns_everything_to_the_brand() -> None:
    preview = preview_split(figures(7_500), 0)
    assert (preview.creator_amount, preview.platform_fee) == (0, 0)
    assert (preview.brand_amount, preview.brand_fee_amount, preview.brand_platform_fee_amount) == (8_100, 7_500, 600)


def test_a_zero_fee_deal_splits_to_nothing() -> None:
    assert preview_split(figures(0), 0).total == 0


@pytest.mark.parametrize("amount", [-1, 7_501, 10**12])
def test_a_part_outside_what_is_left_of_the_fee_is_refused(amount: int) -> None:
    with pytest.raises(EscrowConflict, match="between 0 and 7500"):
        preview_split(figures(7_500), amount)


def test_only_what_is_left_of_the_fee_can_be_split() -> None:
    with pytest.raises(EscrowConflict, match="between 0 and 2500"):
        preview_split(figures(7_500, released=5_000), 2_501)


@pytest.mark.parametrize("amount", [45.0, "4500", True, None])
def test_a_part_that_is_not_whole_minor_units_is_refused(amount: object) -> None:
    with pytest.raises(EscrowConflict, match="whole number"):
        preview_split(figures(7_500), amount)  # type: ignore[arg-type]


def test_not_enough_held_after_a_chargeback_is_refused() -> None:
    with pytest.raises(EscrowConflict, match="Not enough money"):
        preview_split(figures(7_500, taken=8_000), 4_500)


def test_a_shortfall_comes_out_of_the_creators_fee_part_first() -> None:
    # 1,000 was refunded outside PostPact: the brand's return is PostPact's unearned fee first, then the fee part.
    preview = preview_split(figures(7_500, taken=1_000), 4_500)
    assert (preview.brand_amount, preview.brand_platform_fee_amount, preview.brand_fee_amount) == (2_240, 240, 2_000)


@given(fee=st.integers(0, 10**9), bps=st.integers(0, 3_000), released_w=st.integers(0, 100),
       part_w=st.integers(0, 100), taken=st.integers(0, 10**6))
def test_the_preview_accounts_for_every_unit_available(fee: int, bps: int, released_w: int, part_w: int,
                                                       taken: int) -> None:
    released = fee * released_w // 100
    held = figures(fee, bps, released=released)
    held = replace(held, available=max(0, held.available - taken))
    part = (fee - released) * part_w // 100
    try:
        preview = preview_split(held, part)
    except EscrowConflict:
        assert held.available < part + ledger.fee_share(held.platform_fee, fee, released, held.released_fee, part)
        return
    assert preview.total == held.available
    assert preview.brand_amount == preview.brand_fee_amount + preview.brand_platform_fee_amount
    assert min(preview.platform_fee, preview.brand_fee_amount, preview.brand_platform_fee_amount) >= 0
    # The same fee share a plain release of that part would earn: the numbers can't disagree.
    assert preview.platform_fee == ledger.fee_share(held.platform_fee, fee, released, held.released_fee, part)
    assert held.released_fee + preview.platform_fee + preview.brand_platform_fee_amount <= held.platform_fee
    if taken == 0:
        assert held.released_fee + preview.platform_fee + preview.brand_platform_fee_amount == held.platform_fee
