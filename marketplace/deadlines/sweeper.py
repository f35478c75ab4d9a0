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

from marketplace.brands.models import BrandRole
from marketplace.db import insert_stmt, session_scope
from marketplace.deadlines.due_deals import DueDeal, due_deals
from marketplace.deadlines.models import DeadlineReminder, DeadlineWatch
from marketplace.deadlines.recipients import Addressee, brand_addressees, brand_roles_for, creator_addressees
from marketplace.deadlines.reminders import ReminderItem, deliver_reminders, reminder_item
from marketplace.deadlines.rules import Consequence, FollowUp, ReminderDue, follow_up
from marketplace.jobs import enqueue
from marketplace.verification.models import CheckPurpose

log = logging.getLogger(__name__)

#: Due deals per transaction. With whole collaborations loaded, 2,000 cost as much as 500 (the larger due SELECT ate
#: the round trips saved); with the narrow DueDeal read, 1,000 takes half the statements of 500 and ~10% less CPU
#: (bench/deadline_sweep.py with BENCH_BATCH; 2,500 saved little more and holds the watch locks longer).
DEFAULT_BATCH_SIZE = 1000

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


#: PostgreSQL: every watch of the batch moved to its next look in one UPDATE joined to the unnested arrays.
_MOVE_WATCHES_PG = """
    UPDATE deadline_watch AS w SET check_at = m.check_at
    FROM unnest(CAST(:watch_cids AS uuid[]), CAST(:check_ats AS timestamptz[])) AS m(collaboration_id, check_at)
    WHERE w.collaboration_id = m.collaboration_id
"""

#: PostgreSQL: the batch's reminders claimed in one INSERT from arrays (the unique constraint turns away any already
#: sent, by an earlier sweep or one running beside this one; RETURNING says which this sweep claimed), with the
#: watches moved in the same statement (a data-modifying WITH runs to completion whether or not it is read): one
#: round trip for both.
_CLAIM_REMINDERS_AND_MOVE_WATCHES_PG = sa.text(
    f"""
    WITH moved AS ({_MOVE_WATCHES_PG})
    INSERT INTO deadline_reminder
        (id, collaboration_id, stage, due_at, offset_hours, party, sent_at, created_at, updated_at)
    SELECT v.id, v.collaboration_id, v.stage, v.due_at, v.offset_hours, v.party,
           CAST(:now AS timestamptz), CAST(:now AS timestamptz), CAST(:now AS timestamptz)
    FROM unnest(CAST(:ids AS uuid[]), CAST(:cids AS uuid[]), CAST(:stages AS text[]), CAST(:dues AS timestamptz[]),
                CAST(:offsets AS integer[]), CAST(:parties AS text[]))
         AS v(id, collaboration_id, stage, due_at, offset_hours, party)
    ON CONFLICT (collaboration_id, stage, due_at, offset_hours) DO NOTHING
    RETURNING collaboration_id
    """  # noqa: S608 (only the constant above is spliced in)
)


