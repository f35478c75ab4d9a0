"""Store pages under /brand/stores (connections, catalog, a gig's product, seeding orders) and the stores API."""

from __future__ import annotations

from typing import Annotated, Any
from uuid import UUID

import sqlalchemy as sa
from litestar import Controller, Request, Response, delete, get, patch, post
from litestar.datastructures import UploadFile
from litestar.di import NamedDependency
from litestar.params import FromPath, FromQuery, JSONBody, QueryParameter
from litestar.status_codes import HTTP_201_CREATED, HTTP_202_ACCEPTED
from sqlalchemy.ext.asyncio import AsyncSession

from marketplace.accounts.auth import Actor
from marketplace.accounts.guards import brand_member
from marketplace.brands.models import BrandRole
from marketplace.collaborations.models import Collaboration
from marketplace.errors import Forbidden, InvalidInput, NotFound
from marketplace.gigs.models import Gig
from marketplace.i18n import gettext
from marketplace.jobs import enqueue
from marketplace.stores.catalog import to_minor
from marketplace.stores.errors import StoreError
from marketplace.stores.jobs import SYNC_JOB, queue_setup
from marketplace.stores.models import SeedingOrder, StoreConnection, StorePlatform, StoreProduct, StoreVariant
from marketplace.stores.orders_csv import CsvImport, import_orders
from marketplace.stores.schemas import (
    GigProductIn,
    OrderImportOut,
    ProductListOut,
    SeedingIn,
    SeedingListOut,
    StoreIn,
    StoreOut,
    StorePatch,
    TestOut,
    UnsupportedMediaType,
    VariantCostIn,
    VariantOut,
    problem_specs,
    product_out,
    seeding_out,
    store_out,
    variant_out,
    webhook_url,
)
from marketplace.stores.seeding import plan_for_gig
from marketplace.stores.services import SECRET_FIELDS, StoreService, pick_gig_product
from marketplace.stores.simulated import SimulatedShop
from marketplace.stores.vault import masked
from marketplace.stores.webhooks import CustomStorePush, StoreWebhooks
from marketplace.web import PageController, flash, redirect, render, runtime_of

MANAGERS = brand_member(BrandRole.MANAGER)
PLATFORM_CHOICES = [("shopify", "Shopify"), ("woocommerce", "WooCommerce"), ("custom", "Other (pushes orders)")]
SIMULATED_CHOICE = ("simulated", "Simulated store (built into PostPact, for trying it out)")


def platform_choices(request: Request[Any, Any, Any]) -> list[tuple[str, str]]:
    """The simulated store is offered only where settings allow it (development and test, never production
    unless STORES_SIMULATED=1)."""
    return PLATFORM_CHOICES + ([SIMULATED_CHOICE] if runtime_of(request).settings.stores.simulated else [])


def _service(request: Request[Any, Any, Any], session: AsyncSession) -> StoreService:
    runtime = runtime_of(request)
    return StoreService(session, runtime.settings, runtime.clock.now())


# --- pages ----------------------------------------------------------------------------------------------------------


