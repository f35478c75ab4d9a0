"""Store jobs: apply a stored delivery, re-queue stuck ones, sync a catalog, create a seeding order."""

from __future__ import annotations

import asyncio
import logging
from datetime import timedelta
from uuid import UUID

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from marketplace.collaborations.models import Collaboration
from marketplace.creators.models import ShippingAddress
from marketplace.db import session_scope
from marketplace.jobs import JobContext, RetryLater, enqueue, job
from marketplace.stores.catalog import upsert_products
from marketplace.stores.errors import StoreError
from marketplace.stores.intake import PROCESS_JOB
from marketplace.stores.models import (
    SeedingOrder,
    SeedingStatus,
    StoreConnection,
    StorePlatform,
    StoreProduct,
    StoreVariant,
    StoreWebhookDelivery,
)
from marketplace.stores.processing import SYNC_PRODUCT_JOB, DeliveryProcessor, external_id
from marketplace.stores.schemas import webhook_url
from marketplace.stores.seeding import CREATE_JOB, place_in_store
from marketplace.stores.services import StoreService, http_client, shopify_client, woocommerce_client
from marketplace.stores.vault import SecretBox

log = logging.getLogger(__name__)

REDELIVER_JOB = "stores.requeue_stuck_deliveries"
SYNC_JOB = "stores.sync_catalog"
RESYNC_JOB = "stores.resync_catalogs"
#: How old a catalog may get before the scheduled re-sync reads it again. WooCommerce's product webhooks don't
#: carry variations (sizes, their stock and prices), so its catalogs are re-read often; Shopify's carry them, so a
#: daily re-read only catches what a lost webhook missed.
RESYNC_AFTER = {StorePlatform.WOOCOMMERCE: timedelta(hours=6), StorePlatform.SHOPIFY: timedelta(hours=24)}
#: Most stores queued per run (hourly): a backlog spreads over the next runs.
RESYNC_BATCH = 200
WEBHOOKS_JOB = "stores.register_webhooks"
REENCRYPT_JOB = "stores.reencrypt_secrets"
#: Test hook (JobContext.resources): awaited with the placed order between the store's answer and our commit.
AFTER_STORE_CALL = "stores.after_store_call"
#: JobContext.resources key of the function store clients wait with (tests record the waits instead of sleeping).
SLEEP = "stores.sleep"


@job(PROCESS_JOB, max_retries=8)
async def process_delivery(ctx: JobContext, delivery_id: str) -> None:
    async with session_scope(ctx.session_maker) as session:
        outcome = await DeliveryProcessor(session, ctx.settings, ctx.clock).process(UUID(delivery_id))
    log.info("store delivery %s: %s", delivery_id, outcome)


@job(REDELIVER_JOB, every=300)
async def requeue_stuck_deliveries(ctx: JobContext) -> None:
    """Deliveries stored but never processed (a lost dispatch, a crash) are queued again after two minutes, and
    seeding orders still pending after five."""
    async with session_scope(ctx.session_maker) as session:
        stuck = (await session.scalars(sa.select(StoreWebhookDelivery.id).where(
            StoreWebhookDelivery.processed_at.is_(None),
            StoreWebhookDelivery.received_at < ctx.clock.now() - timedelta(minutes=2)).limit(500))).all()
        for delivery_id in stuck:
            enqueue(session, PROCESS_JOB, str(delivery_id))
        # Seeding orders whose job was lost: the job looks the tag up in the store before creating anything.
        waiting = (await session.scalars(sa.select(SeedingOrder.collaboration_id).where(
            SeedingOrder.status == SeedingStatus.PENDING,
            SeedingOrder.updated_at < ctx.clock.now() - timedelta(minutes=5)).limit(500))).all()
        for collab_id in waiting:
            enqueue(session, CREATE_JOB, str(collab_id))


