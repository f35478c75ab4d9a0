"""Pictures in S3-compatible object storage (AWS S3, MinIO, R2, Ceph...), shared by every web machine.

boto3 is synchronous; each call runs in a worker thread so the event loop never waits on the network.
"""

from __future__ import annotations

import asyncio
from typing import Any

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from marketplace.storage.base import StorageError, StoredFile, valid_key


class S3Storage:
    def __init__(self, *, bucket: str, endpoint_url: str | None, region: str, access_key_id: str | None,
                 secret_access_key: str | None) -> None:
        self.bucket = bucket
        self._client: Any = boto3.client(
            "s3",
            endpoint_url=endpoint_url,
            region_name=region,
            aws_access_key_id=access_key_id,
            aws_secret_access_key=secret_access_key,
            config=Config(connect_timeout=5, read_timeout=20, retries={"max_attempts": 3, "mode": "standard"},
                          s3={"addressing_style": "path"}),
        )

    async def put(self, key: str, data: bytes, content_type: str) -> None:
        if not valid_key(key):
            raise StorageError(f"not a storage key: {key!r}")
        try:
            await asyncio.to_thread(self._client.put_object, Bucket=self.bucket, Key=key, Body=data,
                                    ContentType=content_type, CacheControl="public, max-age=31536000, immutable")
        except (BotoCoreError, ClientError) as exc:
            raise StorageError(f"S3 put failed: {exc}") from exc

    async def get(self, key: str) -> StoredFile | None:
        if not valid_key(key):
            return None
        try:
            response = await asyncio.to_thread(self._client.get_object, Bucket=self.bucket, Key=key)
            data = await asyncio.to_thread(response["Body"].read)
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in {"NoSuchKey", "404", "NotFound"}:
                return None
            raise StorageError(f"S3 get failed: {exc}") from exc
        except BotoCoreError as exc:
            raise StorageError(f"S3 get failed: {exc}") from exc
        return StoredFile(data, response.get("ContentType") or "application/octet-stream")

    async def delete(self, key: str) -> None:
        if not valid_key(key):
            raise StorageError(f"not a storage key: {key!r}")
        try:
            await asyncio.to_thread(self._client.delete_object, Bucket=self.bucket, Key=key)
        except (BotoCoreError, ClientError) as exc:
            raise StorageError(f"S3 delete failed: {exc}") from exc
