"""Provider webhooks: verify and store each event once, then apply it by re-reading the object from the provider.

Three steps, so an event is never lost, never applied twice and never applied from stale data:

1. ``receive_event`` (in the request): the signature is checked on the raw body, the event stored under a unique
   (provider, event id) in the same transaction that queues its processing. A duplicate delivery changes nothing.
2. ``process_event`` (a job): the object the event names is fetched again from the provider — deliveries arrive
   late, twice and out of order, so only the provider's current state counts — and handed to the escrow core,
   whose methods are idempotent. The event is marked processed in the same transaction as its effect.
3. ``unprocessed_events`` (a periodic job): events stored but never processed (lost dispatch, crash) go again.

Unknown event types are stored, acknowledged and marked processed with an "ignored" outcome.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, Protocol
from uuid import UUID

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from escrow.inserts import insert_stmt
from escrow.providers.base import (
    DefinitiveProviderError,
    Funding,
    InvalidWebhook,
    PaymentProvider,
    PayoutAccount,
    ProviderEvent,
    Refund,
    Reversal,
    Transfer,
)
from escrow.providers.stripe import WEBHOOK_TOLERANCE_SECONDS, ChargeFacts, Dispute
from escrow.records import WebhookEvent

if TYPE_CHECKING:
    from escrow.services import EscrowService

log = logging.getLogger(__name__)

#: After this many failed attempts an event is left for people (the admin page lists it) instead of retried.
MAX_ATTEMPTS = 25
#: An event younger than this may still be in its first dispatch; the sweep leaves it alone.
STUCK_AFTER = timedelta(minutes=2)

FUNDING_EVENTS = frozenset({
    "payment_intent.succeeded", "payment_intent.payment_failed", "payment_intent.canceled",
    "payment_intent.processing", "payment_intent.requires_action", "payment_intent.amount_capturable_updated",
})
REFUND_EVENTS = frozenset({"charge.refunded", "charge.refund.updated", "refund.created", "refund.updated",
                           "refund.failed"})
DISPUTE_EVENTS = frozenset({"charge.dispute.created", "charge.dispute.updated", "charge.dispute.closed",
                            "charge.dispute.funds_withdrawn", "charge.dispute.funds_reinstated"})
TRANSFER_EVENTS = frozenset({"transfer.created", "transfer.updated", "transfer.reversed"})
ACCOUNT_EVENTS = frozenset({"account.updated"})
HANDLED_EVENTS = FUNDING_EVENTS | REFUND_EVENTS | DISPUTE_EVENTS | TRANSFER_EVENTS | ACCOUNT_EVENTS


# -- facts: what the provider says now ------------------------------------------------------------------------------


@dataclass(frozen=True)
class FundingFacts:
    """A funding as it stands, with its refunds when the event was about refunds."""

    funding: Funding
    refunds: tuple[Refund, ...] = ()
    refunds_known: bool = False


@dataclass(frozen=True)
class DisputeFacts:
    dispute: Dispute
    funding: Funding | None


@dataclass(frozen=True)
class TransferFacts:
    transfer: Transfer
    reversals: tuple[Reversal, ...] = ()


@dataclass(frozen=True)
class AccountFacts:
    account: PayoutAccount


Facts = FundingFacts | DisputeFacts | TransferFacts | AccountFacts


class FactSource(PaymentProvider, Protocol):
    """The provider reads webhook processing needs beyond the PaymentProvider interface (Stripe has them)."""

    async def retrieve_dispute(self, dispute_ref: str) -> Dispute: ...

    async def retrieve_charge(self, charge_ref: str) -> ChargeFacts: ...

    async def retrieve_transfer(self, transfer_ref: str) -> Transfer: ...

    async def list_refunds(self, funding_ref: str) -> list[Refund]: ...

    async def list_reversals(self, transfer_ref: str) -> list[Reversal]: ...


class FactsApplier(Protocol):
    """The escrow core's side: applies the provider's current state idempotently and returns what it did."""

    async def __call__(self, session: AsyncSession, facts: Facts, now: datetime) -> str: ...


async def gather_facts(provider: FactSource, event: ProviderEvent) -> Facts | None:
    """Re-read the object the event is about (never trust the payload: it may be older than what we know)."""
    obj = event.object
    if event.type in FUNDING_EVENTS:
        return FundingFacts(await provider.retrieve_funding(event.object_id))
    if event.type in REFUND_EVENTS:
        funding_ref = _ref(obj.get("payment_intent"))
        if funding_ref is None:
            charge_ref = event.object_id if obj.get("object") == "charge" else _ref(obj.get("charge"))
            if charge_ref is None:
                return None
            funding_ref = (await provider.retrieve_charge(charge_ref)).funding_ref
        if funding_ref is None:
            return None
        funding = await provider.retrieve_funding(funding_ref)
        return FundingFacts(funding, tuple(await provider.list_refunds(funding_ref)), refunds_known=True)
    if event.type in DISPUTE_EVENTS:
        dispute = await provider.retrieve_dispute(event.object_id)
        funding = await provider.retrieve_funding(dispute.funding_ref) if dispute.funding_ref else None
        return DisputeFacts(dispute, funding)
    if event.type in TRANSFER_EVENTS:
        transfer = await provider.retrieve_transfer(event.object_id)
        reversals = tuple(await provider.list_reversals(transfer.ref)) if transfer.amount_reversed else ()
        return TransferFacts(transfer, reversals)
    if event.type in ACCOUNT_EVENTS:
        return AccountFacts(await provider.retrieve_payout_account(event.object_id or event.account or ""))
    return None


async def apply_facts(service: EscrowService, facts: Facts) -> str:
    """Hand the provider's current state to the escrow core (every method there is idempotent and keeps what
    arrives early until what it depends on is known). Returns a line for the event log."""
    if isinstance(facts, FundingFacts):
        # The funding first: a refund (or dispute) seen before the success still finds the money recorded.
        hold = await service.apply_funding(facts.funding)
        applied = [f"funding {facts.funding.status.value}"]
        for refund in facts.refunds:
            await service.apply_refund(refund)
            applied.append(f"refund {refund.ref} {refund.status}")
        if hold is None and not facts.refunds:
            return f"ignored: funding {facts.funding.ref} is not a PostPact escrow"
        return "; ".join(applied) + (f"; escrow {hold.status}" if hold is not None else "")
    if isinstance(facts, DisputeFacts):
        if facts.funding is not None:
            await service.apply_funding(facts.funding)
        dispute = facts.dispute
        case = await service.record_chargeback(dispute_id=dispute.ref, amount=dispute.amount,
                                               currency=dispute.currency, status=dispute.status,
                                               charge_ref=dispute.charge_ref, funding_ref=dispute.funding_ref)
        if case is None:
            return f"ignored: dispute {dispute.ref} is not on a PostPact escrow"
        return f"chargeback {dispute.ref} {dispute.status}"
    if isinstance(facts, TransferFacts):
        hold = await service.apply_transfer(facts.transfer)
        for reversal in facts.reversals:
            hold = await service.apply_reversal(reversal) or hold
        if hold is None:
            return f"ignored: transfer {facts.transfer.ref} is not from a PostPact escrow"
        reversed_part = f", {facts.transfer.amount_reversed} reversed" if facts.transfer.amount_reversed else ""
        return f"transfer {facts.transfer.ref} {facts.transfer.status.value}{reversed_part}"
    account = await service.apply_payout_account(facts.account)
    if account is None:
        return f"ignored: account {facts.account.ref} is not a creator's payout account"
    return f"payout account {facts.account.ref}: transfers {'active' if facts.account.transfers_active else 'inactive'}"


def _ref(value: Any) -> str | None:
    if isinstance(value, str) and value:
        return value
    if isinstance(value, dict) and isinstance(value.get("id"), str):
        return str(value["id"])
    return None


# -- storing ---------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Received:
    """What ``receive_event`` did: the stored row's id, and whether this delivery was the first."""

    id: UUID
    first_delivery: bool
    processed: bool


