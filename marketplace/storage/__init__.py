"""Where uploaded files live: local files by default, S3-compatible object storage when configured."""
