"""Making provider calls that escrow decided: after the decision committed, before the result is recorded.

``execute(call_id)`` runs in three short transactions: record the attempt; call the provider with the call's
deterministic idempotency key (no transaction open); apply the answer. A crash anywhere leaves the call ``ready``
with its attempt recorded, and ``recover()`` (a periodic job) finishes it: by retrying with the same key, or — past
~20 h, when the provider may have forgotten the key (Stripe keeps keys at least 24 h) — by looking for what the
first attempt created before creating anything.
"""

from __future__ import annotations

import logging
import random
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any, Protocol
from uuid import UUID

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from escrow.events import EscrowListener
from escrow.models import CallStatus, PayoutAccount, ProviderCall, _utc
from escrow.providers.base import (
    DefinitiveProviderError,
    PaymentProvider,
    Refund,
    Reversal,
    TransientProviderError,
)
from escrow.services import EscrowService

log = logging.getLogger(__name__)

#: A call attempted (or due) this long ago and still unfinished is presumed abandoned (its process died, its job was
#: lost). Short, so a crash stalls a deal for seconds, not minutes: recovering a call that was in fact still running is
#: harmless, because the retry carries the same idempotency key (the provider answers with what it already did) and,
#: past the key's lifetime (``LOOKUP_FIRST_AFTER``), looks the object up before creating anything.
STALE_AFTER = timedelta(seconds=20)
#: Past this, the provider may have dropped the idempotency key: look the object up before creating one.
LOOKUP_FIRST_AFTER = timedelta(hours=20)


class Clock(Protocol):
    def now(self) -> datetime: ...


class ProviderCallRetry(Exception):
    """A transient provider failure: the call stays ready and is retried with the same key."""

    def __init__(self, message: str, retry_after: float) -> None:
        super().__init__(message)
        self.retry_after = retry_after


def retry_delay(attempt: int) -> float:
    """Exponential backoff with jitter, capped at 10 minutes."""
    return random.uniform(0.5, 1.0) * min(600.0, 2.0 * (2 ** max(0, attempt - 1)))