@job(SYNC_JOB, max_retries=5)
async def sync_catalog(ctx: JobContext, store_id: str) -> None:
    async with session_scope(ctx.session_maker) as session:
        store = await session.get(StoreConnection, UUID(store_id))
        if store is None or store.disconnected_at is not None:
            return
        try:
            count = await StoreService(session, ctx.settings, ctx.clock.now()).sync_catalog(store)
        except StoreError as exc:
            if exc.transient:
                raise RetryLater(exc.message, exc.retry_after) from exc
            store.last_test_ok, store.last_test_message = False, f"Catalog sync failed: {exc.message}"
            return
    log.info("store %s: %d product(s) synced", store_id, count)


@job(RESYNC_JOB, every=3600)
async def resync_catalogs(ctx: JobContext) -> None:
    """Queue a catalog sync for every connected shop whose catalog is older than its platform's limit, the oldest
    first."""
    now = ctx.clock.now()
    async with session_scope(ctx.session_maker) as session:
        due = (await session.scalars(
            sa.select(StoreConnection.id).where(
                StoreConnection.disconnected_at.is_(None),
                sa.or_(*(sa.and_(StoreConnection.platform == platform,
                                 sa.or_(StoreConnection.catalog_synced_at.is_(None),
                                        StoreConnection.catalog_synced_at < now - age))
                         for platform, age in RESYNC_AFTER.items())))
            .order_by(StoreConnection.catalog_synced_at.asc().nulls_first()).limit(RESYNC_BATCH))).all()
        for store_id in due:
            enqueue(session, SYNC_JOB, str(store_id))
    log.info("catalog re-sync queued for %d store(s)", len(due))


@job(SYNC_PRODUCT_JOB, max_retries=5)
async def sync_product(ctx: JobContext, store_id: str, product_external_id: str) -> None:
    """One WooCommerce product with its variations, after a product webhook that named them without their details
    (sizes, stock, prices)."""
    async with session_scope(ctx.session_maker) as session:
        store = await session.get(StoreConnection, UUID(store_id))
        if store is None or store.disconnected_at is not None or store.platform is not StorePlatform.WOOCOMMERCE:
            return
        box = SecretBox.from_settings(ctx.settings)
        try:
            async with http_client(ctx.settings) as http:
                product = await woocommerce_client(store, box, ctx.settings, http).product(product_external_id)
        except StoreError as exc:
            if exc.transient:
                raise RetryLater(exc.message, exc.retry_after) from exc
            log.warning("store %s: product %s not re-read: %s", store_id, product_external_id, exc.message)
            return
        await upsert_products(session, store.id, [product], ctx.clock.now())


@job(WEBHOOKS_JOB, max_retries=5)
async def register_webhooks(ctx: JobContext, store_id: str) -> None:
    """Subscribe the store's webhooks to our address; the store's own list is checked first, so reruns add nothing."""
    async with session_scope(ctx.session_maker) as session:
        store = await session.get(StoreConnection, UUID(store_id))
        if store is None or store.disconnected_at is not None or store.platform in IN_PROCESS_FEED:
            return
        url = webhook_url(store, ctx.settings.app.public_url)
        box = SecretBox.from_settings(ctx.settings)
        try:
            async with http_client(ctx.settings) as http:
                if store.platform is StorePlatform.SHOPIFY:
                    created = await shopify_client(store, box, ctx.settings, http).ensure_webhooks(url)
                else:
                    created = await woocommerce_client(store, box, ctx.settings, http).ensure_webhooks(
                        url, box.open(store.webhook_secret_enc or ""))
        except StoreError as exc:
            if exc.transient:
                raise RetryLater(exc.message, exc.retry_after) from exc
            store.last_test_ok = False
            store.last_test_message = f"Webhooks couldn't be registered: {exc.message}"
            return
    log.info("store %s: %d webhook subscription(s) created", store_id, created)


