"""Gigs: drafting, editing, publishing and closing them (brand side), finding them (creator side), invitations.

Long because one service owns a gig's whole life (draft, publish, edit, close, invite) under one set of locks and rules.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any
from uuid import UUID

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from marketplace.accounts.auth import Actor
from marketplace.applications.models import Application, ApplicationStatus
from marketplace.brands.models import Brand, BrandRole
from marketplace.clock import as_utc
from marketplace.collaborations.models import Collaboration
from marketplace.collaborations.states import CollabState
from marketplace.creators.models import ContentKind, Creator, Platform
from marketplace.creators.services import creator_facts_from, creator_facts_lookup
from marketplace.db import id_list, in_list
from marketplace.errors import Conflict, Forbidden, InvalidInput, NotFound
from marketplace.gigs.keyset import page_of
from marketplace.gigs.models import Deliverable, Gig, GigInvitation, GigNiche, GigStatus, gig_search_term
from marketplace.gigs.rows import tagged, tagged_lookup
from marketplace.gigs.rules import (
    CreatorFacts,
    Eligibility,
    GigFields,
    GigRequirements,
    check_eligibility,
    check_gig,
    check_reminder_offsets,
    requirements_of,
)
from marketplace.gigs.search import (
    GigFilters,
    next_cursor,
    open_gigs_statements,
    page_limit,
    search_terms,
)
from marketplace.gigs.validation import Checker, format_minor, minimum_fee
from marketplace.i18n import N_, gettext
from marketplace.notifications.services import notify
from marketplace.reputation.services import creator_standing_at_once
from marketplace.runtime import Runtime

GIG_EDITORS = frozenset({BrandRole.OWNER, BrandRole.MANAGER})
#: At most this many creators per invitation request (the API and the directory page send lists of ids).
MAX_INVITES_PER_REQUEST = 500
NOT_FOUND = "No such gig."


def brand_of(actor: Actor | None, *, write: bool = False) -> UUID:
    """The actor's brand id; anyone else is refused. ``write`` needs an owner or manager (finance only reads)."""
    if actor is None or not actor.is_brand or actor.brand_id is None:
        raise Forbidden(gettext('This is for brand teams.'))
    if write and actor.brand_role not in GIG_EDITORS:
        raise Forbidden(gettext('Only owners and managers can change gigs.'))
    if write and actor.suspended:
        raise Forbidden(gettext('Your account is suspended; contact support to appeal.'))
    return actor.brand_id


def creator_of(actor: Actor | None) -> UUID:
    if actor is None or not actor.is_creator or actor.creator_id is None:
        raise Forbidden(gettext('This is for creators.'))
    return actor.creator_id


def accepted_slots_query(gig_ids: Sequence[UUID] | UUID) -> sa.Select[Any]:
    """Accepted applications that still hold a slot: an offer the creator declined (or the brand withdrew) frees it."""
    ids = [gig_ids] if isinstance(gig_ids, UUID) else list(gig_ids)
    return (
        sa.select(Application.gig_id, sa.func.count(Application.id))
        .outerjoin(Collaboration, Collaboration.application_id == Application.id)
        .where(
            Application.gig_id.in_(ids),
            Application.status == ApplicationStatus.ACCEPTED,
            sa.or_(Collaboration.id.is_(None), Collaboration.status != CollabState.CANCELLED),
        )
        .group_by(Application.gig_id)
    )


@dataclass(frozen=True, slots=True)
class DeliverableSummary:
    """A deliverable as a search result shows it (the API and brand pages load whole ``Deliverable`` rows)."""

    platform: Platform
    kind: ContentKind
    count: int


@dataclass
class GigDetails:
    """What a page shows beside the gig row: deliverables and niches (loaded for many gigs in two queries)."""

    deliverables: list[Any] = field(default_factory=list)  # Deliverable rows, or DeliverableSummary on search cards
    niches: list[str] = field(default_factory=list)

    @property
    def platforms(self) -> list[str]:
        return list(dict.fromkeys(str(d.platform) for d in self.deliverables))


