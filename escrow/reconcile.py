"""Reconciliation: compare, per collaboration, what the ledger says with what the payment provider says.

The ledger books every provider object under a key that names it (``funding:<pi>``, ``transfer:<tr>``,
``refund:<re>``, ``reversal:<trr>``, ``chargeback:<dp>``; see ``escrow.ledger``), so each object the provider
reports for a collaboration's funding and transfer group must have its posting with the same amount, and every
posting must have its object. A run reads the provider first and the ledger second (the escrow core books after the
provider answered, so reading in that order cannot invent a gap for work that finished), skips calls still in
flight, and stores every difference it finds; it changes no money. People (or a fix in the escrow core) act on it.
"""

from __future__ import annotations

import enum
import logging
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from escrow.context import transfer_group
from escrow.models import (
    CallStatus,
    Chargeback,
    EscrowHold,
    LedgerAccount,
    LedgerEntry,
    LedgerTransaction,
    Phase,
    ProviderCall,
)
from escrow.providers.base import Funding, FundingStatus, PaymentProvider, ProviderError, Refund, Transfer
from escrow.records import ReconciliationMismatch, ReconciliationRun, RunStatus
from escrow.states import EscrowState

log = logging.getLogger(__name__)

#: A call attempted this recently may have reached the provider without its answer being booked yet.
IN_FLIGHT_GRACE = timedelta(minutes=10)
#: A call attempted but unresolved for this long is reported (its pending posting blocks the escrow).
STUCK_AFTER = timedelta(hours=1)


class MismatchKind(enum.StrEnum):
    FUNDING_NOT_RECORDED = "funding_not_recorded"
    FUNDING_NOT_AT_PROVIDER = "funding_not_at_provider"
    FUNDING_AMOUNT = "funding_amount"
    CURRENCY = "currency"
    PROVIDER_FEE = "provider_fee"
    REFUND_NOT_RECORDED = "refund_not_recorded"
    REFUND_NOT_AT_PROVIDER = "refund_not_at_provider"
    REFUND_AMOUNT = "refund_amount"
    REFUND_TOTAL = "refund_total"
    TRANSFER_NOT_RECORDED = "transfer_not_recorded"
    TRANSFER_NOT_AT_PROVIDER = "transfer_not_at_provider"
    TRANSFER_AMOUNT = "transfer_amount"
    REVERSAL_TOTAL = "reversal_total"
    DISPUTE_NOT_RECORDED = "dispute_not_recorded"
    DISPUTE_STATUS = "dispute_status"
    CALL_STUCK = "call_stuck"
    PROVIDER_UNAVAILABLE = "provider_unavailable"


LABELS: dict[MismatchKind, str] = {
    MismatchKind.FUNDING_NOT_RECORDED: "Paid at the provider, not in the ledger",
    MismatchKind.FUNDING_NOT_AT_PROVIDER: "In the ledger, not paid at the provider",
    MismatchKind.FUNDING_AMOUNT: "Funding amounts differ",
    MismatchKind.CURRENCY: "Currencies differ",
    MismatchKind.PROVIDER_FEE: "Provider fee differs",
    MismatchKind.REFUND_NOT_RECORDED: "Refund at the provider, not in the ledger",
    MismatchKind.REFUND_NOT_AT_PROVIDER: "Refund in the ledger, not at the provider",
    MismatchKind.REFUND_AMOUNT: "Refund amounts differ",
    MismatchKind.REFUND_TOTAL: "Refunded totals differ",
    MismatchKind.TRANSFER_NOT_RECORDED: "Transfer at the provider, not in the ledger",
    MismatchKind.TRANSFER_NOT_AT_PROVIDER: "Transfer in the ledger, not at the provider",
    MismatchKind.TRANSFER_AMOUNT: "Transfer amounts differ",
    MismatchKind.REVERSAL_TOTAL: "Reversed totals differ",
    MismatchKind.DISPUTE_NOT_RECORDED: "Chargeback at the provider, not recorded",
    MismatchKind.DISPUTE_STATUS: "Chargeback status differs",
    MismatchKind.CALL_STUCK: "Provider call unresolved",
    MismatchKind.PROVIDER_UNAVAILABLE: "Provider could not be read",
}


@dataclass(frozen=True)
class Mismatch:
    kind: MismatchKind
    detail: str
    collaboration_id: UUID | None = None
    escrow_id: UUID | None = None
    provider_ref: str | None = None
    currency: str | None = None
    expected: dict[str, Any] = field(default_factory=dict)
    actual: dict[str, Any] = field(default_factory=dict)


# -- what the ledger says ------------------------------------------------------------------------------------------


