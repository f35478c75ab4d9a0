"""Creator handles and directory parameters, without a database."""

from __future__ import annotations

import pytest

from marketplace.creators.models import Platform
from marketplace.creators.services import HANDLE_RE, normalise_handle, parse_directory_filters
from marketplace.errors import InvalidInput


@pytest.mark.parametrize(("raw", "stored"), [("@Glow.With.Ava", "glow.with.ava"), ("  @ ava_b ", "ava_b"),
                                             ("AVA-B", "ava-b")])
def test_handles_are_stored_lower_case_without_at(raw, stored) -> None:
    assert normalise_handle(raw) == stored and HANDLE_RE.match(stored)


def test_handles_with_spaces_or_symbols_do_not_match() -> None:
    assert not HANDLE_RE.match(normalise_handle("two words"))
    assert not HANDLE_RE.match(normalise_handle("emoji😀"))


def test_directory_engagement_is_a_percentage_on_pages_and_basis_points_in_the_api() -> None:
    page = parse_directory_filters({"engagement_min": "3.5", "platform": "instagram", "country": "de"}, percent=True)
    assert (page.engagement_min_bps, page.platform, page.country) == (350, Platform.INSTAGRAM, "DE")
    assert page.as_query(percent=True) == {"engagement_min": "3.5", "platform": "instagram", "country": "DE"}
    api = parse_directory_filters({"engagement_min": "350"}, percent=False)
    assert api.engagement_min_bps == 350 and api.as_query(percent=False) == {"engagement_min": "350"}


def test_bad_directory_parameters() -> None:
    with pytest.raises(InvalidInput) as caught:
        parse_directory_filters({"followers_min": "9", "followers_max": "2", "niche": "two words", "sort": "age",
                                 "cursor": "garbage"}, percent=True)
    assert {"followers_max", "niche", "sort"} <= set(caught.value.errors)
