"""Store connections for a brand's team: connect, read (masked), change and rotate secrets, test, disconnect, sync."""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit
from uuid import UUID

import httpx
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from marketplace.accounts.auth import Actor
from marketplace.brands.models import BrandRole
from marketplace.errors import Forbidden, InvalidInput, NotFound
from marketplace.gigs.models import Gig
from marketplace.i18n import gettext
from marketplace.settings import Settings
from marketplace.stores.catalog import upsert_products
from marketplace.stores.errors import StoreError, StoreProblem
from marketplace.stores.models import StoreConnection, StorePlatform, StoreProduct, StoreVariant
from marketplace.stores.netguard import PublicOnlyTransport, Resolver, check_host, resolve
from marketplace.stores.shopify import ShopifyClient
from marketplace.stores.simulated import SimulatedShop
from marketplace.stores.vault import SecretBox, hint, new_signing_secret
from marketplace.stores.woocommerce import WooCommerceClient

MANAGING_ROLES = (BrandRole.OWNER, BrandRole.MANAGER)
SIMULATED_MESSAGE = ("Simulated store, built into PostPact: no outside calls. Its orders, shipments and webhooks "
                     "happen inside PostPact.")
_SHOP_DOMAIN = re.compile(r"^[a-z0-9][a-z0-9-]{0,60}\.myshopify\.com$")
_LOCAL_URL = re.compile(r"^http://(127\.0\.0\.1|localhost)(:\d{1,5})?$")
_SITE_URL = re.compile(r"^https://[a-z0-9.-]+(:\d{1,5})?(/[^\s]*)?$", re.IGNORECASE)
#: Which secret field each platform needs, with the words a form shows.
SECRET_FIELDS: dict[StorePlatform, dict[str, str]] = {
    StorePlatform.SHOPIFY: {"access_token": "Admin API access token", "webhook_secret": "App client secret"},
    StorePlatform.WOOCOMMERCE: {"access_token": "Consumer key", "api_secret": "Consumer secret",
                                "webhook_secret": "Webhook secret"},
    StorePlatform.CUSTOM: {},
    StorePlatform.SIMULATED: {},
}


@dataclass(frozen=True)
class TestResult:
    ok: bool
    message: str


@dataclass(frozen=True)
class Connected:
    store: StoreConnection
    #: Only for custom stores, only in the answer to the call that created or rotated it.
    signing_secret: str | None = None


def http_client(settings: Settings, resolver: Resolver = resolve) -> httpx.AsyncClient:
    """The client every call to a shop goes through: public addresses only (unless STORES_ALLOW_PRIVATE_HOSTS)."""
    return httpx.AsyncClient(timeout=settings.stores.timeout_seconds, transport=PublicOnlyTransport(
        allow_private=settings.stores.allow_private_hosts, resolver=resolver))


def shopify_client(store: StoreConnection, box: SecretBox, settings: Settings, http: httpx.AsyncClient,
                   **options: Any) -> ShopifyClient:
    return ShopifyClient(http, store.shop_url, box.open(store.access_token_enc or ""),
                         settings.stores.shopify_api_version, allow_http=settings.stores.allow_http, **options)


def woocommerce_client(store: StoreConnection, box: SecretBox, settings: Settings, http: httpx.AsyncClient,
                       **options: Any) -> WooCommerceClient:
    return WooCommerceClient(http, store.shop_url, box.open(store.access_token_enc or ""),
                             box.open(store.api_secret_enc or ""), allow_http=settings.stores.allow_http, **options)


