"""API Gateway: a tenant's API key (its value is the SigV4 secret) and its usage plan's throttle."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

from botocore.exceptions import ClientError

from fairshare.ports import ApiCredential

CACHE_TTL_S = 60.0  # how long a revoked (disabled or deleted) key may still be accepted


class ApiGatewayKeys:
    """Implements `fairshare.ports.ApiKeys`; each key is read at most once a minute per environment."""

    def __init__(self, client: Any, clock: Callable[[], float], ttl_s: float = CACHE_TTL_S) -> None:
        self._apigateway = client
        self._clock = clock
        self._ttl_s = ttl_s
        self._cache: dict[str, tuple[float, ApiCredential | None]] = {}
        self._lock = threading.Lock()

    def lookup(self, key_id: str) -> ApiCredential | None:
        now = self._clock()
        with self._lock:
            cached = self._cache.get(key_id)
        if cached is not None and now - cached[0] < self._ttl_s:
            return cached[1]
        credential = self._read(key_id)
        with self._lock:
            self._cache[key_id] = (now, credential)
        return credential

    def _read(self, key_id: str) -> ApiCredential | None:
        try:
            key = self._apigateway.get_api_key(apiKey=key_id, includeValue=True)
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in ("NotFoundException", "BadRequestException"):
                return None
            raise
        plans = self._apigateway.get_usage_plans(keyId=key_id, limit=10).get("items", [])
        throttles = [p["throttle"] for p in plans if p.get("throttle", {}).get("rateLimit")]
        rate = min((float(t["rateLimit"]) for t in throttles), default=None)
        burst = min((int(t.get("burstLimit") or 1) for t in throttles), default=None)
        # a key in no usage plan is refused on the REST route (403); the same here
        return ApiCredential(
            key_id=key_id,
            secret=str(key.get("value", "")),
            enabled=bool(key.get("enabled")) and bool(plans),
            rate_per_s=rate,
            burst=burst,
        )
