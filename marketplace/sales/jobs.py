"""Sales jobs: create a deal's discount code in its store (idempotent by code), approve commission past its hold."""

from __future__ import annotations

import asyncio
import logging
from datetime import datetime
from typing import Any
from uuid import UUID

import sqlalchemy as sa

from escrow.money import major_units
from marketplace.db import session_scope
from marketplace.jobs import JobContext, RetryLater, job
from marketplace.sales import payouts
from marketplace.sales.models import CodeStatus, DealTracking, DiscountKind, GigSalesSettings
from marketplace.sales.services import CREATE_CODE_JOB, approve_due, sales_settings
from marketplace.settings import Settings
from marketplace.stores.errors import StoreError
from marketplace.stores.models import StoreConnection, StorePlatform
from marketplace.stores.services import http_client, shopify_client, woocommerce_client
from marketplace.stores.simulated import SimulatedShop
from marketplace.stores.vault import SecretBox
from marketplace.stores.woocommerce import TAG_META_KEY

log = logging.getLogger(__name__)

APPROVE_JOB = "sales.approve_commissions"
#: JobContext.resources key of the function store clients wait with (tests record waits instead of sleeping).
SLEEP = "sales.sleep"


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


def shopify_discount(tracking: DealTracking, settings: GigSalesSettings, currency: str) -> dict[str, Any]:
    """``discountCodeBasicCreate``'s input; the title carries our tag."""
    value: dict[str, Any] = (
        {"percentage": settings.discount_value / 100} if settings.discount_kind is DiscountKind.PERCENT
        else {"discountAmount": {"amount": major_units(settings.discount_value, currency), "appliesOnEachItem": False}})
    return {"title": f"PostPact {tracking.code} ({tracking.tag})", "startsAt": _iso(tracking.valid_from),
            "endsAt": _iso(tracking.valid_until), "context": {"all": "ALL"},
            "customerGets": {"value": value, "items": {"all": True}}, "usageLimit": settings.usage_limit,
            "appliesOncePerCustomer": True,
            "combinesWith": {"orderDiscounts": False, "productDiscounts": False, "shippingDiscounts": True}}


def woocommerce_coupon(tracking: DealTracking, settings: GigSalesSettings, currency: str) -> dict[str, Any]:
    percent = settings.discount_kind is DiscountKind.PERCENT
    return {"code": tracking.code.lower(), "discount_type": "percent" if percent else "fixed_cart",
            "amount": str(settings.discount_value) if percent else major_units(settings.discount_value, currency),
            "usage_limit": settings.usage_limit, "description": f"PostPact ({tracking.tag})",
            "date_expires_gmt": _iso(tracking.valid_until), "meta_data": [{"key": TAG_META_KEY, "value": tracking.tag}]}


async def ensure_in_store(store: StoreConnection, tracking: DealTracking, settings: GigSalesSettings, currency: str,
                          app: Settings, sleep: Any = asyncio.sleep) -> str:
    """The store's id of the deal's code, created only when the store has no such code (the code is the key)."""
    box = SecretBox.from_settings(app)
    async with http_client(app) as http:
        if store.platform is StorePlatform.SHOPIFY:
            return await shopify_client(store, box, app, http, sleep=sleep).ensure_discount_code(
                tracking.code, shopify_discount(tracking, settings, currency))
        woo = woocommerce_client(store, box, app, http, sleep=sleep)
        # WooCommerce keeps coupon codes in lower case (orders report them so; attribution compares upper case).
        found = (await woo.call("GET", "coupons", params={"code": tracking.code.lower()})).json()
        if found:
            return str(found[0]["id"])
        return str((await woo.call("POST", "coupons", json=woocommerce_coupon(tracking, settings, currency))).json()
                   ["id"])


@job(CREATE_CODE_JOB, max_retries=8)
async def create_discount_code(ctx: JobContext, collaboration_id: str) -> None:
    """The row stays locked across the store call, so two runs never race; a run killed after the store answered
    leaves it pending and the retry finds the code in the store."""
    async with session_scope(ctx.session_maker) as session:
        tracking = await session.scalar(sa.select(DealTracking).where(
            DealTracking.collaboration_id == UUID(collaboration_id)).with_for_update())
        if tracking is None or tracking.code_status is not CodeStatus.PENDING:
            return
        store = await session.get(StoreConnection, tracking.store_id) if tracking.store_id else None
        now = ctx.clock.now()
        if store is None or store.disconnected_at is not None or store.platform is StorePlatform.CUSTOM:
            tracking.code_status, tracking.updated_at = CodeStatus.BLOCKED, now
            tracking.message = f"The store is gone: create {tracking.code} in your store, then confirm it here."
            return
        settings = await sales_settings(session, tracking.gig_id)
        currency = store.currency or "USD"
        try:
            if store.platform is StorePlatform.SIMULATED:
                tracking.external_id = await SimulatedShop(session, store, now).ensure_discount_code(
                    tracking.code, tracking.tag)
            else:
                tracking.external_id = await ensure_in_store(store, tracking, settings, currency, ctx.settings,
                                                             ctx.resources.get(SLEEP, asyncio.sleep))
        except StoreError as exc:
            if exc.transient:
                raise RetryLater(exc.message, exc.retry_after) from exc
            tracking.code_status, tracking.updated_at = CodeStatus.BLOCKED, now
            tracking.message = f"The store refused the code: {exc.message}"
            return
        tracking.code_status, tracking.updated_at = CodeStatus.CREATED, now
        tracking.message = "Created in the store."


@job(APPROVE_JOB, every=3600)
async def approve_commissions(ctx: JobContext) -> None:
    async with session_scope(ctx.session_maker) as session:
        approved = await approve_due(session, ctx.clock.now())
    log.info("commission approved on %d order(s)", approved)


PAY_JOB = "sales.pay_commissions"
REFUND_BUDGETS_JOB = "sales.refund_unused_budgets"


@job(PAY_JOB, every=3600)
async def pay_commissions(ctx: JobContext) -> None:
    """Approved commission out of each brand's budget to its creators; a weekly charge where a budget is short."""
    async with session_scope(ctx.session_maker) as session:
        run = await payouts.pay_commissions(session, ctx.clock.now(), ctx.settings)
    log.info("commission: %d payout(s), %d offset(s), %d brand budget(s) short", run.paid, run.offsets,
             len(run.short))


@job(REFUND_BUDGETS_JOB, every=86400)
async def refund_unused_budgets(ctx: JobContext) -> None:
    async with session_scope(ctx.session_maker) as session:
        total = await payouts.refund_unused_budgets(session, ctx.clock.now(), ctx.settings)
    log.info("commission budgets: %d minor units of unused budget returned", total)
