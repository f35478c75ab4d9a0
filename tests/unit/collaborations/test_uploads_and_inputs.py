"""Draft upload checks (type by content, not name) and free-text cleaning, without a database."""

from __future__ import annotations

import pytest

from marketplace.collaborations.uploads import (
    GIF,
    HEIC,
    JPEG,
    MP4,
    PNG,
    QUICKTIME,
    WEBM,
    WEBP,
    DraftUpload,
    check_upload,
    resolve,
    sniff_media_type,
)
from marketplace.errors import NotFound
from marketplace.forms import clean_text, clean_url
from tests.support.deals import PNG_BYTES


@pytest.mark.parametrize(
    ("head", "media"),
    [
        (b"\xff\xd8\xff\xe0\x00\x10JFIF", JPEG),
        (PNG_BYTES, PNG),
        (b"GIF89a\x01\x00", GIF),
        (b"RIFF\x24\x00\x00\x00WEBPVP8 ", WEBP),
        (b"\x00\x00\x00\x18ftypheic\x00\x00\x00\x00", HEIC),
        (b"\x00\x00\x00\x20ftypisom\x00\x00\x02\x00", MP4),
        (b"\x00\x00\x00\x14ftypqt  \x00\x00\x00\x00", QUICKTIME),
        (b"\x1a\x45\xdf\xa3\x9f\x42\x86\x81\x01\x42\x82\x84webm", WEBM),
    ],
)
def test_media_types_are_recognised_by_their_first_bytes(head: bytes, media) -> None:
    assert sniff_media_type(head) is media


@pytest.mark.parametrize(
    "head",
    [b"", b"<html>", b"<svg xmlns=", b"%PDF-1.7", b"MZ\x90\x00", b"PK\x03\x04", b"\x00\x00\x00\x1cftypavif",
     b"\x1a\x45\xdf\xa3\x9f\x42\x86\x81\x01\x42\x82\x88matroska", b"RIFF\x24\x00\x00\x00WAVEfmt "],
)
def test_anything_else_is_not_media(head: bytes) -> None:
    assert sniff_media_type(head) is None


def test_the_name_must_look_like_media_and_the_bytes_must_be_media() -> None:
    ok, problem = check_upload(DraftUpload("Glow.JPEG", b"\xff\xd8\xff\xe0rest"), 1024)
    assert ok is JPEG and problem is None
    # A PNG saved as .jpg is still a picture: the stored type comes from the content.
    assert check_upload(DraftUpload("glow.jpg", PNG_BYTES), 1024)[0] is PNG
    assert "whatever its name says" in check_upload(DraftUpload("glow.png", b"<script>"), 1024)[1]
    assert "Upload a photo" in check_upload(DraftUpload("glow.html", PNG_BYTES), 1024)[1]
    assert "Upload a photo" in check_upload(DraftUpload("C:\\fakepath\\glow.png.exe", PNG_BYTES), 1024)[1]
    assert check_upload(DraftUpload("C:\\fakepath\\glow.png", PNG_BYTES), 1024)[0] is PNG
    assert "limit" in check_upload(DraftUpload("glow.png", PNG_BYTES), len(PNG_BYTES) - 1)[1]
    assert "empty" in check_upload(DraftUpload("glow.png", b""), 1024)[1]


def test_stored_paths_never_leave_the_upload_directory(tmp_path) -> None:
    assert resolve(tmp_path, "drafts/a/b.png") == tmp_path.resolve() / "drafts" / "a" / "b.png"
    for sneaky in ("../secret_key", "drafts/../../x", "/etc/passwd"):
        with pytest.raises(NotFound):
            resolve(tmp_path, sneaky)


def test_text_cleaning_collects_one_message_per_field() -> None:
    errors: dict[str, str] = {}
    assert clean_text(errors, "caption", "  hi  ", label="Caption", max_length=10) == "hi"
    clean_text(errors, "a", "x" * 11, label="A", max_length=10)
    clean_text(errors, "b", "   ", label="B", max_length=10, required=True)
    clean_text(errors, "c", "nul\x00", label="C", max_length=10)
    clean_text(errors, "d", "\ud800", label="D", max_length=10)
    clean_text(errors, "e", "ab", label="E", max_length=10, min_length=3)
    assert errors == {
        "a": "A must be at most 10 characters.",
        "b": "B is required.",
        "c": "C contains characters that aren't allowed.",
        "d": "D contains characters that aren't allowed.",
        "e": "E must be at least 3 characters.",
    }


def test_links_must_be_web_addresses() -> None:
    errors: dict[str, str] = {}
    assert clean_url(errors, "u", "https://drive.example.com/v.mp4", label="U", required=True) == \
        "https://drive.example.com/v.mp4"
    assert clean_url(errors, "u", "", label="U", required=False) is None and not errors
    for bad in ("javascript:alert(1)", "ftp://x.example/a", "https://x.example/a\nb", "//x.example", "https://"):
        errors = {}
        assert clean_url(errors, "u", bad, label="U", required=True) is None
        assert "u" in errors, bad
