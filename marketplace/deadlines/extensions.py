"""Deadline extensions: either side asks to move a due date, the other accepts or declines.

An accepted extension is stored in ``Collaboration.due_overrides`` and recorded with ``EXTEND_DEADLINE``, whose
transition recomputes every due time, so reminders, ghosting and the sweeper's next look follow the new date.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from uuid import UUID

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from marketplace.accounts.auth import Actor
from marketplace.collaborations.models import Collaboration, ExtensionRequest, ExtensionStatus
from marketplace.collaborations.states import (
    CREATOR_TO_POST,
    DEAL_ROLES,
    TERMINAL,
    Action,
    CollabState,
    Party,
    TransitionActor,
)
from marketplace.collaborations.terms import Terms
from marketplace.collaborations.transition import among, lock_collaboration, transition
from marketplace.deadlines.recipients import DEAL_ROLES as NOTIFY_ROLES
from marketplace.deadlines.recipients import brand_team, creator_accounts
from marketplace.deadlines.reminders import collaboration_link, format_due
from marketplace.deadlines.rules import STAGE_ASKS
from marketplace.errors import Conflict, Forbidden, InvalidInput, NotFound, PostPactError
from marketplace.i18n import N_, Message, gettext
from marketplace.notifications.services import Notice, notify, notify_many

#: An extension moves a date by at most this much at once (a second request can move it further).
MAX_EXTENSION = timedelta(days=60)
REASON_MAX = 1000
#: Stages PostPact watches itself or that end in an automatic decision the other side relies on.
NOT_EXTENDABLE = frozenset({"check", "approve", "keep_live"})


def party_of(collab: Collaboration, actor: Actor) -> Party:
    """The viewer's side of this deal; outsiders get 404 so they can't tell the deal exists."""
    if actor.is_admin:
        return Party.ADMIN
    if actor.is_brand and actor.brand_id == collab.brand_id:
        return Party.BRAND
    if actor.is_creator and actor.creator_id == collab.creator_id:
        return Party.CREATOR
    raise NotFound(gettext('No such collaboration.'))


def may_act(collab: Collaboration, actor: Actor) -> bool:
    party = party_of(collab, actor)
    if party is Party.BRAND:
        return actor.brand_role in DEAL_ROLES
    return party is Party.CREATOR


def _require_actor(collab: Collaboration, actor: Actor) -> Party:
    party = party_of(collab, actor)
    if party is Party.ADMIN:
        raise Forbidden(gettext('Admins can see extension requests but only the brand and the creator agree on them.'))
    if party is Party.BRAND and actor.brand_role not in DEAL_ROLES:
        role = actor.brand_role.value if actor.brand_role else "none"
        raise Forbidden(
            gettext("Your role (%(role)s) can't change deal deadlines; ask an owner or manager.", role=role)
        )
    if actor.suspended:
        raise Forbidden(gettext('Your account is suspended.'))
    return party


def extendable_stages(collab: Collaboration) -> list[str]:
    """The stages whose due date may be moved now: the one someone must act on next, and the post deadline while
    the creator still has to post (ghosting is judged on it)."""
    state = CollabState(collab.status)
    if state in TERMINAL or state is CollabState.DISPUTED or collab.deadlines_paused_at is not None:
        return []
    stages: list[str] = []
    stage = collab.next_due_stage
    if stage and stage not in NOT_EXTENDABLE and collab.next_due_party in {"brand", "creator"}:
        stages.append(stage)
    if state in CREATOR_TO_POST and collab.due("post") is not None and "post" not in stages:
        stages.append("post")
    return stages


def stage_to_extend(collab: Collaboration, wanted: str) -> str:
    """The stage a brand's "more time" offer moves: the one asked for, else the deal's next extendable deadline;
    Conflict (409) when that one can't be moved now."""
    stages = extendable_stages(collab)
    stage = wanted or (stages[0] if stages else "")
    if stage not in stages:
        raise Conflict(
            gettext("No deadline of this deal can be moved now.")
            if not stages
            else gettext(
                "The %(stage)s deadline can't be moved now; this deal's next deadline is %(stages)s.",
                stage=stage,
                stages=stages[0],
            )
        )
    return stage