@dataclass
class LedgerView:
    """One escrow's postings that touched the platform's provider balance, by kind and provider object."""

    hold: EscrowHold
    #: kind → provider ref → signed platform_cash movement (debits positive: money in).
    cash: dict[str, dict[str, int]]
    calls: list[ProviderCall]
    chargebacks: list[Chargeback]

    def amount(self, kind: str, ref: str) -> int | None:
        value = self.cash.get(kind, {}).get(ref)
        return None if value is None else abs(value)

    def refs(self, kind: str) -> dict[str, int]:
        return {ref: abs(value) for ref, value in self.cash.get(kind, {}).items()}

    def refund_amounts(self) -> dict[str, int]:
        """Money returned per provider refund: booked as a refund to the brand, plus any part beyond what was held
        (an outside refund larger than the escrow, booked as a loss under ``refund:<ref>:loss``)."""
        amounts = self.refs("refund_paid")
        for ref, value in self.refs("dispute_loss").items():
            amounts[ref] = amounts.get(ref, 0) + value
        return amounts

    def call_for(self, key: str | None) -> ProviderCall | None:
        return next((c for c in self.calls if key and c.idempotency_key == key), None)

    def funding_refs(self) -> set[str]:
        refs = set(self.refs("fund"))
        if self.hold.funding_ref:
            refs.add(self.hold.funding_ref)
        refs.update(c.result_ref for c in self.calls if c.operation == "create_funding" and c.result_ref)
        return refs


async def ledger_view(session: AsyncSession, hold_id: UUID) -> LedgerView | None:
    hold = await session.get(EscrowHold, hold_id, populate_existing=True)
    if hold is None:
        return None
    rows = await session.execute(
        sa.select(LedgerTransaction.kind, LedgerTransaction.provider_ref, sa.func.sum(LedgerEntry.amount))
        .join(LedgerEntry, LedgerEntry.transaction_id == LedgerTransaction.id)
        .join(LedgerAccount, LedgerAccount.id == LedgerEntry.account_id)
        .where(LedgerTransaction.escrow_id == hold.id, LedgerAccount.code == "platform_cash",
               LedgerEntry.pending.is_(False), LedgerTransaction.phase.in_([Phase.SINGLE, Phase.POST]),
               LedgerTransaction.provider_ref.is_not(None))
        .group_by(LedgerTransaction.kind, LedgerTransaction.provider_ref)
    )
    cash: dict[str, dict[str, int]] = defaultdict(dict)
    for kind, ref, total in rows:
        cash[kind][ref] = int(total)
    calls = list(await session.scalars(sa.select(ProviderCall).where(ProviderCall.escrow_id == hold.id)
                                       .order_by(ProviderCall.created_at)))
    chargebacks = list(await session.scalars(sa.select(Chargeback).where(Chargeback.escrow_id == hold.id)))
    return LedgerView(hold, dict(cash), calls, chargebacks)


# -- what the provider says ----------------------------------------------------------------------------------------


@dataclass
class ProviderView:
    fundings: dict[str, Funding]
    transfers: list[Transfer]
    #: None when the provider can't list refunds one by one (then only totals are compared).
    refunds: dict[str, Refund] | None
    #: dispute id → (status, amount); None when the provider has no disputes.
    disputes: dict[str, tuple[str, int]] | None
    found_by_group: Funding | None = None


async def provider_view(provider: PaymentProvider, hold: EscrowHold, funding_refs: set[str]) -> ProviderView:
    fundings: dict[str, Funding] = {}
    found: Funding | None = None
    for ref in sorted(funding_refs):
        fundings[ref] = await provider.retrieve_funding(ref)
    if not funding_refs and hold.state in (EscrowState.FUNDING, EscrowState.FUNDING_FAILED):
        # Our record of the create call may be lost; the provider knows the funding by its transfer group.
        found = await provider.find_funding(transfer_group=transfer_group(hold.collaboration_id))
        if found is not None:
            fundings[found.ref] = found
    transfers = await provider.list_transfers(transfer_group=transfer_group(hold.collaboration_id))
    refunds: dict[str, Refund] | None = None
    list_refunds: Callable[..., Any] | None = getattr(provider, "list_refunds", None)
    if list_refunds is not None:
        refunds = {}
        for ref, funding in fundings.items():
            if funding.amount_refunded or funding.status is FundingStatus.SUCCEEDED:
                refunds.update({r.ref: r for r in await list_refunds(ref)})
    disputes: dict[str, tuple[str, int]] | None = None
    list_disputes: Callable[..., Any] | None = getattr(provider, "list_disputes", None)
    if list_disputes is not None:
        disputes = {}
        for ref, funding in fundings.items():
            if funding.status is FundingStatus.SUCCEEDED:
                disputes.update({d.ref: (d.status, d.amount) for d in await list_disputes(ref)})
    return ProviderView(fundings, transfers, refunds, disputes, found)


