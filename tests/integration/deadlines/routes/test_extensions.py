"""Extension requests through the pages: ask, accept (the due date moves and the ghosting time with it), decline,
withdraw; bad input re-renders with 422; outsiders get 404 and wrong roles 403, with nothing changed."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import sqlalchemy as sa

from marketplace.brands.models import BrandRole
from marketplace.collaborations.models import CollaborationEvent, ExtensionRequest
from marketplace.collaborations.states import CollabState
from marketplace.deadlines.models import DeadlineWatch
from marketplace.deadlines.rules import earliest_check_at, ghost_at
from tests.conftest import START
from tests.support.deadlines import load, make_deal

D = timedelta(days=1)


def local(value: Any) -> str:
    return value.strftime("%Y-%m-%dT%H:%M")


async def signed_in(make_web: Any, person: Any) -> Any:
    web = await make_web()
    await web.sign_in(person.email, person.password)
    return web


async def requests_of(db: Any, deal: Any) -> list[ExtensionRequest]:
    return list(
        (
            await db.scalars(
                sa.select(ExtensionRequest).where(ExtensionRequest.collaboration_id == deal.collaboration_id)
            )
        ).all()
    )


async def test_creator_asks_brand_accepts_and_the_post_deadline_moves(
    runtime: Any, people: Any, clock: Any, make_web: Any, db: Any
) -> None:
    deal = await make_deal(runtime, people, until=CollabState.RECEIVED, start=START)
    before = await load(runtime, deal.collaboration_id)
    old_post_due = before.due("post")
    assert old_post_due is not None
    new_due = (old_post_due + 5 * D).replace(second=0, microsecond=0)
    clock.set(START + 3 * D)

    creator = await signed_in(make_web, deal.creator)
    page = await creator.get(f"/collaborations/{deal.collaboration_id}/extensions")
    assert page.status_code == 200 and "Ask for more time" in page.text
    response = await creator.post(
        f"/collaborations/{deal.collaboration_id}/extensions",
        {"stage": "post", "proposed_due_at": local(new_due), "reason": "The parcel was held at customs."},
    )
    assert response.status_code == 303
    [request] = await requests_of(db, deal)
    assert (request.stage, request.requested_by_party, request.status.value) == ("post", "creator", "pending")
    assert request.current_due_at == old_post_due and request.proposed_due_at == new_due

    brand = await signed_in(make_web, deal.brand)
    fragment = await brand.get(f"/collaborations/{deal.collaboration_id}/extensions", htmx=True)
    assert fragment.status_code == 200 and "<html" not in fragment.text and "customs" in fragment.text
    response = await brand.post(f"/collaborations/{deal.collaboration_id}/extensions/{request.id}/accept")
    assert response.status_code == 303

    after = await load(runtime, deal.collaboration_id)
    assert after.due("post") == new_due
    assert ghost_at(after) == new_due + timedelta(hours=72)
    assert after.due_overrides == {"post": new_due.isoformat()}
    [request] = await requests_of(db, deal)
    assert request.status.value == "accepted" and request.decided_by_id == deal.brand.user_id
    event = await db.scalar(
        sa.select(CollaborationEvent).where(
            CollaborationEvent.collaboration_id == deal.collaboration_id, CollaborationEvent.action == "extend_deadline"
        )
    )
    assert event.actor_party == "brand" and event.payload["to"] == new_due.isoformat()
    watch = await db.scalar(sa.select(DeadlineWatch).where(DeadlineWatch.collaboration_id == deal.collaboration_id))
    assert watch.check_at == earliest_check_at(after)


async def test_declined_and_withdrawn_requests_leave_the_deadline(
    runtime: Any, people: Any, clock: Any, make_web: Any, db: Any
) -> None:
    deal = await make_deal(runtime, people, until=CollabState.FUNDED, start=START)
    ship_due = (await load(runtime, deal.collaboration_id)).due("ship")
    assert ship_due is not None
    brand = await signed_in(make_web, deal.brand)
    creator = await signed_in(make_web, deal.creator)
    url = f"/collaborations/{deal.collaboration_id}/extensions"
    assert (await brand.post(url, {"stage": "ship", "proposed_due_at": local(ship_due + 2 * D)})).status_code == 303
    [request] = await requests_of(db, deal)
    # Nobody decides on their own request.
    assert (await brand.post(f"{url}/{request.id}/accept")).status_code == 403
    assert (await creator.post(f"{url}/{request.id}/withdraw")).status_code == 403
    assert (await creator.post(f"{url}/{request.id}/decline")).status_code == 303
    assert (await load(runtime, deal.collaboration_id)).due("ship") == ship_due
    assert (await creator.post(f"{url}/{request.id}/accept")).status_code == 409  # already decided

    assert (await brand.post(url, {"stage": "ship", "proposed_due_at": local(ship_due + D)})).status_code == 303
    second = next(r for r in await requests_of(db, deal) if r.status.value == "pending")
    assert (await brand.post(url, {"stage": "ship", "proposed_due_at": local(ship_due + 3 * D)})).status_code == 409
    assert (await brand.post(f"{url}/{second.id}/withdraw")).status_code == 303
    statuses = sorted(r.status.value for r in await requests_of(db, deal))
    assert statuses == ["declined", "withdrawn"]
    assert (await load(runtime, deal.collaboration_id)).due_overrides == {}


async def test_bad_input_re_renders_the_form_with_422_and_writes_nothing(
    runtime: Any, people: Any, make_web: Any, db: Any
) -> None:
    deal = await make_deal(runtime, people, until=CollabState.RECEIVED, start=START)
    post_due = (await load(runtime, deal.collaboration_id)).due("post")
    assert post_due is not None
    creator = await signed_in(make_web, deal.creator)
    url = f"/collaborations/{deal.collaboration_id}/extensions"
    cases = [
        ({"stage": "post", "proposed_due_at": local(post_due - D)}, "must be after the current one"),
        ({"stage": "post", "proposed_due_at": "next tuesday"}, "must be a date and time"),
        ({"stage": "post", "proposed_due_at": local(post_due + 90 * D)}, "at most 60 days"),
        ({"stage": "approve", "proposed_due_at": local(post_due + D)}, "Choose one of the deadlines"),
        ({"stage": "post", "proposed_due_at": ""}, "required"),
    ]
    for data, message in cases:
        response = await creator.post(url, data)
        assert response.status_code == 422, (data, response.status_code)
        assert message in response.text
        htmx = await creator.post(url, data, htmx=True)
        assert htmx.status_code == 422 and "<html" not in htmx.text and message in htmx.text
    assert await requests_of(db, deal) == []


async def test_outsiders_get_404_and_finance_members_403_with_nothing_changed(
    runtime: Any, people: Any, make_web: Any, db: Any
) -> None:
    deal = await make_deal(runtime, people, until=CollabState.RECEIVED, start=START)
    post_due = (await load(runtime, deal.collaboration_id)).due("post")
    assert post_due is not None
    url = f"/collaborations/{deal.collaboration_id}/extensions"
    creator = await signed_in(make_web, deal.creator)
    assert (await creator.post(url, {"stage": "post", "proposed_due_at": local(post_due + D)})).status_code == 303
    [request] = await requests_of(db, deal)

    other_brand = await signed_in(make_web, await people.brand(brand_name="Other Co"))
    other_creator = await signed_in(make_web, await people.creator())
    for outsider in (other_brand, other_creator):
        assert (await outsider.get(url)).status_code == 404
        assert (await outsider.post(url, {"stage": "post", "proposed_due_at": local(post_due + D)})).status_code == 404
        assert (await outsider.post(f"{url}/{request.id}/accept")).status_code == 404
    finance = await signed_in(make_web, await people.brand(brand_id=deal.brand.brand_id, role=BrandRole.FINANCE))
    assert (await finance.get(url)).status_code == 200
    assert (await finance.post(f"{url}/{request.id}/accept")).status_code == 403
    admin = await signed_in(make_web, await people.admin())
    assert (await admin.get(url)).status_code == 200
    assert (await admin.post(f"{url}/{request.id}/accept")).status_code == 403
    anonymous = await make_web()
    assert (await anonymous.get(url)).status_code in (302, 303)

    [request] = await requests_of(db, deal)
    assert request.status.value == "pending"
    assert (await load(runtime, deal.collaboration_id)).due_overrides == {}
