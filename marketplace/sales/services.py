"""Sales services: a signed deal's code and link, codes entered by hand, and attributing store orders (the rules
live in marketplace.sales.attribution; this module feeds them rows and stores their answer)."""

from __future__ import annotations

import logging
import re
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import quote, urlencode, urlsplit, urlunsplit
from uuid import UUID

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from marketplace.accounts.auth import Actor
from marketplace.accounts.models import User
from marketplace.brands.models import Brand, BrandRole
from marketplace.clock import as_utc
from marketplace.collaborations.models import Collaboration
from marketplace.collaborations.states import CollabState
from marketplace.collaborations.transition import Change
from marketplace.creators.models import Creator, SocialAccount
from marketplace.errors import Forbidden, InvalidInput, NotFound
from marketplace.gigs.models import Gig
from marketplace.i18n import gettext
from marketplace.jobs import enqueue
from marketplace.sales import rollup
from marketplace.sales.attribution import (
    ORDER_TIME_PRECISION,
    Candidates,
    DealCode,
    OrderFacts,
    attribute,
    commission,
    commission_base,
    ref_in,
)
from marketplace.sales.commission import DEFAULT_HOLD_DAYS, next_state, payable_at
from marketplace.sales.models import (
    CodeStatus,
    CommissionState,
    DealTracking,
    DiscountKind,
    GigSalesSettings,
    LinkClick,
    SaleAttribution,
)
from marketplace.stores.models import StoreConnection, StoreOrder, StorePlatform, StoreProduct

log = logging.getLogger(__name__)

CREATE_CODE_JOB = "sales.create_discount_code"
DEFAULT_WINDOW_DAYS = 30
#: Deals ending here stop their code counting (orders after it are outside the code's validity).
_ENDINGS = frozenset({CollabState.CANCELLED, CollabState.GHOSTED, CollabState.REFUNDED})
_CODE_CHARS = re.compile(r"[^A-Z0-9]")


def defaults(gig_id: UUID) -> GigSalesSettings:
    return GigSalesSettings(gig_id=gig_id, discount_kind=DiscountKind.PERCENT, discount_value=15, usage_limit=None,
                            landing_url="", attribution_window_days=DEFAULT_WINDOW_DAYS, hold_days=DEFAULT_HOLD_DAYS)


async def sales_settings(session: AsyncSession, gig_id: UUID) -> GigSalesSettings:
    found = await session.scalar(sa.select(GigSalesSettings).where(GigSalesSettings.gig_id == gig_id))
    return found or defaults(gig_id)


def code_for(handle: str, gig_title: str, settings: GigSalesSettings) -> str:
    """``AVA-GLOW15``: the creator's handle, the gig's first word and the discount (percent, or whole currency
    units off)."""
    who = _CODE_CHARS.sub("", handle.upper())[:12] or "CREATOR"
    word = next((w for w in (_CODE_CHARS.sub("", part) for part in gig_title.upper().split()) if w), "")[:10]
    value = settings.discount_value if settings.discount_kind is DiscountKind.PERCENT else \
        settings.discount_value // 100
    return f"{who}-{word}{value}" if word else f"{who}-{value}"


def code_tag(collab_id: UUID) -> str:
    return f"postpact-collab-{collab_id}-code"


def target_url(landing: str, *, platform: StorePlatform | None, code: str | None, slug: str, campaign: str,
               handle: str) -> str:
    """The link's destination: the landing page with UTM parameters and our ``ref``; on Shopify through
    ``/discount/{code}?redirect=...`` so the code is already applied at checkout."""
    parts = urlsplit(landing if "://" in landing else f"https://{landing}")
    utm = urlencode({"utm_source": "postpact", "utm_medium": "creator", "utm_campaign": campaign,
                     "utm_content": handle, "ref": slug})
    query = f"{parts.query}&{utm}" if parts.query else utm
    if platform is StorePlatform.SHOPIFY and code:
        path = urlunsplit(("", "", parts.path or "/", query, ""))
        return urlunsplit((parts.scheme, parts.netloc, f"/discount/{quote(code)}", f"redirect={quote(path, safe='')}",
                           ""))
    return urlunsplit((parts.scheme, parts.netloc, parts.path or "/", query, ""))


