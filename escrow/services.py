"""EscrowService: the one gateway into escrow, a thin facade over the families of money actions.

Every money decision and every provider report goes through here, one locked transaction each. The work lives in
one module per family (like zulip's ``zerver/actions/``): ``escrow.funding`` (money in), ``escrow.payouts`` (release,
refund, freeze, split), ``escrow.payout_accounts``, ``escrow.calls`` (the provider-call lifecycle),
``escrow.settlement`` (a call's answer posted or voided), ``escrow.reports`` (provider reports) and
``escrow.chargebacks``; ``escrow.context`` holds what they share.

Deciding (fund, release, refund, freeze, resolve) records a pending ledger posting and a ``ProviderCall`` with a
deterministic idempotency key in the caller's transaction; the call is made after commit (``escrow.executor``) and
its result applied by ``complete_call`` / ``fail_call``. Provider reports from webhooks and reconciliation are
idempotent and order-independent.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

from sqlalchemy.ext.asyncio import AsyncSession

from escrow import calls, chargebacks, payout_accounts, payouts, reports
from escrow import funding as funding_actions
from escrow.context import EscrowContext, transfer_group, why_not
from escrow.errors import EscrowConflict, EscrowError
from escrow.events import EscrowListener
from escrow.funding import FundingRequest
from escrow.models import Chargeback, EscrowHold, PayoutAccount, ProviderCall
from escrow.providers.base import Funding, Refund, Reversal, Transfer
from escrow.providers.base import PayoutAccount as ProviderPayoutAccount
from escrow.split import HoldFigures, SplitPreview, preview_split
from escrow.states import IllegalEscrowTransition


class EscrowService:
    """One transaction's gateway into escrow. ``platform_fee_bps`` (PostPact's fee, in basis points of the
    creator's fee) has no default: the caller passes the configured fee, so no deal is funded at a guessed rate."""

    def __init__(self, session: AsyncSession, *, now: datetime, listener: EscrowListener, platform_fee_bps: int,
                 actor: str = "system", attempt_calls: bool = False) -> None:
        self.session = session
        self.now = now
        self.listener = listener
        self.platform_fee_bps = platform_fee_bps
        self.actor = actor
        #: Provider calls decided here are made by the caller right after commit (see ``EscrowContext``).
        self.attempt_calls = attempt_calls

    @property
    def _ctx(self) -> EscrowContext:
        return EscrowContext(self.session, self.now, self.listener, self.actor, self.attempt_calls)

    # --- funding ----------------------------------------------------------------------------------------------------

    async def hold_for(self, collaboration_id: UUID) -> EscrowHold | None:
        return await self._ctx.hold_for(collaboration_id)

    async def start_funding(self, request: FundingRequest, *, return_url: str) -> ProviderCall | None:
        return await funding_actions.start_funding(self._ctx, request, return_url=return_url,
                                                   platform_fee_bps=self.platform_fee_bps)

    async def apply_funding(self, funding: Funding) -> EscrowHold | None:
        return await funding_actions.apply_funding(self._ctx, funding)

    async def cancel(self, collaboration_id: UUID) -> EscrowHold | None:
        return await funding_actions.cancel(self._ctx, collaboration_id)

    # --- payouts: release, refund, freeze, split --------------------------------------------------------------------

    async def request_release(self, collaboration_id: UUID, *, amount: int | None = None,
                              reason: str = "") -> ProviderCall | None:
        return await payouts.request_release(self._ctx, collaboration_id, amount=amount, reason=reason)

    async def request_refund(self, collaboration_id: UUID, *, reason: str = "") -> ProviderCall | None:
        return await payouts.request_refund(self._ctx, collaboration_id, reason=reason)

    async def freeze(self, collaboration_id: UUID, *, reason: str = "") -> EscrowHold | None:
        return await payouts.freeze(self._ctx, collaboration_id, reason=reason)

    async def resolve_split(self, collaboration_id: UUID, *, creator_amount: int,
                            reason: str = "") -> list[ProviderCall]:
        return await payouts.resolve_split(self._ctx, collaboration_id, creator_amount=creator_amount, reason=reason)

    async def preview_split(self, collaboration_id: UUID, *, creator_amount: int) -> SplitPreview:
        """What ``resolve_split(collaboration_id, creator_amount=...)`` would pay to whom, read without locking
        (for pages and confirmations; the decision itself re-checks under the lock). Raises EscrowConflict for a
        deal without escrow or an impossible part."""
        hold = await self._ctx.hold_for(collaboration_id)
        if hold is None:
            raise EscrowConflict(why_not(None, "split the money"))
        return preview_split(HoldFigures.of(hold), creator_amount)

    # --- payout accounts --------------------------------------------------------------------------------------------

    async def request_payout_account(self, creator_id: UUID, *, email: str, country: str | None,
                                     provider: str) -> tuple[PayoutAccount, ProviderCall | None]:
        return await payout_accounts.request_payout_account(self._ctx, creator_id, email=email, country=country,
                                                            provider=provider)

    async def apply_payout_account(self, update: ProviderPayoutAccount, *, creator_id: UUID | None = None,
                                   provider: str | None = None) -> PayoutAccount | None:
        return await payout_accounts.apply_payout_account(self._ctx, update, creator_id=creator_id, provider=provider)

    async def resume_waiting_transfers(self, creator_id: UUID) -> int:
        return await payout_accounts.resume_waiting_transfers(self._ctx, creator_id)

    # --- provider calls ---------------------------------------------------------------------------------------------

    async def lock_call(self, call_id: UUID) -> tuple[ProviderCall, EscrowHold | None] | None:
        return await self._ctx.lock_call(call_id)

    async def begin_attempt(self, call_id: UUID) -> tuple[ProviderCall, EscrowHold | None] | None:
        return await calls.begin_attempt(self._ctx, call_id)

    async def record_transient_failure(self, call_id: UUID, message: str, retry_at: datetime) -> None:
        await calls.record_transient_failure(self._ctx, call_id, message, retry_at)

    async def complete_call(self, call_id: UUID, result: Any, *, provider: str | None = None,
                            collaboration_id: UUID | None = None) -> None:
        await calls.complete_call(self._ctx, call_id, result, provider=provider, collaboration_id=collaboration_id)

    async def fail_call(self, call_id: UUID, message: str) -> None:
        await calls.fail_call(self._ctx, call_id, message)

    # --- provider reports and chargebacks ---------------------------------------------------------------------------

    async def apply_refund(self, refund: Refund) -> EscrowHold | None:
        return await reports.apply_refund(self._ctx, refund)

    async def apply_transfer(self, transfer: Transfer) -> EscrowHold | None:
        return await reports.apply_transfer(self._ctx, transfer)

    async def apply_reversal(self, reversal: Reversal) -> EscrowHold | None:
        return await reports.apply_reversal(self._ctx, reversal)

    async def record_chargeback(self, *, dispute_id: str, amount: int, currency: str, status: str,
                                charge_ref: str | None = None, funding_ref: str | None = None) -> Chargeback | None:
        return await chargebacks.record_chargeback(self._ctx, dispute_id=dispute_id, amount=amount,
                                                   currency=currency, status=status, charge_ref=charge_ref,
                                                   funding_ref=funding_ref)


__all__ = [
    "EscrowConflict",
    "EscrowError",
    "EscrowService",
    "FundingRequest",
    "HoldFigures",
    "IllegalEscrowTransition",
    "SplitPreview",
    "preview_split",
    "transfer_group",
]