# -- comparing -------------------------------------------------------------------------------------------------------


def compare(ledger: LedgerView, provider: ProviderView, *, now: datetime) -> list[Mismatch]:
    """Every difference between one escrow's ledger and its provider objects (pure; no I/O)."""
    hold = ledger.hold
    found: list[Mismatch] = []

    def add(kind: MismatchKind, detail: str, ref: str | None = None, expected: dict[str, Any] | None = None,
            actual: dict[str, Any] | None = None) -> None:
        found.append(Mismatch(kind, detail, hold.collaboration_id, hold.id, ref, hold.currency, expected or {},
                              actual or {}))

    in_flight = {c.idempotency_key for c in ledger.calls if _in_flight(c, now)}

    def flying(obj_metadata: dict[str, str]) -> bool:
        return obj_metadata.get("call_key") in in_flight or obj_metadata.get("idempotency_key") in in_flight

    # Fundings: a succeeded payment is booked once, with its amount, currency and fee.
    for ref, funding in sorted(provider.fundings.items()):
        booked = ledger.amount("fund", ref)
        if funding.currency != hold.currency:
            add(MismatchKind.CURRENCY, f"Funding {ref} is in {funding.currency}, the escrow in {hold.currency}.", ref,
                {"currency": hold.currency}, {"currency": funding.currency})
        if funding.status is FundingStatus.SUCCEEDED:
            if booked is None:
                if not flying(funding.metadata):
                    add(MismatchKind.FUNDING_NOT_RECORDED, f"The provider shows {ref} paid "
                        f"({funding.amount} {funding.currency}); the ledger has no payment for it.", ref,
                        {"ledger": None}, {"status": funding.status.value, "amount": funding.amount})
            elif booked != funding.amount:
                add(MismatchKind.FUNDING_AMOUNT, f"{ref}: the ledger booked {booked}, the provider took "
                    f"{funding.amount}.", ref, {"amount": booked}, {"amount": funding.amount})
            if funding.provider_fee is not None and booked is not None:
                fee = ledger.amount("provider_fee", ref) or 0
                if fee != funding.provider_fee:
                    add(MismatchKind.PROVIDER_FEE, f"{ref}: provider fee {funding.provider_fee} at the provider, "
                        f"{fee} in the ledger.", ref, {"provider_fee": fee}, {"provider_fee": funding.provider_fee})
        elif booked is not None:
            add(MismatchKind.FUNDING_NOT_AT_PROVIDER, f"The ledger booked {booked} for {ref}, which the provider "
                f"shows as {funding.status.value}.", ref, {"amount": booked}, {"status": funding.status.value})
    for ref in sorted(set(ledger.refs("fund")) - set(provider.fundings)):
        add(MismatchKind.FUNDING_NOT_AT_PROVIDER, f"The ledger booked a payment {ref} the provider doesn't know.",
            ref, {"amount": ledger.amount("fund", ref)}, {"status": None})

    # Refunds: one by one when the provider lists them, otherwise by total per funding.
    booked_refunds = ledger.refund_amounts()
    if provider.refunds is not None:
        succeeded = {ref: r for ref, r in provider.refunds.items() if r.status in ("succeeded", "pending")}
        for ref, refund in sorted(succeeded.items()):
            booked = booked_refunds.get(ref)
            if booked is None:
                call = _matching_call(ledger, "refund", refund.amount, ref)
                if not (call is not None and _in_flight(call, now)):
                    add(MismatchKind.REFUND_NOT_RECORDED, f"The provider refunded {refund.amount} {refund.currency} "
                        f"({ref}); the ledger has no such refund.", ref, {"ledger": None},
                        {"amount": refund.amount, "status": refund.status})
            elif booked != refund.amount:
                add(MismatchKind.REFUND_AMOUNT, f"{ref}: the ledger refunded {booked}, the provider {refund.amount}.",
                    ref, {"amount": booked}, {"amount": refund.amount})
        for ref in sorted(set(booked_refunds) - set(succeeded)):
            add(MismatchKind.REFUND_NOT_AT_PROVIDER, f"The ledger booked refund {ref}, which the provider doesn't "
                "show as refunded.", ref, {"amount": booked_refunds[ref]},
                {"status": provider.refunds[ref].status if ref in provider.refunds else None})
    else:
        at_provider = sum(f.amount_refunded for f in provider.fundings.values())
        in_ledger = sum(booked_refunds.values())
        if at_provider != in_ledger:
            add(MismatchKind.REFUND_TOTAL, f"Refunded {at_provider} at the provider, {in_ledger} in the ledger.",
                None, {"refunded": in_ledger}, {"refunded": at_provider})

    # Transfers to the creator: each one booked with its amount; reversals by total.
    booked_transfers = ledger.refs("transfer")
    seen: set[str] = set()
    for transfer in provider.transfers:
        seen.add(transfer.ref)
        booked = booked_transfers.get(transfer.ref)
        if booked is None:
            if not flying(transfer.metadata):
                add(MismatchKind.TRANSFER_NOT_RECORDED, f"The provider sent {transfer.amount} {transfer.currency} "
                    f"to {transfer.destination} ({transfer.ref}); the ledger has no such transfer.", transfer.ref,
                    {"ledger": None}, {"amount": transfer.amount, "destination": transfer.destination})
        elif booked != transfer.amount:
            add(MismatchKind.TRANSFER_AMOUNT, f"{transfer.ref}: the ledger booked {booked}, the provider sent "
                f"{transfer.amount}.", transfer.ref, {"amount": booked}, {"amount": transfer.amount})
    for ref in sorted(set(booked_transfers) - seen):
        add(MismatchKind.TRANSFER_NOT_AT_PROVIDER, f"The ledger booked transfer {ref}, which the provider doesn't "
            "list for this collaboration.", ref, {"amount": booked_transfers[ref]}, {"transfer": None})
    reversed_at_provider = sum(t.amount_reversed for t in provider.transfers)
    reversed_in_ledger = sum(ledger.refs("reversal").values())
    if reversed_at_provider != reversed_in_ledger:
        add(MismatchKind.REVERSAL_TOTAL, f"Reversed {reversed_at_provider} at the provider, {reversed_in_ledger} in "
            "the ledger.", None, {"reversed": reversed_in_ledger}, {"reversed": reversed_at_provider})

    # Chargebacks.
    if provider.disputes is not None:
        cases = {c.provider_dispute_id: c for c in ledger.chargebacks}
        for ref, (status, amount) in sorted(provider.disputes.items()):
            case = cases.get(ref)
            if case is None:
                add(MismatchKind.DISPUTE_NOT_RECORDED, f"The provider shows a chargeback {ref} of {amount} "
                    f"({status}); no case is recorded.", ref, {"case": None}, {"status": status, "amount": amount})
            elif case.status != status:
                add(MismatchKind.DISPUTE_STATUS, f"Chargeback {ref} is {status} at the provider, {case.status} here.",
                    ref, {"status": case.status}, {"status": status})

    # Calls that went out and never came back.
    for call in ledger.calls:
        if call.status is CallStatus.READY and call.attempts and call.last_attempt_at is not None \
                and now - _utc(call.last_attempt_at) >= STUCK_AFTER:
            add(MismatchKind.CALL_STUCK, f"{call.operation} {call.idempotency_key} was tried {call.attempts} time(s), "
                f"last at {_utc(call.last_attempt_at):%Y-%m-%d %H:%M} UTC, and is still unresolved"
                + (f": {call.last_error}" if call.last_error else "."), call.result_ref,
                {"status": "resolved"}, {"status": call.status.value, "attempts": call.attempts})
    return found


