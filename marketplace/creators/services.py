"""Creator profiles: details, social accounts (with the directory's denormalised totals), rate card, shipping address;
the brand-side creator directory; and the facts eligibility looks at.

Long because the directory and the profile share the denormalised totals they keep in step.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from uuid import UUID

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from marketplace.accounts.auth import Actor
from marketplace.applications.models import Application
from marketplace.brands.models import CreatorNote
from marketplace.collaborations.models import Collaboration
from marketplace.collaborations.states import TERMINAL, CollabState
from marketplace.creators.addresses import address_key
from marketplace.creators.models import (
    ContentKind,
    Creator,
    CreatorNiche,
    Platform,
    RateCardEntry,
    ShippingAddress,
    SocialAccount,
)
from marketplace.errors import Forbidden, InvalidInput, NotFound
from marketplace.forms import FormReader
from marketplace.gigs.keyset import SortKey, page_of
from marketplace.gigs.rows import tagged, tagged_lookup
from marketplace.gigs.rules import CreatorFacts
from marketplace.gigs.validation import LANGUAGE_RE, NICHE_RE, Checker
from marketplace.i18n import N_, gettext
from marketplace.reputation.services import (
    creator_rank_order,
    creator_rank_tie,
    creator_ranking_score,
    creator_standing,
    creator_views,
    join_creator_ranking,
)
from marketplace.social.models import ConnectionStatus, SocialConnection
from marketplace.verification.posts import platform_label
from reputation.services import ScoreView

HANDLE_RE = re.compile(r"^[a-z0-9._-]{1,100}$")
MAX_FOLLOWERS = 10_000_000_000
MAX_ACCOUNTS = 10
#: A brand sees the shipping address only while it has a live deal with product to send: from the creator's signature
#: (an offer the creator may still decline reveals nothing) until the deal ends. Same rule as the deal page.
ADDRESS_VISIBLE_STATES = frozenset(s for s in CollabState if s not in TERMINAL and s is not CollabState.OFFERED)


def creator_of(actor: Actor | None) -> UUID:
    if actor is None or not actor.is_creator or actor.creator_id is None:
        raise Forbidden(gettext('This is for creators.'))
    return actor.creator_id


def normalise_handle(raw: str) -> str:
    return raw.strip().lstrip("@").strip().lower()


# --- reputation hook ----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Reputation:
    reliability: float | None = None
    tier: str | None = None


def reputation_from(view: ScoreView) -> Reputation:
    return Reputation() if view.is_newcomer else Reputation(view.ranking_score, view.tier.name)


async def reputation_of(session: AsyncSession, creator_ids: Sequence[UUID], now: datetime) -> dict[UUID, Reputation]:
    """Proven reliability (0-1) and tier per creator, live (``creator_views``: the reliability page shows the same
    numbers); creators with no scored deal are left out, which pages show as "no score yet"."""
    return {creator_id: reputation_from(view) for creator_id, view in (await creator_views(session, creator_ids, now))
            .items() if not view.is_newcomer}


def creator_facts_lookup(creator_id: UUID) -> list[sa.Select[Any]]:
    """The profile part of a creator's facts as tagged lookups (``gigs.rows.tagged``), so a page can read them in
    the same round trip as its own lookups: country ("p"), social accounts ("s": platform, followers), niches ("c"),
    and the audiences a live connection verifies ("v": platform, followers)."""
    creator, account, niche = Creator.__table__.c, SocialAccount.__table__.c, CreatorNiche.__table__.c
    conn = SocialConnection.__table__.c
    return [
        tagged("v", conn.creator_id, a=conn.platform, n=conn.followers).where(
            conn.creator_id == creator_id, conn.status == ConnectionStatus.ACTIVE.value,
            conn.audience_fetched_at.is_not(None)),
        tagged("p", creator.id, a=creator.country).where(creator.id == creator_id),
        tagged("s", account.creator_id, a=account.platform, n=account.followers).where(
            account.creator_id == creator_id
        ),
        tagged("c", niche.creator_id, a=niche.niche).where(niche.creator_id == creator_id),
    ]


def creator_facts_from(rows: Iterable[tuple[str, str | None, int | None]], view: ScoreView | Reputation,
                       open_unposted: int = 0, now: datetime | None = None) -> CreatorFacts:
    """Facts from the ``creator_facts_lookup`` rows as (part, a, n), and either the live standing (a ScoreView with
    the open unposted deals, judged at ``now``) or the stored reputation."""
    country: str | None = None
    found = False
    niches: set[str] = set()
    accounts: list[tuple[str, int]] = []
    verified: list[tuple[str, int]] = []
    for part, a, n in rows:
        if part == "p":
            found, country = True, a
        elif part == "s":
            accounts.append((str(a), int(n or 0)))
        elif part == "v":
            verified.append((str(a), int(n or 0)))
        elif part == "c" and a is not None:
            niches.add(a)
    if not found:
        raise NotFound(gettext('No such creator.'))
    if isinstance(view, Reputation):
        reputation, record = view, None
    else:
        reputation, record = reputation_from(view), view.record
    return CreatorFacts(
        country=country,
        niches=frozenset(niches),
        accounts=tuple(accounts),
        reliability=reputation.reliability,
        tier=reputation.tier,
        record=record,
        open_unposted=open_unposted if record is not None else 0,
        at=now if record is not None else None,
        verified_accounts=tuple(verified),
    )


async def creator_facts(session: AsyncSession, creator_id: UUID, now: datetime) -> CreatorFacts:
    """What gig eligibility needs about one creator, in two small queries whatever the number of gigs checked.

    With ``now``, the reputation part is live and complete (track record, open unposted deals): eligibility then
    applies suspension, probation and the tier caps too. Without it, only the stored score and tier.
    """
    rows = [(part, a, n) for part, _, a, _, n, _ in await session.execute(
        tagged_lookup(creator_facts_lookup(creator_id))
    )]
    if not any(part == "p" for part, _, _ in rows):
        raise NotFound(gettext('No such creator.'))
    view, open_unposted = await creator_standing(session, creator_id, now)
    return creator_facts_from(rows, view, open_unposted, now)


# --- the creator's own profile -----------------------------------------------------------------------------------


@dataclass
class Profile:
    creator: Creator
    niches: list[str]
    accounts: list[SocialAccount]
    rate_card: list[RateCardEntry]
    address: ShippingAddress | None


class CreatorProfileService:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def profile(self, creator_id: UUID) -> Profile:
        creator = await self.session.get(Creator, creator_id)
        if creator is None:
            raise NotFound(gettext('No such creator.'))
        niches = list(await self.session.scalars(
            sa.select(CreatorNiche.niche).where(CreatorNiche.creator_id == creator_id).order_by(CreatorNiche.niche)
        ))
        accounts = list(await self.session.scalars(
            sa.select(SocialAccount).where(SocialAccount.creator_id == creator_id)
            .order_by(SocialAccount.platform, SocialAccount.handle)
        ))
        rates = list(await self.session.scalars(
            sa.select(RateCardEntry).where(RateCardEntry.creator_id == creator_id)
            .order_by(RateCardEntry.platform, RateCardEntry.kind, RateCardEntry.currency)
        ))
        address = await self.session.scalar(sa.select(ShippingAddress).where(ShippingAddress.creator_id == creator_id))
        return Profile(creator, niches, accounts, rates, address)

    async def _lock_creator(self, creator_id: UUID) -> Creator:
        creator = await self.session.get(Creator, creator_id, with_for_update=True)
        if creator is None:
            raise NotFound(gettext('No such creator.'))
        return creator

    async def update_details(self, actor: Actor | None, raw: Mapping[str, Any],
                             parse_errors: Mapping[str, str] | None = None) -> Creator:
        creator_id = creator_of(actor)
        c = Checker()
        for k, v in (parse_errors or {}).items():
            c.error(k, v)
        name = c.text("display_name", raw.get("display_name"), label=N_('Display name'), max_length=120, required=True)
        bio = c.text("bio", raw.get("bio"), label=N_('Bio'), max_length=2000, single_line=False)
        country = c.country("country", raw.get("country"))
        languages = c.words("languages", raw.get("languages"), pattern=LANGUAGE_RE, label=N_('language code'),
                            max_items=10, example="en or de")
        niches = c.words("niches", raw.get("niches"), pattern=NICHE_RE, label="niche", max_items=10,
                         example="skincare or home-fitness")
        c.raise_if_invalid()
        creator = await self.session.get(Creator, creator_id, with_for_update=True)
        if creator is None:
            raise NotFound(gettext('No such creator.'))
        creator.display_name = name
        creator.bio = bio
        creator.country = country
        creator.languages = languages
        await self.session.execute(sa.delete(CreatorNiche).where(CreatorNiche.creator_id == creator_id))
        self.session.add_all([CreatorNiche(creator_id=creator_id, niche=n) for n in niches])
        await self.session.flush()
        return creator

    async def save_social_account(self, actor: Actor | None, raw: Mapping[str, Any], account_id: UUID | None = None,
                                  parse_errors: Mapping[str, str] | None = None) -> SocialAccount:
        """Link a new account or edit one; a handle another creator already claimed is refused."""
        creator_id = creator_of(actor)
        c = Checker()
        for k, v in (parse_errors or {}).items():
            c.error(k, v)
        platform = c.choice("platform", raw.get("platform"), Platform, label=N_('Platform'))
        handle_raw = c.text("handle", raw.get("handle"), label=N_('Handle'), max_length=101, required=True)
        handle = normalise_handle(handle_raw)
        if handle_raw and not HANDLE_RE.match(handle):
            c.error(
                "handle", gettext("A handle has letters, digits, dots, dashes or underscores, like @glow.with.ava.")
            )
        url = c.url("profile_url", raw.get("profile_url"), label=N_('Profile URL'), required=True)
        followers = c.integer("followers", raw.get("followers"), label=N_('Followers'), minimum=0,
                              maximum=MAX_FOLLOWERS, required=True)
        views = c.integer("average_views", raw.get("average_views"), label=N_('Average views'), minimum=0,
                          maximum=MAX_FOLLOWERS * 10)
        engagement = c.integer("engagement_bps", raw.get("engagement_bps"), label=N_('Engagement rate'), minimum=0,
                               maximum=2**62)
        if engagement is not None and engagement > 10_000:
            # The page takes a percentage, the API basis points: say both, not the number the user didn't type.
            c.error("engagement_bps", gettext("Engagement rate is a percentage from 0 to 100 (in the API, 0 to "
                                              "10,000 basis points)."))
        c.raise_if_invalid()
        assert platform is not None and followers is not None and url is not None
        await self._lock_creator(creator_id)
        if account_id is None:
            account = None
            count = await self.session.scalar(
                sa.select(sa.func.count(SocialAccount.id)).where(SocialAccount.creator_id == creator_id)
            )
            if (count or 0) >= MAX_ACCOUNTS:
                raise_invalid("platform", f"At most {MAX_ACCOUNTS} social accounts per creator.")
        else:
            account = await self.session.scalar(
                sa.select(SocialAccount).where(SocialAccount.id == account_id, SocialAccount.creator_id == creator_id)
                .with_for_update()
            )
            if account is None:
                raise NotFound(gettext('No such social account.'))
        claimed_by = await self.session.scalar(
            sa.select(SocialAccount.creator_id).where(SocialAccount.platform == platform,
                                                      SocialAccount.handle == handle)
            .where(SocialAccount.id != account.id if account is not None else sa.true())
        )
        if claimed_by is not None:
            raise_invalid("handle", _claimed_message(platform, handle, mine=claimed_by == creator_id))
        if account is None:
            account = SocialAccount(creator_id=creator_id, platform=platform, handle=handle, profile_url=url)
            self.session.add(account)
        account.platform = platform
        account.handle = handle
        account.profile_url = url
        account.followers = followers
        account.average_views = views or 0
        account.engagement_bps = engagement or 0
        try:
            async with self.session.begin_nested():
                await self.session.flush()
        except IntegrityError as exc:  # two creators claiming the same handle at once: the unique index decides
            raise_invalid("handle", _claimed_message(platform, handle, mine=False), exc)
        await sync_creator_totals(self.session, creator_id)
        return account

    async def remove_social_account(self, actor: Actor | None, account_id: UUID) -> None:
        creator_id = creator_of(actor)
        await self._lock_creator(creator_id)
        account = await self.session.scalar(
            sa.select(SocialAccount).where(SocialAccount.id == account_id, SocialAccount.creator_id == creator_id)
        )
        if account is None:
            raise NotFound(gettext('No such social account.'))

        in_use = await self.session.scalar(
            sa.select(sa.func.count(Application.id)).where(Application.social_account_id == account_id)
        )
        if in_use:
            raise_invalid("account", "This account is named in your applications or deals, so it stays linked. "
                                     "You can update its numbers instead.")
        await self.session.delete(account)
        await self.session.flush()
        await sync_creator_totals(self.session, creator_id)

    async def save_rate(self, actor: Actor | None, raw: Mapping[str, Any],
                        parse_errors: Mapping[str, str] | None = None) -> RateCardEntry:
        """Set the base fee for one deliverable type (platform + kind) in one currency (replaces an earlier one)."""
        creator_id = creator_of(actor)
        c = Checker()
        for k, v in (parse_errors or {}).items():
            c.error(k, v)
        platform = c.choice("rate.platform", raw.get("platform"), Platform, label=N_('Platform'))
        kind = c.choice("rate.kind", raw.get("kind"), ContentKind, label=N_('Kind'))
        currency = c.currency("rate.currency", raw.get("currency"))
        fee = c.amount("rate.amount", raw.get("base_fee_amount"), label=N_('Base fee'), required=True)
        c.raise_if_invalid()
        entry = await self.session.scalar(sa.select(RateCardEntry).where(
            RateCardEntry.creator_id == creator_id, RateCardEntry.platform == platform,
            RateCardEntry.kind == kind, RateCardEntry.currency == currency,
        ))
        if entry is None:
            entry = RateCardEntry(creator_id=creator_id, platform=platform, kind=kind, currency=currency,
                                  base_fee_amount=fee)
            self.session.add(entry)
        entry.base_fee_amount = fee  # type: ignore[assignment]
        await self.session.flush()
        return entry

    async def remove_rate(self, actor: Actor | None, entry_id: UUID) -> None:
        creator_id = creator_of(actor)
        result = await self.session.execute(
            sa.delete(RateCardEntry).where(RateCardEntry.id == entry_id, RateCardEntry.creator_id == creator_id)
        )
        if not result.rowcount:  # type: ignore[attr-defined]
            raise NotFound(gettext('No such rate.'))

    async def save_address(self, actor: Actor | None, raw: Mapping[str, Any]) -> ShippingAddress:
        creator_id = creator_of(actor)
        c = Checker()
        values = {
            "recipient_name": c.text("recipient_name", raw.get("recipient_name"), label=N_('Recipient'), max_length=120,
                                     required=True),
            "line1": c.text("line1", raw.get("line1"), label=N_('Address line 1'), max_length=200, required=True),
            "line2": c.text("line2", raw.get("line2"), label=N_('Address line 2'), max_length=200),
            "city": c.text("city", raw.get("city"), label=N_('City'), max_length=100, required=True),
            "region": c.text("region", raw.get("region"), label=N_('Region'), max_length=100),
            "postal_code": c.text("postal_code", raw.get("postal_code"), label=N_('Postal code'), max_length=20,
                                  required=True),
            "country": c.country("address_country", raw.get("country"), required=True),
            "phone": c.text("phone", raw.get("phone"), label=N_('Phone'), max_length=40),
        }
        c.raise_if_invalid()
        values["address_key"] = address_key(line1=values["line1"], line2=values["line2"],
                                            postal_code=values["postal_code"], country=values["country"])
        address = await self.session.scalar(
            sa.select(ShippingAddress).where(ShippingAddress.creator_id == creator_id).with_for_update()
        )
        if address is None:
            address = ShippingAddress(creator_id=creator_id, **values)
            self.session.add(address)
        else:
            for key, value in values.items():
                setattr(address, key, value)
        await self.session.flush()
        return address


def _claimed_message(platform: Platform, handle: str, *, mine: bool) -> str:
    if mine:
        return f"You already linked @{handle} on {platform_label(platform)}."
    return (f"@{handle} on {platform_label(platform)} is already linked to another PostPact creator. "
            "If it is yours, contact support and we'll check.")


def raise_invalid(field_name: str, message: str, cause: BaseException | None = None) -> None:
    raise InvalidInput({field_name: message}) from cause


async def sync_creator_totals(session: AsyncSession, creator_id: UUID) -> Creator:
    """Keep the directory's denormalised totals equal to the creator's accounts (sum of followers, best rate).
    Callers lock the creator row first, so two edits of the same creator's accounts can't interleave."""
    await session.flush()
    total, best = (await session.execute(
        sa.select(sa.func.coalesce(sa.func.sum(SocialAccount.followers), 0),
                  sa.func.coalesce(sa.func.max(SocialAccount.engagement_bps), 0))
        .where(SocialAccount.creator_id == creator_id)
    )).one()
    creator = await session.get(Creator, creator_id)
    if creator is None:
        raise NotFound(gettext('No such creator.'))
    creator.total_followers = int(total)
    creator.best_engagement_bps = int(best)
    await session.flush()
    return creator


async def shipping_address_for_brand(session: AsyncSession, brand_id: UUID,
                                     creator_id: UUID) -> ShippingAddress | None:
    """The creator's address, only while the brand has a live collaboration with product to ship to them."""
    live = await session.scalar(
        sa.select(Collaboration.id).where(
            Collaboration.brand_id == brand_id,
            Collaboration.creator_id == creator_id,
            Collaboration.product_included.is_(True),
            Collaboration.status.in_(list(ADDRESS_VISIBLE_STATES)),
        ).limit(1)
    )
    if live is None:
        return None
    return await session.scalar(sa.select(ShippingAddress).where(ShippingAddress.creator_id == creator_id))


