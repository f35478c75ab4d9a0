"""Payment pages: brand funding (one or many deals) and statements, creator payouts and earnings, the escrow
timeline of a deal, and the simulated provider's checkout and onboarding pages (embedded default only)."""

from __future__ import annotations

from typing import Any
from uuid import UUID

import sqlalchemy as sa
from litestar import Request, Response, get, post
from litestar.di import NamedDependency
from litestar.exceptions import NotFoundException
from litestar.params import FromPath
from sqlalchemy.ext.asyncio import AsyncSession

from escrow.models import EscrowHold, PayoutAccount, SimulatedObject
from escrow.providers.base import Funding, FundingStatus
from escrow.providers.simulated import SimulatedProvider
from escrow.states import EscrowState
from marketplace.accounts.auth import Actor
from marketplace.accounts.guards import brand_member, creator_only, not_suspended, signed_in
from marketplace.csvfiles import CSV_MEDIA_TYPE
from marketplace.errors import Forbidden, InvalidInput, NotFound
from marketplace.forms import FormReader
from marketplace.i18n import gettext
from marketplace.payments import gateway
from marketplace.payments import services as payments
from marketplace.web import PageController, flash, redirect, render, runtime_of, safe_next


def _actor(request: Request[Any, Any, Any]) -> Actor:
    return request.scope["user"]  # type: ignore[no-any-return]


def _ids(raw: list[str], field: str = "collaboration_id") -> list[UUID]:
    ids = []
    for value in raw:
        try:
            ids.append(UUID(value))
        except ValueError as exc:
            raise InvalidInput({field: gettext('That is not a deal PostPact knows.')}) from exc
    return ids


def _csv_response(body: str, name: str) -> Response[str]:
    return Response(body, media_type=CSV_MEDIA_TYPE,
                    headers={"Content-Disposition": f'attachment; filename="{name}"'})


def _month(request: Request[Any, Any, Any]) -> str | None:
    month = request.query_params.get("month") or None
    if month and not (len(month) == 7 and month[4] == "-" and month.replace("-", "").isdigit()):
        raise InvalidInput({"month": gettext('Use a month like 2026-11.')})
    return month