def _in_flight(call: ProviderCall, now: datetime) -> bool:
    if call.status is not CallStatus.READY:
        return False
    last = call.last_attempt_at or call.created_at
    return last is None or now - _utc(last) < IN_FLIGHT_GRACE


def _matching_call(ledger: LedgerView, operation: str, amount: int, ref: str) -> ProviderCall | None:
    for call in ledger.calls:
        if call.operation == operation and (call.result_ref == ref or
                                            (call.status is CallStatus.READY and call.amount == amount)):
            return call
    return None


def _utc(value: datetime) -> datetime:
    """SQLite hands back naive datetimes; everything stored is UTC."""
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


# -- running ---------------------------------------------------------------------------------------------------------


@dataclass
class RunResult:
    run_id: UUID
    checked: int
    mismatches: list[Mismatch]
    errors: int


#: Escrows at rest: money fully out (or never in). Periodic runs check them only while recently changed.
SETTLED_STATES = (EscrowState.RELEASED, EscrowState.REFUNDED, EscrowState.SETTLED, EscrowState.CANCELLED)
#: How long a settled escrow stays in periodic runs (late refunds, reversals and chargebacks show up meanwhile).
RECENT = timedelta(days=35)


async def escrows_to_check(session: AsyncSession, provider_name: str, *,
                           collaboration_ids: Sequence[UUID] | None = None,
                           changed_since: datetime | None = None) -> list[UUID]:
    """Escrows that have (or may have) met the provider: anything past awaiting funding. With ``changed_since``,
    settled escrows count only if they changed since then (open ones always do)."""
    query = (
        sa.select(EscrowHold.id)
        .where(EscrowHold.status != EscrowState.AWAITING_FUNDING,
               sa.or_(EscrowHold.provider.is_(None), EscrowHold.provider == provider_name))
        .order_by(EscrowHold.created_at, EscrowHold.id)
    )
    if collaboration_ids is not None:
        query = query.where(EscrowHold.collaboration_id.in_(list(collaboration_ids)))
    if changed_since is not None:
        query = query.where(sa.or_(EscrowHold.status.not_in(SETTLED_STATES),
                                   EscrowHold.updated_at >= changed_since))
    return list(await session.scalars(query))


