"""The demo's connected accounts (`make run`, no outside service): verified audiences labelled as demo data for
the creator, a post's readings in the brand's engagement report, and a verified newcomer ranked by the prior."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from marketplace.creators.models import Creator
from marketplace.seed import DEMO_PASSWORD, seed_demo
from marketplace.social.models import PostMetric, SocialConnection
from reputation.models import ReliabilityScore, SubjectKind


async def _creator_id(db: Any, name: str) -> Any:
    return await db.scalar(sa.select(Creator.id).where(Creator.display_name == name))


async def test_the_demo_has_verified_audiences_and_a_post_with_readings(runtime: Any, db: Any, make_web: Any) -> None:
    assert await seed_demo(runtime) is not None
    finn, ben = await _creator_id(db, "Finn Murphy"), await _creator_id(db, "Ben Okafor")
    connections = (await db.scalars(sa.select(SocialConnection).order_by(SocialConnection.handle))).all()
    assert [(c.handle, c.scope, c.access_token_enc) for c in connections] == [
        ("avabrooks", "demo", ""), ("finnmurphy", "demo", "")]
    readings = (await db.scalars(sa.select(PostMetric).order_by(PostMetric.taken_at))).all()
    assert [r.label for r in readings][:4] == ["1h", "24h", "72h", "7d"]
    assert all(r.views and r.likes for r in readings)
    assert [r.views for r in readings] == sorted(r.views for r in readings)  # counts only grow

    scores = {row.subject_id: row for row in (await db.scalars(sa.select(ReliabilityScore).where(
        ReliabilityScore.subject_kind == SubjectKind.CREATOR))).all()}
    assert scores[finn].verified_audience and not scores[ben].verified_audience
    assert scores[finn].rank_order > scores[ben].rank_order and scores[finn].ranking_score == 0.0

    creator = await make_web()
    await creator.sign_in("ava@creators.test", DEMO_PASSWORD)
    page = await creator.get("/creator/social/")
    assert "Verified" in page.text and "48,200 followers" in page.text and "Demo data" in page.text
    brand = await make_web()
    await brand.sign_in("owner@glowlab.test", DEMO_PASSWORD)
    report = await brand.get("/brand/engagement")
    assert report.status_code == 200 and "Ava Brooks" in report.text and "Summer glow challenge" in report.text
    directory = await brand.get("/brand/creators/?verified=1")
    assert "Ava Brooks" in directory.text and "Finn Murphy" in directory.text and "Ben Okafor" not in directory.text
