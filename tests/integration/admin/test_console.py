"""The admin console: dashboard figures, user search, suspensions (and what a suspended person can't do), brand
verification, deals held for review, the outbox; each change audited."""

from __future__ import annotations

import sqlalchemy as sa

from marketplace.accounts.models import User
from marketplace.brands.models import Brand
from marketplace.collaborations.models import Collaboration
from marketplace.collaborations.states import CollabState
from marketplace.notifications.models import OutboxEmail
from reputation.models import ReliabilityScore, SubjectKind
from tests.support.deals import make_deal
from tests.support.disputes import audit_entries, decide, disputed_deal, funded
from tests.support.escrow import run_jobs
from tests.support.marketplace import gig_input, make_creator_with_account, make_open_gig


async def admin_web(make_web, people):
    admin = await people.admin()
    web = await make_web()
    await web.sign_in(admin.email, admin.password)
    return admin, web


async def test_dashboard_shows_money_disputes_ghosting_and_overdue(make_web, runtime, people, clock, db) -> None:
    held, _ = await disputed_deal(runtime, CollabState.VERIFIED, fee_amount=15_000)
    _released, released_case = await disputed_deal(runtime, CollabState.VERIFIED, fee_amount=10_000)
    late = await make_deal(runtime, CollabState.SIGNED, title="Late funding")
    admin, web = await admin_web(make_web, people)
    await decide(runtime, admin, released_case, "release")
    await run_jobs(runtime)
    clock.advance(hours=73)  # the signed deal's funding (72 h) is now overdue

    page = await web.get("/admin")
    assert page.status_code == 200
    assert 'data-testid="held-USD">$162.00' in page.text  # the open dispute's money is still held
    assert "$100.00" in page.text  # released this month
    assert "Open disputes: 1" in page.text
    assert 'data-testid="overdue-fund">1<' in page.text and "Late funding" in page.text
    fragment = await web.get("/admin", htmx=True)
    assert fragment.status_code == 200 and "<html" not in fragment.text and "admin-figures" in fragment.text
    assert held.id != late.id


async def test_user_search_and_suspension_sends_open_deals_to_review(make_web, runtime, people, db) -> None:
    deal = await funded(runtime, CollabState.FUNDED)
    _admin, web = await admin_web(make_web, people)

    found = await web.get(f"/admin/users?q={deal.creator.email[:12]}")
    assert found.status_code == 200 and deal.creator.email in found.text and deal.brand.email not in found.text
    by_brand = await web.get("/admin/users?q=glowlab", htmx=True)
    assert deal.brand.email in by_brand.text and "<html" not in by_brand.text

    missing_reason = await web.post(f"/admin/users/{deal.creator.user_id}/suspend", {"reason": ""})
    assert missing_reason.status_code == 422
    assert (await db.get(User, deal.creator.user_id)).suspended_at is None

    response = await web.post(f"/admin/users/{deal.creator.user_id}/suspend", {"reason": "Fake follower counts"})
    assert response.status_code == 303
    user = await db.get(User, deal.creator.user_id)
    assert user.suspended_at is not None and user.suspended_reason == "Fake follower counts"
    assert (await db.get(Collaboration, deal.id)).needs_admin_review is True
    [entry] = await audit_entries(db, "user.suspend")
    assert entry.after["deals_sent_to_review"] == [str(deal.id)] and entry.before == {"suspended_at": None}

    twice = await web.post(f"/admin/users/{deal.creator.user_id}/suspend", {"reason": "again"})
    assert twice.status_code == 409

    lifted = await web.post(f"/admin/users/{deal.creator.user_id}/unsuspend", {})
    assert lifted.status_code == 303 and (await db.get(User, deal.creator.user_id)).suspended_at is None
    assert (await db.get(Collaboration, deal.id)).needs_admin_review is True  # until an admin clears it
    cleared = await web.post(f"/admin/collaborations/{deal.id}/review-done", {"note": "checked", "next": "/admin"})
    assert cleared.status_code == 303
    assert (await db.get(Collaboration, deal.id)).needs_admin_review is False
    assert [e.action for e in await audit_entries(db)] == ["user.suspend", "user.unsuspend",
                                                          "collaboration.clear_review"]


