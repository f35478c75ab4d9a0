"""Opening a dispute, answering it, and an admin's decision, each in the caller's one transaction.

Opening (a brand's money roles or the creator, on a funded deal not yet paid out or refunded): the collaboration
moves to ``disputed`` (deadlines pause), the escrow freezes (nothing is released, refunded or auto-released), the
other side is told and has the response window (``DISPUTE_RESPONSE_DAYS``, 5 by default) to answer; a missed
window is noted for the admin by a job.

Deciding (admins only): the collaboration row is locked first and the case re-read under that lock, so two admins
deciding at once queue; the second finds the case decided and is told so (409). The decision moves the money
through escrow once (release, refund or split of what is held), resolves the collaboration, records a lost
dispute on the losing side's reliability, tells both sides with the rationale, and writes the audit log — all or
nothing. Lock order: collaboration → dispute → escrow hold → ledger → reputation scores.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from uuid import UUID

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from marketplace.accounts.auth import Actor
from marketplace.accounts.models import User
from marketplace.admin import audit
from marketplace.brands.models import BrandRole
from marketplace.clock import as_utc
from marketplace.collaborations import uploads
from marketplace.collaborations.models import Collaboration
from marketplace.collaborations.states import Action, Party, RoleNotAllowed, TransitionActor, check_transition
from marketplace.collaborations.transition import lock_collaboration, transition
from marketplace.disputes.attachments import IncomingFile, attachment_path, check_files
from marketplace.disputes.links import admin_link, dispute_link
from marketplace.disputes.models import (
    OUTCOME_LABELS,
    PARTY_REASONS,
    REASON_LABELS,
    Dispute,
    DisputeAttachment,
    DisputeDecision,
    DisputeKind,
    DisputeReason,
    DisputeStatement,
    DisputeStatus,
    Outcome,
)
from marketplace.errors import Conflict, Forbidden, InvalidInput, NotFound
from marketplace.forms import clean_text
from marketplace.i18n import N_, gettext
from marketplace.notifications.services import admin_user_ids, brand_user_ids, creator_user_id, notify
from marketplace.payments import hooks
from marketplace.settings import Settings

#: How long the other side has to answer before the admin sees "no response".
STATEMENT_MIN = 10
STATEMENT_MAX = 5000
#: Who is recorded as having lost, by default, for each outcome (the admin may name someone else).
DEFAULT_AT_FAULT = {Outcome.RELEASE: "brand", Outcome.REFUND: "creator", Outcome.SPLIT: "none"}
AT_FAULT_CHOICES = {"creator": "The creator", "brand": "The brand", "both": "Both sides", "none": "Nobody"}
#: Brand roles told about disputes (finance too: it is about their money).
BRAND_DISPUTE_ROLES = (BrandRole.OWNER, BrandRole.MANAGER, BrandRole.FINANCE)


class AlreadyDecided(Conflict):
    """409: another admin decided this case first; nothing was changed by this request."""

    slug = "already-decided"
    title = "This dispute was already decided"


class NotOpen(Conflict):
    slug = "dispute-closed"
    title = "This dispute is closed"


def deal_title(collab: Collaboration) -> str:
    return str((collab.terms or {}).get("gig_title") or "your deal")


def _name(collab: Collaboration, party: str) -> str:
    key = "brand_name" if party == "brand" else "creator_display_name"
    return str((collab.terms or {}).get(key) or party)



async def party_user_ids(session: AsyncSession, collab: Collaboration, party: str) -> list[UUID]:
    if party == "brand":
        return await brand_user_ids(session, collab.brand_id, BRAND_DISPUTE_ROLES)
    user_id = await creator_user_id(session, collab.creator_id)
    return [user_id] if user_id else []


async def _store_files(session: AsyncSession, settings: Settings, dispute: Dispute, statement: DisputeStatement,
                       files: list[IncomingFile]) -> None:
    checked, problem = check_files(files)
    if problem:
        raise InvalidInput({"attachments": problem})
    for item in checked:
        relative = attachment_path(dispute.id, item.media)
        await uploads.store(session, settings.storage.upload_dir, relative, item.data)
        session.add(DisputeAttachment(dispute_id=dispute.id, statement_id=statement.id, filename=item.filename,
                                      path=relative, content_type=item.media.mime, size=len(item.data)))


def check_text(errors: dict[str, str], field: str, value: str, *, label: str, minimum: int, maximum: int) -> str:
    """A statement, note or rationale: required, and long enough to say what happened."""
    return clean_text(errors, field, value, label=label, max_length=maximum, required=True, min_length=minimum,
                      too_short=": say what happened")


# --- parties ------------------------------------------------------------------------------------------------------


async def open_dispute(session: AsyncSession, actor: Actor, collaboration_id: UUID, *, reason: str | None,
                       statement: str, files: list[IncomingFile] | None = None, now: datetime,
                       settings: Settings) -> Dispute:
    """A party opens a dispute. Raises NotFound (not their deal), RoleNotAllowed (a brand role without money
    rights), IllegalTransition (not funded, already paid out or refunded, already disputed), Conflict (nothing
    held in escrow) or InvalidInput (reason, statement, attachments); nothing is written then."""
    viewer = TransitionActor.of(actor)
    collab = await lock_collaboration(session, collaboration_id)
    check_transition(collab, Action.OPEN_DISPUTE, viewer, now)
    errors: dict[str, str] = {}
    chosen: DisputeReason | None = None
    try:
        chosen = DisputeReason(reason or "")
    except ValueError:
        chosen = None
    if chosen not in PARTY_REASONS:
        errors["reason"] = gettext('Choose what the dispute is about.')
    body = check_text(errors, "statement", statement, label=N_('Your statement'), minimum=STATEMENT_MIN,
                       maximum=STATEMENT_MAX)
    _, problem = check_files(files or [])
    if problem:
        errors["attachments"] = problem
    if errors:
        raise InvalidInput(errors)
    assert chosen is not None
    if not await hooks.is_funded(session, collab):
        raise Conflict(gettext('Nothing is held in escrow for this deal, so there is no payment to decide about.'))
    party = viewer.party.value
    respondent = "creator" if party == "brand" else "brand"
    dispute = Dispute(collaboration_id=collab.id, kind=DisputeKind.DISPUTE, status=DisputeStatus.OPEN, reason=chosen,
                      opened_by_party=party, opened_by_id=actor.user_id, opened_at=now, respondent_party=respondent,
                      response_due_at=now + settings.disputes.response_window)
    session.add(dispute)
    await session.flush()
    opening = DisputeStatement(created_at=now, updated_at=now, dispute_id=dispute.id, party=party,
                               author_id=actor.user_id, kind="opening", body=body)
    session.add(opening)
    await session.flush()
    await _store_files(session, settings, dispute, opening, files or [])
    await transition(session, collab.id, Action.OPEN_DISPUTE, viewer, now=now, collab=collab,
                     payload={"reason": REASON_LABELS[chosen.value], "dispute_id": str(dispute.id)})
    title = deal_title(collab)
    due = dispute.response_due_at
    assert due is not None
    await notify(
        session, await party_user_ids(session, collab, respondent), kind="dispute.opened",
        title=f"“{title}”: {_name(collab, party)} opened a dispute",
        body=(f"Reason: {REASON_LABELS[chosen.value]}.\n\nTheir statement:\n{body}\n\n"
              f"The payment is frozen until a PostPact admin decides. Give your side by "
              f"{due.strftime('%Y-%m-%d %H:%M UTC')} ({settings.disputes.response_days} days); after that the admin "
              "decides with what they have."),
        link=dispute_link(collab.id), email_template="dispute_opened", public_url=settings.app.public_url,
        due=due.strftime("%Y-%m-%d %H:%M UTC"))
    await notify(
        session, await party_user_ids(session, collab, party), kind="dispute.opened",
        title=f"“{title}”: your dispute is open",
        body=(f"The payment is frozen until a PostPact admin decides. {_name(collab, respondent)} has "
              f"{settings.disputes.response_days} days to give their side."),
        link=dispute_link(collab.id))
    await notify(session, await admin_user_ids(session), kind="dispute.opened",
                 title=f"New dispute: “{title}” ({REASON_LABELS[chosen.value]})",
                 body=f"Opened by the {party}.", link=admin_link(dispute.id))
    return dispute


async def add_statement(session: AsyncSession, actor: Actor, collaboration_id: UUID, *, body: str,
                        files: list[IncomingFile] | None = None, now: datetime,
                        settings: Settings) -> DisputeStatement:
    """A party answers (the first statement of the side asked to respond is their response) or adds evidence."""
    viewer = TransitionActor.of(actor)
    if viewer.party not in (Party.BRAND, Party.CREATOR):
        raise Forbidden(gettext('Only the brand and the creator give statements; admins add notes on the case page.'))
    collab = await lock_collaboration(session, collaboration_id)
    _check_party(collab, viewer)
    dispute = await session.scalar(
        sa.select(Dispute).where(Dispute.collaboration_id == collab.id, Dispute.status == DisputeStatus.OPEN)
        .with_for_update().execution_options(populate_existing=True))
    if dispute is None:
        raise NotOpen("There is no open dispute on this deal.")
    if viewer.party is Party.BRAND and viewer.brand_role not in BRAND_DISPUTE_ROLES:

        raise RoleNotAllowed("Your role can't take part in disputes.")
    errors: dict[str, str] = {}
    text = check_text(errors, "statement", body, label=N_('Your statement'), minimum=STATEMENT_MIN,
                       maximum=STATEMENT_MAX)
    _, problem = check_files(files or [])
    if problem:
        errors["attachments"] = problem
    if errors:
        raise InvalidInput(errors)
    party = viewer.party.value
    first_response = party == dispute.respondent_party and dispute.responded_at is None
    statement = DisputeStatement(
        created_at=now, updated_at=now, dispute_id=dispute.id, party=party, author_id=actor.user_id,
        kind="response" if first_response else "addition", body=text)
    session.add(statement)
    await session.flush()
    await _store_files(session, settings, dispute, statement, files or [])
    if first_response:
        dispute.responded_at = now
    other = "creator" if party == "brand" else "brand"
    title = deal_title(collab)
    await notify(session, await party_user_ids(session, collab, other), kind="dispute.statement",
                 title=f"“{title}”: {_name(collab, party)} added to the dispute", body=text,
                 link=dispute_link(collab.id), email_template="dispute_update",
                 public_url=settings.app.public_url)
    await notify(session, await admin_user_ids(session), kind="dispute.statement",
                 title=f"“{title}”: the {party} {'responded' if first_response else 'added a statement'}",
                 link=admin_link(dispute.id))
    return statement


def _check_party(collab: Collaboration, viewer: TransitionActor) -> None:
    if viewer.party is Party.BRAND and viewer.brand_id != collab.brand_id:
        raise NotFound(gettext('No such collaboration.'))
    if viewer.party is Party.CREATOR and viewer.creator_id != collab.creator_id:
        raise NotFound(gettext('No such collaboration.'))


# --- what parties and admins read ----------------------------------------------------------------------------------


@dataclass
class StatementView:
    statement: DisputeStatement
    attachments: list[DisputeAttachment]
    author_name: str | None


@dataclass
class CaseView:
    dispute: Dispute
    collab: Collaboration
    statements: list[StatementView]
    decision: DisputeDecision | None
    decided_by: str | None

    @property
    def title(self) -> str:
        return deal_title(self.collab)

    @property
    def reason_label(self) -> str:
        return REASON_LABELS.get(self.dispute.reason.value, self.dispute.reason.value)

    @property
    def outcome_label(self) -> str | None:
        return OUTCOME_LABELS[self.decision.outcome.value] if self.decision else None

    def party_name(self, party: str | None) -> str:
        if party in ("brand", "creator"):
            return _name(self.collab, party)
        return "PostPact admin" if party == "admin" else "PostPact"

    def response_missed(self, now: datetime) -> bool:
        d = self.dispute
        return (d.status is DisputeStatus.OPEN and d.responded_at is None and d.response_due_at is not None
                and _utc(d.response_due_at) <= now)


def _utc(value: datetime) -> datetime:
    return as_utc(value)


async def _case_view(session: AsyncSession, dispute: Dispute, collab: Collaboration, *, admin: bool) -> CaseView:
    query = sa.select(DisputeStatement).where(DisputeStatement.dispute_id == dispute.id)
    if not admin:
        query = query.where(DisputeStatement.kind != "admin_note")
    statements = list((await session.scalars(
        query.order_by(DisputeStatement.created_at, DisputeStatement.id))).all())
    attachments = list((await session.scalars(
        sa.select(DisputeAttachment).where(DisputeAttachment.dispute_id == dispute.id)
        .order_by(DisputeAttachment.created_at))).all())
    by_statement: dict[UUID, list[DisputeAttachment]] = {}
    for a in attachments:
        by_statement.setdefault(a.statement_id, []).append(a)
    decision = await session.scalar(sa.select(DisputeDecision).where(DisputeDecision.dispute_id == dispute.id))
    user_ids = {s.author_id for s in statements if s.author_id}
    if decision and decision.decided_by_id:
        user_ids.add(decision.decided_by_id)
    names: dict[UUID, str] = {}
    if user_ids:
        rows = await session.execute(sa.select(User.id, User.full_name, User.email).where(User.id.in_(user_ids)))
        names = {uid: full or email for uid, full, email in rows}
    return CaseView(
        dispute=dispute, collab=collab,
        statements=[StatementView(s, by_statement.get(s.id, []), names.get(s.author_id) if s.author_id else None)
                    for s in statements],
        decision=decision,
        decided_by=names.get(decision.decided_by_id) if decision and decision.decided_by_id else None,
    )


async def party_cases(session: AsyncSession, actor: Actor, collaboration_id: UUID) -> tuple[Collaboration,
                                                                                          list[CaseView]]:
    """A deal's disputes as its brand team or creator sees them (newest first; admin notes left out).
    Anyone else: 404."""
    viewer = TransitionActor.of(actor)
    collab = await session.get(Collaboration, collaboration_id)
    if collab is None:
        raise NotFound(gettext('No such collaboration.'))
    if viewer.party is not Party.ADMIN:
        _check_party(collab, viewer)
    disputes = list((await session.scalars(
        sa.select(Dispute).where(Dispute.collaboration_id == collab.id)
        .order_by(Dispute.opened_at.desc(), Dispute.id.desc()))).all())
    return collab, [await _case_view(session, d, collab, admin=viewer.party is Party.ADMIN) for d in disputes]


async def party_attachment(session: AsyncSession, actor: Actor, collaboration_id: UUID,
                           attachment_id: UUID) -> DisputeAttachment:
    viewer = TransitionActor.of(actor)
    collab = await session.get(Collaboration, collaboration_id)
    if collab is None:
        raise NotFound(gettext('No such file.'))
    if viewer.party is not Party.ADMIN:
        _check_party(collab, viewer)
    found = await session.scalar(
        sa.select(DisputeAttachment).join(Dispute, Dispute.id == DisputeAttachment.dispute_id)
        .where(DisputeAttachment.id == attachment_id, Dispute.collaboration_id == collab.id))
    if found is None:
        raise NotFound(gettext('No such file.'))
    return found


async def admin_case(session: AsyncSession, dispute_id: UUID) -> CaseView:
    dispute = await session.get(Dispute, dispute_id)
    if dispute is None:
        raise NotFound(gettext('No such dispute.'))
    collab = await session.get(Collaboration, dispute.collaboration_id)
    assert collab is not None
    return await _case_view(session, dispute, collab, admin=True)


@dataclass(frozen=True)
class CaseRow:
    dispute: Dispute
    title: str
    brand_name: str
    creator_name: str
    fee_amount: int
    currency: str
    outcome: str | None

    def age(self, now: datetime) -> timedelta:
        return now - _utc(self.dispute.opened_at)

    def response_missed(self, now: datetime) -> bool:
        d = self.dispute
        return (d.status is DisputeStatus.OPEN and d.responded_at is None and d.response_due_at is not None
                and _utc(d.response_due_at) <= now)

    @property
    def reason_label(self) -> str:
        return REASON_LABELS.get(self.dispute.reason.value, self.dispute.reason.value)


LIST_LIMIT = 100


async def list_cases(session: AsyncSession, *, status: DisputeStatus | None = DisputeStatus.OPEN,
                     kind: DisputeKind | None = None, limit: int = LIST_LIMIT,
                     before: UUID | None = None) -> tuple[list[CaseRow], UUID | None]:
    """Open cases oldest first (the longest waiting on top); decided ones newest first. Keyset by id."""
    query = (sa.select(Dispute, Collaboration.terms, Collaboration.fee_amount, Collaboration.currency,
                       DisputeDecision.outcome)
             .join(Collaboration, Collaboration.id == Dispute.collaboration_id)
             .outerjoin(DisputeDecision, DisputeDecision.dispute_id == Dispute.id))
    if status is not None:
        query = query.where(Dispute.status == status)
    if kind is not None:
        query = query.where(Dispute.kind == kind)
    oldest_first = status is DisputeStatus.OPEN
    if before is not None:
        query = query.where(Dispute.id > before if oldest_first else Dispute.id < before)
    query = query.order_by(Dispute.id.asc() if oldest_first else Dispute.id.desc()).limit(limit + 1)
    rows = (await session.execute(query)).all()
    cases = [CaseRow(d, str((terms or {}).get("gig_title", "")), str((terms or {}).get("brand_name", "")),
                     str((terms or {}).get("creator_display_name", "")), int(fee), currency,
                     outcome.value if outcome is not None else None)
             for d, terms, fee, currency, outcome in rows[:limit]]
    next_before = cases[-1].dispute.id if len(rows) > limit else None
    return cases, next_before


# --- admins -------------------------------------------------------------------------------------------------------


async def add_admin_note(session: AsyncSession, admin: Actor, dispute_id: UUID, *, body: str, now: datetime,
                         ip: str | None = None) -> DisputeStatement:
    """A note on the case for other admins (parties don't see it); written to the audit log."""
    if not admin.is_admin:
        raise Forbidden(gettext('Only PostPact admins add case notes.'))
    dispute = await session.get(Dispute, dispute_id)
    if dispute is None:
        raise NotFound(gettext('No such dispute.'))
    errors: dict[str, str] = {}
    text = check_text(errors, "note", body, label=N_('The note'), minimum=2, maximum=STATEMENT_MAX)
    if errors:
        raise InvalidInput(errors)
    note = DisputeStatement(created_at=now, updated_at=now, dispute_id=dispute.id, party="admin",
                            author_id=admin.user_id, kind="admin_note", body=text)
    session.add(note)
    await session.flush()
    await audit.record(session, admin, "dispute.note", target_type="dispute", target_id=dispute.id,
                       summary=f"Note on the case: {text[:200]}", now=now, after={"note": text}, ip=ip)
    return note


async def note_missed_responses(session: AsyncSession, now: datetime, *, limit: int = 500) -> int:
    """Open cases whose answer window passed without an answer: mark them (once) and tell the admins."""
    rows = list((await session.scalars(
        sa.select(Dispute).where(Dispute.status == DisputeStatus.OPEN, Dispute.responded_at.is_(None),
                                 Dispute.response_missed_at.is_(None), Dispute.response_due_at <= now)
        .order_by(Dispute.response_due_at).limit(limit).with_for_update(skip_locked=True))).all())
    if not rows:
        return 0
    admins = await admin_user_ids(session)
    for dispute in rows:
        dispute.response_missed_at = now
        collab = await session.get(Collaboration, dispute.collaboration_id)
        assert collab is not None
        who = _name(collab, dispute.respondent_party or "brand")
        assert dispute.response_due_at is not None
        days = round((_utc(dispute.response_due_at) - _utc(dispute.opened_at)) / timedelta(days=1))
        session.add(DisputeStatement(
            created_at=now, updated_at=now, dispute_id=dispute.id, party="system", author_id=None, kind="system",
            body=f"{who} did not respond within {days} days."))
        await notify(session, admins, kind="dispute.response_missed",
                     title=f"“{deal_title(collab)}”: no response from the {dispute.respondent_party} in time",
                     body=f"{who} did not give their side within {days} days; the case is ready "
                          "to decide.", link=admin_link(dispute.id))
    await session.flush()
    return len(rows)