class BrandPaymentPages(PageController):
    guards = [signed_in, brand_member()]

    async def _page(self, request: Request[Any, Any, Any], session: AsyncSession, *, errors: dict[str, str],
                    status_code: int = 200) -> Response[Any]:
        actor = _actor(request)
        settings = runtime_of(request).settings
        rows = await payments.brand_funding_rows(session, actor, settings)
        _lines, months = await payments.statement_for(session, actor)
        return render(request, "payments/brand.html", {
            "rows": rows, "months": months, "errors": errors, "fee_bps": settings.app.platform_fee_bps,
            "can_fund": actor.brand_role in payments.FUNDING_ROLES,
        }, block="funding", status_code=status_code)

    @get("/brand/payments", name="brand_payments")
    async def overview(self, request: Request[Any, Any, Any],
                       db_session: NamedDependency[AsyncSession]) -> Response[Any]:
        return await self._page(request, db_session, errors={})

    @post("/brand/payments/fund", guards=[not_suspended])
    async def fund(self, request: Request[Any, Any, Any], db_session: NamedDependency[AsyncSession]) -> Response[Any]:
        runtime = runtime_of(request)
        form = FormReader(await request.form())
        try:
            ids = _ids(form.values("collaboration_id"))
            await payments.fund_collaborations(db_session, _actor(request), ids, now=runtime.clock.now(),
                                               settings=runtime.settings)
        except InvalidInput as exc:
            await db_session.rollback()
            return await self._page(request, db_session, errors=exc.errors, status_code=422)
        query = "&".join(f"c={i}" for i in ids)
        return redirect(request, f"/brand/payments/checkout?{query}")

    @get("/brand/payments/checkout", name="brand_checkout")
    async def checkout(self, request: Request[Any, Any, Any],
                       db_session: NamedDependency[AsyncSession]) -> Response[Any]:
        actor = _actor(request)
        runtime = runtime_of(request)
        ids = _ids(request.query_params.getall("c", []), "c")
        rows = await payments.brand_funding_rows(db_session, actor, runtime.settings, ids=ids) if ids else []
        if ids and len(rows) != len(set(ids)):
            raise NotFound(gettext('No such collaboration.'))
        preparing = any(r.escrow_state is not None and r.escrow_state.value == "funding" and not r.checkout_url
                        for r in rows)
        refs = []
        if not runtime.settings.stripe.enabled:
            refs = list(await db_session.scalars(
                sa.select(EscrowHold.funding_ref).where(EscrowHold.collaboration_id.in_(ids),
                                                        EscrowHold.status == "funding",
                                                        EscrowHold.funding_ref.is_not(None))))
        return render(request, "payments/checkout.html", {
            "rows": rows, "preparing": preparing, "simulated_refs": refs, "query": request.url.query,
        }, block="checkout")

    @get("/brand/payments/statement.csv")
    async def statement_csv(self, request: Request[Any, Any, Any],
                            db_session: NamedDependency[AsyncSession]) -> Response[Any]:
        month = _month(request)
        body = await payments.statement_csv(db_session, _actor(request), month)
        return _csv_response(body, f"postpact-spend-{month or 'all'}.csv")

    async def _stripe_funding(self, request: Request[Any, Any, Any], session: AsyncSession,
                              collaboration_id: UUID) -> tuple[EscrowHold, Funding]:
        runtime = runtime_of(request)
        if not runtime.settings.stripe.enabled:
            raise NotFoundException()
        actor = _actor(request)
        payments.require_funder(actor)
        hold = await session.scalar(sa.select(EscrowHold).where(EscrowHold.collaboration_id == collaboration_id,
                                                                EscrowHold.brand_id == actor.brand_id))
        if hold is None or hold.funding_ref is None:
            raise NotFound(gettext('No payment has been started for this deal.'))
        provider = gateway.provider_for(runtime.settings, runtime.session_maker, runtime.resources)
        return hold, await provider.retrieve_funding(hold.funding_ref)

    @get("/brand/payments/pay/{collaboration_id:uuid}", name="brand_stripe_pay")
    async def stripe_pay(self, request: Request[Any, Any, Any], collaboration_id: FromPath[UUID],
                         db_session: NamedDependency[AsyncSession]) -> Response[Any]:
        """Stripe's Payment Element for one deal's PaymentIntent (card details never touch PostPact)."""
        runtime = runtime_of(request)
        hold, funding = await self._stripe_funding(request, db_session, collaboration_id)
        if hold.state is not EscrowState.FUNDING or funding.status is not FundingStatus.PENDING:
            return redirect(request, f"/brand/payments/return/{collaboration_id}")
        return render(request, "payments/stripe_pay.html", {
            "hold": hold, "funding": funding, "publishable_key": runtime.settings.stripe.publishable_key,
            "return_url": f"{runtime.settings.app.public_url}/brand/payments/return/{collaboration_id}",
        })

    @get("/brand/payments/return/{collaboration_id:uuid}", name="brand_stripe_return")
    async def stripe_return(self, request: Request[Any, Any, Any], collaboration_id: FromPath[UUID],
                            db_session: NamedDependency[AsyncSession]) -> Response[Any]:
        """Stripe sends the brand back here. The webhook is the source of truth; looking now (idempotently) lets the
        brand see the result at once instead of waiting for it."""
        runtime = runtime_of(request)
        _hold, funding = await self._stripe_funding(request, db_session, collaboration_id)
        await gateway.escrow_service(db_session, runtime.clock.now(), settings=runtime.settings,
                                      actor=payments.actor_label(_actor(request))).apply_funding(funding)
        if funding.status is FundingStatus.SUCCEEDED:
            flash(request, gettext('Payment received: the money is held in escrow until the post is verified.'))
        elif funding.status is FundingStatus.FAILED:
            flash(
                request,
                gettext("The payment didn't go through: %(card)s.", card=funding.failure_message or "try another card"),
                "error",
            )
        else:
            flash(request, gettext('Your payment is processing; this page updates when Stripe confirms it.'), "info")
        return redirect(request, f"/brand/payments/checkout?c={collaboration_id}")


