"""Dispute pages for the parties and the admins, as a browser-like client sees them (with and without htmx)."""

from __future__ import annotations

import re

import sqlalchemy as sa

from escrow.states import EscrowState
from marketplace.collaborations.states import CollabState
from marketplace.disputes.models import Dispute, DisputeAttachment, DisputeDecision, DisputeStatus
from marketplace.notifications.models import Notification
from tests.support.deals import PNG_BYTES
from tests.support.disputes import audit_entries, decide, disputed_deal, funded
from tests.support.escrow import collab_state, hold_of, run_jobs


def is_fragment(html: str) -> bool:
    return "<html" not in html and "<body" not in html


async def signed_in(make_web, person):
    web = await make_web()
    await web.sign_in(person.email, person.password)
    return web


async def test_the_creator_opens_a_dispute_with_a_screenshot(make_web, runtime, db) -> None:
    deal = await funded(runtime, CollabState.SHIPPED)
    creator = await signed_in(make_web, deal.creator)

    page = await creator.get(f"/collaborations/{deal.id}/dispute")
    assert page.status_code == 200 and "Open a dispute" in page.text
    assert "The product never arrived" in page.text

    response = await creator.post(
        f"/collaborations/{deal.id}/dispute",
        {"reason": "product_not_received", "statement": "Tracking says delivered but nothing came; see photo."},
        files={"attachments": ("porch.png", PNG_BYTES, "image/png")})
    assert response.status_code == 303, response.text
    assert response.headers["location"] == f"/collaborations/{deal.id}/dispute"

    assert await collab_state(db, deal.id) is CollabState.DISPUTED
    assert (await hold_of(db, deal.id)).state is EscrowState.FROZEN
    [attachment] = list(await db.scalars(sa.select(DisputeAttachment)))
    shown = await creator.get(f"/collaborations/{deal.id}/dispute")
    assert "porch.png" in shown.text and "Open a dispute" not in shown.text
    file = await creator.get(f"/collaborations/{deal.id}/dispute/attachments/{attachment.id}")
    assert file.status_code == 200 and file.content == PNG_BYTES
    assert file.headers["x-content-type-options"] == "nosniff"

    brand = await signed_in(make_web, deal.brand)
    answer = await brand.post(f"/collaborations/{deal.id}/dispute/statements",
                              {"statement": "UPS confirms delivery to the porch at 14:02 with a photo."})
    assert answer.status_code == 303
    dispute = await db.scalar(sa.select(Dispute))
    assert dispute.responded_at is not None


async def test_bad_input_re_renders_the_form_with_and_without_htmx(make_web, runtime, db) -> None:
    deal = await funded(runtime, CollabState.SHIPPED)
    creator = await signed_in(make_web, deal.creator)

    plain = await creator.post(f"/collaborations/{deal.id}/dispute", {"reason": "", "statement": "short"})
    assert plain.status_code == 422 and "<html" in plain.text
    assert "Choose what the dispute is about." in plain.text and "at least 10 characters" in plain.text

    fragment = await creator.post(f"/collaborations/{deal.id}/dispute",
                                  {"reason": "other", "statement": "Something else went wrong here."},
                                  files={"attachments": ("evil.pdf", b"MZ\x90\x00 not a pdf", "application/pdf")},
                                  htmx=True)
    assert fragment.status_code == 422 and is_fragment(fragment.text) and 'id="dispute-panel"' in fragment.text
    assert "evil.pdf" in fragment.text
    assert await collab_state(db, deal.id) is CollabState.SHIPPED
    assert await db.scalar(sa.select(sa.func.count()).select_from(Dispute)) == 0


async def test_outsiders_get_404_and_a_disputed_deal_cant_be_disputed_again(make_web, runtime, people, db) -> None:
    deal, _ = await disputed_deal(runtime, CollabState.VERIFIED)
    outsider = await signed_in(make_web, await people.creator())
    assert (await outsider.get(f"/collaborations/{deal.id}/dispute")).status_code == 404
    response = await outsider.post(f"/collaborations/{deal.id}/dispute",
                                   {"reason": "other", "statement": "Let me in on this one please."})
    assert response.status_code == 404
    anonymous = await make_web()
    redirect = await anonymous.get(f"/collaborations/{deal.id}/dispute")
    assert redirect.status_code == 303 and redirect.headers["location"].startswith("/signin")

    creator = await signed_in(make_web, deal.creator)
    again = await creator.post(f"/collaborations/{deal.id}/dispute",
                               {"reason": "payment_withheld", "statement": "They won't approve my post at all."})
    assert again.status_code == 409 and "disputed" in again.text
    assert await db.scalar(sa.select(sa.func.count()).select_from(Dispute)) == 1


