"""Cost of the nav badge and the messages inbox on PostgreSQL at a busy brand's volume.

A brand with ``--threads`` conversations (spread over 200 creators, every third one unread for the brand owner) and
``--notifications`` notifications for that owner (a tenth unread). Times ``badge_counts`` (what /notifications/badge
runs: one statement) and the first inbox page (one statement), and prints PostgreSQL's plan for the badge so the
index use is visible. Needs PostgreSQL: BENCH_DATABASE_URL or postgresql://postgres@127.0.0.1/ (a throw-away
database ``postpact_bench_messaging`` is created and dropped).

    .venv/bin/python bench/messaging_badge.py [--threads 2000] [--notifications 20000] [--calls 300]
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

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker, create_async_engine

from marketplace.accounts.auth import Actor
from marketplace.accounts.models import User, UserKind
from marketplace.applications.models import Application
from marketplace.brands.models import Brand, BrandMember, BrandRole
from marketplace.creators.models import Creator, Platform, SocialAccount
from marketplace.gigs.models import Gig, GigStatus
from marketplace.messaging import queries
from marketplace.messaging.models import Message, Thread, ThreadReadState
from marketplace.notifications import services as notifications
from marketplace.notifications.models import Notification
from tests.support import db as dbsupport

SERVER = os.environ.get("BENCH_DATABASE_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/postgres")
CREATORS = 200


def uid() -> uuid.UUID:
    return uuid.uuid4()


async def prepare(session: AsyncSession, threads: int, notes: int) -> Actor:
    now = datetime(2026, 11, 21, 12, 0, tzinfo=UTC)
    owner_id, brand_id = uid(), uid()
    users = [{"id": owner_id, "email": "owner@bench.test", "password_hash": "x", "kind": UserKind.BRAND}]
    creators, accounts = [], []
    for i in range(CREATORS):
        user_id, creator_id = uid(), uid()
        users.append({"id": user_id, "email": f"c{i}@bench.test", "password_hash": "x", "kind": UserKind.CREATOR})
        creators.append({"id": creator_id, "user_id": user_id, "display_name": f"Creator {i}"})
        accounts.append({"id": uid(), "creator_id": creator_id, "platform": Platform.TIKTOK, "handle": f"c{i}",
                         "profile_url": f"https://tiktok.com/@c{i}"})
    await session.execute(sa.insert(User), users)
    await session.execute(sa.insert(Brand), [{"id": brand_id, "name": "Bench Brand"}])
    member = {"brand_id": brand_id, "user_id": owner_id, "role": BrandRole.OWNER}
    await session.execute(sa.insert(BrandMember), [member])
    await session.execute(sa.insert(Creator), creators)
    await session.execute(sa.insert(SocialAccount), accounts)
    # A creator applies once per gig, so every round of CREATORS threads gets a gig of its own.
    gig_ids = [uid() for _ in range((threads + CREATORS - 1) // CREATORS)]
    gigs = [
        {"id": g, "brand_id": brand_id, "status": GigStatus.OPEN, "title": f"Gig {r}", "brief": "b",
         "base_fee_amount": 1000}
        for r, g in enumerate(gig_ids)
    ]
    await session.execute(sa.insert(Gig), gigs)
    applications, thread_rows, reads, messages = [], [], [], []
    for i in range(threads):
        creator, account = creators[i % CREATORS], accounts[i % CREATORS]
        application_id, thread_id = uid(), uid()
        applications.append({"id": application_id, "gig_id": gig_ids[i // CREATORS], "creator_id": creator["id"],
                             "brand_id": brand_id, "social_account_id": account["id"], "pitch": "p"})
        count = 3
        at = now - timedelta(minutes=i)
        thread_rows.append({"id": thread_id, "application_id": application_id, "brand_id": brand_id,
                            "creator_id": creator["id"], "message_count": count, "last_message_at": at})
        # Every third conversation has one message the owner hasn't read.
        reads.append({"thread_id": thread_id, "user_id": owner_id, "last_read_seq": count - (1 if i % 3 == 0 else 0)})
        reads.append({"thread_id": thread_id, "user_id": creator["user_id"], "last_read_seq": count})
        messages.extend(
            {"thread_id": thread_id, "seq": seq, "sender_party": "creator", "sender_user_id": creator["user_id"],
             "body": f"message {seq} of thread {i}", "created_at": at}
            for seq in range(1, count + 1)
        )
    await session.execute(sa.insert(Application), applications)
    await session.execute(sa.insert(Thread), thread_rows)
    await session.execute(sa.insert(ThreadReadState), reads)
    await session.execute(sa.insert(Message), messages)
    await session.execute(sa.insert(Notification), [
        {"user_id": owner_id, "kind": "collaboration.update", "title": f"Update {i}", "body": "",
         "read_at": None if i % 10 == 0 else now} for i in range(notes)
    ])
    await session.execute(sa.text("ANALYZE"))
    return Actor(owner_id, "owner@bench.test", UserKind.BRAND, "Owner", brand_id=brand_id, brand_role=BrandRole.OWNER)


async def timed(session: AsyncSession, calls: int, fn) -> list[float]:
    samples = []
    for _ in range(calls):
        start = time.perf_counter()
        await fn(session)
        samples.append((time.perf_counter() - start) * 1000)
    return samples


def summary(name: str, samples: list[float]) -> str:
    ordered = sorted(samples)
    p99 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]
    return f"{name:36} {statistics.median(samples):8.2f} ms {p99:8.2f} ms"


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=2000)
    parser.add_argument("--notifications", type=int, default=20000)
    parser.add_argument("--calls", type=int, default=300)
    args = parser.parse_args()
    url = dbsupport.recreate_postgres_database(SERVER, "postpact_bench_messaging")
    try:
        dbsupport.migrate(url)
        engine = create_async_engine(url)
        maker = async_sessionmaker(engine, expire_on_commit=False)
        print(f"preparing {args.threads} threads and {args.notifications} notifications (not timed)...", flush=True)
        async with maker() as session, session.begin():
            actor = await prepare(session, args.threads, args.notifications)
        async with maker() as session:
            counts = await notifications.badge_counts(session, actor)
            print(f"badge: {counts.notifications} unread notifications, {counts.messages} unread messages")
            badge = await timed(session, args.calls, lambda s: notifications.badge_counts(s, actor))
            inbox = await timed(session, args.calls, lambda s: queries.inbox(s, actor))
            statement = sa.select(
                notifications.unread_notifications_query(actor.user_id), queries.unread_total_query(actor)
            )
            compiled = statement.compile(engine.sync_engine, compile_kwargs={"literal_binds": True})
            plan = (await session.execute(sa.text(f"EXPLAIN ANALYZE {compiled}"))).scalars().all()
        await engine.dispose()
    finally:
        dbsupport.drop_postgres_database(SERVER, "postpact_bench_messaging")
    print(f"{'':36} {'median':>11} {'p99':>11}")
    print(summary("badge_counts (1 statement)", badge))
    print(summary("inbox first page (1 statement)", inbox))
    print("badge plan:")
    for line in plan:
        print("  " + line)


if __name__ == "__main__":
    asyncio.run(main())
