"""The marketplace's side of escrow: moves collaborations and tells people when money moves (escrow → deals).

``CollaborationBridge`` implements ``escrow.events.EscrowListener``. Escrow calls it inside its own transaction, so a
collaboration's ``MARK_FUNDED``/``MARK_RELEASED`` and the notifications commit together with the ledger postings.
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import TYPE_CHECKING
from uuid import UUID

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from escrow.money import format_money
from marketplace.accounts.models import User
from marketplace.collaborations.states import SYSTEM, TERMINAL, TRANSITIONS, Action, CollabState
from marketplace.collaborations.transition import lock_collaboration, transition
from marketplace.creators.models import Creator
from marketplace.disputes.chargebacks import open_admin_cases
from marketplace.jobs import enqueue
from marketplace.notifications.services import brand_user_ids, creator_user_id, notify

if TYPE_CHECKING:
    from escrow.models import EscrowHold, PayoutAccount

log = logging.getLogger(__name__)

EXECUTE_JOB = "escrow.execute_provider_call"
EMAIL = "payment_notice"


class CollaborationBridge:
    def __init__(self, session: AsyncSession, *, public_url: str = "") -> None:
        self.session = session
        self.public_url = public_url

    async def lock_subject(self, session: AsyncSession, collaboration_id: UUID) -> None:
        await lock_collaboration(session, collaboration_id)

    async def schedule_provider_call(self, session: AsyncSession, call_id: UUID) -> None:
        enqueue(session, EXECUTE_JOB, str(call_id))

    async def payouts_blocked(self, session: AsyncSession, creator_id: UUID) -> bool:
        """A suspended creator can't withdraw: their approved money stays in escrow until the suspension is lifted."""
        suspended = await session.scalar(
            sa.select(User.suspended_at).join(Creator, Creator.user_id == User.id).where(Creator.id == creator_id))
        return suspended is not None

    # --- telling people ---------------------------------------------------------------------------------------------

    async def _tell_brand(self, hold: EscrowHold, kind: str, title: str, body: str) -> None:
        ids = await brand_user_ids(self.session, hold.brand_id)
        await notify(self.session, ids, kind=kind, title=title, body=body,
                     link=f"/collaborations/{hold.collaboration_id}", email_template=EMAIL, public_url=self.public_url)

    async def _tell_creator(self, hold: EscrowHold, kind: str, title: str, body: str,
                            link: str | None = None) -> None:
        user_id = await creator_user_id(self.session, hold.creator_id)
        if user_id is not None:
            await notify(self.session, [user_id], kind=kind, title=title, body=body,
                         link=link or f"/collaborations/{hold.collaboration_id}", email_template=EMAIL,
                         public_url=self.public_url)

    async def _system(self, hold: EscrowHold, action: Action, now: datetime, **payload: object) -> bool:
        """Move the collaboration if the table allows it from where it is; escrow never forces a deal's state."""
        collab = await lock_collaboration(self.session, hold.collaboration_id)
        if (CollabState(collab.status), action) not in TRANSITIONS:
            return False
        await transition(self.session, collab.id, action, SYSTEM, now=now, payload=dict(payload), collab=collab)
        return True

    # --- escrow events ----------------------------------------------------------------------------------------------

    async def on_funded(self, session: AsyncSession, hold: EscrowHold, now: datetime) -> bool:
        collab = await lock_collaboration(session, hold.collaboration_id)
        state = CollabState(collab.status)
        if state in TERMINAL:
            # Paid after the deal ended (a checkout left open): escrow returns the money.
            await self._tell_brand(hold, "payment.returned", "Your payment is being returned",
                                   f"The deal ended before your payment of {_money(hold.gross_amount, hold)} arrived, "
                                   "so it is being refunded in full.")
            return False
        if state is CollabState.SIGNED:
            await transition(session, collab.id, Action.MARK_FUNDED, SYSTEM, now=now, collab=collab,
                             payload={"amount": hold.gross_amount, "currency": hold.currency})
        await self._tell_brand(hold, "payment.funded", "Deal funded",
                               f"{_money(hold.gross_amount, hold)} is held in escrow; the creator is paid "
                               f"{_money(hold.creator_amount, hold)} when the post is approved.")
        await self._tell_creator(hold, "payment.funded", "The brand funded your deal",
                                 f"Your fee of {_money(hold.creator_amount, hold)} is held in escrow for you.")
        return True

    async def on_funding_failed(self, session: AsyncSession, hold: EscrowHold, now: datetime, message: str) -> None:
        await self._tell_brand(hold, "payment.failed", "Payment didn't go through",
                               f"{message} You can try again from the Payments page.")

    async def on_release_waiting(self, session: AsyncSession, hold: EscrowHold, now: datetime, *, amount: int) -> None:
        await self._tell_creator(hold, "payout.setup_needed", "Set up payouts to get paid",
                                 f"{_money(amount, hold)} is ready for you. Set up payouts "
                                 "and it is sent at once.", link="/creator/payments")

    async def on_released(self, session: AsyncSession, hold: EscrowHold, now: datetime, *, amount: int,
                          complete: bool) -> None:
        if complete:
            await self._system(hold, Action.MARK_RELEASED, now, amount=amount, currency=hold.currency)
        await self._tell_creator(hold, "payment.released", "You've been paid",
                                 f"{_money(amount, hold)} was sent to your payout account.")
        await self._tell_brand(hold, "payment.released", "Creator paid",
                               f"{_money(amount, hold)} was released from escrow to the creator.")

    async def on_release_failed(self, session: AsyncSession, hold: EscrowHold, now: datetime, message: str) -> None:
        await self._tell_creator(hold, "payment.release_failed", "Your payment couldn't be sent",
                                 f"{message} The money is still held in escrow for you; check your payout settings.",
                                 link="/creator/payments")
        await self._tell_brand(hold, "payment.release_failed", "Payment to the creator failed",
                               f"{message} The money is still held in escrow.")

    async def on_refunded(self, session: AsyncSession, hold: EscrowHold, now: datetime, *, amount: int) -> None:
        await self._tell_brand(hold, "payment.refunded", "Refund sent",
                               f"{_money(amount, hold)} was refunded to your card.")

    async def on_refund_failed(self, session: AsyncSession, hold: EscrowHold, now: datetime, message: str) -> None:
        await self._tell_brand(hold, "payment.refund_failed", "Refund failed",
                               f"{message} The money is still held in escrow; PostPact will retry or contact you.")

    async def on_frozen(self, session: AsyncSession, hold: EscrowHold, now: datetime, reason: str) -> None:
        if reason == "chargeback":
            collab = await lock_collaboration(session, hold.collaboration_id)
            collab.needs_admin_review = True
            await self._system(hold, Action.OPEN_DISPUTE, now, reason="chargeback")
            await self._tell_brand(hold, "dispute.chargeback", "Card payment disputed",
                                   "Your bank disputed the payment for this deal. The escrow is frozen until "
                                   "PostPact resolves it.")
        # Any freeze may be the one that follows a chargeback (it waits while a payment is in flight), or one that
        # money moved outside PostPact caused: open the admin case that makes someone decide.
        await open_admin_cases(session, hold, now, reason)

    async def on_settled(self, session: AsyncSession, hold: EscrowHold, now: datetime, *, creator_amount: int,
                         brand_amount: int) -> None:
        await self._tell_creator(hold, "payment.settled", "Dispute settled",
                                 f"You received {_money(creator_amount, hold)} from escrow.")
        await self._tell_brand(hold, "payment.settled", "Dispute settled",
                               f"{_money(creator_amount, hold)} went to the creator and "
                               f"{_money(brand_amount, hold)} back to you.")

    async def on_payout_account_updated(self, session: AsyncSession, account: PayoutAccount, now: datetime) -> None:
        if account.transfers_active:
            user_id = await creator_user_id(session, account.creator_id)
            if user_id is not None:
                await notify(session, [user_id], kind="payout.ready", title="Payouts ready",
                             body="Your payout account can receive payments.", link="/creator/payments")


def _money(amount: int, hold: EscrowHold) -> str:
    return format_money(amount, hold.currency)
