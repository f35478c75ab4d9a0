"""Applications: creators apply and withdraw; brands accept (which makes a collaboration) or decline, many at once."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any
from uuid import UUID

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from marketplace.accounts.auth import Actor
from marketplace.applications.models import Application, ApplicationStatus
from marketplace.brands.models import Brand, BrandRole
from marketplace.clock import as_utc
from marketplace.collaborations.models import Collaboration
from marketplace.collaborations.services import create_collaboration
from marketplace.collaborations.states import CollabState
from marketplace.creators.models import Creator, Platform, SocialAccount
from marketplace.creators.services import creator_facts
from marketplace.errors import Conflict, Forbidden, InvalidInput, NotFound
from marketplace.forms import FormReader
from marketplace.gigs.keyset import SortKey, page_of
from marketplace.gigs.models import Gig, GigStatus
from marketplace.gigs.rules import check_eligibility, requirements_of
from marketplace.gigs.services import GigService, brand_of, creator_of
from marketplace.gigs.validation import Checker
from marketplace.i18n import N_, format_datetime, gettext
from marketplace.notifications.services import brand_user_ids, notify
from marketplace.reputation.deal_values import gig_value_minor, to_usd_minor
from marketplace.reputation.services import creator_rank_order, creator_ranking_score, join_creator_ranking
from marketplace.runtime import Runtime
from marketplace.verification.posts import platform_label
from reputation.models import ReliabilityScore
from reputation.services import NEWCOMER_RANK_ORDER

PITCH_MAX = 5_000
#: Brands with 100+ creators decide in batches; one request may carry this many applications.
MAX_BATCH = 500

APPLICATION_SORTS: dict[str, SortKey] = {
    "newest": SortKey(Application.created_at, Application.id, descending=True, kind="datetime"),
    "followers": SortKey(SocialAccount.followers, Application.id, descending=True),
    "engagement": SortKey(SocialAccount.engagement_bps, Application.id, descending=True),
    # Proven reliability, then expected reliability (reputation.services.rank_order): newcomers above ghosters.
    "reliability": SortKey(creator_rank_order, Application.id, descending=True),
}
APPLICATION_SORT_LABELS = {"newest": "Newest", "followers": "Most followers", "engagement": "Best engagement",
                           "reliability": "Most reliable"}


@dataclass
class Decision:
    """What a bulk accept or decline did, per application."""

    decided: list[Application] = field(default_factory=list)
    #: Applications that were already in the requested state (a retried request changes nothing twice).
    unchanged: list[Application] = field(default_factory=list)
    collaborations: dict[UUID, Collaboration] = field(default_factory=dict)


@dataclass(frozen=True)
class ApplicationFilters:
    status: ApplicationStatus | None = None
    platform: Platform | None = None
    followers_min: int | None = None
    sort: str = "newest"
    cursor: str | None = None
    limit: int = 50
    #: Minimum proven reliability of the creator, in whole percent (0-100).
    reliability_min: int | None = None

    def as_query(self) -> dict[str, str]:
        values = {
            "status": self.status.value if self.status else "",
            "platform": self.platform.value if self.platform else "",
            "followers_min": "" if self.followers_min is None else str(self.followers_min),
            "reliability_min": "" if self.reliability_min is None else str(self.reliability_min),
            "sort": "" if self.sort == "newest" else self.sort,
        }
        return {k: v for k, v in values.items() if v}


def parse_application_filters(params: Mapping[str, Any]) -> ApplicationFilters:
    f = FormReader(params)
    c = Checker()
    status = c.choice("status", f.text("status", max_length=100) or None, ApplicationStatus, label=N_('Status'),
                      required=False)
    platform = c.choice("platform", f.text("platform", max_length=100) or None, Platform, label=N_('Platform'),
                        required=False)
    followers_min = f.integer("followers_min", minimum=0, maximum=10_000_000_000, label=N_('Minimum followers'))
    reliability_min = f.integer("reliability_min", minimum=0, maximum=100, label=N_('Minimum proven reliability %'))
    sort = f.text("sort", max_length=100) or "newest"
    if sort not in APPLICATION_SORTS:
        c.error(
            "sort",
            gettext("Sort must be one of: %(application_sorts)s.", application_sorts=", ".join(APPLICATION_SORTS)),
        )
        sort = "newest"
    cursor = f.text("cursor", max_length=500) or None
    limit = f.integer("limit", minimum=1, maximum=200, label=N_('Limit')) or 50
    for k, v in f.errors.items():
        c.error(k, v)
    c.raise_if_invalid()
    if cursor:
        APPLICATION_SORTS[sort].decode(cursor)
    return ApplicationFilters(status, platform, followers_min, sort, cursor, limit, reliability_min or None)


@dataclass
class ApplicantRow:
    """One application as the brand's list shows it."""

    application: Application
    creator: Creator
    account: SocialAccount
    completed_collaborations: int = 0
    collaborations_with_brand: int = 0
    collaboration_id: UUID | None = None
    #: The creator's stored proven reliability (0-1) and tier; None for a creator with no scored deal yet.
    reliability: float | None = None
    tier: str | None = None
    rank_order: int = NEWCOMER_RANK_ORDER