async def _load(session: AsyncSession, collaboration_id: UUID, *, lock: bool) -> Collaboration:
    if lock:
        return await lock_collaboration(session, collaboration_id)
    collab = await session.get(Collaboration, collaboration_id)
    if collab is None:
        raise NotFound(gettext('No such collaboration.'))
    return collab


async def _tell_other_side(
    session: AsyncSession, collab: Collaboration, other: str, *, kind: str, title: str | Message,
    body: str | Message) -> None:
    if other == Party.BRAND.value:
        team = await brand_team(session, [collab.brand_id], NOTIFY_ROLES)
        ids = [user.id for user, _role in team.get(collab.brand_id, [])]
    else:
        account = (await creator_accounts(session, [collab.creator_id])).get(collab.creator_id)
        ids = [account.id] if account else []
    await notify(session, ids, kind=kind, title=title, body=body, link=f"{collaboration_link(collab.id)}/extensions")


def _other(party: str) -> str:
    return Party.CREATOR.value if party == Party.BRAND.value else Party.BRAND.value


@dataclass(frozen=True)
class ExtensionsView:
    collaboration: Collaboration
    party: Party
    requests: list[ExtensionRequest]
    stages: list[str]
    may_act: bool

    def stage_options(self) -> list[tuple[str, str]]:
        return [
            (s, f"{STAGE_ASKS.get(s, s)} (due {format_due(self.collaboration.due(s))})")  # type: ignore[arg-type]
            for s in self.stages
        ]


async def extensions_view(session: AsyncSession, collaboration_id: UUID, actor: Actor) -> ExtensionsView:
    collab = await _load(session, collaboration_id, lock=False)
    party = party_of(collab, actor)
    requests = list(
        (
            await session.scalars(
                sa.select(ExtensionRequest)
                .where(ExtensionRequest.collaboration_id == collab.id)
                .order_by(ExtensionRequest.created_at.desc())
            )
        ).all()
    )
    return ExtensionsView(collab, party, requests, extendable_stages(collab), may_act(collab, actor))


def check_request(collab: Collaboration, actor: Actor, *, stage: str, proposed_due_at: datetime | None, reason: str,
                  now: datetime) -> tuple[Party, datetime]:
    """Whether ``actor`` may ask to move ``stage`` of this (locked) deal to ``proposed_due_at``: their side and the
    current due time, or the error (404, 403, 409, then 422 naming every field that is wrong)."""
    party = _require_actor(collab, actor)
    stages = extendable_stages(collab)
    if not stages:
        raise Conflict(gettext('No deadline of this deal can be moved now.'))
    errors: dict[str, str] = {}
    current = collab.due(stage) if stage in stages else None
    if stage not in stages:
        errors["stage"] = gettext('Choose one of the deadlines listed.')
    if proposed_due_at is None:
        errors["proposed_due_at"] = gettext('Give the new date and time.')
    elif current is not None:
        if proposed_due_at <= current:
            errors["proposed_due_at"] = gettext(
                "The new date must be after the current one (%(current)s).", current=format_due(current)
            )
        elif proposed_due_at <= now:
            errors["proposed_due_at"] = gettext('The new date must be in the future.')
        elif proposed_due_at - current > MAX_EXTENSION:
            errors["proposed_due_at"] = gettext('Move it by at most %(days)s days at a time.', days=MAX_EXTENSION.days)
    if len(reason) > REASON_MAX:
        errors["reason"] = gettext('Keep the reason under %(reason_max)s characters.', reason_max=REASON_MAX)
    if errors:
        raise InvalidInput(errors)
    assert current is not None
    return party, current


def _already_open() -> Conflict:
    return Conflict(gettext("There is already an open request for this deadline; wait for the answer or withdraw it."))


def _asked(collab: Collaboration, party: Party, stage: str, current: datetime, proposed_due_at: datetime,
           reason: str) -> tuple[Message, Message]:
    """The other side's notice of a request: rendered for each reader (their language, the dates in their zone)."""
    terms = Terms.from_dict(collab.terms)
    who = terms.brand_name if party is Party.BRAND else terms.creator_display_name
    return (Message(N_("“%(gig)s”: %(who)s asks for more time to %(ask)s"), gig=terms.gig_title, who=who,
                    ask=STAGE_ASKS.get(stage, stage)),
            Message(N_("From %(current)s to %(proposed)s. %(reason)s"), current=current, proposed=proposed_due_at,
                    reason=reason))


