"""Search parameters, words and keyset cursors, without a database."""

from __future__ import annotations

from datetime import UTC, datetime
from uuid import uuid4

import pytest

from marketplace.creators.models import Platform
from marketplace.errors import InvalidInput
from marketplace.gigs.search import SORTS, parse_gig_filters, query_terms, search_terms


def test_words() -> None:
    assert search_terms("Glow-Lab's Vitamin_C serum!", "a b") == {"glow", "lab", "vitamin", "serum"}
    assert query_terms("  Serum serum ROUTINE & (x) ") == ["serum", "routine", "x"]
    assert query_terms("'); DROP TABLE gig; --") == ["drop", "table", "gig"]
    assert len(query_terms(" ".join(f"w{i}" for i in range(20)))) == 8


def test_page_parameters_in_major_units_and_back() -> None:
    filters = parse_gig_filters({"fee_min": "50", "fee_max": "120.50", "platform": "tiktok", "country": "de",
                                 "apply_before": "2026-12-31", "sort": "fee"}, major_units=True)
    assert (filters.fee_min, filters.fee_max, filters.currency) == (5_000, 12_050, "USD")
    assert filters.platform is Platform.TIKTOK and filters.country == "DE"
    assert filters.apply_before == datetime(2026, 12, 31, 23, 59, 59, 999999, tzinfo=UTC)
    assert filters.as_query(major_units=True) == {"platform": "tiktok", "country": "DE", "currency": "USD",
                                                  "fee_min": "50", "fee_max": "120.50",
                                                  "apply_before": "2026-12-31", "sort": "fee"}
    yen = parse_gig_filters({"fee_min": "500", "currency": "jpy"}, major_units=True)
    assert (yen.fee_min, yen.currency) == (500, "JPY")
    api = parse_gig_filters({"fee_min": "5000"}, major_units=False)
    assert api.fee_min == 5_000


def test_bad_parameters_name_their_fields() -> None:
    with pytest.raises(InvalidInput) as caught:
        parse_gig_filters({"fee_min": "10", "fee_max": "5", "sort": "popular", "platform": "vine", "niche": "a b",
                           "currency": "BTC", "limit": "1000"}, major_units=True)
    assert {"fee_max", "sort", "platform", "niche", "currency", "limit"} <= set(caught.value.errors)


@pytest.mark.parametrize("sort", list(SORTS))
def test_cursors_round_trip_and_refuse_damage(sort) -> None:
    key = SORTS[sort]
    last_id = uuid4()
    value = datetime(2026, 11, 21, 12, 0, tzinfo=UTC) if key.kind == "datetime" else 12_345
    assert key.decode(key.encode(value, last_id)) == (value, last_id)
    if key.nullable:
        assert key.decode(key.encode(None, last_id)) == (None, last_id)
    for damaged in ("", "abc", key.encode(value, last_id)[:-4], "W10", "WyJ4IiwgInkiXQ"):
        with pytest.raises(InvalidInput):
            key.decode(damaged)
