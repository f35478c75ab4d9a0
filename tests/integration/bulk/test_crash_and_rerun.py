"""Property: every bulk action, crashed at a random item and run again (twice), does each item exactly once."""

from __future__ import annotations

import dataclasses
import uuid
from typing import Any

import pytest
import sqlalchemy as sa
from hypothesis import strategies as st

from escrow.models import EscrowHold, ProviderCall
from marketplace.applications.models import Application
from marketplace.bulk.actions import ACTIONS, ItemWork
from marketplace.bulk.batch import BatchWork
from marketplace.bulk.models import BulkJob, BulkJobItem, ItemState, JobState
from marketplace.bulk.services import BulkService, NewItem, Selection, run_job
from marketplace.collaborations.models import Collaboration, CollaborationEvent, ExtensionRequest
from marketplace.collaborations.states import CollabState
from marketplace.creators.models import Creator
from marketplace.db import session_scope
from marketplace.messaging.models import Message, Thread
from marketplace.notifications.models import Notification
from marketplace.roster.models import RosterEntry, RosterImport
from tests.support.deals import make_deal
from tests.support.escrow import actor_of
from tests.support.marketplace import apply_to_gig, make_creator_with_account, make_open_gig
from tests.support.properties import run_property


class SimulatedCrash(BaseException):
    """A worker dying mid-item: not an error the job records, the transaction simply never commits."""


#: action -> (deal state to start from, product included)
DEAL_SETUPS: dict[str, tuple[CollabState, bool]] = {
    "approve_draft": (CollabState.DRAFT_SUBMITTED, False),
    "approve_post": (CollabState.VERIFIED, False),
    "cancel": (CollabState.OFFERED, False),
    "message": (CollabState.OFFERED, False),
    "extend": (CollabState.SIGNED, False),
    "ship": (CollabState.FUNDED, True),
    "fund": (CollabState.SIGNED, False),
}
#: Which collaboration event each deal action records once.
EVENTS = {"approve_draft": "approve_draft", "approve_post": "approve_post", "cancel": "withdraw_offer",
          "ship": "ship"}
PARAMETERS: dict[str, dict[str, Any]] = {
    "cancel": {"reason": "Campaign paused"}, "message": {"body": "Hi {first_name}, about {gig} ({fee})"},
    "extend": {"days": "5"}, "decline": {"reason": "Full"},
}


async def _setup(runtime: Any, people: Any, action: str, n: int) -> tuple[Any, list[uuid.UUID], dict[str, Any],
                                                                         list[NewItem] | None]:
    if action in DEAL_SETUPS:
        state, product = DEAL_SETUPS[action]
        first = await make_deal(runtime, state, product_included=product)
        deals = [first] + [await make_deal(runtime, state, brand=first.brand, creator=first.creator,
                                           product_included=product) for _ in range(n - 1)]
        ids = [d.id for d in deals]
        items = None
        if action == "ship":
            items = [NewItem(i, f"row {k}", {"carrier": "UPS", "tracking_number": f"1Z{k:08d}XYZ"})
                     for k, i in enumerate(ids)]
        return first.brand, ids, PARAMETERS.get(action, {}), items
    brand = await people.brand()
    if action == "import":  # n stored uploads of two people each, imported in the background
        async with session_scope(runtime.session_maker) as session:
            uploads = [RosterImport(brand_id=brand.brand_id, filename=f"f{k}.csv", content=(
                f"name,email\r\nA {k},imp{k}a-{brand.brand_id.hex[-8:]}@example.test\r\n"
                f"B {k},imp{k}b-{brand.brand_id.hex[-8:]}@example.test\r\n")) for k in range(n)]
            session.add_all(uploads)
            await session.flush()
        return brand, [u.id for u in uploads], {}, [NewItem(u.id, u.filename) for u in uploads]
    gig = await make_open_gig(runtime, brand, slots=10)
    creators = [await make_creator_with_account(runtime, people) for _ in range(n)]
    if action == "invite":
        return brand, [c.creator_id for c in creators], {"gig_id": str(gig.id), "message": "Hi {name}"}, None
    applications = [await apply_to_gig(runtime, c.person, gig.id, c.account.id) for c in creators]
    return brand, [a.id for a in applications], PARAMETERS.get(action, {}), None


