"""Which events exist, and which a deal's transition gives (pure: no I/O)."""

from __future__ import annotations

from marketplace.collaborations.states import FUNDED_UNRESOLVED, Action, CollabState

#: Every kind an endpoint can subscribe to, with what it means (shown on the page and in the schema).
EVENT_KINDS: dict[str, str] = {
    "deal.signed": "Both sides signed the terms",
    "deal.funded": "The brand's payment is held in escrow",
    "deal.shipped": "The brand shipped the product",
    "deal.posted": "The creator submitted the live post",
    "deal.verified": "The post passed the checks, or the brand accepted it",
    "deal.released": "Escrow paid the creator",
    "deal.refunded": "Escrow returned the brand's payment",
    "deal.cancelled": "The deal was cancelled",
    "deal.ghosted": "The creator missed the posting deadline (the deal ended as ghosted)",
    "dispute.opened": "A party opened a dispute",
    "dispute.decided": "PostPact decided a dispute",
    "sales.order_attributed": "A store order was credited to a deal (again, with new amounts, after a refund)",
    "sales.order_cancelled": "A store order's credit was withdrawn (cancelled or fully refunded)",
    "webhook.test": "Sent by the test button; nothing happened",
}

_BY_TARGET: dict[CollabState, str] = {
    CollabState.SIGNED: "deal.signed",
    CollabState.FUNDED: "deal.funded",
    CollabState.SHIPPED: "deal.shipped",
    CollabState.POSTED: "deal.posted",
    CollabState.VERIFIED: "deal.verified",
    CollabState.RELEASED: "deal.released",
    CollabState.REFUNDED: "deal.refunded",
    CollabState.CANCELLED: "deal.cancelled",
    CollabState.GHOSTED: "deal.ghosted",
}
_DECISIONS = frozenset({Action.RESOLVE_RELEASE, Action.RESOLVE_REFUND, Action.RESOLVE_SPLIT, Action.RECORD_DECISION})


def kinds_for(action: Action, from_state: CollabState, to_state: CollabState) -> list[str]:
    """The events one transition gives, in the order they happened."""
    kinds: list[str] = []
    if action is Action.OPEN_DISPUTE:
        kinds.append("dispute.opened")
    if action in _DECISIONS:
        kinds.append("dispute.decided")
    if to_state != from_state and to_state in _BY_TARGET:
        kinds.append(_BY_TARGET[to_state])
    # An ending of a funded deal returns the payment: say so in the terms integrators reconcile money by.
    if to_state in (CollabState.CANCELLED, CollabState.GHOSTED) and from_state in FUNDED_UNRESOLVED:
        kinds.append("deal.refunded")
    if action is Action.RESOLVE_RELEASE and "deal.released" not in kinds:
        kinds.append("deal.released")
    return kinds