def _slug(handle: str) -> str:
    return f"{re.sub(r'[^a-z0-9]', '', handle.lower())[:12] or 'c'}-{secrets.token_hex(4)}"


async def _store_for(session: AsyncSession, gig: Gig) -> StoreConnection | None:
    """The gig's product's store, else the brand's first connected store."""
    if gig.store_product_id is not None:
        store = await session.scalar(sa.select(StoreConnection).join(
            StoreProduct, StoreProduct.store_id == StoreConnection.id).where(
            StoreProduct.id == gig.store_product_id, StoreConnection.disconnected_at.is_(None)))
        if store is not None:
            return store
    return await session.scalar(sa.select(StoreConnection).where(
        StoreConnection.brand_id == gig.brand_id, StoreConnection.disconnected_at.is_(None))
        .order_by(StoreConnection.created_at).limit(1))


async def _free_code(session: AsyncSession, brand_id: UUID, code: str) -> str:
    taken = set((await session.scalars(sa.select(DealTracking.code).where(
        DealTracking.brand_id == brand_id, DealTracking.code.like(f"{code}%")))).all())
    if code not in taken:
        return code
    n = 2
    while f"{code}-{n}" in taken:
        n += 1
    return f"{code}-{n}"


async def create_tracking(session: AsyncSession, collab: Collaboration, now: datetime) -> DealTracking:
    """The deal's code and link, once (a second call returns the first). The tag is written here, in the signing
    transaction; the job that creates the code in the store runs after it commits."""
    existing = await session.scalar(sa.select(DealTracking).where(DealTracking.collaboration_id == collab.id))
    if existing is not None:
        return existing
    gig = await session.get(Gig, collab.gig_id)
    account = await session.get(SocialAccount, collab.social_account_id)
    brand = await session.get(Brand, collab.brand_id)
    assert gig is not None and account is not None and brand is not None
    settings = await sales_settings(session, gig.id)
    store = await _store_for(session, gig)
    code = await _free_code(session, collab.brand_id, code_for(account.handle, gig.title, settings))
    slug = _slug(account.handle)
    landing = settings.landing_url or (store.shop_url if store is not None else "") or brand.website or ""
    if store is None or store.platform is StorePlatform.CUSTOM:
        status = CodeStatus.BLOCKED
        message = f"No store PostPact can create codes in: create {code} in your store, then confirm it here."
    else:
        status, message = CodeStatus.PENDING, "Waiting for the store."
    tracking = DealTracking(
        collaboration_id=collab.id, brand_id=collab.brand_id, creator_id=collab.creator_id, gig_id=gig.id,
        store_id=store.id if store else None, code=code, code_status=status, tag=code_tag(collab.id),
        message=message, valid_from=now, slug=slug,
        target_url=target_url(landing, platform=store.platform if store else None, code=code, slug=slug,
                              campaign=re.sub(r"[^a-z0-9]+", "-", gig.title.lower()).strip("-")[:60],
                              handle=account.handle) if landing else "",
        created_at=now, updated_at=now)
    session.add(tracking)
    await session.flush()
    if status is CodeStatus.PENDING:
        enqueue(session, CREATE_CODE_JOB, str(collab.id))
    return tracking


class SalesListener:
    """On signing: the deal's discount code (created in the store by a job) and its tracking link. When the deal
    ends without the work (cancelled, ghosted, refunded), its code stops counting."""

    async def after_transition(self, session: AsyncSession, change: Change) -> None:
        if not change.changed:
            return
        if change.to_state is CollabState.SIGNED:
            await create_tracking(session, change.collaboration, change.now)
        elif change.to_state in _ENDINGS:
            await session.execute(sa.update(DealTracking).where(
                DealTracking.collaboration_id == change.collaboration.id).values(valid_until=change.now))