async def _claim_reminders_and_move_watches(
    session: AsyncSession, reminders: dict[UUID, ReminderDue], check_at: dict[UUID, datetime | None], now: datetime
) -> set[UUID]:
    """Write the reminder rows and set each watch's next look (None: nothing left to watch); returns the
    collaborations whose reminder this sweep claimed (not already sent). Both are in the batch's transaction, so the
    order within it doesn't matter: a failure later in the batch undoes both."""
    assert session.bind is not None
    dialect_name = session.bind.dialect.name
    if dialect_name == "postgresql":
        moves = {"watch_cids": list(check_at), "check_ats": list(check_at.values())}
        if not reminders:
            await session.execute(sa.text(_MOVE_WATCHES_PG), moves)
            return set()
        due = list(reminders.values())
        params = {
            **moves,
            "ids": [uuid7() for _ in due],
            "cids": list(reminders),
            "stages": [r.stage for r in due],
            "dues": [r.due_at for r in due],
            "offsets": [r.offset_hours for r in due],
            "parties": [r.party for r in due],
            "now": now,
        }
        return set((await session.scalars(_CLAIM_REMINDERS_AND_MOVE_WATCHES_PG, params)).all())
    watches = DeadlineWatch.__table__
    await session.execute(
        sa.update(watches)
        .where(watches.c.collaboration_id == sa.bindparam("b_cid"))
        .values(check_at=sa.bindparam("b_at")),
        [{"b_cid": cid, "b_at": at} for cid, at in check_at.items()],
    )
    if not reminders:
        return set()
    table = DeadlineReminder.__table__
    insert = (
        insert_stmt(dialect_name, table)
        .on_conflict_do_nothing(index_elements=["collaboration_id", "stage", "due_at", "offset_hours"])
        .returning(table.c.collaboration_id)
    )
    rows = [
        {"id": uuid7(), "collaboration_id": cid, "stage": r.stage, "due_at": r.due_at, "offset_hours": r.offset_hours,
         "party": r.party, "sent_at": now, "created_at": now, "updated_at": now}
        for cid, r in reminders.items()
    ]  # fmt: skip
    return set((await session.scalars(insert, rows)).all())


async def _recipients(
    session: AsyncSession, deals: dict[UUID, DueDeal], reminders: dict[UUID, ReminderDue], now: datetime
) -> list[tuple[Addressee, ReminderItem]]:
    creators = await creator_addressees(
        session, [deals[cid].creator_id for cid, r in reminders.items() if r.party == "creator"]
    )
    brand_stages: dict[tuple[BrandRole, ...], list[UUID]] = defaultdict(list)
    for cid, r in reminders.items():
        if r.party == "brand":
            brand_stages[brand_roles_for(r.stage)].append(deals[cid].brand_id)
    teams: dict[tuple[tuple[BrandRole, ...], UUID], list[Addressee]] = {}
    for roles, brand_ids in brand_stages.items():
        for brand_id, members in (await brand_addressees(session, brand_ids, roles)).items():
            teams[(roles, brand_id)] = members
    out: list[tuple[Addressee, ReminderItem]] = []
    for cid, r in reminders.items():
        deal = deals[cid]
        item = reminder_item(deal, r, now)
        if r.party == "creator":
            if deal.creator_id in creators:
                out.append((creators[deal.creator_id], item))
        else:
            for addressee in teams.get((brand_roles_for(r.stage), deal.brand_id), []):
                out.append((addressee, item))
    return out


async def sweep_batch(session: AsyncSession, now: datetime, *, batch_size: int, public_url: str) -> SweepReport:
    """Look at one batch of due collaborations inside the caller's transaction."""
    report = SweepReport(batches=1)
    deals = {deal.id: deal for deal in await due_deals(session, now, batch_size)}
    ids = list(deals)  # a watch row goes with its collaboration (ON DELETE CASCADE), so none is orphaned
    report.examined = len(ids)
    if not ids:
        return report
    plans: dict[UUID, FollowUp] = {cid: follow_up(deal, now, deal.history) for cid, deal in deals.items()}

    reminders = {cid: plan.reminder for cid, plan in plans.items() if plan.reminder is not None}
    claimed = await _claim_reminders_and_move_watches(
        session, reminders, {cid: plan.check_at for cid, plan in plans.items()}, now
    )
    to_send = {cid: r for cid, r in reminders.items() if cid in claimed}
    if to_send:
        recipients = await _recipients(session, deals, to_send, now)
        report.notifications, report.emails = await deliver_reminders(
            session, recipients, public_url=public_url, now=now
        )
    report.reminders = len(to_send)

    for cid, plan in plans.items():
        for consequence in plan.consequences:
            name, extra = CONSEQUENCE_JOBS[consequence]
            enqueue(session, name, str(cid), *extra)
            report.consequences[consequence.value] += 1

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
