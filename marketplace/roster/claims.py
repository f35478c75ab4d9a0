"""Claim links: someone a brand imported follows the emailed link, becomes (or signs in as) a creator, and the
brand's roster entry is linked to that account; the link then lands on the gig it was sent for."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from uuid import UUID

import sqlalchemy as sa

from marketplace.brands.models import Brand
from marketplace.errors import Conflict
from marketplace.gigs.models import Gig
from marketplace.i18n import gettext
from marketplace.roster.csvio import CLAIM_LIFETIME_DAYS, CLAIM_PURPOSE
from marketplace.roster.models import RosterEntry
from marketplace.roster.services import RosterService

CLAIM_MAX_AGE = int(timedelta(days=CLAIM_LIFETIME_DAYS).total_seconds())


@dataclass
class PendingClaim:
    entry: RosterEntry
    brand: Brand
    gig: Gig | None

    @property
    def target(self) -> str:
        return f"/gigs/{self.gig.id}" if self.gig is not None else "/creator"


async def pending(roster: RosterService, token: str) -> PendingClaim | None:
    """The entry a claim token names, or None for a bad, expired or stale link."""
    payload = roster.runtime.signer.loads(CLAIM_PURPOSE, token, CLAIM_MAX_AGE)
    if payload is None:
        return None
    try:
        entry_id, brand_id = UUID(str(payload["e"])), UUID(str(payload["b"]))
        gig_id = UUID(str(payload["g"])) if payload.get("g") else None
    except (KeyError, ValueError):
        return None
    entry = await roster.session.scalar(
        sa.select(RosterEntry).where(RosterEntry.id == entry_id, RosterEntry.brand_id == brand_id))
    brand = await roster.session.get(Brand, brand_id)
    if entry is None or brand is None:
        return None
    gig = await roster.session.scalar(sa.select(Gig).where(Gig.id == gig_id, Gig.brand_id == brand_id)) \
        if gig_id else None
    return PendingClaim(entry, brand, gig)


async def link(roster: RosterService, claim: PendingClaim, creator_id: UUID) -> None:
    """Link the entry to the creator; claiming twice with the same account is harmless."""
    entry = await roster.session.scalar(
        sa.select(RosterEntry).where(RosterEntry.id == claim.entry.id).with_for_update())
    if entry is None:
        raise Conflict(gettext('This invitation is no longer valid.'))
    if entry.creator_id == creator_id:
        return
    if entry.creator_id is not None:
        raise Conflict(gettext('This invitation was already claimed by another account.'))
    already = await roster.session.scalar(sa.select(RosterEntry.id).where(
        RosterEntry.brand_id == entry.brand_id, RosterEntry.creator_id == creator_id))
    if already is None:
        entry.creator_id = creator_id
        await roster.session.flush()
