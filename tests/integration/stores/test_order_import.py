"""Orders from a CSV for stores without webhooks: checked whole, applied once, re-uploads update."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from marketplace.stores.models import StoreOrder
from tests.support.deals import bearer

CSV = (
    "order_id,order_name,email,currency,total,subtotal,tax,refunded,discount_codes,landing_site,placed_at,cancelled\n"
    "A-1,#A-1,fan@example.com,USD,59.90,54.00,5.90,,AVA-GLOW15,/tee?ref=ava,2026-11-20T10:00:00Z,\n"
    "A-2,#A-2,other@example.com,USD,20.00,,,5.00,,,2026-11-20T11:00:00Z,no\n"
)


async def _custom_store(client: Any, headers: dict[str, str]) -> str:
    response = await client.post("/api/v1/stores", json={"platform": "custom", "name": "Shop"}, headers=headers)
    return str(response.json()["id"])


async def test_csv_orders_are_imported_once_and_updated_on_reupload(client: Any, brand_api: Any, db: Any) -> None:
    store_id = await _custom_store(client, brand_api.headers)
    url = f"/api/v1/stores/{store_id}/orders/import"
    headers = {**brand_api.headers, "Content-Type": "text/csv"}
    first = await client.post(url, content=CSV.encode(), headers=headers)
    assert first.status_code == 200, first.text
    assert first.json() == {"orders": 2, "created": 2}
    again = await client.post(url, content=CSV.replace("5.00,,,", "20.00,,,").encode(), headers=headers)
    assert again.json() == {"orders": 2, "created": 0}
    orders = {o.external_id: o for o in (await db.scalars(sa.select(StoreOrder))).all()}
    assert (orders["A-1"].total_amount, orders["A-1"].subtotal_amount, orders["A-1"].tax_amount) == (5990, 5400, 590)
    assert orders["A-1"].discount_codes == [{"code": "AVA-GLOW15"}] and orders["A-2"].refunded_amount == 2000


async def test_one_bad_row_imports_nothing_and_says_which(client: Any, brand_api: Any, db: Any) -> None:
    store_id = await _custom_store(client, brand_api.headers)
    bad = CSV + "A-3,,,USD,twelve,,,,,,,\n,,,,1.00,,,,,,,\n"
    response = await client.post(f"/api/v1/stores/{store_id}/orders/import", content=bad.encode(),
                                 headers={**brand_api.headers, "Content-Type": "text/csv"})
    assert response.status_code == 422
    errors = {e["field"]: e["message"] for e in response.json()["errors"]}
    assert set(errors) == {"row 4", "row 5"} and "total must be an amount" in errors["row 4"]
    assert await db.scalar(sa.select(sa.func.count()).select_from(StoreOrder)) == 0
    no_columns = await client.post(f"/api/v1/stores/{store_id}/orders/import", content=b"id,amount\n1,2\n",
                                   headers={**brand_api.headers, "Content-Type": "text/csv"})
    assert no_columns.status_code == 422 and "order_id" in no_columns.text
    not_csv = await client.post(f"/api/v1/stores/{store_id}/orders/import", json={"a": 1}, headers=brand_api.headers)
    assert not_csv.status_code in (415, 422)


async def test_csv_import_page_and_scoping(web: Any, client: Any, brand_api: Any, db: Any, people: Any,
                                           runtime: Any) -> None:
    store_id = await _custom_store(client, brand_api.headers)
    other = await bearer(runtime, await people.brand(brand_name="Other"))
    refused = await client.post(f"/api/v1/stores/{store_id}/orders/import", content=CSV.encode(),
                                headers={**other, "Content-Type": "text/csv"})
    assert refused.status_code == 404
    await web.sign_in(brand_api.person.email, brand_api.person.password)
    response = await web.post(f"/brand/stores/{store_id}/orders/import", {},
                              files={"file": ("orders.csv", CSV.encode(), "text/csv")})
    assert response.status_code == 303, response.text[:500]
    assert await db.scalar(sa.select(sa.func.count()).select_from(StoreOrder)) == 2
