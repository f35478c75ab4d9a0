"""Money is integers and upper-case currency codes, fees have a minimum per currency, bulk requests a maximum size."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

import pytest
import sqlalchemy as sa

from marketplace.applications.models import Application
from marketplace.gigs.models import Gig, GigStatus
from marketplace.gigs.validation import format_minor, minimum_fee
from tests.support.deals import bearer
from tests.support.marketplace import make_creator_with_account, make_gig


def gig_body(runtime: Any, **overrides: Any) -> dict[str, Any]:
    body = {
        "title": "Unboxing our serum", "brief": "Show it in your morning routine.",
        "base_fee": {"amount": 15000, "currency": "USD"}, "product_name": "Vitamin C serum",
        "apply_by": (runtime.clock.now() + timedelta(days=10)).isoformat(), "slots": 2,
        "deliverables": [{"platform": "tiktok", "kind": "video", "count": 1}],
    }
    return {**body, **overrides}


def fields(response: Any) -> dict[str, str]:
    assert response.status_code == 422, response.text[:400]
    assert response.headers["content-type"].startswith("application/problem+json")
    return {e["field"]: e["message"] for e in response.json()["errors"]}


def test_the_minimum_fee_follows_the_currency_exponent() -> None:
    assert (minimum_fee("USD"), minimum_fee("EUR"), minimum_fee("JPY"), minimum_fee("KRW")) == (100, 100, 100, 1000)
    assert (format_minor(100, "USD"), format_minor(100, "JPY"), format_minor(123_456, "EUR")) == (
        "1.00 USD", "100 JPY", "1,234.56 EUR")


@pytest.mark.parametrize(("money", "field", "message"), [
    ({"amount": "15000", "currency": "USD"}, "base_fee.amount", "whole numbers of minor units"),
    ({"amount": 150.5, "currency": "USD"}, "base_fee.amount", "whole numbers of minor units"),
    ({"amount": True, "currency": "USD"}, "base_fee.amount", "whole numbers of minor units"),
    ({"amount": 15000, "currency": "usd"}, "base_fee.currency", "upper-case ISO 4217"),
    ({"amount": 0, "currency": "USD"}, "base_fee.amount", "at least 1.00 USD (100 minor units)"),
    ({"amount": 99, "currency": "USD"}, "base_fee.amount", "at least 1.00 USD"),
    ({"amount": 99, "currency": "JPY"}, "base_fee.amount", "at least 100 JPY"),
])
async def test_gig_money_is_strict(client, runtime, people, db, money: dict[str, Any], field: str,
                                   message: str) -> None:
    headers = await bearer(runtime, await people.brand())
    response = await client.post("/api/v1/gigs", json=gig_body(runtime, base_fee=money), headers=headers)
    assert message in fields(response)[field]
    assert await db.scalar(sa.select(sa.func.count()).select_from(Gig)) == 0
    fine = await client.post("/api/v1/gigs", json=gig_body(runtime, base_fee={"amount": 100, "currency": "USD"}),
                             headers=headers)
    assert fine.status_code == 201, fine.text


async def test_a_zero_fee_draft_from_before_the_minimum_is_not_published(client, runtime, people, db) -> None:
    brand = await people.brand()
    gig = await make_gig(runtime, brand, publish=False)
    await db.execute(sa.update(Gig).where(Gig.id == gig.id).values(base_fee_amount=0))
    response = await client.post(f"/api/v1/gigs/{gig.id}/publish", headers=await bearer(runtime, brand))
    assert "at least 1.00 USD" in fields(response)["base_fee.amount"]
    assert (await db.get(Gig, gig.id)).status is GigStatus.DRAFT


@pytest.mark.parametrize(("offer", "field"), [
    ({"amount": 0, "currency": "USD"}, "counter_offer.amount"),
    ({"amount": 50, "currency": "USD"}, "counter_offer.amount"),
    ({"amount": "12000", "currency": "USD"}, "counter_offer.amount"),
    ({"amount": 12000, "currency": "usd"}, "counter_offer.currency"),
])
async def test_counter_offers_are_strict_and_at_least_the_minimum(client, runtime, people, db, offer: dict[str, Any],
                                                                  field: str) -> None:
    gig = await make_gig(runtime, await people.brand())
    made = await make_creator_with_account(runtime, people)
    response = await client.post(f"/api/v1/gigs/{gig.id}/applications", headers=await bearer(runtime, made.person),
                                 json={"pitch": "Love it", "social_account_id": str(made.account.id),
                                       "counter_offer": offer})
    assert field in fields(response)
    assert await db.scalar(sa.select(sa.func.count()).select_from(Application)) == 0


async def test_bulk_requests_over_the_maximum_are_a_422_even_when_the_ids_repeat(client, runtime, people) -> None:
    brand = await people.brand()
    headers = await bearer(runtime, brand)
    gig = await make_gig(runtime, brand)
    many = [str(uuid.uuid4()) for _ in range(100_000)]
    one_repeated = [str(uuid.uuid4())] * 100_000
    for ids in (many, one_repeated, many[:501]):
        accepted = await client.post(f"/api/v1/gigs/{gig.id}/applications/accept", headers=headers,
                                     json={"application_ids": ids})
        assert "At most 500" in fields(accepted)["application_ids"]
        invited = await client.post(f"/api/v1/gigs/{gig.id}/invitations", headers=headers, json={"creator_ids": ids})
        assert "at most 500" in fields(invited)["creator_ids"]
