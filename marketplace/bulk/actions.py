"""The bulk actions: what each one checks up front, and how it does one item through the existing deal services."""

from __future__ import annotations

import string
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from types import SimpleNamespace
from typing import TYPE_CHECKING, Any, cast
from uuid import UUID

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from escrow.money import format_money
from marketplace.accounts.auth import Actor
from marketplace.applications.models import ApplicationStatus
from marketplace.applications.services import ApplicationService
from marketplace.brands.models import Brand, BrandRole
from marketplace.bulk.batch import ApplyBatch, approve_drafts, approve_posts, cancel_deals, extend_deals, ship_deals
from marketplace.clock import Clock
from marketplace.collaborations.models import Collaboration
from marketplace.collaborations.services import DealService
from marketplace.creators.models import Creator
from marketplace.csvfiles import read_csv
from marketplace.deadlines.extensions import MAX_EXTENSION, request_extension, stage_to_extend
from marketplace.errors import Conflict, InvalidInput, NotFound
from marketplace.gigs.models import Gig, GigStatus
from marketplace.gigs.services import GigService
from marketplace.i18n import N_, current_locale, gettext, use_locale
from marketplace.messaging.services import Subject, post_to_subject
from marketplace.payments import services as payments
from marketplace.roster.csvio import MAX_IMPORT_ROWS, RosterImporter, auto_mapping, load_upload
from marketplace.roster.services import RosterService
from marketplace.security import Signer
from marketplace.settings import Settings

if TYPE_CHECKING:
    from marketplace.runtime import Runtime

#: Most items one request may act on; a bigger selection is refused with a 422 that says so.
MAX_ITEMS = 5_000
#: Funding is one checkout for every deal of the job, so it keeps the payments page's own limit.
MAX_FUND = payments.MAX_BULK
MESSAGE_MAX = 2_000
REASON_MAX = 1_000
#: Merge fields a message template may use; anything else in braces is refused up front.
MERGE_FIELDS = {
    "first_name": "the creator's first name",
    "name": "the creator's name",
    "gig": "the gig's title",
    "fee": "the fee, with its currency",
    "brand": "your brand's name",
}
DEAL_ROLES = frozenset({BrandRole.OWNER, BrandRole.MANAGER})


class Target:
    DEAL = "deal"
    APPLICATION = "application"
    CREATOR = "creator"
    #: A stored roster upload (``RosterImport``): a large CSV imported in the background.
    ROSTER_IMPORT = "roster import"


@dataclass
class ItemWork:
    """Everything one item's transaction needs."""

    session: AsyncSession
    settings: Settings
    clock: Clock
    actor: Actor
    parameters: dict[str, Any]
    target_id: UUID
    data: dict[str, Any]

    @property
    def now(self) -> datetime:
        return self.clock.now()

    def deals(self) -> DealService:
        return DealService(self.session, settings=self.settings, clock=self.clock)

    def runtime(self) -> Runtime:
        # GigService, ApplicationService and the roster read only the clock, the settings and the signer (claim
        # links) from the runtime; a job has those but no web runtime (no rate limiter, no password hasher), so it
        # lends them this stand-in.
        return cast("Runtime", SimpleNamespace(settings=self.settings, clock=self.clock,
                                               signer=Signer(self.settings.app.secret_key)))


Parse = Callable[[Mapping[str, Any]], dict[str, Any]]
Apply = Callable[[ItemWork], Awaitable[None]]


@dataclass(frozen=True)
class BulkAction:
    name: str
    label: str
    #: What the ids are: deals, applications or creators.
    target: str
    parse: Parse
    apply: Apply
    max_items: int = MAX_ITEMS
    roles: frozenset[BrandRole] = DEAL_ROLES
    #: Deal states a filter picks by default when the caller names none.
    default_states: tuple[str, ...] = ()
    #: The same step for a batch of deals in one transaction (``marketplace.bulk.batch``), when it has one.
    apply_batch: ApplyBatch | None = None
    #: Batches run at once on PostgreSQL (each its own transaction over other deals), so one batch's Python work
    #: overlaps another's wait for the database. Only for steps whose batches share no row they lock (approving
    #: drafts touches each deal's own rows; a release or refund locks ledger accounts deals share). 1 for every
    #: action so far: on the shared 2-core bench machine (load 7-16) 3 at once was no faster than 1 for approving
    #: 1,500 drafts (``bench/bulk_actions.py --batches-at-once N``); measure on a quiet machine before raising it.
    batches_at_once: int = 1


