"""The deadline sweeper: reads the collaborations whose next look is due, in batches through one index, and acts.

Reminders are written and sent inside the sweep (one row per reminder under a unique constraint, so a second
sweep, or two at once, never send one twice). Consequences that move money or state (ghosting, review-window
release, keep-live checks, the brand no-show notice) are handed to one job per collaboration, which locks the row,
checks the rule again and acts once.
"""

from __future__ import annotations

import contextlib
import gc
import logging
from collections import Counter, defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from uuid import UUID

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from uuid_utils.compat import uuid7

from marketplace.accounts.models import User
from marketplace.clock import as_utc
from marketplace.collaborations.models import Collaboration
from marketplace.db import insert_stmt, session_scope
from marketplace.deadlines.models import DeadlineNotice, DeadlineReminder, DeadlineWatch
from marketplace.deadlines.recipients import brand_roles_for, brand_team, creator_accounts
from marketplace.deadlines.reminders import ReminderItem, deliver_reminders, reminder_item
from marketplace.deadlines.rules import Consequence, FollowUp, History, ReminderDue, follow_up
from marketplace.jobs import enqueue
from marketplace.verification.models import CheckPurpose, PostCheck

log = logging.getLogger(__name__)

#: Due deals per transaction. 2,000 took 29 statements for 5,000 due instead of 91 but no less time: the due SELECT
#: of a larger batch costs more than the round trips it saves (bench/deadline_sweep.py, BENCH_BATCH).
DEFAULT_BATCH_SIZE = 500

#: The job that carries out each consequence, and the arguments after the collaboration id.
CONSEQUENCE_JOBS: dict[Consequence, tuple[str, tuple[str, ...]]] = {
    Consequence.GHOST: ("deadlines.ghost_collaboration", ()),
    Consequence.BRAND_NO_SHOW: ("deadlines.announce_brand_no_show", ()),
    Consequence.AUTO_APPROVE: ("deadlines.auto_approve_post", ()),
    Consequence.AUTO_ACCEPT: ("deadlines.auto_accept_post", ()),
    Consequence.KEEP_LIVE_MIDPOINT: ("verification.check_keep_live", (CheckPurpose.KEEP_LIVE_MIDPOINT.value,)),
    Consequence.KEEP_LIVE_FINAL: ("verification.check_keep_live", (CheckPurpose.KEEP_LIVE_FINAL.value,)),
}


@dataclass
class SweepReport:
    batches: int = 0
    examined: int = 0
    reminders: int = 0
    notifications: int = 0
    emails: int = 0
    consequences: Counter[str] = field(default_factory=Counter)

    def as_dict(self) -> dict[str, object]:
        return {
            "batches": self.batches,
            "examined": self.examined,
            "reminders": self.reminders,
            "notifications": self.notifications,
            "emails": self.emails,
            "consequences": dict(self.consequences),
        }


async def due_collaborations(session: AsyncSession, now: datetime, limit: int) -> list[Collaboration]:
    """The next batch of collaborations to look at, loaded in the same statement: one range scan of
    ix_deadline_watch_check_at joined to the collaborations by primary key."""
    query = (
        sa.select(Collaboration)
        .join(DeadlineWatch, DeadlineWatch.collaboration_id == Collaboration.id)
        .where(DeadlineWatch.check_at <= now)
        .order_by(DeadlineWatch.check_at)
        .limit(limit)
    )
    if session.bind is not None and session.bind.dialect.name == "postgresql":
        # Two sweepers (a beat tick overlapping a slow sweep) split the work instead of doing it twice. Only the
        # watch rows are locked: a deal's own lock belongs to transition(), in the consequence's job.
        query = query.with_for_update(skip_locked=True, of=DeadlineWatch)
    return list((await session.scalars(query)).all())


