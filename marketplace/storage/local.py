"""Pictures as files under var/media (the default: one machine, or a shared volume)."""

from __future__ import annotations

import asyncio
import contextlib
import os
import tempfile
from pathlib import Path

from marketplace.storage.base import StorageError, StoredFile, valid_key

_TYPES = {".webp": "image/webp", ".jpg": "image/jpeg", ".png": "image/png"}


class LocalStorage:
    def __init__(self, root: Path) -> None:
        self.root = root

    def _path(self, key: str) -> Path:
        if not valid_key(key):
            raise StorageError(f"not a storage key: {key!r}")
        return self.root / key

    async def put(self, key: str, data: bytes, content_type: str) -> None:
        path = self._path(key)
        await asyncio.to_thread(_write_atomically, path, data)

    async def get(self, key: str) -> StoredFile | None:
        if not valid_key(key):
            return None
        path = self.root / key
        try:
            data = await asyncio.to_thread(path.read_bytes)
        except (FileNotFoundError, IsADirectoryError, NotADirectoryError):
            return None
        return StoredFile(data, _TYPES.get(path.suffix, "application/octet-stream"))

    async def delete(self, key: str) -> None:
        path = self._path(key)
        with contextlib.suppress(FileNotFoundError):
            await asyncio.to_thread(path.unlink)


def _write_atomically(path: Path, data: bytes) -> None:
    """Readers never see half a file: write beside it, then rename over it."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".upload-")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise
