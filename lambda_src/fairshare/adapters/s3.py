"""S3: presigned GET URLs for result files."""

from __future__ import annotations

from typing import Any

from botocore.config import Config as BotoConfig

# SigV4 query signing. Without it botocore presigns with SigV2 in regions that still accept it
# (us-east-1, us-west-2, ...): SigV2 URLs leave some parameters unsigned, are refused for objects
# encrypted with SSE-KMS, and are unsupported by buckets created since SigV2 was deprecated.
PRESIGN_CLIENT_CONFIG = BotoConfig(signature_version="s3v4")


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
