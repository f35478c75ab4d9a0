"""Store orders attributed to a deal become ``sales.*`` events for the brand and the creator (an order listener,
registered in ``marketplace/listeners.py`` after the attribution itself, so it reads the attribution just decided)."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from marketplace.sales.models import CommissionState, SaleAttribution
from marketplace.stores.models import StoreConnection, StoreOrder
from marketplace.webhooks.services import record_event


class SalesWebhookListener:
    """One event per distinct version of an attributed order: ``sales.order_attributed`` when it is credited to a
    deal (again with new amounts after a refund), ``sales.order_cancelled`` when the credit is withdrawn."""

    async def order_changed(self, session: AsyncSession, store: StoreConnection, order: StoreOrder,
                            now: datetime) -> None:
        row = await session.scalar(sa.select(SaleAttribution).where(SaleAttribution.store_order_id == order.id))
        if row is None or row.collaboration_id is None or row.state is CommissionState.NONE:
            return
        kind = "sales.order_cancelled" if row.state is CommissionState.CANCELLED else "sales.order_attributed"
        version = f"{row.state.value}:{row.base_amount}:{row.commission_amount}"
        await record_event(session, kind=kind, source_key=f"sale:{row.id}:{version}", occurred_at=now, now=now,
                           brand_id=store.brand_id, creator_id=row.creator_id, collaboration_id=row.collaboration_id,
                           data={
                               "order_id": str(order.id), "order_name": order.name, "store_id": str(store.id),
                               "deal_id": str(row.collaboration_id), "gig_id": str(row.gig_id),
                               "creator_id": str(row.creator_id), "reason": row.reason,
                               "placed_at": row.placed_at.isoformat() if row.placed_at else None,
                               "currency": row.currency, "base_amount": row.base_amount,
                               "commission_bps": row.commission_bps, "commission_amount": row.commission_amount,
                               "commission_state": row.state.value,
                           })