async def request_extension(
    session: AsyncSession,
    collaboration_id: UUID,
    actor: Actor,
    *,
    stage: str,
    proposed_due_at: datetime | None,
    reason: str,
    now: datetime,
) -> ExtensionRequest:
    """Ask the other side to move ``stage`` to ``proposed_due_at``; InvalidInput (422) names what is wrong."""
    collab = await _load(session, collaboration_id, lock=True)
    party, current = check_request(collab, actor, stage=stage, proposed_due_at=proposed_due_at, reason=reason,
                                   now=now)
    assert proposed_due_at is not None
    pending = await session.scalar(
        sa.select(ExtensionRequest.id).where(
            ExtensionRequest.collaboration_id == collab.id,
            ExtensionRequest.stage == stage,
            ExtensionRequest.status == ExtensionStatus.PENDING,
        )
    )
    if pending is not None:
        raise _already_open()
    request = ExtensionRequest(
        collaboration_id=collab.id,
        stage=stage,
        requested_by_party=party.value,
        requested_by_id=actor.user_id,
        current_due_at=current,
        proposed_due_at=proposed_due_at,
        reason=reason,
        status=ExtensionStatus.PENDING,
    )
    session.add(request)
    await session.flush()
    title, body = _asked(collab, party, stage, current, proposed_due_at, reason)
    await _tell_other_side(session, collab, _other(party.value), kind="deadline.extension_requested", title=title,
                           body=body)
    return request


@dataclass(frozen=True)
class WantedExtension:
    """One deal's request in a batch: the stage and the new due time (both worked out by the caller)."""

    collaboration: Collaboration
    stage: str
    proposed_due_at: datetime


async def request_extensions(session: AsyncSession, actor: Actor, wanted: list[WantedExtension], *, reason: str,
                             now: datetime) -> dict[UUID, PostPactError]:
    """``request_extension`` for a batch of deals the caller locked (``lock_collaborations``): each checked as one
    is, the open requests read in one query, the new requests written together and the other sides told in one
    ``notify_many``. Returns, per refused deal, the error ``request_extension`` would raise (nothing is written
    for it)."""
    refused: dict[UUID, PostPactError] = {}
    checked: list[tuple[WantedExtension, Party, datetime]] = []
    for want in wanted:
        try:
            party, current = check_request(want.collaboration, actor, stage=want.stage,
                                           proposed_due_at=want.proposed_due_at, reason=reason, now=now)
        except PostPactError as exc:
            refused[want.collaboration.id] = exc
            continue
        checked.append((want, party, current))
    if not checked:
        return refused
    ids = [want.collaboration.id for want, _, _ in checked]
    open_now = {(deal_id, stage) for deal_id, stage in await session.execute(
        sa.select(ExtensionRequest.collaboration_id, ExtensionRequest.stage)
        .where(among(session, ExtensionRequest.collaboration_id, ids),
               ExtensionRequest.status == ExtensionStatus.PENDING))}
    asked: list[tuple[WantedExtension, Party, datetime]] = []
    for want, party, current in checked:
        if (want.collaboration.id, want.stage) in open_now:
            refused[want.collaboration.id] = _already_open()
        else:
            asked.append((want, party, current))
    if not asked:
        return refused
    session.add_all([
        ExtensionRequest(collaboration_id=want.collaboration.id, stage=want.stage, requested_by_party=party.value,
                         requested_by_id=actor.user_id, current_due_at=current, proposed_due_at=want.proposed_due_at,
                         reason=reason, status=ExtensionStatus.PENDING)
        for want, party, current in asked
    ])
    await session.flush()
    await _tell_other_sides(session, [(want.collaboration, party, *_asked(want.collaboration, party, want.stage,
                                                                         current, want.proposed_due_at, reason))
                                      for want, party, current in asked])
    return refused