class StorePages(PageController):
    path = "/brand/stores"
    guards = [brand_member()]

    async def _list_page(self, request: Request[Any, Any, Any], session: AsyncSession, *, form: dict[str, Any],
                         errors: dict[str, str], status_code: int = 200) -> Response[Any]:
        stores = await _service(request, session).list(request.user)
        return render(request, "stores/list.html", {
            "stores": stores, "form": form, "errors": errors, "platforms": platform_choices(request),
            "secret_fields": {p.value: f for p, f in SECRET_FIELDS.items()}}, block="connect",
            status_code=status_code)

    @get("/", name="brand_stores")
    async def index(self, request: Request[Any, Any, Any], db_session: NamedDependency[AsyncSession]) -> Response[Any]:
        return await self._list_page(request, db_session, form={"platform": "shopify"}, errors={})

    @post("/", guards=[MANAGERS])
    async def connect(self, request: Request[Any, Any, Any],
                      db_session: NamedDependency[AsyncSession]) -> Response[Any]:
        form = {k: str(v) for k, v in (await request.form()).items() if k != "_csrf_token"}
        try:
            connected = await _service(request, db_session).connect(request.user, form)
        except InvalidInput as exc:
            kept = {k: v for k, v in form.items() if k in ("platform", "name", "shop_url")}
            return await self._list_page(request, db_session, form=kept, errors=exc.errors, status_code=422)
        if connected.signing_secret:
            # Shown on this one answer only (never stored in the session or shown again).
            return await self._detail(request, db_session, connected.store.id, signing_secret=connected.signing_secret)
        queue_setup(db_session, connected.store)
        flash(request, gettext("%(name)s connected. Test the connection; the catalog is being synced.",
                               name=connected.store.name))
        return redirect(request, f"/brand/stores/{connected.store.id}")

    async def _detail(self, request: Request[Any, Any, Any], session: AsyncSession, store_id: UUID, *,
                      signing_secret: str | None = None, errors: dict[str, str] | None = None,
                      status_code: int = 200) -> Response[Any]:
        service = _service(request, session)
        store = await service.get(request.user, store_id)
        products = await service.products(request.user, store_id, limit=200)
        seeding = (await session.execute(
            sa.select(SeedingOrder, Collaboration.gig_id).join(Collaboration)
            .where(SeedingOrder.store_id == store.id).order_by(SeedingOrder.created_at.desc()).limit(50))).all()
        public_url = runtime_of(request).settings.app.public_url
        shop_orders = await SimulatedShop(session, store, service.now).orders() \
            if store.platform is StorePlatform.SIMULATED else []
        return render(request, "stores/detail.html", {
            "store": store, "products": products, "seeding": seeding, "signing_secret": signing_secret,
            "shop_orders": shop_orders[-50:][::-1],
            "webhook_url": webhook_url(store, public_url), "errors": errors or {}, "form": {},
            "masked": {name: masked(last4) for name, last4 in (store.secret_hints or {}).items()},
            "secret_labels": SECRET_FIELDS[store.platform]}, block="status", status_code=status_code)

    @get("/{store_id:uuid}", name="brand_store")
    async def detail(self, request: Request[Any, Any, Any], store_id: FromPath[UUID],
                     db_session: NamedDependency[AsyncSession]) -> Response[Any]:
        return await self._detail(request, db_session, store_id)

    @post("/{store_id:uuid}/test", guards=[MANAGERS])
    async def test(self, request: Request[Any, Any, Any], store_id: FromPath[UUID],
                   db_session: NamedDependency[AsyncSession]) -> Response[Any]:
        await _service(request, db_session).test(request.user, store_id)
        return await self._detail(request, db_session, store_id)

    @post("/{store_id:uuid}/sync", guards=[MANAGERS])
    async def sync(self, request: Request[Any, Any, Any], store_id: FromPath[UUID],
                   db_session: NamedDependency[AsyncSession]) -> Response[Any]:
        store = await _service(request, db_session).get(request.user, store_id)
        enqueue(db_session, SYNC_JOB, str(store.id))
        flash(request, gettext('The catalog sync is queued; reload in a minute.'))
        return redirect(request, f"/brand/stores/{store_id}")

    @post("/{store_id:uuid}/secrets", guards=[MANAGERS])
    async def rotate(self, request: Request[Any, Any, Any], store_id: FromPath[UUID],
                     db_session: NamedDependency[AsyncSession]) -> Response[Any]:
        form = {k: str(v) for k, v in (await request.form()).items() if k != "_csrf_token"}
        try:
            changed = await _service(request, db_session).update(request.user, store_id, {
                **form, "rotate_signing_secret": form.get("rotate_signing_secret") == "on"})
        except InvalidInput as exc:
            return await self._detail(request, db_session, store_id, errors=exc.errors, status_code=422)
        if changed.signing_secret:
            return await self._detail(request, db_session, store_id, signing_secret=changed.signing_secret)
        flash(request, gettext('Saved. Test the connection to check the new details.'))
        return redirect(request, f"/brand/stores/{store_id}")

    @post("/{store_id:uuid}/variants/{variant_id:uuid}/cost", guards=[MANAGERS])
    async def variant_cost(self, request: Request[Any, Any, Any], store_id: FromPath[UUID],
                           variant_id: FromPath[UUID], db_session: NamedDependency[AsyncSession]) -> Response[Any]:
        service = _service(request, db_session)
        store = await service.get(request.user, store_id)
        raw = str((await request.form()).get("cost") or "").strip()
        try:
            amount = to_minor(raw, store.currency or "USD") if raw else None
        except ValueError:
            return await self._detail(request, db_session, store_id, status_code=422,
                                      errors={"cost": "Enter the cost as a number, e.g. 6.10."})
        try:
            await service.set_variant_cost(request.user, store_id, variant_id, amount)
        except InvalidInput as exc:
            return await self._detail(request, db_session, store_id, errors=exc.errors, status_code=422)
        flash(request, gettext('Cost saved; catalog syncs keep it.'))
        return redirect(request, f"/brand/stores/{store_id}")

    @post("/{store_id:uuid}/orders/import", guards=[MANAGERS])
    async def import_orders_page(self, request: Request[Any, Any, Any], store_id: FromPath[UUID],
                                 db_session: NamedDependency[AsyncSession]) -> Response[Any]:
        store = await _service(request, db_session).get(request.user, store_id)
        upload = (await request.form()).get("file")
        try:
            if not isinstance(upload, UploadFile) or not upload.filename:
                raise InvalidInput({"file": gettext('Choose a CSV file to upload.')})
            result = await _import(request, db_session, store, await upload.read())
        except InvalidInput as exc:
            return await self._detail(request, db_session, store_id, errors=exc.errors, status_code=422)
        flash(request, gettext("%(orders)s order(s) imported (%(created)s new).", orders=result.orders,
                               created=result.created))
        return redirect(request, f"/brand/stores/{store_id}")

    @post("/{store_id:uuid}/simulated/orders/{order_id:str}/fulfil", guards=[MANAGERS])
    async def simulated_fulfil(self, request: Request[Any, Any, Any], store_id: FromPath[UUID],
                               order_id: FromPath[str], db_session: NamedDependency[AsyncSession]) -> Response[Any]:
        """The simulated shop's warehouse ships an order: its fulfilment webhook ships the deal like a real shop's."""
        shop = await _simulated_shop(request, db_session, store_id)
        form = await request.form()
        carrier = str(form.get("carrier") or "UPS").strip()[:60] or "UPS"
        try:
            number = await shop.fulfil(order_id, carrier=carrier)
        except StoreError as exc:
            raise NotFound(exc.message) from exc
        flash(request, gettext("Shipped with %(carrier)s, tracking %(number)s. The deal moves to shipped in a moment.",
                               carrier=carrier, number=number))
        return redirect(request, f"/brand/stores/{store_id}")

    @post("/{store_id:uuid}/simulated/orders", guards=[MANAGERS])
    async def simulated_order(self, request: Request[Any, Any, Any], store_id: FromPath[UUID],
                              db_session: NamedDependency[AsyncSession]) -> Response[Any]:
        """A customer order in the simulated shop (optionally with a creator's code or link), for trying sales
        attribution: it reaches PostPact through the same intake as a real shop's ``orders/create`` webhook."""
        shop = await _simulated_shop(request, db_session, store_id)
        form = {k: str(v) for k, v in (await request.form()).items()}
        errors: dict[str, str] = {}
        variant = await db_session.scalar(sa.select(StoreVariant).where(
            StoreVariant.store_id == store_id, StoreVariant.id == _uuid_or_none(form.get("variant_id"))))
        if variant is None:
            errors["variant_id"] = gettext('Choose a product to buy.')
        quantity = int(form["quantity"]) if form.get("quantity", "1").strip().isdigit() else 0
        if not 1 <= quantity <= 20:
            errors["quantity"] = gettext('Buy between 1 and 20.')
        code = form.get("discount_code", "").strip().upper()[:60]
        landing = form.get("landing_site", "").strip()[:2000]
        percent_raw = form.get("discount_percent", "").strip() or "0"
        percent = int(percent_raw) if percent_raw.isdigit() else -1
        if not 0 <= percent <= 100:
            errors["discount_percent"] = gettext('Enter a discount between 0 and 100 (%).')
        if errors:
            return await self._detail(request, db_session, store_id, errors=errors, status_code=422)
        assert variant is not None
        discount = variant.price_amount * quantity * percent // 100 if code else 0
        try:
            placed = await shop.place_order([(variant.external_id, quantity)], discount_code=code or None,
                                            discount_amount=discount, landing_site=landing or None,
                                            email=form.get("email", "").strip()[:320] or None)
        except StoreError as exc:
            return await self._detail(request, db_session, store_id, errors={"variant_id": exc.message},
                                      status_code=422)
        flash(request, gettext('Order %(name)s placed in the simulated shop.', name=placed.name))
        return redirect(request, f"/brand/stores/{store_id}")

    @post("/{store_id:uuid}/disconnect", guards=[MANAGERS])
    async def disconnect(self, request: Request[Any, Any, Any], store_id: FromPath[UUID],
                         db_session: NamedDependency[AsyncSession]) -> Response[Any]:
        await _service(request, db_session).disconnect(request.user, store_id)
        flash(request, gettext('Store disconnected; its secrets are deleted. Orders already received are kept.'))
        return redirect(request, "/brand/stores")

    @get("/gigs/{gig_id:uuid}", name="brand_gig_seeding")
    async def gig_seeding(self, request: Request[Any, Any, Any], gig_id: FromPath[UUID],
                          db_session: NamedDependency[AsyncSession]) -> Response[Any]:
        return await _gig_page(request, db_session, gig_id, results=None)

    @post("/gigs/{gig_id:uuid}/product", guards=[MANAGERS])
    async def pick_product(self, request: Request[Any, Any, Any], gig_id: FromPath[UUID],
                           db_session: NamedDependency[AsyncSession]) -> Response[Any]:
        raw = str((await request.form()).get("store_product_id") or "")
        try:
            product_id = UUID(raw) if raw else None
        except ValueError:
            product_id = None
        await pick_gig_product(db_session, request.user, gig_id, product_id)
        flash(request, gettext("The gig's product is set.") if product_id else
              gettext("The gig's product is typed by hand again."))
        return redirect(request, f"/brand/stores/gigs/{gig_id}")

    @post("/gigs/{gig_id:uuid}/seeding", guards=[MANAGERS])
    async def create_seeding(self, request: Request[Any, Any, Any], gig_id: FromPath[UUID],
                             db_session: NamedDependency[AsyncSession]) -> Response[Any]:
        form = await request.form()
        variants: dict[UUID, UUID] = {}
        for key, value in form.items():
            if key.startswith("variant.") and value:
                try:
                    variants[UUID(key[8:])] = UUID(str(value))
                except ValueError:
                    continue
        plans = await plan_for_gig(db_session, request.user, gig_id, runtime_of(request).clock.now(),
                                   variants=variants)
        return await _gig_page(request, db_session, gig_id, results=plans)


