"""CSV helpers: formula-safe cells round-trip, BOM and delimiter sniffing, clear refusals."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from marketplace.csvfiles import BOM, csv_text, read_csv, safe_cell, unescape_cell
from marketplace.errors import InvalidInput


@pytest.mark.parametrize("value", ["=1+1", "+33 6 12", "-5", "@SUM(A1)", "\tx", "\rx"])
def test_formula_starts_are_made_inert(value: str) -> None:
    assert safe_cell(value) == "'" + value
    assert unescape_cell(safe_cell(value)) == value


def test_plain_values_are_untouched() -> None:
    assert safe_cell("Ada") == "Ada" and safe_cell(None) == "" and safe_cell(12) == "12"


cells = st.text(alphabet=st.characters(blacklist_categories=["Cs"], blacklist_characters="\x00"), max_size=30)


@given(st.lists(st.lists(cells, min_size=3, max_size=3), min_size=1, max_size=20))
def test_written_files_read_back_to_the_same_cells(rows: list[list[str]]) -> None:
    rows = [r for r in rows if any(c.strip() for c in r)]  # the reader skips blank lines, as spreadsheets do
    text = csv_text(["a", "b", "c"], rows)
    assert text.startswith(BOM)
    table = read_csv(text.encode("utf-8"))
    assert table.header == ["a", "b", "c"]
    assert table.rows == rows


def test_semicolons_and_bom_are_understood() -> None:
    table = read_csv(("\ufeffname;email\r\n\"Doe; Jane\";jane@example.test\r\n").encode())
    assert table.delimiter == ";" and table.header == ["name", "email"]
    assert list(table.records()) == [(2, {"name": "Doe; Jane", "email": "jane@example.test"})]


@pytest.mark.parametrize(("data", "words"), [
    ("name\r\nJosé\r\n".encode("latin-1"), "isn't UTF-8"),
    ("name\r\n".encode("utf-16"), "UTF-16"),
    (b"", "empty"),
    (b"a,b\r\n\"open,1\r\n", "unclosed quote"),
    (b"\x00\x01binary", "binary"),
])
def test_anything_else_is_refused_with_a_clear_message(data: bytes, words: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        read_csv(data)
    assert words in caught.value.errors["file"]
