"""Pure dispute rules: attachment checks by content, decision input, CSV safety of the audit export."""

from __future__ import annotations

from datetime import UTC, datetime
from uuid import uuid4

import pytest

from marketplace.admin.audit import _csv_safe, _jsonable
from marketplace.disputes.attachments import (
    MAX_ATTACHMENT_BYTES,
    MAX_ATTACHMENTS,
    PDF,
    IncomingFile,
    check_files,
    clean_filename,
    sniff,
)
from marketplace.disputes.decisions import DecisionInput, _parse_decision
from marketplace.errors import InvalidInput

PNG = bytes.fromhex("89504e470d0a1a0a0000000d49484452")
PDF_BYTES = b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n"


def test_sniffing_decides_the_type_not_the_name() -> None:
    assert sniff(PDF_BYTES) is PDF
    assert sniff(PNG).mime == "image/png"
    assert sniff(b"<!doctype html><script>") is None
    checked, problem = check_files([IncomingFile("a.pdf", PDF_BYTES), IncomingFile("b.png", PNG)])
    assert problem is None and [c.media.mime for c in checked] == ["application/pdf", "image/png"]


@pytest.mark.parametrize("files,words", [
    ([IncomingFile("evil.pdf", b"MZ\x90\x00")], "contents aren't"),
    ([IncomingFile("page.html", PNG)], "attach a photo"),
    ([IncomingFile("empty.png", b"")], "empty"),
    ([IncomingFile("huge.pdf", PDF_BYTES + b"0" * MAX_ATTACHMENT_BYTES)], "may be at most"),
    ([IncomingFile(f"{i}.png", PNG) for i in range(MAX_ATTACHMENTS + 1)], "at most"),
])
def test_bad_files_are_refused_with_a_reason(files, words) -> None:
    checked, problem = check_files(files)
    assert checked == [] and problem is not None and words in problem


def test_file_names_are_for_display_only() -> None:
    assert clean_filename("../../etc/passwd") == "passwd"
    assert clean_filename("C:\\Users\\me\\receipt.pdf") == "receipt.pdf"
    assert clean_filename("a\x00b\x1f.png") == "ab.png"
    assert clean_filename("") == "attachment"
    assert len(clean_filename("x" * 500 + ".pdf")) == 120


def test_decision_input_defaults_and_errors() -> None:
    outcome, rationale, at_fault = _parse_decision(DecisionInput("release", "  The post matches the brief. "))
    assert (outcome.value, rationale, at_fault) == ("release", "The post matches the brief.", "brand")
    assert _parse_decision(DecisionInput("refund", "Nothing was ever posted."))[2] == "creator"
    assert _parse_decision(DecisionInput("split", "Half done, half not.", 100))[2] == "none"
    assert _parse_decision(DecisionInput("refund", "Brand never shipped it.", at_fault="brand"))[2] == "brand"
    with pytest.raises(InvalidInput) as exc:
        _parse_decision(DecisionInput("maybe", "x", at_fault="everyone"))
    assert set(exc.value.errors) == {"outcome", "rationale", "at_fault"}
    with pytest.raises(InvalidInput) as exc:
        _parse_decision(DecisionInput("split", "Half done, half not."))
    assert set(exc.value.errors) == {"creator_amount"}


def test_audit_values_are_json_and_csv_cells_are_defused() -> None:
    when, ident = datetime(2026, 11, 21, tzinfo=UTC), uuid4()
    assert _jsonable({"at": when, "id": ident, "n": (1, 2), "x": None}) == {
        "at": when.isoformat(), "id": str(ident), "n": [1, 2], "x": None}
    assert [_csv_safe(v) for v in ("=SUM(A1)", "+1", "-1", "@cmd", "plain")] == [
        "'=SUM(A1)", "'+1", "'-1", "'@cmd", "plain"]