# --- message templates --------------------------------------------------------------------------------------------


def template_fields(template: str) -> list[str]:
    """The merge fields a template uses; raises ValueError for braces that don't pair up."""
    fields = []
    for _literal, name, spec, conversion in string.Formatter().parse(template):
        if name is None:
            continue
        if spec or conversion:
            fields.append(f"{name}!{conversion}:{spec}")
        else:
            fields.append(name)
    return fields


def check_template(errors: dict[str, str], key: str, template: str, *, required: bool, label: str) -> str:
    text = (template or "").strip()
    if required and not text:
        errors[key] = gettext('Write the %(label)s.', label=label.lower())
        return text
    if len(text) > MESSAGE_MAX:
        errors[key] = gettext(
            "Keep the %(label)s under %(message_max)s characters.",
            label=label.lower(),
            message_max=format(MESSAGE_MAX, ","),
        )
        return text
    try:
        unknown = [f for f in template_fields(text) if f not in MERGE_FIELDS]
    except ValueError:
        errors[key] = gettext(
            "A brace is not closed: write merge fields like {first_name}, and {{ for a literal brace."
        )
        return text
    if unknown:
        known = ", ".join("{" + f + "}" for f in MERGE_FIELDS)
        errors[key] = gettext(
            "Unknown merge field {%(unknown)s}; you can use %(known)s.", unknown=unknown[0], known=known
        )
    return text


def fill_template(template: str, values: Mapping[str, str]) -> str:
    return template.format_map({name: values.get(name, "") for name in MERGE_FIELDS})


def first_name(name: str) -> str:
    return (name or "").strip().split(" ")[0] if name else ""


def _text(raw: Mapping[str, Any], key: str) -> str:
    value = raw.get(key)
    return value.strip() if isinstance(value, str) else ""


def _raise(errors: dict[str, str]) -> None:
    if errors:
        raise InvalidInput(errors)


# --- parameters ---------------------------------------------------------------------------------------------------


def parse_nothing(raw: Mapping[str, Any]) -> dict[str, Any]:
    return {}


def parse_accept(raw: Mapping[str, Any]) -> dict[str, Any]:
    """The offers' language, read in the request that starts the job (the brand's setting, else their browser's):
    the job runs later in no one's request, and each offer records it as a single accept does."""
    return {"terms_locale": current_locale()}


def parse_comment(raw: Mapping[str, Any]) -> dict[str, Any]:
    comment = _text(raw, "comment")
    if len(comment) > REASON_MAX:
        raise InvalidInput(
            {
                "comment": gettext(
                    "Keep the comment under %(reason_max)s characters.", reason_max=format(REASON_MAX, ",")
                )
            }
        )
    return {"comment": comment}


def parse_reason(raw: Mapping[str, Any], *, required: bool) -> dict[str, Any]:
    reason = _text(raw, "reason")
    errors: dict[str, str] = {}
    if required and not reason:
        errors["reason"] = gettext('Say why: the creators are told.')
    elif len(reason) > REASON_MAX:
        errors["reason"] = gettext(
            "Keep the reason under %(reason_max)s characters.", reason_max=format(REASON_MAX, ",")
        )
    _raise(errors)
    return {"reason": reason}


def parse_invite(raw: Mapping[str, Any]) -> dict[str, Any]:
    errors: dict[str, str] = {}
    gig_id = _text(raw, "gig_id")
    try:
        UUID(gig_id)
    except ValueError:
        errors["gig_id"] = gettext('Choose the gig to invite them to.')
    message = check_template(errors, "message", _text(raw, "message"), required=False, label=N_('Message'))
    _raise(errors)
    return {"gig_id": gig_id, "message": message}


def parse_message(raw: Mapping[str, Any]) -> dict[str, Any]:
    errors: dict[str, str] = {}
    body = check_template(errors, "body", _text(raw, "body"), required=True, label=N_('Message'))
    _raise(errors)
    return {"body": body}


def parse_import(raw: Mapping[str, Any]) -> dict[str, Any]:
    return {"invite": str(raw.get("invite", "")).lower() in {"1", "true", "yes", "on"}}