async def _simulated_shop(request: Request[Any, Any, Any], session: AsyncSession, store_id: UUID) -> SimulatedShop:
    service = _service(request, session)
    store = await service.get(request.user, store_id)
    if store.platform is not StorePlatform.SIMULATED:
        raise NotFound(gettext("This store isn't the simulated one."))
    return SimulatedShop(session, store, service.now)


def _uuid_or_none(raw: str | None) -> UUID | None:
    try:
        return UUID(str(raw or ""))
    except ValueError:
        return None


async def _gig_page(request: Request[Any, Any, Any], session: AsyncSession, gig_id: UUID,
                    results: Any) -> Response[Any]:
    actor: Actor = request.user
    gig = await session.scalar(sa.select(Gig).where(Gig.id == gig_id, Gig.brand_id == actor.brand_id))
    if gig is None:
        raise NotFound(gettext('No such gig.'))
    service = _service(request, session)
    product = await session.get(StoreProduct, gig.store_product_id) if gig.store_product_id else None
    variants = []
    if product is not None:
        variants = next((vs for p, vs in await service.products(actor, product.store_id, limit=1000)
                         if p.id == product.id), [])
    deals = (await session.execute(
        sa.select(Collaboration, SeedingOrder).outerjoin(SeedingOrder, SeedingOrder.collaboration_id ==
                                                         Collaboration.id)
        .where(Collaboration.gig_id == gig.id).order_by(Collaboration.created_at))).all()
    return render(request, "stores/gig.html", {
        "gig": gig, "product": product, "variants": variants, "deals": deals, "results": results,
        "choices": await service.catalog_choices(actor.brand_id)}, block="seeding")  # type: ignore[arg-type]