# --- the brand-side directory ------------------------------------------------------------------------------------

DIRECTORY_SORTS: dict[str, SortKey] = {
    "followers": SortKey(Creator.total_followers, Creator.id, descending=True),
    "engagement": SortKey(Creator.best_engagement_bps, Creator.id, descending=True),
    "newest": SortKey(Creator.created_at, Creator.id, descending=True, kind="datetime"),
    # Proven reliability, then expected reliability (reputation.services.rank_order): newcomers above ghosters.
    "reliability": SortKey(creator_rank_order, creator_rank_tie, descending=True),
}
DIRECTORY_SORT_LABELS = {"followers": "Most followers", "engagement": "Best engagement", "newest": "Newest",
                         "reliability": "Most reliable"}


@dataclass(frozen=True)
class DirectoryFilters:
    q: str = ""
    platform: Platform | None = None
    followers_min: int | None = None
    followers_max: int | None = None
    engagement_min_bps: int | None = None
    country: str | None = None
    niche: str | None = None
    sort: str = "followers"
    cursor: str | None = None
    limit: int = 25
    #: Minimum proven reliability, in whole percent (0-100).
    reliability_min: int | None = None
    #: Only creators whose audience a connected account verifies (marketplace.social).
    verified_only: bool = False

    def as_query(self, *, percent: bool) -> dict[str, str]:
        eng = self.engagement_min_bps
        values = {
            "q": self.q,
            "platform": self.platform.value if self.platform else "",
            "followers_min": "" if self.followers_min is None else str(self.followers_min),
            "followers_max": "" if self.followers_max is None else str(self.followers_max),
            "engagement_min": "" if eng is None else (f"{eng / 100:g}" if percent else str(eng)),
            "country": self.country or "",
            "niche": self.niche or "",
            "reliability_min": "" if self.reliability_min is None else str(self.reliability_min),
            "sort": "" if self.sort == "followers" else self.sort,
            "verified": "1" if self.verified_only else "",
        }
        return {k: v for k, v in values.items() if v}


