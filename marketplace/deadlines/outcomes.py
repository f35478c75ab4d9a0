"""Reputation outcomes the deadline engine observes (ghosting, brand no-show, late release, removed post).

Every outcome is written into the payload of the collaboration event that records it, so it can be replayed into
the reputation engine at any time. When the reputation area is installed, ``reputation.services.record_outcome``
is also called in the same transaction (it records each (collaboration, subject, kind) once).
"""

from __future__ import annotations

import importlib
import logging
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from escrow.money import CURRENCY_EXPONENTS
from marketplace.collaborations.models import Collaboration

log = logging.getLogger(__name__)

#: reputation.events.EventKind values (the database stores these strings).
CREATOR_GHOSTED = "creator.ghosted"
CREATOR_POST_REMOVED = "creator.post_removed"
BRAND_DID_NOT_SHIP = "brand.did_not_ship"
BRAND_LATE_RELEASE = "brand.late_release"

RECORDER_MODULE = "reputation.services"
RECORDER_NAME = "record_outcome"


def outcome(collab: Collaboration, kind: str, at: datetime) -> dict[str, Any]:
    """The replayable description of an outcome, stored under ``payload["reputation"]`` of the event."""
    subject = kind.split(".", 1)[0]
    subject_id = collab.creator_id if subject == "creator" else collab.brand_id
    return {
        "kind": kind,
        "subject": subject,
        "subject_id": str(subject_id),
        "at": at.isoformat(),
        "deal_value_minor": deal_value_minor(collab),
        "currency": collab.currency,
    }


def deal_value_minor(collab: Collaboration) -> int:
    """What was at stake for the reputation weight: the fee plus the product's retail value."""
    product = int((collab.terms or {}).get("product_retail_value") or 0) if collab.product_included else 0
    return int(collab.fee_amount) + product


async def report_outcome(session: AsyncSession, collab: Collaboration, kind: str, at: datetime) -> bool:
    """Hand the outcome to the reputation engine if it is there; returns whether it was handed over."""
    try:
        module = importlib.import_module(RECORDER_MODULE)
    except ImportError:
        log.info("reputation engine absent; outcome %s of %s kept on the event payload only", kind, collab.id)
        return False
    recorder = getattr(module, RECORDER_NAME, None)
    subject_type = getattr(module, "Subject", None)
    if recorder is None or subject_type is None:
        return False
    creator_side = kind.startswith("creator.")
    subject = subject_type.creator(collab.creator_id) if creator_side else subject_type.brand(collab.brand_id)
    await recorder(
        session,
        subject=subject,
        kind=kind,
        collaboration_id=collab.id,
        deal_value_minor=deal_value_minor(collab),
        currency_exponent=CURRENCY_EXPONENTS.get(collab.currency.upper(), 2),
        occurred_at=at,
        counterparty_id=collab.brand_id if creator_side else collab.creator_id,
    )
    return True
