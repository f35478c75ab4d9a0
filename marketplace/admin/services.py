"""What the admin console reads and does: the dashboard figures, user search, suspensions, brand verification,
reviewed deals, the outbox and re-authentication. Every change is written to the audit log in its transaction."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from escrow.models import CallStatus, EscrowHold, ProviderCall
from escrow.records import ReconciliationRun
from escrow.states import HOLDING, PENDING
from marketplace.accounts.auth import Actor
from marketplace.accounts.models import User, UserKind
from marketplace.admin import audit
from marketplace.brands.models import Brand, BrandMember, BrandRole
from marketplace.collaborations.models import Collaboration
from marketplace.collaborations.states import TERMINAL, Action, CollabState, Party, TransitionActor
from marketplace.collaborations.transition import lock_collaboration, transition
from marketplace.creators.models import Creator
from marketplace.disputes.models import Dispute, DisputeStatus
from marketplace.errors import Conflict, Forbidden, InvalidInput, NotFound, TooManyRequests
from marketplace.i18n import gettext
from marketplace.notifications.mail import write_pending
from marketplace.notifications.models import EmailStatus, OutboxEmail
from marketplace.payments import hooks
from marketplace.ratelimit import Limit
from marketplace.reputation.services import linked_ghostings
from marketplace.runtime import Runtime
from marketplace.settings import Settings
from reputation.models import ReliabilityScore, SubjectKind
from reputation.services import clear_suspension

#: Wrong passwords allowed per admin per window on the re-authentication page and the API decision endpoint.
REAUTH_FAILURES = Limit(attempts=5, window_seconds=900)
#: Deals that ended in this window count for the ghosting rate.
GHOSTING_WINDOW = timedelta(days=90)
OPEN_STATES = [s.value for s in CollabState if s not in TERMINAL]
AGE_BUCKETS: list[tuple[str, timedelta | None]] = [
    ("under a day", timedelta(days=1)), ("1 to 3 days", timedelta(days=3)), ("3 to 7 days", timedelta(days=7)),
    ("over a week", None),
]
AT_RISK_SHOWN = 20


def require_admin(actor: Actor | None) -> Actor:
    if actor is None or not actor.is_admin:
        raise Forbidden(gettext('This is for PostPact admins.'))
    return actor


def month_start(now: datetime) -> datetime:
    return now.astimezone(UTC).replace(day=1, hour=0, minute=0, second=0, microsecond=0)


# --- dashboard ----------------------------------------------------------------------------------------------------


@dataclass
class AtRisk:
    collaboration_id: UUID
    title: str
    stage: str
    party: str
    due_at: datetime
    status: str


@dataclass
class Dashboard:
    held: dict[str, int]
    released_this_month: dict[str, int]
    refunded_this_month: dict[str, int]
    open_disputes: int
    disputes_by_age: list[tuple[str, int]]
    ghosted: int
    ended: int
    overdue_by_stage: dict[str, int]
    at_risk: list[AtRisk]
    needs_review: list[tuple[UUID, str, str]]
    last_reconciliation: ReconciliationRun | None
    failed_emails: int
    suspended_users: int
    #: Creators whose applications the reputation engine suspended (two ghostings in 12 months), awaiting review.
    reliability_reviews: int = 0
    month: str = ""
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def ghosting_rate(self) -> float | None:
        return self.ghosted / self.ended if self.ended else None


async def dashboard(session: AsyncSession, now: datetime) -> Dashboard:
    held_expr = (EscrowHold.funded_amount - EscrowHold.released_creator_amount - EscrowHold.released_fee_amount
                 - EscrowHold.refunded_amount - EscrowHold.charged_back_amount)
    held = {cur: int(total or 0) for cur, total in (await session.execute(
        sa.select(EscrowHold.currency, sa.func.sum(held_expr))
        .where(EscrowHold.status.in_(list(HOLDING | PENDING)))
        .group_by(EscrowHold.currency))).all()
        if total}
    start = month_start(now)

    async def moved(operation: str) -> dict[str, int]:
        rows = await session.execute(
            sa.select(ProviderCall.currency, sa.func.sum(ProviderCall.amount))
            .where(ProviderCall.operation == operation, ProviderCall.status == CallStatus.SUCCEEDED,
                   ProviderCall.completed_at >= start, ProviderCall.escrow_id.is_not(None))
            .group_by(ProviderCall.currency))
        return {cur: int(total or 0) for cur, total in rows.all() if cur}

    opened = list((await session.scalars(
        sa.select(Dispute.opened_at).where(Dispute.status == DisputeStatus.OPEN))).all())
    buckets = dict.fromkeys([label for label, _ in AGE_BUCKETS], 0)
    for at in opened:
        age = now - (at if at.tzinfo else at.replace(tzinfo=UTC))
        for label, limit in AGE_BUCKETS:
            if limit is None or age < limit:
                buckets[label] += 1
                break
    since = now - GHOSTING_WINDOW
    ended_rows = (await session.execute(
        sa.select(Collaboration.status, sa.func.count())
        .where(Collaboration.ended_at >= since, Collaboration.signed_at.is_not(None))
        .group_by(Collaboration.status))).all()
    ended_counts = {CollabState(s).value: int(n) for s, n in ended_rows}
    overdue_filter = sa.and_(Collaboration.next_due_at < now, Collaboration.deadlines_paused_at.is_(None),
                             Collaboration.status.in_(OPEN_STATES))
    overdue = {stage: int(n) for stage, n in (await session.execute(
        sa.select(Collaboration.next_due_stage, sa.func.count()).where(overdue_filter)
        .group_by(Collaboration.next_due_stage))).all() if stage}
    at_risk = [AtRisk(c.id, str((c.terms or {}).get("gig_title", "")), c.next_due_stage or "", c.next_due_party or "",
                      c.next_due_at, c.status.value)
               for c in (await session.scalars(sa.select(Collaboration).where(overdue_filter)
                                               .order_by(Collaboration.next_due_at).limit(AT_RISK_SHOWN))).all()]
    review = [(cid, str((terms or {}).get("gig_title", "")), CollabState(status).value)
              for cid, terms, status in (await session.execute(
                  sa.select(Collaboration.id, Collaboration.terms, Collaboration.status)
                  .where(Collaboration.needs_admin_review.is_(True))
                  .order_by(Collaboration.updated_at).limit(AT_RISK_SHOWN))).all()]
    last_run = await session.scalar(sa.select(ReconciliationRun).order_by(ReconciliationRun.started_at.desc(),
                                                                         ReconciliationRun.id.desc()).limit(1))
    failed = int(await session.scalar(sa.select(sa.func.count()).select_from(OutboxEmail)
                                      .where(OutboxEmail.status == EmailStatus.FAILED)) or 0)
    suspended = int(await session.scalar(sa.select(sa.func.count()).select_from(User)
                                         .where(User.suspended_at.is_not(None))) or 0)
    reliability_reviews = int(await session.scalar(
        sa.select(sa.func.count()).select_from(ReliabilityScore)
        .where(ReliabilityScore.subject_kind == SubjectKind.CREATOR, ReliabilityScore.suspended_at.is_not(None))) or 0)
    ghosted = ended_counts.get(CollabState.GHOSTED.value, 0)
    return Dashboard(
        held=held, released_this_month=await moved("transfer"), refunded_this_month=await moved("refund"),
        open_disputes=len(opened), disputes_by_age=list(buckets.items()), ghosted=ghosted,
        ended=sum(ended_counts.values()), overdue_by_stage=overdue, at_risk=at_risk, needs_review=review,
        last_reconciliation=last_run, failed_emails=failed, suspended_users=suspended,
        reliability_reviews=reliability_reviews, month=start.strftime("%B %Y"),
    )


# --- users --------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class UserRow:
    user: User
    brand: Brand | None
    brand_role: BrandRole | None
    creator: Creator | None
    #: When the reputation engine suspended this creator's applications (None: not suspended by it).
    reliability_suspended_at: datetime | None = None

    @property
    def label(self) -> str:
        if self.brand is not None:
            return self.brand.name
        if self.creator is not None:
            return self.creator.display_name
        return "PostPact admin" if self.user.kind is UserKind.ADMIN else ""


def _escape_like(value: str) -> str:
    return value.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


_USER_QUERY = (
    sa.select(User, Brand, BrandMember.role, Creator)
    .outerjoin(BrandMember, BrandMember.user_id == User.id)
    .outerjoin(Brand, Brand.id == BrandMember.brand_id)
    .outerjoin(Creator, Creator.user_id == User.id)
    .outerjoin(ReliabilityScore, sa.and_(ReliabilityScore.subject_kind == SubjectKind.CREATOR,
                                         ReliabilityScore.subject_id == Creator.id))
    .add_columns(ReliabilityScore.suspended_at)
)


async def search_users(session: AsyncSession, q: str = "", *, kind: UserKind | None = None,
                       suspended_only: bool = False, reliability_review_only: bool = False,
                       limit: int = 50) -> list[UserRow]:
    """By email, name, brand name or creator display name (case-insensitive substring); newest accounts first."""
    query = _USER_QUERY
    q = q.strip().lower()
    if q:
        like = f"%{_escape_like(q)}%"
        query = query.where(sa.or_(
            User.email.like(like, escape="\\"),
            sa.func.lower(User.full_name).like(like, escape="\\"),
            sa.func.lower(Brand.name).like(like, escape="\\"),
            sa.func.lower(Creator.display_name).like(like, escape="\\"),
        ))
    if kind is not None:
        query = query.where(User.kind == kind)
    if suspended_only:
        query = query.where(User.suspended_at.is_not(None))
    if reliability_review_only:
        query = query.where(ReliabilityScore.suspended_at.is_not(None))
    rows = (await session.execute(query.order_by(User.created_at.desc(), User.id.desc()).limit(limit))).all()
    return [UserRow(*row) for row in rows]


async def user_row(session: AsyncSession, user_id: UUID) -> UserRow:
    row = (await session.execute(_USER_QUERY.where(User.id == user_id))).first()
    if row is None:
        raise NotFound(gettext('No such user.'))
    return UserRow(*row)


def _affected_deals(row: UserRow) -> sa.ColumnElement[bool] | None:
    """The deals a suspension sends to admin review: a creator's own; a brand's when its owner is suspended
    (a manager's suspension leaves the rest of the team working)."""
    if row.creator is not None:
        return Collaboration.creator_id == row.creator.id
    if row.brand is not None and row.brand_role is BrandRole.OWNER:
        return Collaboration.brand_id == row.brand.id
    return None


async def open_deals_of(session: AsyncSession, row: UserRow) -> list[Collaboration]:
    scope = _affected_deals(row)
    if scope is None:
        return []
    return list((await session.scalars(
        sa.select(Collaboration).where(scope, Collaboration.status.in_(OPEN_STATES))
        .order_by(Collaboration.created_at.desc()).limit(500))).all())


async def suspend_user(session: AsyncSession, admin: Actor, user_id: UUID, *, reason: str, now: datetime,
                       ip: str | None = None) -> User:
    """Suspended people still sign in, but can't apply, post gigs, set up payouts or be paid (approved money waits
    in escrow); their open deals go to admin review (no automatic step runs on them until an admin clears it)."""
    require_admin(admin)
    reason = reason.strip()
    if not reason:
        raise InvalidInput({"reason": gettext('Say why (the user can ask support to appeal).')})
    if len(reason) > 500:
        raise InvalidInput({"reason": gettext('At most 500 characters.')})
    row = await user_row(session, user_id)
    user = await session.scalar(sa.select(User).where(User.id == user_id).with_for_update()
                                .execution_options(populate_existing=True))
    assert user is not None
    if user.kind is UserKind.ADMIN:
        raise Conflict(gettext('Admins are not suspended here; deactivate the account on the command line instead.'))
    if user.suspended_at is not None:
        raise Conflict(gettext('This account is already suspended.'))
    before = {"suspended_at": None}
    user.suspended_at = now
    user.suspended_reason = reason
    flagged = []
    for collab in await open_deals_of(session, row):
        if not collab.needs_admin_review:
            collab.needs_admin_review = True
            flagged.append(str(collab.id))
    await session.flush()
    await audit.record(session, admin, "user.suspend", target_type="user", target_id=user.id,
                       summary=f"Suspended {user.email}: {reason}", now=now, before=before,
                       after={"suspended_at": now, "reason": reason, "deals_sent_to_review": flagged}, ip=ip)
    return user


async def unsuspend_user(session: AsyncSession, admin: Actor, user_id: UUID, *, now: datetime, settings: Settings,
                         ip: str | None = None) -> User:
    """Lift the suspension. Their deals stay in admin review until an admin clears each one."""
    require_admin(admin)
    user = await session.scalar(sa.select(User).where(User.id == user_id).with_for_update()
                                .execution_options(populate_existing=True))
    if user is None:
        raise NotFound(gettext('No such user.'))
    if user.suspended_at is None:
        raise Conflict(gettext('This account is not suspended.'))
    before = {"suspended_at": user.suspended_at, "reason": user.suspended_reason}
    user.suspended_at = None
    user.suspended_reason = None
    await session.flush()
    creator_id = await session.scalar(sa.select(Creator.id).where(Creator.user_id == user.id))
    if creator_id is not None:
        # Payments approved while they were suspended waited in escrow; they go out now.
        await hooks.resume_payouts(session, creator_id, now=now, settings=settings, actor=f"admin:{admin.email}")
    await audit.record(session, admin, "user.unsuspend", target_type="user", target_id=user.id,
                       summary=f"Lifted the suspension of {user.email}", now=now, before=before,
                       after={"suspended_at": None}, ip=ip)
    return user


async def clear_reliability_suspension(session: AsyncSession, admin: Actor, creator_id: UUID, *, now: datetime,
                                       ip: str | None = None) -> bool:
    """The reputation engine's own suspension (two ghostings in 12 months), cleared after an admin's review."""
    require_admin(admin)

    creator = await session.get(Creator, creator_id)
    if creator is None:
        raise NotFound(gettext('No such creator.'))
    linked = (await linked_ghostings(session, [creator_id]))[creator_id]
    cleared = await clear_suspension(session, creator_id, admin.user_id, now, linked_ghosted_at=linked)
    if not cleared:
        raise Conflict(gettext('This creator is not suspended by their reliability record.'))
    await audit.record(session, admin, "creator.clear_reliability_suspension", target_type="creator",
                       target_id=creator_id, summary=f"Cleared the reliability suspension of {creator.display_name}",
                       now=now, before={"reliability_suspended": True}, after={"reliability_suspended": False}, ip=ip)
    return True


async def set_brand_verified(session: AsyncSession, admin: Actor, brand_id: UUID, *, verified: bool, now: datetime,
                             ip: str | None = None) -> Brand:
    require_admin(admin)
    brand = await session.scalar(sa.select(Brand).where(Brand.id == brand_id).with_for_update()
                                 .execution_options(populate_existing=True))
    if brand is None:
        raise NotFound(gettext('No such brand.'))
    before = {"verified_at": brand.verified_at}
    if verified == (brand.verified_at is not None):
        return brand  # already as asked: nothing to record
    brand.verified_at = now if verified else None
    await session.flush()
    await audit.record(session, admin, "brand.verify" if verified else "brand.unverify", target_type="brand",
                       target_id=brand.id, summary=f"{'Verified' if verified else 'Removed verification of'} "
                       f"{brand.name}", now=now, before=before, after={"verified_at": brand.verified_at}, ip=ip)
    return brand


async def clear_review(session: AsyncSession, admin: Actor, collaboration_id: UUID, *, note: str, now: datetime,
                       ip: str | None = None) -> Collaboration:
    """An admin looked at a deal held for review: automatic steps (reminders' consequences, releases) resume."""
    require_admin(admin)

    note = note.strip()
    if len(note) > 1000:
        raise InvalidInput({"note": gettext('At most 1000 characters.')})
    collab = await lock_collaboration(session, collaboration_id)
    if not collab.needs_admin_review:
        raise Conflict(gettext('This deal is not waiting for an admin review.'))
    open_case = await session.scalar(sa.select(Dispute.id).where(Dispute.collaboration_id == collab.id,
                                                                 Dispute.status == DisputeStatus.OPEN))
    if open_case is not None:
        raise Conflict(gettext('A dispute is open on this deal: decide it instead (that clears the review).'))
    collab.needs_admin_review = False
    await transition(session, collab.id, Action.ADMIN_NOTE, TransitionActor(Party.ADMIN, admin.user_id), now=now,
                     collab=collab, payload={"note": note or "admin review done", "review_cleared": True})
    await audit.record(session, admin, "collaboration.clear_review", target_type="collaboration",
                       target_id=collab.id, summary=f"Review done on “{(collab.terms or {}).get('gig_title', '')}”"
                       + (f": {note}" if note else ""), now=now, before={"needs_admin_review": True},
                       after={"needs_admin_review": False}, ip=ip)
    return collab


# --- outbox -------------------------------------------------------------------------------------------------------


async def outbox(session: AsyncSession, *, q: str = "", status: EmailStatus | None = None,
                 before: UUID | None = None, limit: int = 50) -> tuple[list[OutboxEmail], UUID | None]:
    query = sa.select(OutboxEmail)
    if q.strip():
        like = f"%{_escape_like(q.strip().lower())}%"
        # A notice queued as template + parameters has no subject until it is written (at delivery, or below when
        # shown): its template's name stands in for it, so "draft_approved" finds the undelivered ones too.
        query = query.where(sa.or_(sa.func.lower(OutboxEmail.to_address).like(like, escape="\\"),
                                   sa.func.lower(OutboxEmail.subject).like(like, escape="\\"),
                                   sa.func.lower(OutboxEmail.template).like(like, escape="\\")))
    if status is not None:
        query = query.where(OutboxEmail.status == status)
    if before is not None:
        query = query.where(OutboxEmail.id < before)
    rows = list((await session.scalars(query.order_by(OutboxEmail.id.desc()).limit(limit + 1))).all())
    await write_pending(session, rows[:limit])  # what the reader will get, in their language, as the outbox shows
    return rows[:limit], rows[limit - 1].id if len(rows) > limit else None


# --- re-authentication ----------------------------------------------------------------------------------------------


async def check_password(session: AsyncSession, runtime: Runtime, actor: Actor, password: str) -> None:
    """The admin's own password, again (for money decisions). Raises TooManyRequests after repeated failures and
    InvalidInput for a wrong password; a success resets the failure count."""
    key = f"reauth-fail:{actor.user_id}"
    peek = await runtime.rate_limiter.peek(key, REAUTH_FAILURES)
    if not peek.allowed:
        raise TooManyRequests(gettext('Too many wrong passwords; wait a few minutes.'), retry_after=peek.retry_after)
    stored = await session.scalar(sa.select(User.password_hash).where(User.id == actor.user_id,
                                                                      User.is_active.is_(True)))
    if not runtime.passwords.verify(stored, password):
        await runtime.rate_limiter.hit(key, REAUTH_FAILURES)
        raise InvalidInput(
            {"password": gettext("That password is not right.")}, message=gettext("That password is not right.")
        )
    await runtime.rate_limiter.reset(key)