@dataclass
class GigCard:
    """One search result for a creator. ``gig`` is a row of the gig's columns the search was asked for
    (``search.CARD_COLUMNS``, or every column for the API), read like a ``Gig``."""

    gig: Any
    brand_name: str
    details: GigDetails
    eligibility: Eligibility
    application_status: str | None = None
    invited: bool = False


@dataclass
class GigPage:
    items: list[GigCard]
    next_cursor: str | None


@dataclass
class BrandGigRow:
    gig: Gig
    pending: int = 0
    accepted: int = 0


@dataclass
class InviteResult:
    invited: list[UUID] = field(default_factory=list)
    already_invited: list[UUID] = field(default_factory=list)
    already_applied: list[UUID] = field(default_factory=list)
    unknown: list[UUID] = field(default_factory=list)


def gig_as_raw(gig: Gig, details: GigDetails) -> dict[str, Any]:
    """A gig's current values in the shape ``check_gig`` reads, so an edit can change only some fields."""
    return {
        "title": gig.title,
        "brief": gig.brief,
        "currency": gig.currency,
        "base_fee_amount": gig.base_fee_amount,
        "product_name": gig.product_name,
        "product_retail_value": gig.product_retail_value,
        "product_image_url": gig.product_image_url,
        "product_included": gig.product_included,
        "commission_bps": gig.commission_bps,
        "apply_by": as_utc(gig.apply_by) if gig.apply_by else None,
        "ship_within_days": gig.ship_within_days,
        "post_within_days": gig.post_within_days,
        "revision_rounds": gig.revision_rounds,
        "review_window_hours": gig.review_window_hours,
        "keep_live_days": gig.keep_live_days,
        "reminder_offsets_hours": [int(h) for h in gig.reminder_offsets_hours or []],
        "slots": gig.slots,
        "eligible_platforms": list(gig.eligible_platforms or []),
        "min_followers": gig.min_followers,
        "max_followers": gig.max_followers,
        "eligible_countries": list(gig.eligible_countries or []),
        "niches": list(details.niches),
        "min_reliability": gig.min_reliability,
        "min_tier": gig.min_tier,
        "verified_audience_required": gig.verified_audience_required,
        "deliverables": [
            {
                "platform": str(d.platform),
                "kind": str(d.kind),
                "count": d.count,
                "required_hashtags": list(d.required_hashtags or []),
                "required_mentions": list(d.required_mentions or []),
                "disclosure_required": d.disclosure_required,
                "disclosure_text": d.disclosure_text,
            }
            for d in details.deliverables
        ],
    }