async def _histories(session: AsyncSession, collabs: list[Collaboration]) -> dict[UUID, History]:
    ids = [c.id for c in collabs]
    current = {c.id: (c.next_due_stage, as_utc(c.next_due_at) if c.next_due_at else None) for c in collabs}
    sent: dict[UUID, set[int]] = defaultdict(set)
    for cid, stage, due_at, offset in await session.execute(
        sa.select(
            DeadlineReminder.collaboration_id,
            DeadlineReminder.stage,
            DeadlineReminder.due_at,
            DeadlineReminder.offset_hours,
        ).where(DeadlineReminder.collaboration_id.in_(ids))
    ):
        if current[cid] == (stage, as_utc(due_at)):
            sent[cid].add(offset)
    notices: dict[UUID, set[str]] = defaultdict(set)
    by_id = {c.id: c for c in collabs}
    for cid, kind, due_at in await session.execute(
        sa.select(DeadlineNotice.collaboration_id, DeadlineNotice.kind, DeadlineNotice.due_at).where(
            DeadlineNotice.collaboration_id.in_(ids)
        )
    ):
        # The ship-by time only for deals with a notice: working it out reads the terms (a third of the sweep's
        # time when it was done for every deal of the batch).
        if kind == "brand_no_show" and by_id[cid].due("ship") == as_utc(due_at):
            notices[cid].add(kind)
    released = [c.id for c in collabs if c.posted_at is not None]
    midpoint: set[UUID] = set()
    if released:
        midpoint = set(
            (
                await session.scalars(
                    sa.select(PostCheck.collaboration_id).where(
                        PostCheck.collaboration_id.in_(released),
                        PostCheck.purpose == CheckPurpose.KEEP_LIVE_MIDPOINT.value,
                    )
                )
            ).all()
        )
    return {cid: History(frozenset(sent[cid]), frozenset(notices[cid]), cid in midpoint) for cid in ids}


def _insert_reminders(dialect_name: str) -> sa.Insert:
    """One statement for the whole batch (executed with a list of rows: SQLAlchemy's insertmanyvalues, cached)."""
    table = DeadlineReminder.__table__
    return (
        insert_stmt(dialect_name, table)
        .on_conflict_do_nothing(index_elements=["collaboration_id", "stage", "due_at", "offset_hours"])
        .returning(table.c.collaboration_id, table.c.offset_hours)
    )


#: PostgreSQL: every watch of the batch moved to its next look in one UPDATE joined to the unnested arrays.
_MOVE_WATCHES_PG = sa.text(
    """
    UPDATE deadline_watch AS w SET check_at = v.check_at
    FROM unnest(CAST(:cids AS uuid[]), CAST(:ats AS timestamptz[])) AS v(collaboration_id, check_at)
    WHERE w.collaboration_id = v.collaboration_id
    """
)


async def _claim_reminders(session: AsyncSession, reminders: dict[UUID, ReminderDue], now: datetime) -> set[UUID]:
    """Write the reminder rows; returns the collaborations whose reminder this sweep claimed (not already sent)."""
    if not reminders:
        return set()
    rows: list[dict[str, object]] = [
        {
            "id": uuid7(),
            "collaboration_id": cid,
            "stage": r.stage,
            "due_at": r.due_at,
            "offset_hours": r.offset_hours,
            "party": r.party,
            "sent_at": now,
            "created_at": now,
            "updated_at": now,
        }
        for cid, r in reminders.items()
    ]
    assert session.bind is not None
    result = await session.execute(_insert_reminders(session.bind.dialect.name), rows)
    return {cid for cid, _offset in result.all()}


async def _recipients(
    session: AsyncSession, collabs: dict[UUID, Collaboration], reminders: dict[UUID, ReminderDue], now: datetime
) -> list[tuple[User, ReminderItem]]:
    creators = await creator_accounts(
        session, [collabs[cid].creator_id for cid, r in reminders.items() if r.party == "creator"]
    )
    brand_stages: dict[tuple[str, ...], list[UUID]] = defaultdict(list)
    for cid, r in reminders.items():
        if r.party == "brand":
            brand_stages[tuple(brand_roles_for(r.stage))].append(collabs[cid].brand_id)
    teams: dict[tuple[tuple[str, ...], UUID], list[User]] = {}
    for roles, brand_ids in brand_stages.items():
        for brand_id, members in (await brand_team(session, brand_ids, roles)).items():  # type: ignore[arg-type]
            teams[(roles, brand_id)] = [user for user, _role in members]
    out: list[tuple[User, ReminderItem]] = []
    for cid, r in reminders.items():
        c = collabs[cid]
        item = reminder_item(c, r, now)
        if r.party == "creator":
            if c.creator_id in creators:
                out.append((creators[c.creator_id], item))
        else:
            for user in teams.get((tuple(brand_roles_for(r.stage)), c.brand_id), []):
                out.append((user, item))
    return out


