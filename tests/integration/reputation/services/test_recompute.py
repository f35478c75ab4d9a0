"""The full recompute rebuilds what incremental updates built; the daily refresh re-ranks decayed evidence."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

import pytest
import sqlalchemy as sa
from click.testing import CliRunner
from sqlalchemy.exc import DBAPIError, IntegrityError

from marketplace.cli import main
from marketplace.db import session_scope
from marketplace.reputation.jobs import refresh_scores
from marketplace.reputation.ratings import rate_collaboration
from marketplace.settings import get_settings
from reputation.events import EventKind
from reputation.models import ReliabilityScore, ReputationEvent, SubjectKind
from reputation.recompute import recompute_all
from reputation.services import Subject, clear_suspension, record_outcome
from tests.conftest import TEST_SECRET
from tests.integration.reputation.services.conftest import EXACT_COLUMNS, FLOAT_COLUMNS
from tests.support.db import PeopleFactory, run_in_thread
from tests.support.reputation import PASSWORD, deliver, ghost, make_collaboration, signed_in_brand

DERIVED = (*EXACT_COLUMNS, "ghosted_at", "review_cleared_at")


async def _snapshot(db) -> dict[tuple[Any, Any], dict[str, Any]]:
    rows = (await db.scalars(sa.select(ReliabilityScore))).all()
    return {
        (row.subject_kind, row.subject_id): {
            **{name: getattr(row, name) for name in DERIVED},
            **{name: pytest.approx(getattr(row, name), rel=1e-12, abs=1e-12) for name in FLOAT_COLUMNS},
        }
        for row in rows
    }


async def _market(runtime, clock) -> dict[str, Any]:
    """Two creators, two brands: on-time, late and ghosted deals, a suspension an admin cleared, and ratings."""
    people = PeopleFactory(runtime, PASSWORD)
    ava, ben = await people.creator(name="Ava"), await people.creator(name="Ben")
    glow, dew = await people.brand(brand_name="GlowLab"), await people.brand(brand_name="Dew")
    first = await make_collaboration(runtime, brand=glow, creator=ava)
    await deliver(runtime, clock, first)
    async with session_scope(runtime.session_maker) as session:
        await rate_collaboration(session, signed_in_brand(glow), first.id, stars=5, comment="", now=clock.now())
    await deliver(runtime, clock, await make_collaboration(runtime, brand=dew, creator=ava), late_days=1)
    await deliver(runtime, clock, await make_collaboration(runtime, brand=glow, creator=ava))
    await ghost(runtime, clock, await make_collaboration(runtime, brand=glow, creator=ben))
    await ghost(runtime, clock, await make_collaboration(runtime, brand=dew, creator=ben))
    admin = await people.admin()
    async with session_scope(runtime.session_maker) as session:
        assert await clear_suspension(session, ben.creator_id, admin.user_id, clock.now())
    return {"ava": ava, "ben": ben, "glow": glow, "dew": dew, "first": first}


async def test_recompute_rebuilds_exactly_what_incremental_updates_built(runtime, clock, db) -> None:
    market = await _market(runtime, clock)
    # Stored rankings are as of each row's last change; bring them all to now, as the recompute will.
    await refresh_scores(runtime.job_context())
    before = await _snapshot(db)
    assert len(before) == 4
    ben = before[(SubjectKind.CREATOR, market["ben"].creator_id)]
    assert ben["ghosted_count"] == 2 and ben["suspended_at"] is None and ben["review_cleared_at"] is not None
    ava = before[(SubjectKind.CREATOR, market["ava"].creator_id)]
    assert (ava["completed_deals"], ava["distinct_counterparties"], ava["on_time_count"], ava["late_count"]) == (
        3,
        2,
        2,
        1,
    )
    glow = before[(SubjectKind.BRAND, market["glow"].brand_id)]
    assert (glow["ratings_given"], glow["extreme_ratings_given"]) == (1, 1)

    # Wreck every derived column, then rebuild in batches smaller than the number of subjects.
    await db.execute(
        sa.update(ReliabilityScore).values(
            r=99.0,
            s=0.0,
            events_count=0,
            completed_deals=0,
            ghosted_at=[],
            ratings_given=0,
            tier="GOLD",
            suspended_at=None,
        )
    )
    report = await recompute_all(runtime.session_maker, batch_size=3, now=clock.now())
    assert (report.subjects, report.batches, report.changed) == (4, 2, 4)
    assert report.events == await db.scalar(sa.select(sa.func.count()).select_from(ReputationEvent))
    after = await _snapshot(db)
    differences = {
        (key, name): (before[key][name], after[key][name])
        for key in before
        for name in before[key]
        if before[key][name] != after[key][name]
    }
    assert after.keys() == before.keys() and differences == {}
    # A second rebuild finds nothing to correct and writes nothing.
    assert (await recompute_all(runtime.session_maker, batch_size=3, now=clock.now())).changed == 0


async def test_recompute_creates_rows_for_subjects_only_in_the_log(runtime, clock, db) -> None:
    now = clock.now()
    subject = Subject.creator(uuid.uuid4())
    async with session_scope(runtime.session_maker) as session:
        await record_outcome(
            session,
            subject=subject,
            kind=EventKind.CREATOR_ON_TIME,
            collaboration_id=uuid.uuid4(),
            deal_value_minor=10_000,
            currency_exponent=2,
            occurred_at=now,
        )
    await db.execute(sa.delete(ReliabilityScore))
    await recompute_all(runtime.session_maker, now=now)
    row = await db.get(ReliabilityScore, (SubjectKind.CREATOR, subject.id))
    assert row is not None and row.r == pytest.approx(2.0) and row.on_time_count == 1


async def test_the_daily_refresh_lets_old_evidence_decay_in_the_ranking(runtime, clock, db) -> None:
    market = await _market(runtime, clock)
    key = (SubjectKind.CREATOR, market["ava"].creator_id)
    row = await db.get(ReliabilityScore, key)
    ranked, expected, r = row.ranking_score, row.expected, row.r
    clock.advance(days=365)
    assert await refresh_scores(runtime.job_context()) == 4
    row = await db.get(ReliabilityScore, key)
    assert row.ranking_score < ranked and 0.5 < row.expected < expected
    assert row.ranked_at == clock.now() and row.r == r  # the evidence itself stays as of its own time
    ben = await db.get(ReliabilityScore, (SubjectKind.CREATOR, market["ben"].creator_id))
    assert ben.tier == "NEW"


async def test_the_event_log_is_append_only(runtime, clock, db) -> None:
    await _market(runtime, clock)
    with pytest.raises((IntegrityError, DBAPIError), match="append-only"):
        await db.execute(sa.update(ReputationEvent).values(weight=0.0))
    with pytest.raises((IntegrityError, DBAPIError), match="append-only"):
        await db.execute(sa.delete(ReputationEvent))


def test_recompute_command(database_url: str, tmp_path, monkeypatch) -> None:
    for key, value in {
        "POSTPACT_ENV": "test",
        "SECRET_KEY": TEST_SECRET,
        "DATABASE_URL": database_url,
        "POSTPACT_VAR_DIR": str(tmp_path),
        "DATABASE_POOL_SIZE": "0",
    }.items():
        monkeypatch.setenv(key, value)
    monkeypatch.delenv("REDIS_URL", raising=False)
    get_settings.cache_clear()

    async def seed() -> None:
        from marketplace.runtime import build_runtime

        runtime = build_runtime(get_settings())
        try:
            async with session_scope(runtime.session_maker) as session:
                for i in range(3):
                    await record_outcome(
                        session,
                        subject=Subject.brand(uuid.uuid4()),
                        kind=EventKind.BRAND_RELEASED_ON_TIME,
                        collaboration_id=uuid.uuid4(),
                        deal_value_minor=100 * i,
                        currency_exponent=2,
                        occurred_at=runtime.clock.now() - timedelta(days=i),
                    )
        finally:
            await runtime.alchemy.get_engine().dispose()

    try:
        run_in_thread(seed)
        result = CliRunner().invoke(main, ["reputation", "recompute", "--batch-size", "2"])
        assert result.exit_code == 0, result.output
        assert "recomputed 3 scores from 3 events in 2 batches" in result.output
        rebuilt = CliRunner().invoke(main, ["reputation", "recompute"])
        assert rebuilt.exit_code == 0, rebuilt.output
        # Without --batch-size the set-based rebuild runs (its equivalence with the fold: test_rebuild_property).
        assert "rebuilt 3 scores from 3 events in one pass" in rebuilt.output
        bad = CliRunner().invoke(main, ["reputation", "recompute", "--batch-size", "0"])
        assert bad.exit_code != 0
    finally:
        get_settings.cache_clear()


async def test_every_new_creator_and_brand_starts_with_a_newcomer_row(runtime, db, people) -> None:
    creator, brand = await people.creator(), await people.brand()
    for kind, subject_id in ((SubjectKind.CREATOR, creator.creator_id), (SubjectKind.BRAND, brand.brand_id)):
        row = await db.get(ReliabilityScore, (kind, subject_id))
        assert row is not None, kind
        assert (row.events_count, row.r, row.s, row.tier, row.rank_order) == (0, 0.0, 0.0, "NEW", 500)
