"""Where uploaded pictures live: local files by default, S3-compatible object storage when configured.

Both speak the same small interface (``Storage``); callers never know which one they have. Keys are relative
paths such as ``creators/<id>/photo-<hash>.webp``; content-addressed, so a key's bytes never change and they can be
cached for a year.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from marketplace.runtime import Runtime
    from marketplace.settings import StorageSettings

from marketplace.storage.base import MEDIA_PATH, StorageError, StoredFile, valid_key

__all__ = ["MEDIA_PATH", "Storage", "StorageError", "StoredFile", "build_storage", "media_url", "storage_of",
           "valid_key"]


class Storage(Protocol):
    async def put(self, key: str, data: bytes, content_type: str) -> None: ...

    async def get(self, key: str) -> StoredFile | None: ...

    async def delete(self, key: str) -> None: ...


def build_storage(settings: StorageSettings) -> Storage:
    if settings.backend == "s3":
        from marketplace.storage.s3 import S3Storage

        assert settings.s3_bucket is not None
        return S3Storage(
            bucket=settings.s3_bucket,
            endpoint_url=settings.s3_endpoint_url,
            region=settings.s3_region,
            access_key_id=settings.s3_access_key_id,
            secret_access_key=settings.s3_secret_access_key,
        )
    from marketplace.storage.local import LocalStorage

    return LocalStorage(settings.media_dir)


def storage_of(runtime: Runtime) -> Storage:
    """The runtime's storage, built once per process."""
    found = runtime.resources.get("storage")
    if found is None:
        found = runtime.resources["storage"] = build_storage(runtime.settings.storage)
    return found  # type: ignore[no-any-return]


def media_url(key: str | None, public_base: str | None) -> str | None:
    """Where a browser fetches a stored picture: the public bucket/CDN when configured (``MEDIA_PUBLIC_URL``, i.e.
    ``settings.storage.media_public_url``), else PostPact's /media/. The base has no default on purpose: a card
    that forgot it would link every picture through PostPact even where a CDN is configured."""
    if not key:
        return None
    return f"{public_base}/{key}" if public_base else f"{MEDIA_PATH}/{key}"
