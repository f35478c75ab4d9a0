"""Demo roster: gives a brand ~300 people (some on PostPact, most not) with tags, through the real CSV import."""

from __future__ import annotations

import random
from uuid import UUID

import sqlalchemy as sa

from marketplace.brands.models import BrandMember
from marketplace.csvfiles import csv_text, read_csv
from marketplace.db import session_scope
from marketplace.roster.csvio import RosterImporter
from marketplace.roster.services import RosterService
from marketplace.runtime import Runtime

FIRST = ("Ava", "Noah", "Mia", "Liam", "Zoe", "Ethan", "Lena", "Omar", "Sofia", "Kai", "Nina", "Leo", "Ivy", "Sam",
         "Yara", "Jonas", "Priya", "Mateo", "Hana", "Luca")
LAST = ("Kim", "Silva", "Novak", "Okafor", "Berg", "Rossi", "Tanaka", "Haddad", "Moreau", "Khan", "Larsen", "Diaz",
        "Fischer", "Nguyen", "Costa")
TAGS = ("skincare", "makeup", "wellness", "fitness", "spring-wave", "vip", "ugc", "gifted-only", "video-first")
COUNTRIES = ("US", "US", "US", "CA", "GB", "DE", "FR", "AU")


def demo_roster_csv(count: int, seed: int = 13) -> str:
    rng = random.Random(seed)
    rows: list[list[object]] = []
    for i in range(count):
        first, last = rng.choice(FIRST), rng.choice(LAST)
        handle = f"{first}.{last}{i}".lower()
        tags = rng.sample(TAGS, k=rng.randint(1, 3))
        rows.append([
            f"{first} {last}", f"{handle}@creators.example" if rng.random() < 0.8 else "", rng.choice(COUNTRIES),
            handle if rng.random() < 0.7 else "", handle if rng.random() < 0.5 else "",
            handle if rng.random() < 0.15 else "", rng.randint(800, 250_000), ", ".join(tags),
        ])
    header = ["name", "email", "country", "tiktok", "instagram", "youtube", "followers", "tags"]
    # A person needs an email or a handle: give the rare row with neither its TikTok handle back.
    for row in rows:
        if not any(row[i] for i in (1, 3, 4, 5)):
            row[3] = str(row[0]).lower().replace(" ", ".") + str(rng.randint(100, 999))
    return csv_text(header, rows)


async def seed_roster(runtime: Runtime, owner_user_id: UUID, count: int = 300) -> None:
    """The brand of ``owner_user_id`` gets the creators it already works with plus ``count`` imported people."""
    async with session_scope(runtime.session_maker) as session:
        brand_id = await session.scalar(sa.select(BrandMember.brand_id).where(BrandMember.user_id == owner_user_id))
        assert brand_id is not None
        roster = RosterService(session, runtime)
        await roster.sync_from_activity(brand_id)
        await RosterImporter(roster).run(brand_id, read_csv(demo_roster_csv(count)), dry_run=False)