def parse_directory_filters(params: Mapping[str, Any], *, percent: bool) -> DirectoryFilters:
    """Pages take the engagement minimum as a percentage ("3.5"), the API in basis points (350)."""
    f = FormReader(params)
    c = Checker()
    q = c.text("q", f.text("q", max_length=10_000), label=N_('Search'), max_length=100)
    platform = c.choice("platform", f.text("platform", max_length=100) or None, Platform, label=N_('Platform'),
                        required=False)
    fmin = f.integer("followers_min", minimum=0, maximum=MAX_FOLLOWERS, label=N_('Minimum followers'))
    fmax = f.integer("followers_max", minimum=0, maximum=MAX_FOLLOWERS, label=N_('Maximum followers'))
    if fmin is not None and fmax is not None and fmin > fmax:
        c.error("followers_max", gettext('Maximum followers must be at least the minimum.'))
    if percent:
        eng = f.decimal_minor("engagement_min", exponent=2, label=N_('Minimum engagement'))
    else:
        eng = f.integer("engagement_min", minimum=0, maximum=10_000, label=N_('Minimum engagement'))
    country = c.country("country", f.text("country", max_length=100) or None)
    niche = f.text("niche", max_length=100).lower() or None
    if niche and not NICHE_RE.match(niche):
        c.error("niche", gettext('Niche must be a word like skincare or home-fitness.'))
    reliability_min = f.integer("reliability_min", minimum=0, maximum=100, label=N_('Minimum proven reliability %'))
    sort = f.text("sort", max_length=100) or "followers"
    if sort not in DIRECTORY_SORTS:
        c.error(
            "sort", gettext("Sort must be one of: %(directory_sorts)s.", directory_sorts=", ".join(DIRECTORY_SORTS))
        )
        sort = "followers"
    cursor = f.text("cursor", max_length=500) or None
    verified_only = f.text("verified", max_length=10).lower() in {"1", "true", "on", "yes"}
    limit = f.integer("limit", minimum=1, maximum=100, label=N_('Limit')) or 25
    for k, v in f.errors.items():
        c.error(k, v)
    c.raise_if_invalid()
    filters = DirectoryFilters(q=q, platform=platform, followers_min=fmin, followers_max=fmax,
                               engagement_min_bps=eng if eng and eng > 0 else None, country=country, niche=niche,
                               sort=sort, cursor=cursor, limit=limit, reliability_min=reliability_min or None,
                               verified_only=verified_only)
    if cursor:
        DIRECTORY_SORTS[sort].decode(cursor)
    return filters


