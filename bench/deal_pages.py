"""Cost of a busy brand's deal list, one deal's page data and a draft approval on PostgreSQL.

A brand with ``--deals`` collaborations over 200 creators (states spread over the whole deal path, ten events
each). Times the first page of the deal list, a page deep in the keyset (past 80% of the deals), the "waiting for
you" filter, everything the deal page loads for one deal (``load_deal_view``: a fixed handful of queries), and
``DealService.approve_draft`` (row lock, draft review, transition with its event and due dates, notifications),
each approval its own transaction. Needs PostgreSQL: BENCH_DATABASE_URL or postgresql://postgres@127.0.0.1/
(a throw-away database ``postpact_bench_deals`` is created and dropped).

    .venv/bin/python bench/deal_pages.py [--deals 10000] [--calls 200] [--approvals 300]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker, create_async_engine

from marketplace.accounts.models import User, UserKind
from marketplace.applications.models import Application, ApplicationStatus
from marketplace.brands.models import Brand, BrandMember, BrandRole
from marketplace.clock import FrozenClock
from marketplace.collaborations.due_dates import recompute_due_dates
from marketplace.collaborations.models import Collaboration, CollaborationEvent, ContentDraft
from marketplace.collaborations.queries import list_collaborations, load_deal_view
from marketplace.collaborations.services import DealService
from marketplace.collaborations.states import CollabState, Party, TransitionActor
from marketplace.collaborations.terms import DeliverableTerms, Terms
from marketplace.creators.models import Creator, Platform, SocialAccount
from marketplace.gigs.models import Gig, GigStatus
from marketplace.jobs import QUEUE_KEY, RecordingQueue
from marketplace.settings import Settings
from tests.support import db as dbsupport

SERVER = os.environ.get("BENCH_DATABASE_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/postgres")
CREATORS = 200
NOW = datetime(2026, 11, 21, 12, 0, tzinfo=UTC)
#: States the bench deals sit in, in proportion (a brand mid-campaign).
SPREAD = [CollabState.OFFERED, CollabState.SIGNED, CollabState.FUNDED, CollabState.SHIPPED, CollabState.RECEIVED,
          CollabState.DRAFT_SUBMITTED, CollabState.DRAFT_SUBMITTED, CollabState.DRAFT_APPROVED, CollabState.POSTED,
          CollabState.COMPLETED]


def uid() -> uuid.UUID:
    return uuid.uuid4()


def terms_for(i: int, handle: str) -> Terms:
    return Terms(gig_id=str(uid()), gig_title=f"Campaign {i // CREATORS}", brief="Show it", brand_name="Bench Brand",
                 creator_display_name=f"Creator {i % CREATORS}", currency="USD", fee_amount=15_000,
                 commission_bps=None, product_included=True, product_name="Serum", product_retail_value=4_500,
                 deliverables=(DeliverableTerms("tiktok", "video", 1, ("#bench",), ("@bench",)),),
                 platform="tiktok", handle=handle, revision_rounds=1)


async def prepare(session: AsyncSession, deals: int) -> tuple[TransitionActor, list[uuid.UUID]]:
    owner_id, brand_id = uid(), uid()
    users: list[dict[str, Any]] = [{"id": owner_id, "email": "owner@bench.test", "password_hash": "x",
                                    "kind": UserKind.BRAND, "full_name": "Owner"}]
    creators, accounts = [], []
    for i in range(CREATORS):
        user_id, creator_id = uid(), uid()
        users.append({"id": user_id, "email": f"c{i}@bench.test", "password_hash": "x", "kind": UserKind.CREATOR})
        creators.append({"id": creator_id, "user_id": user_id, "display_name": f"Creator {i}"})
        accounts.append({"id": uid(), "creator_id": creator_id, "platform": Platform.TIKTOK, "handle": f"c{i}",
                         "profile_url": f"https://tiktok.com/@c{i}"})
    await session.execute(sa.insert(User), users)
    await session.execute(sa.insert(Brand), [{"id": brand_id, "name": "Bench Brand"}])
    await session.execute(sa.insert(BrandMember), [{"brand_id": brand_id, "user_id": owner_id,
                                                    "role": BrandRole.OWNER}])
    await session.execute(sa.insert(Creator), creators)
    await session.execute(sa.insert(SocialAccount), accounts)
    gig_ids = [uid() for _ in range((deals + CREATORS - 1) // CREATORS)]
    await session.execute(sa.insert(Gig), [
        {"id": g, "brand_id": brand_id, "status": GigStatus.OPEN, "title": f"Campaign {r}", "brief": "b",
         "base_fee_amount": 15_000} for r, g in enumerate(gig_ids)
    ])
    applications, collabs, events, drafts = [], [], [], []
    reviewing: list[uuid.UUID] = []
    # Oldest first, so the time-ordered ids run the way real deals accumulate.
    for i in range(deals):
        creator, account = creators[i % CREATORS], accounts[i % CREATORS]
        application_id = uid()
        applications.append({"id": application_id, "gig_id": gig_ids[i // CREATORS], "creator_id": creator["id"],
                             "brand_id": brand_id, "social_account_id": account["id"], "pitch": "p",
                             "status": ApplicationStatus.ACCEPTED})
        state = SPREAD[i % len(SPREAD)]
        terms = terms_for(i, account["handle"])
        start = NOW - timedelta(days=20) + timedelta(seconds=i)
        collab = Collaboration(id=uuid.UUID(int=(int(start.timestamp() * 1000) << 80) | (7 << 76) | i),
                               gig_id=gig_ids[i // CREATORS], application_id=application_id, brand_id=brand_id,
                               creator_id=creator["id"], social_account_id=account["id"], status=state,
                               state_changed_at=start, event_count=10, terms=terms.to_dict(),
                               terms_hash=terms.content_hash(), fee_amount=15_000, currency="USD",
                               product_included=True, revision_rounds_allowed=1, revision_rounds_used=0,
                               due_overrides={}, created_at=start, signed_at=start, funded_at=start,
                               shipped_at=start, received_at=start + timedelta(days=3),
                               draft_submitted_at=start + timedelta(days=5))
        recompute_due_dates(collab, NOW)
        row = {c.key: getattr(collab, c.key) for c in Collaboration.__table__.columns if getattr(collab, c.key,
                                                                                                 None) is not None}
        row["updated_at"] = start
        collabs.append(row)
        events.extend({"collaboration_id": collab.id, "seq": seq, "action": "offer", "from_state": "offered",
                       "to_state": "offered", "actor_party": "brand", "payload": {}, "created_at": start}
                      for seq in range(1, 11))
        if state is CollabState.DRAFT_SUBMITTED:
            drafts.append({"collaboration_id": collab.id, "round": 1, "caption": "Draft #ad #bench @bench",
                           "media_url": "https://drive.example/d.mp4"})
            reviewing.append(collab.id)
    await session.execute(sa.insert(Application), applications)
    for chunk in range(0, len(collabs), 2000):
        await session.execute(sa.insert(Collaboration), collabs[chunk:chunk + 2000])
    for chunk in range(0, len(events), 5000):
        await session.execute(sa.insert(CollaborationEvent), events[chunk:chunk + 5000])
    await session.execute(sa.insert(ContentDraft), drafts)
    await session.execute(sa.text("ANALYZE"))
    owner = TransitionActor(Party.BRAND, owner_id, brand_id=brand_id, brand_role=BrandRole.OWNER)
    return owner, reviewing


async def timed(calls: int, fn: Any) -> list[float]:
    samples = []
    for _ in range(calls):
        start = time.perf_counter()
        await fn()
        samples.append((time.perf_counter() - start) * 1000)
    return samples


def summary(name: str, samples: list[float]) -> str:
    ordered = sorted(samples)
    p99 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]
    return f"{name:44} {statistics.median(samples):8.2f} ms {p99:8.2f} ms"


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--deals", type=int, default=10_000)
    parser.add_argument("--calls", type=int, default=200)
    parser.add_argument("--approvals", type=int, default=300)
    args = parser.parse_args()
    url = dbsupport.recreate_postgres_database(SERVER, "postpact_bench_deals")
    results: list[str] = []
    try:
        dbsupport.migrate(url)
        engine = create_async_engine(url, pool_size=2)
        # Emails the approvals queue are kept, not sent.
        maker = async_sessionmaker(engine, expire_on_commit=False, info={QUEUE_KEY: RecordingQueue()})
        print(f"preparing {args.deals} deals over {CREATORS} creators (not timed)...", flush=True)
        async with maker() as session, session.begin():
            owner, reviewing = await prepare(session, args.deals)
        async with maker() as session:
            first = await list_collaborations(session, owner)
            deep_after = (await session.scalars(
                sa.select(Collaboration.id).where(Collaboration.brand_id == owner.brand_id)
                .order_by(Collaboration.id.desc()).offset(int(args.deals * 0.8)).limit(1))).one()
            one = first.items[0].id

            async def first_page() -> None:
                await list_collaborations(session, owner)

            async def deep_page() -> None:
                await list_collaborations(session, owner, after=deep_after)

            async def waiting() -> None:
                await list_collaborations(session, owner, statuses=["waiting"])

            async def deal_view() -> None:
                await load_deal_view(session, one, owner, NOW)

            results.append(summary("list: first page of 25", await timed(args.calls, first_page)))
            results.append(summary("list: page after 80% (keyset)", await timed(args.calls, deep_page)))
            results.append(summary("list: waiting for you", await timed(args.calls, waiting)))
            results.append(summary("deal page data (load_deal_view)", await timed(args.calls, deal_view)))
        settings, clock = Settings(), FrozenClock(NOW)
        targets = iter(reviewing[: args.approvals])

        async def approve() -> None:
            async with maker() as session, session.begin():
                await DealService(session, settings=settings, clock=clock).approve_draft(next(targets), owner)

        approvals = await timed(min(args.approvals, len(reviewing)), approve)
        results.append(summary("approve_draft (own transaction)", approvals))
        await engine.dispose()
    finally:
        dbsupport.drop_postgres_database(SERVER, "postpact_bench_deals")
    print(f"{'':44} {'median':>11} {'p99':>11}")
    for line in results:
        print(line)
    print(f"approvals per second, one after another: {1000 / statistics.mean(approvals):.0f}")


if __name__ == "__main__":
    asyncio.run(main())