def parse_extend(raw: Mapping[str, Any]) -> dict[str, Any]:
    errors: dict[str, str] = {}
    days_raw = raw.get("days")
    try:
        days = int(str(days_raw).strip())
    except ValueError:
        days = 0
    if not 1 <= days <= MAX_EXTENSION.days:
        errors["days"] = gettext('Give a whole number of days from 1 to %(days)s.', days=MAX_EXTENSION.days)
    stage = _text(raw, "stage")
    if stage and stage not in {"sign", "fund", "ship", "receipt", "draft", "review", "post"}:
        errors["stage"] = gettext('Choose a deadline: sign, fund, ship, receipt, draft, review or post.')
    reason = _text(raw, "reason")
    if len(reason) > REASON_MAX:
        errors["reason"] = gettext(
            "Keep the reason under %(reason_max)s characters.", reason_max=format(REASON_MAX, ",")
        )
    _raise(errors)
    return {"days": days, "stage": stage, "reason": reason}


# --- one item each ------------------------------------------------------------------------------------------------


async def _deal_values(session: AsyncSession, collab: Collaboration) -> dict[str, str]:
    terms = collab.terms or {}
    name = str(terms.get("creator_display_name", ""))
    return {"first_name": first_name(name), "name": name, "gig": str(terms.get("gig_title", "")),
            "fee": format_money(collab.fee_amount, collab.currency), "brand": str(terms.get("brand_name", ""))}


async def _own_deal(work: ItemWork) -> Collaboration:
    collab = await work.session.get(Collaboration, work.target_id)
    if collab is None or collab.brand_id != work.actor.brand_id:
        raise NotFound(gettext("This deal isn't one of yours."))
    return collab


async def do_invite(work: ItemWork) -> None:
    gig_id = UUID(work.parameters["gig_id"])
    gig = await work.session.get(Gig, gig_id)
    if gig is None or gig.brand_id != work.actor.brand_id:
        raise NotFound(gettext('The gig is no longer there.'))
    if GigStatus(gig.status) is not GigStatus.OPEN:
        raise Conflict(
            gettext("The gig is %(status)s; only open gigs take invitations.", status=GigStatus(gig.status).value)
        )
    creator = await work.session.get(Creator, work.target_id)
    if creator is None:
        raise NotFound(gettext('This creator is no longer on PostPact.'))
    brand_name = await work.session.scalar(sa.select(Brand.name).where(Brand.id == gig.brand_id)) or ""
    message = fill_template(work.parameters.get("message", ""), {
        "first_name": first_name(creator.display_name), "name": creator.display_name, "gig": gig.title,
        "fee": format_money(gig.base_fee_amount, gig.currency), "brand": brand_name,
    })
    # Already invited or already applied counts as done: the invitation exists once either way.
    await GigService(work.session, work.runtime()).invite_creators(work.actor, gig_id, [creator.id], message)


async def do_message(work: ItemWork) -> None:
    collab = await _own_deal(work)
    body = fill_template(work.parameters["body"], await _deal_values(work.session, collab))
    await post_to_subject(work.session, work.actor, Subject.of(collaboration_id=collab.id), body, now=work.now)


async def _decide(work: ItemWork, accept: bool) -> None:
    applications = ApplicationService(work.session, work.runtime())
    gig_id = await applications.gig_of_application(work.actor, work.target_id)
    if accept:
        await applications.accept(work.actor, gig_id, [work.target_id])
    else:
        await applications.decline(work.actor, gig_id, [work.target_id], work.parameters.get("reason") or None)


async def do_accept(work: ItemWork) -> None:
    with use_locale(work.parameters.get("terms_locale") or work.actor.locale, work.actor.timezone):
        await _decide(work, True)


async def do_decline(work: ItemWork) -> None:
    await _decide(work, False)


async def do_fund(work: ItemWork) -> None:
    # One funding (and idempotency key) per deal, as the payments page does; the job page then opens one checkout
    # for every deal it started.
    await payments.fund_collaborations(work.session, work.actor, [work.target_id], now=work.now,
                                       settings=work.settings)


async def do_ship(work: ItemWork) -> None:
    await work.deals().ship(work.target_id, work.actor, carrier=str(work.data.get("carrier", "")),
                            tracking_number=str(work.data.get("tracking_number", "")),
                            tracking_url=work.data.get("tracking_url") or None)


