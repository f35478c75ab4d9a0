"""SimulatedProvider: the embedded default's payment provider. No money moves, every ledger state is as with Stripe.

Its objects (fundings, refunds, transfers, reversals, payout accounts) live in the ``simulated_object`` table, so
they survive restarts and every process sees the same ones. Idempotency keys behave like Stripe's: the same key
with the same parameters returns the same object, with other parameters it is an error. Faults can be injected
for tests (``inject_fault``): ``transient`` (a 500 before anything happens), ``timeout`` (the call happens, the
answer is lost), ``definitive`` (declined), ``insufficient`` (no balance for a reversal) and ``crash_after`` (the
call happens, then the caller dies — ``SimulatedCrash`` is not a ProviderError, so nothing records the result).

It stands in for a remote API, so it costs the caller no transaction of its own: on PostgreSQL a transfer (or a
new funding or payout account) is one statement committed on its own — the fault taken and the object inserted
unless its key exists (``ON CONFLICT DO NOTHING``), the destination checked in the same INSERT. Refunds and
reversals change the object they take from and keep a locked transaction.
"""

from __future__ import annotations

import hashlib
import json
import secrets
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote

import sqlalchemy as sa
from advanced_alchemy.mixins.uuid import uuid7
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, AsyncSession, async_sessionmaker

from escrow.inserts import insert_stmt
from escrow.models import SimulatedFault, SimulatedObject
from escrow.providers.base import (
    DefinitiveProviderError,
    Funding,
    FundingStatus,
    InsufficientBalance,
    InvalidWebhook,
    PayoutAccount,
    ProviderEvent,
    Refund,
    Reversal,
    Transfer,
    TransferStatus,
    TransientProviderError,
)

CHECKOUT_PATH = "/payments/simulated/checkout"
ONBOARDING_PATH = "/payments/simulated/onboarding"
#: Simulated processing fee: 2.9% + 30 minor units, like a typical card price, so the ledger books one.
FEE_BPS = 290
FEE_FIXED = 30


class SimulatedCrash(Exception):
    """The provider did the work, then the caller 'died' before it could record the answer."""


def _hash(operation: str, params: dict[str, Any]) -> str:
    return hashlib.sha256(json.dumps([operation, params], sort_keys=True, default=str).encode()).hexdigest()


def _ref(prefix: str) -> str:
    return f"sim_{prefix}_{secrets.token_hex(8)}"


def to_funding(obj: SimulatedObject) -> Funding:
    d = obj.data
    return Funding(
        ref=obj.ref,
        status=FundingStatus(d["status"]),
        amount=d["amount"],
        currency=d["currency"],
        charge_ref=d.get("charge_ref"),
        checkout_url=f"{CHECKOUT_PATH}?ref={obj.ref}",
        provider_fee=d.get("provider_fee"),
        amount_refunded=d.get("amount_refunded", 0),
        failure_message=d.get("failure_message"),
        metadata=dict(d.get("metadata") or {}),
    )


def to_transfer(obj: SimulatedObject) -> Transfer:
    d = obj.data
    return Transfer(
        ref=obj.ref,
        destination=d["destination"],
        amount=d["amount"],
        currency=d["currency"],
        status=TransferStatus(d["status"]),
        amount_reversed=d.get("amount_reversed", 0),
        transfer_group=obj.group_key,
        metadata=dict(d.get("metadata") or {}),
    )


def to_account(obj: SimulatedObject) -> PayoutAccount:
    d = obj.data
    return PayoutAccount(
        ref=obj.ref,
        transfers_active=d.get("transfers_active", False),
        details_submitted=d.get("details_submitted", False),
        payouts_enabled=d.get("payouts_enabled", False),
        requirements_due=tuple(d.get("requirements_due") or ()),
    )


