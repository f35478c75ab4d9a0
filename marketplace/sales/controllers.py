"""Sales pages (brand report with chart and CSV, creator's codes and commission, a code entered by hand) and the
sales API; the tracking redirect lives in marketplace.sales.links."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any
from uuid import UUID

import msgspec
import sqlalchemy as sa
from litestar import Controller, Request, Response, get, post, put
from litestar.di import NamedDependency
from litestar.params import FromPath, JSONBody
from sqlalchemy.ext.asyncio import AsyncSession

from escrow.providers.simulated import SimulatedProvider
from marketplace.accounts.auth import READ_ONLY, Actor
from marketplace.accounts.guards import brand_member, creator_only, signed_in
from marketplace.brands.models import BrandRole
from marketplace.creators.models import Creator
from marketplace.csvfiles import attachment_headers, csv_bytes
from marketplace.errors import InvalidInput, NotFound
from marketplace.gigs.models import Gig
from marketplace.gigs.schemas import MoneyOut
from marketplace.i18n import format_basis_points, gettext
from marketplace.payments import gateway
from marketplace.sales import payouts
from marketplace.sales.charts import cost_revenue_chart, gmv_chart
from marketplace.sales.links import TrackingLinks
from marketplace.sales.models import DealTracking, SaleAttribution
from marketplace.sales.reports import BrandReport, bps_text, brand_report, statements
from marketplace.sales.schemas import (
    BudgetFundIn,
    BudgetOut,
    BudgetRefundIn,
    CodeIn,
    FundingOut,
    RefundOut,
    ReportOut,
    SalesOut,
    SalesSettingsIn,
    SalesSettingsOut,
    SalesTotalOut,
    StatementOut,
    TrackingOut,
    budget_out,
    funding_out,
    report_out,
    sale_out,
    sales_settings_out,
    statement_out,
    tracking_out,
)
from marketplace.sales.services import record_manual_code, sales_settings, save_sales_settings, tracking_for
from marketplace.stores.models import StoreOrder
from marketplace.stores.schemas import problem_specs
from marketplace.templating import money as money_text
from marketplace.web import PageController, flash, redirect, render, runtime_of

CSV_HEADER = ["creator", "currency", "deals", "clicks", "orders", "gmv", "conversion", "aov", "commission", "fee",
              "product_cost", "postpact_fee", "total_cost", "roi", "posts", "cost_per_post", "posts_live", "ghosted",
              "on_time_rate", "ghost_rate", "days_to_post"]


def date_range(raw_from: str | None, raw_to: str | None, today: date) -> tuple[datetime, datetime]:
    """``from``/``to`` as ISO dates (``to`` inclusive); the last 30 days by default. Bad values are 422 per field."""
    errors: dict[str, str] = {}
    parsed: dict[str, date] = {}
    for name, raw in (("from", raw_from), ("to", raw_to)):
        if raw:
            try:
                parsed[name] = date.fromisoformat(raw)
            except ValueError:
                errors[name] = gettext('A date as YYYY-MM-DD.')
    end = parsed.get("to", today)
    start = parsed.get("from", end - timedelta(days=29))
    if not errors and start > end:
        errors["from"] = gettext("Must be on or before 'to'.")
    if not errors and (end - start).days > 3_660:
        errors["from"] = gettext('At most ten years at once.')
    if errors:
        raise InvalidInput(errors)
    return (datetime.combine(start, datetime.min.time(), UTC),
            datetime.combine(end + timedelta(days=1), datetime.min.time(), UTC))


def _uuid_param(name: str, raw: str | None) -> UUID | None:
    try:
        return UUID(raw) if raw else None
    except ValueError as exc:
        raise InvalidInput({name: gettext('Not an id.')}) from exc


async def _own_gig(session: AsyncSession, actor: Actor, gig_id: UUID | None) -> Gig | None:
    if gig_id is None:
        return None
    gig = await session.scalar(sa.select(Gig).where(Gig.id == gig_id, Gig.brand_id == actor.brand_id))
    if gig is None:
        raise NotFound(gettext('No such gig.'))
    return gig


async def _report(request: Request[Any, Any, Any], session: AsyncSession, *, raw_from: str | None,
                  raw_to: str | None, gig_id: UUID | None) -> BrandReport:
    runtime = runtime_of(request)
    actor: Actor = request.user
    start, end = date_range(raw_from, raw_to, runtime.clock.now().date())
    await _own_gig(session, actor, gig_id)
    assert actor.brand_id is not None
    return await brand_report(session, actor.brand_id, start, end, fee_bps=runtime.settings.app.platform_fee_bps,
                              gig_id=gig_id)


# --- pages ----------------------------------------------------------------------------------------------------------


class BrandSalesPages(PageController):
    path = "/brand/sales"
    guards = [brand_member()]

    @get("/", name="brand_sales", opt={READ_ONLY: True})
    async def index(self, request: Request[Any, Any, Any], db_session: NamedDependency[AsyncSession]) -> Response[Any]:
        params = request.query_params
        form = {"from": params.get("from") or "", "to": params.get("to") or "", "gig_id": params.get("gig_id") or ""}
        try:
            report = await _report(request, db_session, raw_from=form["from"], raw_to=form["to"],
                                   gig_id=_uuid_param("gig_id", form["gig_id"]))
        except InvalidInput as exc:
            return render(request, "sales/brand.html", {"report": None, "form": form, "errors": exc.errors,
                                                        "gigs": [], "deals": []}, status_code=422)
        actor: Actor = request.user
        gigs = (await db_session.execute(sa.select(Gig.id, Gig.title).where(Gig.brand_id == actor.brand_id)
                                         .order_by(Gig.created_at.desc()).limit(200))).all()
        deals = (await db_session.scalars(sa.select(DealTracking).where(DealTracking.brand_id == actor.brand_id)
                                          .order_by(DealTracking.created_at.desc()).limit(100))).all()
        return render(request, "sales/brand.html", {
            "report": report, "form": form, "errors": {}, "gigs": gigs, "deals": deals,
            "chart": gmv_chart(report.series), "cost_chart": cost_revenue_chart(report.by_creator),
            "public_url": runtime_of(request).settings.app.public_url, "bps": format_basis_points},
            block="report")

    @get("/report.csv", name="brand_sales_csv")
    async def csv(self, request: Request[Any, Any, Any], db_session: NamedDependency[AsyncSession]) -> Response[Any]:
        params = request.query_params
        report = await _report(request, db_session, raw_from=params.get("from"), raw_to=params.get("to"),
                               gig_id=_uuid_param("gig_id", params.get("gig_id")))
        rows = [[f.label, f.currency, f.deals, f.clicks, f.orders, f.gmv,
                 bps_text(f.conversion_bps), "" if f.aov is None else f.aov,
                 f.commission, f.fee, f.product_cost, f.postpact_fee, f.total_cost, bps_text(f.roi_bps), f.posts,
                 "" if f.cost_per_post is None else f.cost_per_post, f.posts_live, f.ghosted, bps_text(f.on_time_bps),
                 bps_text(f.ghost_bps), "" if f.days_to_post is None else f"{f.days_to_post:.1f}"]
                for f in [*report.by_creator, *report.totals]]
        return Response(csv_bytes(CSV_HEADER, rows), media_type="text/csv; charset=utf-8",
                        headers=attachment_headers(f"sales-{report.start:%Y%m%d}-{report.end:%Y%m%d}.csv"))

    @post("/deals/{collab_id:uuid}/code", guards=[brand_member()])
    async def manual_code(self, request: Request[Any, Any, Any], collab_id: FromPath[UUID],
                          db_session: NamedDependency[AsyncSession]) -> Response[Any]:
        form = await request.form()
        try:
            tracking = await record_manual_code(db_session, request.user, collab_id, str(form.get("code") or ""),
                                                runtime_of(request).clock.now())
        except InvalidInput as exc:
            flash(request, "; ".join(exc.errors.values()), "error")
            return redirect(request, "/brand/sales")
        flash(request, gettext('Code %(code)s recorded: orders carrying it count from now on.', code=tracking.code))
        return redirect(request, "/brand/sales")


    async def _settings_page(self, request: Request[Any, Any, Any], session: AsyncSession, gig: Gig,
                             form: dict[str, Any], errors: dict[str, str], status_code: int = 200) -> Response[Any]:
        return render(request, "sales/gig_settings.html", {"gig": gig, "form": form, "errors": errors},
                      status_code=status_code)

    @get("/gigs/{gig_id:uuid}", name="gig_sales_settings")
    async def settings(self, request: Request[Any, Any, Any], gig_id: FromPath[UUID],
                       db_session: NamedDependency[AsyncSession]) -> Response[Any]:
        gig = await _own_gig(db_session, request.user, gig_id)
        assert gig is not None
        current = sales_settings_out(await sales_settings(db_session, gig_id))
        form = {f: "" if getattr(current, f) is None else str(getattr(current, f)) for f in current.__struct_fields__}
        return await self._settings_page(request, db_session, gig, form, {})

    @post("/gigs/{gig_id:uuid}", guards=[brand_member()])
    async def save_settings(self, request: Request[Any, Any, Any], gig_id: FromPath[UUID],
                            db_session: NamedDependency[AsyncSession]) -> Response[Any]:
        gig = await _own_gig(db_session, request.user, gig_id)
        assert gig is not None
        form = {k: str(v) for k, v in (await request.form()).items() if k != "_csrf_token"}
        try:
            await save_sales_settings(db_session, request.user, gig_id, form, runtime_of(request).clock.now())
        except InvalidInput as exc:
            return await self._settings_page(request, db_session, gig, form, exc.errors, status_code=422)
        flash(request, gettext('Sales settings saved: deals signed from now on use them.'))
        return redirect(request, f"/brand/sales/gigs/{gig_id}")


class BrandCommissionPages(PageController):
    """The brand's commission budget: what it holds, fund it, payments in (weekly charges included), payouts,
    unused money back."""

    path = "/brand/sales/commission"
    guards = [brand_member()]

    async def _page(self, request: Request[Any, Any, Any], session: AsyncSession, *, form: dict[str, str],
                    errors: dict[str, str], status_code: int = 200) -> Response[Any]:
        actor: Actor = request.user
        assert actor.brand_id is not None
        runtime = runtime_of(request)
        return render(request, "sales/commission.html", {
            "budgets": await payouts.budget_views(session, actor.brand_id),
            "statements": await statements(session, brand_id=actor.brand_id),
            "creators": await _creator_names(session, brand_id=actor.brand_id),
            "form": form, "errors": errors, "simulated": not runtime.settings.stripe.enabled,
            "can_pay": actor.brand_role in (BrandRole.OWNER, BrandRole.FINANCE)}, status_code=status_code)

    @get("/", name="brand_commission")
    async def index(self, request: Request[Any, Any, Any], db_session: NamedDependency[AsyncSession]) -> Response[Any]:
        return await self._page(request, db_session, form={"amount": "", "currency": "USD"}, errors={})

    @post("/fund", guards=[brand_member(BrandRole.FINANCE)])
    async def fund(self, request: Request[Any, Any, Any], db_session: NamedDependency[AsyncSession]) -> Response[Any]:
        form = {k: str(v) for k, v in (await request.form()).items() if k in ("amount", "currency")}
        runtime = runtime_of(request)
        try:
            row = await payouts.fund_budget(db_session, request.user, form, runtime.clock.now(), runtime.settings)
        except InvalidInput as exc:
            return await self._page(request, db_session, form=form, errors=exc.errors, status_code=422)
        flash(request, gettext("Budget payment of %(currency)s started: pay it below.",
                               currency=money_text(row.amount, row.currency)))
        return redirect(request, "/brand/sales/commission")

    @post("/refund", guards=[brand_member(BrandRole.FINANCE)])
    async def refund(self, request: Request[Any, Any, Any],
                     db_session: NamedDependency[AsyncSession]) -> Response[Any]:
        form = {k: str(v) for k, v in (await request.form()).items() if k in ("amount", "currency")}
        runtime = runtime_of(request)
        try:
            amount = await payouts.refund_budget(db_session, request.user, form, runtime.clock.now(),
                                                 runtime.settings)
        except InvalidInput as exc:
            return await self._page(request, db_session, form={"amount": "", "currency": "USD"},
                                    errors={f"refund_{k}": v for k, v in exc.errors.items()}, status_code=422)
        flash(request, gettext("%(currency)s of unused budget is on its way back.",
                               currency=money_text(amount, form.get("currency", ""))) if amount else
              gettext("Nothing unused to return: approved and pending commission needs what is held."))
        return redirect(request, "/brand/sales/commission")

    @post("/fundings/{funding_id:uuid}/simulated-pay", guards=[brand_member(BrandRole.FINANCE)])
    async def simulated_pay(self, request: Request[Any, Any, Any], funding_id: FromPath[UUID],
                            db_session: NamedDependency[AsyncSession]) -> Response[Any]:
        """The simulated provider's checkout for a budget payment (the embedded default only)."""
        runtime = runtime_of(request)
        if runtime.settings.stripe.enabled:
            raise NotFound(gettext('No such payment.'))
        row = await payouts.own_funding(db_session, request.user, funding_id)
        if row.funding_ref is None:
            flash(request, gettext('The payment is still being prepared: try again in a moment.'), "error")
            return redirect(request, "/brand/sales/commission")
        provider = gateway.build_provider(runtime.settings, runtime.session_maker)
        assert isinstance(provider, SimulatedProvider)
        succeed = (await request.form()).get("outcome") != "decline"
        funding = await provider.settle_funding(db_session, row.funding_ref, succeed=succeed)
        await gateway.escrow_service(db_session, runtime.clock.now(), settings=runtime.settings,
                                     actor=f"brand:{request.user.user_id}").apply_funding(funding)
        flash(request, gettext('Payment %(declined)s (simulated).', declined='received' if succeed else 'declined'),
              "success" if succeed else "error")
        return redirect(request, "/brand/sales/commission")