async def test_suspended_people_cannot_apply_or_post_gigs(make_web, runtime, people, db) -> None:
    brand = await people.brand(brand_name="Suspended Goods")
    gig = await make_open_gig(runtime, brand)
    creator = await make_creator_with_account(runtime, people)
    _admin, web = await admin_web(make_web, people)
    for person in (brand, creator.person):
        assert (await web.post(f"/admin/users/{person.user_id}/suspend", {"reason": "Chargeback fraud"})).status_code \
            == 303

    brand_web = await make_web()
    await brand_web.sign_in(brand.email, brand.password)
    home = await brand_web.get("/brand")
    assert home.status_code == 200  # still signs in
    values = gig_input(runtime)
    created = await brand_web.post("/brand/gigs", {"title": values["title"], "brief": values["brief"]})
    assert created.status_code == 403

    creator_web = await make_web()
    await creator_web.sign_in(creator.person.email, creator.person.password)
    applied = await creator_web.post(f"/gigs/{gig.id}/apply", {"pitch": "Please take me, I post daily.",
                                                               "social_account_id": str(creator.account.id)})
    assert applied.status_code in (403, 422)
    payouts = await creator_web.post("/creator/payments/onboarding", {})
    assert payouts.status_code == 403
    from marketplace.applications.models import Application

    assert await db.scalar(sa.select(sa.func.count()).select_from(Application)) == 0


async def test_brand_verification_and_reliability_suspension(make_web, runtime, people, db) -> None:
    deal = await make_deal(runtime, CollabState.SIGNED)
    admin, web = await admin_web(make_web, people)
    response = await web.post(f"/admin/brands/{deal.brand.brand_id}/verification",
                              {"verified": "1", "next": f"/admin/users/{deal.brand.user_id}"})
    assert response.status_code == 303 and response.headers["location"] == f"/admin/users/{deal.brand.user_id}"
    assert (await db.get(Brand, deal.brand.brand_id)).verified_at is not None
    page = await web.get(f"/admin/users/{deal.brand.user_id}")
    assert "verified" in page.text and "Remove the verified mark" in page.text
    await web.post(f"/admin/brands/{deal.brand.brand_id}/verification", {"verified": "0"})
    assert (await db.get(Brand, deal.brand.brand_id)).verified_at is None

    # What two ghostings within a year do to the record (the reputation engine's own rule).
    updated = await db.execute(sa.update(ReliabilityScore).where(
        ReliabilityScore.subject_kind == SubjectKind.CREATOR, ReliabilityScore.subject_id == deal.creator.creator_id,
    ).values(suspended_at=runtime.clock.now()))
    if not updated.rowcount:
        db.add(ReliabilityScore(subject_kind=SubjectKind.CREATOR, subject_id=deal.creator.creator_id, ghosted_at=[],
                                suspended_at=runtime.clock.now()))
        await db.flush()
    cleared = await web.post(f"/admin/creators/{deal.creator.creator_id}/clear-reliability-suspension", {})
    assert cleared.status_code == 303
    row = await db.get(ReliabilityScore, (SubjectKind.CREATOR, deal.creator.creator_id))
    assert row.suspended_at is None and row.review_cleared_by_id == admin.user_id
    assert [e.action for e in await audit_entries(db)] == ["brand.verify", "brand.unverify",
                                                          "creator.clear_reliability_suspension"]


async def test_outbox_lists_and_filters_emails_and_dev_outbox_stays(make_web, runtime, people, db) -> None:
    deal, _ = await disputed_deal(runtime, CollabState.VERIFIED)
    _admin, web = await admin_web(make_web, people)
    page = await web.get(f"/admin/outbox?q={deal.creator.email}")
    assert page.status_code == 200 and "opened a dispute" in page.text and deal.brand.email not in page.text
    count = await db.scalar(sa.select(sa.func.count()).select_from(OutboxEmail))
    assert count > 0
    assert (await web.get("/admin/outbox?status=bogus")).status_code == 422
    assert (await web.get("/dev/outbox")).status_code == 200


