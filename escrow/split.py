"""What an admin's split of a frozen escrow does, computed once (pure): ``resolve_split`` books exactly this.

Pages, emails and the dispute decision show ``preview_split``'s figures instead of recomputing fees, so what people
read can never disagree with what the ledger records.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from escrow.errors import EscrowConflict
from escrow.ledger import fee_share

if TYPE_CHECKING:
    from escrow.models import EscrowHold


@dataclass(frozen=True)
class HoldFigures:
    """The amounts of one hold a split depends on (minor units of ``currency``)."""

    currency: str
    #: The creator's agreed fee and PostPact's fee on top, as fixed when funding started.
    creator_fee: int
    platform_fee: int
    #: Already paid to the creator, and PostPact's fee already earned with it.
    released_creator: int
    released_fee: int
    #: Held now and not reserved by a pending posting (after earlier refunds and chargebacks).
    available: int

    @classmethod
    def of(cls, hold: EscrowHold) -> HoldFigures:
        return cls(
            currency=hold.currency,
            creator_fee=hold.creator_amount,
            platform_fee=hold.platform_fee_amount,
            released_creator=hold.released_creator_amount,
            released_fee=hold.released_fee_amount,
            available=hold.available_amount,
        )

    @property
    def creator_fee_remaining(self) -> int:
        return max(0, self.creator_fee - self.released_creator)


@dataclass(frozen=True)
class SplitPreview:
    """Where every unit still held goes when the creator is given ``creator_amount``."""

    currency: str
    #: Paid to the creator.
    creator_amount: int
    #: PostPact's fee share earned by the creator's part: PostPact keeps it.
    platform_fee: int
    #: Back to the brand: ``brand_fee_amount + brand_platform_fee_amount``.
    brand_amount: int
    #: Of ``brand_amount``: the part of the creator's fee not paid to the creator.
    brand_fee_amount: int
    #: Of ``brand_amount``: PostPact's fee not earned (returned with it).
    brand_platform_fee_amount: int

    @property
    def total(self) -> int:
        """Everything the split moves: all that was available."""
        return self.creator_amount + self.platform_fee + self.brand_amount


def preview_split(figures: HoldFigures, creator_amount: int) -> SplitPreview:
    """Pure: the split that gives the creator ``creator_amount`` of what is left of their fee, with its PostPact fee
    share, and returns everything else held to the brand. Raises EscrowConflict for an impossible part.

    When less is held than the unpaid fees (a refund or chargeback took some), the brand's return is counted as
    PostPact's unearned fee first and the rest as the creator's fee."""
    remaining = figures.creator_fee_remaining
    if isinstance(creator_amount, bool) or not isinstance(creator_amount, int):
        raise EscrowConflict("The creator's part must be a whole number of minor units.")
    if creator_amount < 0 or creator_amount > remaining:
        raise EscrowConflict(f"The creator's part must be between 0 and {remaining}.")
    fee = fee_share(figures.platform_fee, figures.creator_fee, figures.released_creator, figures.released_fee,
                    creator_amount)
    brand = figures.available - creator_amount - fee
    if brand < 0:
        raise EscrowConflict("Not enough money is held for that split.")
    unearned_fee = max(0, figures.platform_fee - figures.released_fee - fee)
    brand_platform_fee = min(brand, unearned_fee)
    return SplitPreview(
        currency=figures.currency,
        creator_amount=creator_amount,
        platform_fee=fee,
        brand_amount=brand,
        brand_fee_amount=brand - brand_platform_fee,
        brand_platform_fee_amount=brand_platform_fee,
    )
