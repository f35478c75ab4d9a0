"""The money side of a deal through ``/api/v1``: funding one or many deals (returns where to pay), the escrow state and
timeline of a deal, and statements. Thin: the same services the payment pages call."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any
from urllib.parse import urlencode
from uuid import UUID

import msgspec
from litestar import Controller, Request, get, post
from litestar.di import NamedDependency
from litestar.params import FromPath, JSONBody, QueryParameter
from litestar.status_codes import HTTP_202_ACCEPTED
from sqlalchemy.ext.asyncio import AsyncSession

from marketplace.accounts.guards import brand_member, not_suspended, signed_in
from marketplace.errors import InvalidInput, NotFound
from marketplace.gigs.schemas import MoneyOut
from marketplace.i18n import gettext
from marketplace.openapi import documented
from marketplace.payments import services as payments
from marketplace.web import runtime_of


class FundingIn(msgspec.Struct, forbid_unknown_fields=True):
    """Deals to fund together (each gets its own payment and idempotency key); all or nothing."""

    collaboration_ids: Annotated[list[UUID], documented(min_items=1, max_items=payments.MAX_BULK)]


class FundingRowOut(msgspec.Struct):
    collaboration_id: UUID
    title: str
    creator_name: str
    deal_state: str
    #: None until escrow knows the deal.
    escrow_state: str | None
    #: What the creator gets, PostPact's fee, and what the brand pays (their sum).
    creator_amount: MoneyOut
    platform_fee: MoneyOut
    total: MoneyOut
    #: This deal's own payment page, once the provider has answered (null while it is being prepared).
    checkout_url: str | None
    message: str | None


class FundingOut(msgspec.Struct):
    #: One page to pay every deal of this request (it shows each deal's payment as it becomes ready).
    checkout_url: str
    deals: list[FundingRowOut]


class TimelineItemOut(msgspec.Struct):
    at: datetime
    label: str
    amount: int | None
    detail: str
    action: str


class EscrowOut(msgspec.Struct):
    """Amounts are in minor units of ``currency``. A creator sees only their own amounts."""

    collaboration_id: UUID
    state: str
    state_label: str
    currency: str
    creator_amount: int
    platform_fee_amount: int
    gross_amount: int
    held_amount: int
    released_creator_amount: int
    released_fee_amount: int
    refunded_amount: int
    message: str | None
    waiting_for_payouts: bool
    timeline: list[TimelineItemOut]


class StatementLineOut(msgspec.Struct):
    at: datetime
    month: str
    collaboration_id: UUID | None
    #: Brands: paid, refunded, platform_fee. Creators: paid_out, reversed.
    kind: str
    #: Minor units; positive money paid (brand) or received (creator), negative returned or taken back.
    amount: int
    currency: str
    reference: str | None


class StatementMonthOut(msgspec.Struct):
    month: str
    currency: str
    totals: dict[str, int]


class StatementOut(msgspec.Struct):
    lines: list[StatementLineOut]
    months: list[StatementMonthOut]


def _money(amount: int, currency: str) -> MoneyOut:
    return MoneyOut(amount, currency)


def _row_out(row: payments.FundingRow, public_url: str) -> FundingRowOut:
    url = row.checkout_url
    if url and url.startswith("/"):
        url = public_url + url
    return FundingRowOut(
        collaboration_id=row.collaboration_id, title=row.title, creator_name=row.creator_name,
        deal_state=row.status.value, escrow_state=row.escrow_state.value if row.escrow_state else None,
        creator_amount=_money(row.creator_amount, row.currency), platform_fee=_money(row.platform_fee, row.currency),
        total=_money(row.total, row.currency), checkout_url=url, message=row.message)


class PaymentsApi(Controller):
    path = "/api/v1"
    tags = ["payments"]
    guards = [signed_in]

    @post("/funding", status_code=HTTP_202_ACCEPTED, guards=[brand_member(), not_suspended],
          summary="Fund one or many signed deals: starts each payment and returns where to pay")
    async def fund(self, request: Request[Any, Any, Any], data: JSONBody[FundingIn],
                   db_session: NamedDependency[AsyncSession]) -> FundingOut:
        runtime = runtime_of(request)
        ids = list(dict.fromkeys(data.collaboration_ids))
        await payments.fund_collaborations(db_session, request.user, ids, now=runtime.clock.now(),
                                           settings=runtime.settings)
        rows = await payments.brand_funding_rows(db_session, request.user, runtime.settings, ids=ids)
        public_url = runtime.settings.app.public_url
        checkout = f"{public_url}/brand/payments/checkout?{urlencode([('c', str(i)) for i in ids])}"
        return FundingOut(checkout, [_row_out(r, public_url) for r in rows])

    @get("/funding", guards=[brand_member()],
         summary="The brand's deals to fund and payments in progress (with their payment pages)")
    async def funding_rows(self, request: Request[Any, Any, Any],
                           db_session: NamedDependency[AsyncSession]) -> list[FundingRowOut]:
        runtime = runtime_of(request)
        rows = await payments.brand_funding_rows(db_session, request.user, runtime.settings)
        return [_row_out(r, runtime.settings.app.public_url) for r in rows]

    @get("/collaborations/{collab_id:uuid}/escrow", summary="A deal's escrow state, amounts and timeline")
    async def escrow(self, request: Request[Any, Any, Any], collab_id: FromPath[UUID],
                     db_session: NamedDependency[AsyncSession]) -> EscrowOut:
        timeline = await payments.timeline_for(db_session, request.user, collab_id)
        if timeline is None:
            raise NotFound(gettext("Escrow holds nothing for this deal yet (it is funded after signing)."))
        return EscrowOut(
            collaboration_id=timeline.collaboration_id, state=timeline.state.value, state_label=timeline.state_label,
            currency=timeline.currency, creator_amount=timeline.creator_amount,
            platform_fee_amount=timeline.platform_fee_amount, gross_amount=timeline.gross_amount,
            held_amount=timeline.held_amount, released_creator_amount=timeline.released_creator_amount,
            released_fee_amount=timeline.released_fee_amount, refunded_amount=timeline.refunded_amount,
            message=timeline.message, waiting_for_payouts=timeline.waiting_for_payouts,
            timeline=[TimelineItemOut(i.at, i.label, i.amount, i.detail, i.action) for i in timeline.items])

    @get("/statements", summary="Your money statement: every movement, and totals by month")
    async def statements(
        self, request: Request[Any, Any, Any], db_session: NamedDependency[AsyncSession],
        month: Annotated[str | None, QueryParameter(schema_extra={"pattern": r"^[0-9]{4}-[0-9]{2}$"})] = None,
    ) -> StatementOut:
        if month and not (len(month) == 7 and month[4] == "-" and month.replace("-", "").isdigit()):
            raise InvalidInput({"month": gettext("Use a month like 2026-11.")})
        lines, months = await payments.statement_for(db_session, request.user)
        return StatementOut(
            lines=[StatementLineOut(line.at, line.month, line.collaboration_id, line.kind, line.amount, line.currency,
                                    line.provider_ref) for line in lines if not month or line.month == month],
            months=[StatementMonthOut(m.month, m.currency, dict(m.totals)) for m in months
                    if not month or m.month == month])


ROUTES: list[Any] = [PaymentsApi]