async def _creator_names(session: AsyncSession, *, brand_id: UUID) -> dict[UUID, str]:
    return dict((await session.execute(sa.select(Creator.id, Creator.display_name).join(
        DealTracking, DealTracking.creator_id == Creator.id).where(DealTracking.brand_id == brand_id)
        .distinct())).all())


class CreatorSalesPages(PageController):
    path = "/creator/sales"
    guards = [creator_only]

    @get("/", name="creator_sales", opt={READ_ONLY: True})
    async def index(self, request: Request[Any, Any, Any], db_session: NamedDependency[AsyncSession]) -> Response[Any]:
        actor: Actor = request.user
        trackings = (await db_session.scalars(sa.select(DealTracking).where(
            DealTracking.creator_id == actor.creator_id).order_by(DealTracking.created_at.desc()))).all()
        sales = (await db_session.execute(
            sa.select(SaleAttribution, StoreOrder.name)
            .join(StoreOrder, StoreOrder.id == SaleAttribution.store_order_id)
            .where(SaleAttribution.creator_id == actor.creator_id)
            .order_by(SaleAttribution.placed_at.desc(), SaleAttribution.id.desc()).limit(200))).all()
        return render(request, "sales/creator.html", {
            "trackings": trackings, "sales": sales, "statements": await statements(
                db_session, creator_id=actor.creator_id),
            "payouts": await payouts.creator_payouts(db_session, actor.creator_id),
            "public_url": runtime_of(request).settings.app.public_url})


