"""Evidence files attached to dispute statements: screenshots, photos, short videos and PDFs, size-limited,
type decided by the bytes, stored outside the public static files under a name we choose."""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass
from pathlib import PurePosixPath

from marketplace.collaborations.uploads import ALLOWED_EXTENSIONS, MediaType, sniff_media_type

PDF = MediaType("application/pdf", "pdf", "PDF document")
#: Each file at most this large, this many per statement (evidence is screenshots and receipts, not raw footage;
#: all of them together stay under the request size limit).
MAX_ATTACHMENT_BYTES = 5 * 1024 * 1024
MAX_ATTACHMENTS = 4
ATTACHMENT_EXTENSIONS = ALLOWED_EXTENSIONS | {"pdf"}
ATTACHMENT_DESCRIPTION = "a photo or screenshot (JPEG, PNG, GIF, WebP, HEIC), a short video (MP4, MOV, WebM) or a PDF"


@dataclass(frozen=True)
class IncomingFile:
    """A file as it arrived: nothing about it is trusted yet."""

    filename: str
    data: bytes


@dataclass(frozen=True)
class CheckedFile:
    filename: str
    data: bytes
    media: MediaType


def sniff(head: bytes) -> MediaType | None:
    if head.startswith(b"%PDF-"):
        return PDF
    return sniff_media_type(head)


def clean_filename(name: str) -> str:
    """The browser's name for display only: no directories, no control characters, at most 120 characters."""
    base = PurePosixPath(name.replace("\\", "/")).name
    base = re.sub(r"[\x00-\x1f\x7f]", "", base).strip() or "attachment"
    return base[-120:]


def check_files(files: list[IncomingFile]) -> tuple[list[CheckedFile], str | None]:
    """The acceptable files, or the first problem in words for the person who attached them."""
    files = [f for f in files if f.filename or f.data]
    if len(files) > MAX_ATTACHMENTS:
        return [], f"Attach at most {MAX_ATTACHMENTS} files."
    checked = []
    for f in files:
        name = clean_filename(f.filename)
        if not f.data:
            return [], f"{name} is empty."
        if len(f.data) > MAX_ATTACHMENT_BYTES:
            return [], (f"{name} is {len(f.data) / 1048576:.1f} MB; each file may be at most "
                        f"{MAX_ATTACHMENT_BYTES // 1048576} MB.")
        extension = PurePosixPath(name).suffix.lower().lstrip(".")
        if extension not in ATTACHMENT_EXTENSIONS:
            return [], f"{name}: attach {ATTACHMENT_DESCRIPTION}."
        media = sniff(f.data[:64])
        if media is None:
            return [], f"{name}: its contents aren't {ATTACHMENT_DESCRIPTION}, whatever its name says."
        checked.append(CheckedFile(name, f.data, media))
    return checked, None


def attachment_path(dispute_id: uuid.UUID, media: MediaType) -> str:
    return f"disputes/{dispute_id}/{uuid.uuid4().hex}.{media.extension}"
