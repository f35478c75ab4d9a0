"""The collaboration state machine as data: states, actions, the transition table and the checks it implies.

Pure: nothing here touches the database. ``marketplace.collaborations.transition.transition()`` is the one function
that applies a move (lock, check with ``check_transition``, set the state, record the event) and then tells the
listeners registered in ``marketplace/listeners.py`` what happened.

Long because the whole table is one list, rule by rule, so every move a deal can make reads in one place.
"""

from __future__ import annotations

import enum
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING
from uuid import UUID

from marketplace.brands.models import BrandRole
from marketplace.errors import Conflict, Forbidden, NotFound
from marketplace.i18n import N_, gettext

if TYPE_CHECKING:
    from marketplace.accounts.auth import Actor
    from marketplace.collaborations.models import Collaboration


class CollabState(enum.StrEnum):
    OFFERED = "offered"
    SIGNED = "signed"
    FUNDED = "funded"
    SHIPPED = "shipped"
    RECEIVED = "received"
    DRAFT_SUBMITTED = "draft_submitted"
    CHANGES_REQUESTED = "changes_requested"
    DRAFT_APPROVED = "draft_approved"
    POSTED = "posted"
    VERIFIED = "verified"
    RELEASED = "released"
    COMPLETED = "completed"
    # Endings other than completion; each says why the deal ended.
    CANCELLED = "cancelled"
    GHOSTED = "ghosted"
    DISPUTED = "disputed"
    REFUNDED = "refunded"
    SETTLED = "settled"


TERMINAL = frozenset(
    {CollabState.COMPLETED, CollabState.CANCELLED, CollabState.GHOSTED, CollabState.REFUNDED, CollabState.SETTLED}
)
#: Money is in escrow and not yet paid out or returned: disputes may be opened in these states.
FUNDED_UNRESOLVED = frozenset(
    {
        CollabState.FUNDED,
        CollabState.SHIPPED,
        CollabState.RECEIVED,
        CollabState.DRAFT_SUBMITTED,
        CollabState.CHANGES_REQUESTED,
        CollabState.DRAFT_APPROVED,
        CollabState.POSTED,
        CollabState.VERIFIED,
    }
)
#: States in which the creator is the one who must act next to get the post out (ghosting is judged here).
CREATOR_TO_POST = frozenset(
    {
        CollabState.FUNDED,
        CollabState.SHIPPED,
        CollabState.RECEIVED,
        CollabState.CHANGES_REQUESTED,
        CollabState.DRAFT_APPROVED,
    }
)


class Party(enum.StrEnum):
    BRAND = "brand"
    CREATOR = "creator"
    ADMIN = "admin"
    #: PostPact itself: escrow webhooks, the deadline sweeper, post verification.
    SYSTEM = "system"


class Action(enum.StrEnum):
    SIGN = "sign"
    DECLINE_OFFER = "decline_offer"
    WITHDRAW_OFFER = "withdraw_offer"
    CANCEL = "cancel"
    #: The creator cancels without penalty because the brand did not ship by the ship-by date.
    CANCEL_NO_SHOW = "cancel_no_show"
    MARK_FUNDED = "mark_funded"
    SHIP = "ship"
    CONFIRM_RECEIPT = "confirm_receipt"
    REPORT_PROBLEM = "report_problem"
    SUBMIT_DRAFT = "submit_draft"
    REQUEST_CHANGES = "request_changes"
    APPROVE_DRAFT = "approve_draft"
    SUBMIT_POST = "submit_post"
    MARK_VERIFIED = "mark_verified"
    RECORD_VERIFICATION = "record_verification"
    APPROVE_POST = "approve_post"
    MARK_RELEASED = "mark_released"
    MARK_POST_REMOVED = "mark_post_removed"
    COMPLETE = "complete"
    GHOST = "ghost"
    OPEN_DISPUTE = "open_dispute"
    RESOLVE_RELEASE = "resolve_release"
    RESOLVE_REFUND = "resolve_refund"
    RESOLVE_SPLIT = "resolve_split"
    EXTEND_DEADLINE = "extend_deadline"
    #: PostPact notes that the brand missed the ship-by date (the creator may now cancel without penalty).
    NOTE_BRAND_NO_SHOW = "note_brand_no_show"
    #: An admin's decision on a case opened after the deal had ended (a chargeback after release): no state change.
    RECORD_DECISION = "record_decision"
    ADMIN_NOTE = "admin_note"


