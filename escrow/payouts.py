"""Money out of escrow: release to the creator, refund to the brand, freeze for a dispute, an admin's split.

Each decision reserves a pending ledger posting and records a provider call in the caller's transaction; the
``finish``-side helpers here (``after_release_posted``, ``maybe_finish_split``, ``freeze_if_requested``) run when
the provider's answer is applied (``escrow.settlement``).
"""

from __future__ import annotations

from typing import Any
from uuid import UUID

from advanced_alchemy.mixins.uuid import uuid7

from escrow import ledger
from escrow.context import EscrowContext, PayoutReadiness, call_metadata, transfer_group, why_not
from escrow.errors import EscrowConflict
from escrow.models import CallStatus, EscrowHold, PayoutAccount, Phase, ProviderCall
from escrow.split import HoldFigures, preview_split
from escrow.states import PENDING, EscrowAction, EscrowState

A = EscrowAction
S = EscrowState

# --- release ----------------------------------------------------------------------------------------------------------


async def request_release(ctx: EscrowContext, collaboration_id: UUID, *, amount: int | None = None,
                          reason: str = "") -> ProviderCall | None:
    """Pay the creator ``amount`` of their fee (default: all that is left), with PostPact's fee share.
    Waits in ``release_pending`` until the creator can receive transfers."""
    hold, account = await ctx.lock_with_payout_account(collaboration_id)
    if hold is None or hold.state not in (S.FUNDED, S.FROZEN):
        raise EscrowConflict(why_not(hold, "pay the creator"))
    part = hold.creator_amount_remaining if amount is None else amount
    if part < 0 or part > hold.creator_amount_remaining:
        raise EscrowConflict(f"At most {hold.creator_amount_remaining} can still be released.")
    fee = ledger.fee_share(hold.platform_fee_amount, hold.creator_amount, hold.released_creator_amount,
                           hold.released_fee_amount, part)
    if part + fee > hold.available_amount:
        raise EscrowConflict("Not enough money is held for this release.")
    await ctx.move(hold, A.REQUEST_RELEASE if hold.state is S.FUNDED else A.RESOLVE_RELEASE,
                   amount=part, fee=fee, reason=reason)
    hold.release_seq += 1
    key = f"collab:{hold.collaboration_id}:release:{hold.release_seq}"
    return await reserve_release(ctx, hold, key, part, fee, kind="release", account=account)


_UNREAD: Any = object()


async def reserve_release(ctx: EscrowContext, hold: EscrowHold, key: str, part: int, fee: int, *, kind: str,
                          split: int | None = None,
                          account: PayoutAccount | PayoutReadiness | None = _UNREAD) -> ProviderCall | None:
    """``account``: the creator's payout account when the caller read it with the lock (None: they have none)."""
    if part + fee == 0:
        if split is None:
            await after_release_posted(ctx, hold, None, 0, 0, split=None)
        return None
    # Reserved before posting, so the hold's changes go out with the posting. ``key`` is fresh: its sequence number
    # was taken under the hold's lock.
    hold.reserved_amount += part + fee
    legs = ledger.release_legs(hold.id, hold.creator_id, part, fee, hold.currency)
    if part == 0:
        # Only PostPact's fee share moves: nothing to transfer, post at once.
        pending, _ = await ledger.post(
            ctx.session, key=key, kind=kind, phase=Phase.PENDING, legs=legs, now=ctx.now, actor=ctx.actor,
            escrow_id=hold.id, collaboration_id=hold.collaboration_id, memo="payment to the creator", new_key=True,
        )
        await ledger.resolve(ctx.session, pending, post_it=True, now=ctx.now, actor=ctx.actor)
        hold.reserved_amount -= fee
        hold.released_fee_amount += fee
        if split is None:
            await after_release_posted(ctx, hold, None, 0, fee, split=None)
        return None
    if account is _UNREAD:
        account = await ctx.payout_account(hold.creator_id)
    blocked = await ctx.listener.payouts_blocked(ctx.session, hold.creator_id)
    ready = account is not None and account.transfers_active and account.account_ref is not None and not blocked
    params: dict[str, Any] = {
        "amount": part,
        "fee": fee,
        "currency": hold.currency,
        "transfer_group": transfer_group(hold.collaboration_id),
        "source_charge_ref": hold.charge_ref,
        "metadata": call_metadata(hold, key),
    }
    if split is not None:
        params["split"] = split
    if ready:
        assert account is not None
        params["destination"] = account.account_ref
    # The call is recorded first and its pending posting after, so the posting's statement carries the hold's
    # change, its event and the call (``escrow.carried``).
    pending_id = uuid7()
    call = await ctx.new_call(hold, key=key, operation="transfer", amount=part, currency=hold.currency,
                              params=params, pending_id=pending_id, waiting=not ready)
    await ledger.post(
        ctx.session, key=key, kind=kind, phase=Phase.PENDING, legs=legs, now=ctx.now, actor=ctx.actor,
        escrow_id=hold.id, collaboration_id=hold.collaboration_id, memo="payment to the creator", new_key=True,
        transaction_id=pending_id,
    )
    if blocked:
        hold.last_message = "The creator's account is under review; the payment goes out once it is cleared."
    elif not ready:
        hold.last_message = "Waiting for the creator to set up payouts; the payment goes out as soon as they do."
        await ctx.listener.on_release_waiting(ctx.session, hold, ctx.now, amount=part)
    return call