async def test_a_suspended_creator_is_paid_only_after_the_suspension_is_lifted(make_web, runtime, people,
                                                                                 db) -> None:
    from escrow.models import CallStatus, ProviderCall
    from escrow.providers.simulated import SimulatedProvider
    from escrow.states import EscrowState
    from tests.support.escrow import funded_deal, hold_of
    from tests.support.stripe import approve_post

    deal = await funded_deal(runtime, CollabState.VERIFIED, onboarded=True, fee_amount=20_000)
    provider = SimulatedProvider(runtime.session_maker)
    _admin, web = await admin_web(make_web, people)
    assert (await web.post(f"/admin/users/{deal.creator.user_id}/suspend", {"reason": "Stolen content"})).status_code \
        == 303

    await approve_post(runtime, deal)
    await run_jobs(runtime)

    assert await provider.objects("transfer") == []
    hold = await hold_of(db, deal.id)
    assert hold.state is EscrowState.RELEASE_PENDING and "under review" in (hold.last_message or "")
    [call] = await db.scalars(sa.select(ProviderCall).where(ProviderCall.operation == "transfer")
                              .execution_options(populate_existing=True))
    assert call.status is CallStatus.WAITING

    assert (await web.post(f"/admin/users/{deal.creator.user_id}/unsuspend", {})).status_code == 303
    await run_jobs(runtime)

    [transfer] = await provider.objects("transfer")
    hold = await hold_of(db, deal.id)
    assert hold.state is EscrowState.RELEASED and hold.released_creator_amount == transfer.data["amount"] > 0
    await db.refresh(call)
    assert call.status is CallStatus.SUCCEEDED


async def test_a_second_ghosting_puts_the_creator_in_front_of_the_admins(make_web, runtime, clock, people,
                                                                         db) -> None:
    from marketplace.notifications.models import Notification
    from tests.support.reputation import ghost, make_collaboration

    creator = await people.creator(name="Gone Again")
    admin, web = await admin_web(make_web, people)
    await ghost(runtime, clock, await make_collaboration(runtime, creator=creator))
    assert 'data-testid="reliability-reviews">0<' in (await web.get("/admin")).text
    assert await db.scalar(sa.select(sa.func.count()).select_from(Notification)
                           .where(Notification.kind == "reliability.suspended")) == 0

    clock.advance(days=100)
    await ghost(runtime, clock, await make_collaboration(runtime, creator=creator))

    [note] = await db.scalars(sa.select(Notification).where(Notification.kind == "reliability.suspended"))
    assert note.user_id == admin.user_id and "Gone Again" in note.title
    assert note.link == f"/admin/users/{creator.user_id}"
    assert 'data-testid="reliability-reviews">1<' in (await web.get("/admin")).text
    listed = await web.get("/admin/users?reliability=1")
    assert creator.email in listed.text and "reliability review" in listed.text
    everyone = await web.get("/admin/users")
    assert admin.email in everyone.text and (await web.get("/admin/users?reliability=1")).text.count("<tr>") == 2

    cleared = await web.post(f"/admin/creators/{creator.creator_id}/clear-reliability-suspension", {})
    assert cleared.status_code == 303
    assert 'data-testid="reliability-reviews">0<' in (await web.get("/admin")).text
    assert creator.email not in (await web.get("/admin/users?reliability=1")).text


async def test_the_outbox_shows_and_finds_notices_written_at_delivery(make_web, runtime, people, db) -> None:
    """A notice queued as template + parameters has no subject until it is written: the outbox writes the ones it
    shows (in the reader's language) and finds undelivered ones by their template's name."""
    from marketplace.notifications.mail import NoticeEmail, queue_notice_emails

    await people.creator(email="pending-reader@example.com")
    async with runtime.session_maker() as session, session.begin():
        user = await session.scalar(sa.select(User).where(User.email == "pending-reader@example.com"))
        [email_id] = await queue_notice_emails(session, [NoticeEmail(
            user.id, user.email, "notification", "draft.approved",
            {"title": "Your draft was approved", "body": "Post it by Friday.", "link": "/deals",
             "settings_link": "/notifications/settings"})])
    _admin, web = await admin_web(make_web, people)
    found = await web.get("/admin/outbox?q=NOTIFICATION")
    assert found.status_code == 200 and "pending-reader@example.com" in found.text
    assert "Your draft was approved" in found.text and "Post it by Friday." in found.text
    db.expire_all()
    written = await db.get(OutboxEmail, email_id)
    assert written.subject and written.body_text and written.status.value == "queued"
    missing = await web.get("/admin/outbox?q=no-such-template")
    assert "pending-reader@example.com" not in missing.text