async def receive_event(session: AsyncSession, provider: PaymentProvider, payload: bytes, signature: str | None, *,
                        now: datetime) -> Received:
    """Verify and store one delivery (raises InvalidWebhook, storing nothing). The caller queues processing in the
    same transaction when the event is new or still unprocessed."""
    refuse_future_signature(signature, time.time())
    event = provider.parse_webhook(payload, signature)
    return await store_event(session, provider.name, event, now=now)


def refuse_future_signature(signature: str | None, now_epoch: float) -> None:
    """Stripe's SDK refuses signatures older than the tolerance but not ones dated ahead of it: a header signed
    for the future would replay for as long as its date stays ahead. The tolerance applies both ways. Wall-clock
    time, like the SDK's own check: the timestamp comes from Stripe's clock, not from the deal's."""
    for part in (signature or "").split(","):
        key, _, value = part.strip().partition("=")
        if key != "t":
            continue
        try:
            signed_at = int(value)
        except ValueError:
            raise InvalidWebhook("bad signature: the timestamp is not a number") from None
        if signed_at > now_epoch + WEBHOOK_TOLERANCE_SECONDS:
            raise InvalidWebhook("bad signature: the timestamp is in the future")


async def store_event(session: AsyncSession, provider_name: str, event: ProviderEvent, *, now: datetime) -> Received:
    """Insert the event unless (provider, event id) is already stored; concurrent duplicates are safe (the database
    decides through the unique constraint, not a read-then-write)."""
    stmt = (
        insert_stmt(session, WebhookEvent)
        .values(provider=provider_name, event_id=event.id, type=event.type[:100],
                object_id=event.object_id[:255] or None, account=event.account, provider_created=event.created,
                payload=_event_body(event), received_at=now, attempts=0)
        .on_conflict_do_nothing(index_elements=["provider", "event_id"])
        .returning(WebhookEvent.id)
    )
    new_id = (await session.execute(stmt)).scalar_one_or_none()
    if new_id is not None:
        return Received(new_id, first_delivery=True, processed=False)
    existing = (await session.execute(
        sa.select(WebhookEvent.id, WebhookEvent.processed_at)
        .where(WebhookEvent.provider == provider_name, WebhookEvent.event_id == event.id)
    )).one()
    return Received(existing.id, first_delivery=False, processed=existing.processed_at is not None)