DEAL_ROLES = frozenset({BrandRole.OWNER, BrandRole.MANAGER})
MONEY_ROLES = frozenset({BrandRole.OWNER, BrandRole.MANAGER, BrandRole.FINANCE})


@dataclass(frozen=True)
class Rule:
    action: Action
    sources: frozenset[CollabState]
    #: None keeps the state: the event is recorded, the status does not change.
    target: CollabState | None
    parties: frozenset[Party]
    brand_roles: frozenset[BrandRole] = DEAL_ROLES
    #: Extra condition on the collaboration; returns why the move is not allowed, or None.
    when: Callable[[Collaboration, datetime], str | None] | None = None
    label: str = ""


def _needs_product(c: Collaboration, _now: datetime) -> str | None:
    return None if c.product_included else "This deal has no product to ship."


def _productless(c: Collaboration, _now: datetime) -> str | None:
    return "Wait for the product to arrive, then confirm receipt." if c.product_included else None


def _ship_by_passed(c: Collaboration, now: datetime) -> str | None:
    return None if c.due_passed("ship", now) else "The brand still has time to ship; you can cancel once it's late."


def _rounds_left(c: Collaboration, _now: datetime) -> str | None:
    if c.revision_rounds_used >= c.revision_rounds_allowed:
        return f"All {c.revision_rounds_allowed} revision round(s) are used; approve the draft or open a dispute."
    return None