async def tracking_for(session: AsyncSession, actor: Actor,
                       collab_id: UUID) -> tuple[Collaboration, DealTracking | None]:
    """A deal's tracking as its brand or its creator sees it; anyone else gets 404."""
    collab = await session.get(Collaboration, collab_id)
    if collab is None or not (
            (actor.is_brand and collab.brand_id == actor.brand_id)
            or (actor.is_creator and collab.creator_id == actor.creator_id)):
        raise NotFound(gettext('No such collaboration.'))
    tracking = await session.scalar(sa.select(DealTracking).where(DealTracking.collaboration_id == collab_id))
    return collab, tracking


async def record_manual_code(session: AsyncSession, actor: Actor, collab_id: UUID, raw_code: str,
                             now: datetime) -> DealTracking:
    """The brand created the code in its store by hand: orders carrying it count from now on."""
    if not actor.is_brand:
        raise NotFound(gettext('No such collaboration.'))
    if actor.brand_role not in (BrandRole.OWNER, BrandRole.MANAGER):
        raise Forbidden(gettext('Only owners and managers record discount codes.'))
    _, tracking = await tracking_for(session, actor, collab_id)
    if tracking is None:
        raise NotFound(gettext('This deal has no tracking yet: it gets a code and a link when it is signed.'))
    code = raw_code.strip().upper()
    if not re.fullmatch(r"[A-Z0-9][A-Z0-9_-]{2,59}", code):
        raise InvalidInput({"code": gettext('3 to 60 letters, digits, - or _.')})
    clash = await session.scalar(sa.select(DealTracking.id).where(
        DealTracking.brand_id == tracking.brand_id, DealTracking.code == code, DealTracking.id != tracking.id))
    if clash is not None:
        raise InvalidInput({"code": gettext('Another of your deals already uses this code.')})
    tracking.code, tracking.code_status, tracking.updated_at = code, CodeStatus.MANUAL, now
    tracking.message = "Entered by the brand."
    return tracking


# -- attribution ----------------------------------------------------------------------------------------------------

class AttributionListener:
    """Told by the stores area whenever an order or a refund was saved (marketplace.stores.processing): the order
    is attributed again, in the same transaction."""

    async def order_changed(self, session: AsyncSession, store: StoreConnection, order: StoreOrder,
                            now: datetime) -> None:
        await attribute_order(session, order, store.brand_id, now)


@dataclass(frozen=True)
class DealTerms:
    """What a deal's commission needs: who, which gig, the signed rate and the gig's hold."""

    creator_id: UUID
    gig_id: UUID
    commission_bps: int
    hold_days: int


def _terms_columns() -> tuple[Any, ...]:
    return (Collaboration.id, Collaboration.creator_id, Collaboration.gig_id, Collaboration.terms,
            GigSalesSettings.hold_days)


def _terms(row: Any) -> DealTerms:
    return DealTerms(row.creator_id, row.gig_id, int((row.terms or {}).get("commission_bps") or 0),
                     DEFAULT_HOLD_DAYS if row.hold_days is None else row.hold_days)


async def _candidates(session: AsyncSession, brand_id: UUID, codes: list[str], slug: str | None,
                      placed_at: datetime | None) -> tuple[Candidates, dict[UUID, DealTerms]]:
    """The brand's deals an order's codes or ref name, with what the rules and the commission need: one statement."""
    conditions = []
    if codes:
        conditions.append(DealTracking.code.in_(codes))
    if slug:
        conditions.append(DealTracking.slug == slug)
    if not conditions:
        return Candidates({}, {}), {}
    last_click = sa.select(sa.func.max(LinkClick.clicked_at)).where(
        LinkClick.tracking_id == DealTracking.id,
        *([LinkClick.clicked_at < placed_at + ORDER_TIME_PRECISION] if placed_at is not None else [])).scalar_subquery()
    rows = (await session.execute(
        sa.select(DealTracking.code, DealTracking.slug, DealTracking.valid_from, DealTracking.valid_until,
                  Collaboration.currency, User.email, GigSalesSettings.attribution_window_days,
                  (last_click if slug else sa.null()).label("clicked"), *_terms_columns())
        .join(Collaboration, Collaboration.id == DealTracking.collaboration_id)
        .join(Creator, Creator.id == DealTracking.creator_id).join(User, User.id == Creator.user_id)
        .outerjoin(GigSalesSettings, GigSalesSettings.gig_id == DealTracking.gig_id)
        .where(DealTracking.brand_id == brand_id, sa.or_(*conditions)))).all()
    by_code, by_slug, terms = {}, {}, {}
    for row in rows:
        deal = DealCode(row.id, row.code, row.slug, row.email, row.currency, as_utc(row.valid_from),
                        as_utc(row.valid_until) if row.valid_until else None,
                        timedelta(days=row.attribution_window_days or DEFAULT_WINDOW_DAYS),
                        as_utc(row.clicked) if row.clicked else None)
        by_code[row.code], by_slug[row.slug], terms[row.id] = deal, deal, _terms(row)
    return Candidates(by_code, by_slug), terms


