"""Property test: random submissions of the HTML apply form (``POST /gigs/{id}/apply``, signed-in creator, valid CSRF
token) never cause a 500; a refused application comes back with its errors in the apply section and writes
nothing."""

from __future__ import annotations

import uuid
from typing import Any

import sqlalchemy as sa
from hypothesis import strategies as st

from marketplace.applications.models import Application, ApplicationStatus
from marketplace.applications.services import ApplicationService
from marketplace.db import session_scope
from marketplace.notifications.models import Notification, OutboxEmail
from tests.support.marketplace import actor_for, add_social_account, make_creator_with_account, make_gig
from tests.support.properties import FIELD_ERROR, post_form, run_property

EXAMPLES = 30  # each example renders the gig page (~0.1 s on PostgreSQL); 30 keeps the test to a few seconds

odd_values = st.sampled_from([
    "", " ", "\x00", "a\x00b", "\ud800", b"\xff\xfe", "-1", "0", "-0", "1e9", "NaN", "Infinity", "1_000", "12.345",
    "1,000.50", "\uff11\uff12", "\u0661\u0662", "999999999999", "999999999999.99", "9999999999999", "9" * 5000,
    "00000000-0000-0000-0000-000000000000", "{" + "0" * 32 + "}", "urn:uuid:" + "0" * 32, "<script>x</script>",
    "x" * 25_000,
])
form_text = st.one_of(st.text(max_size=40), odd_values)
amounts = st.decimals(min_value=-(10**13), max_value=10**13, places=3, allow_nan=False).map(str)






async def snapshot(db) -> tuple:
    applications = [(a.id, str(a.status), a.pitch, a.counter_offer_amount, a.social_account_id)
                    for a in await db.scalars(sa.select(Application).order_by(Application.id))]
    counts = [await db.scalar(sa.select(sa.func.count(m.id))) for m in (Notification, OutboxEmail)]
    return applications, counts


async def test_random_apply_form_submissions(web, runtime, people, db) -> None:
    brand = await people.brand()
    gig = await make_gig(runtime, brand)  # open, one TikTok video, USD
    creator = await make_creator_with_account(runtime, people)
    youtube = await add_social_account(runtime, creator.person, platform="youtube")
    someone_else = await make_creator_with_account(runtime, people)
    await web.sign_in(creator.person.email, creator.person.password)
    actor = await actor_for(runtime, creator.person)

    good = {"pitch": "I review skincare every week; my audience loves routines.",
            "social_account_id": str(creator.account.id), "counter_offer.amount": ""}
    field_values = {
        "pitch": st.one_of(st.text(max_size=120), form_text),
        "social_account_id": st.one_of(
            st.sampled_from([str(creator.account.id).upper(), str(youtube.id), str(someone_else.account.id),
                             str(uuid.UUID(int=0)), str(gig.id)]),
            form_text),
        "counter_offer.amount": st.one_of(amounts, form_text),
    }

    @st.composite
    def forms(draw: st.DrawFn) -> list[tuple[str, Any]]:
        """The good form with some fields dropped or changed (shrinks towards the good form), plus repeats."""
        values: dict[str, Any] = dict(good)
        for name in draw(st.lists(st.sampled_from(sorted(field_values)), unique=True)):
            value = draw(st.one_of(st.none(), field_values[name]))
            if value is None:
                values.pop(name)
            else:
                values[name] = value
        extra = draw(st.lists(st.tuples(st.sampled_from([*field_values, "counter_offer.currency", "x"]),
                                        form_text), max_size=2))
        return [*values.items(), *extra]

    outcomes = {"sent": 0, "refused": 0}

    async def check(pairs: list[tuple[str, Any]]) -> None:
        before = await snapshot(db)
        response = await post_form(web, f"/gigs/{gig.id}/apply", pairs)
        assert response.status_code < 500, (pairs, response.text[:500])
        if response.status_code == 303:
            assert response.headers["location"] == f"/gigs/{gig.id}"
            application = await db.scalar(sa.select(Application).where(
                Application.gig_id == gig.id, Application.creator_id == creator.creator_id))
            assert application is not None and application.status is ApplicationStatus.PENDING
            assert application.social_account_id == creator.account.id
            outcomes["sent"] += 1
            # Withdraw again, so the next example applies to the same gig from the same starting point.
            async with session_scope(runtime.session_maker) as session:
                await ApplicationService(session, runtime).withdraw(actor, application.id)
        else:
            assert 400 <= response.status_code < 500, response.status_code
            assert response.headers["content-type"].startswith("text/html"), response.headers["content-type"]
            assert 'id="apply"' in response.text, response.text[:500]
            assert FIELD_ERROR.search(response.text), (pairs, response.text[:2000])
            assert await snapshot(db) == before, pairs
            outcomes["refused"] += 1

    await run_property(forms(), check, examples=EXAMPLES)
    # The generator reaches both sides: applications that are sent and ones that are refused.
    assert outcomes["sent"] and outcomes["refused"], outcomes