S = CollabState
P = Party
RULES: list[Rule] = [
    Rule(Action.SIGN, frozenset({S.OFFERED}), S.SIGNED, frozenset({P.CREATOR}), label=N_("sign the terms")),
    Rule(
        Action.DECLINE_OFFER, frozenset({S.OFFERED}), S.CANCELLED, frozenset({P.CREATOR}), label=N_("decline the offer")
    ),
    Rule(
        Action.WITHDRAW_OFFER, frozenset({S.OFFERED}), S.CANCELLED, frozenset({P.BRAND}), label=N_("withdraw the offer")
    ),
    # Before funding nobody has paid anything; after funding a cancellation refunds the brand through escrow.
    # Admins move money only through a dispute decision (fresh password, audit entry), never by cancelling.
    Rule(
        Action.CANCEL,
        frozenset({S.SIGNED, S.FUNDED}),
        S.CANCELLED,
        frozenset({P.BRAND, P.CREATOR}),
        label="cancel",
    ),
    Rule(
        Action.CANCEL_NO_SHOW,
        frozenset({S.FUNDED}),
        S.CANCELLED,
        frozenset({P.CREATOR}),
        when=lambda c, now: _needs_product(c, now) or _ship_by_passed(c, now),
        label=N_("cancel because the product never shipped"),
    ),
    Rule(Action.MARK_FUNDED, frozenset({S.SIGNED}), S.FUNDED, frozenset({P.SYSTEM}), label=N_("record the funding")),
    Rule(
        Action.SHIP,
        frozenset({S.FUNDED}),
        S.SHIPPED,
        frozenset({P.BRAND}),
        when=_needs_product,
        label=N_("ship the product"),
    ),
    Rule(
        Action.CONFIRM_RECEIPT, frozenset({S.SHIPPED}), S.RECEIVED, frozenset({P.CREATOR}), label=N_("confirm receipt")
    ),
    Rule(
        Action.REPORT_PROBLEM,
        frozenset({S.SHIPPED, S.RECEIVED}),
        None,
        frozenset({P.CREATOR}),
        label=N_("report a delivery problem"),
    ),
    Rule(
        Action.SUBMIT_DRAFT,
        frozenset({S.RECEIVED, S.CHANGES_REQUESTED}),
        S.DRAFT_SUBMITTED,
        frozenset({P.CREATOR}),
        label=N_("submit a draft"),
    ),
    Rule(
        Action.SUBMIT_DRAFT,
        frozenset({S.FUNDED}),
        S.DRAFT_SUBMITTED,
        frozenset({P.CREATOR}),
        when=_productless,
        label=N_("submit a draft"),
    ),
    Rule(
        Action.REQUEST_CHANGES,
        frozenset({S.DRAFT_SUBMITTED}),
        S.CHANGES_REQUESTED,
        frozenset({P.BRAND}),
        when=_rounds_left,
        label=N_("request changes"),
    ),
    Rule(
        Action.APPROVE_DRAFT,
        frozenset({S.DRAFT_SUBMITTED}),
        S.DRAFT_APPROVED,
        frozenset({P.BRAND}),
        label=N_("approve the draft"),
    ),
    Rule(
        Action.SUBMIT_POST,
        frozenset({S.DRAFT_APPROVED}),
        S.POSTED,
        frozenset({P.CREATOR}),
        label=N_("submit the live post"),
    ),
    # A post that failed verification may be fixed and submitted again.
    Rule(Action.SUBMIT_POST, frozenset({S.POSTED}), None, frozenset({P.CREATOR}), label=N_("submit the live post")),
    Rule(
        Action.RECORD_VERIFICATION,
        frozenset({S.POSTED}),
        None,
        frozenset({P.SYSTEM}),
        label=N_("record a verification result"),
    ),
    # Verified automatically, or by the brand by hand when the platform couldn't be checked (needs review).
    Rule(
        Action.MARK_VERIFIED,
        frozenset({S.POSTED}),
        S.VERIFIED,
        frozenset({P.SYSTEM, P.BRAND}),
        label=N_("mark the post verified"),
    ),
    # Approval starts the release; the brand, or PostPact when the review window passes.
    Rule(
        Action.APPROVE_POST,
        frozenset({S.VERIFIED}),
        None,
        frozenset({P.BRAND, P.SYSTEM}),
        label=N_("approve the post and release payment"),
    ),
    Rule(
        Action.MARK_RELEASED,
        frozenset({S.VERIFIED}),
        S.RELEASED,
        frozenset({P.SYSTEM}),
        label=N_("record the payment to the creator"),
    ),
    Rule(
        Action.MARK_POST_REMOVED,
        frozenset({S.RELEASED, S.COMPLETED}),
        None,
        frozenset({P.SYSTEM}),
        label=N_("record that the post was removed"),
    ),
    Rule(Action.COMPLETE, frozenset({S.RELEASED}), S.COMPLETED, frozenset({P.SYSTEM}), label=N_("complete the deal")),
    Rule(Action.GHOST, CREATOR_TO_POST, S.GHOSTED, frozenset({P.SYSTEM}), label=N_("mark the creator as ghosted")),
    Rule(
        Action.OPEN_DISPUTE,
        FUNDED_UNRESOLVED,
        S.DISPUTED,
        frozenset({P.BRAND, P.CREATOR, P.SYSTEM}),
        brand_roles=MONEY_ROLES,
        label=N_("open a dispute"),
    ),
    # Chargebacks may arrive after the money was released: PostPact opens a case then too.
    Rule(
        Action.OPEN_DISPUTE,
        frozenset({S.RELEASED, S.COMPLETED}),
        S.DISPUTED,
        frozenset({P.SYSTEM}),
        label=N_("open a chargeback case"),
    ),
    Rule(
        Action.RESOLVE_RELEASE,
        frozenset({S.DISPUTED}),
        S.RELEASED,
        frozenset({P.ADMIN, P.SYSTEM}),
        label=N_("resolve the dispute for the creator"),
    ),
    Rule(
        Action.RESOLVE_REFUND,
        frozenset({S.DISPUTED}),
        S.REFUNDED,
        frozenset({P.ADMIN, P.SYSTEM}),
        label=N_("resolve the dispute for the brand"),
    ),
    Rule(
        Action.RESOLVE_SPLIT,
        frozenset({S.DISPUTED}),
        S.SETTLED,
        frozenset({P.ADMIN, P.SYSTEM}),
        label=N_("split the money"),
    ),
    Rule(
        Action.EXTEND_DEADLINE,
        frozenset(S) - TERMINAL - {S.DISPUTED},
        None,
        frozenset({P.BRAND, P.CREATOR, P.SYSTEM}),
        label=N_("move a deadline"),
    ),
    Rule(
        Action.NOTE_BRAND_NO_SHOW,
        frozenset({S.FUNDED}),
        None,
        frozenset({P.SYSTEM}),
        when=_needs_product,
        label=N_("note that the product didn't ship on time"),
    ),
    Rule(
        Action.RECORD_DECISION,
        frozenset(S) - {S.DISPUTED},
        None,
        frozenset({P.ADMIN, P.SYSTEM}),
        label=N_("record a case decision"),
    ),
    Rule(Action.ADMIN_NOTE, frozenset(S), None, frozenset({P.ADMIN, P.SYSTEM}), label=N_("add an admin note")),
]

