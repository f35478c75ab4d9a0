"""Deal notices' emails are queued as message id + parameters and written at delivery, in the language and time zone
the recipient has then: Chinese for a zh_Hans reader, English for an English one, from the same step."""

from __future__ import annotations

import re
from typing import Any

import sqlalchemy as sa

from marketplace.accounts.models import User
from marketplace.bulk.services import BulkService, Selection, run_job
from marketplace.collaborations.states import CollabState
from marketplace.db import session_scope
from marketplace.jobs import REGISTRY
from marketplace.notifications.models import EmailStatus, Notification, OutboxEmail
from tests.support.deals import advance_deal, make_deal
from tests.support.escrow import actor_of

CJK = re.compile(r"[\u4e00-\u9fff]")


async def _speaks(db: Any, user_id: Any, locale: str, zone: str) -> None:
    await db.execute(sa.update(User).where(User.id == user_id).values(locale=locale, timezone=zone))
    await db.commit()


async def _delivered(runtime: Any, db: Any, address: str, category: str) -> OutboxEmail:
    """The one email of ``category`` to ``address``, after its delivery job ran (no SMTP here: it is stored)."""
    email_id = await db.scalar(sa.select(OutboxEmail.id).where(OutboxEmail.to_address == address,
                                                               OutboxEmail.category == category))
    assert email_id is not None, (address, category)
    assert await REGISTRY["mail.deliver_email"].function(runtime.job_context(), str(email_id)) == "stored"
    return await db.get(OutboxEmail, email_id, populate_existing=True)


async def test_a_signing_notice_is_written_in_each_readers_language_at_delivery(runtime, people, db) -> None:
    chinese_brand, english_brand = await people.brand(brand_name="光彩实验室"), await people.brand()
    creator = await people.creator(name="Ava Brooks")
    deals = [await make_deal(runtime, CollabState.OFFERED, brand=brand, creator=creator, product_included=False,
                             title="Glow serum launch") for brand in (chinese_brand, english_brand)]
    for deal in deals:
        await advance_deal(runtime, deal, CollabState.SIGNED)

    # Queued, not written: the step rendered no email.
    queued = (await db.scalars(sa.select(OutboxEmail).where(OutboxEmail.category == "deal.signed"))).all()
    assert len(queued) == 2 and all(e.subject == "" and e.body_text == "" and e.template == "notification"
                                    for e in queued)
    # The reader changes language after the step: the email follows the reader, as they are at delivery.
    await _speaks(db, chinese_brand.user_id, "zh_Hans", "Asia/Shanghai")
    await _speaks(db, english_brand.user_id, "en", "America/Los_Angeles")

    chinese = await _delivered(runtime, db, chinese_brand.email, "deal.signed")
    assert chinese.status is EmailStatus.STORED
    assert chinese.subject == "Ava Brooks 签署了“Glow serum launch”的合作", chinese.subject
    assert "你好" in chinese.body_text and "担保" in chinese.body_text and "在 PostPact 中打开" in chinese.body_text
    assert f"/collaborations/{deals[0].id}" in chinese.body_text

    english = await _delivered(runtime, db, english_brand.email, "deal.signed")
    assert english.subject == "Ava Brooks signed the deal for “Glow serum launch”", english.subject
    assert english.body_text.startswith("Hi ") and "Fund the escrow" in english.body_text
    assert not CJK.search(english.subject + english.body_text)
    # Delivered once: a second run of the job leaves it as it is.
    assert await REGISTRY["mail.deliver_email"].function(runtime.job_context(), str(english.id)) == "skipped"


async def test_a_bulk_steps_emails_are_queued_unwritten_and_delivered_per_reader(runtime, people, db) -> None:
    brand = await people.brand()
    chinese, english = await people.creator(), await people.creator()
    await _speaks(db, chinese.user_id, "zh_Hans", "Asia/Shanghai")
    deals = [await make_deal(runtime, CollabState.DRAFT_SUBMITTED, brand=brand, creator=creator,
                             product_included=False) for creator in (chinese, english)]
    actor = await actor_of(runtime, brand)
    async with session_scope(runtime.session_maker) as session:
        job = await BulkService(session, runtime.clock).start(actor, "approve_draft", {},
                                                              Selection(ids=[deal.id for deal in deals]))
    await run_job(runtime.job_context(), str(job.id))

    # The in-app notices are already in each reader's language; the emails wait for delivery.
    notes = {n.user_id: n for n in (await db.scalars(
        sa.select(Notification).where(Notification.kind == "deal.draft_approved"))).all()}
    assert set(notes) == {chinese.user_id, english.user_id}
    queued = (await db.scalars(sa.select(OutboxEmail).where(OutboxEmail.category == "deal.draft_approved"))).all()
    assert len(queued) == 2 and {e.user_id for e in queued} == {chinese.user_id, english.user_id}
    assert all(e.body_text == "" and e.context["title"]["$msg"] for e in queued)

    to_chinese = await _delivered(runtime, db, chinese.email, "deal.draft_approved")
    assert "通过了你为" in to_chinese.subject, to_chinese.subject  # "... approved your draft for ..."
    assert "你好" in to_chinese.body_text and "在 PostPact 中打开" in to_chinese.body_text, to_chinese.body_text
    to_english = await _delivered(runtime, db, english.email, "deal.draft_approved")
    assert "approved your draft" in to_english.subject and to_english.body_text.startswith("Hi ")
    assert "Open it in PostPact" in to_english.body_text and not CJK.search(to_english.body_text)
