"""Selecting roster entries: the filter (shared with bulk actions), sorts, columns, and the numbers shown per entry.

``roster_query(session, brand_id, filters)`` is the one place a roster selection becomes SQL: the table, "select all
N matching", tagging and bulk actions all use it, so what the brand saw is exactly what gets acted on.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any
from uuid import UUID

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from marketplace.collaborations.models import Collaboration
from marketplace.collaborations.states import CollabState
from marketplace.creators.services import ids_from
from marketplace.messaging.models import Thread
from marketplace.roster.models import (
    HANDLE_COLUMNS,
    RosterEntry,
    RosterEntryTag,
    RosterList,
    RosterListMember,
    RosterTag,
)
from reputation.models import ReliabilityScore, SubjectKind

PER_PAGE_CHOICES = (25, 50, 100, 200)
DEFAULT_PER_PAGE = 50
#: Pages are numbered, but only this deep: past it the brand narrows the filters (or exports, or selects all).
MAX_PAGE = 200

#: Sort key -> label. A leading "-" means highest / newest first.
SORTS: dict[str, str] = {
    "name": "Name (A-Z)",
    "-followers": "Most followers",
    "followers": "Fewest followers",
    "-added": "Newest first",
    "added": "Oldest first",
    "-last_contact": "Recently contacted",
    "-reliability": "Most reliable",
    "-deals": "Most deals",
}
DEFAULT_SORT = "name"

#: Column key -> heading. The brand picks which to show; "name" always shows.
COLUMNS: dict[str, str] = {
    "name": "Name",
    "email": "Email",
    "handles": "Handles",
    "country": "Country",
    "followers": "Followers",
    "tags": "Tags",
    "owner": "Owner",
    "deals": "Deals",
    "spend": "Lifetime spend",
    "ghostings": "Ghostings",
    "reliability": "Reliability",
    "last_contact": "Last contact",
    "source": "Source",
}
DEFAULT_COLUMNS = ("name", "handles", "country", "followers", "tags", "deals", "spend", "reliability", "last_contact")
#: A deal counts towards lifetime spend once its escrow was released to the creator (the fee they were paid).
SPEND_STATES_MARK = Collaboration.released_at


@dataclass(frozen=True)
class RosterFilter:
    """A roster selection as data: from a query string, a saved view, or a bulk action's request."""

    q: str = ""
    #: Tag name (lower case).
    tag: str = ""
    list_id: UUID | None = None
    #: Only people with a handle on this platform.
    platform: str = ""
    country: str = ""
    #: True: has at least one deal with the brand; False: none yet; None: either.
    has_deals: bool | None = None
    owner_id: UUID | None = None
    #: An explicit selection (ticked rows); empty means "everything the other filters match".
    ids: tuple[UUID, ...] = field(default_factory=tuple)
    #: ``tag`` resolved to the brand's tag id (``resolve_tag``): lets PostgreSQL estimate the tag's size from its
    #: statistics instead of guessing, which picks a hash join over a nested loop for big tags.
    tag_id: UUID | None = None

    @classmethod
    def from_params(cls, params: Mapping[str, Any]) -> RosterFilter:
        """Lenient: a value that can't be a filter is ignored (a bookmarked URL never errors)."""

        def one(name: str) -> str:
            value = params.get(name)
            if isinstance(value, list):
                value = value[-1] if value else ""
            return str(value or "").strip()

        def uuid_or_none(name: str) -> UUID | None:
            good, _ = ids_from([one(name)] if one(name) else [])
            return good[0] if good else None

        has_deals = {"yes": True, "true": True, "1": True, "no": False, "false": False, "0": False}.get(
            one("has_deals").lower()
        )
        platform = one("platform").lower()
        return cls(
            q=one("q")[:100],
            tag=one("tag").lower()[:40],
            list_id=uuid_or_none("list"),
            platform=platform if platform in HANDLE_COLUMNS else "",
            country=one("country").upper()[:2],
            has_deals=has_deals,
            owner_id=uuid_or_none("owner"),
        )

    def to_params(self) -> dict[str, str]:
        """The query-string form (ids are never part of it: a URL describes a filter, not a selection)."""
        params = {
            "q": self.q, "tag": self.tag, "list": str(self.list_id or ""), "platform": self.platform,
            "country": self.country, "owner": str(self.owner_id or ""),
            "has_deals": "" if self.has_deals is None else ("yes" if self.has_deals else "no"),
        }
        return {k: v for k, v in params.items() if v}

    def with_ids(self, ids: Iterable[UUID]) -> RosterFilter:
        return replace(self, ids=tuple(dict.fromkeys(ids)))

    @property
    def is_empty(self) -> bool:
        return not self.to_params() and not self.ids