class GigService:
    def __init__(self, session: AsyncSession, runtime: Runtime) -> None:
        self.session = session
        self.runtime = runtime

    @property
    def now(self) -> datetime:
        return self.runtime.clock.now()

    @property
    def dialect(self) -> str:
        return self.session.get_bind().dialect.name

    # --- reading ---------------------------------------------------------------------------------------------

    async def get_for_brand(self, actor: Actor | None, gig_id: UUID, *, write: bool = False,
                            lock: bool = False) -> Gig:
        """The brand's own gig; another brand's gig is "not found" (its existence is not revealed)."""
        brand_id = brand_of(actor, write=write)
        query = sa.select(Gig).where(Gig.id == gig_id, Gig.brand_id == brand_id)
        if lock:
            query = query.with_for_update()
        gig = await self.session.scalar(query)
        if gig is None:
            raise NotFound(NOT_FOUND)
        return gig

    async def get_for_creator(self, actor: Actor | None, gig_id: UUID) -> Gig:
        """A published gig (open, closed or archived); drafts are invisible to creators."""
        creator_of(actor)
        gig = await self.session.scalar(sa.select(Gig).where(Gig.id == gig_id, Gig.status != GigStatus.DRAFT))
        if gig is None:
            raise NotFound(NOT_FOUND)
        return gig

    async def details(self, gig_ids: Iterable[UUID]) -> dict[UUID, GigDetails]:
        ids = list(dict.fromkeys(gig_ids))
        result: dict[UUID, GigDetails] = {gid: GigDetails() for gid in ids}
        if not ids:
            return result
        for d in await self.session.scalars(
            sa.select(Deliverable).where(Deliverable.gig_id.in_(ids)).order_by(Deliverable.gig_id, Deliverable.id)
        ):
            result[d.gig_id].deliverables.append(d)
        for gig_id, niche in await self.session.execute(
            sa.select(GigNiche.gig_id, GigNiche.niche).where(GigNiche.gig_id.in_(ids)).order_by(GigNiche.niche)
        ):
            result[gig_id].niches.append(niche)
        return result

    async def accepted_counts(self, gig_ids: Sequence[UUID]) -> dict[UUID, int]:
        if not gig_ids:
            return {}
        return {gid: n for gid, n in await self.session.execute(accepted_slots_query(gig_ids))}

    async def brand_gigs(self, actor: Actor | None, status: GigStatus | None = None) -> list[BrandGigRow]:
        brand_id = brand_of(actor)
        query = sa.select(Gig).where(Gig.brand_id == brand_id)
        if status is not None:
            query = query.where(Gig.status == status)
        gigs = list(await self.session.scalars(query.order_by(Gig.created_at.desc()).limit(500)))
        rows = {g.id: BrandGigRow(g) for g in gigs}
        if gigs:
            counts = await self.session.execute(
                sa.select(Application.gig_id, Application.status, sa.func.count(Application.id))
                .where(Application.brand_id == brand_id, Application.gig_id.in_(list(rows)))
                .group_by(Application.gig_id, Application.status)
            )
            for gig_id, app_status, n in counts:
                if app_status == ApplicationStatus.PENDING:
                    rows[gig_id].pending = n
                elif app_status == ApplicationStatus.ACCEPTED:
                    rows[gig_id].accepted = n
        return list(rows.values())

    async def search(self, facts: CreatorFacts | None, creator_id: UUID | None, filters: GigFilters, *,
                     full: bool = False) -> GigPage:
        """One page of open gigs for a creator, each with "eligible for you" and why not (judged by ``facts``).

        A fixed number of queries whatever the page size: the page (two statements in deadline order) and one
        statement for its deliverables, niches, brand names, and the creator's applications and invitations among
        these gigs. ``full`` rows carry every gig column and whole deliverables (the API shows them all).
        """
        page, _ = await self._search(filters, creator_id, facts, full=full)
        return page

    async def creator_search(self, creator_id: UUID, filters: GigFilters, *,
                             full: bool = False) -> tuple[GigPage, CreatorFacts | None]:
        """``search`` for a creator whose facts are read with the page's own lookups: the page, one statement for
        everything about its gigs and the creator's profile, and the creator's standing. The facts are None when
        the page is empty (nothing was judged)."""
        return await self._search(filters, creator_id, None, full=full)

    async def _search(self, filters: GigFilters, creator_id: UUID | None, facts: CreatorFacts | None, *,
                      full: bool) -> tuple[GigPage, CreatorFacts | None]:
        dialect = self.dialect
        # Core statements on the session's connection: the ORM's execution layer (entity loading, its own compile
        # state) costs a fifth of a statement's CPU here and reads nothing these plain rows need.
        conn = await self.session.connection()
        rows: list[Any] = []
        for query, params in open_gigs_statements(filters, now=self.now, dialect=dialect, full=full):
            if rows and params:
                params = {**params, "limit": filters.limit + 1 - len(rows)}
            elif rows:
                query = query.limit(page_limit(filters.limit + 1 - len(rows), dialect))
            rows.extend((await conn.execute(query, params)).all())
            if len(rows) > filters.limit:
                break
        gigs, more = page_of(rows, filters.limit)
        if not gigs:
            return GigPage([], None), facts
        ids = [g.id for g in gigs]
        load_facts = facts is None and creator_id is not None
        details = await self.details(ids) if full else {gid: GigDetails() for gid in ids}
        brand_names: dict[UUID, str] = {}
        applied: dict[UUID, str] = {}
        invited: set[UUID] = set()
        creator_rows: list[Any] = []
        lookup = page_lookup_statement(full=full, creator=creator_id is not None, facts=load_facts, dialect=dialect)
        params = {"ids": ids, "brand_ids": list({g.brand_id for g in gigs}), "creator_id": creator_id}
        for part, ref, a, b, n, _ in await conn.execute(lookup, params):
            if part == "d":
                details[ref].deliverables.append(DeliverableSummary(Platform(a), ContentKind(b), int(n)))
            elif part == "n":
                details[ref].niches.append(a)
            elif part == "b":
                brand_names[ref] = a
            elif part == "a":
                applied[ref] = a
            elif part == "i":
                invited.add(ref)
            else:
                creator_rows.append((part, a, n))
        if load_facts:
            assert creator_id is not None
            view, open_unposted = await creator_standing_at_once(self.session, creator_id, self.now)
            facts = creator_facts_from(creator_rows, view, open_unposted, self.now)
        judged: dict[GigRequirements, Eligibility] = {}  # gigs with the same bar get the same answer
        cards = []
        for gig in gigs:
            d = details[gig.id]
            if facts is None:
                eligibility = Eligibility(True)
            else:
                requirements = requirements_of(gig, d.platforms, d.niches)
                eligibility = judged.get(requirements)
                if eligibility is None:
                    eligibility = judged[requirements] = check_eligibility(facts, requirements)
            cards.append(GigCard(gig, brand_names.get(gig.brand_id, ""), d, eligibility,
                                 applied.get(gig.id), gig.id in invited))
        return GigPage(cards, next_cursor(filters, gigs[-1]) if more else None), facts

    @staticmethod
    def _page_lookups(ids: Any, brand_ids: Any, creator_id: Any, *, full: bool, facts: bool) -> list[sa.Select[Any]]:
        """What a results page needs beside its gig rows, as tagged lookups (see ``rows.tagged``); the ids are
        bound parameters (``page_lookup_statement``)."""
        d, n = Deliverable.__table__.c, GigNiche.__table__.c
        b = Brand.__table__.c
        lookups = [tagged("b", b.id, a=b.name).where(in_list(b.id, brand_ids))]
        if not full:
            lookups += [
                tagged("d", d.gig_id, a=d.platform, b=d.kind, n=d.count, seq=d.id).where(in_list(d.gig_id, ids)),
                tagged("n", n.gig_id, a=n.niche).where(in_list(n.gig_id, ids)),
            ]
        if creator_id is not None:
            app, inv = Application.__table__.c, GigInvitation.__table__.c
            lookups += [
                tagged("a", app.gig_id, a=app.status).where(app.creator_id == creator_id, in_list(app.gig_id, ids)),
                tagged("i", inv.gig_id).where(inv.creator_id == creator_id, in_list(inv.gig_id, ids)),
            ]
            if facts:
                lookups += creator_facts_lookup(creator_id)
        return lookups

    # --- writing ---------------------------------------------------------------------------------------------

    async def _write_children(self, gig: Gig, fields: GigFields, *, replace: bool) -> None:
        if replace:
            await self.session.execute(sa.delete(Deliverable).where(Deliverable.gig_id == gig.id))
            await self.session.execute(sa.delete(GigNiche).where(GigNiche.gig_id == gig.id))
            await self.session.execute(sa.delete(gig_search_term).where(gig_search_term.c.gig_id == gig.id))
        for d in fields.deliverables:
            self.session.add(Deliverable(
                gig_id=gig.id, platform=d.platform, kind=d.kind, count=d.count,
                required_hashtags=list(d.required_hashtags), required_mentions=list(d.required_mentions),
                disclosure_required=d.disclosure_required, disclosure_text=d.disclosure_text,
            ))
        for niche in fields.niches:
            self.session.add(GigNiche(gig_id=gig.id, niche=niche))
        if self.dialect != "postgresql":
            # SQLite's word index (PostgreSQL indexes the gig row itself).
            terms = search_terms(fields.title, fields.brief)
            if terms:
                await self.session.execute(
                    sa.insert(gig_search_term), [{"gig_id": gig.id, "term": t} for t in sorted(terms)]
                )
        await self.session.flush()

    @staticmethod
    def _copy_fields(gig: Gig, fields: GigFields) -> None:
        gig.title = fields.title
        gig.brief = fields.brief
        gig.currency = fields.currency
        gig.base_fee_amount = fields.base_fee_amount
        gig.commission_bps = fields.commission_bps
        gig.product_name = fields.product_name
        gig.product_retail_value = fields.product_retail_value
        gig.product_image_url = fields.product_image_url
        gig.product_included = fields.product_included
        gig.apply_by = fields.apply_by
        gig.ship_within_days = fields.ship_within_days
        gig.post_within_days = fields.post_within_days
        gig.revision_rounds = fields.revision_rounds
        gig.review_window_hours = fields.review_window_hours
        gig.keep_live_days = fields.keep_live_days
        gig.reminder_offsets_hours = list(fields.reminder_offsets_hours)
        gig.slots = fields.slots
        gig.eligible_platforms = [p.value for p in fields.eligible_platforms]
        gig.min_followers = fields.min_followers
        gig.max_followers = fields.max_followers
        gig.eligible_countries = list(fields.eligible_countries)
        gig.min_reliability = fields.min_reliability
        gig.min_tier = fields.min_tier
        gig.verified_audience_required = fields.verified_audience_required

    async def create_gig(self, actor: Actor | None, raw: Mapping[str, Any],
                         parse_errors: Mapping[str, str] | None = None) -> Gig:
        """A new draft gig from typed input (see ``rules.check_gig``); nothing is written unless all of it is valid."""
        brand_id = brand_of(actor, write=True)
        fields = check_gig(raw, now=self.now, parse_errors=parse_errors)
        gig = Gig(brand_id=brand_id, created_by_id=actor.user_id if actor else None, status=GigStatus.DRAFT,
                  title=fields.title, brief=fields.brief, base_fee_amount=fields.base_fee_amount)
        self._copy_fields(gig, fields)
        self.session.add(gig)
        await self.session.flush()
        await self._write_children(gig, fields, replace=False)
        return gig

    async def update_gig(self, actor: Actor | None, gig_id: UUID, changes: Mapping[str, Any],
                         parse_errors: Mapping[str, str] | None = None) -> Gig:
        """Change some or all fields of a draft or open gig. Deals already made keep the terms they were accepted
        under (each collaboration holds its own snapshot), so an edit only affects future acceptances."""
        gig = await self.get_for_brand(actor, gig_id, write=True, lock=True)
        if gig.status in (GigStatus.CLOSED, GigStatus.ARCHIVED):
            raise Conflict(
                gettext("This gig is %(status)s; closed and archived gigs can't be edited.", status=gig.status)
            )
        details = (await self.details([gig.id]))[gig.id]
        raw = gig_as_raw(gig, details)
        raw.update(changes)
        accepted = (await self.accepted_counts([gig.id])).get(gig.id, 0)
        errors = dict(parse_errors or {})
        old_apply_by = as_utc(gig.apply_by) if gig.apply_by else None
        new_apply_by = raw.get("apply_by")
        unchanged_deadline = (
            isinstance(new_apply_by, datetime) and old_apply_by is not None and new_apply_by.tzinfo is not None
            and abs((new_apply_by - old_apply_by).total_seconds()) < 60
        )
        if unchanged_deadline:
            raw["apply_by"] = None  # an untouched deadline is not re-checked against the clock
        if raw.get("currency") not in (None, gig.currency) and await self.session.scalar(
            sa.select(sa.func.count(Application.id)).where(Application.gig_id == gig.id)
        ):
            errors.setdefault(
                "base_fee.currency", gettext("Creators have applied in this currency; it can't change now.")
            )
        fields = check_gig(raw, now=self.now, min_slots=max(accepted, 1), parse_errors=errors)
        if unchanged_deadline:
            fields = _with_apply_by(fields, old_apply_by)
        self._copy_fields(gig, fields)
        await self._write_children(gig, fields, replace=True)
        return gig

    async def set_reminder_offsets(self, actor: Actor | None, gig_id: UUID, offsets: object) -> Gig:
        """Brands tune when reminders go out for deals made from now on (existing deals keep theirs)."""
        gig = await self.get_for_brand(actor, gig_id, write=True, lock=True)
        c = Checker()
        checked = check_reminder_offsets(c, offsets if offsets not in (None, "") else [])
        if not checked and c.ok("reminder_offsets_hours"):
            checked = ()
        c.raise_if_invalid()
        gig.reminder_offsets_hours = list(checked)
        return gig

    async def publish_gig(self, actor: Actor | None, gig_id: UUID) -> Gig:
        gig = await self.get_for_brand(actor, gig_id, write=True, lock=True)
        if gig.status is not GigStatus.DRAFT:
            raise Conflict(gettext('Only drafts can be published; this gig is %(status)s.', status=gig.status))
        details = (await self.details([gig.id]))[gig.id]
        problems: dict[str, str] = {}
        if not details.deliverables:
            problems["deliverables"] = "Add at least one deliverable before publishing."
        if gig.apply_by is not None and as_utc(gig.apply_by) <= self.now:
            problems["apply_by"] = "The apply-by date has passed; move it to the future before publishing."
        floor = minimum_fee(gig.currency)
        if gig.base_fee_amount < floor:  # drafts saved before the minimum existed
            problems["base_fee.amount"] = f"Set a base fee of at least {format_minor(floor, gig.currency)} first."
        if problems:
            raise InvalidInput(problems)
        gig.status = GigStatus.OPEN
        gig.published_at = self.now
        # Creators invited while the gig was a draft hear about it now that they can apply.
        invited = list(await self.session.scalars(
            sa.select(Creator.user_id).join(GigInvitation, GigInvitation.creator_id == Creator.id)
            .where(GigInvitation.gig_id == gig.id)
        ))
        if invited:
            await self._notify_invited(gig, invited, "")
        return gig

    async def close_gig(self, actor: Actor | None, gig_id: UUID) -> Gig:
        """No new applications; pending ones can still be accepted or declined."""
        gig = await self.get_for_brand(actor, gig_id, write=True, lock=True)
        if gig.status is not GigStatus.OPEN:
            raise Conflict(gettext('Only open gigs can be closed; this gig is %(status)s.', status=gig.status))
        gig.status = GigStatus.CLOSED
        gig.closed_at = self.now
        return gig

    async def archive_gig(self, actor: Actor | None, gig_id: UUID) -> Gig:
        gig = await self.get_for_brand(actor, gig_id, write=True, lock=True)
        if gig.status not in (GigStatus.DRAFT, GigStatus.CLOSED):
            raise Conflict(
                gettext("Close the gig before archiving it.")
                if gig.status is GigStatus.OPEN
                else gettext("This gig is already archived.")
            )
        gig.status = GigStatus.ARCHIVED
        return gig

    # --- invitations -------------------------------------------------------------------------------------------

    async def invite_creators(self, actor: Actor | None, gig_id: UUID, creator_ids: Sequence[UUID],
                              message: str = "") -> InviteResult:
        """Invite many creators to apply, in a few set-based statements (brands invite 100+ at once)."""
        gig = await self.get_for_brand(actor, gig_id, write=True)
        if gig.status not in (GigStatus.OPEN, GigStatus.DRAFT):
            raise Conflict(gettext('This gig is %(status)s; invite creators to an open gig.', status=gig.status))
        c = Checker()
        message = c.text("message", message, label=N_('Message'), max_length=2000, single_line=False)
        ids = list(dict.fromkeys(creator_ids))
        if not ids:
            c.error("creator_ids", gettext('Choose at least one creator to invite.'))
        elif len(creator_ids) > MAX_INVITES_PER_REQUEST:  # as sent: 100,000 copies of one id are refused too
            c.error(
                "creator_ids",
                gettext(
                    "Invite at most %(max_invites_per_request)s creators at a time.",
                    max_invites_per_request=MAX_INVITES_PER_REQUEST,
                ),
            )
        c.raise_if_invalid()
        result = InviteResult()
        creators = dict((await self.session.execute(
            sa.select(Creator.id, Creator.user_id).where(Creator.id.in_(ids))
        )).all())
        result.unknown = [i for i in ids if i not in creators]
        existing = set(await self.session.scalars(
            sa.select(GigInvitation.creator_id).where(GigInvitation.gig_id == gig.id,
                                                      GigInvitation.creator_id.in_(list(creators)))
        ))
        applied = set(await self.session.scalars(
            sa.select(Application.creator_id).where(Application.gig_id == gig.id,
                                                    Application.creator_id.in_(list(creators)))
        ))
        for creator_id in creators:
            if creator_id in existing:
                result.already_invited.append(creator_id)
            elif creator_id in applied:
                result.already_applied.append(creator_id)
            else:
                result.invited.append(creator_id)
        if result.invited:
            assert actor is not None
            self.session.add_all([
                GigInvitation(gig_id=gig.id, creator_id=cid, invited_by_id=actor.user_id, message=message)
                for cid in result.invited
            ])
            await self.session.flush()
            if gig.status is GigStatus.OPEN:
                await self._notify_invited(gig, [creators[cid] for cid in result.invited], message)
        return result

    async def _notify_invited(self, gig: Gig, user_ids: list[UUID], message: str) -> None:
        brand_name = await self.session.scalar(sa.select(Brand.name).where(Brand.id == gig.brand_id)) or "A brand"
        body = f"{brand_name} invited you to apply to \"{gig.title}\"."
        if message:
            body += f"\n\nTheir message: {message}"
        await notify(self.session, user_ids, kind="gig.invitation", title=f"Invitation: {gig.title}"[:200],
                     body=body, link=f"/gigs/{gig.id}", email_template="notification",
                     public_url=self.runtime.settings.app.public_url)

    async def creator_invitations(self, actor: Actor | None) -> list[tuple[GigInvitation, Gig, str]]:
        """The creator's invitations to gigs that are still open, newest first."""
        creator_id = creator_of(actor)
        rows = await self.session.execute(
            sa.select(GigInvitation, Gig, Brand.name)
            .join(Gig, Gig.id == GigInvitation.gig_id)
            .join(Brand, Brand.id == Gig.brand_id)
            .where(GigInvitation.creator_id == creator_id, Gig.status == GigStatus.OPEN)
            .order_by(GigInvitation.created_at.desc())
            .limit(200)
        )
        return [(inv, gig, name) for inv, gig, name in rows]

    async def invitation_counts(self, gig_id: UUID) -> int:
        return int(await self.session.scalar(
            sa.select(sa.func.count(GigInvitation.id)).where(GigInvitation.gig_id == gig_id)
        ) or 0)


def _with_apply_by(fields: GigFields, apply_by: datetime | None) -> GigFields:
    return replace(fields, apply_by=apply_by)


@functools.cache
def page_lookup_statement(*, full: bool, creator: bool, facts: bool, dialect: str) -> sa.CompoundSelect:
    """A results page's lookups as one statement, built once per shape: building the ten-branch UNION cost more
    than PostgreSQL took to run it. Parameters: ``ids`` and ``brand_ids`` (lists), ``creator_id``. On PostgreSQL
    each list is one array parameter (``= ANY``): one statement text whatever the lists' lengths, so nothing is
    expanded per request and each connection prepares it once; elsewhere an expanding IN."""
    ids, brand_ids = id_list(dialect, "ids"), id_list(dialect, "brand_ids")
    creator_id = sa.bindparam("creator_id", type_=Gig.__table__.c.id.type) if creator else None
    return tagged_lookup(GigService._page_lookups(ids, brand_ids, creator_id, full=full, facts=facts))