class CreatorPaymentPages(PageController):
    guards = [signed_in, creator_only]

    @get("/creator/payments", name="creator_payments")
    async def overview(self, request: Request[Any, Any, Any],
                       db_session: NamedDependency[AsyncSession]) -> Response[Any]:
        actor = _actor(request)
        assert actor.creator_id is not None
        status = await payments.payout_status(db_session, actor.creator_id)
        _lines, months = await payments.statement_for(db_session, actor)
        return render(request, "payments/creator.html", {"payouts": status, "months": months},
                      block="payouts")

    @post("/creator/payments/onboarding", guards=[not_suspended])
    async def start_onboarding(self, request: Request[Any, Any, Any],
                               db_session: NamedDependency[AsyncSession]) -> Response[Any]:
        runtime = runtime_of(request)
        await payments.start_payout_onboarding(db_session, _actor(request), now=runtime.clock.now(),
                                               settings=runtime.settings)
        return redirect(request, "/creator/payments/onboarding")

    @get("/creator/payments/onboarding", name="creator_onboarding")
    async def onboarding(self, request: Request[Any, Any, Any],
                         db_session: NamedDependency[AsyncSession]) -> Response[Any]:
        """Where the provider's onboarding starts (and its refresh URL: links are single-use, so a new one each
        visit). While the account is being created the page waits and reloads itself."""
        actor = _actor(request)
        runtime = runtime_of(request)
        account = await db_session.scalar(sa.select(PayoutAccount).where(PayoutAccount.creator_id == actor.creator_id))
        if account is None:
            return redirect(request, "/creator/payments")
        if account.account_ref is None:
            return render(request, "payments/onboarding_wait.html", {})
        provider = gateway.provider_for(runtime.settings, runtime.session_maker, runtime.resources)
        base = runtime.settings.app.public_url if runtime.settings.stripe.enabled else ""
        link = await provider.onboarding_link(account_ref=account.account_ref,
                                              refresh_url=f"{base}/creator/payments/onboarding",
                                              return_url=f"{base}/creator/payments?onboarded=1")
        return redirect(request, link)

    @get("/creator/payments/statement.csv")
    async def statement_csv(self, request: Request[Any, Any, Any],
                            db_session: NamedDependency[AsyncSession]) -> Response[Any]:
        month = _month(request)
        body = await payments.statement_csv(db_session, _actor(request), month)
        return _csv_response(body, f"postpact-earnings-{month or 'all'}.csv")


class EscrowTimelinePages(PageController):
    guards = [signed_in]

    @get("/payments/timeline/{collaboration_id:uuid}", name="escrow_timeline")
    async def timeline(self, request: Request[Any, Any, Any], collaboration_id: FromPath[UUID],
                       db_session: NamedDependency[AsyncSession]) -> Response[Any]:
        """The escrow timeline of one deal; the collaboration page includes ``payments/_timeline.html`` too."""
        escrow = await payments.timeline_for(db_session, _actor(request), collaboration_id)
        return render(request, "payments/timeline.html", {"escrow": escrow, "collaboration_id": collaboration_id},
                      block="timeline")