@dataclass
class DirectoryEntry:
    creator: Creator
    accounts: list[SocialAccount] = field(default_factory=list)
    niches: list[str] = field(default_factory=list)
    notes: list[CreatorNote] = field(default_factory=list)
    collaborations_with_brand: int = 0
    completed_collaborations: int = 0
    reputation: Reputation = field(default_factory=Reputation)
    #: (platform, handle) → when a connected account last verified its numbers; others are self-reported.
    verified: dict[tuple[str, str], datetime] = field(default_factory=dict)

    def verified_at(self, account: SocialAccount) -> datetime | None:
        return self.verified.get((account.platform.value, account.handle))

    @property
    def audience_verified(self) -> bool:
        """Every listed account's numbers come from a connected account."""
        return bool(self.accounts) and all(self.verified_at(a) for a in self.accounts)


@dataclass
class DirectoryPage:
    items: list[DirectoryEntry]
    next_cursor: str | None


async def creator_extras(session: AsyncSession, brand_id: UUID, creators: Sequence[Creator], now: datetime,
                         *, notes: bool = True) -> list[DirectoryEntry]:
    """Accounts, niches, this brand's own notes and deal counts for many creators, in a fixed number of queries."""
    entries = {c.id: DirectoryEntry(c) for c in creators}
    ids = list(entries)
    if not ids:
        return []
    for account in await session.scalars(
        sa.select(SocialAccount).where(SocialAccount.creator_id.in_(ids)).order_by(SocialAccount.followers.desc())
    ):
        entries[account.creator_id].accounts.append(account)
    for creator_id, niche in await session.execute(
        sa.select(CreatorNiche.creator_id, CreatorNiche.niche).where(CreatorNiche.creator_id.in_(ids))
        .order_by(CreatorNiche.niche)
    ):
        entries[creator_id].niches.append(niche)
    if notes:
        for note in await session.scalars(
            sa.select(CreatorNote).where(CreatorNote.brand_id == brand_id, CreatorNote.creator_id.in_(ids))
            .order_by(CreatorNote.created_at.desc())
        ):
            entries[note.creator_id].notes.append(note)
    counts = await session.execute(
        sa.select(
            Collaboration.creator_id,
            sa.func.count(Collaboration.id).filter(Collaboration.brand_id == brand_id),
            sa.func.count(Collaboration.id).filter(Collaboration.status == CollabState.COMPLETED),
        ).where(Collaboration.creator_id.in_(ids)).group_by(Collaboration.creator_id)
    )
    for creator_id, with_brand, completed in counts:
        entries[creator_id].collaborations_with_brand = with_brand
        entries[creator_id].completed_collaborations = completed
    for creator_id, rep in (await reputation_of(session, ids, now)).items():
        entries[creator_id].reputation = rep
    for creator_id, platform, handle, fetched in await session.execute(
        sa.select(SocialConnection.creator_id, SocialConnection.platform, SocialConnection.handle,
                  SocialConnection.audience_fetched_at)
        .where(SocialConnection.creator_id.in_(ids), SocialConnection.status == ConnectionStatus.ACTIVE.value,
               SocialConnection.audience_fetched_at.is_not(None))
    ):
        entries[creator_id].verified[(platform, handle)] = fetched
    return list(entries.values())