def order_facts(order: StoreOrder) -> OrderFacts:
    codes = [str(c.get("code") if isinstance(c, dict) else c or "").strip().upper() for c in order.discount_codes or []]
    return OrderFacts(email=order.email, currency=order.currency, placed_at=as_utc(order.placed_at)
                      if order.placed_at else None, codes=[c for c in codes if c], landing_site=order.landing_site)


async def attribute_order(session: AsyncSession, order: StoreOrder, brand_id: UUID,
                          now: datetime) -> SaleAttribution | None:
    """Decide (again) what ``order`` means for sales, from the order as we hold it now: the same order gives the
    same row, so duplicated and reordered deliveries change nothing twice. Paid commission keeps its deal, and so
    does an order whose customer data was redacted. Four statements: the row, the candidates, the write, and the
    change to its day in the roll-up."""
    if order.placed_at is None and not order.total_amount:
        return None  # only a refund for an order we haven't seen yet: decided when the order arrives
    row = await session.scalar(sa.select(SaleAttribution).where(SaleAttribution.store_order_id == order.id)
                               .with_for_update())
    facts = order_facts(order)
    before = rollup.contribution(row) if row is not None else None
    deal: DealTerms | None = None
    if row is not None and (row.paid_amount > 0 or order.redacted_at is not None):
        collab_id, reason, detail = row.collaboration_id, row.reason, row.detail.split(" | ")[0]
        if collab_id is not None:
            found = (await session.execute(sa.select(*_terms_columns()).outerjoin(
                GigSalesSettings, GigSalesSettings.gig_id == Collaboration.gig_id)
                .where(Collaboration.id == collab_id))).first()
            deal = _terms(found) if found else None
    else:
        candidates, terms = await _candidates(session, brand_id, list(facts.codes), ref_in(facts.landing_site),
                                              facts.placed_at)
        decision = attribute(facts, candidates)
        collab_id, reason, detail = decision.collaboration_id, decision.reason, decision.detail
        deal = terms.get(collab_id) if collab_id else None
    base = commission_base(merchandise=order.subtotal_amount, total=order.total_amount,
                           refunded=order.refunded_amount, cancelled=order.cancelled_at is not None)
    if row is None:
        row = SaleAttribution(store_order_id=order.id, brand_id=brand_id, paid_amount=0, created_at=now)
        session.add(row)
    row.collaboration_id = collab_id if deal else None
    row.creator_id, row.gig_id = (deal.creator_id, deal.gig_id) if deal else (None, None)
    row.reason, row.detail = reason, (f"{detail} | {base.note}" if base.note else detail)[:500]
    row.placed_at, row.currency = facts.placed_at, order.currency
    row.base_amount = base.amount if deal else 0
    row.commission_bps = deal.commission_bps if deal else 0
    row.commission_amount = commission(row.base_amount, row.commission_bps)
    row.payable_at = payable_at(facts.placed_at, deal.hold_days) if deal else None
    row.state = next_state(attributed=deal is not None, commission=row.commission_amount, paid=row.paid_amount,
                           approved=row.approved_at is not None)
    if row.state in (CommissionState.NONE, CommissionState.CANCELLED):
        row.approved_at = None
    row.updated_at = now
    await session.flush()
    await rollup.apply_change(session, before, rollup.contribution(row))
    return row