class StoreService:
    """Every method is scoped to the actor's brand: another brand's store is 404, a finance member 403 on changes."""

    def __init__(self, session: AsyncSession, settings: Settings, now: datetime) -> None:
        self.session = session
        self.settings = settings
        self.now = now
        self.box = SecretBox.from_settings(settings)
        #: Name resolution for the private-address check (tests pass their own).
        self.resolver: Resolver = resolve

    # -- reading

    async def list(self, actor: Actor) -> list[StoreConnection]:
        return list((await self.session.scalars(
            sa.select(StoreConnection).where(StoreConnection.brand_id == self._brand(actor),
                                             StoreConnection.disconnected_at.is_(None))
            .order_by(StoreConnection.created_at))).all())

    async def get(self, actor: Actor, store_id: UUID, *, for_update: bool = False) -> StoreConnection:
        query = sa.select(StoreConnection).where(StoreConnection.id == store_id,
                                                 StoreConnection.brand_id == self._brand(actor),
                                                 StoreConnection.disconnected_at.is_(None))
        store = await self.session.scalar(query.with_for_update() if for_update else query)
        if store is None:
            raise NotFound(gettext('No such store.'))
        return store

    async def products(self, actor: Actor, store_id: UUID, *, limit: int = 100,
                       after: UUID | None = None) -> list[tuple[StoreProduct, list[StoreVariant]]]:
        store = await self.get(actor, store_id)
        query = sa.select(StoreProduct).where(StoreProduct.store_id == store.id, StoreProduct.deleted_at.is_(None))
        if after is not None:
            query = query.where(StoreProduct.id > after)
        products = list((await self.session.scalars(query.order_by(StoreProduct.id).limit(limit))).all())
        variants: dict[UUID, list[StoreVariant]] = {p.id: [] for p in products}
        if products:
            for v in (await self.session.scalars(sa.select(StoreVariant).where(
                    StoreVariant.product_id.in_(list(variants))).order_by(StoreVariant.created_at))).all():
                variants[v.product_id].append(v)
        return [(p, variants[p.id]) for p in products]

    async def catalog_choices(self, brand_id: UUID) -> list[tuple[str, str]]:
        """(product id, "Store · Title") of every live product of the brand's stores, for the gig form."""
        rows = (await self.session.execute(
            sa.select(StoreProduct.id, StoreProduct.title, StoreConnection.name)
            .join(StoreConnection, StoreConnection.id == StoreProduct.store_id)
            .where(StoreConnection.brand_id == brand_id, StoreConnection.disconnected_at.is_(None),
                   StoreProduct.deleted_at.is_(None))
            .order_by(StoreConnection.name, StoreProduct.title).limit(1000))).all()
        return [(str(r.id), f"{r.name} \N{MIDDLE DOT} {r.title}") for r in rows]

    # -- changing

    async def connect(self, actor: Actor, data: dict[str, Any]) -> Connected:
        brand_id = self._brand(actor, manage=True)
        errors: dict[str, str] = {}
        platform = _platform(errors, data.get("platform"), simulated=self.settings.stores.simulated)
        name = _text(errors, "name", data.get("name"), "Name", 120, required=True)
        shop_url = self._shop_url(errors, platform, data.get("shop_url"))
        secrets = _secrets(errors, platform, data, required=True)
        if not errors:
            await self._check_public(errors, platform, shop_url)
        if errors:
            raise InvalidInput(errors)
        assert platform is not None
        store = StoreConnection(brand_id=brand_id, platform=platform, name=name, shop_url=shop_url,
                                secret_hints={}, created_at=self.now, updated_at=self.now)
        signing_secret = None
        if platform is StorePlatform.CUSTOM:
            signing_secret = secrets["webhook_secret"] = new_signing_secret()
        self._set_secrets(store, secrets)
        self.session.add(store)
        await self.session.flush()
        if platform is StorePlatform.SIMULATED:
            # A new simulated shop comes stocked, so there is a catalog to pick from at once.
            store.currency, store.last_tested_at, store.last_test_ok = "USD", self.now, True
            store.last_test_message = SIMULATED_MESSAGE
            await SimulatedShop(self.session, store, self.now).install_catalog()
        return Connected(store, signing_secret)

    async def update(self, actor: Actor, store_id: UUID, data: dict[str, Any]) -> Connected:
        """Rename, move, or replace secrets (a secret left out or blank stays as it is)."""
        self._brand(actor, manage=True)
        store = await self.get(actor, store_id, for_update=True)
        errors: dict[str, str] = {}
        if data.get("name") is not None:
            store.name = _text(errors, "name", data.get("name"), "Name", 120, required=True)
        if data.get("shop_url") not in (None, "") and store.platform is not StorePlatform.CUSTOM:
            store.shop_url = self._shop_url(errors, store.platform, data.get("shop_url"))
        secrets = _secrets(errors, store.platform, data, required=False)
        if not errors and data.get("shop_url") not in (None, ""):
            await self._check_public(errors, store.platform, store.shop_url)
        if errors:
            raise InvalidInput(errors)
        signing_secret = None
        if store.platform is StorePlatform.CUSTOM and data.get("rotate_signing_secret"):
            signing_secret = secrets["webhook_secret"] = new_signing_secret()
        self._set_secrets(store, secrets)
        if secrets or data.get("shop_url"):
            store.last_test_ok, store.last_test_message = None, ""
        store.updated_at = self.now
        await self.session.flush()
        return Connected(store, signing_secret)

    async def disconnect(self, actor: Actor, store_id: UUID) -> None:
        """Secrets are wiped at once; the orders stay for sales already attributed."""
        self._brand(actor, manage=True)
        store = await self.get(actor, store_id, for_update=True)
        store.disconnected_at = self.now
        store.access_token_enc = store.api_secret_enc = store.webhook_secret_enc = None
        store.secret_hints = {}
        store.updated_at = self.now

    async def set_variant_cost(self, actor: Actor, store_id: UUID, variant_id: UUID,
                               cost_amount: int | None) -> StoreVariant:
        """The brand's own unit cost (kept by catalog syncs), or None to take the store's again."""
        self._brand(actor, manage=True)
        store = await self.get(actor, store_id)
        variant = await self.session.scalar(sa.select(StoreVariant).where(StoreVariant.id == variant_id,
                                                                          StoreVariant.store_id == store.id))
        if variant is None:
            raise NotFound(gettext('No such variant.'))
        if cost_amount is not None and not 0 <= cost_amount <= 10**12:
            raise InvalidInput({"cost_amount": gettext('Enter a cost of 0 or more.')})
        variant.cost_amount, variant.cost_edited = cost_amount, cost_amount is not None
        return variant

    async def test(self, actor: Actor, store_id: UUID) -> TestResult:
        """Call the store and say plainly what is wrong; the result is kept on the store."""
        store = await self.get(actor, store_id)
        result = await self.check(store)
        store.last_tested_at, store.last_test_ok, store.last_test_message = self.now, result.ok, result.message
        return result

    async def check(self, store: StoreConnection) -> TestResult:
        if store.platform is StorePlatform.SIMULATED:
            return TestResult(True, SIMULATED_MESSAGE)
        if store.platform is StorePlatform.CUSTOM:
            return TestResult(True, "Custom stores push their orders to PostPact; there is nothing to call. "
                                    "Sign each push with the signing secret.")
        try:
            async with http_client(self.settings) as http:
                if store.platform is StorePlatform.SHOPIFY:
                    info = await shopify_client(store, self.box, self.settings, http, max_attempts=2).shop()
                    store.currency = info.currency
                    if info.missing_scopes:
                        return TestResult(False, f"Connected to {info.name}, but the app's token lacks these "
                                                 f"scopes: {', '.join(info.missing_scopes)}. Add them in the app's "
                                                 "Admin API configuration and reinstall it.")
                    return TestResult(True, f"Connected to {info.name} ({info.currency}).")
                client = woocommerce_client(store, self.box, self.settings, http, max_attempts=2)
                store.currency = await client.currency()
                await client.call("GET", "products", params={"per_page": 1})
                return TestResult(True, f"Connected to the WooCommerce site ({store.currency}).")
        except StoreError as exc:
            prefix = {StoreProblem.UNREACHABLE: "Unreachable: ", StoreProblem.BAD_CREDENTIALS: "Bad credentials: ",
                      StoreProblem.MISSING_SCOPE: "Missing permission: ", StoreProblem.NOT_FOUND: "Shop not found: "}
            return TestResult(False, prefix.get(exc.problem, "") + exc.message)

    async def sync_catalog(self, store: StoreConnection, *, page_size: int = 50) -> int:
        """Pull every product and variant (a job does this; the web only queues it). Returns the product count."""
        count = 0
        async with http_client(self.settings) as http:
            if store.platform is StorePlatform.SHOPIFY:
                pages = shopify_client(store, self.box, self.settings, http).products(page_size)
            elif store.platform is StorePlatform.WOOCOMMERCE:
                pages = woocommerce_client(store, self.box, self.settings, http).products(100)
            elif store.platform is StorePlatform.SIMULATED:
                pages = SimulatedShop(self.session, store, self.now).products(page_size)
            else:
                return 0
            async for batch in pages:
                count += await upsert_products(self.session, store.id, batch, self.now)
        store.catalog_synced_at = self.now
        return count

    # -- helpers

    def _brand(self, actor: Actor, *, manage: bool = False) -> UUID:
        if not actor.is_brand or actor.brand_id is None:
            raise NotFound(gettext('No such store.'))
        if manage and actor.brand_role not in MANAGING_ROLES:
            raise Forbidden(gettext('Only owners and managers connect and change stores.'))
        return actor.brand_id

    def _shop_url(self, errors: dict[str, str], platform: StorePlatform | None, raw: Any) -> str:
        value = str(raw or "").strip().rstrip("/")
        if platform is StorePlatform.SIMULATED:
            return ""
        if platform is StorePlatform.CUSTOM:
            return value[:300]
        local = self.settings.stores.allow_http and bool(_LOCAL_URL.match(value))
        if platform is StorePlatform.SHOPIFY:
            value = value.lower().removeprefix("https://")
            if not (local or _SHOP_DOMAIN.match(value)):
                errors["shop_url"] = gettext("Enter the shop's myshopify.com domain, e.g. glowlab.myshopify.com.")
        elif platform is StorePlatform.WOOCOMMERCE and not (local or (_SITE_URL.match(value) and len(value) <= 300)):
            errors["shop_url"] = gettext("Enter the site's https:// address, e.g. https://shop.example.com.")
        elif platform is StorePlatform.WOOCOMMERCE and not local and _internal_host(value):
            # PostPact calls this address from its servers: never let it point inside our network.
            errors["shop_url"] = gettext("Enter the shop's public address (not a private or local one).")
        return value

    async def _check_public(self, errors: dict[str, str], platform: StorePlatform | None, shop_url: str) -> None:
        """The name must not resolve inside our network (every call checks again, against DNS rebinding)."""
        if platform not in (StorePlatform.SHOPIFY, StorePlatform.WOOCOMMERCE) or \
                self.settings.stores.allow_private_hosts:
            return
        parts = urlsplit(shop_url if "://" in shop_url else f"https://{shop_url}")
        if parts.hostname:
            message = await check_host(parts.hostname, parts.port or (80 if parts.scheme == "http" else 443),
                                       self.resolver)
            if message:
                errors["shop_url"] = message

    def _set_secrets(self, store: StoreConnection, secrets: dict[str, str]) -> None:
        hints = dict(store.secret_hints or {})
        for name, value in secrets.items():
            setattr(store, f"{name}_enc", self.box.seal(value))
            hints[name] = hint(value)
        store.secret_hints = hints


