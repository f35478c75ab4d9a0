"""A tracking CSV (deal id, or creator email / handle, plus carrier and tracking number) turned into shipment items."""

from __future__ import annotations

import contextlib
from uuid import UUID

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from marketplace.accounts.models import User
from marketplace.bulk.services import NewItem
from marketplace.collaborations.models import Collaboration
from marketplace.collaborations.states import CollabState
from marketplace.creators.models import Creator, SocialAccount
from marketplace.csvfiles import read_csv
from marketplace.errors import InvalidInput
from marketplace.i18n import gettext

#: Header spellings people use, mapped to our columns (compared lower-case, spaces and dashes as underscores).
COLUMNS = {
    "deal_id": "deal_id", "deal": "deal_id", "collaboration_id": "deal_id", "collaboration": "deal_id",
    "email": "email", "creator_email": "email",
    "handle": "handle", "creator_handle": "handle", "tiktok": "handle", "instagram": "handle", "youtube": "handle",
    "carrier": "carrier", "courier": "carrier",
    "tracking_number": "tracking_number", "tracking": "tracking_number", "tracking_no": "tracking_number",
    "tracking_url": "tracking_url", "tracking_link": "tracking_url",
}


def _column(header: str) -> str | None:
    return COLUMNS.get(header.strip().lower().replace(" ", "_").replace("-", "_").lstrip("#"))


async def _funded_deals(session: AsyncSession, brand_id: UUID, creator_ids: list[UUID],
                        gig_id: UUID | None) -> dict[UUID, list[UUID]]:
    query = sa.select(Collaboration.creator_id, Collaboration.id).where(
        Collaboration.brand_id == brand_id, Collaboration.creator_id.in_(creator_ids),
        Collaboration.status == CollabState.FUNDED, Collaboration.product_included.is_(True))
    if gig_id is not None:
        query = query.where(Collaboration.gig_id == gig_id)
    deals: dict[UUID, list[UUID]] = {}
    for creator_id, deal_id in (await session.execute(query.order_by(Collaboration.id))).all():
        deals.setdefault(creator_id, []).append(deal_id)
    return deals


async def tracking_items(session: AsyncSession, brand_id: UUID, data: bytes | str, *,
                         gig_id: UUID | None = None) -> list[NewItem]:
    """One item per data row. Rows that name no deal of this brand become failed items with the reason (row and
    column), so the progress page is the per-row report; rows with a bad tracking number fail when shipped."""
    table = read_csv(data, max_rows=10_000)
    columns = [_column(h) for h in table.header]
    present = set(columns)
    missing = [c for c in ("carrier", "tracking_number") if c not in present]
    if missing:
        raise InvalidInput(
            {
                "file": gettext(
                    "The file needs a %(missing)s column (found: %(header)s).",
                    missing=" and a ".join(missing),
                    header=", ".join(table.header),
                )
            }
        )
    if not present & {"deal_id", "email", "handle"}:
        raise InvalidInput({"file": gettext('Name each deal with a deal_id, email or handle column.')})
    rows = []
    for number, record in table.records():
        row = {col: record[h].strip() for h, col in zip(table.header, columns, strict=True) if col}
        rows.append((number, row))
    emails = {r.get("email", "").lower() for _, r in rows if r.get("email")}
    handles = {r.get("handle", "").lower().lstrip("@") for _, r in rows if r.get("handle")}
    by_email = dict((await session.execute(
        sa.select(sa.func.lower(User.email), Creator.id).join(Creator, Creator.user_id == User.id)
        .where(sa.func.lower(User.email).in_(emails)))).all()) if emails else {}
    by_handle = dict((await session.execute(
        sa.select(SocialAccount.handle, SocialAccount.creator_id).where(SocialAccount.handle.in_(handles))
    )).all()) if handles else {}
    deal_ids: list[UUID] = []
    for _, r in rows:
        with contextlib.suppress(ValueError):
            deal_ids.append(UUID(r.get("deal_id", "")))
    own = set(await session.scalars(sa.select(Collaboration.id).where(
        Collaboration.brand_id == brand_id, Collaboration.id.in_(deal_ids)))) if deal_ids else set()
    funded = await _funded_deals(session, brand_id, list({*by_email.values(), *by_handle.values()}), gig_id)
    items: list[NewItem] = []
    seen: dict[UUID, int] = {}
    for number, r in rows:
        label = f"Row {number}"
        data = {k: r.get(k, "") for k in ("carrier", "tracking_number", "tracking_url")}
        target, error = _resolve(r, own, by_email, by_handle, funded)
        if target is not None and target in seen:
            target, error = None, f"The same deal is already on row {seen[target]}."
        if target is not None:
            seen[target] = number
        who = r.get("email") or r.get("handle") or r.get("deal_id") or ""
        items.append(NewItem(target, f"{label}: {who}"[:200], data, f"{label}: {error}" if error else None))
    if not items:
        raise InvalidInput({"file": gettext('The file has a header but no rows.')})
    return items


def _resolve(r: dict[str, str], own: set[UUID], by_email: dict[str, UUID], by_handle: dict[str, UUID],
             funded: dict[UUID, list[UUID]]) -> tuple[UUID | None, str | None]:
    if r.get("deal_id"):
        try:
            deal = UUID(r["deal_id"])
        except ValueError:
            return None, f"deal_id “{r['deal_id'][:60]}” is not a deal id."
        return (deal, None) if deal in own else (None, "deal_id names none of your deals.")
    if r.get("email"):
        creator, who = by_email.get(r["email"].lower()), r["email"][:100]
    elif r.get("handle"):
        creator, who = by_handle.get(r["handle"].lower().lstrip("@")), "@" + r["handle"].lstrip("@")[:100]
    else:
        return None, "give a deal_id, email or handle."
    if creator is None:
        return None, f"no creator on PostPact is {who}."
    deals = funded.get(creator, [])
    if not deals:
        return None, f"{who} has no funded deal of yours waiting for its product."
    if len(deals) > 1:
        return None, f"{who} has {len(deals)} deals waiting for a product; give the deal_id."
    return deals[0], None
