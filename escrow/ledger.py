"""The double-entry ledger: accounts, balanced immutable transactions, two-phase (pending → posted | voided) postings.

Amounts are signed integer minor units: a positive entry is a debit, a negative entry a credit. Every transaction
sums to zero per currency (``check_balanced`` here; on PostgreSQL also a deferred constraint trigger), entries and
transactions are never updated or deleted (refused by triggers), and holding accounts never go below zero.
A pending transaction reserves money; exactly one POST (its legs become effective) or VOID (they never do)
transaction resolves it — ``ledger_transaction.pending_id`` is unique, so it resolves at most once.

Accounts (one per code and currency):

=============================  =========  =======  ==============================================================
code                           kind       holding  meaning
=============================  =========  =======  ==============================================================
``platform_cash``              asset               PostPact's balance at the payment provider
``brand_funding:<brand>``      liability  yes      money a brand paid that is not (or no longer) held for a deal
``escrow_held:<escrow>``       liability  yes      money held for one collaboration
``creator_payable:<creator>``  liability  yes      released to a creator, transfer not yet booked
``refunds:<brand>``            liability  yes      returned to a brand, refund not yet booked
``platform_fee_revenue``       revenue             PostPact's fee, earned when the creator is paid
``provider_fee_expense``       expense             the provider's processing fees (PostPact pays them)
``creator_recoverable:<cr>``   asset               what a creator owes back after a chargeback we couldn't reverse
``dispute_loss``               expense             chargeback money not (yet) recovered
=============================  =========  =======  ==============================================================

Postings (F = creator's fee, P = platform fee = basis_points(F, platform_fee_bps), G = F + P, Dr/Cr amounts > 0):

* **fund** (funding succeeded, key ``funding:<ref>``): Dr platform_cash G / Cr brand_funding:b G.
* **hold** (key ``funding:<ref>:hold``): Dr brand_funding:b G / Cr escrow_held:e G. Not posted when the escrow
  can't take the money (deal cancelled, already funded): then a **return** of the funding follows (pending
  Dr brand_funding:b G / Cr refunds:b G, posted like a refund).
* **provider fee** (when the provider reports it, key ``funding:<ref>:fee``): Dr provider_fee_expense x /
  Cr platform_cash x.
* **release** of a creator amount a (partial or full; key ``collab:<id>:release:<n>``), pending then posted:
  Dr escrow_held:e (a + f) / Cr creator_payable:c a / Cr platform_fee_revenue f, where the fee share
  f = P·(released + a) // F - fee already released, so the last release earns exactly P.
  With the post, the **transfer** (key ``transfer:<ref>``): Dr creator_payable:c a / Cr platform_cash a.
* **refund** (everything still held; key ``collab:<id>:refund:<n>``), pending then posted:
  Dr escrow_held:e x / Cr refunds:b x; with the post, **refund paid** (key ``refund:<ref>``):
  Dr refunds:b x / Cr platform_cash x.
* **split** (admin; key ``collab:<id>:split:<n>:creator`` and ``...:brand``): a release of the creator's part a
  (with its fee share f) and a refund of the rest (held - a - f), each pending then posted as above.
* **chargeback** D (key ``chargeback:<dispute>``): Cr platform_cash D / Dr escrow_held:e h / Dr dispute_loss D - h,
  h = what is still held and unreserved. If money had been released, a transfer reversal of r ≤ D - h is tried:
  **reversal** (key ``reversal:<ref>``): Dr platform_cash r / Cr dispute_loss r; if the creator's balance can't
  cover it, **recoverable** (key ``chargeback:<dispute>:recoverable``): Dr creator_recoverable:c r /
  Cr dispute_loss r.
* **chargeback won** (key ``chargeback:<dispute>:won``): Dr platform_cash D / Cr escrow_held:e (h + r) /
  Cr creator_recoverable:c s / Cr dispute_loss (D - h - r - s): the money returns to the (frozen) escrow for an
  admin to decide.

Voids post nothing. No posting ever touches more than one currency.

Long because it is the whole ledger: the chart of accounts, every posting's legs and the database side (accounts,
post, resolve, the holding-account check) belong together, and splitting them would scatter the money rules.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID

import sqlalchemy as sa
from advanced_alchemy.mixins.uuid import uuid7
from sqlalchemy.ext.asyncio import AsyncSession

from escrow.carried import Carried, carried_rows
from escrow.carried import statements as carried_statements
from escrow.inserts import insert_stmt
from escrow.models import AccountKind, LedgerAccount, LedgerEntry, LedgerTransaction, Phase, ProviderCall


class LedgerError(Exception):
    pass


class Unbalanced(LedgerError):
    pass


class IdempotencyConflict(LedgerError):
    """The same key was used for a different posting."""


class AlreadyResolved(LedgerError):
    pass


class Overdraft(LedgerError):
    """A holding account would go below zero."""


# --- accounts -----------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class AccountSpec:
    code: str
    kind: AccountKind
    holding: bool = False

    @property
    def normal_sign(self) -> int:
        """+1 for debit-normal accounts, -1 for credit-normal ones (balance in the account's own direction)."""
        return 1 if self.kind in (AccountKind.ASSET, AccountKind.EXPENSE) else -1


def platform_cash() -> AccountSpec:
    return AccountSpec("platform_cash", AccountKind.ASSET)


def brand_funding(brand_id: UUID) -> AccountSpec:
    return AccountSpec(f"brand_funding:{brand_id}", AccountKind.LIABILITY, holding=True)


def escrow_held(escrow_id: UUID) -> AccountSpec:
    return AccountSpec(f"escrow_held:{escrow_id}", AccountKind.LIABILITY, holding=True)


def creator_payable(creator_id: UUID) -> AccountSpec:
    return AccountSpec(f"creator_payable:{creator_id}", AccountKind.LIABILITY, holding=True)


def refunds(brand_id: UUID) -> AccountSpec:
    return AccountSpec(f"refunds:{brand_id}", AccountKind.LIABILITY, holding=True)


def platform_fee_revenue() -> AccountSpec:
    return AccountSpec("platform_fee_revenue", AccountKind.REVENUE)


def provider_fee_expense() -> AccountSpec:
    return AccountSpec("provider_fee_expense", AccountKind.EXPENSE)


def creator_recoverable(creator_id: UUID) -> AccountSpec:
    return AccountSpec(f"creator_recoverable:{creator_id}", AccountKind.ASSET)


def dispute_loss() -> AccountSpec:
    return AccountSpec("dispute_loss", AccountKind.EXPENSE)


@dataclass(frozen=True)
class Leg:
    account: AccountSpec
    #: Signed minor units: > 0 debit, < 0 credit.
    amount: int
    currency: str


def dr(account: AccountSpec, amount: int, currency: str) -> Leg:
    return Leg(account, amount, currency)


def cr(account: AccountSpec, amount: int, currency: str) -> Leg:
    return Leg(account, -amount, currency)


# --- pure checks and postings -------------------------------------------------------------------------------------


def check_balanced(legs: Sequence[Leg]) -> None:
    """Every transaction sums to zero per currency, has at least two legs, and no zero or non-integer leg."""
    if len(legs) < 2:
        raise Unbalanced("a transaction needs at least two legs")
    sums: dict[str, int] = defaultdict(int)
    for leg in legs:
        if not isinstance(leg.amount, int) or isinstance(leg.amount, bool):
            raise Unbalanced(f"leg amount must be integer minor units, got {leg.amount!r}")
        if leg.amount == 0:
            raise Unbalanced(f"zero leg on {leg.account.code}")
        sums[leg.currency] += leg.amount
    bad = {c: s for c, s in sums.items() if s != 0}
    if bad:
        raise Unbalanced(f"transaction does not balance: {bad}")


def nonzero(legs: Iterable[Leg]) -> list[Leg]:
    """Drop zero legs (a fee share of 0, nothing taken from escrow) so postings stay valid."""
    return [leg for leg in legs if leg.amount != 0]


def fee_share(platform_fee: int, creator_amount: int, released_before: int, fee_released_before: int,
              releasing: int) -> int:
    """PostPact's fee earned by releasing ``releasing`` of the creator's fee; cumulative, so the last part
    earns exactly what is left and the parts always add up to ``platform_fee``."""
    if creator_amount <= 0:
        return platform_fee - fee_released_before
    due_after = platform_fee * (released_before + releasing) // creator_amount
    return due_after - fee_released_before


def fund_legs(brand_id: UUID, amount: int, currency: str) -> list[Leg]:
    return [dr(platform_cash(), amount, currency), cr(brand_funding(brand_id), amount, currency)]


def hold_legs(brand_id: UUID, escrow_id: UUID, amount: int, currency: str) -> list[Leg]:
    return [dr(brand_funding(brand_id), amount, currency), cr(escrow_held(escrow_id), amount, currency)]


def return_funding_legs(brand_id: UUID, amount: int, currency: str) -> list[Leg]:
    return [dr(brand_funding(brand_id), amount, currency), cr(refunds(brand_id), amount, currency)]


def provider_fee_legs(amount: int, currency: str) -> list[Leg]:
    return [dr(provider_fee_expense(), amount, currency), cr(platform_cash(), amount, currency)]


def release_legs(escrow_id: UUID, creator_id: UUID, creator_part: int, fee_part: int, currency: str) -> list[Leg]:
    return nonzero([
        dr(escrow_held(escrow_id), creator_part + fee_part, currency),
        cr(creator_payable(creator_id), creator_part, currency),
        cr(platform_fee_revenue(), fee_part, currency),
    ])


def transfer_legs(creator_id: UUID, amount: int, currency: str) -> list[Leg]:
    return [dr(creator_payable(creator_id), amount, currency), cr(platform_cash(), amount, currency)]


def refund_legs(escrow_id: UUID, brand_id: UUID, amount: int, currency: str) -> list[Leg]:
    return [dr(escrow_held(escrow_id), amount, currency), cr(refunds(brand_id), amount, currency)]


def refund_paid_legs(brand_id: UUID, amount: int, currency: str) -> list[Leg]:
    return [dr(refunds(brand_id), amount, currency), cr(platform_cash(), amount, currency)]


def chargeback_legs(escrow_id: UUID, amount: int, from_escrow: int, currency: str) -> list[Leg]:
    return nonzero([
        cr(platform_cash(), amount, currency),
        dr(escrow_held(escrow_id), from_escrow, currency),
        dr(dispute_loss(), amount - from_escrow, currency),
    ])


def reversal_legs(amount: int, currency: str) -> list[Leg]:
    return [dr(platform_cash(), amount, currency), cr(dispute_loss(), amount, currency)]


def recoverable_legs(creator_id: UUID, amount: int, currency: str) -> list[Leg]:
    return [dr(creator_recoverable(creator_id), amount, currency), cr(dispute_loss(), amount, currency)]


def chargeback_won_legs(escrow_id: UUID, creator_id: UUID, amount: int, back_to_escrow: int, recoverable: int,
                        currency: str) -> list[Leg]:
    return nonzero([
        dr(platform_cash(), amount, currency),
        cr(escrow_held(escrow_id), back_to_escrow, currency),
        cr(creator_recoverable(creator_id), recoverable, currency),
        cr(dispute_loss(), amount - back_to_escrow - recoverable, currency),
    ])


# --- the database side --------------------------------------------------------------------------------------------

async def _insert_ignoring_duplicates(session: AsyncSession, rows: list[dict[str, Any]]) -> None:
    # Column defaults (UUIDv7 id, timestamps) are filled per row by SQLAlchemy.
    stmt = insert_stmt(session, LedgerAccount).values(rows).on_conflict_do_nothing(index_elements=["code", "currency"])
    await session.execute(stmt)


async def find_transaction(session: AsyncSession, key: str) -> LedgerTransaction | None:
    return await session.scalar(sa.select(LedgerTransaction).where(LedgerTransaction.idempotency_key == key))


async def entries_of(session: AsyncSession, transaction_id: UUID) -> list[tuple[str, int, str]]:
    rows = await session.execute(
        sa.select(LedgerAccount.code, LedgerEntry.amount, LedgerEntry.currency)
        .join(LedgerAccount, LedgerAccount.id == LedgerEntry.account_id)
        .where(LedgerEntry.transaction_id == transaction_id)
    )
    return sorted((code, amount, currency) for code, amount, currency in rows)


def _signature(legs: Sequence[Leg]) -> list[tuple[str, int, str]]:
    merged: dict[tuple[str, str], int] = defaultdict(int)
    for leg in legs:
        merged[(leg.account.code, leg.currency)] += leg.amount
    return sorted((code, amount, currency) for (code, currency), amount in merged.items())


async def post(
    session: AsyncSession,
    *,
    key: str,
    kind: str,
    legs: Sequence[Leg],
    now: datetime,
    actor: str,
    phase: Phase = Phase.SINGLE,
    escrow_id: UUID | None = None,
    collaboration_id: UUID | None = None,
    memo: str = "",
    provider_ref: str | None = None,
    pending_id: UUID | None = None,
    new_key: bool = False,
    transaction_id: UUID | None = None,
) -> tuple[LedgerTransaction, bool]:
    """Write one balanced transaction; returns (transaction, created). The same key with the same legs returns
    the existing transaction (a replay); the same key with other legs raises IdempotencyConflict.

    ``new_key=True``: the caller knows nothing was posted under ``key`` yet (a sequence number it just took under
    the hold's lock, or a provider object booked only by the open call it holds locked), so the look-up is
    skipped; the unique key still refuses a second posting. ``transaction_id``: the new transaction's id, when the
    caller refers to it before posting (a provider call recorded with its pending posting)."""
    legs = list(legs)
    check_balanced(legs)
    existing = None if new_key else await find_transaction(session, key)
    if existing is not None:
        if existing.kind != kind or await entries_of(session, existing.id) != _signature(legs):
            raise IdempotencyConflict(f"ledger key {key!r} was already used for a different posting")
        return existing, False
    (txn,) = await write(session, [Posting(key=key, kind=kind, legs=legs, phase=phase, pending_id=pending_id,
                                           escrow_id=escrow_id, collaboration_id=collaboration_id, memo=memo,
                                           provider_ref=provider_ref, id=transaction_id)], now=now, actor=actor)
    return txn, True


@dataclass(frozen=True)
class Posting:
    """One new ledger transaction for ``write``: nothing has been posted under ``key`` yet (the caller knows)."""

    key: str
    kind: str
    legs: Sequence[Leg]
    phase: Phase = Phase.SINGLE
    #: For a POST or VOID: the pending transaction it resolves (``legs`` are then the pending one's legs).
    pending_id: UUID | None = None
    escrow_id: UUID | None = None
    collaboration_id: UUID | None = None
    memo: str = ""
    provider_ref: str | None = None
    #: The transaction's id when the caller chose it (default: a new UUIDv7).
    id: UUID | None = None


async def write(session: AsyncSession, postings: Sequence[Posting], *, now: datetime,
                actor: str) -> list[LedgerTransaction]:
    """Write new balanced transactions in two statements (one on PostgreSQL): an INSERT of the transactions and
    one of all their entries, each entry taking its account id by code and currency in the same statement, and the
    whole INSERT guarded by the holding-account check (nothing is inserted if an account the batch takes money from on
    balance would go below zero). An account used for the first time is created, then its entries follow.
    Returns the transactions (not in the session: they are immutable, nothing is read back)."""
    for posting in postings:
        if posting.phase is not Phase.VOID:
            check_balanced(posting.legs)
    rows = [
        {"id": p.id or uuid7(), "idempotency_key": p.key, "kind": p.kind, "phase": p.phase, "pending_id": p.pending_id,
         "escrow_id": p.escrow_id, "collaboration_id": p.collaboration_id, "actor": actor[:80], "memo": p.memo[:300],
         "provider_ref": p.provider_ref, "created_at": now}
        for p in postings
    ]
    entries = [
        _Entry(uuid7(), row["id"], leg, p.phase)
        for p, row in zip(postings, rows, strict=True) if p.phase is not Phase.VOID for leg in p.legs
    ]
    postgres = session.get_bind().dialect.name == "postgresql"
    # Escrow's own rows the session still holds (the hold's change, its event, a provider call) ride along in the
    # entries' statement on PostgreSQL when they are all it holds (``escrow.carried``); otherwise they are flushed
    # first (the transactions may refer to a new hold), except a call that refers to one of these transactions.
    carried = carried_rows(session) if entries and postgres else None
    if carried is None:
        await _flush_before(session, {row["id"] for row in rows})
    with session.no_autoflush:
        if entries and postgres:
            # PostgreSQL takes the transactions' INSERT as a CTE of the entries' one: one statement, one round trip
            # (the foreign keys are checked at its end, when the transactions are there).
            inserted = await _insert_entries(session, entries, transactions=rows, carried=carried)
            if carried is not None:
                carried.mark_written(session)
        else:
            await session.execute(sa.insert(LedgerTransaction.__table__), rows)
            inserted = await _insert_entries(session, entries)
    if len(inserted) < len(entries):
        # Either an account is new (its entries found no account id) or the check refused the whole batch.
        missing = [e for e in entries if e.id not in inserted]
        await _create_accounts(session, [e.leg for e in missing])
        inserted |= await _insert_entries(session, missing)
        if len(inserted) < len(entries):
            raise await _overdraft(session, _taken(missing))
    return [LedgerTransaction(**row) for row in rows]


async def _flush_before(session: AsyncSession, transaction_ids: set[UUID]) -> None:
    """Flush what the session holds, except new provider calls whose pending posting is among ``transaction_ids``
    (they are flushed after it, with the session's next flush)."""
    later = [o for o in session.new if isinstance(o, ProviderCall) and o.pending_transaction_id in transaction_ids]
    for call in later:
        session.expunge(call)
    await session.flush()
    for call in later:
        session.add(call)


@dataclass(frozen=True)
class _Entry:
    id: UUID
    transaction_id: UUID
    leg: Leg
    phase: Phase


def _taken(entries: Sequence[_Entry]) -> dict[tuple[str, str], int]:
    """Holding accounts whose available money these entries lower, net, and by how much: a pending debit reserves,
    the debit of a pending posting's POST only turns its reservation into a posting, a credit adds (once posted).
    An account credited at least as much as it is debited (a release posted and transferred on together) can't go
    below zero, so it needs no check."""
    net: dict[tuple[str, str], int] = defaultdict(int)
    for e in entries:
        leg = e.leg
        if not leg.account.holding:
            continue
        if e.phase is Phase.PENDING:
            change = -leg.amount if leg.amount > 0 else 0
        elif e.phase is Phase.POST:
            change = -leg.amount if leg.amount < 0 else 0
        else:
            change = -leg.amount
        net[(leg.account.code, leg.currency)] += change
    return {key: -change for key, change in sorted(net.items()) if change < 0}


async def _insert_entries(session: AsyncSession, entries: Sequence[_Entry],
                         transactions: Sequence[dict[str, Any]] = (), carried: Carried | None = None) -> set[UUID]:
    """INSERT … SELECT the entries with their accounts' ids, if the holding accounts they take from can afford it;
    returns the ids of the entries inserted (one whose account does not exist yet is not). ``transactions``: rows
    of ``ledger_transaction`` to insert in the same statement (a CTE: PostgreSQL only); ``carried``: escrow's
    other rows to write in it, as CTEs (``escrow.carried``)."""
    if not entries:
        return set()
    taken = _taken(entries)
    params: dict[str, Any] = {f"x{r}_{name}": value for r, row in enumerate(transactions)
                              for name, value in row.items()}
    for n, e in enumerate(entries):
        params.update({f"i{n}": e.id, f"t{n}": e.transaction_id, f"k{n}": e.leg.account.code,
                       f"c{n}": e.leg.currency, f"m{n}": e.leg.amount, f"p{n}": e.phase is Phase.PENDING})
    for n, ((code, currency), amount) in enumerate(taken.items()):
        params.update({f"g{n}k": code, f"g{n}c": currency, f"g{n}m": amount})
    shapes = carried.shapes if carried is not None else ()
    if carried is not None:
        params.update(carried.params())
    statement = _entries_statement(len(entries), len(taken), len(transactions), shapes)
    result = await session.execute(statement, params)
    return set(result.scalars())


_ENTRY_STATEMENTS: dict[tuple[int, int, int, tuple[Any, ...]], Any] = {}
_TRANSACTION_COLUMNS = ("id", "idempotency_key", "kind", "phase", "pending_id", "escrow_id", "collaboration_id",
                        "actor", "memo", "provider_ref", "created_at")


def _entries_statement(count: int, guarded: int, transactions: int = 0, carried: tuple[Any, ...] = ()) -> Any:
    """``INSERT INTO ledger_entry … SELECT * FROM (SELECT :i0, :t0, ledger_account.id, … WHERE code = :k0 AND
    currency = :c0 UNION ALL …) WHERE <debits of account g0> + :g0m <= 0 AND …``, built once per shape (bind
    parameters, so the compiled form is reused)."""
    shape = (count, guarded, transactions, carried)
    statement = _ENTRY_STATEMENTS.get(shape)
    if statement is None:
        entry, account = LedgerEntry.__table__, LedgerAccount.__table__

        def param(name: str, column: Any) -> Any:
            return sa.bindparam(name, type_=column.type)

        selects = [
            sa.select(param(f"i{n}", entry.c.id).label("id"),
                      param(f"t{n}", entry.c.transaction_id).label("transaction_id"),
                      account.c.id.label("account_id"), param(f"m{n}", entry.c.amount).label("amount"),
                      param(f"c{n}", entry.c.currency).label("currency"),
                      param(f"p{n}", entry.c.pending).label("pending"))
            .where(account.c.code == param(f"k{n}", account.c.code),
                   account.c.currency == param(f"c{n}", account.c.currency))
            for n in range(count)
        ]
        body: Any = selects[0] if count == 1 else sa.union_all(*selects)
        if guarded:
            rows = body.subquery("new_entry")
            checks = []
            for n in range(guarded):
                account_id = (sa.select(account.c.id)
                              .where(account.c.code == param(f"g{n}k", account.c.code),
                                     account.c.currency == param(f"g{n}c", account.c.currency))
                              .scalar_subquery())
                checks.append(_debits(account_id) + param(f"g{n}m", entry.c.amount) <= 0)
            body = sa.select(*rows.c).where(*checks)
        statement = (
            sa.insert(entry)
            .from_select(["id", "transaction_id", "account_id", "amount", "currency", "pending"], body)
            .returning(entry.c.id)
        )
        if transactions:
            # INSERT … SELECT rather than a multi-row VALUES: SQLAlchemy caches the compiled form of the former only
            # (compiling this statement costs more than running it).
            txn = LedgerTransaction.__table__
            rows = [sa.select(*(param(f"x{r}_{name}", txn.c[name]).label(name) for name in _TRANSACTION_COLUMNS))
                    for r in range(transactions)]
            body = rows[0] if transactions == 1 else sa.union_all(*rows)
            new = sa.insert(txn).from_select(_TRANSACTION_COLUMNS, body)
            statement = statement.add_cte(new.cte("new_transaction"))
        for n, rider in enumerate(carried_statements(carried)):
            statement = statement.add_cte(rider.cte(f"carried_{n}"))
        _ENTRY_STATEMENTS[shape] = statement
    return statement


async def _overdraft(session: AsyncSession, taken: dict[tuple[str, str], int]) -> Overdraft:
    """Which account refused (the error path: read it again to say so)."""
    for (code, currency), amount in taken.items():
        account_id = await session.scalar(
            sa.select(LedgerAccount.id).where(LedgerAccount.code == code, LedgerAccount.currency == currency))
        debits = await session.scalar(sa.select(_debits(account_id))) if account_id is not None else 0
        available = -int(debits or 0) - amount
        if available < 0:
            return Overdraft(f"{code} would go below zero ({available} {currency})")
    return Overdraft("a holding account would go below zero")


async def _create_accounts(session: AsyncSession, legs: Sequence[Leg]) -> None:
    wanted = {(leg.account.code, leg.currency): leg.account for leg in legs}
    rows = [{"code": code, "currency": currency, "kind": spec.kind.value, "holding": spec.holding}
            for (code, currency), spec in sorted(wanted.items())]
    await _insert_ignoring_duplicates(session, rows)


async def pending_legs(session: AsyncSession, transaction_id: UUID) -> list[Leg]:
    """A pending transaction's legs (with their accounts' codes), in one statement."""
    rows = (await session.execute(
        sa.select(LedgerAccount.code, LedgerAccount.kind, LedgerAccount.holding, LedgerEntry.amount,
                  LedgerEntry.currency)
        .join(LedgerAccount, LedgerAccount.id == LedgerEntry.account_id)
        .where(LedgerEntry.transaction_id == transaction_id)
    )).all()
    return [Leg(AccountSpec(code, AccountKind(kind), holding), amount, currency)
            for code, kind, holding, amount, currency in rows]


def resolution(pending: LedgerTransaction | PendingRef, *, post_it: bool, legs: Sequence[Leg] = (),
               provider_ref: str | None = None, memo: str = "") -> Posting:
    """The POST (with the pending transaction's ``legs``) or VOID of a pending transaction, to ``write``."""
    return Posting(
        key=f"{pending.idempotency_key}:{'post' if post_it else 'void'}",
        kind=pending.kind,
        legs=list(legs) if post_it else [],
        phase=Phase.POST if post_it else Phase.VOID,
        pending_id=pending.id,
        escrow_id=pending.escrow_id,
        collaboration_id=pending.collaboration_id,
        memo=memo,
        provider_ref=provider_ref,
    )


@dataclass(frozen=True)
class PendingRef:
    """What a resolution needs of a pending transaction, when the caller knows it without reading it back."""

    id: UUID
    idempotency_key: str
    kind: str
    escrow_id: UUID | None
    collaboration_id: UUID | None


async def resolve(session: AsyncSession, pending: LedgerTransaction, *, post_it: bool, now: datetime, actor: str,
                  provider_ref: str | None = None, memo: str = "", open_call: bool = False,
                  legs: Sequence[Leg] | None = None) -> LedgerTransaction:
    """Post (its legs become effective) or void (they never do) a pending transaction, at most once.

    ``open_call=True``: the caller holds the lock on the provider call that owns ``pending`` and the call is still
    open (a call's posting is resolved in the transaction that closes it), so the look-up for an earlier
    resolution is skipped; the unique ``pending_id`` still refuses a second one. ``legs``: the pending
    transaction's legs when the caller already knows them."""
    if pending.phase is not Phase.PENDING:
        raise LedgerError(f"{pending.idempotency_key} is not pending")
    already = None if open_call else await session.scalar(
        sa.select(LedgerTransaction).where(LedgerTransaction.pending_id == pending.id))
    if already is not None:
        if (already.phase is Phase.POST) != post_it:
            raise AlreadyResolved(f"{pending.idempotency_key} was already {already.phase.value}ed")
        return already
    if post_it and legs is None:
        legs = await pending_legs(session, pending.id)
    (txn,) = await write(session, [resolution(pending, post_it=post_it, legs=legs or (), provider_ref=provider_ref,
                                              memo=memo)], now=now, actor=actor)
    return txn


def _debits(account_id: Any) -> Any:
    """An account's posted sum plus its unresolved reserved debits (debits positive): minus what it has available."""
    return _posted_sum(account_id) + _reserved_sum(account_id)


def _posted_sum(account_id: Any) -> Any:
    return (
        sa.select(sa.func.coalesce(sa.func.sum(LedgerEntry.amount), 0))
        .where(LedgerEntry.account_id == account_id, LedgerEntry.pending.is_(False))
        .scalar_subquery()
    )


def _reserved_sum(account_id: Any) -> Any:
    return (
        sa.select(sa.func.coalesce(sa.func.sum(LedgerEntry.amount), 0))
        .join(LedgerTransaction, LedgerTransaction.id == LedgerEntry.transaction_id)
        .where(LedgerEntry.account_id == account_id, LedgerEntry.pending.is_(True),
               LedgerEntry.amount > 0)
        .where(unresolved_pending())
        .scalar_subquery()
    )


async def posted_balance(session: AsyncSession, account_id: UUID) -> int:
    """The raw posted sum (debits positive). Liabilities and revenue are negative when they hold money."""
    value = await session.scalar(
        sa.select(sa.func.coalesce(sa.func.sum(LedgerEntry.amount), 0)).where(
            LedgerEntry.account_id == account_id, LedgerEntry.pending.is_(False)
        )
    )
    return int(value or 0)


def unresolved_pending() -> Any:
    """Pending transactions that no POST/VOID has resolved yet (a correlated NOT EXISTS)."""
    resolution = sa.orm.aliased(LedgerTransaction)
    return sa.and_(
        LedgerTransaction.phase == Phase.PENDING,
        ~sa.exists().where(resolution.pending_id == LedgerTransaction.id),
    )


async def reserved_debits(session: AsyncSession, account_id: UUID) -> int:
    value = await session.scalar(
        sa.select(sa.func.coalesce(sa.func.sum(LedgerEntry.amount), 0))
        .join(LedgerTransaction, LedgerTransaction.id == LedgerEntry.transaction_id)
        .where(LedgerEntry.account_id == account_id, LedgerEntry.pending.is_(True), LedgerEntry.amount > 0)
        .where(unresolved_pending())
    )
    return int(value or 0)


async def available_balance(session: AsyncSession, account_id: UUID) -> int:
    """For a credit-normal holding account: what it holds minus what pending postings have reserved."""
    return -(await posted_balance(session, account_id)) - await reserved_debits(session, account_id)


async def balance_of(session: AsyncSession, spec: AccountSpec, currency: str) -> int:
    """Posted balance in the account's normal direction (0 for an account never used)."""
    account_id = await session.scalar(
        sa.select(LedgerAccount.id).where(LedgerAccount.code == spec.code, LedgerAccount.currency == currency)
    )
    if account_id is None:
        return 0
    return spec.normal_sign * await posted_balance(session, account_id)


async def unbalanced_transactions(session: AsyncSession) -> list[tuple[UUID, str, int]]:
    """Audit query: transactions whose legs don't sum to zero per currency (should always be empty)."""
    rows = await session.execute(
        sa.select(LedgerEntry.transaction_id, LedgerEntry.currency, sa.func.sum(LedgerEntry.amount))
        .group_by(LedgerEntry.transaction_id, LedgerEntry.currency)
        .having(sa.func.sum(LedgerEntry.amount) != 0)
    )
    return [(tid, currency, int(total)) for tid, currency, total in rows]