class SimulatedProvider:
    name = "simulated"

    def __init__(self, session_maker: async_sessionmaker[AsyncSession]) -> None:
        self.session_maker = session_maker

    # --- plumbing ---------------------------------------------------------------------------------------------------

    @asynccontextmanager
    async def _autocommit(self) -> AsyncIterator[AsyncConnection]:
        """A connection whose statements each commit on their own on PostgreSQL: one round trip apiece, no
        BEGIN/COMMIT (the provider stands in for a remote API; its writes need no transaction with ours). SQLite
        (which PostPact drives with explicit BEGIN IMMEDIATE) gets an ordinary transaction, begun at once. A
        connection, not a session: these statements are Core ones, and a session's set-up, events and close would
        cost more than sending them."""
        engine: AsyncEngine = self.session_maker.kw["bind"]
        if engine.dialect.name == "postgresql":
            async with engine.connect() as connection:
                yield await connection.execution_options(isolation_level="AUTOCOMMIT")
        else:
            async with engine.begin() as connection:
                yield connection

    async def _fault(self, operation: str) -> SimulatedFault | None:
        """Take one matching fault, in one statement committed on its own (so a fault fires once even if the call
        then fails). Nothing injected: one UPDATE that finds no row."""
        async with self._autocommit() as connection:
            row = (await connection.execute(_take_fault(), {"for_operation": operation})).first()
        return _fault_taken(row.mode, row.message) if row is not None else None

    @staticmethod
    def _after(fault: SimulatedFault | None) -> None:
        if fault is None:
            return
        if fault.mode == "timeout":
            raise TransientProviderError("Simulated timeout: the request may have succeeded.")
        if fault.mode == "crash_after":
            raise SimulatedCrash("simulated crash after the provider call succeeded")

    async def _idempotent(self, session: AsyncSession, key: str, operation: str,
                          params: dict[str, Any]) -> SimulatedObject | None:
        existing = await session.scalar(sa.select(SimulatedObject).where(SimulatedObject.idempotency_key == key))
        if existing is None:
            return None
        if existing.params_hash != _hash(operation, params):
            raise DefinitiveProviderError(
                "Keys for idempotent requests can only be used with the same parameters they were first used with.",
                code="idempotency_error", http_status=400,
            )
        return existing

    async def _create(self, operation: str, key: str, params: dict[str, Any], kind: str, prefix: str,
                      build: Any) -> SimulatedObject:
        """Create under ``key`` unless it exists, in a transaction: ``build`` reads and changes other objects (a
        refund takes from its funding), so a replay must find the first answer before building again."""
        fault = await self._fault(operation)
        for _ in range(2):
            try:
                async with self.session_maker() as session, session.begin():
                    existing = await self._idempotent(session, key, operation, params)
                    if existing is not None:
                        obj = existing
                    else:
                        data, group = await build(session)
                        obj = SimulatedObject(kind=kind, ref=_ref(prefix), idempotency_key=key,
                                              params_hash=_hash(operation, params), group_key=group, data=data)
                        session.add(obj)
                break
            except IntegrityError:
                # Two callers raced with the same key: the loser reads the winner's object on the second pass.
                continue
        self._after(fault)
        return obj

    async def _insert_new(self, operation: str, key: str, params: dict[str, Any], kind: str, prefix: str,
                          data: dict[str, Any], group: str | None, *, when: dict[str, str] | None = None,
                          fault: str) -> tuple[SimulatedFault | None, SimulatedObject | None]:
        """Create under ``key`` in one statement (for objects whose creation reads and changes nothing else):
        ``INSERT … ON CONFLICT (idempotency_key) DO NOTHING``; ``when={"destination": ref}``: only if that account
        can receive transfers, checked in the same statement. None when nothing was inserted: the key exists, or the
        destination can't receive. ``fault``: the operation whose injected fault is taken first (raised if it fails
        the call up front, else returned): in the same statement on PostgreSQL (a CTE), by ``_fault`` on SQLite."""
        obj = SimulatedObject(id=uuid7(), kind=kind, ref=_ref(prefix), idempotency_key=key,
                              params_hash=_hash(operation, params), group_key=group, data=data)
        now = datetime.now(UTC)
        values = {"o_id": obj.id, "o_kind": kind, "o_ref": obj.ref, "o_idempotency_key": key,
                  "o_params_hash": obj.params_hash, "o_group_key": group, "o_data": data, "o_created_at": now,
                  "o_updated_at": now, **(when or {})}
        dialect = self.session_maker.kw["bind"].dialect.name
        if dialect != "postgresql":
            # The fault first, in its own transaction: SQLite's BEGIN IMMEDIATE admits one writer at a time.
            taken = await self._fault(fault)
            async with self._autocommit() as connection:
                inserted = await connection.scalar(_insert_object(dialect, destination_ready=when is not None),
                                                   values)
            return taken, obj if inserted is not None else None
        async with self._autocommit() as connection:
            statement = _insert_object_taking_fault(destination_ready=when is not None)
            row = (await connection.execute(statement, {**values, "for_operation": fault})).one()
        taken = _fault_taken(row.mode, row.message) if row.mode is not None else None
        return taken, obj if row.inserted is not None else None

    async def _create_new(self, operation: str, key: str, params: dict[str, Any], kind: str, prefix: str,
                          data: dict[str, Any], group: str | None) -> SimulatedObject:
        """``_create`` for an object whose creation reads nothing else: the fault, then one INSERT."""
        fault, obj = await self._insert_new(operation, key, params, kind, prefix, data, group, fault=operation)
        if obj is None:
            obj = await self._existing(operation, key, params)
            assert obj is not None  # the key's object is never deleted
        self._after(fault)
        return obj

    async def _existing(self, operation: str, key: str, params: dict[str, Any]) -> SimulatedObject | None:
        async with self.session_maker() as session:
            return await self._idempotent(session, key, operation, params)

    async def _get(self, session: AsyncSession, ref: str, kind: str, *, lock: bool = False) -> SimulatedObject:
        query = sa.select(SimulatedObject).where(SimulatedObject.ref == ref, SimulatedObject.kind == kind)
        if lock:
            query = query.with_for_update()
        obj = await session.scalar(query)
        if obj is None:
            raise DefinitiveProviderError(f"No such {kind}: {ref}", code="resource_missing", http_status=404)
        return obj

    # --- fundings ---------------------------------------------------------------------------------------------------

    async def create_funding(self, *, amount: int, currency: str, idempotency_key: str, transfer_group: str,
                             description: str, metadata: dict[str, str], return_url: str) -> Funding:
        params = {"amount": amount, "currency": currency, "transfer_group": transfer_group,
                  "description": description, "metadata": metadata, "return_url": return_url}

        if amount <= 0:
            await self._fault("create_funding")
            raise DefinitiveProviderError("Amount must be at least 1.", code="amount_too_small")
        data = {"status": FundingStatus.PENDING.value, "amount": amount, "currency": currency,
                "description": description, "metadata": metadata, "return_url": return_url, "amount_refunded": 0}
        obj = await self._create_new("create_funding", idempotency_key, params, "funding", "pi", data,
                                     transfer_group)
        return to_funding(obj)

    async def retrieve_funding(self, funding_ref: str) -> Funding:
        async with self.session_maker() as session:
            return to_funding(await self._get(session, funding_ref, "funding"))

    async def find_funding(self, *, transfer_group: str) -> Funding | None:
        async with self.session_maker() as session:
            obj = await session.scalar(
                sa.select(SimulatedObject)
                .where(SimulatedObject.kind == "funding", SimulatedObject.group_key == transfer_group)
                .order_by(SimulatedObject.created_at.desc(), SimulatedObject.id.desc())
                .limit(1)
            )
            return to_funding(obj) if obj is not None else None

    async def settle_funding(self, session: AsyncSession, funding_ref: str, *, succeed: bool,
                             message: str | None = None) -> Funding:
        """The simulated checkout page: the payer pays (or the card is declined). Runs in the caller's session,
        so the page records the payment and applies it to escrow in one transaction."""
        obj = await self._get(session, funding_ref, "funding", lock=True)
        data = dict(obj.data)
        if data["status"] == FundingStatus.SUCCEEDED.value:
            return to_funding(obj)
        if succeed:
            data.update(status=FundingStatus.SUCCEEDED.value, charge_ref=_ref("ch"), failure_message=None,
                        provider_fee=(data["amount"] * FEE_BPS + 5_000) // 10_000 + FEE_FIXED)
        else:
            data.update(status=FundingStatus.FAILED.value,
                        failure_message=message or "Your card was declined (simulated).")
        obj.data = data
        await session.flush()
        return to_funding(obj)

    async def refund(self, *, funding_ref: str, amount: int, currency: str, idempotency_key: str,
                     metadata: dict[str, str]) -> Refund:
        params = {"funding_ref": funding_ref, "amount": amount, "currency": currency, "metadata": metadata}

        async def build(session: AsyncSession) -> tuple[dict[str, Any], str]:
            funding = await self._get(session, funding_ref, "funding", lock=True)
            fdata = dict(funding.data)
            if fdata["status"] != FundingStatus.SUCCEEDED.value:
                raise DefinitiveProviderError("This payment has not succeeded; nothing to refund.",
                                              code="charge_not_succeeded")
            if amount <= 0 or amount > fdata["amount"] - fdata.get("amount_refunded", 0):
                raise DefinitiveProviderError("Refund amount is more than what is left on the payment.",
                                              code="amount_too_large")
            fdata["amount_refunded"] = fdata.get("amount_refunded", 0) + amount
            funding.data = fdata
            return ({"funding_ref": funding_ref, "amount": amount, "currency": currency, "status": "succeeded",
                     "metadata": metadata}, funding_ref)

        return _to_refund(await self._create("refund", idempotency_key, params, "refund", "re", build))

    async def list_refunds(self, funding_ref: str) -> list[Refund]:
        async with self.session_maker() as session:
            rows = await session.scalars(
                sa.select(SimulatedObject)
                .where(SimulatedObject.kind == "refund", SimulatedObject.group_key == funding_ref)
                .order_by(SimulatedObject.created_at, SimulatedObject.id)
            )
            return [_to_refund(obj) for obj in rows]

    # --- transfers --------------------------------------------------------------------------------------------------

    async def transfer(self, *, destination: str, amount: int, currency: str, source_charge_ref: str | None,
                       transfer_group: str, idempotency_key: str, metadata: dict[str, str]) -> Transfer:
        params = {"destination": destination, "amount": amount, "currency": currency,
                  "source_charge_ref": source_charge_ref, "transfer_group": transfer_group, "metadata": metadata}
        data = {"destination": destination, "amount": amount, "currency": currency,
                "status": TransferStatus.PAID.value, "amount_reversed": 0, "source_charge_ref": source_charge_ref,
                "metadata": metadata}
        # The destination's readiness is checked by the INSERT itself, and on PostgreSQL the fault is taken in the
        # same statement: a transfer is one statement (two on SQLite).
        fault, obj = await self._insert_new("transfer", idempotency_key, params, "transfer", "tr", data,
                                            transfer_group, when={"destination": destination}, fault="transfer")
        if obj is None:
            obj = await self._existing("transfer", idempotency_key, params)
        if obj is None:
            async with self.session_maker() as session:
                await self._get(session, destination, "account")
            raise DefinitiveProviderError("The destination account can't receive transfers yet.",
                                          code="account_not_ready")
        self._after(fault)
        return to_transfer(obj)

    async def reverse_transfer(self, *, transfer_ref: str, amount: int, idempotency_key: str,
                               metadata: dict[str, str]) -> Reversal:
        params = {"transfer_ref": transfer_ref, "amount": amount, "metadata": metadata}

        async def build(session: AsyncSession) -> tuple[dict[str, Any], str]:
            transfer = await self._get(session, transfer_ref, "transfer", lock=True)
            tdata = dict(transfer.data)
            if amount <= 0 or amount > tdata["amount"] - tdata.get("amount_reversed", 0):
                raise DefinitiveProviderError("Reversal amount is more than what is left on the transfer.",
                                              code="amount_too_large")
            tdata["amount_reversed"] = tdata.get("amount_reversed", 0) + amount
            if tdata["amount_reversed"] == tdata["amount"]:
                tdata["status"] = TransferStatus.REVERSED.value
            transfer.data = tdata
            return ({"transfer_ref": transfer_ref, "amount": amount, "currency": tdata["currency"],
                     "metadata": metadata}, transfer.group_key or "")

        obj = await self._create("reverse_transfer", idempotency_key, params, "reversal", "trr", build)
        d = obj.data
        return Reversal(ref=obj.ref, transfer_ref=d["transfer_ref"], amount=d["amount"], currency=d["currency"])

    async def list_transfers(self, *, transfer_group: str) -> list[Transfer]:
        async with self.session_maker() as session:
            rows = await session.scalars(
                sa.select(SimulatedObject)
                .where(SimulatedObject.kind == "transfer", SimulatedObject.group_key == transfer_group)
                .order_by(SimulatedObject.created_at, SimulatedObject.id)
            )
            return [to_transfer(obj) for obj in rows]

    # --- payout accounts --------------------------------------------------------------------------------------------

    async def create_payout_account(self, *, email: str, country: str | None, idempotency_key: str,
                                    metadata: dict[str, str]) -> PayoutAccount:
        params = {"email": email, "country": country, "metadata": metadata}

        data = {"email": email, "country": country, "metadata": metadata, "transfers_active": False,
                "details_submitted": False, "payouts_enabled": False,
                "requirements_due": ["external_account", "individual.verification"]}
        return to_account(await self._create_new("create_payout_account", idempotency_key, params, "account", "acct",
                                                 data, None))

    async def onboarding_link(self, *, account_ref: str, refresh_url: str, return_url: str) -> str:
        return f"{ONBOARDING_PATH}/{account_ref}?return={quote(return_url, safe='')}"

    async def retrieve_payout_account(self, account_ref: str) -> PayoutAccount:
        async with self.session_maker() as session:
            return to_account(await self._get(session, account_ref, "account"))

    async def complete_onboarding(self, session: AsyncSession, account_ref: str) -> PayoutAccount:
        """The simulated onboarding page: the creator 'submits their details'; the account can take transfers."""
        obj = await self._get(session, account_ref, "account", lock=True)
        obj.data = {**obj.data, "transfers_active": True, "details_submitted": True, "payouts_enabled": True,
                    "requirements_due": []}
        await session.flush()
        return to_account(obj)

    def parse_webhook(self, payload: bytes, signature_header: str | None) -> ProviderEvent:
        raise InvalidWebhook("The simulated provider sends no webhooks; its results are applied directly.")

    # --- test support -----------------------------------------------------------------------------------------------

    async def inject_fault(self, operation: str, mode: str, times: int = 1, message: str = "") -> None:
        if mode not in ("transient", "timeout", "definitive", "insufficient", "crash_after"):
            raise ValueError(f"unknown fault mode {mode!r}")
        async with self.session_maker() as session, session.begin():
            session.add(SimulatedFault(operation=operation, mode=mode, remaining=times, message=message))

    async def objects(self, kind: str) -> list[SimulatedObject]:
        async with self.session_maker() as session:
            return list(await session.scalars(
                sa.select(SimulatedObject).where(SimulatedObject.kind == kind).order_by(SimulatedObject.created_at)))


_STATEMENTS: dict[tuple[str, ...], Any] = {}
#: Faults that fail the call before anything happens.
_RAISING = ("transient", "definitive", "insufficient")


def _fault_taken(mode: str, message: str) -> SimulatedFault:
    """A fault just taken: raise it if it fails the call up front, else return it for ``_after``."""
    if mode == "transient":
        raise TransientProviderError(message or "Simulated 500 from the payment provider.", http_status=500)
    if mode == "definitive":
        raise DefinitiveProviderError(message or "Your card was declined (simulated).", code="card_declined",
                                      http_status=402)
    if mode == "insufficient":
        raise InsufficientBalance(message or "The account doesn't have enough balance (simulated).",
                                  code="insufficient_funds", http_status=400)
    return SimulatedFault(operation="", mode=mode, message=message, remaining=0)


def _take_fault() -> Any:
    """Take one from the oldest fault injected for ``:for_operation`` that has some left, returning it."""
    statement = _STATEMENTS.get(("fault",))
    if statement is None:
        fault = SimulatedFault.__table__
        oldest = (sa.select(fault.c.id).where(fault.c.operation == sa.bindparam("for_operation"), fault.c.remaining > 0)
                  .order_by(fault.c.created_at).limit(1).with_for_update().scalar_subquery())
        statement = _STATEMENTS[("fault",)] = (
            sa.update(fault).where(fault.c.id == oldest, fault.c.remaining > 0)
            .values(remaining=fault.c.remaining - 1, updated_at=sa.func.now())
            .returning(fault.c.operation, fault.c.mode, fault.c.message)
        )
    return statement


_OBJECT_COLUMNS = ("id", "kind", "ref", "idempotency_key", "params_hash", "group_key", "data", "created_at",
                   "updated_at")


def _insert_object(dialect: str, *, destination_ready: bool) -> Any:
    """``INSERT INTO simulated_object … ON CONFLICT (idempotency_key) DO NOTHING RETURNING id`` from bind parameters
    named ``o_<column>``; ``destination_ready``: only if the account ``:destination`` can receive transfers. Built
    once per dialect (the compiled form is then reused)."""
    key = ("insert", dialect, str(destination_ready))
    statement = _STATEMENTS.get(key)
    if statement is None:
        statement = _STATEMENTS[key] = _insert_from(dialect, _object_row(destination_ready=destination_ready))
    return statement


def _object_row(*, destination_ready: bool) -> Any:
    table = SimulatedObject.__table__
    # Parameters named apart from any column: the fault's UPDATE would take one named as its columns as a value.
    row = sa.select(*(sa.bindparam(f"o_{name}", type_=table.c[name].type).label(name) for name in _OBJECT_COLUMNS))
    if destination_ready:
        account = table.alias("destination")
        return row.where(account.c.ref == sa.bindparam("destination"), account.c.kind == "account",
                         account.c.data["transfers_active"].as_boolean().is_(True))
    return row.where(sa.true())  # SQLite parses INSERT … SELECT … ON CONFLICT only after a WHERE


def _insert_from(dialect: str, row: Any) -> Any:
    table = SimulatedObject.__table__
    return (insert_stmt(dialect, table).from_select(list(_OBJECT_COLUMNS), row)
            .on_conflict_do_nothing(index_elements=["idempotency_key"]).returning(table.c.id))


def _insert_object_taking_fault(*, destination_ready: bool) -> Any:
    """PostgreSQL: ``_take_fault`` and ``_insert_object`` in one statement, the INSERT skipped when the fault taken
    fails the call up front; returns the fault's mode and message (NULL: none) and the inserted id (NULL: none)."""
    key = ("insert-with-fault", str(destination_ready))
    statement = _STATEMENTS.get(key)
    if statement is None:
        fault = _take_fault().cte("fault")
        row = _object_row(destination_ready=destination_ready).where(~sa.exists().where(fault.c.mode.in_(_RAISING)))
        inserted = _insert_from("postgresql", row).cte("inserted")
        statement = _STATEMENTS[key] = sa.select(
            sa.select(fault.c.mode).scalar_subquery().label("mode"),
            sa.select(fault.c.message).scalar_subquery().label("message"),
            sa.select(inserted.c.id).scalar_subquery().label("inserted"),
        )
    return statement


def _to_refund(obj: SimulatedObject) -> Refund:
    d = obj.data
    return Refund(ref=obj.ref, funding_ref=d["funding_ref"], amount=d["amount"], currency=d["currency"],
                  status=d["status"], metadata=dict(d.get("metadata") or {}))
