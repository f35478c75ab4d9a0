"""Checking one roster entry: normalised emails and handles, a message per bad field."""

from __future__ import annotations

from marketplace.gigs.validation import Checker
from marketplace.roster.csvio import auto_mapping, check_mapping
from marketplace.roster.inputs import check_entry, normalise_handle, split_tags


def test_handles_from_at_names_and_profile_links() -> None:
    assert normalise_handle("@Ada.Makes") == "ada.makes"
    assert normalise_handle("https://www.tiktok.com/@Ada_M/") == "ada_m"
    assert normalise_handle("https://youtube.com/@AdaChannel") == "adachannel"


def test_tags_split_on_commas_semicolons_and_bars() -> None:
    assert split_tags("VIP, spring;  vip | fall") == ["vip", "spring", "fall"]


def test_an_entry_needs_a_name_and_a_way_to_find_the_person() -> None:
    c = Checker()
    check_entry(c, {"name": "", "email": "", "followers": "12,300"}, field_keys=[], team={})
    assert set(c.errors) == {"name", "email"}
    c = Checker()
    checked = check_entry(c, {"name": "Ada", "instagram": "@Ada", "followers": "12,300", "country": "de"},
                          field_keys=[], team={})
    assert not c.errors and checked.values["followers"] == 12300 and checked.values["country"] == "DE"


def test_obvious_headers_map_themselves_and_a_mapping_must_name_people() -> None:
    header = ["Name", "E-mail", "TikTok Handle", "IG", "followers", "Tags", "Shirt size", "random"]
    mapping = auto_mapping(header, ["shirt_size"])
    assert mapping == {"Name": "name", "E-mail": "email", "TikTok Handle": "tiktok", "IG": "instagram",
                       "followers": "followers", "Tags": "tags", "Shirt size": "field:shirt_size", "random": ""}
    assert check_mapping(mapping, header, ["shirt_size"]) == {}
    assert "mapping" in check_mapping({"E-mail": "email"}, header, [])
    assert "mapping:IG" in check_mapping({"Name": "name", "E-mail": "email", "IG": "email"}, header, [])