async def _effects(db: Any, action: str, job: BulkJob, ids: list[uuid.UUID]) -> list[int]:
    """How many times each item's effect happened."""
    counts = []
    for target in ids:
        if action in EVENTS:
            query = sa.select(sa.func.count()).select_from(CollaborationEvent).where(
                CollaborationEvent.collaboration_id == target, CollaborationEvent.action == EVENTS[action])
        elif action == "message":
            query = sa.select(sa.func.count()).select_from(Message).join(Thread, Thread.id == Message.thread_id).where(
                Thread.collaboration_id == target)
        elif action == "extend":
            query = sa.select(sa.func.count()).select_from(ExtensionRequest).where(
                ExtensionRequest.collaboration_id == target)
        elif action == "fund":
            query = sa.select(sa.func.count()).select_from(ProviderCall).join(
                EscrowHold, EscrowHold.id == ProviderCall.escrow_id).where(
                EscrowHold.collaboration_id == target, ProviderCall.operation == "create_funding")
        elif action == "invite":
            query = sa.select(sa.func.count()).select_from(Notification).join(
                Creator, Creator.user_id == Notification.user_id).where(
                Creator.id == target, Notification.kind == "gig.invitation")
        elif action == "import":  # both people of the file are on the roster, once each
            upload = await db.get(RosterImport, target)
            emails = [line.split(",")[1] for line in upload.content.splitlines()[1:]]
            entries = await db.scalar(sa.select(sa.func.count()).select_from(RosterEntry).where(
                RosterEntry.brand_id == upload.brand_id, RosterEntry.email.in_(emails)))
            counts.append(entries // 2 if upload.imported_at else 0)
            continue
        elif action == "accept":
            query = sa.select(sa.func.count()).select_from(Collaboration).where(Collaboration.application_id == target)
        else:  # decline: the creator is told once
            query = sa.select(sa.func.count()).select_from(Notification).join(
                Creator, Creator.user_id == Notification.user_id).join(
                Application, Application.creator_id == Creator.id).where(
                Application.id == target, Notification.kind.like("application.%"))
        counts.append(int(await db.scalar(query) or 0))
    return counts


ALL_ACTIONS = sorted({*DEAL_SETUPS, "invite", "accept", "decline", "import"})


def test_every_action_is_covered() -> None:
    assert set(ALL_ACTIONS) == set(ACTIONS)


@pytest.mark.parametrize("action", ALL_ACTIONS)
async def test_a_job_crashed_at_any_item_and_run_again_does_each_item_once(action, runtime, people, db,
                                                                          monkeypatch) -> None:
    cases = st.integers(2, 4).flatmap(lambda n: st.tuples(st.just(n), st.integers(0, n - 1)))

    async def check(case: tuple[int, int]) -> None:
        n, crash_at = case
        brand, ids, parameters, items = await _setup(runtime, people, action, n)
        actor = await actor_of(runtime, brand)
        async with session_scope(runtime.session_maker) as session:
            job = await BulkService(session, runtime.clock).start(actor, action, parameters, Selection(ids=ids),
                                                                  items=items)
        real = ACTIONS[action]
        calls = 0

        async def crashing(work: ItemWork) -> None:
            nonlocal calls
            await real.apply(work)  # the work is done inside the item's transaction...
            calls += 1
            if calls == crash_at + 1:
                raise SimulatedCrash()  # ...and the process dies before it commits

        async def crashing_batch(work: BatchWork) -> dict[uuid.UUID, Any]:
            assert real.apply_batch is not None
            await real.apply_batch(work)  # a set-based step moves the whole batch...
            raise SimulatedCrash()  # ...and the process dies before the batch commits

        swapped = dataclasses.replace(real, apply=crashing)
        if real.apply_batch is not None:
            swapped = dataclasses.replace(swapped, apply_batch=crashing_batch)
        monkeypatch.setitem(ACTIONS, action, swapped)
        try:
            await run_job(runtime.job_context(), str(job.id))
            errors = list(await db.scalars(sa.select(BulkJobItem.error).where(BulkJobItem.job_id == job.id)))
            raise AssertionError(f"the simulated crash did not happen: {action} {errors}")
        except SimulatedCrash:
            pass
        monkeypatch.setitem(ACTIONS, action, real)
        await run_job(runtime.job_context(), str(job.id))
        await run_job(runtime.job_context(), str(job.id))  # a redelivered task: nothing more happens
        row = await db.get(BulkJob, job.id)
        states = list(await db.scalars(sa.select(BulkJobItem.state).where(BulkJobItem.job_id == job.id)))
        assert row.state is JobState.FINISHED and (row.done, row.failed, row.total) == (n, 0, n), (
            action, [i.error for i in await db.scalars(sa.select(BulkJobItem).where(BulkJobItem.job_id == job.id))])
        assert states == [ItemState.DONE] * n
        assert await _effects(db, action, row, ids) == [1] * n, action

    await run_property(cases, check, examples=4)