def _has_deals(brand_id: UUID) -> sa.Exists:
    return sa.exists().where(Collaboration.brand_id == brand_id, Collaboration.creator_id == RosterEntry.creator_id)


def roster_query(session: AsyncSession | None, brand_id: UUID, filters: RosterFilter) -> sa.Select[Any]:
    """``SELECT roster_entry ... WHERE <brand> AND <filters>``, unordered: callers add order, limits or use it as a
    subquery (``.with_only_columns(RosterEntry.id)``). Always scoped to ``brand_id``. With a PostgreSQL ``session``
    a resolved tag is written into the SQL (see below); without one the SQL is the same on every database."""
    query = sa.select(RosterEntry).where(RosterEntry.brand_id == brand_id)
    if filters.ids:
        query = query.where(RosterEntry.id.in_(filters.ids))
    if filters.q:
        needle = "%" + filters.q.lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        handle = filters.q.lower().lstrip("@")
        query = query.where(sa.or_(
            sa.func.lower(RosterEntry.name).like(needle, escape="\\"),
            RosterEntry.email.like(needle, escape="\\"),
            *(getattr(RosterEntry, column) == handle for column in HANDLE_COLUMNS),
        ))
    if filters.tag_id is not None:
        # Rendered into the SQL (not a bound parameter), so a prepared statement's generic plan never replaces the
        # tag-specific one: tags range from a handful of people to most of the roster.
        literal = session is not None and session.get_bind().dialect.name == "postgresql"
        tag_id = sa.bindparam("roster_tag_id", filters.tag_id, type_=RosterEntryTag.tag_id.type,
                              literal_execute=literal)
        query = query.where(RosterEntry.id.in_(
            sa.select(RosterEntryTag.entry_id).where(RosterEntryTag.tag_id == tag_id)))
    elif filters.tag:
        query = query.where(sa.exists().where(
            RosterEntryTag.entry_id == RosterEntry.id, RosterEntryTag.tag_id == RosterTag.id,
            RosterTag.brand_id == brand_id, RosterTag.name == filters.tag,
        ))
    if filters.list_id is not None:
        query = query.where(sa.exists().where(
            RosterListMember.entry_id == RosterEntry.id, RosterListMember.list_id == filters.list_id,
            RosterList.id == RosterListMember.list_id, RosterList.brand_id == brand_id,
        ))
    if filters.platform:
        query = query.where(getattr(RosterEntry, filters.platform).is_not(None))
    if filters.country:
        query = query.where(RosterEntry.country == filters.country)
    if filters.owner_id is not None:
        query = query.where(RosterEntry.owner_id == filters.owner_id)
    if filters.has_deals is True:
        query = query.where(_has_deals(brand_id))
    elif filters.has_deals is False:
        query = query.where(sa.or_(RosterEntry.creator_id.is_(None), ~_has_deals(brand_id)))
    return query


async def resolve_tag(session: AsyncSession, brand_id: UUID, filters: RosterFilter) -> RosterFilter:
    """The same filter with its tag name looked up among the brand's tags (an unknown tag matches nobody)."""
    if not filters.tag or filters.tag_id is not None:
        return filters
    tag_id = await session.scalar(
        sa.select(RosterTag.id).where(RosterTag.brand_id == brand_id, RosterTag.name == filters.tag))
    return replace(filters, tag_id=tag_id) if tag_id is not None else filters


def roster_ids_query(brand_id: UUID, filters: RosterFilter, session: AsyncSession | None = None) -> sa.Select[Any]:
    """Only the ids of the matching entries (for ``IN (...)`` and ``INSERT ... SELECT``)."""
    return roster_query(session, brand_id, filters).with_only_columns(RosterEntry.id)