async def test_admin_decides_after_confirming_the_password(make_web, runtime, people, db, clock) -> None:
    deal, dispute_id = await disputed_deal(runtime, CollabState.VERIFIED)
    admin = await people.admin()
    web = await signed_in(make_web, admin)

    listing = await web.get("/admin/disputes")
    assert listing.status_code == 200 and deal.brand.email not in listing.text and "Glow serum launch" in listing.text
    case = await web.get(f"/admin/disputes/{dispute_id}")
    assert case.status_code == 200
    for section in ("Terms as agreed", "Everything, in time order", "Messages", "Shipping", "Drafts and reviews",
                    "Post verification", "Escrow", "Statements"):
        assert section in case.text, section
    assert "Dispute opened" in case.text and "Draft 1 submitted" in case.text

    clock.advance(minutes=16)
    stale = await web.post(f"/admin/disputes/{dispute_id}/decision",
                           {"outcome": "split", "creator_amount": "50.00", "rationale": "Half the brief was met."})
    assert stale.status_code == 303
    assert stale.headers["location"] == f"/admin/reauth?next=/admin/disputes/{dispute_id}"
    assert (await db.get(Dispute, dispute_id)).status is DisputeStatus.OPEN

    wrong = await web.post("/admin/reauth", {"password": "not-my-password", "next": f"/admin/disputes/{dispute_id}"})
    assert wrong.status_code == 422 and "not right" in wrong.text
    ok = await web.post("/admin/reauth", {"password": admin.password, "next": f"/admin/disputes/{dispute_id}"})
    assert ok.status_code == 303 and ok.headers["location"] == f"/admin/disputes/{dispute_id}"

    bad = await web.post(f"/admin/disputes/{dispute_id}/decision",
                         {"outcome": "split", "creator_amount": "500.00", "rationale": "Half the brief was met."},
                         htmx=True)
    assert bad.status_code == 422 and is_fragment(bad.text) and "between" in bad.text

    done = await web.post(f"/admin/disputes/{dispute_id}/decision",
                          {"outcome": "split", "creator_amount": "50.00", "rationale": "Half the brief was met."})
    assert done.status_code == 303
    await run_jobs(runtime)
    decision = await db.scalar(sa.select(DisputeDecision))
    assert decision.outcome.value == "split" and decision.creator_amount == 5_000
    assert (await hold_of(db, deal.id)).state is EscrowState.SETTLED

    other_admin = await people.admin()
    late = await signed_in(make_web, other_admin)
    refused = await late.post(f"/admin/disputes/{dispute_id}/decision",
                              {"outcome": "release", "rationale": "The post was fine actually."})
    assert refused.status_code == 409 and "Already decided by" in refused.text
    assert len(await audit_entries(db, "dispute.decide")) == 1

    creator = await signed_in(make_web, deal.creator)
    seen = await creator.get(f"/collaborations/{deal.id}/dispute")
    assert "Half the brief was met." in seen.text and re.search(r"Decision: Split", seen.text)


async def test_admin_notes_are_audited_and_hidden_from_parties(make_web, runtime, people, db) -> None:
    deal, dispute_id = await disputed_deal(runtime, CollabState.VERIFIED)
    admin = await signed_in(make_web, await people.admin())
    response = await admin.post(f"/admin/disputes/{dispute_id}/notes", {"note": "Called the brand; waiting."})
    assert response.status_code == 303
    [entry] = await audit_entries(db, "dispute.note")
    assert "Called the brand" in entry.summary
    creator = await signed_in(make_web, deal.creator)
    assert "Called the brand" not in (await creator.get(f"/collaborations/{deal.id}/dispute")).text


async def test_after_a_split_every_page_and_message_shows_the_split_amounts(make_web, runtime, people, db) -> None:
    """The redesign's third bug: after a split of $45 / $32.40 on a $75 fee the creator was told "$75.00 is ready for
    you" and the case page still said "creator's fee still to pay $75.00"."""
    deal, dispute_id = await disputed_deal(runtime, CollabState.VERIFIED, onboarded=False, fee_amount=7_500)
    admin = await people.admin()
    decision = await decide(runtime, admin, dispute_id, "split", creator_amount=4_500)
    assert (decision.creator_amount, decision.brand_amount) == (4_500, 3_240)  # $75 + 8%: 45 + 3.60 fee, 32.40 back

    told = (await db.scalars(sa.select(Notification.body).where(
        Notification.user_id == deal.creator.user_id, Notification.kind == "payout.setup_needed"))).all()
    assert told and all("$45.00 is ready for you" in body for body in told), told
    web = await signed_in(make_web, admin)
    page = (await web.get(f"/admin/disputes/{dispute_id}")).text
    assert "$45.00 to the creator, $32.40 back to the brand" in page
    assert "still to pay $75.00" not in page