async def search_directory(session: AsyncSession, brand_id: UUID, filters: DirectoryFilters, now: datetime
                           ) -> DirectoryPage:
    """Creators a brand can browse and invite. With a platform chosen, the follower and engagement ranges apply to
    the creator's account on that platform; otherwise to the totals kept on the creator row."""
    query = sa.select(Creator)
    if filters.sort == "reliability" or filters.reliability_min:
        query = join_creator_ranking(query.add_columns(creator_rank_order), Creator.id)
    if filters.reliability_min:
        query = query.where(creator_ranking_score >= filters.reliability_min / 100)
    if filters.q:
        query = query.where(Creator.display_name.ilike(f"%{_escape_like(filters.q)}%", escape="\\"))
    if filters.platform is not None:
        account = sa.select(SocialAccount.id).where(SocialAccount.creator_id == Creator.id,
                                                    SocialAccount.platform == filters.platform)
        if filters.followers_min is not None:
            account = account.where(SocialAccount.followers >= filters.followers_min)
        if filters.followers_max is not None:
            account = account.where(SocialAccount.followers <= filters.followers_max)
        if filters.engagement_min_bps is not None:
            account = account.where(SocialAccount.engagement_bps >= filters.engagement_min_bps)
        query = query.where(account.exists())
    else:
        if filters.followers_min is not None:
            query = query.where(Creator.total_followers >= filters.followers_min)
        if filters.followers_max is not None:
            query = query.where(Creator.total_followers <= filters.followers_max)
        if filters.engagement_min_bps is not None:
            query = query.where(Creator.best_engagement_bps >= filters.engagement_min_bps)
    if filters.country:
        query = query.where(Creator.country == filters.country)
    if filters.verified_only:
        connected = sa.select(SocialConnection.id).where(
            SocialConnection.creator_id == Creator.id, SocialConnection.status == ConnectionStatus.ACTIVE.value,
            SocialConnection.audience_fetched_at.is_not(None))
        if filters.platform is not None:
            connected = connected.where(SocialConnection.platform == filters.platform.value)
        query = query.where(connected.exists())
    if filters.niche:
        query = query.where(sa.exists().where(CreatorNiche.creator_id == Creator.id,
                                              CreatorNiche.niche == filters.niche))
    key = DIRECTORY_SORTS[filters.sort]
    if filters.cursor:
        value, last_id = key.decode(filters.cursor)
        query = query.where(key.after(value, last_id))
    rows, more = page_of(list(await session.execute(query.order_by(*key.order_by()).limit(filters.limit + 1))),
                         filters.limit)
    creators = [row[0] for row in rows]
    entries = await creator_extras(session, brand_id, creators, now)
    cursor = None
    if more and creators:
        last = creators[-1]
        value = {"followers": last.total_followers, "engagement": last.best_engagement_bps,
                 "newest": last.created_at, "reliability": rows[-1][-1]}[filters.sort]
        cursor = key.encode(value, last.id)
    return DirectoryPage(entries, cursor)


def _escape_like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


async def creator_for_brand(session: AsyncSession, brand_id: UUID, creator_id: UUID, now: datetime) -> tuple[
    DirectoryEntry, list[RateCardEntry], ShippingAddress | None
]:
    """A creator's page as a brand sees it: public profile, this brand's notes, rate card, and the address only
    when ``shipping_address_for_brand`` allows it."""
    creator = await session.get(Creator, creator_id)
    if creator is None:
        raise NotFound(gettext('No such creator.'))
    entry = (await creator_extras(session, brand_id, [creator], now))[0]
    rates = list(await session.scalars(
        sa.select(RateCardEntry).where(RateCardEntry.creator_id == creator_id)
        .order_by(RateCardEntry.platform, RateCardEntry.kind)
    ))
    address = await shipping_address_for_brand(session, brand_id, creator_id)
    return entry, rates, address


def ids_from(values: Iterable[object]) -> tuple[list[UUID], list[str]]:
    """Parse ids sent as text; returns the good ones and the ones that are not ids at all."""
    good: list[UUID] = []
    bad: list[str] = []
    for value in values:
        try:
            good.append(value if isinstance(value, UUID) else UUID(str(value)))
        except ValueError:
            bad.append(str(value)[:60])
    return good, bad