# --- JSON API -------------------------------------------------------------------------------------------------------


class SalesApi(Controller):
    path = "/api/v1"
    tags = ["sales"]

    @get("/collaborations/{collab_id:uuid}/tracking", summary="A deal's discount code and tracking link",
         guards=[signed_in], responses=problem_specs(401, 404))
    async def tracking(self, request: Request[Any, Any, Any], collab_id: FromPath[UUID],
                       db_session: NamedDependency[AsyncSession]) -> TrackingOut:
        _, tracking = await tracking_for(db_session, request.user, collab_id)
        return tracking_out(collab_id, tracking, runtime_of(request).settings.app.public_url)

    @post("/collaborations/{collab_id:uuid}/tracking/code", summary="Record a code the brand created by hand",
          status_code=200, guards=[brand_member()], responses=problem_specs(400, 401, 403, 404, 422))
    async def manual_code(self, request: Request[Any, Any, Any], collab_id: FromPath[UUID], data: JSONBody[CodeIn],
                          db_session: NamedDependency[AsyncSession]) -> TrackingOut:
        tracking = await record_manual_code(db_session, request.user, collab_id, data.code,
                                            runtime_of(request).clock.now())
        return tracking_out(collab_id, tracking, runtime_of(request).settings.app.public_url)

    @get("/collaborations/{collab_id:uuid}/sales",
         summary="A deal's orders: attribution reason, commission and its state, totals",
         guards=[signed_in], responses=problem_specs(401, 404))
    async def sales(self, request: Request[Any, Any, Any], collab_id: FromPath[UUID],
                    db_session: NamedDependency[AsyncSession]) -> SalesOut:
        await tracking_for(db_session, request.user, collab_id)  # 404 unless the actor's deal
        rows = (await db_session.execute(
            sa.select(SaleAttribution, StoreOrder.name)
            .join(StoreOrder, StoreOrder.id == SaleAttribution.store_order_id)
            .where(SaleAttribution.collaboration_id == collab_id)
            # Stores report whole seconds: orders in the same second keep the order they arrived in (uuid7 ids).
            .order_by(SaleAttribution.placed_at, SaleAttribution.id))).all()
        totals: dict[str, list[int]] = {}
        for row, _ in rows:
            t = totals.setdefault(row.currency, [0, 0, 0])
            t[0], t[1], t[2] = t[0] + 1, t[1] + row.base_amount, t[2] + row.commission_amount
        return SalesOut(collab_id, [sale_out(row, name) for row, name in rows], [
            SalesTotalOut(n, MoneyOut(gmv, c), MoneyOut(com, c)) for c, (n, gmv, com) in sorted(totals.items())])

    @get("/reports/creators", summary="Sales, cost and ROI per creator over a date range (from/to: YYYY-MM-DD)",
         guards=[brand_member()], responses=problem_specs(401, 403, 404, 422))
    async def creators_report(self, request: Request[Any, Any, Any],
                              db_session: NamedDependency[AsyncSession]) -> ReportOut:
        params = request.query_params
        report = await _report(request, db_session, raw_from=params.get("from"), raw_to=params.get("to"),
                               gig_id=_uuid_param("gig_id", params.get("gig_id")))
        return report_out(report, report.by_creator)

    @get("/gigs/{gig_id:uuid}/report", summary="A gig's sales, cost and ROI per creator (from/to: YYYY-MM-DD)",
         guards=[brand_member()], responses=problem_specs(401, 403, 404, 422))
    async def gig_report(self, request: Request[Any, Any, Any], gig_id: FromPath[UUID],
                         db_session: NamedDependency[AsyncSession]) -> ReportOut:
        params = request.query_params
        report = await _report(request, db_session, raw_from=params.get("from"), raw_to=params.get("to"),
                               gig_id=gig_id)
        return report_out(report, report.by_creator)

    @get("/gigs/{gig_id:uuid}/sales-settings", summary="A gig's discount, landing page, attribution window and hold",
         guards=[brand_member()], responses=problem_specs(401, 403, 404))
    async def get_sales_settings(self, request: Request[Any, Any, Any], gig_id: FromPath[UUID],
                                 db_session: NamedDependency[AsyncSession]) -> SalesSettingsOut:
        await _own_gig(db_session, request.user, gig_id)
        return sales_settings_out(await sales_settings(db_session, gig_id))

    @put("/gigs/{gig_id:uuid}/sales-settings", summary="Set how the gig's future deals sell",
         guards=[brand_member()], responses=problem_specs(400, 401, 403, 404, 422))
    async def put_sales_settings(self, request: Request[Any, Any, Any], gig_id: FromPath[UUID],
                                 data: JSONBody[SalesSettingsIn],
                                 db_session: NamedDependency[AsyncSession]) -> SalesSettingsOut:
        saved = await save_sales_settings(db_session, request.user, gig_id, msgspec.structs.asdict(data),
                                          runtime_of(request).clock.now())
        return sales_settings_out(saved)

    @get("/commission/statements",
         summary="Commission balances: pending, approved, paid, carried negative balance, next payable date",
         guards=[signed_in], responses=problem_specs(401, 403))
    async def commission_statements(self, request: Request[Any, Any, Any],
                                    db_session: NamedDependency[AsyncSession]) -> list[StatementOut]:
        actor: Actor = request.user
        if actor.is_brand:
            found = await statements(db_session, brand_id=actor.brand_id)
        elif actor.is_creator:
            found = await statements(db_session, creator_id=actor.creator_id)
        else:
            found = []
        return [statement_out(s) for s in found]


    @get("/commission/budget", summary="The brand's commission budgets: held, available, payments in, payouts",
         guards=[brand_member()], responses=problem_specs(401, 403))
    async def commission_budget(self, request: Request[Any, Any, Any],
                                db_session: NamedDependency[AsyncSession]) -> list[BudgetOut]:
        actor: Actor = request.user
        assert actor.brand_id is not None
        return [budget_out(v) for v in await payouts.budget_views(db_session, actor.brand_id)]

    @post("/commission/budget/deposits", summary="Fund the commission budget (a cap the brand chooses)",
          status_code=201, guards=[brand_member(BrandRole.FINANCE)], responses=problem_specs(400, 401, 403, 422))
    async def fund_budget(self, request: Request[Any, Any, Any], data: JSONBody[BudgetFundIn],
                          db_session: NamedDependency[AsyncSession]) -> FundingOut:
        runtime = runtime_of(request)
        row = await payouts.fund_budget(db_session, request.user, msgspec.structs.asdict(data), runtime.clock.now(),
                                        runtime.settings)
        return funding_out(row)

    @post("/commission/budget/refunds", summary="Return unused commission budget to the brand's card",
          status_code=200, guards=[brand_member(BrandRole.FINANCE)], responses=problem_specs(400, 401, 403, 422))
    async def refund_budget(self, request: Request[Any, Any, Any], data: JSONBody[BudgetRefundIn],
                            db_session: NamedDependency[AsyncSession]) -> RefundOut:
        runtime = runtime_of(request)
        raw = msgspec.structs.asdict(data)
        amount = await payouts.refund_budget(db_session, request.user, raw, runtime.clock.now(), runtime.settings)
        return RefundOut(MoneyOut(amount, data.currency))


ROUTES = [BrandSalesPages, BrandCommissionPages, CreatorSalesPages, SalesApi, TrackingLinks]