class ProviderCallExecutor:
    def __init__(self, session_maker: async_sessionmaker[AsyncSession], provider: PaymentProvider,
                 listener_factory: Callable[[AsyncSession], EscrowListener], clock: Clock,
                 *, platform_fee_bps: int) -> None:
        self.session_maker = session_maker
        self.provider = provider
        self.listener_factory = listener_factory
        self.clock = clock
        self.platform_fee_bps = platform_fee_bps

    def service(self, session: AsyncSession) -> EscrowService:
        return EscrowService(session, now=self.clock.now(), listener=self.listener_factory(session),
                             platform_fee_bps=self.platform_fee_bps, actor=f"provider:{self.provider.name}")

    async def execute(self, call_id: UUID, *, attempt: Attempt | None = None) -> str:
        """Returns "done", "failed" or "skipped"; raises ProviderCallRetry on a transient failure.

        ``attempt``: the call's first attempt as its decision recorded it (``EscrowService(attempt_calls=True)``,
        taken with ``Attempt.of`` before that transaction committed); the call is then made at once, without a
        transaction of its own to record the attempt."""
        if attempt is not None:
            request, collaboration_id = attempt.request, attempt.collaboration_id
        else:
            async with self.session_maker() as session, session.begin():
                begun = await self.service(session).begin_attempt(call_id)
                request = _Request.of(begun[0]) if begun is not None else None
                # The hold's collaboration lets the result transaction lock in order without looking it up again.
                collaboration_id = begun[1].collaboration_id if begun is not None and begun[1] else None
        if request is None:
            return "skipped"
        now = self.clock.now()
        try:
            result = await self._send(request, now)
        except TransientProviderError as exc:
            delay = retry_delay(request.attempts)
            async with self.session_maker() as session, session.begin():
                await self.service(session).record_transient_failure(
                    call_id, exc.message, now + timedelta(seconds=max(delay, STALE_AFTER.total_seconds()))
                )
            raise ProviderCallRetry(exc.message, delay) from exc
        except DefinitiveProviderError as exc:
            async with self.session_maker() as session, session.begin():
                await self.service(session).fail_call(call_id, exc.message)
            return "failed"
        async with self.session_maker() as session, session.begin():
            await self.service(session).complete_call(call_id, result, provider=self.provider.name,
                                                      collaboration_id=collaboration_id)
        return "done"

    async def _send(self, r: _Request, now: datetime) -> Any:
        p = r.params
        lookup = r.first_attempt_at is not None and now - r.first_attempt_at > LOOKUP_FIRST_AFTER
        provider = self.provider
        if r.operation == "create_funding":
            if lookup:
                found = await provider.find_funding(transfer_group=p["transfer_group"])
                if found is not None and found.metadata.get("call_key") == r.key:
                    return found
            return await provider.create_funding(
                amount=p["amount"], currency=p["currency"], idempotency_key=r.key,
                transfer_group=p["transfer_group"], description=p["description"], metadata=p["metadata"],
                return_url=p["return_url"],
            )
        if r.operation == "transfer":
            if lookup:
                for transfer in await provider.list_transfers(transfer_group=p["transfer_group"]):
                    if transfer.metadata.get("call_key") == r.key:
                        return transfer
            return await provider.transfer(
                destination=p["destination"], amount=p["amount"], currency=p["currency"],
                source_charge_ref=p.get("source_charge_ref"), transfer_group=p["transfer_group"],
                idempotency_key=r.key, metadata=p["metadata"],
            )
        if r.operation == "refund":
            if lookup:
                # Every refund we create carries its call key in its metadata: find the one this call made.
                for refund in await provider.list_refunds(p["funding_ref"]):
                    if refund.metadata.get("call_key") == r.key:
                        return refund
                funding = await provider.retrieve_funding(p["funding_ref"])
                if funding.amount_refunded >= p.get("refunded_before", 0) + p["amount"]:
                    # Refunded outside PostPact's records (a provider without refund metadata): book what we know.
                    return Refund(ref=f"recovered:{r.key}", funding_ref=p["funding_ref"], amount=p["amount"],
                                  currency=p["currency"], status="succeeded")
            return await provider.refund(
                funding_ref=p["funding_ref"], amount=p["amount"], currency=p["currency"], idempotency_key=r.key,
                metadata=p["metadata"],
            )
        if r.operation == "reverse_transfer":
            if lookup:
                for transfer in await provider.list_transfers(transfer_group=p["transfer_group"]):
                    if transfer.ref == p["transfer_ref"] and transfer.amount_reversed >= (
                        p.get("reversed_before", 0) + p["amount"]
                    ):
                        return Reversal(ref=f"recovered:{r.key}", transfer_ref=transfer.ref, amount=p["amount"],
                                        currency=transfer.currency)
            return await provider.reverse_transfer(
                transfer_ref=p["transfer_ref"], amount=p["amount"], idempotency_key=r.key, metadata=p["metadata"]
            )
        if r.operation == "create_payout_account":
            return await provider.create_payout_account(
                email=p["email"], country=p.get("country"), idempotency_key=r.key, metadata=p["metadata"]
            )
        raise ValueError(f"unknown provider operation {r.operation!r}")

    async def recover(self, limit: int = 200) -> dict[str, int]:
        """Finish what was left unfinished: calls attempted long ago (their process died), calls whose retry is
        due, and releases that waited for a payout account that is now ready."""
        now = self.clock.now()
        async with self.session_maker() as session:
            stale = list(await session.scalars(
                sa.select(ProviderCall.id)
                .where(
                    ProviderCall.status == CallStatus.READY,
                    ProviderCall.next_attempt_at <= now,
                    sa.func.coalesce(ProviderCall.last_attempt_at, ProviderCall.next_attempt_at) <= now - STALE_AFTER,
                )
                .order_by(ProviderCall.next_attempt_at)
                .limit(limit)
            ))
            ready_to_pay = list(await session.scalars(
                sa.select(ProviderCall.id)
                .join(PayoutAccount, PayoutAccount.creator_id == ProviderCall.creator_id)
                .where(
                    ProviderCall.status == CallStatus.WAITING,
                    ProviderCall.operation == "transfer",
                    PayoutAccount.transfers_active.is_(True),
                )
                .limit(limit)
            ))
        counts = {"done": 0, "failed": 0, "skipped": 0, "retry": 0, "error": 0}
        for call_id in stale + ready_to_pay:
            try:
                counts[await self.execute(call_id)] += 1
            except ProviderCallRetry:
                counts["retry"] += 1
            except Exception:
                log.exception("recovering provider call %s failed", call_id)
                counts["error"] += 1
        return counts


class _Request:
    """What one attempt sends, copied out of the call row before its transaction closes."""

    def __init__(self, operation: str, key: str, params: dict[str, Any], attempts: int,
                 first_attempt_at: datetime | None) -> None:
        self.operation = operation
        self.key = key
        self.params = params
        self.attempts = attempts
        self.first_attempt_at = first_attempt_at

    @classmethod
    def of(cls, call: ProviderCall) -> _Request:
        return cls(call.operation, call.idempotency_key, dict(call.params), call.attempts,
                   _utc(call.first_attempt_at))


class Attempt:
    """A call's first attempt, recorded by the transaction that decided it: what to send, copied out before that
    transaction commits."""

    def __init__(self, request: _Request | None, collaboration_id: UUID | None) -> None:
        self.request = request
        self.collaboration_id = collaboration_id

    @classmethod
    def of(cls, call: ProviderCall, *, collaboration_id: UUID | None) -> Attempt:
        """``collaboration_id``: the call's hold's collaboration (None for a call without a hold)."""
        attempted = call.status is CallStatus.READY and call.attempts == 1
        return cls(_Request.of(call) if attempted else None, collaboration_id)