class SimulatedProviderPages(PageController):
    """Stand-ins for Stripe's hosted checkout and Connect onboarding; they exist only while payments are simulated."""

    guards = [signed_in]

    def _provider(self, request: Request[Any, Any, Any]) -> SimulatedProvider:
        runtime = runtime_of(request)
        if runtime.settings.stripe.enabled:
            raise NotFoundException()
        provider = gateway.build_provider(runtime.settings, runtime.session_maker)
        assert isinstance(provider, SimulatedProvider)
        return provider

    async def _fundings(self, request: Request[Any, Any, Any], session: AsyncSession,
                        refs: list[str]) -> list[tuple[SimulatedObject, EscrowHold]]:
        actor = _actor(request)
        if not actor.is_brand:
            raise Forbidden(gettext("The checkout is for the brand's team."))
        rows = (await session.execute(
            sa.select(SimulatedObject, EscrowHold)
            .join(EscrowHold, EscrowHold.funding_ref == SimulatedObject.ref)
            .where(SimulatedObject.ref.in_(refs), SimulatedObject.kind == "funding",
                   EscrowHold.brand_id == actor.brand_id)
        )).all()
        if not refs or len(rows) != len(set(refs)):
            raise NotFound(gettext('No such payment.'))
        return [(obj, hold) for obj, hold in rows]

    @get("/payments/simulated/checkout", name="simulated_checkout")
    async def checkout(self, request: Request[Any, Any, Any],
                       db_session: NamedDependency[AsyncSession]) -> Response[Any]:
        self._provider(request)
        refs = request.query_params.getall("ref", [])
        fundings = await self._fundings(request, db_session, refs)
        currencies = {obj.data["currency"] for obj, _ in fundings}
        totals = {c: sum(obj.data["amount"] for obj, _ in fundings if obj.data["currency"] == c) for c in currencies}
        return render(request, "payments/simulated_checkout.html", {"fundings": fundings, "totals": totals})

    @post("/payments/simulated/checkout", guards=[not_suspended])
    async def pay(self, request: Request[Any, Any, Any], db_session: NamedDependency[AsyncSession]) -> Response[Any]:
        provider = self._provider(request)
        runtime = runtime_of(request)
        form = FormReader(await request.form())
        refs = form.values("ref")
        fundings = await self._fundings(request, db_session, refs)
        succeed = form.text("outcome", max_length=20) != "decline"
        service = gateway.escrow_service(db_session, runtime.clock.now(), settings=runtime.settings,
                                          actor=payments.actor_label(_actor(request)))
        for obj, _hold in sorted(fundings, key=lambda pair: pair[1].collaboration_id):
            funding = await provider.settle_funding(db_session, obj.ref, succeed=succeed)
            await service.apply_funding(funding)
        flash(request, gettext('Payment %(declined)s (simulated).', declined='received' if succeed else 'declined'),
              "success" if succeed else "error")
        query = "&".join(f"c={hold.collaboration_id}" for _, hold in fundings)
        return redirect(request, f"/brand/payments/checkout?{query}")

    async def _account(self, request: Request[Any, Any, Any], session: AsyncSession, ref: str) -> PayoutAccount:
        actor = _actor(request)
        account = await session.scalar(sa.select(PayoutAccount).where(PayoutAccount.account_ref == ref))
        if account is None or not actor.is_creator or account.creator_id != actor.creator_id:
            raise NotFound(gettext('No such payout account.'))
        return account

    @get("/payments/simulated/onboarding/{account_ref:str}", name="simulated_onboarding")
    async def onboarding(self, request: Request[Any, Any, Any], account_ref: FromPath[str],
                         db_session: NamedDependency[AsyncSession]) -> Response[Any]:
        self._provider(request)
        account = await self._account(request, db_session, account_ref)
        target = safe_next(request.query_params.get("return"), "/creator/payments")
        return render(request, "payments/simulated_onboarding.html", {"account": account, "return_to": target})

    @post("/payments/simulated/onboarding/{account_ref:str}", guards=[not_suspended])
    async def complete(self, request: Request[Any, Any, Any], account_ref: FromPath[str],
                       db_session: NamedDependency[AsyncSession]) -> Response[Any]:
        provider = self._provider(request)
        runtime = runtime_of(request)
        await self._account(request, db_session, account_ref)
        form = FormReader(await request.form())
        update = await provider.complete_onboarding(db_session, account_ref)
        await gateway.escrow_service(db_session, runtime.clock.now(), settings=runtime.settings).apply_payout_account(
            update)
        flash(request, gettext('Payouts are ready (simulated): payments are sent to you as soon as they are released.'))
        return redirect(request, safe_next(form.text("return_to", max_length=2000), "/creator/payments"))


ROUTES: list[Any] = [BrandPaymentPages, CreatorPaymentPages, EscrowTimelinePages, SimulatedProviderPages]
