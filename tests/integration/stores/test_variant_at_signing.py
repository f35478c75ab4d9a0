"""The creator picks the product's variant (only in-stock ones) while signing, on the deal page and through the API;
the choice joins the signed terms and the seeding order sends that variant without the brand choosing again."""

from __future__ import annotations

import re
from typing import Any

import sqlalchemy as sa

from marketplace.collaborations.models import Collaboration, CollaborationEvent
from marketplace.collaborations.states import CollabState
from marketplace.collaborations.terms import Terms, terms_hash
from marketplace.stores.models import SeedingOrder, SeedingStatus, SimulatedShopRecord, StoreVariant
from tests.support.deals import PASSWORD, advance_deal, bearer, make_deal


async def _deal_with_crewneck(client: Any, brand_api: Any, runtime: Any, queue: Any) -> tuple[Any, dict[str, Any]]:
    """An offered deal whose gig's product is the simulated shop's crewneck (S, M, L in stock; XL sold out)."""
    store = (await client.post("/api/v1/stores", json={"platform": "simulated", "name": "Demo shop"},
                               headers=brand_api.headers)).json()
    await queue.run_all(runtime.job_context())
    products = (await client.get(f"/api/v1/stores/{store['id']}/products", headers=brand_api.headers)).json()
    crewneck = next(p for p in products["products"] if p["title"] == "GlowLab crewneck")
    deal = await make_deal(runtime, CollabState.OFFERED, brand=brand_api.person)
    picked = await client.post(f"/api/v1/gigs/{deal.gig_id}/store-product", json={"store_product_id": crewneck["id"]},
                               headers=brand_api.headers)
    assert picked.status_code == 200, picked.text
    return deal, {v["option_values"][0]: v["id"] for v in crewneck["variants"]}


async def test_the_creator_picks_an_in_stock_size_on_the_deal_page_and_it_is_signed(
        client: Any, web: Any, brand_api: Any, db: Any, runtime: Any, queue: Any) -> None:
    deal, sizes = await _deal_with_crewneck(client, brand_api, runtime, queue)
    offered_hash = (await db.get(Collaboration, deal.id)).terms_hash
    await web.sign_in(deal.creator.email, PASSWORD)
    page = await web.get(deal.url)
    assert page.status_code == 200
    select = re.search(r'<select id="store-variant".*?</select>', page.text, re.S)
    assert select is not None
    assert re.findall(r'<option value="[0-9a-f-]+" >(\w+)</option>', select.group(0)) == ["S", "M", "L"]

    missing = await web.post(f"{deal.url}/sign", {"terms_hash": offered_hash})
    assert missing.status_code == 422 and "Choose your size (S, M, L)." in missing.text
    sold_out = await web.post(f"{deal.url}/sign", {"terms_hash": offered_hash, "store_variant_id": sizes["XL"]})
    assert sold_out.status_code == 422 and "That size is no longer in stock: choose one of S, M, L." in sold_out.text
    collab = await db.get(Collaboration, deal.id)
    assert collab.status is CollabState.OFFERED and collab.terms_hash == offered_hash

    signed = await web.post(f"{deal.url}/sign", {"terms_hash": offered_hash, "store_variant_id": sizes["M"]})
    assert signed.status_code in (302, 303), signed.text[:500]
    db.expire_all()
    collab = await db.get(Collaboration, deal.id)
    assert collab.status is CollabState.SIGNED
    assert collab.terms["store_variant_id"] == sizes["M"]
    assert collab.terms["product_variant"] == "GlowLab crewneck \N{EN DASH} Size M"
    # What was signed is the terms with the choice: its hash is the deal's hash now, and the terms still load.
    assert collab.terms_hash == terms_hash(collab.terms) != offered_hash
    assert Terms.from_dict(collab.terms).store_variant_id == sizes["M"]
    event = await db.scalar(sa.select(CollaborationEvent).where(CollaborationEvent.collaboration_id == deal.id,
                                                                CollaborationEvent.action == "sign"))
    assert event.payload["terms_hash"] == collab.terms_hash and event.payload["offered_terms_hash"] == offered_hash
    shown = await web.get(deal.url)
    assert "Chosen at signing: GlowLab crewneck \N{EN DASH} Size M" in shown.text

    # Funding queues the seeding order for the creator's size: the brand doesn't choose again.
    queue.jobs.clear()
    await advance_deal(runtime, deal, CollabState.FUNDED)
    await queue.run_all(runtime.job_context())
    seeding = await db.scalar(sa.select(SeedingOrder).where(SeedingOrder.collaboration_id == deal.id))
    assert seeding.status is SeedingStatus.CREATED and str(seeding.variant_id) == sizes["M"]
    order = await db.scalar(sa.select(SimulatedShopRecord).where(SimulatedShopRecord.kind == "order"))
    assert [line["variant_title"] for line in order.data["line_items"]] == ["M"]
    assert (await db.get(StoreVariant, seeding.variant_id)).inventory == 4