def _internal_host(url: str) -> bool:
    host = (urlsplit(url).hostname or "").lower()
    if host == "localhost" or host.endswith((".localhost", ".local", ".internal")):
        return True
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return False
    return not address.is_global


def _platform(errors: dict[str, str], raw: Any, *, simulated: bool) -> StorePlatform | None:
    """The platform asked for; the simulated shop only where settings offer it (never in production by default)."""
    try:
        platform = StorePlatform(str(raw or "").strip().lower())
    except ValueError:
        platform = None
    if platform is None or (platform is StorePlatform.SIMULATED and not simulated):
        errors["platform"] = (gettext("Choose shopify, woocommerce or custom (or simulated).") if simulated
                              else gettext("Choose shopify, woocommerce or custom."))
        return None
    return platform


def _text(errors: dict[str, str], field: str, raw: Any, label: str, max_length: int, *, required: bool) -> str:
    value = str(raw if raw is not None else "").strip()
    if required and not value:
        errors[field] = gettext('%(label)s is required.', label=label)
    elif len(value) > max_length:
        errors[field] = gettext("%(label)s can be at most %(max_length)s characters.", label=label,
                                max_length=max_length)
    elif any(ord(c) < 32 for c in value):
        errors[field] = gettext("%(label)s can't contain control characters.", label=label)
    return value