@job(REENCRYPT_JOB, every=24 * 3600, max_retries=2)
async def reencrypt_secrets(ctx: JobContext) -> None:
    """Re-seal every store secret not sealed by the newest key, so an old key can leave STORES_ENCRYPTION_KEYS."""
    box = SecretBox.from_settings(ctx.settings)
    rotated = 0
    async with session_scope(ctx.session_maker) as session:
        stores = (await session.scalars(sa.select(StoreConnection).where(
            StoreConnection.disconnected_at.is_(None)).with_for_update())).all()
        for store in stores:
            for column in ("access_token_enc", "api_secret_enc", "webhook_secret_enc"):
                token = getattr(store, column)
                if token and not box.is_current(token):
                    setattr(store, column, box.rotate(token))
                    rotated += 1
    log.info("store secrets re-sealed under the newest key: %d", rotated)


#: Platforms whose orders reach us without webhook subscriptions: custom stores push, the simulated shop is in-process.
IN_PROCESS_FEED = frozenset({StorePlatform.CUSTOM, StorePlatform.SIMULATED})


def queue_setup(session: AsyncSession, store: StoreConnection) -> None:
    """After connecting: pull the catalog and subscribe the webhooks (custom stores push; nothing to do)."""
    if store.platform is not StorePlatform.CUSTOM:
        enqueue(session, SYNC_JOB, str(store.id))
    if store.platform not in IN_PROCESS_FEED:
        enqueue(session, WEBHOOKS_JOB, str(store.id))


@job(CREATE_JOB, max_retries=8)
async def create_seeding_order(ctx: JobContext, collaboration_id: str) -> None:
    """One transaction holds the seeding row's lock across the store call, so two runs never race; a run killed
    after the store answered leaves the row pending, and the retry finds the order by its tag."""
    async with session_scope(ctx.session_maker) as session:
        seeding = await session.scalar(sa.select(SeedingOrder).where(
            SeedingOrder.collaboration_id == UUID(collaboration_id)).with_for_update())
        if seeding is None or seeding.status is not SeedingStatus.PENDING:
            return
        store = await session.get(StoreConnection, seeding.store_id)
        variant = await session.get(StoreVariant, seeding.variant_id) if seeding.variant_id else None
        product = await session.get(StoreProduct, variant.product_id) if variant else None
        address = await session.scalar(
            sa.select(ShippingAddress).join(Collaboration, Collaboration.creator_id == ShippingAddress.creator_id)
            .where(Collaboration.id == seeding.collaboration_id))
        now = ctx.clock.now()
        if store is None or store.disconnected_at is not None or variant is None or product is None or \
                address is None:
            seeding.status, seeding.message = SeedingStatus.BLOCKED, \
                "The store, the product or the creator's address is gone: nothing was ordered."
            return
        seeding.attempts += 1
        try:
            placed = await place_in_store(session, store, seeding, variant, product, address, None, ctx.settings,
                                          since=seeding.created_at, sleep=ctx.resources.get(SLEEP, asyncio.sleep),
                                          now=now)
        except StoreError as exc:
            if exc.transient:
                raise RetryLater(exc.message, exc.retry_after) from exc
            seeding.status, seeding.message, seeding.updated_at = SeedingStatus.BLOCKED, \
                f"The store refused the order: {exc.message}", now
            return
        hook = ctx.resources.get(AFTER_STORE_CALL)
        if hook is not None:
            await hook(placed)
        seeding.status, seeding.updated_at = SeedingStatus.CREATED, now
        seeding.external_order_id, seeding.order_name = external_id(placed.external_id), placed.name[:120]
        seeding.message = f"Order {placed.name} created in the store."
        if variant.inventory is not None:
            variant.inventory = max(variant.inventory - 1, 0)
        await session.flush()
        # A fulfillment that arrived before we knew the order's id ships the deal now.
        await DeliveryProcessor(session, ctx.settings, ctx.clock).ship_ready(store.id, seeding.external_order_id)