async def test_signing_through_the_api_takes_the_variant(client: Any, brand_api: Any, db: Any, runtime: Any,
                                                         queue: Any) -> None:
    deal, sizes = await _deal_with_crewneck(client, brand_api, runtime, queue)
    headers = await bearer(runtime, deal.creator)
    offered_hash = (await db.get(Collaboration, deal.id)).terms_hash
    missing = await client.post(f"/api/v1/collaborations/{deal.id}/sign", json={"terms_hash": offered_hash},
                                headers=headers)
    assert missing.status_code == 422
    assert "store_variant_id" in missing.text and "Choose your size (S, M, L)." in missing.text
    signed = await client.post(f"/api/v1/collaborations/{deal.id}/sign",
                               json={"terms_hash": offered_hash, "store_variant_id": sizes["L"]}, headers=headers)
    assert signed.status_code == 200, signed.text
    assert signed.json()["status"] == "signed"
    assert signed.json()["terms"]["product_variant"] == "GlowLab crewneck \N{EN DASH} Size L"
    assert signed.json()["terms_hash"] == terms_hash(signed.json()["terms"])
    # Another brand's variant id is not a choice.
    other = await make_deal(runtime, CollabState.OFFERED, brand=brand_api.person)
    await client.post(f"/api/v1/gigs/{other.gig_id}/store-product", json={"store_product_id": None},
                      headers=brand_api.headers)
    plain = await client.post(f"/api/v1/collaborations/{other.id}/sign",
                              json={"terms_hash": (await db.get(Collaboration, other.id)).terms_hash,
                                    "store_variant_id": sizes["S"]}, headers=await bearer(runtime, other.creator))
    assert plain.status_code == 200 and "product_variant" not in {k for k, v in plain.json()["terms"].items() if v}


async def test_a_product_without_options_asks_nothing(client: Any, web: Any, brand_api: Any, db: Any, runtime: Any,
                                                      queue: Any) -> None:
    store = (await client.post("/api/v1/stores", json={"platform": "simulated", "name": "Demo shop"},
                               headers=brand_api.headers)).json()
    await queue.run_all(runtime.job_context())
    products = (await client.get(f"/api/v1/stores/{store['id']}/products", headers=brand_api.headers)).json()
    balm = next(p for p in products["products"] if p["title"] == "Lip balm trio")
    deal = await make_deal(runtime, CollabState.OFFERED, brand=brand_api.person)
    await client.post(f"/api/v1/gigs/{deal.gig_id}/store-product", json={"store_product_id": balm["id"]},
                      headers=brand_api.headers)
    await web.sign_in(deal.creator.email, PASSWORD)
    page = await web.get(deal.url)
    assert page.status_code == 200 and 'id="store-variant"' not in page.text
    offered_hash = (await db.get(Collaboration, deal.id)).terms_hash
    signed = await web.post(f"{deal.url}/sign", {"terms_hash": offered_hash})
    assert signed.status_code in (302, 303)
    db.expire_all()
    collab = await db.get(Collaboration, deal.id)
    assert collab.status is CollabState.SIGNED and collab.terms_hash == offered_hash


async def test_a_disconnected_store_never_blocks_the_signature(client: Any, web: Any, brand_api: Any, db: Any,
                                                               runtime: Any, queue: Any) -> None:
    deal, _ = await _deal_with_crewneck(client, brand_api, runtime, queue)
    [store] = (await client.get("/api/v1/stores", headers=brand_api.headers)).json()
    assert (await client.delete(f"/api/v1/stores/{store['id']}", headers=brand_api.headers)).status_code == 204
    await web.sign_in(deal.creator.email, PASSWORD)
    assert 'id="store-variant"' not in (await web.get(deal.url)).text
    offered_hash = (await db.get(Collaboration, deal.id)).terms_hash
    signed = await web.post(f"{deal.url}/sign", {"terms_hash": offered_hash})
    assert signed.status_code in (302, 303), signed.text[:300]
    db.expire_all()
    collab = await db.get(Collaboration, deal.id)
    assert collab.status is CollabState.SIGNED and "store_variant_id" not in {k for k, v in collab.terms.items() if v}


async def test_the_brand_viewing_the_offer_is_not_shown_the_choice_nor_pays_for_it(
        client: Any, web: Any, brand_api: Any, runtime: Any, queue: Any) -> None:
    """The variant choice is the sign step's: the brand's view of the same offered deal neither shows it nor reads
    the store's products and variants for it."""
    deal, _ = await _deal_with_crewneck(client, brand_api, runtime, queue)
    await web.sign_in(brand_api.person.email, PASSWORD)
    seen: list[str] = []

    def record(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        seen.append(statement)

    engine = runtime.alchemy.get_engine().sync_engine
    sa.event.listen(engine, "before_cursor_execute", record)
    try:
        page = await web.get(deal.url)
    finally:
        sa.event.remove(engine, "before_cursor_execute", record)
    assert page.status_code == 200 and 'id="store-variant"' not in page.text
    assert not [s for s in seen if "store_variant" in s or "store_product" in s], seen
