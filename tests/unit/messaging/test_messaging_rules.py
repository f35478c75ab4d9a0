"""Messaging rules without a database: message text, who reads as which side, who may write, email groups."""

from __future__ import annotations

import uuid

import pytest
from hypothesis import given
from hypothesis import strategies as st

from marketplace.accounts.auth import Actor
from marketplace.accounts.models import UserKind
from marketplace.brands.models import BrandRole
from marketplace.errors import InvalidInput
from marketplace.messaging.queries import decode_cursor, encode_cursor
from marketplace.messaging.services import (
    MESSAGE_MAX_CHARS,
    Party,
    Subject,
    clean_body,
    reader_party,
    write_refusal,
)
from marketplace.notifications.services import ALWAYS_EMAILED, EMAIL_GROUPS, email_group

BRAND = uuid.uuid4()
OTHER_BRAND = uuid.uuid4()
CREATOR = uuid.uuid4()
OTHER_CREATOR = uuid.uuid4()


def brand_actor(role: BrandRole = BrandRole.OWNER, brand_id: uuid.UUID = BRAND, suspended: bool = False) -> Actor:
    return Actor(uuid.uuid4(), "b@example.test", UserKind.BRAND, "Bea", brand_id=brand_id, brand_role=role,
                 suspended=suspended)


def creator_actor(creator_id: uuid.UUID = CREATOR, suspended: bool = False) -> Actor:
    return Actor(uuid.uuid4(), "c@example.test", UserKind.CREATOR, "Cas", creator_id=creator_id, suspended=suspended)


def admin_actor() -> Actor:
    return Actor(uuid.uuid4(), "a@example.test", UserKind.ADMIN, "Ada")


def test_body_is_trimmed_and_line_endings_normalised() -> None:
    assert clean_body("  Hello\r\nthere\r  ") == "Hello\nthere"


@pytest.mark.parametrize("raw", ["", "   ", "\n\t\r\n"])
def test_empty_body_is_a_field_error(raw: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        clean_body(raw)
    assert "body" in caught.value.errors


def test_body_length_limit_is_inclusive() -> None:
    assert len(clean_body("x" * MESSAGE_MAX_CHARS)) == MESSAGE_MAX_CHARS
    with pytest.raises(InvalidInput) as caught:
        clean_body("x" * (MESSAGE_MAX_CHARS + 1))
    assert "at most 5,000" in caught.value.errors["body"]


@pytest.mark.parametrize("raw", ["nul \x00 inside", "lone surrogate \ud800 here", 42, None, ["a"]])
def test_unstorable_or_non_text_bodies_are_field_errors(raw: object) -> None:
    with pytest.raises(InvalidInput) as caught:
        clean_body(raw)
    assert set(caught.value.errors) == {"body"}


@given(st.text(max_size=200))
def test_clean_body_either_returns_storable_text_or_a_field_error(raw: str) -> None:
    try:
        text = clean_body(raw)
    except InvalidInput as exc:
        assert set(exc.errors) == {"body"}
        return
    assert text == text.strip() and text and "\x00" not in text and "\r" not in text
    text.encode("utf-8")


def test_reader_party_per_side() -> None:
    assert reader_party(creator_actor(), BRAND, CREATOR) is Party.CREATOR
    assert reader_party(brand_actor(BrandRole.FINANCE), BRAND, CREATOR) is Party.BRAND
    assert reader_party(admin_actor(), BRAND, CREATOR) is Party.ADMIN
    assert reader_party(creator_actor(OTHER_CREATOR), BRAND, CREATOR) is None
    assert reader_party(brand_actor(brand_id=OTHER_BRAND), BRAND, CREATOR) is None


@pytest.mark.parametrize("role", list(BrandRole))
def test_every_brand_role_writes(role: BrandRole) -> None:
    assert write_refusal(brand_actor(role), Party.BRAND, None) is None


def test_admins_suspended_users_and_closed_threads_are_refused() -> None:
    assert "Admins" in (write_refusal(admin_actor(), Party.ADMIN, None) or "")
    assert "suspended" in (write_refusal(creator_actor(suspended=True), Party.CREATOR, None) or "")
    assert write_refusal(creator_actor(), Party.CREATOR, "closed") == "closed"


def test_subject_needs_exactly_one_id() -> None:
    with pytest.raises(ValueError):
        Subject.of()
    with pytest.raises(ValueError):
        Subject.of(application_id=uuid.uuid4(), collaboration_id=uuid.uuid4())
    assert Subject.of(collaboration_id=CREATOR).kind == "collaboration"


def test_inbox_cursor_round_trips_and_rejects_garbage() -> None:
    from datetime import UTC, datetime

    at, thread_id = datetime(2026, 11, 21, 12, 0, 5, 123, tzinfo=UTC), uuid.uuid4()
    assert decode_cursor(encode_cursor(at, thread_id)) == (at, thread_id)
    assert decode_cursor(None) is None
    for bad in ("nonsense", "2026-11-21~not-a-uuid", "~"):
        with pytest.raises(InvalidInput):
            decode_cursor(bad)


@pytest.mark.parametrize(
    ("kind", "group"),
    [
        ("application.received", "applications"),
        ("collaboration.funded", "deals"),
        ("escrow.released", "payments"),
        ("dispute.opened", "disputes"),
        ("Message.digest", "messages"),
        ("something.new", "other"),
        ("nodot", "other"),
    ],
)
def test_email_group_of_a_kind(kind: str, group: str) -> None:
    assert email_group(kind) == group


def test_email_groups_and_always_emailed_do_not_overlap() -> None:
    assert not set(EMAIL_GROUPS) & set(ALWAYS_EMAILED)