async def approve_due(session: AsyncSession, now: datetime) -> int:
    """Pending commission whose hold passed becomes approved: one set-based UPDATE, safe to run twice."""
    result = await session.execute(sa.update(SaleAttribution).where(
        SaleAttribution.state == CommissionState.PENDING, SaleAttribution.payable_at <= now)
        .values(state=CommissionState.APPROVED, approved_at=now, updated_at=now))
    return int(result.rowcount or 0)  # type: ignore[attr-defined]


# -- a gig's sales settings -----------------------------------------------------------------------------------------

_LANDING = re.compile(r"^https://[^\s/?#]+(/[^\s]*)?$|^http://(127\.0\.0\.1|localhost)(:\d+)?(/[^\s]*)?$",
                      re.IGNORECASE)


def _whole(raw: Any, name: str, low: int, high: int, errors: dict[str, str], *, optional: bool = False) -> int | None:
    text = "" if raw is None else str(raw).strip()
    if optional and text == "":
        return None
    try:
        value = int(text)
    except ValueError:
        errors[name] = gettext('A whole number from %(low)s to %(high)s.', low=low, high=high)
        return None
    if not low <= value <= high:
        errors[name] = gettext('A whole number from %(low)s to %(high)s.', low=low, high=high)
    return value


def parse_sales_settings(raw: dict[str, Any]) -> dict[str, Any]:
    """Form or JSON values, checked: every bad field named at once (InvalidInput), nothing half-applied.
    ``discount_value``: a whole percentage, or for a fixed discount an amount in minor units of the gig's currency."""
    errors: dict[str, str] = {}
    kind = str(raw.get("discount_kind") or "percent").strip().lower()
    if kind not in (DiscountKind.PERCENT.value, DiscountKind.FIXED.value):
        errors["discount_kind"] = gettext('percent or fixed.')
    value = _whole(raw.get("discount_value"), "discount_value", 1, 100 if kind == "percent" else 10_000_000, errors)
    usage = _whole(raw.get("usage_limit"), "usage_limit", 1, 1_000_000, errors, optional=True)
    window = _whole(raw.get("attribution_window_days", DEFAULT_WINDOW_DAYS), "attribution_window_days", 1, 365,
                    errors)
    hold = _whole(raw.get("hold_days", DEFAULT_HOLD_DAYS), "hold_days", 0, 90, errors)
    landing = str(raw.get("landing_url") or "").strip()
    if landing and (len(landing) > 2000 or not _LANDING.match(landing)):
        errors["landing_url"] = gettext(
            "An https:// address of your shop (or leave it empty for the store's home page).")
    if errors:
        raise InvalidInput(errors)
    return {"discount_kind": DiscountKind(kind), "discount_value": value, "usage_limit": usage,
            "attribution_window_days": window, "hold_days": hold, "landing_url": landing}


async def save_sales_settings(session: AsyncSession, actor: Actor, gig_id: UUID, raw: dict[str, Any],
                              now: datetime) -> GigSalesSettings:
    """Set how the gig's future deals sell (deals already signed keep their code and link)."""
    if not actor.is_brand:
        raise NotFound(gettext('No such gig.'))
    if actor.brand_role not in (BrandRole.OWNER, BrandRole.MANAGER):
        raise Forbidden(gettext('Only owners and managers change gigs.'))
    gig = await session.scalar(sa.select(Gig).where(Gig.id == gig_id, Gig.brand_id == actor.brand_id))
    if gig is None:
        raise NotFound(gettext('No such gig.'))
    values = parse_sales_settings(raw)
    found = await session.scalar(sa.select(GigSalesSettings).where(GigSalesSettings.gig_id == gig_id)
                                 .with_for_update())
    if found is None:
        found = GigSalesSettings(gig_id=gig_id, created_at=now)
        session.add(found)
    for name, value in values.items():
        setattr(found, name, value)
    found.updated_at = now
    await session.flush()
    return found