async def check_escrow(session_maker: async_sessionmaker[AsyncSession], provider: PaymentProvider, hold_id: UUID,
                       *, now: datetime) -> list[Mismatch]:
    """One escrow: provider first (network, no transaction open), then the ledger."""
    async with session_maker() as session:
        before = await ledger_view(session, hold_id)
    if before is None:
        return []
    seen_provider = await provider_view(provider, before.hold, before.funding_refs())
    async with session_maker() as session:
        after = await ledger_view(session, hold_id)
    assert after is not None
    # The ledger may have learnt of a funding meanwhile: read those too so both sides cover the same objects.
    missing = after.funding_refs() - set(seen_provider.fundings)
    for ref in sorted(missing):
        seen_provider.fundings[ref] = await provider.retrieve_funding(ref)
    return compare(after, seen_provider, now=now)


async def reconcile(session_maker: async_sessionmaker[AsyncSession], provider: PaymentProvider, *,
                    now: Callable[[], datetime], triggered_by: str,
                    collaboration_ids: Sequence[UUID] | None = None, everything: bool = False) -> RunResult:
    """Check the escrows that may still change (all of them with ``everything``, or the given collaborations),
    store the run and each mismatch, and return them."""
    async with session_maker() as session, session.begin():
        run = ReconciliationRun(provider=provider.name, status=RunStatus.RUNNING.value,
                                triggered_by=triggered_by[:120], started_at=now())
        session.add(run)
        await session.flush()
        run_id = run.id
        since = None if everything or collaboration_ids is not None else now() - RECENT
        hold_ids = await escrows_to_check(session, provider.name, collaboration_ids=collaboration_ids,
                                          changed_since=since)

    mismatches: list[Mismatch] = []
    errors = 0
    try:
        for hold_id in hold_ids:
            try:
                mismatches.extend(await check_escrow(session_maker, provider, hold_id, now=now()))
            except ProviderError as exc:
                errors += 1
                async with session_maker() as session:
                    hold = await session.get(EscrowHold, hold_id)
                mismatches.append(Mismatch(MismatchKind.PROVIDER_UNAVAILABLE, f"Could not read the provider: "
                                           f"{exc.message}", hold.collaboration_id if hold else None, hold_id,
                                           None, hold.currency if hold else None, {}, {"error": exc.code}))
    except Exception as exc:
        async with session_maker() as session, session.begin():
            failed = await session.get(ReconciliationRun, run_id)
            assert failed is not None
            failed.status = RunStatus.FAILED.value
            failed.finished_at = now()
            failed.error = f"{type(exc).__name__}: {exc}"[:1000]
        raise

    async with session_maker() as session, session.begin():
        finished = await session.get(ReconciliationRun, run_id)
        assert finished is not None
        for mismatch in mismatches:
            session.add(ReconciliationMismatch(
                run_id=run_id, collaboration_id=mismatch.collaboration_id, escrow_id=mismatch.escrow_id,
                kind=mismatch.kind.value, provider_ref=mismatch.provider_ref, currency=mismatch.currency,
                expected=mismatch.expected, actual=mismatch.actual, detail=mismatch.detail[:1000]))
        finished.status = RunStatus.COMPLETED.value
        finished.finished_at = now()
        finished.collaborations_checked = len(hold_ids)
        finished.mismatch_count = len(mismatches)
        finished.errors = errors
    if mismatches:
        log.warning("reconciliation %s: %d mismatch(es) over %d escrow(s)", run_id, len(mismatches), len(hold_ids))
    return RunResult(run_id, len(hold_ids), mismatches, errors)
