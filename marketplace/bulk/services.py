"""Starting bulk jobs (scoped, checked, limited), running them item by item or a batch at a time (actions with a
set-based step), showing their progress, retrying.

Long because a job's life is one story told in one place: how a selection becomes items, how items are run
(alone or as a batch, with the same outcome and the same per-item failures) and how a crashed run is picked up.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import parse_qsl
from uuid import UUID

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession
from uuid_utils.compat import uuid7

from marketplace.accounts.auth import Actor, load_actor
from marketplace.applications.models import Application, ApplicationStatus
from marketplace.bulk.actions import ACTIONS, BulkAction, ItemWork, Target
from marketplace.bulk.batch import BatchWork
from marketplace.bulk.models import BulkJob, BulkJobItem, ItemState, JobState
from marketplace.clock import Clock
from marketplace.collaborations.models import Collaboration
from marketplace.collaborations.states import TERMINAL, CollabState
from marketplace.collaborations.terms import parsing_once
from marketplace.collaborations.transition import among
from marketplace.creators.models import Creator
from marketplace.db import insert_rows, session_scope
from marketplace.errors import Forbidden, InvalidInput, NotFound, PostPactError
from marketplace.gigs.models import Gig, GigStatus
from marketplace.i18n import gettext
from marketplace.jobs import JobContext, enqueue, job
from marketplace.roster.models import RosterEntry, RosterView
from marketplace.roster.query import RosterFilter, resolve_tag, roster_query

log = logging.getLogger(__name__)

RUN_JOB = "bulk.run_job"
#: Items read per batch; each item still commits on its own.
BATCH = 100
#: Items an action with a set-based step (``BulkAction.apply_batch``) moves in one transaction.
SET_BATCH = 500
#: Items in flight at once on PostgreSQL (each holds a connection while it runs).
CONCURRENCY = 4
#: A job with nothing finished for this long lost its worker (a deploy, a crash): it is sent again.
STALLED_AFTER = timedelta(minutes=10)
RESUME_JOB = "bulk.resume_stalled"
#: Items listed on the progress page (failures first); the API returns every error.
PAGE_ITEMS = 200


def reason_of(exc: Exception) -> str:
    """Why an item failed, in the words a person reads on the progress page."""
    if isinstance(exc, InvalidInput):
        return " ".join(exc.errors.values()) or exc.message
    if isinstance(exc, PostPactError):
        return exc.message
    return "Something went wrong on our side; nothing was changed for this item. Retry it."


def action_of(name: str) -> BulkAction:
    spec = ACTIONS.get(name)
    if spec is None:
        raise NotFound(
            gettext(
                "There is no bulk action called %(name)s; use one of %(actions)s.",
                name=repr(name),
                actions=", ".join(ACTIONS),
            )
        )
    return spec


def require_role(actor: Actor, spec: BulkAction) -> None:
    if not actor.is_brand:
        raise Forbidden(gettext('Bulk actions are for brand teams.'))
    if actor.brand_role not in spec.roles:
        raise Forbidden(gettext("Your role can't %(label)s.", label=spec.label.lower()))
    if actor.suspended:
        raise Forbidden(gettext('Your account is suspended; contact support to appeal.'))


@dataclass
class Selection:
    """What to act on: explicit ids, a filter (a gig and/or states) resolved on the server, or — for invitations —
    a roster selection (the roster's filter, its ticked entries, or a saved view)."""

    ids: list[UUID] | None = None
    gig_id: UUID | None = None
    states: list[str] = field(default_factory=list)
    roster: RosterFilter | None = None


@dataclass
class NewItem:
    target_id: UUID | None
    label: str
    data: dict[str, Any] = field(default_factory=dict)
    #: A CSV row that named nothing we know fails before the job starts, with this reason.
    error: str | None = None


def _too_many(spec: BulkAction, count: int | str) -> InvalidInput:
    noun = {Target.DEAL: "deals", Target.APPLICATION: "applications", Target.CREATOR: "creators",
            Target.ROSTER_IMPORT: "files"}[spec.target]
    return InvalidInput(
        {
            "ids": gettext(
                "%(label)s takes at most %(max_items)s %(noun)s per request; this selection has %(count)s. Narrow "
                "the filter or split the list.",
                label=spec.label,
                max_items=format(spec.max_items, ","),
                noun=noun,
                count=count,
            )
        }
    )


#: The deals list's groups, so "all matching" on that page means what the page shows.
DEAL_GROUPS = ("active", "ended", "waiting")


def _state_condition(column: Any, states: list[str]) -> sa.ColumnElement[bool]:
    if column is not Collaboration:
        return column.status.in_(states)
    conditions: list[sa.ColumnElement[bool]] = []
    plain = [s for s in states if s not in DEAL_GROUPS]
    if plain:
        conditions.append(Collaboration.status.in_(plain))
    if "active" in states:
        conditions.append(Collaboration.status.not_in(list(TERMINAL)))
    if "ended" in states:
        conditions.append(Collaboration.status.in_(list(TERMINAL)))
    if "waiting" in states:
        conditions.append(Collaboration.next_due_party == "brand")
    return sa.or_(*conditions)


async def _check_states(spec: BulkAction, states: Sequence[str]) -> list[str]:
    known = ({s.value for s in ApplicationStatus} if spec.target == Target.APPLICATION
             else {s.value for s in CollabState} | set(DEAL_GROUPS))
    unknown = [s for s in states if s not in known]
    if unknown:
        raise InvalidInput(
            {
                "status": gettext(
                    "Unknown status %(unknown)s; use one of %(known)s.",
                    unknown=repr(unknown[0]),
                    known=", ".join(sorted(known)),
                )
            }
        )
    return list(states) or list(spec.default_states)


class BulkService:
    def __init__(self, session: AsyncSession, clock: Clock) -> None:
        self.session = session
        self.clock = clock

    # -- resolving a selection into labelled items, scoped to the actor's brand

    async def _labelled(self, spec: BulkAction, actor: Actor, selection: Selection) -> list[tuple[UUID, str]]:
        limit = spec.max_items + 1
        if spec.target == Target.CREATOR:
            if selection.ids is None:
                raise InvalidInput({"ids": gettext('Tick the creators to invite.')})
            rows = (await self.session.execute(
                sa.select(Creator.id, Creator.display_name).where(Creator.id.in_(selection.ids))
            )).all()
            return [(r[0], r[1]) for r in rows]
        if spec.target == Target.APPLICATION:
            query = (sa.select(Application.id, Creator.display_name, Gig.title)
                     .join(Creator, Creator.id == Application.creator_id).join(Gig, Gig.id == Application.gig_id)
                     .where(Application.brand_id == actor.brand_id))
            column: Any = Application
        else:
            query = (sa.select(Collaboration.id, Collaboration.terms["creator_display_name"].as_string(),
                               Collaboration.terms["gig_title"].as_string())
                     .where(Collaboration.brand_id == actor.brand_id))
            column = Collaboration
        if selection.ids is not None:
            query = query.where(among(self.session, column.id, selection.ids))
        else:
            states = await _check_states(spec, selection.states)
            if states:
                query = query.where(_state_condition(column, states))
            if selection.gig_id is not None:
                query = query.where(column.gig_id == selection.gig_id)
        rows = (await self.session.execute(query.order_by(column.id).limit(limit))).all()
        return [(r[0], f"{r[1] or 'Creator'} · {r[2] or 'Gig'}") for r in rows]

    async def preview(self, actor: Actor, action: str, selection: Selection) -> list[NewItem]:
        """What a selection resolves to for an action, with ``start``'s scope and limit (roles are checked when the
        action starts: this only reads the brand's own rows)."""
        if not actor.is_brand:
            raise Forbidden(gettext('Bulk actions are for brand teams.'))
        return await self._items(action_of(action), actor, selection)

    async def roster_filter(self, actor: Actor, view_id: UUID) -> RosterFilter:
        """A saved roster view of the actor's brand, as a filter (another brand's view is "not found")."""
        query = await self.session.scalar(
            sa.select(RosterView.query).where(RosterView.id == view_id, RosterView.brand_id == actor.brand_id))
        if query is None:
            raise NotFound(gettext('No such saved view.'))
        return RosterFilter.from_params(dict(parse_qsl(query)))

    async def _roster_items(self, spec: BulkAction, actor: Actor, roster: RosterFilter) -> list[NewItem]:
        """Invitations go to the roster's people on PostPact; the others are listed as not invitable yet (the roster
        import emails them a claim link instead)."""
        assert actor.brand_id is not None
        if spec.target != Target.CREATOR:
            raise InvalidInput(
                {"ids": gettext("%(label)s acts on deals or applications, not on roster entries.", label=spec.label)}
            )
        roster = await resolve_tag(self.session, actor.brand_id, roster)
        rows = (await self.session.execute(
            roster_query(self.session, actor.brand_id, roster)
            .with_only_columns(RosterEntry.id, RosterEntry.creator_id, RosterEntry.name)
            .order_by(RosterEntry.name, RosterEntry.id).limit(spec.max_items + 1)
        )).all()
        if len(rows) > spec.max_items:
            raise _too_many(spec, f"more than {spec.max_items:,}")
        if roster.ids and len(rows) != len(set(roster.ids)):
            raise NotFound(gettext("Some of these roster entries are not yours or don't exist."))
        if not rows:
            raise InvalidInput({"ids": gettext('Nothing in your roster matches this selection.')})
        unique: dict[UUID, NewItem] = {}
        missing: list[NewItem] = []
        for _entry, creator_id, name in rows:
            if creator_id is None:
                missing.append(NewItem(None, (name or "Someone")[:200], error=f"{name or 'This person'} isn't on "
                                       "PostPact yet; the roster import can email them a sign-up link."))
            else:
                unique.setdefault(creator_id, NewItem(creator_id, (name or "Creator")[:200]))
        return [*unique.values(), *missing]

    async def _items(self, spec: BulkAction, actor: Actor, selection: Selection) -> list[NewItem]:
        if selection.roster is not None:
            return await self._roster_items(spec, actor, selection.roster)
        if selection.ids is not None:
            unique = list(dict.fromkeys(selection.ids))
            if not unique:
                raise InvalidInput({"ids": gettext('Choose at least one item.')})
            if len(unique) > spec.max_items:
                raise _too_many(spec, f"{len(unique):,}")
            selection = Selection(ids=unique)
        found = await self._labelled(spec, actor, selection)
        if len(found) > spec.max_items:
            raise _too_many(spec, f"more than {spec.max_items:,}")
        if selection.ids is not None and len(found) != len(selection.ids):
            # Someone else's (or no) deal among the ids: refuse the whole request without saying which exists.
            raise NotFound(gettext("Some of these %(target)ss are not yours or don't exist.", target=spec.target))
        if not found:
            raise InvalidInput({"ids": gettext('Nothing matches this selection.')})
        order = {target: i for i, target in enumerate(selection.ids or [])}
        found.sort(key=lambda row: order.get(row[0], 0))
        return [NewItem(target, label[:200]) for target, label in found]

    async def _check_gig(self, actor: Actor, parameters: Mapping[str, Any]) -> None:
        gig = await self.session.get(Gig, UUID(str(parameters["gig_id"])))
        if gig is None or gig.brand_id != actor.brand_id:
            raise InvalidInput({"gig_id": gettext('Choose one of your open gigs.')})
        if GigStatus(gig.status) is not GigStatus.OPEN:
            raise InvalidInput(
                {
                    "gig_id": gettext(
                        "“%(title)s” is %(status)s; invite creators to an open gig (publish it first).",
                        title=gig.title,
                        status=GigStatus(gig.status).value,
                    )
                }
            )

    # -- starting, reading, retrying

    async def start(self, actor: Actor, action: str, raw_parameters: Mapping[str, Any], selection: Selection,
                    *, items: list[NewItem] | None = None) -> BulkJob:
        """Check everything, write the job and its items, queue it: one transaction, nothing half-written."""
        spec = action_of(action)
        require_role(actor, spec)
        parameters = spec.parse(raw_parameters)
        if spec.name == "invite":
            await self._check_gig(actor, parameters)
        if items is None:
            items = await self._items(spec, actor, selection)
        elif len(items) > spec.max_items:
            raise _too_many(spec, f"{len(items):,}")
        assert actor.brand_id is not None
        now = self.clock.now()
        job_row = BulkJob(brand_id=actor.brand_id, created_by_id=actor.user_id, action=spec.name, created_at=now,
                          parameters=parameters, state=JobState.QUEUED, total=len(items), done=0,
                          failed=sum(1 for i in items if i.error))
        self.session.add(job_row)
        await self.session.flush()
        stamped = datetime.now(UTC)  # as the model's audit columns' default would
        await insert_rows(self.session, BulkJobItem.__table__, [
            {"id": uuid7(), "created_at": stamped, "updated_at": stamped, "job_id": job_row.id, "position": n,
             "target_id": item.target_id, "label": item.label,
             "data": item.data, "state": ItemState.FAILED if item.error else ItemState.PENDING,
             "error": item.error, "attempts": 0, "finished_at": now if item.error else None}
            for n, item in enumerate(items)
        ])
        enqueue(self.session, RUN_JOB, str(job_row.id))
        return job_row

    async def get(self, actor: Actor, job_id: UUID) -> BulkJob:
        """The job if it is the actor's brand's; anyone else gets 404, never a hint it exists."""
        row = await self.session.scalar(
            sa.select(BulkJob).where(BulkJob.id == job_id, BulkJob.brand_id == actor.brand_id)
        )
        if row is None or not actor.is_brand:
            raise NotFound(gettext('No such job.'))
        return row

    async def failures(self, job_row: BulkJob, limit: int | None = PAGE_ITEMS) -> list[BulkJobItem]:
        query = (sa.select(BulkJobItem).where(BulkJobItem.job_id == job_row.id, BulkJobItem.state == ItemState.FAILED)
                 .order_by(BulkJobItem.position))
        return list(await self.session.scalars(query.limit(limit) if limit else query))

    async def done_targets(self, job_row: BulkJob) -> list[UUID]:
        return [t for t in await self.session.scalars(
            sa.select(BulkJobItem.target_id).where(BulkJobItem.job_id == job_row.id,
                                                   BulkJobItem.state == ItemState.DONE)
            .order_by(BulkJobItem.position)) if t is not None]

    async def recent(self, actor: Actor, limit: int = 20) -> list[BulkJob]:
        return list(await self.session.scalars(
            sa.select(BulkJob).where(BulkJob.brand_id == actor.brand_id)
            .order_by(BulkJob.created_at.desc()).limit(limit)
        ))

    async def retry_failed(self, actor: Actor, job_id: UUID) -> BulkJob:
        """Failed items go back to pending and the job runs again; done items are never touched."""
        row = await self.session.scalar(
            sa.select(BulkJob).where(BulkJob.id == job_id, BulkJob.brand_id == actor.brand_id).with_for_update()
        )
        if row is None or not actor.is_brand:
            raise NotFound(gettext('No such job.'))
        require_role(actor, action_of(row.action))
        retried = (await self.session.execute(
            sa.update(BulkJobItem)
            .where(BulkJobItem.job_id == row.id, BulkJobItem.state == ItemState.FAILED,
                   BulkJobItem.target_id.is_not(None))
            .values(state=ItemState.PENDING, error=None, finished_at=None)
        )).rowcount
        if retried:
            row.state = JobState.QUEUED
            row.finished_at = None
            await _recount(self.session, row)
            enqueue(self.session, RUN_JOB, str(row.id))
        return row


async def _recount(session: AsyncSession, row: BulkJob) -> int:
    """Counters from the items themselves (exact after any crash); returns how many are still pending."""
    counts = dict((await session.execute(
        sa.select(BulkJobItem.state, sa.func.count()).where(BulkJobItem.job_id == row.id).group_by(BulkJobItem.state)
    )).all())
    row.done = int(counts.get(ItemState.DONE, 0))
    row.failed = int(counts.get(ItemState.FAILED, 0))
    return int(counts.get(ItemState.PENDING, 0))


# --- running ------------------------------------------------------------------------------------------------------


async def _job_actor(session: AsyncSession, row: BulkJob, spec: BulkAction) -> tuple[Actor | None, str]:
    """The person who started the job, as they are now: removed from the team or suspended, nothing more is done."""
    loaded = await load_actor(session, row.created_by_id) if row.created_by_id else None
    actor = loaded[0] if loaded else None
    if actor is None or actor.brand_id != row.brand_id:
        return None, "The person who started this job is no longer on the team; start it again yourself."
    try:
        require_role(actor, spec)
    except Forbidden as exc:
        return None, exc.message
    return actor, ""


async def _finish_item(session: AsyncSession, item: BulkJobItem, state: ItemState, error: str | None,
                       clock: Clock) -> None:
    item.state = state
    item.error = error
    item.attempts += 1
    item.finished_at = clock.now()
    column = BulkJob.done if state is ItemState.DONE else BulkJob.failed
    await session.execute(sa.update(BulkJob).where(BulkJob.id == item.job_id).values({column: column + 1}))


async def _lock_pending(session: AsyncSession, item_id: UUID) -> BulkJobItem | None:
    item = await session.scalar(
        sa.select(BulkJobItem).where(BulkJobItem.id == item_id).with_for_update()
        .execution_options(populate_existing=True)
    )
    return item if item is not None and item.state is ItemState.PENDING else None


async def process_item(ctx: JobContext, spec: BulkAction, actor: Actor | None, refusal: str,
                       parameters: dict[str, Any], item_id: UUID) -> None:
    """One item in one transaction: its work and its ``done`` commit together, or neither does. A crash here
    leaves it pending for the next run; an error marks it failed with the reason, in a transaction of its own."""
    try:
        async with session_scope(ctx.session_maker) as session:
            item = await _lock_pending(session, item_id)
            if item is None:
                return  # done (or failed) by an earlier or concurrent run
            if actor is None or item.target_id is None:
                raise Forbidden(refusal or "This row names nothing to act on.")
            work = ItemWork(session, ctx.settings, ctx.clock, actor, parameters, item.target_id, dict(item.data))
            await spec.apply(work)
            await _finish_item(session, item, ItemState.DONE, None, ctx.clock)
    except Exception as exc:
        if not isinstance(exc, PostPactError):
            log.exception("bulk item %s (%s) failed", item_id, spec.name)
        async with session_scope(ctx.session_maker) as session:
            item = await _lock_pending(session, item_id)
            if item is not None:
                await _finish_item(session, item, ItemState.FAILED, reason_of(exc)[:2000], ctx.clock)


async def process_batch(ctx: JobContext, spec: BulkAction, actor: Actor | None, parameters: dict[str, Any],
                        item_ids: list[UUID]) -> bool:
    """Items of a set-based action in one transaction: the pending ones are locked, the batch step runs, and every
    item is marked done or failed (with the reason the deal was refused) in the same commit. Returns False when the
    batch could not run as one (another error than a deal's refusal: nothing was written); the caller then does its
    items one by one, so the failing one is reported and the others proceed."""
    assert spec.apply_batch is not None
    if actor is None:
        return False
    try:
        async with session_scope(ctx.session_maker) as session:
            # The columns the batch reads, as rows (not an ORM object per item: nothing is set on them).
            items = list((await session.execute(
                sa.select(BulkJobItem.id, BulkJobItem.job_id, BulkJobItem.target_id, BulkJobItem.data)
                .where(among(session, BulkJobItem.id, item_ids), BulkJobItem.state == ItemState.PENDING)
                .order_by(BulkJobItem.position).with_for_update()
            )).all())
            targets = [item.target_id for item in items]
            if not items:
                return True
            if None in targets or len(set(targets)) != len(targets):
                return False  # a row naming nothing, or one deal twice: one by one says which
            work = BatchWork(session, ctx.settings, ctx.clock, actor, parameters,
                             [(item.target_id, dict(item.data)) for item in items if item.target_id is not None])
            with parsing_once():  # each deal's terms parsed once for the batch, whichever steps read them
                refused = await spec.apply_batch(work)
            await _finish_items(session, items, {target: reason_of(exc)[:2000] for target, exc in refused.items()},
                                ctx.clock)
        return True
    except Exception:
        log.warning("bulk batch of %s items (%s) failed as a whole; doing them one by one", len(item_ids),
                    spec.name, exc_info=True)
        return False


async def _finish_items(session: AsyncSession, items: Sequence[sa.Row[Any]], failures: Mapping[UUID | None, str],
                        clock: Clock) -> None:
    """Mark a batch's items done, or failed with their reason: one UPDATE for the done ones, one per distinct
    reason, one for the job's counters."""
    now = clock.now()
    done = [item.id for item in items if item.target_id not in failures]
    by_reason: dict[str, list[UUID]] = {}
    for item in items:
        if item.target_id in failures:
            by_reason.setdefault(failures[item.target_id], []).append(item.id)
    groups: list[tuple[ItemState, str | None, list[UUID]]] = [(ItemState.DONE, None, done)]
    groups += [(ItemState.FAILED, reason, ids) for reason, ids in by_reason.items()]
    for state, error, ids in groups:
        if ids:
            await session.execute(
                sa.update(BulkJobItem).where(among(session, BulkJobItem.id, ids))
                .values(state=state, error=error, attempts=BulkJobItem.attempts + 1, finished_at=now)
                .execution_options(synchronize_session=False))
    failed = len(items) - len(done)
    await session.execute(sa.update(BulkJob).where(BulkJob.id == items[0].job_id)
                          .values(done=BulkJob.done + len(done), failed=BulkJob.failed + failed))


async def _run_batches(ctx: JobContext, spec: BulkAction, actor: Actor | None, parameters: dict[str, Any],
                       items: Sequence[sa.Row[Any]]) -> list[sa.Row[Any]]:
    """The items as set-based batches of ``SET_BATCH``, up to ``spec.batches_at_once`` at a time (each its own
    transaction); returns the items of the batches that could not run as one, for the caller to do one by one."""
    chunks = [items[start:start + SET_BATCH] for start in range(0, len(items), SET_BATCH)]
    results = await asyncio.gather(
        *(process_batch(ctx, spec, actor, parameters, [item_id for item_id, _ in chunk]) for chunk in chunks),
        return_exceptions=True)
    # A batch's errors come back as False (its items are then done one by one); what is raised is a crash (or a
    # cancellation): stop like a dead worker, once every batch in flight has ended.
    for result in results:
        if isinstance(result, BaseException):
            raise result
    return [item for chunk, ran in zip(chunks, results, strict=True) if not ran for item in chunk]


@job(RUN_JOB, max_retries=3)
async def run_job(ctx: JobContext, job_id: str) -> None:
    """Work through a job's pending items in batches. Safe to run twice, or concurrently: each item is locked
    and re-checked before its work, so it is done once."""
    jid = UUID(job_id)
    async with session_scope(ctx.session_maker) as session:
        row = await session.scalar(sa.select(BulkJob).where(BulkJob.id == jid).with_for_update())
        if row is None or row.state is JobState.FINISHED:
            return
        row.state = JobState.RUNNING
        row.started_at = row.started_at or ctx.clock.now()
        spec = action_of(row.action)
        parameters = dict(row.parameters or {})
        actor, refusal = await _job_actor(session, row, spec)
    # Items of a job are independent deals, each locked in its own transaction, so PostgreSQL takes a few at once;
    # SQLite has one writer, so it goes one by one.
    width = 1 if ctx.settings.db.is_sqlite else CONCURRENCY
    after = -1
    while True:
        # Looked up per batch, so the action in force is the registry's (tests swap one in to simulate a crash).
        current = ACTIONS.get(spec.name, spec)
        at_once = 1 if ctx.settings.db.is_sqlite or current.apply_batch is None else current.batches_at_once
        async with ctx.session_maker() as session:
            batch = (await session.execute(
                sa.select(BulkJobItem.id, BulkJobItem.position)
                .where(BulkJobItem.job_id == jid, BulkJobItem.state == ItemState.PENDING,
                       BulkJobItem.position > after)
                .order_by(BulkJobItem.position).limit(SET_BATCH * at_once if current.apply_batch else BATCH)
            )).all()
        if not batch:
            break
        after_last = batch[-1][1]
        if current.apply_batch is not None:
            batch = await _run_batches(ctx, current, actor, parameters, batch)
            if not batch:
                after = after_last
                continue
        for start in range(0, len(batch), width):
            chunk = batch[start:start + width]
            # Looked up per chunk, so the action in force is the registry's (tests swap one in to simulate a crash).
            current = ACTIONS.get(spec.name, spec)
            results = await asyncio.gather(
                *(process_item(ctx, current, actor, refusal, parameters, item_id) for item_id, _ in chunk),
                return_exceptions=True)
            # Errors are recorded per item; what comes back is a crash (or cancellation): stop like a dead worker.
            for result in results:
                if isinstance(result, BaseException):
                    raise result
            after = chunk[-1][1]
        after = after_last
    async with session_scope(ctx.session_maker) as session:
        row = await session.scalar(sa.select(BulkJob).where(BulkJob.id == jid).with_for_update())
        assert row is not None
        if await _recount(session, row) == 0:
            row.state = JobState.FINISHED
            row.finished_at = ctx.clock.now()


@job(RESUME_JOB, every=300)
async def resume_stalled(ctx: JobContext) -> None:
    """Send again every unfinished job whose items stopped moving: runs are safe to repeat, so a job whose
    dispatch was lost or whose worker died finishes anyway."""
    cutoff = ctx.clock.now() - STALLED_AFTER
    last_item = (sa.select(sa.func.max(BulkJobItem.finished_at)).where(BulkJobItem.job_id == BulkJob.id)
                 .scalar_subquery())
    async with session_scope(ctx.session_maker) as session:
        stalled = list(await session.scalars(
            sa.select(BulkJob.id).where(BulkJob.state != JobState.FINISHED, BulkJob.created_at < cutoff,
                                        sa.func.coalesce(last_item, BulkJob.created_at) < cutoff)
            .order_by(BulkJob.created_at).limit(100)
        ))
        for job_id in stalled:
            log.warning("bulk job %s stalled; sending it again", job_id)
            enqueue(session, RUN_JOB, str(job_id))