@dataclass
class ApplicantPage:
    items: list[ApplicantRow]
    next_cursor: str | None
    slots: int
    slots_taken: int


@dataclass
class CreatorApplicationRow:
    application: Application
    gig: Gig
    brand_name: str
    account: SocialAccount
    collaboration_id: UUID | None


def _states(blocked: Sequence[Application]) -> str:
    """The first ten applications a batch decision can't change, each with its state ("<id> is withdrawn")."""
    return ", ".join(gettext("%(id)s is %(status)s", id=a.id, status=a.status) for a in blocked[:10])


class ApplicationService:
    def __init__(self, session: AsyncSession, runtime: Runtime) -> None:
        self.session = session
        self.runtime = runtime
        self.gigs = GigService(session, runtime)

    @property
    def now(self) -> datetime:
        return self.runtime.clock.now()

    # --- creators ----------------------------------------------------------------------------------------------

    async def apply(self, actor: Actor | None, gig_id: UUID, raw: Mapping[str, Any],
                    parse_errors: Mapping[str, str] | None = None) -> Application:
        """Apply with a pitch, one of the creator's own social accounts and an optional counter-offer.

        One application per creator per gig (a unique constraint backs this up); a withdrawn application may be
        sent again, which re-opens the same row.
        """
        creator_id = creator_of(actor)
        assert actor is not None
        if actor.suspended:
            raise Forbidden(gettext('Your account is suspended; contact support to appeal.'))
        gig = await self.gigs.get_for_creator(actor, gig_id)
        if gig.status is not GigStatus.OPEN:
            raise Conflict(gettext('This gig is not taking applications any more.'))
        if gig.apply_by is not None and as_utc(gig.apply_by) <= self.now:
            raise Conflict(gettext("Applications for this gig closed on %(when)s.", when=format_datetime(gig.apply_by)))
        c = Checker()
        for k, v in (parse_errors or {}).items():
            c.error(k, v)
        pitch = c.text("pitch", raw.get("pitch"), label=N_('Pitch'), max_length=PITCH_MAX, required=True,
                       single_line=False)
        account_raw = raw.get("social_account_id")
        account_id: UUID | None = None
        if account_raw in (None, ""):
            c.error("social_account_id", gettext('Choose which of your social accounts this is for.'))
        else:
            try:
                account_id = account_raw if isinstance(account_raw, UUID) else UUID(str(account_raw))
            except ValueError:
                c.error("social_account_id", gettext('Choose one of your own social accounts.'))
        counter_currency = raw.get("counter_offer_currency")
        other_currency = counter_currency not in (None, "") and str(counter_currency).strip().upper() != gig.currency
        # The minimum fee is the gig currency's; an amount in another currency is refused for that alone.
        counter = (c.amount("counter_offer.amount", raw.get("counter_offer_amount"), label="Counter-offer")
                   if other_currency else
                   c.fee("counter_offer.amount", raw.get("counter_offer_amount"), gig.currency, label="Counter-offer"))
        if counter is not None and other_currency:
            c.error(
                "counter_offer.currency",
                gettext("A counter-offer is in the gig's currency, %(currency)s.", currency=gig.currency),
            )
        account = None
        if account_id is not None:
            account = await self.session.scalar(
                sa.select(SocialAccount).where(SocialAccount.id == account_id,
                                               SocialAccount.creator_id == creator_id)
            )
            if account is None:
                c.error("social_account_id", gettext('Choose one of your own social accounts.'))
        details = (await self.gigs.details([gig.id]))[gig.id]
        requirements = requirements_of(gig, details.platforms, details.niches)
        if counter is not None:  # the tier caps judge the deal the creator asks for
            requirements = replace(requirements, deal_value_usd_minor=to_usd_minor(gig_value_minor(gig, counter),
                                                                                   gig.currency))
        if account is not None and requirements.platforms and str(account.platform) not in requirements.platforms:
            wanted = " or ".join(platform_label(p) for p in requirements.platforms)
            c.error("social_account_id", gettext('This gig is for %(wanted)s; choose an account there.', wanted=wanted))
        c.raise_if_invalid()
        assert account is not None
        eligibility = check_eligibility(await creator_facts(self.session, creator_id, self.now), requirements)
        if not eligibility.eligible:
            raise InvalidInput({"eligibility": eligibility.reason}, message=eligibility.reason)
        existing = await self.session.scalar(
            sa.select(Application).where(Application.gig_id == gig.id, Application.creator_id == creator_id)
            .with_for_update()
        )
        if existing is not None and existing.status is not ApplicationStatus.WITHDRAWN:
            raise Conflict(
                gettext("You already applied to this gig (your application is %(status)s).", status=existing.status)
            )
        if existing is not None:
            application = existing
            application.status = ApplicationStatus.PENDING
            application.decided_at = None
            application.decided_by_id = None
        else:
            application = Application(gig_id=gig.id, creator_id=creator_id, brand_id=gig.brand_id,
                                      social_account_id=account.id, pitch=pitch)
            self.session.add(application)
        application.social_account_id = account.id
        application.pitch = pitch
        application.counter_offer_amount = counter
        try:
            async with self.session.begin_nested():
                await self.session.flush()
        except IntegrityError as exc:  # a double submit racing itself: the unique constraint decides
            raise Conflict(gettext('You already applied to this gig.')) from exc
        creator_name = await self.session.scalar(sa.select(Creator.display_name).where(Creator.id == creator_id))
        managers = await brand_user_ids(self.session, gig.brand_id, [BrandRole.OWNER, BrandRole.MANAGER])
        await notify(self.session, managers, kind="application.received", title=f"New application: {gig.title}"[:200],
                     body=f"{creator_name} (@{account.handle}) applied.",
                     link=f"/brand/gigs/{gig.id}/applications")
        return application

    async def withdraw(self, actor: Actor | None, application_id: UUID) -> Application:
        creator_id = creator_of(actor)
        application = await self.session.scalar(
            sa.select(Application).where(Application.id == application_id, Application.creator_id == creator_id)
            .with_for_update()
        )
        if application is None:
            raise NotFound(gettext('No such application.'))
        if application.status is ApplicationStatus.WITHDRAWN:
            return application
        if application.status is not ApplicationStatus.PENDING:
            raise Conflict(
                gettext("This application was accepted; decline or cancel the deal instead.")
                if application.status is ApplicationStatus.ACCEPTED
                else gettext("This application was already %(status)s.", status=application.status)
            )
        application.status = ApplicationStatus.WITHDRAWN
        application.decided_at = self.now
        return application

    async def creator_applications(self, actor: Actor | None) -> list[CreatorApplicationRow]:
        """Only the creator's own applications, newest first."""
        creator_id = creator_of(actor)
        rows = await self.session.execute(
            sa.select(Application, Gig, Brand.name, SocialAccount, Collaboration.id)
            .join(Gig, Gig.id == Application.gig_id)
            .join(Brand, Brand.id == Application.brand_id)
            .join(SocialAccount, SocialAccount.id == Application.social_account_id)
            .outerjoin(Collaboration, Collaboration.application_id == Application.id)
            .where(Application.creator_id == creator_id)
            .order_by(Application.created_at.desc())
            .limit(500)
        )
        return [CreatorApplicationRow(a, g, n, acc, cid) for a, g, n, acc, cid in rows]


    async def own_application(self, creator_id: UUID, gig_id: UUID) -> Application | None:
        return await self.session.scalar(
            sa.select(Application).where(Application.gig_id == gig_id, Application.creator_id == creator_id)
        )

    # --- brands ------------------------------------------------------------------------------------------------

    async def gig_of_application(self, actor: Actor | None, application_id: UUID) -> UUID:
        """The gig of one of the brand's applications (another brand's is "not found")."""
        brand_id = brand_of(actor)
        gig_id = await self.session.scalar(
            sa.select(Application.gig_id).where(Application.id == application_id, Application.brand_id == brand_id)
        )
        if gig_id is None:
            raise NotFound(gettext('No such application.'))
        return gig_id

    async def _batch(self, actor: Actor | None, gig_id: UUID, application_ids: Sequence[UUID]) -> tuple[
        Gig, list[Application]
    ]:
        ids = list(dict.fromkeys(application_ids))
        if not ids:
            raise InvalidInput({"application_ids": gettext('Choose at least one application.')})
        # Counted as sent, before duplicates are dropped: a request of 100,000 copies is refused, not shrunk.
        if len(application_ids) > MAX_BATCH:
            raise InvalidInput(
                {"application_ids": gettext("At most %(max_batch)s applications at a time.", max_batch=MAX_BATCH)}
            )
        # The gig row lock serialises every decision on this gig, so two accepts can't both take the last slot.
        gig = await self.gigs.get_for_brand(actor, gig_id, write=True, lock=True)
        applications = list(await self.session.scalars(
            sa.select(Application).where(Application.id.in_(ids), Application.gig_id == gig.id)
            .order_by(Application.created_at).with_for_update()
        ))
        missing = [str(i) for i in ids if i not in {a.id for a in applications}]
        if missing:
            raise InvalidInput({"application_ids": gettext("Not applications to this gig: %(ids)s",
                                                           ids=", ".join(missing[:20]))})
        return gig, applications

    async def accept(self, actor: Actor | None, gig_id: UUID, application_ids: Sequence[UUID]) -> Decision:
        """Accept pending applications, all or none: refused when they would overfill the gig's slots.

        Each accepted application becomes a collaboration (``offered``) with a frozen copy of the terms, and the
        creator is told in the app and by email.
        """
        gig, applications = await self._batch(actor, gig_id, application_ids)
        assert actor is not None
        if gig.status not in (GigStatus.OPEN, GigStatus.CLOSED):
            raise Conflict(gettext("This gig is %(status)s; applications can't be accepted.", status=gig.status))
        decision = Decision()
        blocked = [a for a in applications if a.status not in (ApplicationStatus.PENDING, ApplicationStatus.ACCEPTED)]
        if blocked:
            raise Conflict(gettext("Only pending applications can be accepted; %(blocked)s.", blocked=_states(blocked)))
        to_accept = [a for a in applications if a.status is ApplicationStatus.PENDING]
        decision.unchanged = [a for a in applications if a.status is ApplicationStatus.ACCEPTED]
        taken = (await self.gigs.accepted_counts([gig.id])).get(gig.id, 0)
        free = gig.slots - taken
        if len(to_accept) > free:
            raise Conflict(
                gettext(
                    "This gig has %(slots)s slot(s) and %(taken)s are taken, so %(free)s left; you chose "
                    "%(to_accept)s. Raise the slots or accept fewer.",
                    slots=gig.slots,
                    taken=taken,
                    free=max(free, 0),
                    to_accept=len(to_accept),
                )
            )
        now = self.now
        for application in to_accept:
            application.status = ApplicationStatus.ACCEPTED
            application.decided_at = now
            application.decided_by_id = actor.user_id
        await self.session.flush()
        brand_name = await self.session.scalar(sa.select(Brand.name).where(Brand.id == gig.brand_id)) or "The brand"
        creator_users = dict((await self.session.execute(
            sa.select(Creator.id, Creator.user_id).where(Creator.id.in_([a.creator_id for a in to_accept]))
        )).all()) if to_accept else {}
        for application in to_accept:
            collab = await create_collaboration(self.session, application.id, now=now, accepted_by_id=actor.user_id)
            decision.collaborations[application.id] = collab
            decision.decided.append(application)
            await notify(
                self.session, [creator_users[application.creator_id]], kind="application.accepted",
                title=f"{brand_name} accepted your application: {gig.title}"[:200],
                body="Review and sign the terms to start the deal.",
                link=f"/collaborations/{collab.id}", email_template="notification",
                public_url=self.runtime.settings.app.public_url,
            )
        return decision

    async def decline(self, actor: Actor | None, gig_id: UUID, application_ids: Sequence[UUID],
                      reason: object = None) -> Decision:
        gig, applications = await self._batch(actor, gig_id, application_ids)
        assert actor is not None
        c = Checker()
        text = c.text("reason", reason, label=N_('Reason'), max_length=500, single_line=False) or None
        c.raise_if_invalid()
        blocked = [a for a in applications if a.status not in (ApplicationStatus.PENDING, ApplicationStatus.DECLINED)]
        if blocked:
            raise Conflict(gettext("Only pending applications can be declined; %(blocked)s.", blocked=_states(blocked)))
        decision = Decision()
        now = self.now
        for application in applications:
            if application.status is ApplicationStatus.DECLINED:
                decision.unchanged.append(application)
                continue
            application.status = ApplicationStatus.DECLINED
            application.decided_at = now
            application.decided_by_id = actor.user_id
            application.decline_reason = text
            decision.decided.append(application)
        await self.session.flush()
        if decision.decided:
            users = list(await self.session.scalars(
                sa.select(Creator.user_id).where(Creator.id.in_([a.creator_id for a in decision.decided]))
            ))
            body = "The brand went with other creators this time." + (f"\n\nTheir note: {text}" if text else "")
            await notify(self.session, users, kind="application.declined",
                         title=f"Application not accepted: {gig.title}"[:200], body=body, link="/creator/applications",
                         email_template="notification", public_url=self.runtime.settings.app.public_url)
        return decision

    async def applicants(self, actor: Actor | None, gig_id: UUID, filters: ApplicationFilters) -> ApplicantPage:
        """The brand's list of applications to one gig, with each creator's reach and track record."""
        gig = await self.gigs.get_for_brand(actor, gig_id)
        query = join_creator_ranking(
            sa.select(Application, Creator, SocialAccount, Collaboration.id, creator_rank_order,
                      ReliabilityScore.ranking_score, ReliabilityScore.tier, ReliabilityScore.events_count)
            .join(Creator, Creator.id == Application.creator_id)
            .join(SocialAccount, SocialAccount.id == Application.social_account_id)
            .outerjoin(Collaboration, Collaboration.application_id == Application.id)
            .where(Application.gig_id == gig.id, Application.brand_id == gig.brand_id),
            Application.creator_id,
        )
        if filters.reliability_min:
            query = query.where(creator_ranking_score >= filters.reliability_min / 100)
        if filters.status is not None:
            query = query.where(Application.status == filters.status)
        if filters.platform is not None:
            query = query.where(SocialAccount.platform == filters.platform)
        if filters.followers_min is not None:
            query = query.where(SocialAccount.followers >= filters.followers_min)
        key = APPLICATION_SORTS[filters.sort]
        if filters.cursor:
            value, last_id = key.decode(filters.cursor)
            query = query.where(key.after(value, last_id))
        rows = (await self.session.execute(query.order_by(*key.order_by()).limit(filters.limit + 1))).all()
        page, more = page_of(list(rows), filters.limit)
        items = [
            ApplicantRow(a, cr, acc, collaboration_id=cid, rank_order=rank,
                         reliability=score if events else None, tier=tier if events else None)
            for a, cr, acc, cid, rank, score, tier, events in page
        ]
        creator_ids = list({row.creator.id for row in items})
        if creator_ids:
            counts = await self.session.execute(
                sa.select(
                    Collaboration.creator_id,
                    sa.func.count(Collaboration.id).filter(Collaboration.status == CollabState.COMPLETED),
                    sa.func.count(Collaboration.id).filter(Collaboration.brand_id == gig.brand_id),
                ).where(Collaboration.creator_id.in_(creator_ids)).group_by(Collaboration.creator_id)
            )
            by_creator = {cid: (done, with_brand) for cid, done, with_brand in counts}
            for row in items:
                row.completed_collaborations, row.collaborations_with_brand = by_creator.get(row.creator.id, (0, 0))
        cursor = None
        if more and items:
            last = items[-1]
            value = {"newest": last.application.created_at, "followers": last.account.followers,
                     "engagement": last.account.engagement_bps, "reliability": last.rank_order}[filters.sort]
            cursor = key.encode(value, last.application.id)
        taken = (await self.gigs.accepted_counts([gig.id])).get(gig.id, 0)
        return ApplicantPage(items, cursor, gig.slots, taken)


