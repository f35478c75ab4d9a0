"""The attribution table and the commission base, rule by rule, without a database."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest

from marketplace.sales.attribution import (
    RULES,
    Candidates,
    DealCode,
    OrderFacts,
    attribute,
    commission,
    commission_base,
    ref_in,
)

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
AVA, BEN = uuid.uuid4(), uuid.uuid4()


def deal(collab: uuid.UUID, code: str, slug: str, *, email: str = "creator@x.test", currency: str = "USD",
         last_click: datetime | None = None, until: datetime | None = None) -> DealCode:
    return DealCode(collab, code, slug, email, currency, T0, until, timedelta(days=30), last_click)


def candidates(*deals: DealCode) -> Candidates:
    return Candidates({d.code: d for d in deals}, {d.slug: d for d in deals})


def order(*, codes: tuple[str, ...] = (), landing: str | None = None, email: str = "buyer@x.test",
          currency: str = "USD", placed: datetime = T0 + timedelta(days=2)) -> OrderFacts:
    return OrderFacts(email, currency, placed, codes, landing)


ava = deal(AVA, "AVA-GLOW15", "ava-1a2b3c4d", email="ava@creators.test", last_click=T0 + timedelta(days=1))
ben = deal(BEN, "BEN-GLOW15", "ben-5e6f7a8b", email="ben@creators.test", last_click=T0 + timedelta(days=1))
BOTH = candidates(ava, ben)

# (case, order, expected deal, expected reason)
TABLE = [
    ("our code", order(codes=("ava-glow15",)), AVA, "code"),
    ("two of our codes: the first listed wins", order(codes=("BEN-GLOW15", "AVA-GLOW15")), BEN, "code"),
    ("code beats another deal's link", order(codes=("AVA-GLOW15",), landing="/?ref=ben-5e6f7a8b"), AVA, "code"),
    ("foreign code, our link", order(codes=("SUMMER10",), landing="/products/x?utm_source=postpact&ref=ben-5e6f7a8b"),
     BEN, "link"),
    ("link through Shopify's /discount redirect", order(
        landing="/discount/BEN-GLOW15?redirect=%2Fproducts%2Fserum%3Futm_source%3Dpostpact%26ref%3Dben-5e6f7a8b"),
     BEN, "link"),
    ("self-purchase with the code", order(codes=("AVA-GLOW15",), email="AVA@creators.test"), None, "self_purchase"),
    ("self-purchase by link", order(landing="/?ref=ava-1a2b3c4d", email="ava@creators.test"), None, "self_purchase"),
    ("before the code existed", order(codes=("AVA-GLOW15",), placed=T0 - timedelta(hours=1)), None,
     "outside_validity"),
    ("currency mismatch", order(codes=("AVA-GLOW15",), currency="EUR"), None, "currency_mismatch"),
    ("link clicked more than 30 days before", order(landing="/?ref=ava-1a2b3c4d", placed=T0 + timedelta(days=40)),
     None, "link_expired"),
    ("unknown code", order(codes=("WELCOME5",)), None, "unknown_code"),
    ("nothing of ours", order(landing="/collections/all"), None, "no_match"),
]


@pytest.mark.parametrize(("case", "facts", "expected", "reason"), TABLE, ids=[row[0] for row in TABLE])
def test_attribution_table(case: str, facts: OrderFacts, expected: uuid.UUID | None, reason: str) -> None:
    decision = attribute(facts, BOTH)
    assert (decision.collaboration_id, decision.reason) == (expected, reason), decision.detail
    assert decision.detail


def test_the_rules_are_one_ordered_table_ending_in_a_catch_all() -> None:
    assert [name for name, _ in RULES] == ["code", "link", "unknown_code", "no_match"]


def test_two_codes_detail_names_the_loser() -> None:
    decision = attribute(order(codes=("BEN-GLOW15", "AVA-GLOW15")), BOTH)
    assert "first of our codes" in decision.detail and "AVA-GLOW15" in decision.detail


def test_code_after_the_deal_ended_is_outside_validity() -> None:
    ended = deal(AVA, "AVA-GLOW15", "ava-1a2b3c4d", until=T0 + timedelta(days=1))
    assert attribute(order(codes=("AVA-GLOW15",)), candidates(ended)).reason == "outside_validity"


def test_ref_is_found_plain_encoded_and_twice_encoded() -> None:
    assert ref_in("/p?a=1&ref=abcd-1234") == "abcd-1234"
    assert ref_in("/discount/X?redirect=%2Fp%3Fref%3Dabcd-1234") == "abcd-1234"
    assert ref_in("/discount/X?redirect=%252Fp%253Fref%253Dabcd-1234") == "abcd-1234"
    assert ref_in("/p?preference=1") is None and ref_in(None) is None


BASES = [
    # merchandise, total, refunded, cancelled, gift cards -> base, note
    (10_000, 11_500, 0, False, 0, 10_000, ""),
    (10_000, 11_500, 5_750, False, 0, 5_000, "refunded 5750 of 11500"),
    (10_000, 11_500, 11_500, False, 0, 0, "fully refunded"),
    (10_000, 11_500, 20_000, False, 0, 0, "refund 20000 larger than the order (11500)"),
    (10_000, 11_500, 0, True, 0, 0, "cancelled"),
    (10_000, 11_500, 0, False, 2_500, 7_500, ""),
    (0, 0, 3_000, False, 0, 0, ""),  # a refund before its order: nothing yet
]


@pytest.mark.parametrize(("merchandise", "total", "refunded", "cancelled", "gift", "base", "note"), BASES)
def test_commission_base(merchandise: int, total: int, refunded: int, cancelled: bool, gift: int, base: int,
                         note: str) -> None:
    result = commission_base(merchandise=merchandise, total=total, refunded=refunded, cancelled=cancelled,
                             gift_cards=gift)
    assert (result.amount, result.note) == (base, note)


def test_commission_rounds_down_to_the_minor_unit() -> None:
    assert commission(4_250, 1_250) == 531  # 531.25
    assert commission(0, 1_250) == 0 and commission(1_000, 0) == 0


def test_a_click_in_the_same_second_as_the_order_counts_because_stores_report_whole_seconds() -> None:
    placed = T0 + timedelta(days=2)  # the store says 12:00:00; the click was at 12:00:00.700
    same_second = candidates(deal(AVA, "AVA-GLOW15", "ava-1a2b3c4d", last_click=placed + timedelta(milliseconds=700)))
    decision = attribute(order(landing="/?ref=ava-1a2b3c4d", placed=placed), same_second)
    assert (decision.collaboration_id, decision.reason) == (AVA, "link")

    next_second = candidates(deal(AVA, "AVA-GLOW15", "ava-1a2b3c4d", last_click=placed + timedelta(seconds=1)))
    decision = attribute(order(landing="/?ref=ava-1a2b3c4d", placed=placed), next_second)
    assert (decision.collaboration_id, decision.reason) == (None, "link_expired")
