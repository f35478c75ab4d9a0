"""What every storage shares: keys, the stored file, the error."""

from __future__ import annotations

import re
from dataclasses import dataclass

#: Lower-case words, digits, dots, dashes and slashes; no "..", no leading slash.
_KEY = re.compile(r"^[a-z0-9][a-z0-9._-]*(/[a-z0-9][a-z0-9._-]*)*$")
MEDIA_PATH = "/media"


class StorageError(RuntimeError):
    """The storage could not be reached or refused the operation; the request that needed it fails cleanly."""


@dataclass(frozen=True)
class StoredFile:
    data: bytes
    content_type: str


def valid_key(key: str) -> bool:
    return len(key) <= 300 and bool(_KEY.match(key)) and ".." not in key
