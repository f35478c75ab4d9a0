"""A verified audience as ranking evidence for a newcomer: keeps ``reliability_score.verified_audience`` in step.

A creator with no record of their own ranks above blank new accounts when a connected account shows real history
(``reputation.tiers.ranking_evidence``; the simulation's ``--verified-share`` models it). "Real history": a live
connection whose audience was read, with followers, and whose oldest recent post is older than the PostPact account.
No prior for an account linked to a ghosting: ghostings at the same delivery address, or a connected handle that a
different PostPact account holds (a handle named in a deal stays with that account, so a ghoster who connects the
same audience to a new account gets nothing from it). The flag is refreshed on connect, daily, on disconnect and
when a connection needs reconnecting; reputation reads it whenever it ranks the row.
"""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from marketplace.clock import as_utc
from marketplace.creators.models import Creator, Platform, SocialAccount
from marketplace.reputation.services import linked_ghostings
from marketplace.social.models import ConnectionStatus, SocialConnection
from reputation.models import ReliabilityScore, SubjectKind
from reputation.services import rank_row


async def has_verified_history(session: AsyncSession, creator_id: UUID) -> bool:
    """Does a connected account with real history, linked to no ghosting, back this creator's audience?"""
    created = await session.scalar(sa.select(Creator.created_at).where(Creator.id == creator_id))
    if created is None:
        return False
    connections = (await session.scalars(sa.select(SocialConnection).where(
        SocialConnection.creator_id == creator_id, SocialConnection.status == ConnectionStatus.ACTIVE.value,
        SocialConnection.audience_fetched_at.is_not(None)))).all()
    real = [c for c in connections if (c.followers or 0) > 0 and c.history_since is not None
            and as_utc(c.history_since) < as_utc(created)]
    if not real:
        return False
    if (await linked_ghostings(session, [creator_id])).get(creator_id):
        return False
    held_elsewhere = await session.scalar(sa.select(sa.func.count()).select_from(SocialAccount).where(
        SocialAccount.creator_id != creator_id,
        sa.or_(*[sa.and_(SocialAccount.platform == Platform(c.platform), SocialAccount.handle == c.handle)
                 for c in real])))
    return not held_elsewhere


async def sync_ranking_prior(session: AsyncSession, creator_id: UUID, now: datetime) -> bool:
    """Set the creator's verified-audience flag and re-rank the stored row when it changed; returns the flag."""
    verified = await has_verified_history(session, creator_id)
    row = await session.scalar(sa.select(ReliabilityScore).where(
        ReliabilityScore.subject_kind == SubjectKind.CREATOR, ReliabilityScore.subject_id == creator_id)
        .with_for_update())
    if row is not None and bool(row.verified_audience) != verified:
        row.verified_audience = verified
        rank_row(row, now)
        await session.flush()
    return verified


def flagged_without_connection() -> sa.Select[tuple[UUID]]:
    """Creators whose flag is set but who no longer have a live, read connection (disconnected elsewhere, refused
    tokens noticed by a fetch): the daily refresh clears them."""
    live = sa.select(SocialConnection.id).where(
        SocialConnection.creator_id == ReliabilityScore.subject_id,
        SocialConnection.status == ConnectionStatus.ACTIVE.value, SocialConnection.audience_fetched_at.is_not(None))
    return sa.select(ReliabilityScore.subject_id).where(
        ReliabilityScore.subject_kind == SubjectKind.CREATOR, ReliabilityScore.verified_audience.is_(True),
        ~live.exists())