def ordered(query: sa.Select[Any], brand_id: UUID, sort: str) -> sa.Select[Any]:
    """Apply a sort key; the entry id breaks ties, so pages never repeat or skip a row."""
    tie = RosterEntry.id
    if sort == "-followers":
        return query.order_by(RosterEntry.followers.desc(), tie)
    if sort == "followers":
        return query.order_by(RosterEntry.followers, tie)
    if sort == "-added":
        return query.order_by(RosterEntry.created_at.desc(), tie.desc())
    if sort == "added":
        return query.order_by(RosterEntry.created_at, tie)
    if sort == "-last_contact":
        return query.order_by(RosterEntry.last_contact_at.desc().nulls_last(), tie)
    if sort == "-reliability":
        # The stored ranking (refreshed by the reputation engine) is what the directory sorts by too.
        query = query.outerjoin(ReliabilityScore, sa.and_(
            ReliabilityScore.subject_kind == SubjectKind.CREATOR, ReliabilityScore.subject_id == RosterEntry.creator_id,
        ))
        return query.order_by(ReliabilityScore.ranking_score.desc().nulls_last(), tie)
    if sort == "-deals":
        deals = (sa.select(sa.func.count(Collaboration.id))
                 .where(Collaboration.brand_id == brand_id, Collaboration.creator_id == RosterEntry.creator_id)
                 .scalar_subquery())
        return query.order_by(deals.desc(), tie)
    return query.order_by(RosterEntry.name, tie)


# --- the numbers per entry ---------------------------------------------------------------------------------------


@dataclass
class DealStats:
    """What happened between the brand and one creator, from the deals themselves."""

    deals: int = 0
    ghostings: int = 0
    #: Currency -> minor units paid to the creator (released escrow), never summed across currencies.
    spend: dict[str, int] = field(default_factory=dict)


async def deal_stats(session: AsyncSession, brand_id: UUID, creator_ids: Sequence[UUID]) -> dict[UUID, DealStats]:
    """Lifetime deals, ghostings and spend per creator with this brand, in one grouped query.

    deals: every collaboration (offered or later); ghostings: deals that ended ghosted; spend: the fee of each deal
    whose escrow was released to the creator.
    """
    ids = list(dict.fromkeys(creator_ids))
    if not ids:
        return {}
    rows = await session.execute(
        sa.select(
            Collaboration.creator_id,
            Collaboration.currency,
            sa.func.count(Collaboration.id),
            sa.func.sum(sa.case((Collaboration.status == CollabState.GHOSTED, 1), else_=0)),
            sa.func.sum(sa.case((SPEND_STATES_MARK.is_not(None), Collaboration.fee_amount), else_=0)),
        )
        .where(Collaboration.brand_id == brand_id, Collaboration.creator_id.in_(ids))
        .group_by(Collaboration.creator_id, Collaboration.currency)
    )
    stats: dict[UUID, DealStats] = {}
    for creator_id, currency, deals, ghostings, spend in rows:
        entry = stats.setdefault(creator_id, DealStats())
        entry.deals += int(deals or 0)
        entry.ghostings += int(ghostings or 0)
        if spend:
            entry.spend[currency] = entry.spend.get(currency, 0) + int(spend)
    return stats


async def last_messages(session: AsyncSession, brand_id: UUID, creator_ids: Sequence[UUID]) -> dict[UUID, datetime]:
    """The newest message between the brand and each creator (either side wrote it)."""
    ids = list(dict.fromkeys(creator_ids))
    if not ids:
        return {}
    rows = await session.execute(
        sa.select(Thread.creator_id, sa.func.max(Thread.last_message_at))
        .where(Thread.brand_id == brand_id, Thread.creator_id.in_(ids))
        .group_by(Thread.creator_id)
    )
    return {creator_id: at for creator_id, at in rows if at is not None}


def last_contact(entry: RosterEntry, last_message_at: datetime | None) -> datetime | None:
    """The later of a recorded contact (claim email, a call) and the last message."""
    times = [t for t in (entry.last_contact_at, last_message_at) if t is not None]
    return max(times) if times else None


async def tags_of(session: AsyncSession, entry_ids: Sequence[UUID]) -> dict[UUID, list[str]]:
    if not entry_ids:
        return {}
    rows = await session.execute(
        sa.select(RosterEntryTag.entry_id, RosterTag.name).join(RosterTag, RosterTag.id == RosterEntryTag.tag_id)
        .where(RosterEntryTag.entry_id.in_(list(entry_ids))).order_by(RosterTag.name)
    )
    result: dict[UUID, list[str]] = {}
    for entry_id, name in rows:
        result.setdefault(entry_id, []).append(name)
    return result


def parse_columns(values: Iterable[str], custom_keys: Iterable[str] = ()) -> list[str]:
    """Known columns in the order offered (custom fields after), "name" always first; nothing chosen: defaults."""
    wanted = {v.strip() for v in values if v and v.strip()}
    allowed = [*COLUMNS, *(f"field:{k}" for k in custom_keys)]
    chosen = [c for c in allowed if c in wanted]
    if not chosen:
        return list(DEFAULT_COLUMNS)
    return ["name", *[c for c in chosen if c != "name"]]
