"""Loading the verification evidence of a collaboration for a viewer (both parties and admins; others get 404)."""

from __future__ import annotations

from dataclasses import dataclass
from uuid import UUID

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from marketplace.accounts.auth import Actor
from marketplace.collaborations.models import Collaboration
from marketplace.errors import NotFound
from marketplace.i18n import gettext
from marketplace.verification.checks import check_label, check_status_words
from marketplace.verification.models import EngagementSnapshot, PostCheck

PURPOSE_LABELS = {
    "submitted": "Check of the submitted post",
    "keep_live_midpoint": "Keep-live check (halfway)",
    "keep_live_final": "Keep-live check (end)",
}
STATUS_LABELS = {
    "running": "Checking…",
    "verified": "Verified",
    "failed": "Failed",
    "needs_review": "Needs the brand's review",
    "superseded": "Superseded",
}


@dataclass(frozen=True)
class EvidenceView:
    collaboration_id: UUID
    checks: list[PostCheck]
    engagement: list[EngagementSnapshot]

    @property
    def latest(self) -> PostCheck | None:
        return self.checks[0] if self.checks else None

    @staticmethod
    def purpose_label(check: PostCheck) -> str:
        return PURPOSE_LABELS.get(check.purpose, check.purpose)

    @staticmethod
    def status_label(check: PostCheck) -> str:
        return STATUS_LABELS.get(check.status, check.status)

    @staticmethod
    def check_label(name: str) -> str:
        return check_label(name)

    @staticmethod
    def check_status(status: str) -> str:
        return check_status_words(status)


def _may_see(collab: Collaboration, actor: Actor) -> bool:
    return (
        actor.is_admin
        or (actor.is_brand and actor.brand_id == collab.brand_id)
        or (actor.is_creator and actor.creator_id == collab.creator_id)
    )


async def load_evidence(session: AsyncSession, collaboration_id: UUID, actor: Actor) -> EvidenceView:
    """Every post check of the deal (newest first) with its snapshot, and the engagement counts over time."""
    collab = await session.get(Collaboration, collaboration_id)
    if collab is None or not _may_see(collab, actor):
        raise NotFound(gettext('No such collaboration.'))
    checks = list(
        (
            await session.scalars(
                sa.select(PostCheck)
                .where(PostCheck.collaboration_id == collaboration_id)
                .order_by(PostCheck.created_at.desc(), PostCheck.id.desc())
            )
        ).all()
    )
    engagement = list(
        (
            await session.scalars(
                sa.select(EngagementSnapshot)
                .where(EngagementSnapshot.collaboration_id == collaboration_id)
                .order_by(EngagementSnapshot.taken_at)
            )
        ).all()
    )
    return EvidenceView(collaboration_id, checks, engagement)