def _secrets(errors: dict[str, str], platform: StorePlatform | None, data: dict[str, Any], *,
             required: bool) -> dict[str, str]:
    found: dict[str, str] = {}
    for name, label in SECRET_FIELDS.get(platform, {}).items() if platform else []:
        value = str(data.get(name) or "").strip()
        if not value:
            if required:
                errors[name] = gettext('%(label)s is required.', label=label)
            continue
        if len(value) < 8 or len(value) > 500 or any(c.isspace() for c in value):
            errors[name] = gettext("%(label)s doesn't look right: paste it exactly as the store shows it "
                                   "(8-500 characters).", label=label)
            continue
        found[name] = value
    return found


async def pick_gig_product(session: AsyncSession, actor: Actor, gig_id: UUID, product_id: UUID | None) -> Gig:
    """Point the gig at a catalog product (copying its name and picture when the gig has none), or clear it."""
    if actor.brand_role not in (BrandRole.OWNER, BrandRole.MANAGER):
        raise Forbidden(gettext('Only owners and managers change gigs.'))
    gig = await session.scalar(sa.select(Gig).where(Gig.id == gig_id, Gig.brand_id == actor.brand_id)
                               .with_for_update())
    if gig is None:
        raise NotFound(gettext('No such gig.'))
    if product_id is None:
        gig.store_product_id = None
        return gig
    product = await session.scalar(
        sa.select(StoreProduct).join(StoreConnection, StoreConnection.id == StoreProduct.store_id)
        .where(StoreProduct.id == product_id, StoreConnection.brand_id == actor.brand_id,
               StoreConnection.disconnected_at.is_(None), StoreProduct.deleted_at.is_(None)))
    if product is None:
        raise InvalidInput({"store_product_id": gettext('Pick a product from one of your connected stores.')})
    gig.store_product_id = product.id
    if not gig.product_name:
        gig.product_name = product.title[:140]
    if not gig.product_image_url and product.image_url:
        gig.product_image_url = product.image_url
    return gig