# --- JSON API -------------------------------------------------------------------------------------------------------


class StoreApi(Controller):
    path = "/api/v1"
    tags = ["stores"]
    guards = [brand_member()]

    @get("/stores", summary="The brand's connected stores", responses=problem_specs(401, 403))
    async def list_stores(self, request: Request[Any, Any, Any],
                          db_session: NamedDependency[AsyncSession]) -> list[StoreOut]:
        public_url = runtime_of(request).settings.app.public_url
        return [store_out(s, public_url) for s in await _service(request, db_session).list(request.user)]

    @post("/stores", summary="Connect a store", status_code=HTTP_201_CREATED,
          responses=problem_specs(400, 401, 403, 422))
    async def create_store(self, request: Request[Any, Any, Any], data: JSONBody[StoreIn],
                           db_session: NamedDependency[AsyncSession]) -> StoreOut:
        connected = await _service(request, db_session).connect(request.user, {
            "platform": data.platform, "name": data.name, "shop_url": data.shop_url,
            "access_token": data.access_token, "api_secret": data.api_secret, "webhook_secret": data.webhook_secret})
        queue_setup(db_session, connected.store)
        return store_out(connected.store, runtime_of(request).settings.app.public_url, connected.signing_secret)

    @get("/stores/{store_id:uuid}", summary="One store", responses=problem_specs(401, 403, 404))
    async def get_store(self, request: Request[Any, Any, Any], store_id: FromPath[UUID],
                        db_session: NamedDependency[AsyncSession]) -> StoreOut:
        store = await _service(request, db_session).get(request.user, store_id)
        return store_out(store, runtime_of(request).settings.app.public_url)

    @patch("/stores/{store_id:uuid}", summary="Rename a store or replace (rotate) its secrets",
           responses=problem_specs(400, 401, 403, 404, 422))
    async def update_store(self, request: Request[Any, Any, Any], store_id: FromPath[UUID],
                           data: JSONBody[StorePatch], db_session: NamedDependency[AsyncSession]) -> StoreOut:
        changed = await _service(request, db_session).update(request.user, store_id, {
            "name": data.name, "shop_url": data.shop_url, "access_token": data.access_token,
            "api_secret": data.api_secret, "webhook_secret": data.webhook_secret,
            "rotate_signing_secret": data.rotate_signing_secret})
        return store_out(changed.store, runtime_of(request).settings.app.public_url, changed.signing_secret)

    @delete("/stores/{store_id:uuid}", summary="Disconnect a store (secrets deleted, orders kept)",
            responses=problem_specs(401, 403, 404))
    async def delete_store(self, request: Request[Any, Any, Any], store_id: FromPath[UUID],
                           db_session: NamedDependency[AsyncSession]) -> None:
        await _service(request, db_session).disconnect(request.user, store_id)

    @post("/stores/{store_id:uuid}/test", summary="Call the store and say what is wrong", status_code=200,
          responses=problem_specs(401, 403, 404))
    async def test_store(self, request: Request[Any, Any, Any], store_id: FromPath[UUID],
                         db_session: NamedDependency[AsyncSession]) -> TestOut:
        result = await _service(request, db_session).test(request.user, store_id)
        return TestOut(result.ok, result.message)

    @post("/stores/{store_id:uuid}/sync", summary="Queue a catalog sync", status_code=HTTP_202_ACCEPTED,
          responses=problem_specs(401, 403, 404))
    async def sync_store(self, request: Request[Any, Any, Any], store_id: FromPath[UUID],
                         db_session: NamedDependency[AsyncSession]) -> TestOut:
        store = await _service(request, db_session).get(request.user, store_id)
        enqueue(db_session, SYNC_JOB, str(store.id))
        return TestOut(True, "Catalog sync queued.")

    @get("/stores/{store_id:uuid}/products", summary="The store's synced catalog",
         responses=problem_specs(401, 403, 404))
    async def products(self, request: Request[Any, Any, Any], store_id: FromPath[UUID],
                       db_session: NamedDependency[AsyncSession], after: FromQuery[UUID | None] = None,
                       limit: Annotated[int, QueryParameter(ge=1, le=200)] = 100) -> ProductListOut:
        rows = await _service(request, db_session).products(request.user, store_id, limit=limit, after=after)
        return ProductListOut([product_out(p, vs) for p, vs in rows],
                              next_after=rows[-1][0].id if len(rows) == limit else None)

    @patch("/stores/{store_id:uuid}/variants/{variant_id:uuid}", summary="Set a variant's unit cost to the brand",
           responses=problem_specs(400, 401, 403, 404, 422))
    async def variant_cost(self, request: Request[Any, Any, Any], store_id: FromPath[UUID],
                           variant_id: FromPath[UUID], data: JSONBody[VariantCostIn],
                           db_session: NamedDependency[AsyncSession]) -> VariantOut:
        variant = await _service(request, db_session).set_variant_cost(request.user, store_id, variant_id,
                                                                       data.cost_amount)
        return variant_out(variant)

    @post("/stores/{store_id:uuid}/orders/import", summary="Import orders from a CSV (stores without webhooks)",
          status_code=200, responses=problem_specs(400, 401, 403, 404, 415, 422))
    async def import_orders(self, request: Request[Any, Any, Any], store_id: FromPath[UUID],
                            db_session: NamedDependency[AsyncSession]) -> OrderImportOut:
        """A ``text/csv`` body (or a multipart ``file`` part) with the columns order_id and total, and optionally
        order_name, email, currency, subtotal, tax, refunded, discount_codes, landing_site, placed_at, cancelled.
        Every row is checked first: one bad row imports nothing."""
        store = await _service(request, db_session).get(request.user, store_id)
        result = await _import(request, db_session, store, await _csv_body(request))
        return OrderImportOut(result.orders, result.created)

    @post("/gigs/{gig_id:uuid}/seeding-orders", summary="Create seeding orders for the gig's funded deals",
          status_code=HTTP_202_ACCEPTED, responses=problem_specs(400, 401, 403, 404, 422))
    async def seeding_orders(self, request: Request[Any, Any, Any], gig_id: FromPath[UUID],
                             db_session: NamedDependency[AsyncSession],
                             data: JSONBody[SeedingIn | None] = None) -> SeedingListOut:
        data = data or SeedingIn()
        plans = await plan_for_gig(db_session, request.user, gig_id, runtime_of(request).clock.now(),
                                   collaboration_ids=data.collaboration_ids, variants=data.variants)
        return seeding_out(plans)

    @post("/gigs/{gig_id:uuid}/store-product", summary="Pick the gig's product from a connected store",
          status_code=200, responses=problem_specs(400, 401, 403, 404, 422))
    async def gig_product(self, request: Request[Any, Any, Any], gig_id: FromPath[UUID],
                          data: JSONBody[GigProductIn], db_session: NamedDependency[AsyncSession]) -> TestOut:
        gig = await pick_gig_product(db_session, request.user, gig_id, data.store_product_id)
        return TestOut(True, f"{gig.title}: product {'set' if gig.store_product_id else 'cleared'}.")


async def _import(request: Request[Any, Any, Any], session: AsyncSession, store: StoreConnection,
                  data: bytes) -> CsvImport:
    actor: Actor = request.user
    if actor.brand_role not in (BrandRole.OWNER, BrandRole.MANAGER):
        raise Forbidden(gettext('Only owners and managers import orders.'))
    runtime = runtime_of(request)
    return await import_orders(session, store, data, runtime.settings, runtime.clock)


async def _csv_body(request: Request[Any, Any, Any]) -> bytes:
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if content_type == "multipart/form-data":
        upload = (await request.form()).get("file")
        if not isinstance(upload, UploadFile):
            raise InvalidInput({"file": gettext("Send the CSV as the multipart part named 'file'.")})
        return await upload.read()
    if content_type in ("text/csv", "text/plain", "application/csv"):
        return await request.body()
    raise UnsupportedMediaType("Send the CSV as text/csv, or as multipart/form-data with a 'file' part.")


ROUTES = [StorePages, StoreApi, StoreWebhooks, CustomStorePush]
