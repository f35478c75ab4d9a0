"""Set-based bulk steps: a batch of deals moved by one ``transition_many()`` instead of one transaction per deal.

Each function does for a batch exactly what its ``DealService`` step does for one deal, in the same order of checks
(the deal exists and is the brand's, the table allows the step, the input is valid, the step's own record is there),
so a deal refused here gets the same reason it would get alone, and the others proceed. What differs is the number
of statements: the deals are locked in one, their records read and written in one each, and the move is one UPDATE
plus one multi-row INSERT of events (see ``marketplace.collaborations.transition``). The bulk job runs a batch in one
transaction; if anything other than a per-deal refusal goes wrong, the job redoes the batch one deal at a time.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from uuid import UUID

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession
from uuid_utils.compat import uuid7

from marketplace.accounts.auth import Actor
from marketplace.clock import Clock
from marketplace.collaborations.models import ContentDraft, DraftReview, Shipment
from marketplace.collaborations.services import COMMENT_MAX, as_transition_actor, check_shipment
from marketplace.collaborations.states import Action, CollabState, TransitionActor, check_transition
from marketplace.collaborations.terms import parsed_terms
from marketplace.collaborations.transition import among, lock_collaborations, transition_many
from marketplace.db import insert_rows
from marketplace.deadlines.extensions import WantedExtension, request_extensions, stage_to_extend
from marketplace.errors import Conflict, InvalidInput, NotFound, PostPactError
from marketplace.forms import REASON_MAX, clean_text
from marketplace.i18n import N_, gettext
from marketplace.settings import Settings
from marketplace.verification.drafts import caption_gaps, gaps_in_words


@dataclass
class BatchWork:
    """Everything one batch's transaction needs: the targets are deal ids, each with its item's data."""

    session: AsyncSession
    settings: Settings
    clock: Clock
    actor: Actor
    parameters: dict[str, Any]
    targets: list[tuple[UUID, dict[str, Any]]]

    @property
    def now(self) -> datetime:
        return self.clock.now()

    @property
    def ids(self) -> list[UUID]:
        return [target for target, _ in self.targets]


#: Runs a batch; returns, per refused deal, the error its one-deal step would have raised (nothing is written for
#: those). Raising rolls the whole batch back.
ApplyBatch = Callable[[BatchWork], Awaitable[dict[UUID, PostPactError]]]


def _comment(work: BatchWork, *, required: bool = False) -> tuple[str, InvalidInput | None]:
    errors: dict[str, str] = {}
    comment = clean_text(errors, "comment", str(work.parameters.get("comment", "")), label=N_('Comment'),
                         max_length=COMMENT_MAX, required=required)
    return comment, InvalidInput(errors) if errors else None


async def _checked(work: BatchWork, action: Action, who: TransitionActor, now: datetime,
                   input_error: PostPactError | None) -> tuple[dict[UUID, Any], dict[UUID, PostPactError]]:
    """Lock the batch's deals, then refuse as the one-deal step would: missing or another brand's (404), not
    allowed by the table (409/403), then invalid input (422)."""
    rows = await lock_collaborations(work.session, work.ids)
    refused: dict[UUID, PostPactError] = {}
    for deal_id in work.ids:
        collab = rows.get(deal_id)
        try:
            if collab is None:
                raise NotFound(gettext('No such collaboration.'))
            check_transition(collab, action, who, now)
            if input_error is not None:
                raise input_error
        except PostPactError as exc:
            refused[deal_id] = exc
    return rows, refused


async def approve_drafts(work: BatchWork) -> dict[UUID, PostPactError]:
    """``DealService.approve_draft`` for a batch: each deal's draft under review is approved with the same comment,
    in one UPDATE; then the deals move together."""
    who, now = as_transition_actor(work.actor), work.now
    comment, invalid = _comment(work)
    rows, refused = await _checked(work, Action.APPROVE_DRAFT, who, now, invalid)
    candidates = [deal_id for deal_id in work.ids if deal_id not in refused]
    latest: dict[UUID, tuple[UUID, int, str]] = {}
    if candidates:
        found = await work.session.execute(
            sa.select(ContentDraft.collaboration_id, ContentDraft.id, ContentDraft.round, ContentDraft.caption)
            .where(among(work.session, ContentDraft.collaboration_id, candidates),
                   ContentDraft.review == DraftReview.PENDING)
            .order_by(ContentDraft.collaboration_id, ContentDraft.round.desc())
        )
        for deal_id, draft_id, round_, caption in found:
            latest.setdefault(deal_id, (draft_id, round_, caption))
    drafts: dict[UUID, tuple[UUID, int]] = {}
    extra: dict[UUID, dict[str, Any]] = {}
    approve_anyway = bool(work.parameters.get("approve_anyway"))
    for deal_id in candidates:
        if deal_id not in latest:
            refused[deal_id] = Conflict(gettext('There is no draft waiting for review.'))
            continue
        draft_id, round_, caption = latest[deal_id]
        gaps = caption_gaps(parsed_terms(rows[deal_id].terms), caption)
        if gaps and not approve_anyway:
            refused[deal_id] = InvalidInput({"approve_anyway": gettext(
                'The caption is missing %(gaps)s. Ask for changes, or tick “Approve anyway” to approve it as it is.',
                gaps=gaps_in_words(gaps))})
            continue
        if gaps:
            extra[deal_id] = {"approved_anyway": True, "missing": [g.text for g in gaps]}
        drafts[deal_id] = (draft_id, round_)
    if drafts:
        await work.session.execute(
            sa.update(ContentDraft)
            .where(among(work.session, ContentDraft.id, [draft_id for draft_id, _ in drafts.values()]))
            .values(review=DraftReview.APPROVED, review_comment=comment or None, reviewed_at=now,
                    reviewed_by_id=who.user_id, updated_at=now)
            .execution_options(synchronize_session=False)
        )
    payloads = {deal_id: {"draft_id": str(draft_id), "round": round_, "comment": comment, **extra.get(deal_id, {})}
                for deal_id, (draft_id, round_) in drafts.items()}
    result = await transition_many(work.session, work.ids, Action.APPROVE_DRAFT, who, now=now, payloads=payloads,
                                   locked=rows, refused=refused)
    return result.refused


async def approve_posts(work: BatchWork) -> dict[UUID, PostPactError]:
    """``DealService.approve_post`` for a batch: the deals move together and escrow releases each creator's fee
    (the payments listener, through the escrow gateway, one idempotency key per deal)."""
    who, now = as_transition_actor(work.actor), work.now
    comment, invalid = _comment(work)
    rows, refused = await _checked(work, Action.APPROVE_POST, who, now, invalid)
    payload = {"comment": comment} if comment else {}
    result = await transition_many(work.session, work.ids, Action.APPROVE_POST, who, now=now,
                                   payloads=dict.fromkeys(work.ids, payload), locked=rows, refused=refused)
    return result.refused


async def cancel_deals(work: BatchWork) -> dict[UUID, PostPactError]:
    """``DealService.end_deal`` (a brand's cancel) for a batch: an offer is withdrawn, a signed or funded deal
    cancelled (escrow refunds a funded one: the payments listener); the deals of each of the two steps move
    together, with the same reason."""
    who, now = as_transition_actor(work.actor), work.now
    errors: dict[str, str] = {}
    reason = clean_text(errors, "reason", str(work.parameters.get("reason", "")), label=N_('Reason'),
                        max_length=REASON_MAX)
    invalid = InvalidInput(errors) if errors else None
    rows = await lock_collaborations(work.session, work.ids)
    refused: dict[UUID, PostPactError] = {}
    steps: dict[Action, list[UUID]] = {}
    for deal_id in work.ids:
        collab = rows.get(deal_id)
        try:
            if collab is None:
                raise NotFound(gettext('No such collaboration.'))
            action = Action.WITHDRAW_OFFER if CollabState(collab.status) is CollabState.OFFERED else Action.CANCEL
            check_transition(collab, action, who, now)
            if invalid is not None:
                raise invalid
        except PostPactError as exc:
            refused[deal_id] = exc
            continue
        steps.setdefault(action, []).append(deal_id)
    payload = {"reason": reason} if reason else {}
    for action, ids in steps.items():
        result = await transition_many(work.session, ids, action, who, now=now, payloads=dict.fromkeys(ids, payload),
                                       locked=rows)
        refused.update(result.refused)
    return refused


async def extend_deals(work: BatchWork) -> dict[UUID, PostPactError]:
    """``do_extend`` for a batch: each deal's deadline (the one named, else its next) offered the same number of
    days more, checked as one request is; the requests written together and the creators told together
    (``deadlines.extensions.request_extensions``). No deal moves: the creator's agreement moves the date."""
    rows = await lock_collaborations(work.session, work.ids)
    refused: dict[UUID, PostPactError] = {}
    wanted: list[WantedExtension] = []
    days = timedelta(days=int(work.parameters["days"]))
    for deal_id in work.ids:
        collab = rows.get(deal_id)
        try:
            if collab is None or collab.brand_id != work.actor.brand_id:
                raise NotFound(gettext("This deal isn't one of yours."))
            stage = stage_to_extend(collab, str(work.parameters.get("stage") or ""))
        except PostPactError as exc:
            refused[deal_id] = exc
            continue
        current = collab.due(stage)
        assert current is not None
        wanted.append(WantedExtension(collab, stage, current + days))
    refused.update(await request_extensions(work.session, work.actor, wanted,
                                            reason=str(work.parameters.get("reason", "")), now=work.now))
    return refused


def _shipment(data: dict[str, Any]) -> tuple[str, str, str | None]:
    """A deal's carrier, tracking number and link (its item's data: a tracking CSV's row), checked as
    ``DealService.ship`` checks them (``check_shipment``)."""
    return check_shipment(str(data.get("carrier", "")), str(data.get("tracking_number", "")),
                          data.get("tracking_url") or None)


async def ship_deals(work: BatchWork) -> dict[UUID, PostPactError]:
    """``DealService.ship`` for a batch: each deal's shipment checked as one shipment is, the deals moved together,
    then their shipments written in one insert (after the move, as one deal's are)."""
    who, now = as_transition_actor(work.actor), work.now
    rows = await lock_collaborations(work.session, work.ids)
    refused: dict[UUID, PostPactError] = {}
    shipped: dict[UUID, tuple[str, str, str | None]] = {}
    for deal_id, data in work.targets:
        collab = rows.get(deal_id)
        try:
            if collab is None:
                raise NotFound(gettext('No such collaboration.'))
            check_transition(collab, Action.SHIP, who, now)
            shipped[deal_id] = _shipment(data)
        except PostPactError as exc:
            refused[deal_id] = exc
    payloads = {deal_id: {"carrier": carrier, "tracking_number": number}
                for deal_id, (carrier, number, _url) in shipped.items()}
    result = await transition_many(work.session, work.ids, Action.SHIP, who, now=now, payloads=payloads,
                                   locked=rows, refused=refused)
    await insert_rows(work.session, Shipment.__table__, [
        {"id": uuid7(), "collaboration_id": change.collaboration.id, "carrier": shipped[change.collaboration.id][0],
         "tracking_number": shipped[change.collaboration.id][1], "tracking_url": shipped[change.collaboration.id][2],
         "shipped_at": now, "received_at": None, "problem": None, "problem_reported_at": None, "created_at": now,
         "updated_at": now}
        for change in result.changes
    ])
    return result.refused