TRANSITIONS: dict[tuple[CollabState, Action], Rule] = {}
for _rule in RULES:
    for _source in _rule.sources:
        if (_source, _rule.action) in TRANSITIONS:
            raise RuntimeError(f"two rules for {_rule.action} from {_source}")
        TRANSITIONS[(_source, _rule.action)] = _rule


#: Who may ever take each action, in some state (a party outside it gets 403 whatever the deal's state).
PARTIES_FOR: dict[Action, frozenset[Party]] = {}
for _rule in RULES:
    PARTIES_FOR[_rule.action] = PARTIES_FOR.get(_rule.action, frozenset()) | _rule.parties


def _who(parties: frozenset[Party]) -> str:
    named = " or ".join(f"the {p.value}" for p in sorted(parties - {Party.SYSTEM}, key=str))
    return named or "PostPact"


def allowed_actions(state: CollabState, party: Party) -> list[Action]:
    """What this party may attempt now (conditions are checked on the attempt)."""
    return [action for (source, action), rule in TRANSITIONS.items() if source == state and party in rule.parties]


@dataclass(frozen=True)
class AvailableAction:
    """A step the viewer's party and role may take from the current state; ``blocked`` says why not yet."""

    action: Action
    rule: Rule
    blocked: str | None = None


def actions_for(collab: Collaboration, actor: TransitionActor, now: datetime) -> list[AvailableAction]:
    """The steps this actor may take on this deal now, read from the table (pages and the API show these)."""
    state = CollabState(collab.status)
    found: list[AvailableAction] = []
    for (source, action), rule in TRANSITIONS.items():
        if source != state or actor.party not in rule.parties:
            continue
        if actor.party is Party.BRAND and actor.brand_role not in rule.brand_roles:
            continue
        found.append(AvailableAction(action, rule, rule.when(collab, now) if rule.when else None))
    return found


# --- checking a move (pure: the locking, recording and listeners live in transition.py) -----------------------


class IllegalTransition(Conflict):
    """409: the move does not exist from this state, or belongs to the other party, or its condition fails."""

    slug = "illegal-transition"
    title = "That step isn't possible now"


class RoleNotAllowed(Forbidden):
    """403: the right brand, but a team role the step doesn't allow (finance members can't approve drafts)."""

    slug = "role-not-allowed"
    title = "Your role can't do this"


@dataclass(frozen=True)
class TransitionActor:
    party: Party
    user_id: UUID | None = None
    brand_id: UUID | None = None
    brand_role: BrandRole | None = None
    creator_id: UUID | None = None

    @classmethod
    def of(cls, actor: Actor) -> TransitionActor:
        if actor.is_admin:
            return cls(Party.ADMIN, actor.user_id)
        if actor.is_brand:
            return cls(Party.BRAND, actor.user_id, brand_id=actor.brand_id, brand_role=actor.brand_role)
        if actor.is_creator:
            return cls(Party.CREATOR, actor.user_id, creator_id=actor.creator_id)
        raise NotFound(gettext('No such collaboration.'))