def _event_body(event: ProviderEvent) -> dict[str, Any]:
    return {"id": event.id, "type": event.type, "created": event.created, "account": event.account,
            "data": {"object": event.object}}


def stored_event(row: WebhookEvent) -> ProviderEvent:
    body = row.payload
    obj = body.get("data", {}).get("object") or {}
    return ProviderEvent(id=row.event_id, type=row.type, object_id=row.object_id or str(obj.get("id") or ""),
                         object=obj, created=row.provider_created, account=row.account)


# -- processing ------------------------------------------------------------------------------------------------------


@dataclass
class Outcome:
    event_id: str
    type: str
    outcome: str
    applied: bool = False
    already_processed: bool = False
    notes: list[str] = field(default_factory=list)


async def process_event(session_maker: async_sessionmaker[AsyncSession], row_id: UUID, *, provider: FactSource,
                        apply: FactsApplier, now: Callable[[], datetime]) -> Outcome:
    """Apply one stored event. Safe to run twice and concurrently: the row is locked while its effect is applied
    and marked processed in that same transaction.

    Raises TransientProviderError when the provider could not be read (the caller retries later); other failures
    are recorded on the row (``last_error``) and re-raised for the sweep to retry.
    """
    async with session_maker() as session, session.begin():
        row = await session.get(WebhookEvent, row_id)
        if row is None:
            raise LookupError(f"webhook event {row_id} is not stored")
        if row.processed_at is not None:
            return Outcome(row.event_id, row.type, row.outcome or "processed", already_processed=True)
        row.attempts += 1
        event = stored_event(row)

    try:
        facts = await gather_facts(provider, event) if event.type in HANDLED_EVENTS else None
    except DefinitiveProviderError as exc:
        # The provider refuses to show the object (deleted, another platform's): nothing to apply, ever.
        return await _finish(session_maker, row_id, now(), f"not applied: {exc.message}"[:300], error=exc.message)
    except Exception as exc:
        await _record_error(session_maker, row_id, exc)
        raise

    if facts is None:
        reason = "ignored: event type not handled" if event.type not in HANDLED_EVENTS else "ignored: not ours"
        return await _finish(session_maker, row_id, now(), reason)

    try:
        async with session_maker() as session, session.begin():
            row = await _lock(session, row_id)
            if row.processed_at is not None:
                return Outcome(row.event_id, row.type, row.outcome or "processed", already_processed=True)
            at = now()
            outcome = await apply(session, facts, at)
            row.processed_at = at
            row.outcome = outcome[:300]
            row.last_error = None
            return Outcome(row.event_id, row.type, outcome, applied=True)
    except Exception as exc:
        await _record_error(session_maker, row_id, exc)
        raise


async def _lock(session: AsyncSession, row_id: UUID) -> WebhookEvent:
    row = await session.scalar(sa.select(WebhookEvent).where(WebhookEvent.id == row_id).with_for_update()
                               .execution_options(populate_existing=True))
    assert row is not None
    return row


async def _finish(session_maker: async_sessionmaker[AsyncSession], row_id: UUID, at: datetime, outcome: str, *,
                  error: str | None = None) -> Outcome:
    async with session_maker() as session, session.begin():
        row = await _lock(session, row_id)
        if row.processed_at is None:
            row.processed_at = at
            row.outcome = outcome[:300]
            row.last_error = error[:1000] if error else None
        return Outcome(row.event_id, row.type, row.outcome or outcome)


async def _record_error(session_maker: async_sessionmaker[AsyncSession], row_id: UUID, exc: BaseException) -> None:
    message = f"{type(exc).__name__}: {exc}"[:1000]
    log.warning("webhook event %s failed: %s", row_id, message)
    try:
        async with session_maker() as session, session.begin():
            await session.execute(sa.update(WebhookEvent).where(WebhookEvent.id == row_id)
                                  .values(last_error=message))
    except Exception:  # recording the error must never hide it
        log.exception("could not record the failure of webhook event %s", row_id)


async def unprocessed_events(session: AsyncSession, *, now: datetime, limit: int = 500) -> list[UUID]:
    """Events stored at least ``STUCK_AFTER`` ago and never processed, oldest first, that still have attempts left."""
    rows = await session.scalars(
        sa.select(WebhookEvent.id)
        .where(WebhookEvent.processed_at.is_(None), WebhookEvent.received_at <= now - STUCK_AFTER,
               WebhookEvent.attempts < MAX_ATTEMPTS)
        .order_by(WebhookEvent.received_at)
        .limit(limit)
    )
    return list(rows)

