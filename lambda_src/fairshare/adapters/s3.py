"""S3: presigned GET URLs for result files."""

from __future__ import annotations

from typing import Any


class S3ResultStore:
    """Implements `fairshare.ports.ResultStore`."""

    def __init__(self, client: Any) -> None:
        self._s3 = client

    def presign_get(self, bucket: str, key: str, expires_in: int) -> str:
        return str(
            self._s3.generate_presigned_url(
                "get_object", Params={"Bucket": bucket, "Key": key}, ExpiresIn=expires_in
            )
        )