SYSTEM = TransitionActor(Party.SYSTEM)


def check_party(collab: Collaboration, actor: TransitionActor) -> None:
    """Outsiders get 404 (not even the existence of someone else's deal is revealed)."""
    if actor.party is Party.BRAND and actor.brand_id != collab.brand_id:
        raise NotFound(gettext('No such collaboration.'))
    if actor.party is Party.CREATOR and actor.creator_id != collab.creator_id:
        raise NotFound(gettext('No such collaboration.'))


def check_transition(collab: Collaboration, action: Action, actor: TransitionActor, now: datetime) -> Rule:
    """The rule that allows this move now, or the reason it isn't allowed: NotFound (outsider, 404),
    IllegalTransition (wrong state, wrong party or a failed condition, 409), RoleNotAllowed (wrong team role, 403).

    Services call this on the locked row before validating their input, so an impossible step is refused as such
    and nothing is written; ``transition()`` checks again.
    """
    check_party(collab, actor)
    # Not allowed is 403 whatever the state; not possible now (the state, a condition) is 409.
    parties = PARTIES_FOR[action]
    if actor.party not in parties:
        raise RoleNotAllowed(f"Only {_who(parties)} can {_label(action)}.")
    state = CollabState(collab.status)
    rule = TRANSITIONS.get((state, action))
    if rule is None:
        raise IllegalTransition(
            f"You can't {_label(action)} while the collaboration is {state.value.replace('_', ' ')}."
        )
    if actor.party not in rule.parties:
        raise RoleNotAllowed(f"Only {_who(rule.parties)} can {rule.label or _label(action)}.")
    if actor.party is Party.BRAND and actor.brand_role not in rule.brand_roles:
        role = actor.brand_role.value if actor.brand_role else "none"
        raise RoleNotAllowed(f"Your role ({role}) can't {rule.label or _label(action)}.")
    if rule.when is not None:
        reason = rule.when(collab, now)
        if reason:
            raise IllegalTransition(reason)
    return rule


#: The milestone timestamp each target state (or action) stamps; deadlines are computed from these.
_MILESTONES: dict[CollabState, str] = {
    CollabState.SIGNED: "signed_at",
    CollabState.FUNDED: "funded_at",
    CollabState.SHIPPED: "shipped_at",
    CollabState.RECEIVED: "received_at",
    CollabState.DRAFT_SUBMITTED: "draft_submitted_at",
    CollabState.DRAFT_APPROVED: "draft_approved_at",
    CollabState.POSTED: "posted_at",
    CollabState.VERIFIED: "verified_at",
    CollabState.RELEASED: "released_at",
}


def record_milestones(
    collab: Collaboration, action: Action, source: CollabState, target: CollabState, now: datetime
) -> None:
    if target != source and target in _MILESTONES:
        setattr(collab, _MILESTONES[target], now)
    if action is Action.SUBMIT_POST:
        collab.posted_at = now  # a resubmitted post restarts verification from now
        collab.post_review_requested_at = None  # ... and a check of the old post no longer waits on the brand
    elif action is Action.REQUEST_CHANGES:
        collab.revision_rounds_used += 1
    elif action is Action.APPROVE_POST:
        collab.approved_at = now
    elif action is Action.MARK_POST_REMOVED:
        collab.post_removed_at = now
    if target is CollabState.DISPUTED:
        collab.deadlines_paused_at = now
    elif source is CollabState.DISPUTED:
        collab.deadlines_paused_at = None
    if target in TERMINAL and source not in TERMINAL:
        collab.ended_at = now


def _label(action: Action) -> str:
    for rule in RULES:
        if rule.action is action and rule.label:
            return rule.label
    return action.value.replace("_", " ")
