"""Creators' payout accounts at the provider: onboarding, the provider's updates, and transfers that waited for them."""

from __future__ import annotations

from uuid import UUID

import sqlalchemy as sa

from escrow.context import EscrowContext
from escrow.models import CallStatus, PayoutAccount, ProviderCall
from escrow.providers.base import PayoutAccount as ProviderPayoutAccount


async def request_payout_account(ctx: EscrowContext, creator_id: UUID, *, email: str, country: str | None,
                                 provider: str) -> tuple[PayoutAccount, ProviderCall | None]:
    """A creator starts payout onboarding: create their account at the provider once (one call, one key)."""
    account = await ctx.session.scalar(
        sa.select(PayoutAccount).where(PayoutAccount.creator_id == creator_id).with_for_update())
    if account is None:
        account = PayoutAccount(creator_id=creator_id, provider=provider, requirements_due=[])
        ctx.session.add(account)
        await ctx.session.flush()
    if account.account_ref:
        return account, None
    key = f"creator:{creator_id}:payout_account"
    call = await ctx.session.scalar(sa.select(ProviderCall).where(ProviderCall.idempotency_key == key))
    if call is None:
        call = await ctx.new_call(None, key=key, operation="create_payout_account", amount=0, currency=None,
                                  creator_id=creator_id,
                                  params={"email": email, "country": country,
                                          "metadata": {"creator_id": str(creator_id), "call_key": key}})
    elif call.status is CallStatus.FAILED:
        call.status = CallStatus.READY
        call.next_attempt_at = ctx.now
        await ctx.listener.schedule_provider_call(ctx.session, call.id)
    return account, call


async def apply_payout_account(ctx: EscrowContext, update: ProviderPayoutAccount, *, creator_id: UUID | None = None,
                               provider: str | None = None) -> PayoutAccount | None:
    """The provider's view of a creator's account; when it can take transfers, waiting releases go out."""
    account = await ctx.session.scalar(
        sa.select(PayoutAccount).where(PayoutAccount.account_ref == update.ref).with_for_update())
    if account is None and creator_id is not None:
        account = await ctx.session.scalar(
            sa.select(PayoutAccount).where(PayoutAccount.creator_id == creator_id).with_for_update())
        if account is None:
            account = PayoutAccount(creator_id=creator_id, provider=provider or "unknown", requirements_due=[])
            ctx.session.add(account)
    if account is None:
        return None
    before = (account.account_ref, account.transfers_active, account.details_submitted, account.payouts_enabled,
              list(account.requirements_due or []))
    account.account_ref = update.ref
    account.transfers_active = update.transfers_active
    account.details_submitted = update.details_submitted
    account.payouts_enabled = update.payouts_enabled
    account.requirements_due = list(update.requirements_due)
    await ctx.session.flush()
    if account.transfers_active:
        await resume_waiting_transfers(ctx, account.creator_id)
    after = (account.account_ref, account.transfers_active, account.details_submitted, account.payouts_enabled,
             list(account.requirements_due))
    if after != before:  # the provider repeats itself (webhooks, reconciliation): tell people only of changes
        await ctx.listener.on_payout_account_updated(ctx.session, account, ctx.now)
    return account


async def resume_waiting_transfers(ctx: EscrowContext, creator_id: UUID) -> int:
    """Schedule the creator's transfers that wait (for payout setup or a lifted hold); each one checks again
    before it is sent. Returns how many were scheduled."""
    waiting = list(await ctx.session.scalars(
        sa.select(ProviderCall.id).where(
            ProviderCall.creator_id == creator_id,
            ProviderCall.operation == "transfer",
            ProviderCall.status == CallStatus.WAITING,
        )
    ))
    for call_id in waiting:
        await ctx.listener.schedule_provider_call(ctx.session, call_id)
    return len(waiting)
