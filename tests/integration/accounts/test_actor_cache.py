"""The signed-in actor is reused between requests (no statement for it while nothing about the user changed), yet a
suspension, a role change, a lost membership or a new password is seen by the user's very next request, whichever
session or statement made the change."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import sqlalchemy as sa
from sqlalchemy import event

from marketplace.accounts.models import User
from marketplace.brands.models import BrandMember, BrandRole
from tests.support.marketplace import gig_input


@contextmanager
def statements(runtime: Any) -> Iterator[list[str]]:
    """The SQL the app sends while the block runs."""
    seen: list[str] = []

    def record(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        seen.append(statement)

    engine = runtime.alchemy.get_engine().sync_engine
    event.listen(engine, "before_cursor_execute", record)
    try:
        yield seen
    finally:
        event.remove(engine, "before_cursor_execute", record)


def actor_loads(seen: list[str]) -> int:
    return sum("FROM user_account LEFT OUTER JOIN brand_member" in s for s in seen)


async def test_the_badge_poll_reuses_the_actor_until_the_user_changes(web, runtime, people, db) -> None:
    brand = await people.brand(brand_name="Cached Goods")
    await web.sign_in(brand.email, brand.password)
    assert (await web.get("/notifications/badge", htmx=True)).status_code == 200
    with statements(runtime) as seen:
        for _ in range(3):
            assert (await web.get("/notifications/badge", htmx=True)).status_code == 200
    assert actor_loads(seen) == 0
    # badge_counts alone (SQLite's BEGIN aside): the actor came from the cache
    assert len([s for s in seen if s.lstrip().upper().startswith("SELECT")]) == 3

    user = await db.get(User, brand.user_id)
    user.full_name = "Renamed Owner"
    await db.flush()
    with statements(runtime) as seen:
        page = await web.get("/brand")
    assert actor_loads(seen) == 1 and "Renamed Owner" in page.text


async def test_a_suspended_user_is_refused_on_the_next_request(make_web, runtime, people) -> None:
    brand = await people.brand(brand_name="Soon Suspended")
    brand_web = await make_web()
    await brand_web.sign_in(brand.email, brand.password)
    for _ in range(2):  # the actor is cached now
        assert (await brand_web.get("/brand/gigs/new")).status_code == 200
    admin = await people.admin()
    admin_web = await make_web()
    await admin_web.sign_in(admin.email, admin.password)
    assert (await admin_web.post(f"/admin/users/{brand.user_id}/suspend", {"reason": "Fraud"})).status_code == 303
    values = gig_input(runtime)
    created = await brand_web.post("/brand/gigs", {"title": values["title"], "brief": values["brief"]})
    assert created.status_code == 403


async def test_a_suspension_written_by_a_bulk_update_is_seen_too(web, runtime, people, db) -> None:
    brand = await people.brand(brand_name="Bulk Suspended")
    await web.sign_in(brand.email, brand.password)
    assert (await web.get("/brand")).status_code == 200
    await db.execute(sa.update(User).where(User.id == brand.user_id).values(suspended_at=runtime.clock.now()))
    values = gig_input(runtime)
    created = await web.post("/brand/gigs", {"title": values["title"], "brief": values["brief"]})
    assert created.status_code == 403


async def test_role_changes_and_lost_memberships_apply_at_once(web, people, db) -> None:
    manager = await people.brand(brand_name="Role Goods", role=BrandRole.MANAGER)
    await web.sign_in(manager.email, manager.password)
    assert (await web.get("/brand/gigs/new")).status_code == 200
    assert (await web.get("/brand/gigs/new")).status_code == 200
    member = await db.scalar(sa.select(BrandMember).where(BrandMember.user_id == manager.user_id))
    member.role = BrandRole.FINANCE
    await db.flush()
    assert (await web.get("/brand/gigs/new")).status_code == 403
    await db.delete(member)
    await db.flush()
    assert (await web.get("/brand")).status_code == 403


async def test_a_deactivated_user_is_signed_out_on_the_next_request(web, people, db) -> None:
    brand = await people.brand(brand_name="Gone Goods")
    await web.sign_in(brand.email, brand.password)
    assert (await web.get("/brand")).status_code == 200
    statement = sa.text("UPDATE user_account SET is_active = false WHERE id = :id").bindparams(
        sa.bindparam("id", type_=User.__table__.c.id.type)
    )
    assert (await db.execute(statement, {"id": brand.user_id})).rowcount == 1
    response = await web.get("/brand")
    assert response.status_code in (302, 303) and "/signin" in response.headers["location"]


async def test_textual_writes_bump_everyone_only_when_they_write_an_actor_table(web, runtime, people, db) -> None:
    """A raw statement naming a user table as a word (any case) drops every cached actor; one that merely mentions
    ``creator_id`` or ``updated_at`` in another table keeps them (the badge poll then loads no actor)."""
    creator = await people.creator()
    await web.sign_in(creator.email, creator.password)
    await web.get("/notifications/badge", htmx=True)
    kept = [
        "UPDATE notification SET read_at = read_at WHERE user_id = :u",
        "update gig set updated_at = updated_at where brand_id in (select brand_id from brand where name = 'creators')",
        "SELECT creator_id FROM collaboration WHERE creator_id IS NULL",
    ]
    def statement(raw: str) -> sa.TextClause:
        typed = [sa.bindparam("u", type_=User.__table__.c.id.type)] if ":u" in raw else []
        return sa.text(raw).bindparams(*typed)

    for raw in kept:
        await db.execute(statement(raw), {"u": creator.user_id} if ":u" in raw else {})
        with statements(runtime) as seen:
            await web.get("/notifications/badge", htmx=True)
        assert actor_loads(seen) == 0, raw
    written = ("UPDATE Creator SET bio = bio WHERE user_id = :u", "update user_account set email = email where id = :u")
    for raw in written:
        await db.execute(statement(raw), {"u": creator.user_id})
        with statements(runtime) as seen:
            await web.get("/notifications/badge", htmx=True)
        assert actor_loads(seen) == 1, raw
