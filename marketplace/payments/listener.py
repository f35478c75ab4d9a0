"""Money that follows a deal's transitions: refunds when a deal ends, the release on approval, the dispute freeze."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from marketplace.collaborations.states import FUNDED_UNRESOLVED, Action, CollabState, Party
from marketplace.collaborations.transition import Change
from marketplace.errors import PaymentsUnavailable
from marketplace.i18n import gettext
from marketplace.payments import hooks
from marketplace.settings import Settings

#: Endings of a deal that give the brand its money back (if any was paid, or is being paid right now).
_ENDINGS = frozenset({Action.CANCEL, Action.CANCEL_NO_SHOW, Action.DECLINE_OFFER, Action.WITHDRAW_OFFER})
#: Once signed the brand may be paying right now: escrow closes the hold (returning a late payment) or refunds.
_MAY_HOLD_MONEY = FUNDED_UNRESOLVED | {CollabState.SIGNED}


class PaymentsListener:
    """Asks escrow (through ``hooks``) for what a transition decided. Escrow refusing raises, which rolls the
    transition back: a deal is never cancelled or approved without its money following."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings

    async def after_transition(self, session: AsyncSession, change: Change) -> None:
        collab, now, action = change.collaboration, change.now, change.action
        if action in _ENDINGS and change.from_state in _MAY_HOLD_MONEY:
            try:
                await hooks.refund_to_brand(session, collab, now=now, reason=action.value, settings=self.settings)
            except hooks.EscrowUnavailable as exc:
                if change.from_state in FUNDED_UNRESOLVED:
                    raise PaymentsUnavailable(
                        gettext(
                            "Payments are not available right now, so a funded deal can't be cancelled and refunded "
                            "yet. Nothing was changed; please try again later."
                        )
                    ) from exc
                # Not funded, and no escrow running that could be taking a payment: nothing to return.
        elif action is Action.GHOST:
            await hooks.refund_to_brand(session, collab, now=now, reason="creator_ghosted", settings=self.settings)
        elif action is Action.APPROVE_POST:
            automatic = change.actor.party is Party.SYSTEM
            reason = "review_window_passed" if automatic else "brand_approved"
            try:
                await hooks.release_to_creator(session, collab, now=now, reason=reason, settings=self.settings)
            except hooks.EscrowUnavailable as exc:
                if automatic:
                    raise  # the sweeper's job retries later
                raise PaymentsUnavailable(
                    gettext(
                        "Payments are not available right now, so the post can't be approved and paid yet. Nothing "
                        "was changed; please try again later."
                    )
                ) from exc
        elif action is Action.OPEN_DISPUTE and change.actor.party is not Party.SYSTEM:
            # PostPact opens cases only because escrow already froze (a chargeback): only a party's dispute freezes.
            await hooks.freeze(session, collab, now=now, reason="dispute", settings=self.settings)