async def after_release_posted(ctx: EscrowContext, hold: EscrowHold, call: ProviderCall | None, part: int, fee: int,
                               *, split: int | None) -> None:
    if split is not None:
        await maybe_finish_split(ctx, hold, split)
        return
    complete = await mark_release_posted(ctx, hold, call, part, fee)
    await tell_release_posted(ctx, hold, part, complete=complete)


async def mark_release_posted(ctx: EscrowContext, hold: EscrowHold, call: ProviderCall | None, part: int,
                              fee: int) -> bool:
    """Move the hold on for a posted release (its figures already updated); True when nothing is left held."""
    complete = hold.creator_amount_remaining == 0 and hold.available_amount == 0
    hold.last_message = None
    await ctx.move(hold, A.RELEASE_POSTED if complete else A.RELEASE_POSTED_PARTIAL, amount=part, fee=fee,
                   transfer=call.result_ref if call else None)
    return complete


async def tell_release_posted(ctx: EscrowContext, hold: EscrowHold, part: int, *, complete: bool) -> None:
    await ctx.listener.on_released(ctx.session, hold, ctx.now, amount=part, complete=complete)
    await freeze_if_requested(ctx, hold)


# --- refund -----------------------------------------------------------------------------------------------------------


async def request_refund(ctx: EscrowContext, collaboration_id: UUID, *, reason: str = "") -> ProviderCall | None:
    """Return everything still held to the brand. Before funding this just closes the escrow."""
    hold = await ctx.lock(collaboration_id=collaboration_id)
    if hold is None:
        return None
    if hold.state in (S.AWAITING_FUNDING, S.FUNDING, S.FUNDING_FAILED):
        await ctx.move(hold, A.CANCEL, reason=reason)
        return None
    if hold.state is S.CANCELLED:
        return None
    if hold.state not in (S.FUNDED, S.FROZEN):
        raise EscrowConflict(why_not(hold, "refund the brand"))
    return await request_refund_locked(ctx, hold, reason=reason)


async def request_refund_locked(ctx: EscrowContext, hold: EscrowHold, *, reason: str) -> ProviderCall | None:
    amount = hold.available_amount
    await ctx.move(hold, A.REQUEST_REFUND if hold.state is S.FUNDED else A.RESOLVE_REFUND, amount=amount,
                   reason=reason)
    hold.refund_seq += 1
    key = f"collab:{hold.collaboration_id}:refund:{hold.refund_seq}"
    return await reserve_refund(ctx, hold, key, amount)


async def reserve_refund(ctx: EscrowContext, hold: EscrowHold, key: str, amount: int, *,
                         split: int | None = None) -> ProviderCall | None:
    if amount == 0:
        if split is None:
            await ctx.move(hold, A.REFUND_POSTED, amount=0)
            await ctx.listener.on_refunded(ctx.session, hold, ctx.now, amount=0)
        return None
    pending, _ = await ledger.post(
        ctx.session, key=key, kind="refund", phase=Phase.PENDING,
        legs=ledger.refund_legs(hold.id, hold.brand_id, amount, hold.currency), now=ctx.now, actor=ctx.actor,
        escrow_id=hold.id, collaboration_id=hold.collaboration_id, memo="refund to the brand", new_key=True,
    )
    hold.reserved_amount += amount
    params: dict[str, Any] = {
        "funding_ref": hold.funding_ref,
        "amount": amount,
        "currency": hold.currency,
        "metadata": call_metadata(hold, key),
        # What the provider already refunded on this payment: lets recovery recognise this refund later.
        "refunded_before": hold.refunded_amount,
    }
    if split is not None:
        params["split"] = split
    return await ctx.new_call(hold, key=key, operation="refund", amount=amount, currency=hold.currency,
                              params=params, pending=pending)


