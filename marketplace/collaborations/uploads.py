"""Draft media uploads: type decided by the file's content, size-limited, stored outside the public static files."""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session

from marketplace.errors import NotFound
from marketplace.i18n import gettext

#: Files written in the current transaction; removed again if it rolls back, so a failed request leaves nothing.
NEW_FILES_KEY = "postpact.new_upload_files"


@dataclass(frozen=True)
class MediaType:
    mime: str
    extension: str
    label: str


JPEG = MediaType("image/jpeg", "jpg", "JPEG image")
PNG = MediaType("image/png", "png", "PNG image")
GIF = MediaType("image/gif", "gif", "GIF image")
WEBP = MediaType("image/webp", "webp", "WebP image")
HEIC = MediaType("image/heic", "heic", "HEIC photo")
MP4 = MediaType("video/mp4", "mp4", "MP4 video")
QUICKTIME = MediaType("video/quicktime", "mov", "QuickTime video")
WEBM = MediaType("video/webm", "webm", "WebM video")

#: File names must also look like a photo or a video (a renamed .html is refused even if its bytes are a JPEG).
ALLOWED_EXTENSIONS = frozenset({"jpg", "jpeg", "png", "gif", "webp", "heic", "heif", "mp4", "m4v", "mov", "qt", "webm"})
ALLOWED_DESCRIPTION = "a photo (JPEG, PNG, GIF, WebP, HEIC) or a video (MP4, MOV, WebM)"

_HEIC_BRANDS = {b"heic", b"heix", b"hevc", b"hevx", b"heim", b"heis", b"mif1", b"msf1"}
#: ISO base media brands that are video; anything else in an ftyp box (AVIF, JPEG 2000, 3GPP audio...) is refused.
_MP4_BRANDS = {b"isom", b"iso2", b"iso4", b"iso5", b"iso6", b"mp41", b"mp42", b"avc1", b"M4V ", b"M4VH", b"MSNV",
               b"dash", b"3gp4", b"3gp5", b"3gp6", b"3g2a", b"f4v ", b"mmp4"}


def sniff_media_type(head: bytes) -> MediaType | None:
    """What the first bytes of a file say it is (magic numbers), or None for anything we don't accept."""
    if head.startswith(b"\xff\xd8\xff"):
        return JPEG
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return PNG
    if head.startswith((b"GIF87a", b"GIF89a")):
        return GIF
    if len(head) >= 12 and head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return WEBP
    if len(head) >= 12 and head[4:8] == b"ftyp":
        brand = head[8:12]
        if brand == b"qt  ":
            return QUICKTIME
        if brand in _HEIC_BRANDS:
            return HEIC
        if brand in _MP4_BRANDS:
            return MP4
        return None
    # Matroska/EBML header; only the WebM doctype is a format browsers play.
    if head.startswith(b"\x1a\x45\xdf\xa3") and b"webm" in head[:64]:
        return WEBM
    return None


@dataclass(frozen=True)
class DraftUpload:
    """A file as it arrived from the browser: nothing about it is trusted yet."""

    filename: str
    data: bytes
    declared_type: str | None = None


def check_upload(upload: DraftUpload, max_bytes: int) -> tuple[MediaType | None, str | None]:
    """(media type, None) for an acceptable file, or (None, the message for the creator)."""
    size = len(upload.data)
    if size == 0:
        return None, "The file is empty."
    if size > max_bytes:
        return None, f"The file is {_megabytes(size)}; the limit is {_megabytes(max_bytes)}."
    extension = PurePosixPath(upload.filename.replace("\\", "/")).suffix.lower().lstrip(".")
    if extension not in ALLOWED_EXTENSIONS:
        return None, f"Upload {ALLOWED_DESCRIPTION}."
    media = sniff_media_type(upload.data[:64])
    if media is None:
        return None, f"That file's contents aren't {ALLOWED_DESCRIPTION}, whatever its name says."
    return media, None


def _megabytes(size: int) -> str:
    return f"{size / (1024 * 1024):.1f} MB"


def draft_upload_path(collaboration_id: uuid.UUID, media: MediaType) -> str:
    """A fresh relative path; the browser's file name is never used on disk."""
    return f"drafts/{collaboration_id}/{uuid.uuid4().hex}.{media.extension}"


def resolve(upload_dir: Path, relative: str) -> Path:
    """The absolute path of a stored upload, refusing anything that would leave the upload directory."""
    base = upload_dir.resolve()
    path = (base / relative).resolve()
    if not path.is_relative_to(base):
        raise NotFound(gettext('No such file.'))
    return path


def _write(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(path.suffix + ".part")
    tmp.write_bytes(data)
    tmp.replace(path)


async def store(session: AsyncSession, upload_dir: Path, relative: str, data: bytes) -> Path:
    """Write the file now; if the surrounding transaction rolls back, it is removed again."""
    path = resolve(upload_dir, relative)
    await asyncio.to_thread(_write, path, data)
    session.info.setdefault(NEW_FILES_KEY, []).append(path)
    return path


@event.listens_for(Session, "after_commit")
def _keep_files(session: Session) -> None:
    session.info.pop(NEW_FILES_KEY, None)


@event.listens_for(Session, "after_rollback")
def _remove_files(session: Session) -> None:
    for path in session.info.pop(NEW_FILES_KEY, []):
        with contextlib.suppress(OSError):
            path.unlink()


def serving_headers() -> dict[str, str]:
    """Uploaded files are shown, never run: exact type, no sniffing, no scripts, not kept by shared caches."""
    return {
        "X-Content-Type-Options": "nosniff",
        "Content-Security-Policy": "default-src 'none'; img-src 'self'; media-src 'self'; sandbox",
        "Cache-Control": "private, no-store",
    }
