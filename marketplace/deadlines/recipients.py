"""Who hears about a deadline: the creator's account, or the brand team members whose role acts on that stage."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from typing import NamedTuple
from uuid import UUID

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from marketplace.accounts.models import User, UserKind
from marketplace.brands.models import BrandMember, BrandRole
from marketplace.collaborations.models import Collaboration
from marketplace.creators.models import Creator

DEAL_ROLES = (BrandRole.OWNER, BrandRole.MANAGER)
#: Stages about money also concern the finance members (they fund escrow).
MONEY_STAGES = frozenset({"fund"})


def brand_roles_for(stage: str | None) -> tuple[BrandRole, ...]:
    if stage in MONEY_STAGES:
        return (BrandRole.OWNER, BrandRole.MANAGER, BrandRole.FINANCE)
    return DEAL_ROLES


async def brand_team(
    session: AsyncSession, brand_ids: Iterable[UUID], roles: Iterable[BrandRole] = DEAL_ROLES
) -> dict[UUID, list[tuple[User, BrandRole]]]:
    """Active members of each brand with the given roles, in one query."""
    ids = list(dict.fromkeys(brand_ids))
    found: dict[UUID, list[tuple[User, BrandRole]]] = defaultdict(list)
    if not ids:
        return found
    rows = await session.execute(
        sa.select(BrandMember.brand_id, BrandMember.role, User)
        .join(User, User.id == BrandMember.user_id)
        .where(BrandMember.brand_id.in_(ids), BrandMember.role.in_(list(roles)), User.is_active.is_(True))
        .order_by(BrandMember.brand_id, User.id)
    )
    for brand_id, role, user in rows:
        found[brand_id].append((user, BrandRole(role)))
    return found


async def creator_accounts(session: AsyncSession, creator_ids: Iterable[UUID]) -> dict[UUID, User]:
    """The user account of each creator, in one query."""
    ids = list(dict.fromkeys(creator_ids))
    if not ids:
        return {}
    rows = await session.execute(
        sa.select(Creator.id, User)
        .join(User, User.id == Creator.user_id)
        .where(Creator.id.in_(ids), User.is_active.is_(True))
    )
    return {creator_id: user for creator_id, user in rows}


class Addressee(NamedTuple):
    """Whom a reminder goes to: the account's id and email (what the sweep needs, without loading the account)."""

    id: UUID
    email: str


async def creator_addressees(session: AsyncSession, creator_ids: Iterable[UUID]) -> dict[UUID, Addressee]:
    """``creator_accounts`` as (id, email) pairs, in one query."""
    ids = list(dict.fromkeys(creator_ids))
    if not ids:
        return {}
    rows = await session.execute(
        sa.select(Creator.id, User.id, User.email)
        .join(User, User.id == Creator.user_id)
        .where(Creator.id.in_(ids), User.is_active.is_(True))
    )
    return {creator_id: Addressee(user_id, email) for creator_id, user_id, email in rows}


async def brand_addressees(
    session: AsyncSession, brand_ids: Iterable[UUID], roles: Iterable[BrandRole] = DEAL_ROLES
) -> dict[UUID, list[Addressee]]:
    """``brand_team`` as (id, email) pairs, in the same order, in one query."""
    ids = list(dict.fromkeys(brand_ids))
    found: dict[UUID, list[Addressee]] = defaultdict(list)
    if not ids:
        return found
    rows = await session.execute(
        sa.select(BrandMember.brand_id, User.id, User.email)
        .join(User, User.id == BrandMember.user_id)
        .where(BrandMember.brand_id.in_(ids), BrandMember.role.in_(list(roles)), User.is_active.is_(True))
        .order_by(BrandMember.brand_id, User.id)
    )
    for brand_id, user_id, email in rows:
        found[brand_id].append(Addressee(user_id, email))
    return found


async def deal_parties(
    session: AsyncSession, collab: Collaboration, roles: Iterable[BrandRole] = DEAL_ROLES
) -> tuple[list[UUID], list[UUID]]:
    """The user ids on each side of a deal: (brand members with ``roles``, the creator's account)."""
    team = await brand_team(session, [collab.brand_id], roles)
    creator = (await creator_accounts(session, [collab.creator_id])).get(collab.creator_id)
    return [user.id for user, _role in team.get(collab.brand_id, [])], ([creator.id] if creator else [])


async def admin_ids(session: AsyncSession) -> list[UUID]:
    return list(
        (
            await session.scalars(
                sa.select(User.id).where(User.kind == UserKind.ADMIN, User.is_active.is_(True)).order_by(User.id)
            )
        ).all()
    )
