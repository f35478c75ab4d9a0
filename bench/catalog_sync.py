"""How long a full catalog sync takes: 5,000 products x 5 variants pulled from the Shopify stand-in (GraphQL, cursor
pages of 50, every variant's price, inventory and unit cost) and from the WooCommerce stand-in (REST pages of 100
plus one variations call per product), upserted into PostgreSQL; then a second sync of the unchanged catalog. Each
figure is also given as a ratio to a baseline measured in the same run: the same rows written straight into the same
tables (two executemany INSERTs in one transaction, no store calls).

    .venv/bin/python bench/catalog_sync.py [--products 5000] [--variants 5] [--sqlite] [--only shopify|woocommerce]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import sqlalchemy as sa

from marketplace.accounts.auth import load_actor
from marketplace.db import session_scope
from marketplace.jobs import RecordingQueue
from marketplace.runtime import build_runtime
from marketplace.settings import Settings
from marketplace.stores.models import StoreConnection, StorePlatform, StoreProduct, StoreVariant
from marketplace.stores.services import StoreService
from tests.fakes.shopify_server import ShopifyServer
from tests.fakes.woocommerce_server import WooCommerceServer
from tests.support import db as dbsupport

SERVER = os.environ.get("BENCH_DATABASE_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/postgres")
DB_NAME = "postpact_bench_catalog_sync"
SIZES = ["XS", "S", "M", "L", "XL", "XXL", "3XL", "4XL"]


def fill_shopify(shop: ShopifyServer, products: int, variants: int) -> None:
    for n in range(products):
        shop.add_product(f"Product {n}", options=["Size"], image=f"https://cdn.example/p{n}.jpg", variants=[
            {"options": [SIZES[i % len(SIZES)]], "price": f"{20 + i}.90", "inventory": 10 + i, "cost": "6.10"}
            for i in range(variants)])


def fill_woo(site: WooCommerceServer, products: int, variants: int) -> None:
    sizes = SIZES[:variants]
    for n in range(products):
        site.add_product(f"Product {n}", price="24.90", attributes={"Size": sizes},
                         variations=[{"options": [size], "stock": 10} for size in sizes])


async def sync(runtime: Any, store_id: Any) -> tuple[int, float]:
    async with session_scope(runtime.session_maker) as session:
        store = await session.get(StoreConnection, store_id)
        began = time.perf_counter()
        count = await StoreService(session, runtime.settings, runtime.clock.now()).sync_catalog(store)
    return count, time.perf_counter() - began


async def baseline(runtime: Any, products: int, variants: int) -> float:
    """Seconds to insert ``products`` products and their variants directly (what any sync must at least write)."""
    people = dbsupport.PeopleFactory(runtime, "bench-password-123")
    brand = await people.brand(brand_name="Bench baseline")
    now = runtime.clock.now()
    async with session_scope(runtime.session_maker) as session:
        store = StoreConnection(brand_id=brand.brand_id, platform=StorePlatform.CUSTOM, name="Baseline",
                                secret_hints={}, created_at=now, updated_at=now)
        session.add(store)
    product_rows = [{"id": uuid.uuid4(), "store_id": store.id, "external_id": f"b{n}", "title": f"Product {n}",
                     "options": ["Size"], "created_at": now, "updated_at": now} for n in range(products)]
    variant_rows = [{"id": uuid.uuid4(), "store_id": store.id, "product_id": row["id"],
                     "external_id": f"b{n}-{i}", "title": SIZES[i % len(SIZES)], "option_values": [SIZES[i % 8]],
                     "sku": "", "price_amount": 2090, "currency": "USD", "inventory": 10, "cost_amount": 610,
                     "cost_edited": False, "created_at": now, "updated_at": now}
                    for n, row in enumerate(product_rows) for i in range(variants)]
    began = time.perf_counter()
    async with session_scope(runtime.session_maker) as session:
        await session.execute(sa.insert(StoreProduct), product_rows)
        await session.execute(sa.insert(StoreVariant), variant_rows)
    seconds = time.perf_counter() - began
    print(f"{'baseline':<12} {'direct insert':<24} {products:6d} products {len(variant_rows):6d} variants  "
          f"{seconds:7.1f} s  (the same rows, two executemany INSERTs, one transaction)", flush=True)
    return seconds


async def bench(runtime: Any, platform: str, body: dict[str, str], requests: list[str], base: float) -> None:
    people = dbsupport.PeopleFactory(runtime, "bench-password-123")
    brand = await people.brand(brand_name=f"Bench {platform}")
    async with session_scope(runtime.session_maker) as session:
        actor, *_ = await load_actor(session, brand.user_id)
        store_id = (await StoreService(session, runtime.settings, runtime.clock.now()).connect(actor, body)).store.id
    for label in ("first sync", "second sync (unchanged)"):
        before = len(requests)
        count, seconds = await sync(runtime, store_id)
        async with session_scope(runtime.session_maker) as session:
            variants = await session.scalar(sa.select(sa.func.count()).select_from(StoreVariant)
                                            .where(StoreVariant.store_id == store_id))
        print(f"{platform:<12} {label:<24} {count:6d} products {variants:6d} variants  {seconds:7.1f} s  "
              f"{count / seconds:6.0f} products/s  {len(requests) - before} API calls  "
              f"x{seconds / base:.1f} the baseline", flush=True)


def run(database_url: str, products: int, variants: int, only: str | None) -> None:
    settings = Settings.from_env({
        "POSTPACT_ENV": "test", "SECRET_KEY": "bench-secret-key-long-enough-0123456789",
        "DATABASE_URL": database_url, "POSTPACT_VAR_DIR": tempfile.mkdtemp(prefix="postpact-bench-"),
        "STORES_ALLOW_HTTP": "1", "STORES_ALLOW_PRIVATE_HOSTS": "1", "DATABASE_POOL_SIZE": "0",
    })
    runtime = build_runtime(settings, queue=RecordingQueue())
    base = asyncio.run(baseline(runtime, products, variants))
    if only in (None, "shopify"):
        with ShopifyServer() as shop:
            fill_shopify(shop, products, variants)
            asyncio.run(bench(runtime, "shopify", {"platform": "shopify", "name": "Bench", "shop_url": shop.url,
                                                   "access_token": shop.access_token,
                                                   "webhook_secret": shop.client_secret}, shop.requests, base))
    if only in (None, "woocommerce"):
        with WooCommerceServer() as site:
            fill_woo(site, products, variants)
            asyncio.run(bench(runtime, "woocommerce", {
                "platform": "woocommerce", "name": "Bench", "shop_url": site.url, "access_token": site.consumer_key,
                "api_secret": site.consumer_secret, "webhook_secret": site.webhook_secret}, site.requests, base))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--products", type=int, default=5_000)
    parser.add_argument("--variants", type=int, default=5)
    parser.add_argument("--sqlite", action="store_true")
    parser.add_argument("--only", choices=["shopify", "woocommerce"])
    args = parser.parse_args()
    if args.sqlite:
        url = f"sqlite+aiosqlite:///{Path(tempfile.mkdtemp(prefix='postpact-bench-')) / 'bench.db'}"
        dbsupport.migrate(url)
        print(f"SQLite ({url})")
        run(url, args.products, args.variants, args.only)
        return
    url = dbsupport.recreate_postgres_database(SERVER, DB_NAME)
    dbsupport.migrate(url)
    print(f"PostgreSQL ({DB_NAME})")
    try:
        run(url, args.products, args.variants, args.only)
    finally:
        dbsupport.drop_postgres_database(SERVER, DB_NAME)


if __name__ == "__main__":
    main()
