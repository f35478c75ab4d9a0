"""Roster services: the table page, one entry (read, add, edit, remove), tags and lists on a selection, saved views
and custom fields. Every query is scoped to the actor's brand; another brand's entries are "not found"."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import parse_qsl
from uuid import UUID

import sqlalchemy as sa
from advanced_alchemy.utils.text import slugify
from sqlalchemy.ext.asyncio import AsyncSession
from uuid_utils.compat import uuid7

from marketplace.accounts.auth import Actor
from marketplace.accounts.models import User, UserKind
from marketplace.applications.models import Application
from marketplace.brands.models import BrandMember
from marketplace.brands.services import NOTE_WRITERS, member_of
from marketplace.collaborations.models import Collaboration
from marketplace.creators.models import Creator, Platform, SocialAccount
from marketplace.creators.services import Reputation, reputation_of
from marketplace.db import insert_stmt
from marketplace.errors import Conflict, InvalidInput, NotFound
from marketplace.gigs.models import Gig, GigInvitation
from marketplace.gigs.validation import Checker
from marketplace.i18n import N_, gettext
from marketplace.roster.inputs import TAG_RE, check_entry
from marketplace.roster.models import (
    HANDLE_COLUMNS,
    RosterEntry,
    RosterEntryTag,
    RosterField,
    RosterList,
    RosterListMember,
    RosterTag,
    RosterView,
)
from marketplace.roster.query import (
    DEFAULT_PER_PAGE,
    MAX_PAGE,
    PER_PAGE_CHOICES,
    SORTS,
    DealStats,
    RosterFilter,
    deal_stats,
    last_contact,
    last_messages,
    ordered,
    resolve_tag,
    roster_ids_query,
    roster_query,
    tags_of,
)
from marketplace.runtime import Runtime

FIELD_KEY_RE = re.compile(r"^[a-z0-9][a-z0-9_]{0,39}$")
MAX_CUSTOM_FIELDS = 30


@dataclass
class RosterRow:
    entry: RosterEntry
    tags: list[str]
    stats: DealStats
    reputation: Reputation | None
    last_contact: datetime | None
    owner_name: str | None


@dataclass
class RosterPage:
    rows: list[RosterRow]
    total: int
    page: int
    per_page: int
    filters: RosterFilter
    sort: str

    @property
    def pages(self) -> int:
        return max(1, min(MAX_PAGE, -(-self.total // self.per_page)))


@dataclass
class TeamOption:
    user_id: UUID
    email: str
    name: str


class RosterService:
    def __init__(self, session: AsyncSession, runtime: Runtime) -> None:
        self.session = session
        self.runtime = runtime

    @property
    def now(self) -> datetime:
        return self.runtime.clock.now()

    # --- reading ---------------------------------------------------------------------------------------------

    async def team(self, brand_id: UUID) -> list[TeamOption]:
        rows = await self.session.execute(
            sa.select(User.id, User.email, User.full_name).join(BrandMember, BrandMember.user_id == User.id)
            .where(BrandMember.brand_id == brand_id).order_by(User.full_name)
        )
        return [TeamOption(user_id, email, name) for user_id, email, name in rows]

    async def field_keys(self, brand_id: UUID) -> list[str]:
        return list(await self.session.scalars(
            sa.select(RosterField.key).where(RosterField.brand_id == brand_id).order_by(RosterField.key)
        ))

    async def rows_for(self, brand_id: UUID, entries: Sequence[RosterEntry]) -> list[RosterRow]:
        """Computed columns for a page of entries: a fixed number of queries whatever the page size."""
        creator_ids = [e.creator_id for e in entries if e.creator_id is not None]
        tags = await tags_of(self.session, [e.id for e in entries])
        stats = await deal_stats(self.session, brand_id, creator_ids)
        reputations = await reputation_of(self.session, creator_ids, self.now)
        messages = await last_messages(self.session, brand_id, creator_ids)
        owner_ids = list({e.owner_id for e in entries if e.owner_id is not None})
        owners: dict[UUID, str] = {}
        if owner_ids:
            owners = dict((await self.session.execute(
                sa.select(User.id, User.full_name).where(User.id.in_(owner_ids))
            )).all())
        return [
            RosterRow(
                entry=e,
                tags=tags.get(e.id, []),
                stats=stats.get(e.creator_id, DealStats()) if e.creator_id else DealStats(),
                reputation=reputations.get(e.creator_id) if e.creator_id else None,
                last_contact=last_contact(e, messages.get(e.creator_id) if e.creator_id else None),
                owner_name=owners.get(e.owner_id) if e.owner_id else None,
            )
            for e in entries
        ]

    async def page(self, actor: Actor | None, filters: RosterFilter, *, sort: str = "name", page: int = 1,
                   per_page: int = DEFAULT_PER_PAGE) -> RosterPage:
        brand_id = member_of(actor)
        await self.sync_from_activity(brand_id)
        sort = sort if sort in SORTS else "name"
        per_page = per_page if per_page in PER_PAGE_CHOICES else DEFAULT_PER_PAGE
        page = max(1, min(page, MAX_PAGE))
        filters = await resolve_tag(self.session, brand_id, filters)
        total = await self.count(brand_id, filters)
        query = ordered(roster_query(self.session, brand_id, filters), brand_id, sort)
        entries = list(await self.session.scalars(query.limit(per_page).offset((page - 1) * per_page)))
        return RosterPage(await self.rows_for(brand_id, entries), total, page, per_page, filters, sort)

    async def count(self, brand_id: UUID, filters: RosterFilter) -> int:
        subquery = roster_ids_query(brand_id, filters, self.session).subquery()
        return int(await self.session.scalar(sa.select(sa.func.count()).select_from(subquery)) or 0)

    async def entry(self, actor: Actor | None, entry_id: UUID, *, lock: bool = False) -> RosterEntry:
        brand_id = member_of(actor)
        query = sa.select(RosterEntry).where(RosterEntry.id == entry_id, RosterEntry.brand_id == brand_id)
        entry = await self.session.scalar(query.with_for_update() if lock else query)
        if entry is None:
            raise NotFound(gettext('No such roster entry.'))
        return entry

    async def row(self, actor: Actor | None, entry_id: UUID) -> RosterRow:
        entry = await self.entry(actor, entry_id)
        return (await self.rows_for(entry.brand_id, [entry]))[0]

    # --- people the brand already deals with -------------------------------------------------------------------

    async def sync_from_activity(self, brand_id: UUID) -> int:
        """Add every creator the brand invited, who applied, or who has a deal with it and isn't on the roster yet.

        Done when the roster is read (one query when nothing is missing), so no other area needs to know about it.
        """
        # Ranked so one creator known several ways is recorded by the strongest: a deal, then applied, then invited.
        dealt = (sa.select(Collaboration.creator_id.label("creator_id"), sa.literal(0).label("rank"))
                 .where(Collaboration.brand_id == brand_id))
        applied = sa.select(Application.creator_id, sa.literal(1)).where(Application.brand_id == brand_id)
        invited = (sa.select(GigInvitation.creator_id, sa.literal(2))
                   .join(Gig, Gig.id == GigInvitation.gig_id).where(Gig.brand_id == brand_id))
        known = sa.union_all(dealt, applied, invited).subquery()
        missing = (await self.session.execute(
            sa.select(known.c.creator_id, sa.func.min(known.c.rank)).where(~sa.exists().where(
                RosterEntry.brand_id == brand_id, RosterEntry.creator_id == known.c.creator_id,
            )).group_by(known.c.creator_id)
        )).all()
        if not missing:
            return 0
        sources = ("deal", "applied", "invited")
        return await self.add_creators(brand_id, {creator_id: sources[rank] for creator_id, rank in missing})

    async def add_creators(self, brand_id: UUID, sources: Mapping[UUID, str]) -> int:
        """Roster entries for PostPact creators (name, country, followers and handles copied from the profile);
        creators already on the roster, or whose email/handle an entry already has, are left alone."""
        creators = list(await self.session.execute(
            sa.select(Creator.id, Creator.display_name, Creator.country, Creator.total_followers, User.email)
            .join(User, User.id == Creator.user_id).where(Creator.id.in_(list(sources)))
        ))
        handles: dict[UUID, dict[str, str]] = {}
        for creator_id, platform, handle in await self.session.execute(
            sa.select(SocialAccount.creator_id, SocialAccount.platform, SocialAccount.handle)
            .where(SocialAccount.creator_id.in_(list(sources)))
        ):
            handles.setdefault(creator_id, {}).setdefault(str(Platform(platform)), handle)
        now = self.now
        values = [{
            "id": uuid7(), "brand_id": brand_id, "creator_id": creator_id, "name": name[:120], "email": email,
            "country": country, "followers": followers or 0, "owner_id": None, "notes": "", "custom_fields": {},
            "source": sources[creator_id], "last_contact_at": None, "invited_at": None,
            "created_at": now, "updated_at": now, **{p: handles.get(creator_id, {}).get(p) for p in HANDLE_COLUMNS},
        } for creator_id, name, country, followers, email in creators]
        if not values:
            return 0
        result = await self.session.execute(insert_stmt(self.session, RosterEntry.__table__).values(values)
                                            .on_conflict_do_nothing())
        return int(result.rowcount or 0)

    # --- one entry ---------------------------------------------------------------------------------------------

    async def _team_by_email(self, brand_id: UUID) -> dict[str, UUID]:
        return {t.email: t.user_id for t in await self.team(brand_id)}

    async def _clashes(self, brand_id: UUID, values: Mapping[str, Any], entry_id: UUID | None) -> dict[str, str]:
        """Another entry of the brand already has this email or handle: say which field, not a database error."""
        errors: dict[str, str] = {}
        for name in ("email", *HANDLE_COLUMNS):
            value = values.get(name)
            if not value:
                continue
            query = sa.select(RosterEntry.name).where(RosterEntry.brand_id == brand_id,
                                                      getattr(RosterEntry, name) == value)
            if entry_id is not None:
                query = query.where(RosterEntry.id != entry_id)
            other = await self.session.scalar(query.limit(1))
            if other is not None:
                errors[name] = gettext(
                    "%(other)s already has this %(handle)s on your roster.",
                    other=other,
                    handle="email" if name == "email" else "handle",
                )
        return errors

    async def link_creator(self, values: Mapping[str, Any]) -> UUID | None:
        """The PostPact creator behind an email or a platform handle, if any."""
        if values.get("email"):
            creator_id = await self.session.scalar(
                sa.select(Creator.id).join(User, User.id == Creator.user_id)
                .where(User.email == values["email"], User.kind == UserKind.CREATOR)
            )
            if creator_id is not None:
                return creator_id
        for platform in HANDLE_COLUMNS:
            if values.get(platform):
                creator_id = await self.session.scalar(sa.select(SocialAccount.creator_id).where(
                    SocialAccount.platform == Platform(platform), SocialAccount.handle == values[platform]))
                if creator_id is not None:
                    return creator_id
        return None

    async def create(self, actor: Actor | None, raw: Mapping[str, Any]) -> RosterEntry:
        brand_id = member_of(actor, NOTE_WRITERS)
        c = Checker()
        checked = check_entry(c, raw, field_keys=await self.field_keys(brand_id),
                              team=await self._team_by_email(brand_id))
        c.raise_if_invalid()
        clashes = await self._clashes(brand_id, checked.values, None)
        if clashes:
            raise InvalidInput(clashes)
        creator_id = await self.link_creator(checked.values)
        if creator_id is not None and await self.session.scalar(sa.select(RosterEntry.id).where(
                RosterEntry.brand_id == brand_id, RosterEntry.creator_id == creator_id)) is not None:
            raise Conflict(gettext('This creator is already on your roster.'))
        entry = RosterEntry(brand_id=brand_id, creator_id=creator_id, source="manual", custom_fields=checked.custom,
                            **checked.values)
        self.session.add(entry)
        await self.session.flush()
        if checked.tags:
            await self.set_tags(brand_id, entry.id, checked.tags)
        return entry

    async def update(self, actor: Actor | None, entry_id: UUID, raw: Mapping[str, Any]) -> RosterEntry:
        brand_id = member_of(actor, NOTE_WRITERS)
        entry = await self.entry(actor, entry_id, lock=True)
        c = Checker()
        checked = check_entry(c, raw, field_keys=await self.field_keys(brand_id),
                              team=await self._team_by_email(brand_id), partial=True)
        merged = {name: checked.values.get(name, getattr(entry, name)) for name in ("email", *HANDLE_COLUMNS)}
        if c.ok("email") and not any(merged.values()):
            c.error("email", gettext('Give an email or at least one handle, so the person can be found again.'))
        c.raise_if_invalid()
        clashes = await self._clashes(brand_id, checked.values, entry.id)
        if clashes:
            raise InvalidInput(clashes)
        for name, value in checked.values.items():
            setattr(entry, name, value)
        if checked.custom:
            entry.custom_fields = {**(entry.custom_fields or {}), **checked.custom}
        if entry.creator_id is None:
            entry.creator_id = await self.link_creator(merged)
        await self.session.flush()
        if checked.tags is not None:
            await self.set_tags(brand_id, entry.id, checked.tags, replace=True)
        return entry

    async def delete(self, actor: Actor | None, entry_id: UUID) -> None:
        member_of(actor, NOTE_WRITERS)
        entry = await self.entry(actor, entry_id, lock=True)
        await self.session.delete(entry)
        await self.session.flush()

    # --- tags and lists on a selection (set-based) ------------------------------------------------------------

    async def tag_ids(self, brand_id: UUID, names: Sequence[str]) -> dict[str, UUID]:
        """The brand's tags by name, creating the missing ones."""
        wanted = list(dict.fromkeys(names))
        if not wanted:
            return {}
        now = self.now
        await self.session.execute(insert_stmt(self.session, RosterTag.__table__).values([
            {"id": uuid7(), "brand_id": brand_id, "name": name, "created_at": now, "updated_at": now}
            for name in wanted
        ]).on_conflict_do_nothing())
        return dict((await self.session.execute(
            sa.select(RosterTag.name, RosterTag.id).where(RosterTag.brand_id == brand_id, RosterTag.name.in_(wanted))
        )).all())

    async def set_tags(self, brand_id: UUID, entry_id: UUID, names: Sequence[str], *, replace: bool = False) -> None:
        ids = await self.tag_ids(brand_id, names)
        if replace:
            await self.session.execute(sa.delete(RosterEntryTag).where(
                RosterEntryTag.entry_id == entry_id, RosterEntryTag.tag_id.not_in(list(ids.values()) or [None])))
        if ids:
            now = self.now
            await self.session.execute(insert_stmt(self.session, RosterEntryTag.__table__).values([
                {"id": uuid7(), "entry_id": entry_id, "tag_id": tag_id, "created_at": now, "updated_at": now}
                for tag_id in ids.values()
            ]).on_conflict_do_nothing())

    def _check_tag(self, name: object) -> str:
        tag = str(name or "").strip().lower()
        if not TAG_RE.match(tag):
            raise InvalidInput({"tag": gettext('A tag is 1-40 letters, digits, spaces or dashes.')})
        return tag

    async def tag_selection(self, actor: Actor | None, filters: RosterFilter, tag: object, *, add: bool) -> int:
        """Tag (or untag) every entry the selection matches, in one statement whatever its size."""
        brand_id = member_of(actor, NOTE_WRITERS)
        name = self._check_tag(tag)
        selected = roster_ids_query(brand_id, filters)
        if add:
            tag_id = (await self.tag_ids(brand_id, [name]))[name]
            return await self._insert_links(RosterEntryTag.__table__, "tag_id", tag_id, selected)
        tag_id_or_none = await self.session.scalar(
            sa.select(RosterTag.id).where(RosterTag.brand_id == brand_id, RosterTag.name == name))
        if tag_id_or_none is None:
            return 0
        result = await self.session.execute(sa.delete(RosterEntryTag).where(
            RosterEntryTag.tag_id == tag_id_or_none, RosterEntryTag.entry_id.in_(selected)))
        return int(result.rowcount or 0)

    async def selection_of(self, actor: Actor | None, *, ids: Sequence[UUID] | None = None,
                           params: Mapping[str, Any] | None = None, view_id: UUID | None = None) -> RosterFilter:
        """A selection an API call names: ticked entries (all must be the brand's, else 404 without saying which),
        everything a filter matches ("select all N matching"), or a saved view of the brand (else 404)."""
        brand_id = member_of(actor)
        filters = RosterFilter.from_params(params or {})
        if view_id is not None:
            query = await self.session.scalar(
                sa.select(RosterView.query).where(RosterView.id == view_id, RosterView.brand_id == brand_id))
            if query is None:
                raise NotFound(gettext('No such saved view.'))
            filters = RosterFilter.from_params(dict(parse_qsl(query)))
        if ids is not None:
            filters = filters.with_ids(ids)
            if await self.count(brand_id, filters) != len(filters.ids):
                raise NotFound(gettext('Some of these roster entries are not yours or don\'t exist.'))
        return filters

    async def _insert_links(self, table: sa.Table, key: str, key_id: UUID, selected: sa.Select[Any]) -> int:
        """INSERT INTO <link table> (id, entry_id, <key>) SELECT ... FROM the selection ON CONFLICT DO NOTHING.

        Ids are generated per row by the database (UUIDv4 there, which nothing sorts by on link rows)."""
        dialect = self.session.get_bind().dialect.name
        new_id = sa.func.gen_random_uuid() if dialect == "postgresql" else sa.func.randomblob(16)
        now = self.now
        at = sa.literal(now, RosterEntry.created_at.type)
        source = selected.with_only_columns(new_id, RosterEntry.id, sa.literal(key_id, RosterEntry.id.type), at, at)
        stmt = insert_stmt(self.session, table).from_select(["id", "entry_id", key, "created_at", "updated_at"],
                                                               source)
        result = await self.session.execute(stmt.on_conflict_do_nothing())
        return int(result.rowcount or 0)

    async def add_to_list(self, actor: Actor | None, filters: RosterFilter, list_name: object) -> int:
        brand_id = member_of(actor, NOTE_WRITERS)
        c = Checker()
        name = c.text("list", list_name, label=N_('List name'), max_length=80, required=True)
        c.raise_if_invalid()
        now = self.now
        await self.session.execute(insert_stmt(self.session, RosterList.__table__).values(
            id=uuid7(), brand_id=brand_id, name=name, created_at=now, updated_at=now).on_conflict_do_nothing())
        list_id = await self.session.scalar(
            sa.select(RosterList.id).where(RosterList.brand_id == brand_id, RosterList.name == name))
        assert list_id is not None
        return await self._insert_links(RosterListMember.__table__, "list_id", list_id,
                                        roster_ids_query(brand_id, filters))

    async def tags(self, brand_id: UUID) -> list[tuple[str, int]]:
        rows = await self.session.execute(
            sa.select(RosterTag.name, sa.func.count(RosterEntryTag.id))
            .outerjoin(RosterEntryTag, RosterEntryTag.tag_id == RosterTag.id)
            .where(RosterTag.brand_id == brand_id).group_by(RosterTag.name).order_by(RosterTag.name)
        )
        return [(name, int(count)) for name, count in rows]

    async def lists(self, brand_id: UUID) -> list[RosterList]:
        return list(await self.session.scalars(
            sa.select(RosterList).where(RosterList.brand_id == brand_id).order_by(RosterList.name)))

    # --- saved views and custom fields ------------------------------------------------------------------------

    async def views(self, actor: Actor | None) -> list[RosterView]:
        brand_id = member_of(actor)
        return list(await self.session.scalars(
            sa.select(RosterView).where(RosterView.brand_id == brand_id).order_by(RosterView.name)))

    async def save_view(self, actor: Actor | None, name: object, query: object) -> RosterView:
        """Save (or overwrite, by name) the current filters, sort and columns for the whole team."""
        brand_id = member_of(actor, NOTE_WRITERS)
        assert actor is not None
        c = Checker()
        label = c.text("view_name", name, label=N_('View name'), max_length=80, required=True)
        text = c.text("query", query, label=N_('View'), max_length=2000)
        c.raise_if_invalid()
        view = await self.session.scalar(
            sa.select(RosterView).where(RosterView.brand_id == brand_id, RosterView.name == label).with_for_update())
        if view is None:
            view = RosterView(brand_id=brand_id, name=label, query=text, created_by_id=actor.user_id)
            self.session.add(view)
        else:
            view.query = text
        await self.session.flush()
        return view

    async def delete_view(self, actor: Actor | None, view_id: UUID) -> None:
        brand_id = member_of(actor, NOTE_WRITERS)
        view = await self.session.scalar(
            sa.select(RosterView).where(RosterView.id == view_id, RosterView.brand_id == brand_id))
        if view is None:
            raise NotFound(gettext('No such saved view.'))
        await self.session.delete(view)
        await self.session.flush()

    async def fields(self, brand_id: UUID) -> list[RosterField]:
        return list(await self.session.scalars(
            sa.select(RosterField).where(RosterField.brand_id == brand_id).order_by(RosterField.key)))

    async def add_field(self, actor: Actor | None, label: object) -> RosterField:
        brand_id = member_of(actor, NOTE_WRITERS)
        c = Checker()
        text = c.text("label", label, label=N_('Field name'), max_length=80, required=True)
        c.raise_if_invalid()
        key = slugify(text, separator="_")[:40]
        if not FIELD_KEY_RE.match(key):
            raise InvalidInput({"label": gettext('Use letters or digits in the field name.')})
        existing = await self.fields(brand_id)
        if any(f.key == key for f in existing):
            raise InvalidInput({"label": gettext('You already have a field with this name.')})
        if len(existing) >= MAX_CUSTOM_FIELDS:
            raise InvalidInput(
                {"label": gettext("At most %(max_custom_fields)s custom fields.", max_custom_fields=MAX_CUSTOM_FIELDS)}
            )
        result = RosterField(brand_id=brand_id, key=key, label=text)
        self.session.add(result)
        await self.session.flush()
        return result