async def do_approve_draft(work: ItemWork) -> None:
    await work.deals().approve_draft(work.target_id, work.actor, comment=work.parameters.get("comment", ""))


async def do_approve_post(work: ItemWork) -> None:
    await work.deals().approve_post(work.target_id, work.actor, comment=work.parameters.get("comment", ""))


async def do_cancel(work: ItemWork) -> None:
    await work.deals().end_deal(work.target_id, work.actor, reason=work.parameters["reason"])


async def do_extend(work: ItemWork) -> None:
    """The brand offers more time; the creator's agreement moves the date (extensions are by agreement)."""
    collab = await _own_deal(work)
    stage = stage_to_extend(collab, work.parameters.get("stage") or "")
    current = collab.due(stage)
    assert current is not None
    await request_extension(
        work.session,
        collab.id,
        work.actor,
        stage=stage,
        proposed_due_at=current + timedelta(days=int(work.parameters["days"])),
        reason=work.parameters.get("reason", ""),
        now=work.now,
    )


async def do_import(work: ItemWork) -> None:
    """A stored roster upload, imported with the mapping and invitation choices saved on it when the job started.
    Importing the same file again changes nothing, and a claim link is sent once per person, so a retried item
    never duplicates anyone."""
    assert work.actor.brand_id is not None
    roster = RosterService(work.session, work.runtime())
    stored = await load_upload(roster, work.actor.brand_id, work.target_id)
    table = read_csv(stored.content, max_rows=MAX_IMPORT_ROWS)
    gig_id = UUID(str(stored.gig_id)) if stored.gig_id else None
    importer = RosterImporter(roster)
    mapping = dict(stored.mapping or {}) or auto_mapping(table.header, await roster.field_keys(work.actor.brand_id),
                                                         await importer.saved_mapping(work.actor.brand_id))
    report = await importer.run(work.actor.brand_id, table, mapping, dry_run=False,
                                invite=bool(work.parameters.get("invite")), gig_id=gig_id)
    stored.report = report.as_dict()
    stored.imported_at = work.now
    if report.rows and report.invalid == report.rows:
        # Nothing could be imported: the item fails with the reason (and, rolled back, writes nothing).
        first = report.errors[0] if report.errors else None
        if first is None:
            raise InvalidInput({"file": gettext("No row of the file could be imported.")})
        raise InvalidInput({"file": gettext("No row of the file could be imported. Row %(row)s, %(field)s: %(problem)s",
                                            row=first.row, field=first.field, problem=first.message)})


ACTIONS: dict[str, BulkAction] = {a.name: a for a in [
    BulkAction("invite", "Invite to a gig", Target.CREATOR, parse_invite, do_invite),
    BulkAction("message", "Send a message", Target.DEAL, parse_message, do_message),
    BulkAction("accept", "Accept applications", Target.APPLICATION, parse_accept, do_accept,
               default_states=(ApplicationStatus.PENDING.value,)),
    BulkAction("decline", "Decline applications", Target.APPLICATION,
               lambda raw: parse_reason(raw, required=False), do_decline,
               default_states=(ApplicationStatus.PENDING.value,)),
    BulkAction("fund", "Fund (one checkout)", Target.DEAL, parse_nothing, do_fund, max_items=MAX_FUND,
               roles=payments.FUNDING_ROLES, default_states=("signed",)),
    BulkAction("ship", "Record shipments", Target.DEAL, parse_nothing, do_ship, default_states=("funded",),
               apply_batch=ship_deals),
    BulkAction("approve_draft", "Approve drafts", Target.DEAL, parse_comment, do_approve_draft,
               default_states=("draft_submitted",), apply_batch=approve_drafts),
    BulkAction("approve_post", "Approve posts and release", Target.DEAL, parse_comment, do_approve_post,
               default_states=("verified",), apply_batch=approve_posts),
    BulkAction("extend", "Extend deadlines", Target.DEAL, parse_extend, do_extend, apply_batch=extend_deals),
    BulkAction("cancel", "Cancel with a reason", Target.DEAL, lambda raw: parse_reason(raw, required=True),
               do_cancel, apply_batch=cancel_deals),
    BulkAction("import", "Import creators from a CSV", Target.ROSTER_IMPORT, parse_import, do_import, max_items=20),
]}
