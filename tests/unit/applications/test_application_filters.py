"""The brand's application list parameters, without a database."""

from __future__ import annotations

import uuid

import pytest

from marketplace.applications.models import ApplicationStatus
from marketplace.applications.services import APPLICATION_SORTS, parse_application_filters
from marketplace.errors import InvalidInput


def test_filters_round_trip() -> None:
    filters = parse_application_filters({"status": "pending", "platform": "tiktok", "followers_min": "5000",
                                         "sort": "followers", "limit": "100"})
    assert filters.status is ApplicationStatus.PENDING and filters.limit == 100
    assert filters.as_query() == {"status": "pending", "platform": "tiktok", "followers_min": "5000",
                                  "sort": "followers"}


def test_bad_filters_name_their_fields() -> None:
    with pytest.raises(InvalidInput) as caught:
        parse_application_filters({"status": "maybe", "sort": "vibes", "limit": "5000", "followers_min": "-1"})
    assert {"status", "sort", "limit", "followers_min"} <= set(caught.value.errors)
    wrong_kind = APPLICATION_SORTS["newest"].encode(12, uuid.uuid4())  # a number where a time belongs
    with pytest.raises(InvalidInput):
        parse_application_filters({"cursor": wrong_kind})