async def _tell_other_sides(session: AsyncSession,
                            told: list[tuple[Collaboration, Party, Message, Message]]) -> None:
    """``_tell_other_side`` of each request of a batch, with the recipients read once for the batch."""
    brands = [collab.brand_id for collab, party, _, _ in told if _other(party.value) == Party.BRAND.value]
    creators = [collab.creator_id for collab, party, _, _ in told if _other(party.value) == Party.CREATOR.value]
    teams = await brand_team(session, brands, NOTIFY_ROLES) if brands else {}
    accounts = await creator_accounts(session, creators) if creators else {}
    notices = []
    for collab, party, title, body in told:
        if _other(party.value) == Party.BRAND.value:
            ids = tuple(user.id for user, _role in teams.get(collab.brand_id, []))
        else:
            account = accounts.get(collab.creator_id)
            ids = (account.id,) if account else ()
        notices.append(Notice(ids, "deadline.extension_requested", title, body,
                              f"{collaboration_link(collab.id)}/extensions"))
    await notify_many(session, notices)


async def _pending_request(session: AsyncSession, collab: Collaboration, extension_id: UUID) -> ExtensionRequest:
    request = await session.scalar(
        sa.select(ExtensionRequest)
        .where(ExtensionRequest.id == extension_id, ExtensionRequest.collaboration_id == collab.id)
        .with_for_update()
    )
    if request is None:
        raise NotFound(gettext('No such extension request.'))
    if ExtensionStatus(request.status) is not ExtensionStatus.PENDING:
        raise Conflict(gettext('This request was already %(status)s.', status=ExtensionStatus(request.status).value))
    return request


async def decide_extension(
    session: AsyncSession, collaboration_id: UUID, extension_id: UUID, actor: Actor, *, accept: bool, now: datetime
) -> ExtensionRequest:
    """The other side accepts (the due date moves, recorded as EXTEND_DEADLINE) or declines."""
    collab = await _load(session, collaboration_id, lock=True)
    party = _require_actor(collab, actor)
    request = await _pending_request(session, collab, extension_id)
    if request.requested_by_party == party.value:
        raise Forbidden(gettext('The other side decides on your request; you can withdraw it.'))
    if accept:
        current = collab.due(request.stage)
        if request.stage not in extendable_stages(collab) or current is None or current != request.current_due_at:
            raise Conflict(gettext('That deadline has changed since the request was made; ask again with a new date.'))
        overrides = dict(collab.due_overrides or {})
        overrides[request.stage] = request.proposed_due_at.isoformat()
        collab.due_overrides = overrides
        await transition(
            session,
            collab.id,
            Action.EXTEND_DEADLINE,
            TransitionActor.of(actor),
            now=now,
            payload={
                "extension_request_id": str(request.id),
                "stage": request.stage,
                "from": request.current_due_at.isoformat(),
                "to": request.proposed_due_at.isoformat(),
                "requested_by": request.requested_by_party,
            },
            collab=collab,
        )
    request.status = ExtensionStatus.ACCEPTED if accept else ExtensionStatus.DECLINED
    request.decided_at = now
    request.decided_by_id = actor.user_id
    await session.flush()
    terms = Terms.from_dict(collab.terms)
    verdict = "accepted" if accept else "declined"
    await _tell_other_side(
        session,
        collab,
        request.requested_by_party,
        kind=f"deadline.extension_{verdict}",
        title=f"“{terms.gig_title}”: your request for more time was {verdict}",
        body=(
            f"The deadline to {STAGE_ASKS.get(request.stage, request.stage)} is now "
            f"{format_due(request.proposed_due_at)}."
            if accept
            else f"The deadline stays {format_due(request.current_due_at)}."
        ),
    )
    return request


async def withdraw_extension(
    session: AsyncSession, collaboration_id: UUID, extension_id: UUID, actor: Actor, *, now: datetime
) -> ExtensionRequest:
    collab = await _load(session, collaboration_id, lock=True)
    party = _require_actor(collab, actor)
    request = await _pending_request(session, collab, extension_id)
    if request.requested_by_party != party.value:
        raise Forbidden(gettext('Only the side that asked can withdraw a request; you can accept or decline it.'))
    request.status = ExtensionStatus.WITHDRAWN
    request.decided_at = now
    request.decided_by_id = actor.user_id
    await session.flush()
    return request