async def _move_watches(session: AsyncSession, check_at: dict[UUID, datetime | None]) -> None:
    """Set each watch's next look (None: nothing left to watch) in one statement."""
    assert session.bind is not None
    if session.bind.dialect.name == "postgresql":
        await session.execute(_MOVE_WATCHES_PG, {"cids": list(check_at), "ats": list(check_at.values())})
        return
    table = DeadlineWatch.__table__
    await session.execute(
        sa.update(table).where(table.c.collaboration_id == sa.bindparam("b_cid")).values(check_at=sa.bindparam("b_at")),
        [{"b_cid": cid, "b_at": at} for cid, at in check_at.items()],
    )


async def sweep_batch(session: AsyncSession, now: datetime, *, batch_size: int, public_url: str) -> SweepReport:
    """Look at one batch of due collaborations inside the caller's transaction."""
    report = SweepReport(batches=1)
    collabs = {c.id: c for c in await due_collaborations(session, now, batch_size)}
    ids = list(collabs)  # a watch row goes with its collaboration (ON DELETE CASCADE), so none is orphaned
    report.examined = len(ids)
    if not ids:
        return report
    histories = await _histories(session, list(collabs.values()))
    plans: dict[UUID, FollowUp] = {cid: follow_up(c, now, histories[cid]) for cid, c in collabs.items()}

    reminders = {cid: plan.reminder for cid, plan in plans.items() if plan.reminder is not None}
    claimed = await _claim_reminders(session, reminders, now)
    to_send = {cid: r for cid, r in reminders.items() if cid in claimed}
    if to_send:
        recipients = await _recipients(session, collabs, to_send, now)
        report.notifications, report.emails = await deliver_reminders(
            session, recipients, public_url=public_url, now=now
        )
    report.reminders = len(to_send)

    for cid, plan in plans.items():
        for consequence in plan.consequences:
            name, extra = CONSEQUENCE_JOBS[consequence]
            enqueue(session, name, str(cid), *extra)
            report.consequences[consequence.value] += 1

    await _move_watches(session, {cid: plans[cid].check_at for cid in ids})
    log.info(
        "deadline sweep batch: %d examined, %d reminders, consequences %s",
        report.examined,
        report.reminders,
        dict(report.consequences),
    )
    return report


async def sweep_deadlines(
    session_maker: async_sessionmaker[AsyncSession],
    now: datetime,
    *,
    public_url: str = "",
    batch_size: int = DEFAULT_BATCH_SIZE,
    max_batches: int = 1000,
) -> SweepReport:
    """Sweep everything due at ``now``, one transaction per batch, until a batch comes back short."""
    total = SweepReport()
    with _collector_skips_old_objects():
        await _sweep(session_maker, now, total, public_url=public_url, batch_size=batch_size, max_batches=max_batches)
    return total


@contextlib.contextmanager
def _collector_skips_old_objects() -> Iterator[None]:
    """Keep the objects that were there before the sweep (a worker's ~250k: modules, SQLAlchemy's caches) out of the
    cycle collector's full passes while it runs. A sweep creates enough objects for several of those passes, each
    ~0.2 s over the whole heap (a third of a 5,000-deal sweep's time); its own garbage is still collected. Left
    alone if the process already froze its start-up objects (gc.freeze), so as not to undo that."""
    if gc.get_freeze_count():
        yield
        return
    gc.freeze()
    try:
        yield
    finally:
        gc.unfreeze()


async def _sweep(
    session_maker: async_sessionmaker[AsyncSession],
    now: datetime,
    total: SweepReport,
    *,
    public_url: str,
    batch_size: int,
    max_batches: int,
) -> None:
    for _ in range(max_batches):
        async with session_scope(session_maker) as session:
            batch = await sweep_batch(session, now, batch_size=batch_size, public_url=public_url)
        total.batches += 1 if batch.examined else 0
        total.examined += batch.examined
        total.reminders += batch.reminders
        total.notifications += batch.notifications
        total.emails += batch.emails
        total.consequences.update(batch.consequences)
        if batch.examined < batch_size:
            break
