"""JSON shapes of the application API."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated
from uuid import UUID

import msgspec

from marketplace.applications.models import Application
from marketplace.applications.services import MAX_BATCH, ApplicantRow, Decision
from marketplace.clock import as_utc
from marketplace.creators.models import SocialAccount
from marketplace.gigs.schemas import MoneyIn, MoneyOut
from marketplace.openapi import NO_NUL, UUID_ITEMS, documented


class ApplicationIn(msgspec.Struct, forbid_unknown_fields=True):
    pitch: str | None = None
    #: One of your own social accounts, on a platform the gig is for.
    social_account_id: str | None = None
    #: Optional counter-offer for the base fee, in the gig's currency.
    counter_offer: MoneyIn | None = None


class ApplicationIdsIn(msgspec.Struct, forbid_unknown_fields=True):
    """Up to 500 applications of this gig, decided all or none."""

    application_ids: Annotated[list[str], documented(min_items=1, max_items=MAX_BATCH, items=UUID_ITEMS)] = []
    reason: Annotated[str | None, documented(max_length=500, pattern=NO_NUL)] = None


class DeclineIn(msgspec.Struct, forbid_unknown_fields=True):
    reason: str | None = None


class AccountOut(msgspec.Struct):
    id: UUID
    platform: str
    handle: str
    profile_url: str
    followers: int
    engagement_bps: int


class ApplicantCreatorOut(msgspec.Struct):
    id: UUID
    display_name: str
    country: str | None
    total_followers: int
    best_engagement_bps: int
    completed_collaborations: int
    collaborations_with_brand: int
    #: Proven reliability (0-1) and tier name; null for a creator with no scored deal yet.
    reliability: float | None = None
    tier: str | None = None


class ApplicationOut(msgspec.Struct):
    id: UUID
    gig_id: UUID
    creator_id: UUID
    brand_id: UUID
    status: str
    pitch: str
    counter_offer: MoneyOut | None
    decided_at: datetime | None
    decline_reason: str | None
    created_at: datetime
    social_account: AccountOut | None = None
    creator: ApplicantCreatorOut | None = None
    #: The collaboration made when the application was accepted.
    collaboration_id: UUID | None = None


class ApplicationListOut(msgspec.Struct):
    items: list[ApplicationOut]
    next_cursor: str | None = None
    slots: int | None = None
    slots_taken: int | None = None


class DecisionOut(msgspec.Struct):
    decided: list[ApplicationOut]
    #: Already in the requested state before this call (retries are harmless).
    unchanged: list[ApplicationOut]

    def decided_or_unchanged(self) -> ApplicationOut:
        """The one application of a single-item decision."""
        return (self.decided or self.unchanged)[0]


def account_out(account: SocialAccount) -> AccountOut:
    return AccountOut(account.id, str(account.platform), account.handle, account.profile_url, account.followers,
                      account.engagement_bps)


def application_out(application: Application, currency: str, *, account: SocialAccount | None = None,
                    collaboration_id: UUID | None = None,
                    creator: ApplicantCreatorOut | None = None) -> ApplicationOut:
    counter = application.counter_offer_amount
    return ApplicationOut(
        id=application.id,
        gig_id=application.gig_id,
        creator_id=application.creator_id,
        brand_id=application.brand_id,
        status=str(application.status),
        pitch=application.pitch,
        counter_offer=MoneyOut(counter, currency) if counter is not None else None,
        decided_at=as_utc(application.decided_at) if application.decided_at else None,
        decline_reason=application.decline_reason,
        created_at=as_utc(application.created_at),
        social_account=account_out(account) if account is not None else None,
        creator=creator,
        collaboration_id=collaboration_id,
    )


def applicant_out(row: ApplicantRow, currency: str) -> ApplicationOut:
    c = row.creator
    creator = ApplicantCreatorOut(c.id, c.display_name, c.country, c.total_followers, c.best_engagement_bps,
                                  row.completed_collaborations, row.collaborations_with_brand, row.reliability,
                                  row.tier.lower() if row.tier else None)
    return application_out(row.application, currency, account=row.account, collaboration_id=row.collaboration_id,
                           creator=creator)


def decision_out(decision: Decision, currency: str) -> DecisionOut:
    return DecisionOut(
        decided=[
            application_out(a, currency, collaboration_id=(
                decision.collaborations[a.id].id if a.id in decision.collaborations else None))
            for a in decision.decided
        ],
        unchanged=[application_out(a, currency) for a in decision.unchanged],
    )