# --- freeze and dispute decisions -------------------------------------------------------------------------------------


async def freeze(ctx: EscrowContext, collaboration_id: UUID, *, reason: str = "") -> EscrowHold | None:
    """A dispute or chargeback: nothing is released or refunded until an admin decides. A release waiting for
    onboarding is withdrawn; one already sent to the provider finishes first and the freeze follows."""
    hold = await ctx.lock(collaboration_id=collaboration_id)
    if hold is None or hold.state in (S.AWAITING_FUNDING, S.FUNDING, S.FUNDING_FAILED, S.CANCELLED):
        return hold
    await freeze_locked(ctx, hold, reason)
    return hold


async def freeze_locked(ctx: EscrowContext, hold: EscrowHold, reason: str) -> None:
    if hold.state in PENDING:
        calls = await ctx.unfinished_calls(hold)
        if any(c.status is CallStatus.READY and c.attempts > 0 for c in calls) or hold.state is S.SPLIT_PENDING:
            hold.freeze_requested_at = ctx.now
            await ctx.move(hold, A.NOTE, freeze_requested=reason)
            return
        for call in calls:
            await ctx.void_call(hold, call, "Withdrawn: the deal is frozen while a dispute is open.")
    await ctx.move(hold, A.FREEZE, reason=reason)
    hold.freeze_requested_at = None
    await ctx.listener.on_frozen(ctx.session, hold, ctx.now, reason)


async def freeze_if_requested(ctx: EscrowContext, hold: EscrowHold) -> None:
    if hold.freeze_requested_at is not None and hold.state not in PENDING:
        await freeze_locked(ctx, hold, "a chargeback arrived while a payment was in progress")


async def resolve_split(ctx: EscrowContext, collaboration_id: UUID, *, creator_amount: int,
                        reason: str = "") -> list[ProviderCall]:
    """An admin's decision on a frozen escrow: ``creator_amount`` of the creator's fee to the creator (with its
    PostPact fee share), everything else still held back to the brand — exactly what ``preview_split`` says."""
    hold = await ctx.lock(collaboration_id=collaboration_id)
    if hold is None or hold.state is not S.FROZEN:
        raise EscrowConflict(why_not(hold, "split the money"))
    preview = preview_split(HoldFigures.of(hold), creator_amount)
    fee, brand_part = preview.platform_fee, preview.brand_amount
    hold.split_seq += 1
    n = hold.split_seq
    await ctx.move(hold, A.RESOLVE_SPLIT, creator_amount=creator_amount, fee=fee, brand_amount=brand_part,
                   reason=reason, split=n)
    base = f"collab:{hold.collaboration_id}:split:{n}"
    calls = []
    if creator_amount + fee:
        call = await reserve_release(ctx, hold, f"{base}:creator", creator_amount, fee, kind="release", split=n)
        if call is not None:
            calls.append(call)
    if brand_part:
        call = await reserve_refund(ctx, hold, f"{base}:brand", brand_part, split=n)
        if call is not None:
            calls.append(call)
    if hold.state is S.SPLIT_PENDING:
        await maybe_finish_split(ctx, hold, n)
    return calls


async def maybe_finish_split(ctx: EscrowContext, hold: EscrowHold, split: int) -> None:
    """Settle the split once all of its calls are done; a failed part voids it back to frozen."""
    if hold.state is not S.SPLIT_PENDING:
        return
    calls = [c for c in await ctx.calls_of(hold) if c.params.get("split") == split]
    if any(c.status in (CallStatus.READY, CallStatus.WAITING) for c in calls):
        return
    if any(c.status is CallStatus.FAILED for c in calls):
        await ctx.move(hold, A.SPLIT_VOIDED, split=split)
        await freeze_if_requested(ctx, hold)
        return
    creator_part = sum(c.amount for c in calls if c.operation == "transfer")
    brand_part = sum(c.amount for c in calls if c.operation == "refund")
    hold.last_message = None
    await ctx.move(hold, A.SPLIT_POSTED, split=split, creator_amount=creator_part, brand_amount=brand_part)
    await ctx.listener.on_settled(ctx.session, hold, ctx.now, creator_amount=creator_part, brand_amount=brand_part)
    await freeze_if_requested(ctx, hold)
